// qvae dwave: D-Wave sampling and effective temperature (docs/dwave.md).
//   sample   samples of a qvae-rbm model from the QPU over SAPI (or an offline
//            stand-in), written like `qvae sample` output; requests of every
//            rank go to rank 0, which batches them (docs/dwave.md)
//   beta     beta_eff by one of the methods of docs/dwave.md, "Effective temperature"
//   solvers  the solvers an endpoint offers
// The token comes from DWAVE_API_TOKEN or --token-file and is never printed.
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/dwave/beta_estimation.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/dwave/settings.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/sampling.hpp"

namespace qvae::cli {
namespace {

/// [dwave] settings with the command-line options on top; the token (rank 0
/// only — it alone talks to SAPI) when the dwave backend needs it.
dwave::DwaveSettings settings_for(const CommandLine& cli, const Context& context, bool needs_token) {
  const po::variables_map& values = cli.values();
  dwave::DwaveSettings settings = dwave::dwave_settings_from(cli.config());
  if (values.count("endpoint")) settings.qpu.client.endpoint = values["endpoint"].as<std::string>();
  if (values.count("solver")) settings.qpu.solver = values["solver"].as<std::string>();
  if (values.count("token-file")) settings.token_file = values["token-file"].as<std::string>();
  if (values.count("device-beta")) {
    settings.gibbs.beta = settings.anneal.beta_end = values["device-beta"].as<double>();
    if (!(settings.gibbs.beta > 0) || !std::isfinite(settings.gibbs.beta))
      throw core::UsageError(core::describe("--device-beta must be a finite number > 0", "qvae dwave"));
  }
  if (needs_token && context.world.is_root()) settings.qpu.client.token = dwave::read_token(settings.token_file);
  return settings;
}

}  // namespace

void add_device_options(po::options_description& options) {
  options.add_options()("endpoint", po::value<std::string>(), "SAPI base URL (default: dwave.endpoint)")(
      "solver", po::value<std::string>(), "solver name (default: dwave.solver)")(
      "token-file", po::value<std::string>(), "file with the SAPI token, mode 600 (default: env DWAVE_API_TOKEN)")(
      "device-beta", po::value<double>(), "beta of the offline stand-in device (gibbs; anneal: final beta)");
}

int sample_on_device(Context& context, CommandLine& cli, DeviceSampleRequest request) {
  const par::Communicator& comm = context.world;
  const std::string& where = request.where;
  dwave::BackendSampleOptions options;
  par::run_agreed(comm, [&] {
    options.reads = request.reads;
    options.beta = request.beta;
    options.backend = request.backend;
    options.seed = request.seed;
    if (options.reads < 1) throw core::UsageError(core::describe("the number of reads must be >= 1", where));
    if (!(options.beta > 0) || !std::isfinite(options.beta))
      throw core::UsageError(core::describe("--beta must be a finite number > 0", where));
    if (options.backend != "dwave" && options.backend != "anneal" && options.backend != "gibbs")
      throw core::UsageError(core::describe("unknown backend '" + options.backend + "'", where + " --backend",
                                            "use dwave, anneal or gibbs"));
    std::vector<std::string> inputs{request.rbm_path};
    if (request.clamp_values) inputs.push_back(*request.clamp_values);
    io::refuse_overwriting_inputs(request.out, inputs);
    options.settings = settings_for(cli, context, options.backend == "dwave");
    if (options.backend == "dwave" && options.settings.qpu.solver.empty())
      throw core::UsageError(core::describe("no solver named", where, "pass --solver NAME (see qvae dwave solvers)"));
  });
  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] { machine.emplace(rbm::read_rbm(request.rbm_path, comm)); });
  par::run_agreed(comm, [&] {
    if (request.clamp_values)
      options.condition = rbm::read_clamp_values(*request.clamp_values, comm, *machine, {0}, options.reads);
  });

  const rbm::SampleResult result = dwave::sample_with_backend(*machine, options, comm);
  rbm::SampleFileInfo info;
  info.rbm_path = request.rbm_path;
  info.beta = options.beta;
  info.beta_scope = rbm::BetaScope::all;  // E_I/β scales biases and couplings alike
  if (options.condition) info.clamped_partitions = {0};
  rbm::write_samples(request.out, comm, result, info,
                     io::Provenance{context.command_line, options.seed, cli.config_ini()});

  const rbm::EnergySummary energy = rbm::summarise_energies(result.energies, comm);
  nlohmann::json summary = {{"out", request.out},
                            {"rbm", request.rbm_path},
                            {"backend", result.backend},
                            {"reads", options.reads},
                            {"nodes", machine->num_nodes()},
                            {"beta", options.beta},
                            {"conditioned", options.condition.has_value()},
                            {"ranks", comm.size()},
                            {"seconds", result.seconds},
                            {"mean_energy", energy.mean},
                            {"energy_std_error", energy.std_error}};
  if (options.backend == "dwave") {
    summary["endpoint"] = options.settings.qpu.client.endpoint;
    summary["solver"] = options.settings.qpu.solver;
  } else {
    summary["seed"] = options.seed;
  }
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "%s: %lld reads (%s, beta %g) -> %s in %.2f s; mean energy %.4f\n", where.c_str(),
                 static_cast<long long>(options.reads), result.backend.c_str(), options.beta, request.out.c_str(),
                 result.seconds, energy.mean);
  return 0;
}

