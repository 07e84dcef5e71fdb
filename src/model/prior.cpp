// The Boltzmann-machine prior of the QVAE on top of qvae::rbm: latent layout,
// energy and centred gradient on the sparse couplers (docs/model.md), Kokkos
// block Gibbs, and make_prior().
#include "qvae/model/prior.hpp"

#include <algorithm>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/torch_sampler.hpp"
#include "qvae/rbm/torch_tensors.hpp"

namespace qvae::model {

namespace {

/// Philox domain of random_machine's couplers.
constexpr std::uint32_t kRandomCouplerDomain = 0x6D10;

}  // namespace

Prior::Prior(rbm::BoltzmannMachine machine)
    : machine_(std::make_unique<rbm::BoltzmannMachine>(std::move(machine))), partitions_(machine_->partitions()) {
  const rbm::BoltzmannMachine& m = *machine_;
  nodes_per_partition_ = static_cast<int>(m.partition_size(0));
  for (int p = 0; p < partitions_; ++p)
    if (m.partition_size(p) != nodes_per_partition_)
      throw core::UsageError(core::describe("the QVAE prior needs equal partitions, but partition " +
                                                std::to_string(p) + " has " + std::to_string(m.partition_size(p)) +
                                                " nodes and partition 0 " + std::to_string(nodes_per_partition_),
                                            "", "build the RBM with the same number of nodes in every partition"));
  node_of_latent_ = torch::empty({nodes()}, torch::kLong);
  latent_of_node_ = torch::empty({nodes()}, torch::kLong);
  std::int64_t* node_of = node_of_latent_.data_ptr<std::int64_t>();
  std::int64_t* latent_of = latent_of_node_.data_ptr<std::int64_t>();
  for (int p = 0; p < partitions_; ++p)
    for (int k = 0; k < nodes_per_partition_; ++k) {
      const std::int64_t latent = static_cast<std::int64_t>(p) * nodes_per_partition_ + k;
      const std::int64_t node = m.partition_nodes(p)[static_cast<std::size_t>(k)];
      node_of[latent] = node;
      latent_of[node] = latent;
      identity_order_ = identity_order_ && node == latent;
    }
  edge_first_ = torch::empty({m.num_couplers()}, torch::kLong);
  edge_second_ = torch::empty({m.num_couplers()}, torch::kLong);
  for (std::int64_t e = 0; e < m.num_couplers(); ++e) {
    edge_first_.data_ptr<std::int64_t>()[e] = latent_of[m.couplers()[static_cast<std::size_t>(e)].first];
    edge_second_.data_ptr<std::int64_t>()[e] = latent_of[m.couplers()[static_cast<std::size_t>(e)].second];
  }
  biases_ = rbm::biases_tensor(*machine_);
  weights_ = rbm::weights_tensor(*machine_);
}

Prior::~Prior() = default;

torch::Tensor Prior::energy(const torch::Tensor& z, bool drop_partition0_bias) const {
  TORCH_CHECK(z.dim() == 2 && z.size(1) == nodes(), "Prior::energy expects (B, ", nodes(), "), got ", z.sizes());
  const torch::Tensor states = z.to(torch::kDouble);
  // The parameters live on the host; on another device they are copied to z's
  // (a differentiable copy: autograd still reaches the host tensors).
  const torch::Device device = z.device();
  const torch::Tensor b = (identity_order_ ? biases_ : biases_.index_select(0, node_of_latent_)).to(device);
  const std::int64_t skip = drop_partition0_bias ? nodes_per_partition_ : 0;
  const torch::Tensor linear = states.slice(1, skip).matmul(b.slice(0, skip));
  const torch::Tensor pairs =
      states.index_select(1, edge_first_.to(device)) * states.index_select(1, edge_second_.to(device));
  return (-linear - pairs.matmul(weights_.to(device))).to(z.scalar_type());
}

PriorGradient Prior::centred_gradient(const torch::Tensor& data, const torch::Tensor& model, double mean_clamp) const {
  torch::NoGradGuard no_grad;
  auto coupler_covariance = [&](const torch::Tensor& states) {
    const torch::Tensor centred = states - states.mean(0, true);
    const double normaliser = static_cast<double>(std::max<std::int64_t>(states.size(0) - 1, 1));
    return (centred.index_select(1, edge_first_) * centred.index_select(1, edge_second_)).sum(0) / normaliser;
  };
  const torch::Tensor d = data.to(torch::kCPU, torch::kDouble), m = model.to(torch::kCPU, torch::kDouble);
  PriorGradient gradient;
  gradient.weights = coupler_covariance(d) - coupler_covariance(m);
  const torch::Tensor mean_data = d.mean(0).clamp(mean_clamp, 1 - mean_clamp);
  const torch::Tensor mean_model = m.mean(0).clamp(mean_clamp, 1 - mean_clamp);
  const torch::Tensor offset = mean_data + mean_model;
  // g_b_i = (mu_d - mu_m)_i - 1/2 sum_j g_w_ij (mu_d + mu_m)_j, over both ends of every coupler.
  torch::Tensor coupling = torch::zeros_like(offset);
  coupling.index_add_(0, edge_first_, gradient.weights * offset.index_select(0, edge_second_));
  coupling.index_add_(0, edge_second_, gradient.weights * offset.index_select(0, edge_first_));
  const torch::Tensor latent_biases = (mean_data - mean_model) - 0.5 * coupling;
  gradient.biases = identity_order_ ? latent_biases : latent_biases.index_select(0, latent_of_node_);
  return gradient;
}

torch::Tensor Prior::sample(const torch::Tensor& initial, const GibbsRequest& request) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(initial.dim() == 2 && initial.size(1) == nodes(), "Prior::sample expects (B, ", nodes(), ")");
  const std::int64_t batch = initial.size(0);
  const std::int64_t units = nodes();
  // Latent order -> the machine's node order, as bytes.
  torch::Tensor node_states = (initial.detach().to(torch::kCPU) > 0.5).to(torch::kUInt8);
  if (!identity_order_) node_states = node_states.index_select(1, latent_of_node_);
  node_states = node_states.contiguous();

