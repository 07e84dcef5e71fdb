// qvae bench logz: partition-function estimation speed on a hard model
// (docs/performance.md "Partition function").  By default the
// 4 x 302 Pegasus model (region scheme) with weights N(0, 2^2) and biases
// N(0, 1): a rough landscape where AIS and reverse AIS disagree unless the
// schedule is long.  Reports
//   * chain-temperature steps/s of forward AIS on all ranks and on rank 0
//     alone (the others sleep meanwhile), i.e. the 1 -> P scaling, and that
//     the per-chain log-weights are identical for both rank counts;
//   * plain Gibbs sweeps/s of the same chains, to show the AIS bookkeeping cost;
//   * the time to bring |AIS - RAIS| below --target-gap with both bootstrap
//     errors below --target-stderr: K doubles from --start-temps until the
//     target is met or --converge-seconds is spent (0 skips this part); the
//     reverse chains start from --equilibration-sweeps sweeps at beta = 1
//     (no exact samples exist at this size), and an inverted bracket is reported.
// Options are declared in cmd_bench.cpp.

#include <cmath>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/logz/annealing.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/logz/report_json.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::cli {
namespace {

struct RateRun {
  double seconds = 0, cpu_seconds = 0, steps_per_s = 0;
  std::vector<double> log_weights;
};

RateRun forward_rate(const rbm::BoltzmannMachine& machine, const logz::AnnealingSettings& settings,
                     const par::Communicator& comm) {
  RateRun rate;
  const logz::AnnealingRun run = logz::run_forward_ais(machine, settings, comm);
  rate.seconds = run.seconds;
  rate.cpu_seconds = run.cpu_seconds;  // the annealing loops only, no waits
  rate.steps_per_s = run.chain_temperature_steps() / run.seconds;
  rate.log_weights = run.log_weights;
  return rate;
}

}  // namespace

