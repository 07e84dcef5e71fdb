// qvae generate: showers from a trained QVAE into a CaloChallenge file,
// identical for any rank count (see generate.hpp).
#include "qvae/train/generate.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/trained_model.hpp"

namespace qvae::train {

GenerateResult generate_showers(const GenerateRequest& request, const par::Communicator& comm) {
  GenerateResult result;
  const std::string model_path = checkpoint_path(request.model);
  std::vector<double> energies;  // of every event (small: 8 bytes per event)
  std::int64_t events = request.events;

  par::run_agreed(comm, [&] {
    if (request.schema == nullptr) throw std::logic_error("generate_showers needs the config schema");
    if (request.out.empty())
      throw core::UsageError(core::describe("no output file given", "qvae generate", "pass --out FILE"));
    if (request.chunk_events < 1)
      throw core::UsageError(core::describe("--chunk-events must be >= 1", "qvae generate"));
    if (request.model.empty())
      throw core::UsageError(core::describe("no model given", "qvae generate", "pass --model DIR/best.h5"));
    io::refuse_overwriting_inputs(request.out, {model_path, request.energies_file});
    if (request.energies_file.empty()) {
      if (events < 1)
        throw core::UsageError(core::describe("--events must be >= 1", "qvae generate",
                                              "give --events N (or --energies FILE to take its energies)"));
      if (!(request.e_min > 0) || !(request.e_max >= request.e_min))
        throw core::UsageError(core::describe("need 0 < --e-min <= --e-max", "qvae generate"));
    }
  });
  if (request.threads > 0) torch::set_num_threads(request.threads);
  TrainedModel trained = load_trained_model(model_path, *request.schema, comm, request.device);
  const geometry::Geometry& geometry = trained.geometry;
  model::Qvae& qvae = trained.qvae;
  if (!request.energies_file.empty()) {
    par::run_agreed(comm, [&] {
      const data::CaloReader reader(request.energies_file, comm);
      energies = io::read_all<double>(reader.file(), data::kIncidentEnergies, 1);
      if (events < 0) events = static_cast<std::int64_t>(energies.size());
      if (events < 1 || events > static_cast<std::int64_t>(energies.size()))
        throw core::UsageError(core::describe("--events " + std::to_string(events) + " but '" + request.energies_file +
                                                  "' holds " + std::to_string(energies.size()) + " incident energies",
                                              "qvae generate --energies", "ask for at most that many events"));
      energies.resize(static_cast<std::size_t>(events));
      if (geometry.voxels() != reader.geometry().voxels())
        core::log::warn_root("the energies file has ", reader.geometry().name(), " showers, the model generates ",
                             geometry.name());
    });
  } else {
    // Log-uniform in [e_min, e_max], keyed by (seed, event).
    energies.resize(static_cast<std::size_t>(events));
    const double ratio = std::log(request.e_max / request.e_min);
    for (std::int64_t e = 0; e < events; ++e) {
      core::Philox rng(request.seed, core::stream_id(kGeneratedEnergyDomain, static_cast<std::uint64_t>(e)));
      energies[static_cast<std::size_t>(e)] = request.e_min * std::exp(ratio * rng.uniform());
    }
  }

  // Fixed global chunks spread over ranks: the same computation for any rank count.
  const std::int64_t chunk = request.chunk_events;
  const std::int64_t chunks = (events + chunk - 1) / chunk;
  const par::Block mine = par::block_partition(chunks, comm.rank(), comm.size());
  const std::int64_t steps = comm.max(mine.count);
  const std::int64_t my_end = std::min(events, mine.end() * chunk);
  std::optional<data::CaloWriter> writer;
  par::run_agreed(comm, [&] { writer.emplace(request.out, comm, geometry, events, request.provenance); });
  const core::Stopwatch start;
  for (std::int64_t s = 0; s < steps; ++s) {
    data::ShowerBlock block;
    block.voxels = geometry.voxels();
    block.first_event = my_end;
    par::run_agreed(comm, [&] {
      if (s >= mine.count) return;
      const std::int64_t first = (mine.offset + s) * chunk;
      const std::int64_t count = std::min(chunk, events - first);
      const std::vector<double> chunk_energies(energies.begin() + first, energies.begin() + first + count);
      block = qvae->generate(chunk_energies, request.seed, first, request.gibbs_sweeps);
    });
    writer->write(block);
    if (request.on_progress) request.on_progress(events * (s + 1) / steps, events);
  }
  writer->commit();
  result.seconds = comm.max(start.seconds());
  result.out = request.out;
  result.geometry = geometry.name();
  result.model = model_path;
  result.events = events;
  return result;
}

}  // namespace qvae::train
