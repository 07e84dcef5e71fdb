#include "sharded_adam.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "fused_adam.hpp"

namespace qvae::train {

ShardedAdam::ShardedAdam(std::vector<torch::Tensor> parameters, GradientBuckets& buckets, const AdamSettings& settings,
                         bool sharded, const par::Communicator& comm)
    : parameters_(std::move(parameters)),
      buckets_(buckets),
      settings_(settings),
      comm_(comm),
      sharded_(sharded && comm.size() > 1) {
  for (const torch::Tensor& p : parameters_) on_host_ = on_host_ && p.device().is_cpu();
  for (const torch::Tensor& p : parameters_)
    masters_.push_back(on_host_ ? p : torch::empty(p.sizes(), p.options().device(torch::kCPU)));
  place_.resize(parameters_.size());
  for (std::size_t b = 0; b < buckets_.bucket_count(); ++b) {
    bucket_start_.push_back(flat_size_);
    std::int64_t offset = 0;
    for (std::size_t k : buckets_.bucket_members(b)) {
      const torch::Tensor& p = parameters_.at(k);
      if (p.scalar_type() != torch::kFloat || !p.is_contiguous())
        throw std::invalid_argument("ShardedAdam: parameter " + std::to_string(k) + " is not contiguous float32");
      place_[k] = {b, offset};
      offset += p.numel();
    }
    if (offset != buckets_.bucket_size(b))
      throw std::logic_error("ShardedAdam: bucket " + std::to_string(b) + " holds other parameters");
    flat_size_ += offset;
  }
  shard_ = block_of(comm_.rank());
  first_.assign(static_cast<std::size_t>(shard_.count), 0.0f);
  second_.assign(static_cast<std::size_t>(shard_.count), 0.0f);
  for (int r = 0; r < comm_.size() && sharded_; ++r) block_counts_.push_back(block_of(r).count);
  for (std::size_t b = 0; b < buckets_.bucket_count(); ++b) {
    const std::int64_t begin = bucket_start_[b];
    for (std::size_t k : buckets_.bucket_members(b)) {
      const std::int64_t p_begin = begin + place_[k].second, p_end = p_begin + parameters_[k].numel();
      const std::int64_t lo = std::max(p_begin, shard_.offset), hi = std::min(p_end, shard_.end());
      if (lo < hi) segments_.push_back({k, b, lo - p_begin, lo - begin, lo - shard_.offset, hi - lo});
    }
  }
}

par::Block ShardedAdam::block_of(int rank) const {
  return sharded_ ? par::block_partition(flat_size_, rank, comm_.size()) : par::Block{0, flat_size_};
}

void ShardedAdam::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(settings_.beta1, t);
  const double correction2 = 1.0 - std::pow(settings_.beta2, t);
  const AdamCoefficients c{static_cast<float>(settings_.beta1),
                           static_cast<float>(1.0 - settings_.beta1),
                           static_cast<float>(settings_.beta2),
                           static_cast<float>(1.0 - settings_.beta2),
                           static_cast<float>(std::sqrt(correction2)),
                           static_cast<float>(settings_.eps),
                           static_cast<float>(-settings_.lr / correction1)};
  torch::NoGradGuard no_grad;
  if (!on_host_)
    for (std::size_t k = 0; k < parameters_.size(); ++k) masters_[k].copy_(parameters_[k]);
  for (const Segment& s : segments_) {
    float* bucket = buckets_.bucket_data(s.bucket) + s.in_bucket;
    fused_adam_update(s.count, masters_[s.parameter].data_ptr<float>() + s.in_parameter, bucket,
                      first_.data() + s.in_shard, second_.data() + s.in_shard, sharded_ ? bucket : nullptr, c);
  }
  if (sharded_) gather_parameters();
  if (!on_host_)
    for (std::size_t k = 0; k < parameters_.size(); ++k) parameters_[k].copy_(masters_[k]);
}

