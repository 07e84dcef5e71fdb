#include "qvae/rbm/torch_sampler.hpp"

#include <algorithm>

#include "qvae/rbm/torch_tensors.hpp"

// OpenBLAS exports this; weak, so other BLAS builds still link (then it is null).
extern "C" void openblas_set_num_threads(int threads) __attribute__((weak));

namespace qvae::rbm {
namespace {

/// Chains as dense float32 state blocks per partition (count × n_p), the
/// incoming couplings of each partition as (n_q × n_p) matrices.
class TorchGibbsSampler final : public Sampler {
  /// Uniforms drawn ahead at most (16 MB; a run holds at least one sweep's).
  static constexpr std::int64_t kUniformsPerRun = std::int64_t{1} << 22;

 public:
  TorchGibbsSampler(const BoltzmannMachine& machine, SamplerSettings settings, torch::Device device)
      : Sampler(machine, settings), device_(device) {
    load_parameters();
  }

  std::string backend() const override { return "torch"; }

  MemoryUse memory_use() const override {
    const BoltzmannMachine& model = machine();
    MemoryUse use;
    // State and the uniforms drawn for it, float32, plus the sweep counter.
    use.bytes_per_chain = static_cast<std::int64_t>(2 * model.num_nodes() * sizeof(float) + sizeof(std::int64_t));
    for (const auto& row : incoming_)
      for (const auto& matrix : row)
        if (matrix.defined()) use.model_bytes += matrix.numel() * static_cast<std::int64_t>(sizeof(float));
    for (const auto& bias : bias_) use.model_bytes += bias.numel() * static_cast<std::int64_t>(sizeof(float));
    use.model_bytes += kUniformsPerRun * static_cast<std::int64_t>(sizeof(float));  // a run's uniforms, at most
    return use;
  }

 protected:
  void load_chains(const ChainBlock& chains) override {
    const BoltzmannMachine& model = machine();
    first_chain_ = chains.first_chain;
    sweeps_done_ = chains.sweeps;
    state_.clear();
    for (int p = 0; p < model.partitions(); ++p) {
      const auto& nodes = model.partition_nodes(p);
      torch::Tensor block = torch::empty({chains.count, static_cast<std::int64_t>(nodes.size())}, torch::kFloat32);
      float* out = block.data_ptr<float>();
      for (std::int64_t c = 0; c < chains.count; ++c)
        for (std::size_t k = 0; k < nodes.size(); ++k)
          out[c * static_cast<std::int64_t>(nodes.size()) + static_cast<std::int64_t>(k)] = chains.state(c)[nodes[k]];
      state_.push_back(block.to(device_));
    }
  }

  ChainBlock store_chains() const override {
    const BoltzmannMachine& model = machine();
    ChainBlock chains;
    chains.first_chain = first_chain_;
    chains.count = static_cast<std::int64_t>(sweeps_done_.size());
    chains.units = model.num_nodes();
    chains.sweeps = sweeps_done_;
    chains.states.assign(static_cast<std::size_t>(chains.count * chains.units), 0);
    for (int p = 0; p < model.partitions() && !state_.empty(); ++p) {
      const auto& nodes = model.partition_nodes(p);
      const torch::Tensor block = state_[static_cast<std::size_t>(p)].to(torch::kCPU).contiguous();
      const float* in = block.data_ptr<float>();
      for (std::int64_t c = 0; c < chains.count; ++c)
        for (std::size_t k = 0; k < nodes.size(); ++k)
          chains.state(c)[nodes[k]] =
              in[c * static_cast<std::int64_t>(nodes.size()) + static_cast<std::int64_t>(k)] != 0.0f;
    }
    return chains;
  }

