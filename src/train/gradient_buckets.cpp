#include "gradient_buckets.hpp"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "qvae/core/bfloat16.hpp"
#include "qvae/par/pending_sum.hpp"
#include "qvae/train/stability.hpp"

namespace qvae::train {

struct GradientBuckets::State {
  struct Bucket {
    torch::Tensor buffer;                 ///< float32, contiguous, on the parameters' device
    torch::Tensor host;                   ///< the buffer's host copy, for parameters off the CPU
    std::vector<std::int64_t> offsets;    ///< per member, its first element in the buffer
    std::vector<std::size_t> members;     ///< parameter indices, in buffer order
    std::size_t final_count = 0;          ///< members whose gradient is final (armed backward)
    std::vector<std::uint16_t> bfloat16;  ///< the buffer as sent, when the exchange is in bfloat16
    bool in_bfloat16 = false;             ///< a bfloat16 sum started and not yet written back
    par::PendingSum sum;
    /// The values the sum, the norm and the optimiser work on (host memory).
    float* data() { return (host.defined() ? host : buffer).data_ptr<float>(); }
  };

  State(const par::Communicator& communicator, bool compress) : comm(communicator), bfloat16(compress) {}

  par::Communicator comm;
  bool bfloat16 = false;
  std::vector<torch::Tensor> parameters;
  torch::Tensor flat, flat_host;    ///< every bucket's buffer (and host copy), one after the other
  std::vector<const float*> views;  ///< where each parameter's .grad must stay
  std::vector<std::size_t> bucket_of;
  std::vector<char> is_final;  ///< per parameter, this exchange
  std::vector<Bucket> buckets;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  ///< kept alive: they carry the hooks
  std::size_t next = 0;                                              ///< first bucket whose sum has not started
  std::size_t during_backward = 0;
  bool armed = false;
  bool finite = true;
  bool poison = false;
  std::optional<std::size_t> moved;  ///< a parameter whose .grad left its bucket (a bug)

  void reset_exchange() {
    std::fill(is_final.begin(), is_final.end(), 0);
    for (auto& b : buckets) b.final_count = 0;
    next = 0;
    during_backward = 0;
    finite = true;
  }

  void start(Bucket& bucket) {
    torch::NoGradGuard no_grad;
    // Never throws before the sum starts: a rank that skipped one would leave
    // the others' collectives unmatched.  A moved gradient is reported by wait().
    for (std::size_t p : bucket.members) {
      const torch::Tensor& grad = parameters[p].grad();
      if (!grad.defined() || grad.data_ptr<float>() != views[p]) {
        moved = p;
        continue;
      }
      if (poison && p == 0) {
        grad.view(-1)[0].fill_(std::numeric_limits<float>::quiet_NaN());
        poison = false;
      }
    }
    if (bucket.host.defined()) bucket.host.copy_(bucket.buffer);  // from the GPU, before the sum
    const float* values = bucket.data();
    const std::int64_t count = bucket.buffer.numel();
    for (std::int64_t i = 0; i < count && finite; ++i) finite = std::isfinite(values[i]);
    if (comm.size() == 1) return;
    if (!bfloat16) {
      bucket.sum = par::start_sum_in_place(comm, bucket.data(), static_cast<std::size_t>(count));
      return;
    }
    bucket.bfloat16.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i)
      bucket.bfloat16[static_cast<std::size_t>(i)] = core::to_bfloat16(values[i]);
    bucket.in_bfloat16 = true;
    bucket.sum = par::start_bfloat16_sum_in_place(comm, bucket.bfloat16.data(), bucket.bfloat16.size());
  }

  /// Waits for a bucket's sum and, for a bfloat16 one, writes it back into the gradients.
  void finish(Bucket& bucket) {
    bucket.sum.wait();
    if (!bucket.in_bfloat16) return;
    float* values = bucket.data();
    for (std::size_t i = 0; i < bucket.bfloat16.size(); ++i) values[i] = core::from_bfloat16(bucket.bfloat16[i]);
    bucket.in_bfloat16 = false;
  }

  /// Starts every bucket, in order, whose gradients are all final.
  void start_ready() {
    while (next < buckets.size() && buckets[next].final_count == buckets[next].members.size()) {
      start(buckets[next++]);
      ++during_backward;
    }
    for (std::size_t b = 0; b < next; ++b) buckets[b].sum.test();  // let MPI progress the sums in flight
  }

  void on_final(std::size_t p) {
    if (!armed || is_final[p]) return;
    is_final[p] = 1;
    ++buckets[bucket_of[p]].final_count;
    start_ready();
  }
};

