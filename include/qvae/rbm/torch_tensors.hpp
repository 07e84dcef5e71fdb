// LibTorch views of a BoltzmannMachine and the dense per-pair layout of the
// reference Python models (docs/rbm.md).  Includes torch/torch.h:
// use it only in translation units that need tensors (qvae_rbm_torch).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::rbm {

/// The machine's N biases / E weights as float64 tensors sharing its memory
/// (torch::from_blob, no copy): writes through either side are seen by the
/// other.  Valid while the machine lives; samplers see changes after
/// Sampler::refresh_parameters().
torch::Tensor biases_tensor(BoltzmannMachine& machine);
torch::Tensor weights_tensor(BoltzmannMachine& machine);

/// The reference layout: biases "0".."K−1" (n_p), weights and masks "pq" for
/// p < q (n_p × n_q, rows the lower partition, row/column k = position k of
/// BoltzmannMachine::partition_nodes), weights masked (zero off the couplers).
/// Keys are single digits, so K <= 10.
struct DenseModel {
  std::map<std::string, torch::Tensor> biases;
  std::map<std::string, torch::Tensor> weights;
  std::map<std::string, torch::Tensor> masks;
};

/// Copies the machine's parameters into the dense layout (dtype float64 or float32).
DenseModel to_dense(const BoltzmannMachine& machine, torch::Dtype dtype = torch::kFloat64);

/// Copies dense parameters into `machine`: biases, and each coupler's weight
/// from its matrix entry (entries off the mask are ignored, as the reference's
/// masked read does).  Missing keys, wrong shapes, or masks present that differ
/// from the machine's couplers are a core::InputError.
void from_dense(BoltzmannMachine& machine, const DenseModel& dense);

/// A machine whose couplers are the masks' nonzero entries, nodes numbered
/// partition by partition, with the dense parameters.
BoltzmannMachine machine_from_dense(const DenseModel& dense, const std::string& topology = "dense",
                                    const std::string& description = "from dense per-pair matrices");

}  // namespace qvae::rbm
