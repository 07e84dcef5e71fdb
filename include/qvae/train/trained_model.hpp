// A trained QVAE loaded back from a checkpoint, for the commands that use a
// model after training (generate, rbm export, encode, evaluate --model).
// LibTorch header: include it only from LibTorch translation units.
#pragma once

#include <string>

#include "qvae/core/config.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/train/model_exports.hpp"

namespace qvae::train {

struct TrainedModel {
  std::string path;  ///< the checkpoint file read
  core::Config config;
  geometry::Geometry geometry;
  model::Qvae qvae;  ///< in eval mode, every parameter from the checkpoint
};

/// Collective (errors agreed): reads the checkpoint's config, geometry and
/// model state on every rank.  InputError (exit 3) for a file that is not a
/// qvae-checkpoint.
TrainedModel load_trained_model(const std::string& model_or_run_dir, const core::ConfigSchema& schema,
                                const par::Communicator& comm);

}  // namespace qvae::train
