#include "qvae/train/model_exports.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "qvae/core/error.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/train/trained_model.hpp"

namespace qvae::train {

std::string checkpoint_path(const std::string& model_or_run_dir) {
  namespace fs = std::filesystem;
  return fs::is_directory(model_or_run_dir) ? (fs::path(model_or_run_dir) / "best.h5").string() : model_or_run_dir;
}

rbm::BoltzmannMachine trained_prior(const std::string& model_or_run_dir, const core::ConfigSchema& schema,
                                    const par::Communicator& comm) {
  TrainedModel trained = load_trained_model(model_or_run_dir, schema, comm);
  return trained.qvae->prior().machine();  // a copy: the model (and its Kokkos views) goes away here
}

EncodeResult encode_latents(const EncodeRequest& request, const core::ConfigSchema& schema,
                            const par::Communicator& comm) {
  const std::string where = "qvae encode";
  const std::string model_path = checkpoint_path(request.model);
  par::run_agreed(comm, [&] {
    if (request.chunk_events < 1) throw core::UsageError(core::describe("--chunk-events must be >= 1", where));
    if (request.events == 0 || request.events < -1)
      throw core::UsageError(core::describe("--events must be >= 1", where));
    io::refuse_overwriting_inputs(request.out, {model_path, request.data});
  });
  TrainedModel trained = load_trained_model(model_path, schema, comm, request.device);
  model::Qvae& qvae = trained.qvae;
  std::optional<data::CaloReader> reader;
  par::run_agreed(comm, [&] {
    reader.emplace(request.data, comm);
    if (reader->geometry().voxels() != trained.geometry.voxels())
      throw core::InputError(core::describe("the showers have " + std::to_string(reader->geometry().voxels()) +
                                                " voxels (" + reader->geometry().name() + "), the model expects " +
                                                std::to_string(trained.geometry.voxels()) + " (" +
                                                trained.geometry.name() + ")",
                                            "file '" + request.data + "'", "encode showers of the model's geometry"));
    if (request.events > reader->events())
      throw core::UsageError(core::describe(
          "--events " + std::to_string(request.events) + " but the file holds " + std::to_string(reader->events()),
          where, "ask for at most that many"));
  });
  const std::int64_t events = request.events < 0 ? reader->events() : request.events;

  // Latent column k*n + i is machine node partition_nodes(k)[i] (prior.hpp).
  model::Prior& prior = qvae->prior();
  const rbm::BoltzmannMachine& machine = prior.machine();
  std::vector<std::int64_t> node_of_latent;
  for (int k = 0; k < machine.partitions(); ++k)
    for (std::int64_t node : machine.partition_nodes(k)) node_of_latent.push_back(node);
  const auto nodes = static_cast<std::int64_t>(node_of_latent.size());
  const torch::Tensor node_index = torch::tensor(node_of_latent, torch::kLong);

  const par::Block mine = par::block_partition(events, comm.rank(), comm.size());
  const par::CollectiveChunks chunks(mine, request.chunk_events, comm);
  const std::int64_t steps = chunks.steps();
  std::vector<std::uint8_t> latents(static_cast<std::size_t>(mine.count * nodes));
  std::vector<double> energies(static_cast<std::size_t>(mine.count)), incident(static_cast<std::size_t>(mine.count));
  torch::NoGradGuard no_grad;
  const core::Stopwatch start;
  for (std::int64_t s = 0; s < steps; ++s) {
    // Every rank reads in every step (the read is collective); a finished rank reads nothing.
    const par::Block rows = chunks[s];
    const std::int64_t first = rows.offset - mine.offset;  // this rank's local row
    data::ShowerBlock block;
    par::run_agreed(comm, [&] { block = reader->read_checked(rows); });
    if (rows.count == 0) {
      if (request.on_progress) request.on_progress(events * (s + 1) / steps, events);
      continue;
    }
    const torch::Tensor incident_energies = model::QvaeImpl::energies_of(block);
    model::StepSettings settings;
    settings.noise =
        model::NoiseKeys{request.seed, 0, torch::arange(rows.offset, rows.end(), torch::kLong), rows.offset};
    const model::ForwardOutput output = qvae->forward(qvae->reduce(block), incident_energies, settings);
    const torch::Tensor z = output.posterior_samples.to(torch::kCPU, torch::kDouble);
    torch::Tensor by_node = torch::zeros({rows.count, nodes}, torch::kUInt8);
    by_node.index_copy_(1, node_index, z.to(torch::kUInt8));
    by_node = by_node.contiguous();
    std::copy_n(by_node.data_ptr<std::uint8_t>(), rows.count * nodes, latents.begin() + first * nodes);
    // E(z) of the full model (partition-0 biases included), as `qvae ll` uses it;
    // row by row in the machine's order, so no batched sum depends on the chunking.
    for (std::int64_t r = 0; r < rows.count; ++r)
      energies[static_cast<std::size_t>(first + r)] =
          machine.energy(&latents[static_cast<std::size_t>((first + r) * nodes)]);
    std::copy_n(incident_energies.contiguous().data_ptr<double>(), rows.count, incident.begin() + first);
    if (request.on_progress) request.on_progress(events * (s + 1) / steps, events);
  }
  const double seconds = comm.max(start.seconds());

  par::run_agreed(comm, [&] {
    io::OutputFile file = io::OutputFile::create(request.out, comm);
    io::set_format(file, kLatentsFormat, kLatentsFormatVersion);
    io::write_provenance(file, request.provenance);
    io::set_attribute(file, "/", "model", model_path);
    io::set_attribute(file, "/", "data", request.data);
    io::write_rows<std::uint8_t>(file, "latents", latents.data(), mine.count, nodes);
    io::write_rows<double>(file, "energies", energies.data(), mine.count, 0);
    io::write_rows<double>(file, "incident_energies", incident.data(), mine.count, 1);
    file.commit();
  });
  double sum = 0;
  for (double e : energies) sum += e;
  EncodeResult result;
  result.out = request.out;
  result.model = model_path;
  result.events = events;
  result.nodes = nodes;
  result.mean_energy = comm.sum(sum) / static_cast<double>(events);
  result.seconds = seconds;
  return result;
}

}  // namespace qvae::train
