// Model-side inputs of `qvae evaluate --model --data`: sampled encoding,
// reconstruction and prior chains of a trained QVAE (see model_metrics.hpp).
#include "qvae/train/model_metrics.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <optional>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/model/relaxation.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/train/model_exports.hpp"
#include "qvae/train/trained_model.hpp"

namespace qvae::train {
namespace {

const char* const kWhere = "qvae evaluate --model";

/// The chunks of [0, total) in steps of `chunk` that this rank computes: a
/// contiguous block of the global chunk list, the same list for any rank count.
struct ChunkPlan {
  std::int64_t total = 0, chunk = 1;
  par::Block chunks;       ///< this rank's chunk indices
  std::int64_t steps = 0;  ///< the largest number of chunks of any rank (collective reads)
  par::Block rows(std::int64_t step) const {
    if (step >= chunks.count) return {std::min(total, chunks.end() * chunk), 0};
    const std::int64_t first = (chunks.offset + step) * chunk;
    return {first, std::min(chunk, total - first)};
  }
};

ChunkPlan plan_chunks(std::int64_t total, std::int64_t chunk, const par::Communicator& comm) {
  ChunkPlan plan;
  plan.total = total;
  plan.chunk = chunk;
  plan.chunks = par::block_partition((total + chunk - 1) / chunk, comm.rank(), comm.size());
  plan.steps = comm.max(plan.chunks.count);
  return plan;
}

/// E(z) of each row of `latent` ((B, N) 0/1, latent order), row by row in the
/// machine's node order: the full model's energy, as `qvae encode` and `qvae ll` use it.
void append_energies(const torch::Tensor& latent, const torch::Tensor& node_of_latent,
                     const rbm::BoltzmannMachine& machine, std::vector<double>& out) {
  const std::int64_t rows = latent.size(0), nodes = latent.size(1);
  torch::Tensor by_node = torch::zeros({rows, nodes}, torch::kUInt8);
  by_node.index_copy_(1, node_of_latent, (latent.to(torch::kCPU) > 0.5).to(torch::kUInt8));
  by_node = by_node.contiguous();
  const std::uint8_t* states = by_node.data_ptr<std::uint8_t>();
  for (std::int64_t r = 0; r < rows; ++r) out.push_back(machine.energy(states + r * nodes));
}

/// Seed of the evaluation's sampler: apart from those of training and generation.
std::uint64_t evaluation_seed(std::uint64_t seed) {
  return seed ^ (static_cast<std::uint64_t>(kEvaluationPriorDomain) * 0x9E3779B97F4A7C15ull);
}

}  // namespace

ShowerError shower_error(const float* data, const float* reconstruction, std::int64_t voxels) {
  ShowerError e;
  double squares = 0;
  for (std::int64_t v = 0; v < voxels; ++v) {
    const double x = data[v], y = reconstruction[v];
    e.etot_data += x;
    e.etot_reconstruction += y;
    squares += (y - x) * (y - x);
  }
  e.squared_error = voxels > 0 ? squares / static_cast<double>(voxels) : 0.0;
  return e;
}

ModelMetricsSamples compute_model_metrics(const ModelMetricsRequest& request, const core::ConfigSchema& schema,
                                          const par::Communicator& comm) {
  par::run_agreed(comm, [&] {
    if (request.model.empty() || request.data.empty())
      throw core::UsageError(
          core::describe("--model and --data go together", kWhere, "pass both: --model RUN/best.h5 --data SHOWERS.h5"));
    if (request.chunk_events < 1) throw core::UsageError(core::describe("--model-chunk-events must be >= 1", kWhere));
    if (request.gibbs_sweeps < 1) throw core::UsageError(core::describe("--gibbs-sweeps must be >= 1", kWhere));
    if (request.events == 0 || request.events < -1)
      throw core::UsageError(core::describe("--data-events must be >= 1", kWhere, "omit it to encode every shower"));
    if (request.chains == 0 || request.chains < -1)
      throw core::UsageError(core::describe("--gibbs-chains must be >= 1", kWhere, "omit it for one chain per shower"));
  });
  if (request.threads > 0) torch::set_num_threads(request.threads);
  const std::string model_path = checkpoint_path(request.model);
  TrainedModel trained = load_trained_model(model_path, schema, comm, request.device);
  model::Qvae& qvae = trained.qvae;
  const model::ModelConfig& config = qvae->config();
  std::optional<data::CaloReader> reader;
  par::run_agreed(comm, [&] {
    reader.emplace(request.data, comm);
    const geometry::Geometry& found = reader->geometry();
    if (found.name() != trained.geometry.name() || found.voxels() != trained.geometry.voxels())
      throw core::InputError(
          core::describe("the data are " + found.name() + " showers (" + std::to_string(found.voxels()) +
                             " voxels), the model is for " + trained.geometry.name() + " (" +
                             std::to_string(trained.geometry.voxels()) + " voxels)",
                         "file '" + request.data + "'", "evaluate the model on showers of its own geometry"));
    if (request.events > reader->events())
      throw core::UsageError(core::describe(
          "--data-events " + std::to_string(request.events) + " but the file holds " + std::to_string(reader->events()),
          kWhere, "ask for at most that many"));
  });

  ModelMetricsSamples out;
  out.model_path = model_path;
  out.geometry = trained.geometry.name();
  out.partition0_clamped = config.prior_conditioning == model::PriorConditioning::clamped;
  out.events = request.events < 0 ? reader->events() : request.events;
  const std::int64_t chains = request.chains < 0 ? out.events : request.chains;
  const std::int64_t voxels = trained.geometry.voxels();

  // Latent column k*n + i is machine node partition_nodes(k)[i] (prior.hpp).
  model::Prior& prior = qvae->prior();
  const rbm::BoltzmannMachine& machine = prior.machine();
  std::vector<std::int64_t> node_of_latent;
  for (int k = 0; k < machine.partitions(); ++k)
    for (std::int64_t node : machine.partition_nodes(k)) node_of_latent.push_back(node);
  const torch::Tensor node_index = torch::tensor(node_of_latent, torch::kLong);
  out.latent_nodes = static_cast<std::int64_t>(node_of_latent.size());

  torch::NoGradGuard no_grad;

  // Pass 1: encode and reconstruct this rank's chunks of showers.
  std::vector<double> incident, encoded, etot_data, etot_reconstruction, squared_error;
  const auto encode_and_reconstruct = [&](const data::ShowerBlock& block) {
    const torch::Tensor energies = model::QvaeImpl::energies_of(block);
    const torch::Tensor reduced = qvae->reduce(block);
    // Posterior samples z ~ Bernoulli(sigmoid(l)) and Bernoulli hits, keyed by (seed, event):
    // the codes the prior was trained on, and the decoder's generation rule.
    const torch::Tensor events = torch::arange(block.first_event, block.first_event + block.events(), torch::kLong);
    const model::ForwardOutput encoded_output =
        qvae->forward(reduced, energies, model::StepSettings{1.0, 0.0, model::NoiseKeys{request.seed, 0, events, 0}});
    append_energies(encoded_output.posterior_samples, node_index, machine, encoded);
    const torch::Tensor& reconstruction = encoded_output.reconstruction;
    const torch::Tensor& layer_logits = encoded_output.layer_logits;
    std::vector<float> reconstruction_mev(static_cast<std::size_t>(block.events() * voxels));
    qvae->decode_to_mev(reconstruction, layer_logits, block.incident_energies, reconstruction_mev.data());
    for (std::int64_t b = 0; b < block.events(); ++b) {
      const double incident_energy = block.incident_energies[static_cast<std::size_t>(b)];
      const ShowerError e = shower_error(block.shower(b), reconstruction_mev.data() + b * voxels, voxels);
      incident.push_back(incident_energy);
      etot_data.push_back(e.etot_data);
      etot_reconstruction.push_back(e.etot_reconstruction);
      squared_error.push_back(e.squared_error);
    }
  };
  const ChunkPlan shower_chunks = plan_chunks(out.events, request.chunk_events, comm);
  core::Stopwatch start;
  for (std::int64_t s = 0; s < shower_chunks.steps; ++s) {
    data::ShowerBlock block;
    par::run_agreed(comm, [&] { block = reader->read_checked(shower_chunks.rows(s)); });  // collective, also for 0 rows
    par::run_agreed(comm, [&] {
      if (block.events() > 0) encode_and_reconstruct(block);
    });
  }
  out.seconds_encode = comm.max(start.seconds());
  reader.reset();
  out.incident_energies = comm.allgather_blocks(incident);
  out.encoded_energies = comm.allgather_blocks(encoded);
  out.etot_data = comm.allgather_blocks(etot_data);
  out.etot_reconstruction = comm.allgather_blocks(etot_reconstruction);
  out.squared_error = comm.allgather_blocks(squared_error);

  // Pass 2: Gibbs chains of the prior from random starts, partition 0 clamped
  // to shower (c mod N)'s code when the prior is conditioned.
  const int nodes_per_partition = config.rbm.nodes_per_partition;
  const std::uint64_t sampler_seed = evaluation_seed(request.seed);
  std::vector<double> gibbs;
  const ChunkPlan chain_chunks = plan_chunks(chains, request.chunk_events, comm);
  start.restart();
  par::run_agreed(comm, [&] {
    for (std::int64_t s = 0; s < chain_chunks.chunks.count; ++s) {
      const par::Block rows = chain_chunks.rows(s);
      const torch::Tensor chain_ids = torch::arange(rows.offset, rows.end(), torch::kLong);
      const torch::Tensor uniforms =
          model::philox_uniform(sampler_seed, kEvaluationPriorDomain, chain_ids, 0, prior.nodes(), torch::kDouble);
      torch::Tensor initial = (uniforms < 0.5).to(torch::kDouble);
      if (out.partition0_clamped) {
        std::vector<double> clamp_energies;
        for (std::int64_t c = rows.offset; c < rows.end(); ++c)
          clamp_energies.push_back(out.incident_energies[static_cast<std::size_t>(c % out.events)]);
        initial.slice(1, 0, nodes_per_partition)
            .copy_(qvae->energy_code(torch::tensor(clamp_energies, torch::kDouble), torch::kDouble));
      }
      model::GibbsRequest gibbs_request;
      gibbs_request.sweeps = request.gibbs_sweeps;
      gibbs_request.clamp_partition0 = out.partition0_clamped;
      gibbs_request.seed = sampler_seed;
      gibbs_request.first_chain = rows.offset;
      gibbs_request.first_sweep = 0;
      append_energies(prior.sample(initial, gibbs_request), node_index, machine, gibbs);
    }
  });
  out.seconds_gibbs = comm.max(start.seconds());
  out.gibbs_energies = comm.allgather_blocks(gibbs);
  core::log::info_root("evaluate --model: ", out.events, " showers encoded and reconstructed in ", out.seconds_encode,
                       " s; ", chains, " Gibbs chains x ", request.gibbs_sweeps, " sweeps in ", out.seconds_gibbs,
                       " s");
  return out;
}

}  // namespace qvae::train