  constexpr std::size_t kMaxSamplers = 4;  // one per seed in use (training, generation, ...)
  if (samplers_.size() >= kMaxSamplers && samplers_.count(request.seed) == 0) samplers_.clear();
  auto& sampler = samplers_[request.seed];
  if (!sampler) {
    const rbm::SamplerSettings settings{request.seed, 1.0, rbm::BetaScope::couplings};
    sampler = sampling_device_ == "cpu" ? rbm::make_kokkos_sampler(*machine_, settings)
                                        : rbm::make_torch_sampler_on(sampling_device_, *machine_, settings);
  }
  sampler->refresh_parameters();
  rbm::ChainBlock chains;
  chains.first_chain = request.first_chain;
  chains.count = batch;
  chains.units = units;
  chains.states.assign(node_states.data_ptr<std::uint8_t>(), node_states.data_ptr<std::uint8_t>() + batch * units);
  chains.sweeps.assign(static_cast<std::size_t>(batch), request.first_sweep);
  sampler->clear_clamp();
  sampler->set_chains(chains);
  if (request.clamp_partition0) {
    rbm::Clamp clamp;
    clamp.partitions = {0};
    clamp.rows = batch;
    const torch::Tensor values =
        (initial.detach().to(torch::kCPU).slice(1, 0, nodes_per_partition_) > 0.5).to(torch::kUInt8).contiguous();
    clamp.values.assign(values.data_ptr<std::uint8_t>(), values.data_ptr<std::uint8_t>() + values.numel());
    sampler->set_clamp(std::move(clamp));
  }
  sampler->sweep(request.sweeps);
  const rbm::ChainBlock result = sampler->chains();
  torch::Tensor out = torch::from_blob(const_cast<std::uint8_t*>(result.states.data()), {batch, units}, torch::kUInt8)
                          .to(torch::kDouble);
  return identity_order_ ? out : out.index_select(1, node_of_latent_);
}

