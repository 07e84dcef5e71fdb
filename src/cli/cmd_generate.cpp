// qvae generate: showers from a trained QVAE (DIR/best.h5) into a
// CaloChallenge file, identical for any rank count.
#include <cstdio>

#include "cli.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/train/generate.hpp"

namespace qvae::cli {

void declare_generate_options(po::options_description& options) {
  options.add_options()("model", po::value<std::string>(), "checkpoint (DIR/best.h5) or run directory")(
      "events", po::value<std::int64_t>(), "number of showers")("energies", po::value<std::string>(),
                                                                "CaloChallenge file whose incident energies to use")(
      "e-min", po::value<double>()->default_value(1e3), "lowest incident energy, MeV")(
      "e-max", po::value<double>()->default_value(1e6), "highest incident energy, MeV")(
      "seed", po::value<std::uint64_t>(), "seed (default: run.seed)")("out", po::value<std::string>(),
                                                                      "output CaloChallenge file")(
      "chunk-events", po::value<std::int64_t>()->default_value(256), "events per generation call")(
      "gibbs-sweeps", po::value<int>()->default_value(0),
      "prior Gibbs sweeps per shower (0: the model's rbm.generation_gibbs_steps)")(
      "threads", po::value<int>()->default_value(0), "LibTorch threads per rank (0 = default)");
  add_compute_device_option(options, "the decoder and the prior's chains");
}

int run_generate(Context& context) {
  CommandLine cli("generate",
                  "qvae generate --model DIR/best.h5 --events N [--energies FILE | --e-min MEV --e-max MEV] "
                  "--seed S --out FILE",
                  "Samples the trained prior (partition 0 clamped to the energy code), decodes and\n"
                  "writes a CaloChallenge file.  Incident energies: the first N of --energies FILE\n"
                  "(all of them without --events), or log-uniform in [--e-min, --e-max].  Every draw\n"
                  "is keyed by (seed, event), so any rank count writes the same file.");
  declare_generate_options(cli.options());
  if (!cli.parse(context)) return 0;
  const auto& vm = cli.values();
  train::GenerateRequest request;
  request.schema = &schema();
  request.model = vm.count("model") ? vm["model"].as<std::string>() : "";
  request.events = vm.count("events") ? vm["events"].as<std::int64_t>() : -1;
  request.energies_file = vm.count("energies") ? vm["energies"].as<std::string>() : "";
  request.e_min = vm["e-min"].as<double>();
  request.e_max = vm["e-max"].as<double>();
  request.seed = vm.count("seed") ? vm["seed"].as<std::uint64_t>() : cli.run().seed;
  request.out = vm.count("out") ? vm["out"].as<std::string>() : "";
  request.chunk_events = vm["chunk-events"].as<std::int64_t>();
  request.threads = vm["threads"].as<int>();
  request.gibbs_sweeps = vm["gibbs-sweeps"].as<int>();
  request.device = compute_device_of(vm);
  if (request.gibbs_sweeps < 0)
    throw core::UsageError(
        core::describe("--gibbs-sweeps must be >= 0", "qvae generate", "0 keeps the model's setting"));
  request.provenance = io::Provenance{context.command_line, request.seed, cli.config_ini()};
  PhaseProgress progress(cli, context.world, "generate", "showers");
  request.on_progress = [&](std::int64_t done, std::int64_t total) { progress(done, total); };
  const train::GenerateResult result = train::generate_showers(request, context.world);
  progress.finish();
  const nlohmann::json summary = {
      {"out", result.out},         {"model", result.model},
      {"events", result.events},   {"geometry", result.geometry},
      {"seed", request.seed},      {"ranks", context.world.size()},
      {"seconds", result.seconds}, {"showers_per_s", result.seconds > 0 ? result.events / result.seconds : 0.0}};
  if (cli.json())
    core::print_json_summary(summary, context.world.is_root());
  else if (context.world.is_root())
    std::fprintf(stderr, "generate: %lld %s showers from %s -> %s in %.2f s on %d rank(s)\n",
                 static_cast<long long>(result.events), result.geometry.c_str(), result.model.c_str(),
                 result.out.c_str(), result.seconds, context.world.size());
  return 0;
}

}  // namespace qvae::cli
