// Where LibTorch work runs (docs/training.md "Devices"): `cpu`, or `cuda`
// with one GPU per rank.  Part of qvae_rbm_torch, the lowest LibTorch
// library; no LibTorch include, so config code can name it.
#pragma once

#include <string>

namespace qvae::rbm {

enum class DeviceKind { cpu, cuda };
const char* to_string(DeviceKind kind);

/// The LibTorch device string of this rank: "cpu", or "cuda:<i>" with i the
/// rank's index on its node modulo the GPUs it sees (set
/// CUDA_VISIBLE_DEVICES per rank to choose otherwise).  UsageError (exit 2)
/// naming `key` when `cuda` is asked of a LibTorch built without CUDA, or of
/// a node with no visible GPU.
std::string resolve_device(DeviceKind kind, int node_rank, const std::string& key);

}  // namespace qvae::rbm