namespace {

std::string require_string(const po::variables_map& values, const char* name, const std::string& where) {
  if (!values.count(name))
    throw core::UsageError(
        core::describe(std::string("--") + name + " is required", where, std::string("pass --") + name));
  return values[name].as<std::string>();
}

int dwave_sample(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  const std::string where = "qvae dwave sample";
  DeviceSampleRequest request;
  request.where = where;
  par::run_agreed(comm, [&] {
    request.rbm_path = require_string(values, "rbm", where);
    request.out = require_string(values, "out", where);
    if (!values.count("reads"))
      throw core::UsageError(core::describe("--reads is required", where, "e.g. --reads 1024"));
    request.reads = values["reads"].as<std::int64_t>();
    request.beta = values["beta"].as<double>();
    request.backend = values["backend"].as<std::string>();
    request.seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
    if (values.count("clamp-values")) request.clamp_values = values["clamp-values"].as<std::string>();
  });
  return sample_on_device(context, cli, request);
}

int dwave_beta(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  const std::string where = "qvae dwave beta";
  std::string rbm_path, backend;
  dwave::DwaveSettings settings;
  par::run_agreed(comm, [&] {
    rbm_path = require_string(values, "rbm", where);
    backend = values["backend"].as<std::string>();
    if (backend != "dwave" && backend != "anneal" && backend != "gibbs")
      throw core::UsageError(
          core::describe("unknown backend '" + backend + "'", where + " --backend", "use dwave, anneal or gibbs"));
    settings = settings_for(cli, context, backend == "dwave");
    if (values.count("method")) settings.beta.method = dwave::parse_beta_method(values["method"].as<std::string>());
    if (values.count("beta0")) settings.beta.beta_initial = values["beta0"].as<double>();
    if (values.count("iterations")) settings.beta.max_iterations = values["iterations"].as<int>();
    if (values.count("reads")) settings.beta.reads = values["reads"].as<std::int64_t>();
    if (values.count("rbm-chains")) settings.beta.rbm_chains = values["rbm-chains"].as<std::int64_t>();
    if (values.count("rbm-sweeps")) settings.beta.rbm_sweeps = values["rbm-sweeps"].as<std::int64_t>();
    settings.beta.seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
    if (!(settings.beta.beta_initial > 0) || settings.beta.max_iterations < 1 || settings.beta.reads < 2 ||
        settings.beta.rbm_chains < 2 || settings.beta.rbm_sweeps < 0)
      throw core::UsageError(
          core::describe("--beta0 must be > 0, --iterations >= 1, --reads and "
                         "--rbm-chains >= 2, --rbm-sweeps >= 0",
                         where));
    if (backend == "dwave" && settings.qpu.solver.empty())
      throw core::UsageError(core::describe("no solver named", where, "pass --solver NAME (see qvae dwave solvers)"));
  });
  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] { machine.emplace(rbm::read_rbm(rbm_path, comm)); });
  const std::unique_ptr<dwave::IsingSampler> device =
      dwave::make_sampler(backend, *machine, settings, settings.beta.seed ^ 0xD3A7E5ULL, comm);
  const dwave::BetaEstimate estimate = dwave::estimate_beta(*machine, *device, settings.beta, comm);

  nlohmann::json history = nlohmann::json::array();
  for (const dwave::BetaIteration& step : estimate.history)
    history.push_back({{"iteration", step.iteration},
                       {"beta", step.beta},
                       {"device_mean_energy", step.qpu_mean},
                       {"device_energy_std", step.qpu_std},
                       {"classical_mean_energy", step.rbm_mean},
                       {"classical_energy_std", step.rbm_std},
                       {"statistic", step.statistic},
                       {"threshold", step.threshold},
                       {"next_beta", step.next_beta},
                       {"note", step.note}});
  nlohmann::json summary = {{"rbm", rbm_path},
                            {"method", dwave::to_string(estimate.method)},
                            {"backend", backend},
                            {"beta_eff", estimate.beta_eff},
                            {"uncertainty", estimate.uncertainty},
                            {"converged", estimate.converged},
                            {"iterations", estimate.history.size()},
                            {"reads", settings.beta.reads},
                            {"ranks", comm.size()},
                            {"history", history}};
  if (backend == "dwave") {
    summary["endpoint"] = settings.qpu.client.endpoint;
    summary["solver"] = settings.qpu.solver;
  } else {
    summary["device_beta"] = backend == "gibbs" ? settings.gibbs.beta : settings.anneal.beta_end;
  }
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "dwave beta (%s, %s): beta_eff = %.4f +- %.4f after %zu iterations%s\n",
                 dwave::to_string(estimate.method), backend.c_str(), estimate.beta_eff, estimate.uncertainty,
                 estimate.history.size(), estimate.converged ? "" : " (not converged)");
  return 0;
}

