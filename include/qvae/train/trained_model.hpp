// A trained QVAE loaded back from a checkpoint, for the commands that use a
// model after training (generate, rbm export, encode, evaluate --model).
// LibTorch header: include it only from LibTorch translation units.
#pragma once

#include <string>

#include "qvae/core/config.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/train/model_exports.hpp"

namespace qvae::train {

struct TrainedModel {
  std::string path;  ///< the checkpoint file read
  core::Config config;
  geometry::Geometry geometry;
  model::Qvae qvae;  ///< in eval mode, every parameter from the checkpoint
};

/// Collective (errors agreed): reads the checkpoint's config, geometry and
/// model state on every rank, then moves the networks (and the prior's
/// sampling) to `device`, resolved per rank as train.device is; `key` names
/// the setting in errors.  InputError (exit 3) for a file that is not a
/// qvae-checkpoint; UsageError (exit 2) for a device this build cannot use.
TrainedModel load_trained_model(const std::string& model_or_run_dir, const core::ConfigSchema& schema,
                                const par::Communicator& comm, rbm::DeviceKind device = rbm::DeviceKind::cpu,
                                const std::string& key = "--device");

}  // namespace qvae::train
