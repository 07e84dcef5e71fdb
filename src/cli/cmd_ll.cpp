// qvae ll: the log-likelihood table of the original study (docs/logz.md):
// LL = −⟨E(z)⟩ − log Ẑ of the encoded latent
// codes and of the model's own Gibbs samples, for the trained RBM and (with
// --random-reference) a random RBM of the same graph, each under AIS and
// reverse-AIS log Z, with the expected order checked:
//   LL(trained, encoded) ≈ LL(trained, Gibbs) > LL(random, Gibbs) > LL(random, encoded).
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
#include "qvae/logz/ll_table.hpp"
#include "qvae/logz/logz_file.hpp"
#include "qvae/logz/report_json.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/torch_sampler.hpp"

namespace qvae::cli {

void declare_ll_options(po::options_description& options) {
  options.add_options()("rbm", po::value<std::string>(), "the trained qvae-rbm model")(
      "latents", po::value<std::string>(), "encoded latent codes ('latents' (D, N), 0/1)")(
      "random-reference", po::bool_switch(), "add the random RBM of the same graph")(
      "random-sigma", po::value<double>()->default_value(1.0), "std of the random RBM's biases and weights")(
      "chains", po::value<std::int64_t>()->default_value(1024), "annealing chains per direction and model")(
      "temps", po::value<std::int64_t>()->default_value(1000), "temperature steps K")(
      "sweeps-per-temp", po::value<std::int64_t>()->default_value(1), "block-Gibbs sweeps at each temperature")(
      "schedule", po::value<std::string>()->default_value("adaptive"), "adaptive | linear | piecewise")(
      "reverse-start", po::value<std::string>()->default_value("auto"), "auto | exact | data | chains")(
      "equilibration-sweeps", po::value<std::int64_t>()->default_value(1000), "reverse-start chains: sweeps at beta=1")(
      "bootstrap", po::value<std::int64_t>()->default_value(200), "bootstrap resamples for the standard errors")(
      "gibbs-chains", po::value<std::int64_t>()->default_value(0), "Gibbs samples per model (0: one per code)")(
      "gibbs-sweeps", po::value<std::int64_t>()->default_value(1000), "sweeps of each Gibbs chain")(
      "approx-tolerance", po::value<double>(), "tolerance of '~' in nats")("seed", po::value<std::uint64_t>(),
                                                                           "seed (default: run.seed)")(
      "backend", po::value<std::string>()->default_value("kokkos"), "sampler: kokkos | torch")(
      "epoch", po::value<std::int64_t>(), "training epoch of the model, recorded in --out for plots")(
      "out", po::value<std::string>(), "output qvae-logz file (the trained model's runs and the ll_* values)");
}

int run_ll(Context& context) {
  CommandLine cli("ll",
                  "qvae ll --rbm FILE --latents FILE [--random-reference] [--random-sigma s] [--chains C]\n"
                  "       [--temps K] [--sweeps-per-temp s] [--schedule adaptive|linear|piecewise]\n"
                  "       [--reverse-start auto|exact|data|chains] [--equilibration-sweeps N] [--gibbs-chains G]\n"
                  "       [--gibbs-sweeps S] [--approx-tolerance NATS] [--seed S] [--out FILE [--epoch E]]\n"
                  "       [--json]",
                  "The log-likelihood table of latent codes under the RBM prior: LL = -<E(z)> - log Z for\n"
                  "the encoded codes (--latents: 'latents' (D, N) 0/1, node order) and for G Gibbs samples\n"
                  "of the model (S sweeps from uniform starts), with log Z from AIS (high LL) and reverse\n"
                  "AIS (low LL).  --random-reference adds a random RBM of the same graph (biases and\n"
                  "weights N(0, s^2)) and checks the expected order\n"
                  "  LL(trained, encoded) ~ LL(trained, Gibbs) > LL(random, Gibbs) > LL(random, encoded),\n"
                  "flagging each relation that fails ('~': within --approx-tolerance nats; default a\n"
                  "quarter of the trained-random gap, or 5% of |LL(trained, Gibbs)| without the reference).");
  declare_ll_options(cli.options());
  if (!cli.parse(context)) return 0;
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;

  std::string rbm_path, latents_path, out, backend;
  logz::LlSettings settings;
  logz::LogzRequest& request = settings.logz;
  par::run_agreed(comm, [&] {
    if (!values.count("rbm") || !values.count("latents"))
      throw core::UsageError(
          core::describe("--rbm and --latents are required", "qvae ll", "pass the model and the encoded codes"));
    rbm_path = values["rbm"].as<std::string>();
    latents_path = values["latents"].as<std::string>();
    request.method = logz::Method::both;
    request.chains = values["chains"].as<std::int64_t>();
    request.temperatures = values["temps"].as<std::int64_t>();
    request.sweeps_per_temperature = values["sweeps-per-temp"].as<std::int64_t>();
    request.pilot.sweeps_per_temperature = request.sweeps_per_temperature;
    request.schedule = logz::parse_schedule_kind(values["schedule"].as<std::string>());
    request.seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
    const std::string start = values["reverse-start"].as<std::string>();
    if (start != "auto") request.reverse_start = logz::parse_reverse_start(start);
    request.latents_path = latents_path;
    request.equilibration_sweeps = values["equilibration-sweeps"].as<std::int64_t>();
    request.bootstrap_resamples = values["bootstrap"].as<std::int64_t>();
    settings.gibbs_chains = values["gibbs-chains"].as<std::int64_t>();
    settings.gibbs_sweeps = values["gibbs-sweeps"].as<std::int64_t>();
    settings.random_reference = values["random-reference"].as<bool>();
    settings.random_sigma = values["random-sigma"].as<double>();
    if (values.count("approx-tolerance")) settings.approx_tolerance = values["approx-tolerance"].as<double>();
    backend = values["backend"].as<std::string>();
    if (request.chains < 1 || request.temperatures < 1 || request.sweeps_per_temperature < 1)
      throw core::UsageError(core::describe("--chains, --temps and --sweeps-per-temp must be >= 1", "qvae ll"));
    if (request.bootstrap_resamples < 0 || request.equilibration_sweeps < 0 || settings.gibbs_chains < 0 ||
        settings.gibbs_sweeps < 0)
      throw core::UsageError(core::describe(
          "--bootstrap, --equilibration-sweeps, --gibbs-chains and --gibbs-sweeps must be >= 0", "qvae ll"));
    if (!(settings.random_sigma >= 0) || !std::isfinite(settings.random_sigma))
      throw core::UsageError(core::describe("--random-sigma must be a finite number >= 0", "qvae ll"));
    if (values.count("approx-tolerance") && !(settings.approx_tolerance >= 0))
      throw core::UsageError(core::describe("--approx-tolerance must be >= 0", "qvae ll"));
    if (request.schedule == logz::ScheduleKind::piecewise && request.temperatures < 3)
      throw core::UsageError(core::describe("the piecewise schedule needs --temps >= 3", "qvae ll"));
    if (backend != "kokkos" && backend != "torch")
      throw core::UsageError(core::describe("unknown backend '" + backend + "'", "qvae ll --backend",
                                            "use kokkos (sparse) or torch (dense reference)"));
    if (values.count("out")) {
      out = values["out"].as<std::string>();
      io::refuse_overwriting_inputs(out, {rbm_path, latents_path});
    }
  });
  if (backend == "torch") {
    rbm::limit_torch_threads(1);
    request.factory = rbm::make_torch_sampler;
  }
  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] { machine.emplace(rbm::read_rbm(rbm_path, comm)); });

  PhaseProgress progress(cli, comm, "ll", "temperatures");
  request.on_progress = [&](const std::string& name, std::int64_t done, std::int64_t total) {
    progress(name, done, total);
  };
  logz::LlTable table;
  par::run_agreed(comm, [&] { table = logz::compute_ll_table(*machine, latents_path, settings, comm); });
  progress.finish();

  nlohmann::json rows = nlohmann::json::array(), ll = nlohmann::json::object();
  for (const logz::LlEntry& entry : table.entries) {
    rows.push_back({{"model", entry.model},
                    {"samples", entry.samples},
                    {"count", entry.count},
                    {"mean_energy", entry.mean_energy},
                    {"energy_stderr", entry.energy_std_error},
                    {"ll", entry.ll},
                    {"ll_error", entry.ll_error},
                    {"ll_ais", entry.ll_ais},
                    {"ll_rais", entry.ll_rais}});
    ll[entry.model + "_" + entry.samples] = {
        {"value", entry.ll}, {"error", entry.ll_error}, {"ais", entry.ll_ais}, {"rais", entry.ll_rais}};
  }
  nlohmann::json logz_json = {{"trained", logz::report_json(table.trained.logz)}};
  std::vector<std::string> alerts = logz::report_alerts(table.trained.logz);
  std::vector<std::string> warnings = logz::report_warnings(table.trained.logz);
  if (table.random) {
    logz_json["random"] = logz::report_json(table.random->logz);
    for (const std::string& a : logz::report_alerts(table.random->logz)) alerts.push_back("random RBM: " + a);
    for (const std::string& w : logz::report_warnings(table.random->logz)) warnings.push_back("random RBM: " + w);
  }
  for (const std::string& v : table.violations) warnings.push_back("order: " + v);
  for (const std::string& a : alerts) core::alert_root(a);
  for (const std::string& w : warnings) core::log::warn_root(w);
  warnings.insert(warnings.begin(), alerts.begin(), alerts.end());
  const nlohmann::json summary = {
      {"rbm", rbm_path},
      {"latents", latents_path},
      {"codes", table.trained.encoded.count},
      {"gibbs_chains", table.trained.gibbs.count},
      {"gibbs_sweeps", settings.gibbs_sweeps},
      {"random_reference", settings.random_reference},
      {"table", rows},
      {"ll", ll},
      {"logz", logz_json},
      {"order",
       {{"expected", table.random
                         ? "LL(trained, encoded) ~ LL(trained, Gibbs) > LL(random, Gibbs) > LL(random, encoded)"
                         : "LL(trained, encoded) ~ LL(trained, Gibbs)"},
        {"ok", table.order_ok()},
        {"violations", table.violations},
        {"approx_tolerance", table.approx_tolerance}}},
      {"seed", request.seed},
      {"ranks", comm.size()},
      {"warnings", warnings},
  };
  if (!out.empty()) {
    logz::LogzFileInfo info;
    info.rbm_path = rbm_path;
    info.latents_path = latents_path;
    info.nodes = machine->num_nodes();
    info.couplers = machine->num_couplers();
    info.partitions = machine->partitions();
    if (values.count("epoch")) info.epoch = values["epoch"].as<std::int64_t>();
    for (const logz::LlEntry& entry : table.entries) {
      info.series["ll_" + entry.model + "_" + entry.samples + "_ais"] = entry.ll_ais;
      info.series["ll_" + entry.model + "_" + entry.samples + "_rais"] = entry.ll_rais;
    }
    logz::write_logz_file(out, table.trained.logz, request, info,
                          io::Provenance{context.command_line, request.seed, cli.config_ini()}, comm);
  }
  if (cli.json()) {
    core::print_json_summary(summary, comm.is_root());
  } else if (comm.is_root()) {
    std::fprintf(stderr, "%-8s %-8s %8s %14s %24s %14s %14s\n", "model", "samples", "count", "mean energy",
                 "LL +- error", "LL (AIS)", "LL (RAIS)");
    for (const logz::LlEntry& entry : table.entries)
      std::fprintf(stderr, "%-8s %-8s %8lld %14.4f %14.4f +- %7.4f %14.4f %14.4f\n", entry.model.c_str(),
                   entry.samples.c_str(), static_cast<long long>(entry.count), entry.mean_energy, entry.ll,
                   entry.ll_error, entry.ll_ais, entry.ll_rais);
    std::fprintf(stderr,
                 "LL error: bootstrap error and half the AIS-RAIS bracket of log Z, and the energy mean's error\n");
    std::fprintf(stderr, "order %s: %s\n", table.order_ok() ? "as expected" : "VIOLATED",
                 summary["order"]["expected"].get<std::string>().c_str());
    for (const std::string& v : table.violations) std::fprintf(stderr, "  %s\n", v.c_str());
  }
  return 0;
}

}  // namespace qvae::cli
