// The encoder/decoder gradients in fixed buckets whose sums over ranks can
// run while backward is still going (as PyTorch's DDP does).
//
// Each parameter's .grad is a view into its bucket's buffer, so backward
// accumulates straight into what is exchanged: one copy of the gradients,
// no packing.  Buckets hold the parameters in reverse order, the order in
// which backward produces their gradients, up to train.bucket_mb each.
// Armed for a rank's last backward of a step, a post-hook on every
// parameter's gradient accumulator notes when its gradient is final; a
// bucket's sum starts once all of its gradients are, and only after every
// earlier bucket's has started.  Every rank therefore starts the same sums in
// the same order whatever the timing, and the sums — hence the parameters —
// are those of the unoverlapped exchange.
//
// Parameters on a GPU keep their .grad views in a device buffer; each bucket
// then has a host copy, filled when its sum starts, on which the sum over
// ranks, the norm and the optimiser work (so any MPI will do).  Such buckets
// must start from the thread that runs MPI, not from backward's device
// thread: the trainer does not arm them.  Internal to the train module.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "qvae/par/communicator.hpp"

namespace qvae::train {

class GradientBuckets {
 public:
  /// `parameters` (float32) get their .grad set to zeroed views of the buckets.
  /// With `bfloat16`, each bucket is summed over ranks as bfloat16 (half the
  /// bytes; values rounded) and written back as float32 when wait() returns.
  GradientBuckets(const std::vector<torch::Tensor>& parameters, double bucket_mb, bool bfloat16,
                  const par::Communicator& comm);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  /// Every gradient to zero (the views stay in place).
  void zero();
  /// The next backward is this rank's last of the step: start each bucket's
  /// sum as soon as its gradients are final.
  void arm();
  /// Starts, in bucket order, every sum not started yet (all of them when the
  /// rank was not armed, ran no backward, or has parameters backward did not
  /// reach), and disarms.  Every rank must call it once per exchange, in the
  /// same place relative to its other collectives.
  void start_remaining();
  /// Blocks until every started sum is complete: the buffers then hold the
  /// sums over ranks.
  void wait();

  /// Whether this rank's own gradients were finite when their sums started.
  bool local_finite() const;
  /// Test fault: the first gradient value of the first parameter becomes NaN
  /// before its bucket's sum starts.
  void poison_next_exchange();

  /// Euclidean norm over all gradients, summed in parameter order.
  double norm() const;
  /// Multiplies every gradient by `factor` (clipping).
  void scale(float factor);

  std::size_t bucket_count() const;
  /// The buckets' host buffers (for parameters on a GPU, the host copies,
  /// valid once their sums started) one after the other are the flat gradient: the
  /// parameters in reverse order, each row-major, whatever train.bucket_mb is.
  /// Bucket `b` holds the parameters bucket_members(b) (indices into the
  /// constructor's list, in buffer order) in bucket_size(b) floats.
  float* bucket_data(std::size_t b);
  /// All buckets' host buffers as one contiguous vector (bucket_data(0) on).
  float* flat_data();
  std::int64_t bucket_size(std::size_t b) const;
  const std::vector<std::size_t>& bucket_members(std::size_t b) const;
  /// Buckets whose sums started during backward in the last exchange.
  std::size_t started_during_backward() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the hooks, which hold it weakly
};

}  // namespace qvae::train