GradientBuckets::GradientBuckets(const std::vector<torch::Tensor>& parameters, double bucket_mb, bool bfloat16,
                                 const par::Communicator& comm)
    : state_(std::make_shared<State>(comm, bfloat16)) {
  State& s = *state_;
  s.parameters = parameters;
  const std::size_t n = parameters.size();
  s.views.resize(n);
  s.bucket_of.resize(n);
  s.is_final.assign(n, 0);
  const auto capacity = static_cast<std::int64_t>(std::max(1.0, bucket_mb * 1e6 / sizeof(float)));
  // Reverse parameter order: the last layers' gradients are final first.
  std::vector<std::vector<std::size_t>> groups;
  std::int64_t filled = capacity;
  for (std::size_t k = n; k-- > 0;) {
    const torch::Tensor& p = parameters[k];
    if (p.scalar_type() != torch::kFloat)
      throw std::invalid_argument("GradientBuckets: parameter " + std::to_string(k) + " is not float32");
    if (filled + p.numel() > capacity && filled > 0) {
      groups.emplace_back();
      filled = 0;
    }
    groups.back().push_back(k);
    filled += p.numel();
  }
  torch::NoGradGuard no_grad;
  // One allocation for all buckets, so the flat gradient (and the parameters
  // an optimiser gathers through it) is one contiguous vector.
  std::int64_t flat_size = 0;
  for (const auto& p : parameters) flat_size += p.numel();
  const torch::Device device = n > 0 ? parameters.front().device() : torch::Device(torch::kCPU);
  s.flat = torch::zeros({flat_size}, torch::TensorOptions().dtype(torch::kFloat).device(device));
  if (!device.is_cpu())
    s.flat_host =
        torch::zeros({flat_size}, torch::TensorOptions().dtype(torch::kFloat).pinned_memory(device.is_cuda()));
  std::int64_t start = 0;
  for (const auto& members : groups) {
    State::Bucket bucket;
    std::int64_t total = 0;
    for (std::size_t k : members) total += parameters[k].numel();
    bucket.buffer = s.flat.narrow(0, start, total);
    if (s.flat_host.defined()) bucket.host = s.flat_host.narrow(0, start, total);
    start += total;
    std::int64_t offset = 0;
    for (std::size_t k : members) {
      bucket.offsets.push_back(offset);
      torch::Tensor p = parameters[k];
      const torch::Tensor view = bucket.buffer.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) view.copy_(p.grad());
      p.mutable_grad() = view;
      s.views[k] = view.data_ptr<float>();
      s.bucket_of[k] = s.buckets.size();
      offset += p.numel();
    }
    bucket.members = members;
    s.buckets.push_back(std::move(bucket));
  }
  const std::weak_ptr<State> weak = state_;
  for (std::size_t k = 0; k < n; ++k) {
    if (!parameters[k].requires_grad()) continue;  // never final in backward: started by start_remaining()
    std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(parameters[k]);
    if (!accumulator) continue;
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (const auto state = weak.lock()) state->on_final(k);
          return outputs;
        }));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientBuckets::~GradientBuckets() = default;

void GradientBuckets::zero() {
  State& s = *state_;
  for (auto& b : s.buckets) {
    b.sum.wait();
    b.in_bfloat16 = false;  // a sum nobody waited for: its values are discarded with the gradients
    b.buffer.zero_();
  }
  s.armed = false;
  s.reset_exchange();
}

void GradientBuckets::arm() {
  state_->reset_exchange();
  state_->armed = true;
}

void GradientBuckets::start_remaining() {
  State& s = *state_;
  s.armed = false;
  while (s.next < s.buckets.size()) s.start(s.buckets[s.next++]);
}

void GradientBuckets::wait() {
  for (auto& b : state_->buckets) state_->finish(b);
  if (state_->moved)
    throw std::logic_error("GradientBuckets: the gradient of parameter " + std::to_string(*state_->moved) +
                           " no longer lies in its bucket (was .grad replaced?)");
}

bool GradientBuckets::local_finite() const { return state_->finite; }

void GradientBuckets::poison_next_exchange() { state_->poison = true; }

double GradientBuckets::norm() const {
  const State& s = *state_;
  std::vector<GradientPiece> pieces(s.parameters.size());
  for (auto& b : state_->buckets)
    for (std::size_t m = 0; m < b.members.size(); ++m) {
      const std::size_t k = b.members[m];
      pieces[k] = {b.data() + b.offsets[m], static_cast<std::size_t>(s.parameters[k].numel())};
    }
  return gradient_norm(pieces);
}

void GradientBuckets::scale(float factor) {
  for (auto& b : state_->buckets) {
    float* values = b.data();
    const std::int64_t count = b.buffer.numel();
    for (std::int64_t i = 0; i < count; ++i) values[i] *= factor;
  }
}

std::size_t GradientBuckets::bucket_count() const { return state_->buckets.size(); }

float* GradientBuckets::bucket_data(std::size_t b) { return state_->buckets.at(b).data(); }

float* GradientBuckets::flat_data() {
  return (state_->flat_host.defined() ? state_->flat_host : state_->flat).data_ptr<float>();
}

std::int64_t GradientBuckets::bucket_size(std::size_t b) const { return state_->buckets.at(b).buffer.numel(); }

const std::vector<std::size_t>& GradientBuckets::bucket_members(std::size_t b) const {
  return state_->buckets.at(b).members;
}

std::size_t GradientBuckets::started_during_backward() const { return state_->during_backward; }

}  // namespace qvae::train
