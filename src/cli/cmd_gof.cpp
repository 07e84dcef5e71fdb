// qvae gof: kernel discrete Stein discrepancy goodness-of-fit test of binary
// samples (a qvae-samples file) against a Boltzmann machine at inverse
// temperature β (qvae/dwave/stein.hpp, docs/dwave.md).  No partition function
// and no sampling of the model: the test needs only single-flip energy
// differences.  Pairs of samples are split over ranks by blocks of rows; the
// result does not depend on the rank count.
#include <climits>
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/dwave/stein.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/sampling.hpp"

namespace qvae::cli {
namespace {

/// Every row of the 'samples' dataset of a qvae-samples file, on every rank
/// (each rank reads its block collectively; the blocks are then gathered).
dwave::SampleSet read_all_samples(const std::string& path, const par::Communicator& comm, std::int64_t nodes) {
  std::vector<std::uint8_t> mine;
  std::int64_t first_row = 0;
  par::run_agreed(comm, [&] {
    {
      const io::File file = io::File::open_parallel(path, comm);
      io::require_format(file, rbm::kSamplesFormat, rbm::kSamplesFormatVersion);
      const io::DatasetShape shape = io::dataset_shape(file, "samples");
      if (shape.dims.size() != 2 || shape.dims[1] != nodes)
        throw core::InputError(core::describe(
            "samples of shape " + shape.text() + " do not fit a machine of " + std::to_string(nodes) + " nodes",
            io::where_text(path, "samples"), "test samples drawn from this model (node order)"));
      if (shape.dims[0] * nodes > INT_MAX)
        throw core::InputError(core::describe("too many samples (" + std::to_string(shape.dims[0]) + ")",
                                              io::where_text(path, "samples"),
                                              "test a subset: the cost grows as samples^2 x nodes"));
      const par::Block block = par::my_block(shape.dims[0], comm);
      first_row = block.offset;
      if (shape.dims[0] > 0) io::read_rows(file, "samples", block, nodes, mine);
    }  // closed collectively before a rank may throw alone
    for (std::size_t i = 0; i < mine.size(); ++i)
      if (mine[i] > 1)
        throw core::InputError(core::describe("sample " +
                                                  std::to_string(first_row + static_cast<std::int64_t>(i) / nodes) +
                                                  " holds the value " + std::to_string(int{mine[i]}),
                                              io::where_text(path, "samples"), "unit states are 0 or 1"));
  });
  dwave::SampleSet set;
  set.units = nodes;
  set.states = comm.allgather_blocks(mine);
  set.rows = nodes > 0 ? static_cast<std::int64_t>(set.states.size()) / nodes : 0;
  set.occurrences.assign(static_cast<std::size_t>(set.rows), 1);  // sample files hold expanded reads
  return set;
}

}  // namespace

void declare_gof_options(po::options_description& options) {
  options.add_options()("rbm", po::value<std::string>(), "the qvae-rbm model")("samples", po::value<std::string>(),
                                                                               "the qvae-samples file to test")(
      "beta", po::value<double>()->default_value(1.0), "inverse temperature b of the model")(
      "bootstrap", po::value<std::int64_t>()->default_value(1000), "bootstrap replicates B (0: no p-value)")(
      "alpha", po::value<double>()->default_value(0.05, "0.05"), "level: consistent when p >= alpha")(
      "seed", po::value<std::uint64_t>(), "seed of the bootstrap (default run.seed)");
}

int run_gof(Context& context) {
  CommandLine cli("gof",
                  "qvae gof --rbm FILE --samples FILE [--beta b] [--bootstrap B] [--seed S] [--alpha a] [--json]",
                  "Kernel discrete Stein discrepancy (KDSD; Yang et al., ICML 2018) between binary samples and\n"
                  "the Boltzmann machine at inverse temperature b, p(z) ~ exp(-b E(z)) (b scales biases and\n"
                  "couplings).  Needs only single-flip energy differences: no partition function, no model\n"
                  "sampling.  Reports the U-statistic estimate of the KDSD, its standard error and the p-value\n"
                  "of a wild (Rademacher) bootstrap with B replicates; the samples are consistent with the\n"
                  "model when p >= a.  --samples: a qvae-samples file ('samples' C x N uint8, node order), as\n"
                  "written by qvae sample or qvae dwave sample.  Cost: C^2 x N per evaluation, split over ranks.");
  declare_gof_options(cli.options());
  if (!cli.parse(context)) return 0;
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  const std::string where = "qvae gof";

  std::string rbm_path, samples_path;
  double beta = 1, alpha = 0.05;
  std::int64_t bootstrap = 0;
  std::uint64_t seed = 0;
  par::run_agreed(comm, [&] {
    for (const char* name : {"rbm", "samples"})
      if (!values.count(name))
        throw core::UsageError(
            core::describe(std::string("--") + name + " is required", where, "pass --rbm MODEL --samples SAMPLES"));
    rbm_path = values["rbm"].as<std::string>();
    samples_path = values["samples"].as<std::string>();
    beta = values["beta"].as<double>();
    alpha = values["alpha"].as<double>();
    bootstrap = values["bootstrap"].as<std::int64_t>();
    seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
    if (!(beta > 0) || !std::isfinite(beta))
      throw core::UsageError(core::describe("--beta must be a finite number > 0", where));
    if (!(alpha > 0 && alpha < 1)) throw core::UsageError(core::describe("--alpha must be in (0, 1)", where));
    if (bootstrap < 0) throw core::UsageError(core::describe("--bootstrap must be >= 0", where));
  });
  if (bootstrap > 0 && alpha * static_cast<double>(bootstrap + 1) < 1)
    core::log::warn_root("gof: with ", bootstrap, " bootstrap replicates no p-value falls below alpha ", alpha,
                         "; use --bootstrap ", static_cast<std::int64_t>(std::ceil(1 / alpha)), " or more");

  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] { machine.emplace(rbm::read_rbm(rbm_path, comm)); });
  const dwave::SampleSet samples = read_all_samples(samples_path, comm, machine->num_nodes());
  std::optional<dwave::SteinDiscrepancy> discrepancy;
  par::run_agreed(comm, [&] { discrepancy.emplace(*machine, samples, comm); });
  core::log::info_root("gof: ", samples.rows, " samples x ", samples.units, " nodes on ", comm.size(), " ranks");

  const core::Stopwatch start;
  PhaseProgress progress(cli, comm, "gof", "tiles");
  const dwave::KdsdTest test =
      discrepancy->test(beta, bootstrap, seed, [&](std::int64_t done, std::int64_t total) { progress(done, total); });
  progress.finish();
  const double seconds = comm.max(start.seconds());

  const bool decided = bootstrap > 0;
  const bool consistent = decided && test.p_value >= alpha;
  nlohmann::json summary = {{"rbm", rbm_path},
                            {"samples_file", samples_path},
                            {"samples", test.samples},
                            {"nodes", machine->num_nodes()},
                            {"beta", beta},
                            {"kdsd", test.statistic},
                            {"std_error", test.std_error},
                            {"p_value", test.p_value},
                            {"bootstrap", bootstrap},
                            {"alpha", alpha},
                            {"consistent", decided ? nlohmann::json(consistent) : nlohmann::json(nullptr)},
                            {"seed", seed},
                            {"ranks", comm.size()},
                            {"seconds", seconds}};
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root() && decided)
    std::fprintf(stderr,
                 "gof: KDSD %.6g +- %.3g over %lld samples at beta %g; p = %.4g (%lld bootstrap) -> %s at alpha %g\n",
                 test.statistic, test.std_error, static_cast<long long>(test.samples), beta, test.p_value,
                 static_cast<long long>(bootstrap), consistent ? "consistent" : "NOT consistent", alpha);
  else if (comm.is_root())
    std::fprintf(stderr, "gof: KDSD %.6g +- %.3g over %lld samples at beta %g (no bootstrap)\n", test.statistic,
                 test.std_error, static_cast<long long>(test.samples), beta);
  return 0;
}

}  // namespace qvae::cli
