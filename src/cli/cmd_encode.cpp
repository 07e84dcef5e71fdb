// qvae encode: latent codes of showers under a trained QVAE, for the LL table
// (`qvae ll --latents`) and reverse AIS from data (`qvae logz --latents`).
#include <cstdio>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/train/model_exports.hpp"

namespace qvae::cli {

void declare_encode_options(po::options_description& options) {
  options.add_options()("model", po::value<std::string>(), "checkpoint (RUN/best.h5) or run directory")(
      "data", po::value<std::string>(), "CaloChallenge shower file")("events", po::value<std::int64_t>(),
                                                                     "encode the first N showers (default: all)")(
      "seed", po::value<std::uint64_t>(), "posterior sampling seed (default: run.seed)")(
      "out", po::value<std::string>(), "output qvae-latents file")(
      "chunk-events", po::value<std::int64_t>()->default_value(256), "showers per forward pass");
  add_compute_device_option(options, "the encoder");
}

int run_encode(Context& context) {
  CommandLine cli("encode", "qvae encode --model RUN/best.h5 --data FILE [--events N] [--seed S] --out FILE [--json]",
                  "Encodes showers with a trained QVAE (eval mode) into binary posterior samples\n"
                  "z ~ q(z|x), partition 0 being the energy code when the prior is conditioned, and\n"
                  "writes a qvae-latents file (docs/formats.md): 'latents' (D, N) uint8 in the prior's\n"
                  "node order, 'energies' E(z), 'incident_energies'.  Event e's noise is keyed by\n"
                  "(seed, e): the file is identical for any rank count.");
  declare_encode_options(cli.options());
  if (!cli.parse(context)) return 0;
  const auto& vm = cli.values();
  train::EncodeRequest request;
  par::run_agreed(context.world, [&] {
    for (const char* name : {"model", "data", "out"})
      if (!vm.count(name))
        throw core::UsageError(core::describe(std::string("--") + name + " is required", "qvae encode",
                                              "usage: qvae encode --model RUN/best.h5 --data FILE --out FILE"));
  });
  request.model = vm["model"].as<std::string>();
  request.data = vm["data"].as<std::string>();
  request.out = vm["out"].as<std::string>();
  request.events = vm.count("events") ? vm["events"].as<std::int64_t>() : -1;
  request.seed = vm.count("seed") ? vm["seed"].as<std::uint64_t>() : cli.run().seed;
  request.chunk_events = vm["chunk-events"].as<std::int64_t>();
  request.device = compute_device_of(vm);
  request.provenance = io::Provenance{context.command_line, request.seed, cli.config_ini()};
  PhaseProgress progress(cli, context.world, "encode", "showers");
  request.on_progress = [&](std::int64_t done, std::int64_t total) { progress(done, total); };
  const train::EncodeResult result = train::encode_latents(request, schema(), context.world);
  progress.finish();
  const nlohmann::json summary = {
      {"out", result.out},       {"model", result.model},         {"data", request.data},
      {"events", result.events}, {"nodes", result.nodes},         {"mean_energy", result.mean_energy},
      {"seed", request.seed},    {"ranks", context.world.size()}, {"seconds", result.seconds}};
  if (cli.json())
    core::print_json_summary(summary, context.world.is_root());
  else if (context.world.is_root())
    std::fprintf(stderr, "encode: %lld showers -> %s (%lld latent units, mean E(z) %.4f) in %.2f s\n",
                 static_cast<long long>(result.events), result.out.c_str(), static_cast<long long>(result.nodes),
                 result.mean_energy, result.seconds);
  return 0;
}

}  // namespace qvae::cli