int dwave_solvers(Context& context, CommandLine& cli) {
  const par::Communicator& comm = context.world;
  std::vector<dwave::SolverInfo> solvers;
  std::string endpoint;
  par::run_agreed(comm, [&] {
    if (!comm.is_root()) return;
    const dwave::DwaveSettings settings = settings_for(cli, context, true);
    endpoint = settings.qpu.client.endpoint;
    dwave::SapiClient client(settings.qpu.client);
    solvers = client.list_solvers();
  });
  nlohmann::json list = nlohmann::json::array();
  for (const dwave::SolverInfo& solver : solvers)
    list.push_back({{"name", solver.name},
                    {"status", solver.status},
                    {"topology", solver.topology},
                    {"shape", solver.shape},
                    {"qubits", solver.qubits.size()},
                    {"couplers", solver.couplers.size()},
                    {"num_qubits", solver.num_qubits},
                    {"h_range", {solver.ranges.h_min, solver.ranges.h_max}},
                    {"j_range", {solver.ranges.j_min, solver.ranges.j_max}}});
  if (cli.json()) {
    core::print_json_summary({{"endpoint", endpoint}, {"solvers", list}}, comm.is_root());
  } else if (comm.is_root()) {
    for (const dwave::SolverInfo& solver : solvers)
      std::fprintf(stderr, "%s  %s  %s  %zu qubits, %zu couplers\n", solver.name.c_str(), solver.status.c_str(),
                   solver.topology.c_str(), solver.qubits.size(), solver.couplers.size());
  }
  return 0;
}

}  // namespace

