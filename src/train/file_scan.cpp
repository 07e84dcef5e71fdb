#include "file_scan.hpp"

#include <algorithm>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::train {
namespace {

/// Rows per block of the pre-flight pass: about 32 MB of float32 showers.
std::int64_t scan_block_rows(std::int64_t voxels) {
  return std::max<std::int64_t>(1, (std::int64_t{32} << 20) / (4 * std::max<std::int64_t>(voxels, 1)));
}

}  // namespace

/// Collective: one pass over the file in bounded row blocks (each rank its
/// own rows), refusing bad values with one agreed message, and recording
/// each row's E_tot/E_inc; the showers are not kept.
FileScan scan_file(const data::CaloReader& reader, const par::Communicator& comm) {
  FileScan scan;
  scan.voxels = reader.geometry().voxels();
  scan.mine = par::my_block(reader.events(), comm);
  scan.fractions.reserve(static_cast<std::size_t>(scan.mine.count));
  const std::int64_t rows_per_block = scan_block_rows(scan.voxels);
  // Every rank makes the same number of (collective) reads; the last ones may be empty.
  const par::CollectiveChunks rounds(scan.mine, rows_per_block, comm);
  data::BadValues bad;
  double largest = 0.0;
  std::int64_t where = -1;
  for (std::int64_t round = 0; round < rounds.steps(); ++round) {
    const data::ShowerBlock block = reader.read(rounds[round]);
    const data::BadValues found = data::find_bad_values(block);
    if (found.any() && !bad.any())
      bad = found;
    else
      bad.count += found.count;
    for (std::int64_t i = 0; i < block.events(); ++i) {
      const float* row = block.shower(i);
      double total = 0.0;
      for (std::int64_t v = 0; v < block.voxels; ++v) total += static_cast<double>(row[v]);
      const double fraction = total / block.incident_energies[static_cast<std::size_t>(i)];
      scan.fractions.push_back(fraction);
      if (fraction > largest) largest = fraction, where = block.first_event + i;
    }
  }
  const data::BadValues global = data::combine(bad, comm);
  if (global.any()) par::run_agreed(comm, [&] { data::throw_bad_values(reader.path(), global); });
  scan.largest_fraction = comm.max(largest);
  scan.largest_where = comm.max(largest == scan.largest_fraction ? where : std::int64_t{-1});
  scan.energies = reader.incident_energies();
  return scan;
}

/// The voxel transform must represent every voxel (and the total, which the
/// layer head transforms) of the file: an `auto` fraction scale is fixed here
/// from the largest E_tot/E_inc (stored in
/// the run's config, so checkpoints, generate and encode use the same one);
/// a given or resumed scale that is too small stops the run before the first
/// epoch with one message.
void resolve_fraction_scale(double global_largest, std::int64_t global_where, const std::string& data_file, bool resume,
                            core::Config& config, model::ModelConfig& model_config, const par::Communicator& comm) {
  par::run_agreed(comm, [&] {
    if (model_config.fraction_scale == 0.0) {
      // Checkpoints written before the setting existed were trained with scale 1.
      model_config.fraction_scale = resume ? 1.0 : model::auto_fraction_scale(global_largest);
      std::ostringstream value;
      value.precision(17);
      value << model_config.fraction_scale;
      config.set("model.fraction_scale", value.str(), "qvae train (auto, from the data)");
      if (model_config.fraction_scale > 1.0)
        core::log::info_root("model.fraction_scale = auto: ", model_config.fraction_scale,
                             " (the largest shower holds ", global_largest, " x E_inc)");
    }
    if (global_largest > model_config.fraction_scale)
      throw core::InputError(
          core::describe("event " + std::to_string(global_where) + " has E_tot = " + std::to_string(global_largest) +
                             " x E_inc, beyond what the model can represent (model.fraction_scale = " +
                             std::to_string(model_config.fraction_scale) + ")",
                         "file '" + data_file + "'",
                         resume ? "train a new run on this file (model.fraction_scale = auto)"
                                : "set model.fraction_scale = auto or >= " + std::to_string(global_largest)));
  });
}

}  // namespace qvae::train