  void load_parameters() override {
    const BoltzmannMachine& model = machine();
    const int k = model.partitions();
    const double beta = settings().beta;
    const double bias_beta = settings().beta_scope == BetaScope::all ? beta : 1.0;
    // The reference masks W on every read; masking once here gives the same matrices.
    const DenseModel dense = to_dense(model, torch::kFloat64);
    bias_.assign(static_cast<std::size_t>(k), {});
    incoming_.assign(static_cast<std::size_t>(k), std::vector<torch::Tensor>(static_cast<std::size_t>(k)));
    for (int p = 0; p < k; ++p)
      bias_[static_cast<std::size_t>(p)] =
          (bias_beta * dense.biases.at(std::to_string(p))).to(device_, torch::kFloat32);
    for (int p = 0; p < k; ++p)
      for (int q = p + 1; q < k; ++q) {
        const std::string key = std::to_string(p) + std::to_string(q);
        const torch::Tensor w = (beta * dense.weights.at(key) * dense.masks.at(key)).to(device_, torch::kFloat32);
        incoming_[static_cast<std::size_t>(q)][static_cast<std::size_t>(p)] =
            w.contiguous();  // z_p · W_pq -> field of q
        incoming_[static_cast<std::size_t>(p)][static_cast<std::size_t>(q)] =
            w.t().contiguous();  // z_q · W_pqᵀ -> field of p
      }
  }

  void run_sweeps(std::int64_t sweeps, const std::vector<std::uint8_t>& sampled) override {
    const BoltzmannMachine& model = machine();
    const int k = model.partitions();
    const std::int64_t count = static_cast<std::int64_t>(sweeps_done_.size());
    if (count == 0) return;
    torch::NoGradGuard no_grad;
    // Uniforms of a run of sweeps, drawn on the host in sweep order and moved
    // to the device in one copy: one transfer per run, not one per partition and sweep.
    const std::int64_t per_sweep = count * model.num_nodes();
    const std::int64_t run = std::max<std::int64_t>(1, std::min<std::int64_t>(sweeps, kUniformsPerRun / per_sweep));
    torch::Tensor host = torch::empty({run * per_sweep}, torch::kFloat32);
    if (device_.is_cuda()) host = host.pin_memory();
    std::vector<std::int64_t> counters = sweeps_done_;
    for (std::int64_t done = 0; done < sweeps; done += run) {
      const std::int64_t these = std::min(run, sweeps - done);
      float* out = host.data_ptr<float>();
      for (std::int64_t sweep = 0; sweep < these; ++sweep) {
        for (int p = 0; p < k; ++p) {
          if (!sampled[static_cast<std::size_t>(p)] || model.partition_size(p) == 0) continue;
          gibbs_uniforms(model, settings().seed, first_chain_, count, counters.data(), p, out);
          out += count * model.partition_size(p);
        }
        for (auto& c : counters) ++c;
      }
      // A blocking copy: the host buffer is refilled right after.
      const torch::Tensor uniforms = device_.is_cpu() ? host : host.to(device_);
      std::int64_t offset = 0;
      for (std::int64_t sweep = 0; sweep < these; ++sweep) {
        for (int p = 0; p < k; ++p) {
          const std::int64_t n = model.partition_size(p);
          if (!sampled[static_cast<std::size_t>(p)] || n == 0) continue;
          torch::Tensor field = bias_[static_cast<std::size_t>(p)].expand({count, n}).clone();
          for (int q = 0; q < k; ++q)
            if (q != p && model.partition_size(q) > 0)
              field.addmm_(state_[static_cast<std::size_t>(q)],
                           incoming_[static_cast<std::size_t>(p)][static_cast<std::size_t>(q)]);
          const torch::Tensor u = uniforms.narrow(0, offset, count * n).view({count, n});
          offset += count * n;
          state_[static_cast<std::size_t>(p)] = u.lt(torch::sigmoid(field)).to(torch::kFloat32);
        }
      }
    }
    sweeps_done_ = std::move(counters);
    if (device_.is_cuda()) torch::cuda::synchronize(device_.index());  // sweep() returns when they are done
  }

 private:
  torch::Device device_;
  std::int64_t first_chain_ = 0;
  std::vector<std::int64_t> sweeps_done_;
  std::vector<torch::Tensor> state_, bias_;
  std::vector<std::vector<torch::Tensor>> incoming_;
};

}  // namespace

std::unique_ptr<Sampler> make_torch_sampler(const BoltzmannMachine& machine, const SamplerSettings& settings) {
  return make_torch_sampler_on("cpu", machine, settings);
}

std::unique_ptr<Sampler> make_torch_sampler_on(const std::string& device, const BoltzmannMachine& machine,
                                               const SamplerSettings& settings) {
  return std::make_unique<TorchGibbsSampler>(machine, settings, torch::Device(device));
}

void limit_torch_threads(int threads) {
  torch::set_num_threads(threads);
  if (openblas_set_num_threads) openblas_set_num_threads(threads);
}

}  // namespace qvae::rbm