void declare_dwave_options(po::options_description& options) {
  options.add_options()("action", po::value<std::string>(), "sample | beta | solvers")("rbm", po::value<std::string>(),
                                                                                       "the qvae-rbm model file")(
      "backend", po::value<std::string>()->default_value("dwave"), "dwave | anneal | gibbs")(
      "reads", po::value<std::int64_t>(), "sample: number of samples; beta: device reads per iteration")(
      "beta", po::value<double>()->default_value(1.0), "sample: program E_I / beta")(
      "clamp-values", po::value<std::string>(), "sample: partition-0 values (HDF5, as qvae sample)")(
      "out", po::value<std::string>(), "sample: output qvae-samples file")(
      "method", po::value<std::string>(), "beta: ml | linear | multiplicative | variance | pseudolikelihood | stein")(
      "beta0", po::value<double>(), "beta: starting beta (default dwave.beta_initial)")(
      "iterations", po::value<int>(), "beta: most iterations (default dwave.beta_iterations)")(
      "rbm-chains", po::value<std::int64_t>(), "beta: classical Gibbs chains")("rbm-sweeps", po::value<std::int64_t>(),
                                                                               "beta: classical Gibbs sweeps")(
      "seed", po::value<std::uint64_t>(), "seed of offline backends and classical chains (default run.seed)");
  add_device_options(options);
}

int run_dwave(Context& context) {
  CommandLine cli(
      "dwave",
      "qvae dwave sample --rbm FILE --reads N [--beta b] [--backend dwave|anneal|gibbs]\n"
      "                  [--endpoint URL --solver NAME] [--token-file F] [--clamp-values FILE]\n"
      "                  [--device-beta b] [--seed S] --out FILE [--json]\n"
      "       qvae dwave beta --rbm FILE --method ml|linear|multiplicative|variance|pseudolikelihood|stein\n"
      "                  [--backend dwave|anneal|gibbs] [--beta0 b] [--iterations K] [--reads N]\n"
      "                  [--device-beta b] [--rbm-chains C] [--rbm-sweeps S] [--seed S] [--json]\n"
      "       qvae dwave solvers [--endpoint URL] [--json]",
      "D-Wave sampling of a qvae-rbm model and its effective temperature (docs/dwave.md).\n"
      "  sample   programs E_I/beta (the Ising form of the model divided by beta, the device's\n"
      "           beta_eff) on the solver's qubits, clipped to its h/j ranges, and writes the\n"
      "           samples like `qvae sample` ('samples' C x N uint8 in node order, 'energies').\n"
      "           --clamp-values conditions partition 0 with flux biases (one problem per row).\n"
      "           Every rank's requests go to rank 0, which submits them in batches.\n"
      "  beta     estimates beta_eff of the backend by the chosen method (docs/dwave.md); stein\n"
      "           minimises the kernel Stein discrepancy of one set of device reads (no model sampling).\n"
      "  solvers  lists the endpoint's solvers.\n"
      "The token comes from DWAVE_API_TOKEN or --token-file (refused when group/other can read it).\n"
      "Offline backends stand in for a QPU: anneal (simulated annealing) and gibbs (block Gibbs\n"
      "at --device-beta / dwave.gibbs_beta).  Timeouts, retries, batching: the [dwave] keys.");
  declare_dwave_options(cli.options());
  cli.positional().add("action", 1);
  if (!cli.parse(context)) return 0;
  const std::string action = cli.values().count("action") ? cli.values()["action"].as<std::string>() : "";
  par::run_agreed(context.world, [&] {
    if (action != "sample" && action != "beta" && action != "solvers")
      throw core::UsageError(core::describe(action.empty() ? "no action given" : "unknown action '" + action + "'",
                                            "qvae dwave", "use `qvae dwave sample`, `beta` or `solvers`"));
  });
  if (action == "sample") return dwave_sample(context, cli);
  if (action == "beta") return dwave_beta(context, cli);
  return dwave_solvers(context, cli);
}

}  // namespace qvae::cli
