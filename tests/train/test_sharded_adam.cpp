// The sharded optimiser (ZeRO stage 1): each rank updates its block of the
// flat parameter vector and an allgather shares the result.  Its update is
// torch::optim::Adam's, it does not depend on the rank count (bit for bit:
// 1, 2 and 3 ranks against one process alone), and it takes over the state
// of a torch::optim::Adam (checkpoints of format 2 and earlier).  Unsharded
// (train.shard_optimizer = false) it makes the same bits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "gradient_buckets.hpp"
#include "qvae/par/communicator.hpp"
#include "sharded_adam.hpp"

using namespace qvae;

namespace {

/// Parameters of awkward sizes (a bucket boundary and a block boundary fall
/// inside most of them), the same on every rank.
std::vector<torch::Tensor> make_parameters() {
  torch::manual_seed(11);
  std::vector<torch::Tensor> out;
  for (const auto& shape : std::vector<std::vector<std::int64_t>>{{7, 5}, {13}, {3, 4, 2}, {1}, {29}})
    out.push_back(torch::randn(shape).requires_grad_());
  return out;
}

/// The summed gradient of step `t` for parameter `k` (what the exchange would leave in the buckets).
torch::Tensor gradient_of(const torch::Tensor& p, std::size_t k, int t) {
  return torch::sin(torch::arange(p.numel(), torch::kFloat).view(p.sizes()) * (0.37f + 0.11f * static_cast<float>(k)) +
                    static_cast<float>(t)) *
         (t % 2 == 0 ? 1.0f : 1e-3f);
}

/// Puts step t's gradients in the parameters' .grad (the buckets' views).
void set_gradients(const std::vector<torch::Tensor>& parameters, int t) {
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < parameters.size(); ++k) parameters[k].grad().copy_(gradient_of(parameters[k], k, t));
}

/// 4 floats a bucket: several buckets, each cut by parameters and blocks.
constexpr double kTinyBucketMb = 16e-6;

std::vector<float> flat_values(const std::vector<torch::Tensor>& parameters) {
  std::vector<float> out;
  for (const auto& p : parameters) {
    const torch::Tensor c = p.detach().contiguous();
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

/// LibTorch's Adam over `parameters`, their gradients defined (zero) as the buckets' views are.
torch::optim::Adam torch_adam(std::vector<torch::Tensor>& parameters, double lr) {
  for (auto& p : parameters) p.mutable_grad() = torch::zeros_like(p);
  return torch::optim::Adam(parameters, torch::optim::AdamOptions(lr));
}

/// Both round each operation to float; LibTorch's vector kernels may fuse a
/// multiply-add, so allow a few float ulps of the values and of the step.
void expect_within_float_rounding(const std::vector<float>& a, const std::vector<float>& b, double lr) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], 8 * 6e-8 * (static_cast<double>(std::fabs(b[i])) + lr)) << "element " << i;
}

}  // namespace

TEST(ShardedAdam, OneRankMakesTorchAdamsUpdate) {
  const par::Communicator self = par::Communicator::self();
  std::vector<torch::Tensor> ours = make_parameters(), theirs = make_parameters();
  train::GradientBuckets buckets(ours, kTinyBucketMb, false, self);
  ASSERT_GT(buckets.bucket_count(), 3u);
  train::AdamSettings settings;
  settings.lr = 0.05;
  train::ShardedAdam optimizer(ours, buckets, settings, true, self);
  torch::optim::Adam reference = torch_adam(theirs, settings.lr);
  for (int t = 0; t < 6; ++t) {
    set_gradients(ours, t);
    set_gradients(theirs, t);
    optimizer.step();
    reference.step();
  }
  EXPECT_EQ(optimizer.steps(), 6);
  expect_within_float_rounding(flat_values(ours), flat_values(theirs), settings.lr);
}

