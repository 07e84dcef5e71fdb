// Adam over the encoder/decoder parameters, sharded over ranks (ZeRO stage 1,
// docs/training.md "The optimiser, sharded").
//
// The flat parameter vector is the gradient buckets' order (the parameters in
// reverse, each row-major).  Rank r keeps the Adam moments of, and updates,
// block r of it (par::block_partition); one allgather of the flat vector
// then gives every rank every updated parameter.  Each rank so holds 1/P of the moments
// and does 1/P of the update, where an unsharded optimiser costs every rank
// all of both.  The update is element-wise, so the parameters do not depend on
// how the vector is cut: results are the same for any rank count, given the
// same summed gradients.
//
// For parameters on a GPU the update still runs here, on the host: on a host
// copy of the parameters taken at each step (so whatever changed them since,
// a checkpoint or a rollback, is seen) and written back to the device after
// it.  The update is then the CPU's, bit for bit, given the same gradients.
// Internal to the train module.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "gradient_buckets.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::train {

/// torch::optim::Adam's defaults, which the trainer has always used.
struct AdamSettings {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class ShardedAdam {
 public:
  /// `parameters` and `buckets` as given to GradientBuckets (same list, same
  /// order).  Unless `sharded`, every rank's block is the whole vector: each
  /// keeps all moments and updates every parameter, with nothing to gather.
  ShardedAdam(std::vector<torch::Tensor> parameters, GradientBuckets& buckets, const AdamSettings& settings,
              bool sharded, const par::Communicator& comm);

  void set_lr(double lr) { settings_.lr = lr; }
  double lr() const { return settings_.lr; }

  /// One Adam step (torch::optim::Adam's update, without weight decay) on
  /// this rank's block, from the summed gradients in the buckets; every rank
  /// then holds every updated parameter.  With several ranks the buckets'
  /// buffers carry the parameters for the allgather, so the gradients are
  /// gone afterwards (the next step zeroes them).  Collective.
  void step();

  /// Elements of the flat parameter vector, and this rank's block of it.
  std::int64_t flat_size() const { return flat_size_; }
  par::Block shard() const { return shard_; }
  bool sharded() const { return sharded_; }
  /// The block rank `rank` holds the state of, in a checkpoint: its shard, or
  /// unsharded, all of it on rank 0 and none elsewhere.
  par::Block saved_block(int rank) const;
  /// Steps taken (Adam's bias corrections depend on it).
  std::int64_t steps() const { return steps_; }
  /// Moments of this rank's block (shard().count values each).
  const std::vector<float>& first_moments() const { return first_; }
  const std::vector<float>& second_moments() const { return second_; }

  /// Sets the state of this rank's block (shard().count values each).
  void restore(std::int64_t steps, std::vector<float> first, std::vector<float> second);
  /// Takes this rank's block of the state of a torch::optim::Adam over the
  /// same parameters (what checkpoints of format 2 and earlier store).
  void restore(torch::optim::Adam& adam);

 private:
  /// Every rank's updated block into every rank's parameters (the allgather).
  void gather_parameters();
  /// The block of the flat vector rank `rank` updates: its part, or unsharded all of it.
  par::Block block_of(int rank) const;

  /// A run of this rank's block inside one parameter (and one bucket).
  struct Segment {
    std::size_t parameter;
    std::size_t bucket;
    std::int64_t in_parameter;  ///< first element, in the parameter
    std::int64_t in_bucket;     ///< the same element, in the bucket's buffer
    std::int64_t in_shard;      ///< the same element, in the moments
    std::int64_t count;
  };

  std::vector<torch::Tensor> parameters_;
  /// What the update writes: the parameters themselves, or for parameters
  /// off the CPU their host copies (refreshed at every step).
  std::vector<torch::Tensor> masters_;
  bool on_host_ = true;  ///< every parameter on the CPU: masters_ are parameters_
  GradientBuckets& buckets_;
  AdamSettings settings_;
  par::Communicator comm_;
  bool sharded_;
  std::int64_t flat_size_ = 0;
  par::Block shard_;
  std::vector<Segment> segments_;
  /// Each rank's block size (the allgather's counts; its blocks lie in rank order).
  std::vector<long long> block_counts_;
  /// Per bucket: its first element in the flat vector.
  std::vector<std::int64_t> bucket_start_;
  /// Per parameter: its bucket and first element in that bucket's buffer.
  std::vector<std::pair<std::size_t, std::int64_t>> place_;
  std::vector<float> first_, second_;
  std::int64_t steps_ = 0;
};

}  // namespace qvae::train
