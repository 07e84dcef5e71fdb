// Internal to the `qvae` executable: the subcommand table and the shared
// option parsing every subcommand uses.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "qvae/core/config.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/environment.hpp"

namespace qvae::cli {

namespace po = boost::program_options;

/// What a subcommand gets: the runtime, a world communicator, its own
/// arguments (after the subcommand name) and the full command line.
struct Context {
  par::Environment& env;
  par::Communicator world;
  std::vector<std::string> args;
  std::string command_line;
};

struct Command {
  std::string name;
  std::string summary;
  std::function<int(Context&)> run;  ///< empty: not built yet
};

/// Every subcommand, in the order `qvae --help` lists them.
const std::vector<Command>& commands();

/// The config schema: every key of every module.
const core::ConfigSchema& schema();

/// Parses a subcommand's arguments: its own options and positionals, plus the
/// common ones (--config FILE..., --json, --help) and --section.key=value config
/// overrides.  Runs on every rank; errors are agreed, so one message is printed.
class CommandLine {
 public:
  CommandLine(std::string command, std::string usage, std::string description);

  po::options_description& options() { return options_; }
  po::positional_options_description& positional() { return positional_; }

  /// Returns false when --help was given (help already printed on rank 0).
  bool parse(Context& context);

  const po::variables_map& values() const { return values_; }
  const core::Config& config() const { return config_; }
  const core::RunOptions& run() const { return run_; }
  bool json() const { return json_; }
  /// Provenance string for output files: the resolved config as INI.
  std::string config_ini() const { return config_.to_ini(); }

 private:
  void print_help() const;
  std::string command_, usage_, description_;
  po::options_description options_;
  po::positional_options_description positional_;
  po::variables_map values_;
  core::Config config_;
  core::RunOptions run_;
  bool json_ = false;
};

int run_version(Context& context);
int run_config(Context& context);
int run_bench(Context& context);
int run_inspect(Context& context);
int run_simulate(Context& context);
int run_graph(Context& context);
int run_rbm(Context& context);
int run_sample(Context& context);
int run_evaluate(Context& context);
int run_sweep(Context& context);
int run_train(Context& context);
int run_generate(Context& context);
int run_encode(Context& context);
int run_dwave(Context& context);
int run_gof(Context& context);

/// One device sampling job: `qvae dwave sample` and `qvae sample --backend
/// anneal|dwave` both end here (cmd_dwave.cpp), so the two write the same file.
struct DeviceSampleRequest {
  std::string where;                        ///< the command, for error messages
  std::string rbm_path, out, backend;       ///< backend: dwave | anneal | gibbs
  std::int64_t reads = 0;
  double beta = 1.0;                        ///< programs E_I / beta (beta: the device's beta_eff)
  std::uint64_t seed = 0;
  std::optional<std::string> clamp_values;  ///< partition-0 values (flux-bias conditioning)
};
/// --endpoint, --solver, --token-file, --device-beta.
void add_device_options(CommandLine& cli);
int sample_on_device(Context& context, CommandLine& cli, DeviceSampleRequest request);
/// `qvae bench gibbs`: options are declared in cmd_bench.cpp.
int bench_gibbs(Context& context, CommandLine& cli);
int run_logz(Context& context);
int run_ll(Context& context);
/// `qvae bench logz`: options are declared in cmd_bench.cpp (docs/performance.md).
int bench_logz(Context& context, CommandLine& cli);
/// `qvae bench train`: options are declared in cmd_bench.cpp.
int bench_train(Context& context, CommandLine& cli);

}  // namespace qvae::cli
