// Internal to the `qvae` executable: the subcommand table and the shared
// option parsing every subcommand uses.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "qvae/core/config.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/environment.hpp"
#include "qvae/rbm/torch_device.hpp"

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

/// Declares a command's options.  Every option with a default value is also a
/// config key [section].name (dashes become underscores; command_settings.hpp),
/// so `--config` and `qvae config show` cover it and the command line overrides it.
using OptionDeclaration = void (*)(po::options_description&);

struct Command {
  Command(std::string name_, std::string summary_, int (*run_)(Context&), OptionDeclaration declare = nullptr,
          std::string section = "")
      : name(std::move(name_)),
        summary(std::move(summary_)),
        run(run_),
        declare_options(declare),
        settings_section(std::move(section)) {}

  std::string name;
  std::string summary;
  int (*run)(Context&);
  OptionDeclaration declare_options;  ///< null: the command has no settings of its own
  std::string settings_section;       ///< config section of its settings (empty: the name)

  const std::string& section() const { return settings_section.empty() ? name : settings_section; }
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

/// Progress of work in named phases ("ais", "rais", ...; "" for one phase): one
/// display per phase, shown on rank 0 as run.progress says.  A callable for the
/// library's on_progress hooks.
class PhaseProgress {
 public:
  PhaseProgress(const CommandLine& cli, const par::Communicator& comm, std::string label, std::string unit);
  void operator()(const std::string& phase, std::int64_t done, std::int64_t total);
  void operator()(std::int64_t done, std::int64_t total) { (*this)(std::string(), done, total); }
  void finish();

 private:
  const CommandLine& cli_;
  bool is_root_;
  std::string label_, unit_, phase_;
  std::unique_ptr<core::Progress> bar_;
};

/// The command named `name`, or null.
const Command* find_command(const std::string& name);

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

// Option declarations, shared by each command and the config schema.
void declare_simulate_options(po::options_description& options);
void declare_inspect_options(po::options_description& options);
void declare_graph_options(po::options_description& options);
void declare_rbm_options(po::options_description& options);
void declare_sample_options(po::options_description& options);
void declare_logz_options(po::options_description& options);
void declare_ll_options(po::options_description& options);
void declare_generate_options(po::options_description& options);
void declare_encode_options(po::options_description& options);
void declare_evaluate_options(po::options_description& options);
void declare_dwave_options(po::options_description& options);
void declare_gof_options(po::options_description& options);
void declare_sweep_options(po::options_description& options);
void declare_bench_options(po::options_description& options);

/// One device sampling job: `qvae dwave sample` and `qvae sample --backend
/// anneal|dwave` both end here (cmd_dwave.cpp), so the two write the same file.
struct DeviceSampleRequest {
  std::string where;                   ///< the command, for error messages
  std::string rbm_path, out, backend;  ///< backend: dwave | anneal | gibbs
  std::int64_t reads = 0;
  double beta = 1.0;  ///< programs E_I / beta (beta: the device's beta_eff)
  std::uint64_t seed = 0;
  std::optional<std::string> clamp_values;  ///< partition-0 values (flux-bias conditioning)
};
/// --device cpu|cuda of the commands that run a trained model (generate,
/// encode, evaluate --model), and its value.
void add_compute_device_option(po::options_description& options, const char* what);
rbm::DeviceKind compute_device_of(const po::variables_map& values);

/// --endpoint, --solver, --token-file, --device-beta.
void add_device_options(po::options_description& options);
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
