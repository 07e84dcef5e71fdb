// qvae logz: the partition function of a qvae-rbm model (docs/logz.md):
// exact enumeration, forward AIS, reverse AIS (from exact samples, data
// or equilibrated chains) or both with their bracket.  Chains are spread over
// ranks; the numbers are identical for any rank count.  Per-chain
// log-weights, schedule, seed and configuration go to a qvae-logz file
// (docs/formats.md) written collectively.
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli.hpp"
#include "qvae/core/alert.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/io/file.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/logz/logz_file.hpp"
#include "qvae/logz/report_json.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/torch_sampler.hpp"

namespace qvae::cli {

void declare_logz_options(po::options_description& options) {
  options.add_options()("rbm", po::value<std::string>(), "the qvae-rbm model file")(
      "method", po::value<std::string>()->default_value("both"), "exact | ais | rais | both")(
      "chains", po::value<std::int64_t>()->default_value(1024), "annealing chains (over all ranks)")(
      "temps", po::value<std::int64_t>()->default_value(1000), "temperature steps K (beta_0 = 0 .. beta_K = 1)")(
      "sweeps-per-temp", po::value<std::int64_t>()->default_value(1), "block-Gibbs sweeps at each temperature")(
      "schedule", po::value<std::string>()->default_value("adaptive"), "adaptive | linear | piecewise")(
      "pilot-chains", po::value<std::int64_t>()->default_value(64), "adaptive: pilot chains")(
      "pilot-temps", po::value<std::int64_t>()->default_value(256), "adaptive: pilot grid of temperatures")(
      "seed", po::value<std::uint64_t>(), "seed (default: run.seed)")(
      "reverse-start", po::value<std::string>()->default_value("auto"), "auto | exact | data | chains")(
      "latents", po::value<std::string>(), "reverse-start data: latent codes ('latents' (D, N), 0/1)")(
      "equilibration-sweeps", po::value<std::int64_t>()->default_value(1000), "reverse-start chains: sweeps at beta=1")(
      "bootstrap", po::value<std::int64_t>()->default_value(200), "bootstrap resamples for the standard error")(
      "force", po::bool_switch(), "exact: enumerate even above 2^32 terms")(
      "condition", po::value<std::string>(), "exact: codes of partition 0 for conditional log Z(u)")(
      "backend", po::value<std::string>()->default_value("kokkos"), "sampler: kokkos | torch")(
      "epoch", po::value<std::int64_t>(), "training epoch of the model, recorded in --out for plots")(
      "out", po::value<std::string>(), "output qvae-logz file");
}

int run_logz(Context& context) {
  CommandLine cli("logz",
                  "qvae logz --rbm FILE --method {exact,ais,rais,both} [--chains C] [--temps K]\n"
                  "       [--sweeps-per-temp s] [--schedule adaptive|linear|piecewise] [--seed S]\n"
                  "       [--reverse-start auto|exact|data|chains] [--latents FILE] [--equilibration-sweeps N]\n"
                  "       [--bootstrap B] [--force] [--condition FILE] [--backend kokkos|torch]\n"
                  "       [--out FILE [--epoch E]] [--json]",
                  "Estimates log Z of a qvae-rbm model (docs/logz.md).\n"
                  "  exact  enumerates every partition but the largest, which is summed in closed form\n"
                  "         (2^k terms; refused above 2^32 unless --force).  With --condition FILE: log Z(u)\n"
                  "         for each code u of partition 0 ('values' (R, n0) or full states 'samples').\n"
                  "  ais    forward AIS from the independent-bias model (log Z0 = sum softplus(b)) along\n"
                  "         beta * couplings: a stochastic lower bound.\n"
                  "  rais   reverse AIS from --reverse-start: exact samples (small models; a stochastic\n"
                  "         upper bound), data (RAISE; --latents FILE with 'latents' (D, N) 0/1 codes) or\n"
                  "         chains (--equilibration-sweeps at beta = 1; reported as not a guaranteed bound).\n"
                  "         auto: exact when the model has at most 24 units outside its largest partition.\n"
                  "  both   ais and rais with the same schedule: the bracket [ais, rais].\n"
                  "Each of --temps K steps runs --sweeps-per-temp block-Gibbs sweeps; per-chain\n"
                  "log-weights are combined once with log-sum-exp; stderr from --bootstrap resamples of\n"
                  "the chains.  Identical results for any number of ranks.");
  declare_logz_options(cli.options());
  if (!cli.parse(context)) return 0;
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;

  std::string rbm_path, out, backend;
  logz::LogzRequest request;
  par::run_agreed(comm, [&] {  // usage errors (exit 2) before any file is read
    if (!values.count("rbm")) throw core::UsageError(core::describe("no model given", "qvae logz", "pass --rbm FILE"));
    rbm_path = values["rbm"].as<std::string>();
    request.method = logz::parse_method(values["method"].as<std::string>());
    request.chains = values["chains"].as<std::int64_t>();
    request.temperatures = values["temps"].as<std::int64_t>();
    request.sweeps_per_temperature = values["sweeps-per-temp"].as<std::int64_t>();
    request.schedule = logz::parse_schedule_kind(values["schedule"].as<std::string>());
    request.pilot.chains = values["pilot-chains"].as<std::int64_t>();
    request.pilot.temperatures = values["pilot-temps"].as<std::int64_t>();
    request.pilot.sweeps_per_temperature = request.sweeps_per_temperature;
    request.seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
    const std::string start = values["reverse-start"].as<std::string>();
    if (start != "auto") request.reverse_start = logz::parse_reverse_start(start);
    if (values.count("latents")) request.latents_path = values["latents"].as<std::string>();
    request.equilibration_sweeps = values["equilibration-sweeps"].as<std::int64_t>();
    request.bootstrap_resamples = values["bootstrap"].as<std::int64_t>();
    request.exact.force = values["force"].as<bool>();
    backend = values["backend"].as<std::string>();
    if (request.chains < 1 || request.temperatures < 1 || request.sweeps_per_temperature < 1)
      throw core::UsageError(core::describe("--chains, --temps and --sweeps-per-temp must be >= 1", "qvae logz"));
    if (request.bootstrap_resamples < 0 || request.equilibration_sweeps < 0)
      throw core::UsageError(core::describe("--bootstrap and --equilibration-sweeps must be >= 0", "qvae logz"));
    if (request.schedule == logz::ScheduleKind::piecewise && request.temperatures < 3)
      throw core::UsageError(core::describe("the piecewise schedule needs --temps >= 3", "qvae logz"));
    if (request.reverse_start == logz::ReverseStart::data && request.latents_path.empty())
      throw core::UsageError(
          core::describe("--reverse-start data needs the latent codes", "qvae logz", "pass --latents FILE"));
    if (values.count("condition") && request.method != logz::Method::exact)
      throw core::UsageError(core::describe("--condition works with --method exact", "qvae logz"));
    if (backend != "kokkos" && backend != "torch")
      throw core::UsageError(core::describe("unknown backend '" + backend + "'", "qvae logz --backend",
                                            "use kokkos (sparse) or torch (dense reference)"));
    if (values.count("out")) {
      out = values["out"].as<std::string>();
      std::vector<std::string> inputs{rbm_path};
      for (const char* name : {"latents", "condition"})
        if (values.count(name)) inputs.push_back(values[name].as<std::string>());
      io::refuse_overwriting_inputs(out, inputs);
    }
  });
  if (backend == "torch") {
    rbm::limit_torch_threads(1);  // one rank per core
    request.factory = rbm::make_torch_sampler;
  }

  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] { machine.emplace(rbm::read_rbm(rbm_path, comm)); });
  std::vector<std::vector<std::uint8_t>> codes;
  if (values.count("condition"))
    par::run_agreed(
        comm, [&] { codes = logz::read_partition0_codes(values["condition"].as<std::string>(), comm, *machine); });

  PhaseProgress progress(cli, comm, "logz", "temperatures");
  request.on_progress = [&](const std::string& phase, std::int64_t done, std::int64_t total) {
    progress(phase, done, total);
  };
  logz::LogzReport report;
  std::vector<double> conditional;
  par::run_agreed(comm, [&] {
    report = logz::run_logz(*machine, request, comm);
    for (const auto& code : codes)
      conditional.push_back(logz::exact_conditional_log_z(*machine, code, comm, request.exact).log_z);
  });
  progress.finish();

  nlohmann::json summary = logz::report_json(report);
  summary["rbm"] = rbm_path;
  summary["nodes"] = machine->num_nodes();
  summary["couplers"] = machine->num_couplers();
  summary["seed"] = request.seed;
  summary["ranks"] = comm.size();
  if (request.method != logz::Method::exact) {
    summary["sweeps_per_temp"] = request.sweeps_per_temperature;
    summary["backend"] = report.ais ? report.ais->backend : report.rais->backend;
  }
  if (!codes.empty()) summary["logz_conditional"] = conditional;
  if (!out.empty()) {
    logz::LogzFileInfo info;
    info.rbm_path = rbm_path;
    info.latents_path = request.latents_path;
    info.nodes = machine->num_nodes();
    info.couplers = machine->num_couplers();
    info.partitions = machine->partitions();
    if (values.count("epoch")) info.epoch = values["epoch"].as<std::int64_t>();
    logz::write_logz_file(out, report, request, info,
                          io::Provenance{context.command_line, request.seed, cli.config_ini()}, comm);
    summary["out"] = out;
  }
  std::vector<std::string> warnings = logz::report_alerts(report);
  for (const std::string& alert : warnings) core::alert_root(alert);
  for (const std::string& warning : logz::report_warnings(report)) {
    core::log::warn_root(warning);
    warnings.push_back(warning);
  }
  summary["warnings"] = warnings;
  if (cli.json()) {
    core::print_json_summary(summary, comm.is_root());
  } else if (comm.is_root()) {
    if (report.exact)
      std::fprintf(stderr, "logz: exact %.6f (2^%lld terms, partition %d summed out, %.2f s)\n", report.exact->log_z,
                   static_cast<long long>(report.exact->enumerated_units), report.exact->analytic_partition,
                   report.exact->seconds);
    if (report.ais_estimate)
      std::fprintf(stderr, "logz: AIS  %.4f +- %.4f (ESS %.1f of %lld chains, %lld temperatures)\n",
                   report.ais_estimate->log_z, report.ais_estimate->std_error, report.ais_estimate->ess,
                   static_cast<long long>(report.ais_estimate->chains), static_cast<long long>(request.temperatures));
    if (report.rais_estimate)
      std::fprintf(stderr, "logz: RAIS %.4f +- %.4f (ESS %.1f; start: %s%s)\n", report.rais_estimate->log_z,
                   report.rais_estimate->std_error, report.rais_estimate->ess, logz::to_string(report.reverse_start),
                   report.rais_is_bound ? ", a stochastic upper bound" : ", no guaranteed bound");
    if (report.has_bracket()) {
      std::fprintf(stderr, "logz: bracket [%.4f, %.4f], width %.4f%s\n", report.ais_estimate->log_z,
                   report.rais_estimate->log_z, report.rais_estimate->log_z - report.ais_estimate->log_z,
                   report.bracket_inversion_significant() ? " (INVERTED)"
                   : report.bracket_inverted()            ? " (inverted within noise)"
                                                          : "");
      std::fprintf(stderr, "logz: %.4f +- %.4f (midpoint; stat %.4f, sys %.4f = half the bracket width)\n",
                   report.log_z(), report.combined_uncertainty(), report.statistical_uncertainty(),
                   report.systematic_uncertainty());
    }
    for (std::size_t r = 0; r < conditional.size(); ++r)
      std::fprintf(stderr, "logz: conditional log Z(u_%zu) = %.6f\n", r, conditional[r]);
  }
  return 0;
}

}  // namespace qvae::cli
