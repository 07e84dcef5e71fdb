// qvae sample: block-Gibbs samples of a Boltzmann machine (docs/rbm.md, "Block
// Gibbs sampling").  Chains are spread over ranks in contiguous blocks; chain c's
// randomness is keyed by (seed, c, its sweep count), so the output file is
// identical for any rank count, and `--resume` continues stored chains
// bit-exactly.  Samples, energies and chain counters are written collectively
// into a qvae-samples file (docs/formats.md).
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/sampling.hpp"
#include "qvae/rbm/torch_sampler.hpp"

namespace qvae::cli {
namespace {

/// --backend anneal|dwave: the device path shared with `qvae dwave sample`.
int sample_device_backend(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  DeviceSampleRequest request;
  request.where = "qvae sample --backend " + values["backend"].as<std::string>();
  par::run_agreed(context.world, [&] {
    for (const char* name : {"rbm", "out", "chains"})
      if (!values.count(name))
        throw core::UsageError(core::describe(std::string("--") + name + " is required", request.where));
    for (const char* name : {"resume", "sweeps"})
      if (values.count(name))
        throw core::UsageError(core::describe(std::string("--") + name + " does not apply to a device backend",
                                              request.where, "drop it (device reads are independent samples)"));
    if (values.count("clamp-partition") && values["clamp-partition"].as<std::vector<int>>() != std::vector<int>{0})
      throw core::UsageError(core::describe("a device backend can clamp partition 0 only", request.where,
                                            "pass --clamp-partition 0 --clamp-values FILE"));
    if (values.count("clamp-partition") != values.count("clamp-values"))
      throw core::UsageError(core::describe("--clamp-partition and --clamp-values go together", request.where));
    request.rbm_path = values["rbm"].as<std::string>();
    request.out = values["out"].as<std::string>();
    request.backend = values["backend"].as<std::string>();
    request.reads = values["chains"].as<std::int64_t>();
    request.beta = values["beta"].as<double>();
    request.seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
    if (values.count("clamp-values")) request.clamp_values = values["clamp-values"].as<std::string>();
  });
  return sample_on_device(context, cli, request);
}

}  // namespace

void declare_sample_options(po::options_description& options) {
  options.add_options()("rbm", po::value<std::string>(), "the qvae-rbm model file")(
      "chains", po::value<std::int64_t>(), "number of chains (default with --resume: the stored chains)")(
      "sweeps", po::value<std::int64_t>(), "sweeps after the burn-in")(
      "burn-in", po::value<std::int64_t>()->default_value(0), "sweeps before --sweeps (also discarded)")(
      "beta", po::value<double>()->default_value(1.0), "inverse temperature")(
      "beta-scope", po::value<std::string>()->default_value("couplings"), "couplings | all")(
      "clamp-partition", po::value<std::vector<int>>()->composing(), "partition to clamp (repeatable)")(
      "clamp-values", po::value<std::string>(), "HDF5 file with the clamp values")(
      "resume", po::value<std::string>(), "continue the chains stored in this file")(
      "backend", po::value<std::string>()->default_value("gibbs"), "gibbs (= kokkos) | torch | anneal | dwave")(
      "seed", po::value<std::uint64_t>(), "seed (default: the resumed chains' seed, else run.seed)")(
      "out", po::value<std::string>(), "output qvae-samples file");
  add_device_options(options);
}

int run_sample(Context& context) {
  CommandLine cli("sample",
                  "qvae sample --rbm FILE --chains C --sweeps S [--burn-in B] [--beta b]\n"
                  "       [--beta-scope couplings|all] [--clamp-partition P ... --clamp-values FILE]\n"
                  "       [--resume FILE] [--backend gibbs|torch|anneal|dwave] [--seed S] --out FILE [--json]",
                  "Block-Gibbs sampling of a qvae-rbm model: every chain starts uniformly at random\n"
                  "(or from --resume: the chains of a qvae-samples file or of the model file) and runs\n"
                  "B + S sweeps, each updating partitions 0..K-1 in order given the others.  --beta\n"
                  "scales the couplings (--beta-scope couplings) or couplings and biases (all).\n"
                  "--clamp-partition P (repeatable) holds those partitions at --clamp-values: an HDF5\n"
                  "file with 'values' (1 or C rows, one column per clamped unit in node order) or\n"
                  "'samples' (full states).  Writes 'samples' (C x N uint8), 'energies' (C, E(z) at\n"
                  "beta = 1) and the chain counters.  Backends: gibbs (sparse Kokkos block Gibbs;\n"
                  "default; 'kokkos' is the same), torch (the dense masked-matmul reference), and the\n"
                  "device backends of `qvae dwave sample`: anneal (simulated annealing) and dwave\n"
                  "(the QPU over SAPI; --endpoint --solver --token-file), where --chains is the number\n"
                  "of reads, --beta the device's beta_eff (E_I/beta is programmed), --sweeps is not\n"
                  "used and only partition 0 can be clamped (flux biases).  Identical output for any\n"
                  "number of ranks.");
  declare_sample_options(cli.options());
  if (!cli.parse(context)) return 0;
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;

  const std::string requested_backend = values["backend"].as<std::string>();
  if (requested_backend == "anneal" || requested_backend == "dwave") return sample_device_backend(context, cli);

  std::string rbm_path, out, backend;
  rbm::SampleJob job;
  std::vector<int> clamp_partitions;
  // Option checks first: usage errors (exit 2) before any file is read.
  par::run_agreed(comm, [&] {
    if (!values.count("rbm"))
      throw core::UsageError(core::describe("no model given", "qvae sample", "pass --rbm FILE"));
    if (!values.count("out"))
      throw core::UsageError(core::describe("no output file given", "qvae sample", "pass --out FILE"));
    if (!values.count("sweeps"))
      throw core::UsageError(core::describe("--sweeps is required", "qvae sample", "e.g. --sweeps 1000"));
    if (!values.count("chains") && !values.count("resume"))
      throw core::UsageError(core::describe("--chains is required", "qvae sample", "e.g. --chains 1024"));
    rbm_path = values["rbm"].as<std::string>();
    out = values["out"].as<std::string>();
    backend = values["backend"].as<std::string>();
    job.sweeps = values["sweeps"].as<std::int64_t>();
    job.burn_in = values["burn-in"].as<std::int64_t>();
    job.chains = values.count("chains") ? values["chains"].as<std::int64_t>() : 0;
    job.settings.beta = values["beta"].as<double>();
    job.settings.beta_scope = rbm::parse_beta_scope(values["beta-scope"].as<std::string>());
    if (values.count("chains") && job.chains < 1)
      throw core::UsageError(core::describe("--chains must be >= 1", "qvae sample"));
    if (job.sweeps < 0 || job.burn_in < 0)
      throw core::UsageError(core::describe("--sweeps and --burn-in must be >= 0", "qvae sample"));
    if (!(job.settings.beta >= 0) || !std::isfinite(job.settings.beta))
      throw core::UsageError(core::describe("--beta must be a finite number >= 0", "qvae sample"));
    if (backend == "gibbs") backend = "kokkos";
    if (backend != "kokkos" && backend != "torch")
      throw core::UsageError(core::describe("unknown backend '" + backend + "'", "qvae sample --backend",
                                            "use gibbs (sparse), torch (dense reference), anneal or dwave"));
    if (values.count("clamp-partition")) clamp_partitions = values["clamp-partition"].as<std::vector<int>>();
    if (clamp_partitions.empty() != !values.count("clamp-values"))
      throw core::UsageError(core::describe("--clamp-partition and --clamp-values go together", "qvae sample",
                                            "give the partitions to clamp and the file with their values"));
    std::vector<std::string> inputs{rbm_path};
    for (const char* name : {"clamp-values", "resume"})
      if (values.count(name)) inputs.push_back(values[name].as<std::string>());
    io::refuse_overwriting_inputs(out, inputs);
  });

  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] { machine.emplace(rbm::read_rbm(rbm_path, comm)); });
  par::run_agreed(comm, [&] {
    if (values.count("resume")) {
      job.resume = rbm::read_chains(values["resume"].as<std::string>(), comm, machine->num_nodes());
      if (values.count("chains") && job.chains != job.resume->total)
        throw core::UsageError(core::describe("--chains " + std::to_string(job.chains) + " differs from the " +
                                                  std::to_string(job.resume->total) + " stored chains",
                                              "qvae sample --resume", "drop --chains"));
      job.chains = job.resume->total;
    }
    job.settings.seed = values.count("seed") ? values["seed"].as<std::uint64_t>()
                        : job.resume         ? job.resume->seed
                                             : cli.run().seed;
    for (int p : clamp_partitions)
      if (p < 0 || p >= machine->partitions())
        throw core::UsageError(core::describe(
            "--clamp-partition " + std::to_string(p) + " is outside [0, " + std::to_string(machine->partitions()) + ")",
            "qvae sample"));
    if (!clamp_partitions.empty())
      job.clamp = rbm::read_clamp_values(values["clamp-values"].as<std::string>(), comm, *machine, clamp_partitions,
                                         job.chains);
  });
  if (job.resume && job.settings.seed != job.resume->seed)
    core::log::warn_root("--seed ", job.settings.seed, " differs from the resumed chains' seed ", job.resume->seed,
                         ": the chains continue on new random streams, not bit-exactly");

  rbm::SamplerFactory factory = rbm::make_kokkos_sampler;
  if (backend == "torch") {
    rbm::limit_torch_threads(1);  // one rank per core
    factory = rbm::make_torch_sampler;
  }
  const std::int64_t total_sweeps = job.burn_in + job.sweeps;
  core::Progress progress("sample", static_cast<std::uint64_t>(total_sweeps), "sweeps", comm.is_root(),
                          cli.run().progress, cli.run().progress_interval_s);
  job.on_progress = [&](std::int64_t done) { progress.update(static_cast<std::uint64_t>(done)); };
  const rbm::SampleResult result = rbm::run_sample_job(*machine, job, comm, factory);
  progress.finish();

  rbm::SampleFileInfo info;
  info.rbm_path = rbm_path;
  info.burn_in = job.burn_in;
  info.sweeps = job.sweeps;
  info.beta = job.settings.beta;
  info.beta_scope = job.settings.beta_scope;
  info.clamped_partitions = job.clamp ? job.clamp->partitions : std::vector<int>{};
  rbm::write_samples(out, comm, result, info,
                     io::Provenance{context.command_line, job.settings.seed, cli.config_ini()});

  const rbm::EnergySummary energy = rbm::summarise_energies(result.energies, comm);
  const double chains = static_cast<double>(job.chains);
  const double updates = chains * static_cast<double>(total_sweeps) * static_cast<double>(machine->num_nodes());
  const nlohmann::json summary = {
      {"out", out},
      {"rbm", rbm_path},
      {"backend", result.backend},
      {"chains", job.chains},
      {"nodes", machine->num_nodes()},
      {"burn_in", job.burn_in},
      {"sweeps", job.sweeps},
      {"beta", job.settings.beta},
      {"beta_scope", rbm::to_string(job.settings.beta_scope)},
      {"clamped_partitions", info.clamped_partitions},
      {"resumed", job.resume.has_value()},
      {"seed", job.settings.seed},
      {"ranks", comm.size()},
      {"seconds", result.seconds},
      {"unit_updates_per_s", result.seconds > 0 ? updates / result.seconds : 0.0},
      {"mean_energy", energy.mean},
      {"energy_std_error", energy.std_error},
  };
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "sample: %lld chains x %lld sweeps (%s, beta %g) -> %s in %.2f s; mean energy %.4f +- %.4f\n",
                 static_cast<long long>(job.chains), static_cast<long long>(total_sweeps), result.backend.c_str(),
                 job.settings.beta, out.c_str(), result.seconds, energy.mean, energy.std_error);
  return 0;
}

}  // namespace qvae::cli
