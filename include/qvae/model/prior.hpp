// The Boltzmann-machine prior as the QVAE sees it (docs/rbm.md;
// training: docs/model.md; buffers: docs/architecture.md, "RBM parameters").
//
// Latent layout: latent column k*n + i is node partition_nodes(k)[i] of the
// machine (n nodes per partition, K partitions), the column order of the
// encoder/decoder latent vector.  The parameters are float64 tensors viewing
// the machine's own buffers (no copy): gradients computed through them belong
// to the numbers the Gibbs sampler reads, and an in-place update (optimiser
// step, centred update) is what the next sample() uses.  Couplings are sparse:
// one weight per coupler (i, j) between different partitions.
//
// Energy in 0/1 units: E(z) = -sum_i b_i z_i - sum_(i,j) w_ij z_i z_j.  The
// conditional model (partition 0 clamped to the energy code) drops b_0.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "qvae/model/config.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::model {

/// What a block-Gibbs run needs besides the initial states.
struct GibbsRequest {
  int sweeps = 1;
  bool clamp_partition0 = false;  ///< partition 0 keeps its initial values
  std::uint64_t seed = 0;
  std::int64_t first_chain = 0;  ///< row b is chain first_chain + b (its Philox stream)
  std::int64_t first_sweep = 0;  ///< sweep counter of every chain's first sweep
};

/// Ascent direction for the RBM parameters (the centred gradient), float64,
/// in the machine's order (the order of biases() and weights()).
struct PriorGradient {
  torch::Tensor biases;   ///< (N)
  torch::Tensor weights;  ///< (E)
};

/// The prior of the QVAE: a K-partite rbm::BoltzmannMachine with n nodes in
/// every partition, its parameters as LibTorch views, and the sparse Kokkos
/// block-Gibbs sampler (one per seed, created on first use).  It holds Kokkos
/// views: destroy it (and the Qvae holding it) before Kokkos finalizes
/// (par::Environment's destructor).
class Prior {
 public:
  /// Takes the machine over.  UsageError unless every partition has the same
  /// number of nodes.
  explicit Prior(rbm::BoltzmannMachine machine);
  Prior(const Prior&) = delete;
  Prior& operator=(const Prior&) = delete;
  ~Prior();

  int partitions() const { return partitions_; }
  int nodes_per_partition() const { return nodes_per_partition_; }
  std::int64_t nodes() const { return static_cast<std::int64_t>(partitions_) * nodes_per_partition_; }
  std::int64_t couplers() const { return edge_first_.size(0); }
  /// Coupler endpoints in latent order, (E) int64 each (coupler e = weights()[e]).
  const torch::Tensor& edge_first() const { return edge_first_; }
  const torch::Tensor& edge_second() const { return edge_second_; }

  /// (N) and (E) float64 views of the machine's parameter buffers (no copy,
  /// rbm::biases_tensor / weights_tensor): the tensors the QVAE differentiates
  /// and updates are the numbers the sampler reads.
  const torch::Tensor& biases() const { return biases_; }
  const torch::Tensor& weights() const { return weights_; }
  rbm::BoltzmannMachine& machine() { return *machine_; }
  const rbm::BoltzmannMachine& machine() const { return *machine_; }

  /// Where sample() runs its chains: "cpu" (the sparse Kokkos sampler, the
  /// default) or a GPU ("cuda:<i>": the dense LibTorch sampler on it, drawing
  /// the same uniforms).  The parameters stay on the host either way.
  void set_sampling_device(const std::string& device);
  const std::string& sampling_device() const { return sampling_device_; }

  /// Block Gibbs on the sampling device from `initial` ((B, N) latent order,
  /// values 0/1, any dtype): every sweep resamples partitions 0..K-1 in order
  /// (0 skipped when clamped), each given the others.  Chain b is chain
  /// first_chain + b of the sampler's Philox streams at sweep counter
  /// first_sweep, so results do not depend on how chains are split.  Returns
  /// (B, N) float64 states, detached.  Reads the parameters at the call (the
  /// sampler's copy is refreshed) and never writes them.
  torch::Tensor sample(const torch::Tensor& initial, const GibbsRequest& request);

  /// A short description of the machine ("pegasus ..., 4 x 302, 8312 couplers").
  std::string description() const;

  /// E(z) per row, (B), in z's dtype and on z's device: -sum b z - sum_couplers w z_i z_j, without
  /// the partition-0 biases when `drop_partition0_bias` (the conditional model).
  /// Differentiable in z and, when they require grad, in biases() and weights().
  torch::Tensor energy(const torch::Tensor& z, bool drop_partition0_bias) const;

  /// Centred gradient (docs/model.md): g_w = Cov_data(z_i, z_j) -
  /// Cov_model(z_i, z_j) on the couplers (N - 1 normalisation, as torch.cov);
  /// g_b = (mu_d - mu_m) - 1/2 sum_j g_w_ij (mu_d,j + mu_m,j), means clamped to
  /// [c, 1 - c].  data (B1, N) and model (B2, N) in latent order.
  PriorGradient centred_gradient(const torch::Tensor& data, const torch::Tensor& model, double mean_clamp) const;

 private:
  std::unique_ptr<rbm::BoltzmannMachine> machine_;
  int partitions_ = 0;
  int nodes_per_partition_ = 0;
  torch::Tensor biases_, weights_;
  torch::Tensor edge_first_, edge_second_;
  torch::Tensor node_of_latent_;  ///< (N) int64: machine node of latent column j
  torch::Tensor latent_of_node_;  ///< (N) int64: the inverse
  bool identity_order_ = true;    ///< latent order == node order
  std::map<std::uint64_t, std::unique_ptr<rbm::Sampler>> samplers_;
  std::string sampling_device_ = "cpu";
};

/// A machine of `partitions` x `nodes_per_partition` nodes (numbered partition by
/// partition) whose couplers join every pair of nodes in different partitions with
/// probability `density`, parameters N(0, sigma^2) keyed by `seed`: small priors
/// for tests and demos without a hardware graph.
rbm::BoltzmannMachine random_machine(int partitions, int nodes_per_partition, double density, std::uint64_t seed,
                                     double weight_sigma, double bias_sigma);

/// The prior a config asks for: the qvae-rbm file rbm.file (read collectively
/// over `comm`), else a fresh machine on the rbm.topology graph (rbm.graph_size,
/// rbm.graph_t, rbm.scheme) with rbm.nodes_per_partition nodes per partition and
/// N(0, sigma^2) parameters (rbm.init_*_sigma) keyed by `seed`.  UsageError when
/// the machine does not match rbm.partitions / rbm.nodes_per_partition.
std::shared_ptr<Prior> make_prior(const ModelConfig& config, std::uint64_t seed, const par::Communicator& comm);

}  // namespace qvae::model