int bench_logz(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  const std::int64_t chains = values["chains"].as<std::int64_t>();
  const std::int64_t rate_temps = values["temps"].as<std::int64_t>();
  const std::int64_t sweeps_per_temp = values["sweeps-per-temp"].as<std::int64_t>();
  const std::int64_t start_temps = values["start-temps"].as<std::int64_t>();
  const std::int64_t equilibration = values["equilibration-sweeps"].as<std::int64_t>();
  const double converge_seconds = values["converge-seconds"].as<double>();
  const double target_gap = values["target-gap"].as<double>();
  const double target_stderr = values["target-stderr"].as<double>();
  const double weight_sigma = values["weight-sigma"].as<double>();
  const double bias_sigma = values["bias-sigma"].as<double>();
  const std::string schedule_name = values["schedule"].as<std::string>();
  graph::SelectionRequest selection;
  selection.topology = values["topology"].as<std::string>();
  selection.size = values["size"].as<int>();
  selection.nodes_per_partition = values["nodes-per-partition"].as<int>();
  selection.scheme = "";  // the topology's default (pegasus: region, as the reference models)
  const std::uint64_t seed = cli.run().seed;

  std::optional<rbm::BoltzmannMachine> machine;
  logz::ScheduleKind schedule = logz::ScheduleKind::linear;
  par::run_agreed(comm, [&] {
    if (chains < 1 || rate_temps < 1 || sweeps_per_temp < 1 || start_temps < 1 || equilibration < 0)
      throw core::UsageError(core::describe(
          "--chains, --temps, --sweeps-per-temp and --start-temps must be >= 1, --equilibration-sweeps >= 0",
          "qvae bench logz"));
    if (!(weight_sigma >= 0) || !(bias_sigma >= 0) || !(converge_seconds >= 0) || !(target_gap > 0) ||
        !(target_stderr > 0))
      throw core::UsageError(
          core::describe("sigmas and --converge-seconds must be >= 0, targets > 0", "qvae bench logz"));
    schedule = logz::parse_schedule_kind(schedule_name);
    machine.emplace(graph::select_partitioned(selection), "the selected graph");
    machine->init_normal(1.0, seed);  // N(0, 1) keyed by (seed, parameter), then scaled
    for (std::int64_t i = 0; i < machine->num_nodes(); ++i) machine->biases()[i] *= bias_sigma;
    for (std::int64_t e = 0; e < machine->num_couplers(); ++e) machine->weights()[e] *= weight_sigma;
  });
  logz::PilotSettings pilot;
  pilot.seed = seed;
  pilot.sweeps_per_temperature = sweeps_per_temp;

  // 1. Throughput: rank 0 alone, then every rank; the same chains either way.
  logz::AnnealingSettings settings;
  settings.chains = chains;
  settings.sweeps_per_temperature = sweeps_per_temp;
  settings.betas = logz::make_schedule(schedule, *machine, rate_temps, pilot);
  settings.seed = seed;
  std::optional<RateRun> alone;
  if (comm.size() > 1) {
    if (comm.is_root()) alone = forward_rate(*machine, settings, par::Communicator::self());
    comm.sleeping_barrier();
  }
  const RateRun all = forward_rate(*machine, settings, comm);
  const RateRun& one = alone ? *alone : all;
  bool identical = true;
  if (alone) identical = alone->log_weights == all.log_weights;
  identical = comm.all(comm.broadcast_value(identical ? 1 : 0) == 1);

  // Plain Gibbs sweeps of the same chains, for the cost of the AIS bookkeeping.
  std::unique_ptr<rbm::Sampler> sampler = rbm::make_kokkos_sampler(*machine, rbm::SamplerSettings{seed, 1.0, {}});
  const par::Block mine = par::my_block(chains, comm);
  sampler->set_chains(rbm::random_chains(machine->num_nodes(), seed, mine.offset, mine.count));
  comm.barrier();
  core::Stopwatch t0;
  sampler->sweep(rate_temps * sweeps_per_temp);
  const double gibbs_seconds = comm.max(t0.seconds());
  sampler.reset();

  // 2. Time to a tight bracket.
  nlohmann::json rounds = nlohmann::json::array();
  std::optional<double> time_to_target;
  double search_seconds = 0;
  std::int64_t temps = start_temps;
  const double per_step_seconds = all.seconds / static_cast<double>(chains * rate_temps);
  while (converge_seconds > 0) {
    // Predicted cost: both directions plus the equilibration, at the measured rate.
    const double predicted = per_step_seconds * static_cast<double>(chains) *
                             (2.0 * static_cast<double>(temps) + static_cast<double>(equilibration));
    if (search_seconds + predicted > converge_seconds && !rounds.empty()) break;
    logz::LogzRequest request;
    request.method = logz::Method::both;
    request.chains = chains;
    request.temperatures = temps;
    request.sweeps_per_temperature = sweeps_per_temp;
    request.schedule = schedule;
    request.pilot = pilot;
    request.seed = seed;
    request.reverse_start = logz::ReverseStart::chains;
    request.equilibration_sweeps = equilibration;
    t0.restart();
    const logz::LogzReport report = logz::run_logz(*machine, request, comm);
    const double seconds = comm.max(t0.seconds());
    search_seconds += seconds;
    const double gap = report.rais_estimate->log_z - report.ais_estimate->log_z;
    const bool reached = std::fabs(gap) < target_gap && report.ais_estimate->std_error < target_stderr &&
                         report.rais_estimate->std_error < target_stderr;
    nlohmann::json round = logz::report_json(report);
    round["wall_seconds"] = seconds;
    round["gap"] = gap;
    round["target_reached"] = reached;
    rounds.push_back(round);
    core::log::info_root("bench logz: K = ", temps, ": AIS ", report.ais_estimate->log_z, " +- ",
                         report.ais_estimate->std_error, ", RAIS ", report.rais_estimate->log_z, " +- ",
                         report.rais_estimate->std_error, ", gap ", gap, report.bracket_inverted() ? " (inverted)" : "",
                         " in ", seconds, " s");
    if (reached) {
      time_to_target = seconds;
      break;
    }
    temps *= 2;
  }

  const double updates_per_step = static_cast<double>(machine->num_nodes() * sweeps_per_temp);
  const nlohmann::json summary = {
      {"benchmark", "logz"},
      {"model", machine->graph().description},
      {"nodes", machine->num_nodes()},
      {"couplers", machine->num_couplers()},
      {"weight_sigma", weight_sigma},
      {"bias_sigma", bias_sigma},
      {"chains", chains},
      {"sweeps_per_temp", sweeps_per_temp},
      {"schedule", logz::to_string(schedule)},
      {"ranks", comm.size()},
      {"seed", seed},
      {"kernel_isa", rbm::host_kernel_isa()},
      {"rate",
       {{"temps", rate_temps},
        {"chain_temperature_steps_per_s", all.steps_per_s},
        {"chain_temperature_steps_per_s_one_rank", one.steps_per_s},
        {"speedup", all.steps_per_s / one.steps_per_s},
        {"efficiency", all.steps_per_s / one.steps_per_s / comm.size()},
        // P x (CPU time alone / CPU time of all ranks): the speedup with a dedicated
        // core per rank, robust to other load on a shared machine.
        {"speedup_cpu_time", comm.size() * one.cpu_seconds / all.cpu_seconds},
        {"seconds", all.seconds},
        {"seconds_one_rank", one.seconds},
        {"cpu_seconds", all.cpu_seconds},
        {"cpu_seconds_one_rank", one.cpu_seconds},
        {"ns_per_unit_update",
         1e9 * all.seconds * comm.size() / (static_cast<double>(chains * rate_temps) * updates_per_step)},
        {"identical_across_rank_counts", identical},
        {"gibbs_only_seconds", gibbs_seconds},
        {"ais_overhead", all.seconds / gibbs_seconds}}},
      {"convergence",
       {{"target_gap", target_gap},
        {"target_stderr", target_stderr},
        {"equilibration_sweeps", equilibration},
        {"budget_seconds", converge_seconds},
        {"rounds", rounds},
        {"target_reached", time_to_target.has_value()},
        {"time_to_target_s", time_to_target ? nlohmann::json(*time_to_target) : nlohmann::json(nullptr)},
        {"search_seconds", search_seconds}}},
  };
  if (cli.json()) {
    core::print_json_summary(summary, comm.is_root());
  } else if (comm.is_root()) {
    std::fprintf(stderr, "bench logz: %s, %lld couplers (W ~ N(0, %g^2), b ~ N(0, %g^2)), %lld chains\n",
                 machine->graph().description.c_str(), static_cast<long long>(machine->num_couplers()), weight_sigma,
                 bias_sigma, static_cast<long long>(chains));
    std::fprintf(
        stderr,
        "  AIS rate: %.4g chain-temperature steps/s on %d rank(s), %.4g on 1 (speedup %.2fx, by CPU time %.2fx); "
        "identical: %s\n",
        all.steps_per_s, comm.size(), one.steps_per_s, all.steps_per_s / one.steps_per_s,
        comm.size() * one.cpu_seconds / all.cpu_seconds, identical ? "yes" : "NO");
    if (time_to_target)
      std::fprintf(stderr, "  |AIS - RAIS| < %g with errors < %g after %.1f s (search %.1f s)\n", target_gap,
                   target_stderr, *time_to_target, search_seconds);
    else if (converge_seconds > 0)
      std::fprintf(stderr, "  target not reached within %.0f s; see the rounds in --json\n", converge_seconds);
  }
  return 0;
}

}  // namespace qvae::cli