void ShardedAdam::gather_parameters() {
  // One allgather of the flat vector: every rank sends its block at once (per
  // bucket, a bucket inside one rank's block would be a broadcast from it).
  comm_.allgather_in_place(buckets_.flat_data(), block_counts_);
  // Every parameter's elements outside this rank's block (inside it, the
  // update wrote them already) from the gathered buckets.
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    float* to = masters_[k].data_ptr<float>();
    const auto [bucket, in_bucket] = place_[k];
    const float* from = buckets_.bucket_data(bucket) + in_bucket;
    const std::int64_t begin = bucket_start_[bucket] + in_bucket, end = begin + parameters_[k].numel();
    auto copy = [&](std::int64_t lo, std::int64_t hi) {  // flat positions [lo, hi) of parameter k
      if (lo < hi)
        std::memcpy(to + (lo - begin), from + (lo - begin), static_cast<std::size_t>(hi - lo) * sizeof(float));
    };
    copy(begin, std::min(end, shard_.offset));
    copy(std::max(begin, shard_.end()), end);
  }
}

par::Block ShardedAdam::saved_block(int rank) const {
  return sharded_ || rank == 0 ? block_of(rank) : par::Block{0, 0};
}

void ShardedAdam::restore(std::int64_t steps, std::vector<float> first, std::vector<float> second) {
  if (steps < 0 || static_cast<std::int64_t>(first.size()) != shard_.count ||
      static_cast<std::int64_t>(second.size()) != shard_.count)
    throw std::invalid_argument("ShardedAdam::restore: " + std::to_string(first.size()) + " and " +
                                std::to_string(second.size()) + " moments for a block of " +
                                std::to_string(shard_.count));
  steps_ = steps;
  first_ = std::move(first);
  second_ = std::move(second);
}

namespace {

/// A parameter's entry in torch::optim::Optimizer::state(), keyed by its
/// TensorImpl's address: as text up to LibTorch 2.1, the pointer itself since.
template <class States>
auto find_state(States& states, const torch::Tensor& p) {
  using Key = typename States::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return states.find(key.str());
  } else {
    return states.find(static_cast<Key>(p.unsafeGetTensorImpl()));
  }
}

}  // namespace

void ShardedAdam::restore(torch::optim::Adam& adam) {
  std::vector<float> first(static_cast<std::size_t>(shard_.count), 0.0f);
  std::vector<float> second(first.size(), 0.0f);
  torch::NoGradGuard no_grad;
  auto state_of = [&adam](const torch::Tensor& p) -> torch::optim::AdamParamState* {
    const auto found = find_state(adam.state(), p);
    return found == adam.state().end() ? nullptr : static_cast<torch::optim::AdamParamState*>(found->second.get());
  };
  // Every parameter steps together (each has a gradient, its bucket's view):
  // the count is that of any parameter with a state, on every rank alike.
  std::int64_t steps = 0;
  for (const torch::Tensor& p : parameters_)
    if (const auto* state = state_of(p)) steps = std::max<std::int64_t>(steps, state->step());
  for (const Segment& s : segments_) {
    const auto* state = state_of(parameters_[s.parameter]);
    if (state == nullptr) continue;  // never stepped: zero moments
    const torch::Tensor m = state->exp_avg().to(torch::kCPU, torch::kFloat).contiguous().view(-1);
    const torch::Tensor v = state->exp_avg_sq().to(torch::kCPU, torch::kFloat).contiguous().view(-1);
    std::memcpy(first.data() + s.in_shard, m.data_ptr<float>() + s.in_parameter,
                static_cast<std::size_t>(s.count) * sizeof(float));
    std::memcpy(second.data() + s.in_shard, v.data_ptr<float>() + s.in_parameter,
                static_cast<std::size_t>(s.count) * sizeof(float));
  }
  restore(steps, std::move(first), std::move(second));
}

}  // namespace qvae::train