TEST(ShardedAdam, ParametersAreTheSameBitsOnAnyRankCount) {
  const par::Communicator comm;
  const par::Communicator self = par::Communicator::self();
  std::vector<torch::Tensor> sharded = make_parameters(), alone = make_parameters();
  train::GradientBuckets sharded_buckets(sharded, kTinyBucketMb, false, comm);
  train::GradientBuckets alone_buckets(alone, kTinyBucketMb, false, self);
  train::AdamSettings settings;
  settings.lr = 0.02;
  train::ShardedAdam on_all(sharded, sharded_buckets, settings, true, comm);
  train::ShardedAdam on_one(alone, alone_buckets, settings, true, self);
  std::vector<torch::Tensor> whole = make_parameters();  // every rank keeps every moment
  train::GradientBuckets whole_buckets(whole, kTinyBucketMb, false, comm);
  train::ShardedAdam unsharded(whole, whole_buckets, settings, false, comm);
  EXPECT_EQ(unsharded.shard().count, unsharded.flat_size());
  EXPECT_EQ(on_all.sharded(), comm.size() > 1);
  EXPECT_EQ(on_all.flat_size(), on_one.flat_size());
  EXPECT_EQ(comm.sum(on_all.shard().count), on_all.flat_size());
  for (int t = 0; t < 5; ++t) {
    set_gradients(sharded, t);
    set_gradients(alone, t);
    set_gradients(whole, t);
    on_all.step();
    on_one.step();
    unsharded.step();
  }
  const std::vector<float> a = flat_values(sharded), b = flat_values(alone), c = flat_values(whole);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "on " << comm.size() << " ranks";
  EXPECT_EQ(std::memcmp(c.data(), b.data(), c.size() * sizeof(float)), 0) << "unsharded, " << comm.size() << " ranks";
  // This rank keeps only its block of the moments, equal to the lone process's.
  const par::Block mine = on_all.shard();
  for (std::int64_t i = 0; i < mine.count; ++i) {
    ASSERT_EQ(on_all.first_moments()[static_cast<std::size_t>(i)],
              on_one.first_moments()[static_cast<std::size_t>(mine.offset + i)]);
    ASSERT_EQ(on_all.second_moments()[static_cast<std::size_t>(i)],
              on_one.second_moments()[static_cast<std::size_t>(mine.offset + i)]);
  }
}

TEST(ShardedAdam, TakesOverTheStateOfATorchAdam) {
  const par::Communicator comm;
  std::vector<torch::Tensor> ours = make_parameters(), theirs = make_parameters();
  train::GradientBuckets buckets(ours, kTinyBucketMb, false, comm);
  train::AdamSettings settings;
  settings.lr = 0.03;
  train::ShardedAdam optimizer(ours, buckets, settings, true, comm);
  torch::optim::Adam legacy = torch_adam(theirs, settings.lr);
  for (int t = 0; t < 3; ++t) {
    set_gradients(theirs, t);
    legacy.step();
  }
  {
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < ours.size(); ++k) ours[k].copy_(theirs[k]);
  }
  // As a resume does: the archive loaded into an Adam over the model's own parameters.
  std::stringstream archive;
  torch::save(legacy, archive);
  torch::optim::Adam loaded(ours, torch::optim::AdamOptions(settings.lr));
  torch::load(loaded, archive);
  optimizer.restore(loaded);
  EXPECT_EQ(optimizer.steps(), 3);
  set_gradients(ours, 3);
  set_gradients(theirs, 3);
  optimizer.step();
  legacy.step();
  expect_within_float_rounding(flat_values(ours), flat_values(theirs), settings.lr);
}

TEST(ShardedAdam, RefusesAStateOfTheWrongSize) {
  const par::Communicator comm;
  std::vector<torch::Tensor> parameters = make_parameters();
  train::GradientBuckets buckets(parameters, kTinyBucketMb, false, comm);
  train::ShardedAdam optimizer(parameters, buckets, train::AdamSettings{}, true, comm);
  const auto n = static_cast<std::size_t>(optimizer.shard().count);
  EXPECT_THROW(optimizer.restore(1, std::vector<float>(n + 1), std::vector<float>(n)), std::invalid_argument);
  EXPECT_THROW(optimizer.restore(-1, std::vector<float>(n), std::vector<float>(n)), std::invalid_argument);
}
