// The pre-flight pass of `qvae train` over its data file, and the voxel
// transform's fraction scale that the pass decides.  Internal to the train module.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/model/config.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::train {

/// What the pre-flight pass over the file learns (see scan_file).
struct FileScan {
  std::int64_t voxels = 0;
  std::vector<double> energies;   ///< every incident energy, on every rank (the split needs them)
  double largest_fraction = 0.0;  ///< largest E_tot/E_inc of the file (over ranks)
  std::int64_t largest_where = -1;
  par::Block mine;                ///< this rank's rows of the pass
  std::vector<double> fractions;  ///< E_tot/E_inc of each of those rows
};

/// Collective: one pass over the file in bounded row blocks (each rank its
/// own rows), refusing bad values with one agreed message, and recording
/// each row's E_tot/E_inc; the showers are not kept.
FileScan scan_file(const data::CaloReader& reader, const par::Communicator& comm);

/// The voxel transform must represent every voxel (and the total, which the
/// layer head transforms) of the file: an `auto` fraction scale is fixed here
/// from the largest E_tot/E_inc (stored in
/// the run's config, so checkpoints, generate and encode use the same one);
/// a given or resumed scale that is too small stops the run before the first
/// epoch with one message.
void resolve_fraction_scale(double global_largest, std::int64_t global_where, const std::string& data_file, bool resume,
                            core::Config& config, model::ModelConfig& model_config, const par::Communicator& comm);

}  // namespace qvae::train