void Prior::set_sampling_device(const std::string& device) {
  if (device == sampling_device_) return;
  samplers_.clear();
  sampling_device_ = device;
}

std::string Prior::description() const {
  std::ostringstream os;
  const auto& g = machine_->graph();
  os << (g.description.empty() ? g.topology : g.description) << ", " << partitions_ << " x " << nodes_per_partition_
     << " nodes, " << couplers() << " couplers, "
     << (sampling_device_ == "cpu" ? std::string("Kokkos block Gibbs")
                                   : "dense LibTorch block Gibbs on " + sampling_device_);
  return os.str();
}

rbm::BoltzmannMachine random_machine(int partitions, int nodes_per_partition, double density, std::uint64_t seed,
                                     double weight_sigma, double bias_sigma) {
  graph::PartitionedGraph graph;
  graph.topology = "random";
  graph.description = "random " + std::to_string(partitions) + "-partite couplers, density " + std::to_string(density);
  graph.partitions = partitions;
  const std::int64_t total = static_cast<std::int64_t>(partitions) * nodes_per_partition;
  for (std::int64_t i = 0; i < total; ++i) {
    graph.partition.push_back(static_cast<int>(i / nodes_per_partition));
    graph.qubits.push_back(i);
  }
  core::Philox rng(seed, core::stream_id(kRandomCouplerDomain, 0));
  for (std::int64_t i = 0; i < total; ++i)
    for (std::int64_t j = (i / nodes_per_partition + 1) * nodes_per_partition; j < total; ++j)
      if (rng.uniform() < density) graph.couplers.emplace_back(i, j);
  rbm::BoltzmannMachine machine(std::move(graph), "random_machine");
  machine.init_normal(1.0, seed);
  for (std::int64_t i = 0; i < machine.num_nodes(); ++i) machine.biases()[i] *= bias_sigma;
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] *= weight_sigma;
  return machine;
}

std::shared_ptr<Prior> make_prior(const ModelConfig& config, std::uint64_t seed, const par::Communicator& comm) {
  const PriorConfig& r = config.rbm;
  std::shared_ptr<Prior> prior;
  if (!r.file.empty()) {
    prior = std::make_shared<Prior>(rbm::read_rbm(r.file, comm));
  } else {
    graph::SelectionRequest request;
    request.topology = r.topology;
    request.size = r.graph_size;
    request.t = r.graph_t;
    request.nodes_per_partition = r.nodes_per_partition;
    request.scheme = r.scheme == "default" ? std::string() : r.scheme;
    rbm::BoltzmannMachine machine(graph::select_partitioned(request), "rbm." + r.topology + " selection");
    // N(0, 1) keyed by (seed, parameter), then scaled: biases and couplings have their own sigma.
    machine.init_normal(1.0, seed);
    for (std::int64_t i = 0; i < machine.num_nodes(); ++i) machine.biases()[i] *= r.init_bias_sigma;
    for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] *= r.init_weight_sigma;
    prior = std::make_shared<Prior>(std::move(machine));
  }
  if (prior->partitions() != r.partitions || prior->nodes_per_partition() != r.nodes_per_partition)
    throw core::UsageError(core::describe(
        "the RBM has " + std::to_string(prior->partitions()) + " partitions of " +
            std::to_string(prior->nodes_per_partition()) + " nodes, the config asks for " +
            std::to_string(r.partitions) + " of " + std::to_string(r.nodes_per_partition),
        r.file.empty() ? std::string() : r.file, "set rbm.partitions and rbm.nodes_per_partition to match"));
  return prior;
}

}  // namespace qvae::model
