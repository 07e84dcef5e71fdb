// CaloChallenge shower files, read and written in row blocks per rank.
//
// Layout (CaloChallenge): `incident_energies` (N, 1) and `showers` (N, V), MeV,
// voxel order (layer, alpha, r) with r fastest; float32 or float64, contiguous,
// chunked or gzip.  Files qvae writes also carry the root attributes
// `qvae_version`, `geometry`, `created_by`, `seed` and `config`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qvae/geometry/geometry.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::data {

inline constexpr const char* kIncidentEnergies = "incident_energies";
inline constexpr const char* kShowers = "showers";

/// A block of consecutive events held by this rank.
struct ShowerBlock {
  std::int64_t first_event = 0;  ///< global index of the first row
  std::int64_t voxels = 0;
  std::vector<double> incident_energies;  ///< MeV, one per event
  std::vector<float> showers;             ///< MeV, events x voxels, row-major
  std::int64_t events() const { return static_cast<std::int64_t>(incident_energies.size()); }
  const float* shower(std::int64_t i) const { return showers.data() + i * voxels; }
  float* shower(std::int64_t i) { return showers.data() + i * voxels; }
};

/// Values a CaloChallenge file must not hold: NaN/inf anywhere, negative voxel
/// energies, incident energies <= 0.
struct BadValues {
  std::int64_t count = 0;
  std::int64_t first_row = -1;  ///< global row of the first bad value (-1: none)
  std::string first_dataset;
  std::string first_what;  ///< e.g. "voxel 17 is NaN"
  bool any() const { return count > 0; }
};
/// Bad values of a block (rows numbered globally).
BadValues find_bad_values(const ShowerBlock& block);
/// Bad values of a block whose i-th row is the file's row rows[i].
BadValues find_bad_values(const ShowerBlock& block, const std::vector<std::int64_t>& rows);
/// Collective: total count and the globally first bad row over all ranks.
BadValues combine(const BadValues& local, const par::Communicator& comm);
/// The InputError for bad values found in `path`.
[[noreturn]] void throw_bad_values(const std::string& path, const BadValues& bad);

class CaloReader {
 public:
  /// Collective: opens `path`, checks both datasets exist with shapes (N, 1)
  /// and (N, V) and equal N, and resolves the geometry: `geometry_name` if
  /// given (its voxel count must match), else the file's `geometry` attribute,
  /// else detected from V.  Any mismatch is an InputError naming file and dataset.
  CaloReader(const std::string& path, const par::Communicator& comm, const std::string& geometry_name = {});

  const std::string& path() const { return file_.path(); }
  std::int64_t events() const { return events_; }
  const geometry::Geometry& geometry() const { return geometry_; }
  /// "float32" or "float64": the stored type of `showers`.
  const std::string& shower_dtype() const { return shower_dtype_; }
  const io::File& file() const { return file_; }

  /// Collective: reads rows [rows.offset, rows.end()) of both datasets (no value checks).
  ShowerBlock read(const par::Block& rows) const;
  /// Collective: read() and refuse bad values on any rank with one agreed InputError
  /// naming the file, the dataset and the first offending row.
  ShowerBlock read_checked(const par::Block& rows) const;
  /// Collective: every incident energy of the file (N values: small next to the showers).
  std::vector<double> incident_energies() const;

 private:
  io::File file_;
  par::Communicator comm_;
  std::int64_t events_ = 0;
  geometry::Geometry geometry_;
  std::string shower_dtype_;
};

struct WriteSettings {
  std::string shower_dtype = "float32";  ///< "float32" or "float64"
  std::int64_t chunk_rows = 0;           ///< 0 = contiguous
  int gzip_level = 0;                    ///< needs chunk_rows > 0
};

/// Streams a CaloChallenge file: collective construction creates the two
/// datasets for `total_events`; each collective write() stores every rank's
/// block at its first_event; commit() publishes the file atomically.
class CaloWriter {
 public:
  CaloWriter(const std::string& path, const par::Communicator& comm, const geometry::Geometry& geometry,
             std::int64_t total_events, const io::Provenance& provenance, const WriteSettings& settings = {});
  /// Collective: every rank calls it the same number of times (blocks may be
  /// empty); rows go to [first_row, first_row + block.events()).
  void write(const ShowerBlock& block, std::int64_t first_row);
  void write(const ShowerBlock& block) { write(block, block.first_event); }
  /// Collective: closes the datasets and publishes the file.
  void commit();

 private:
  io::OutputFile file_;
  geometry::Geometry geometry_;
  bool wide_;
  io::RowWriter<double> energies_;
  std::optional<io::RowWriter<float>> narrow_showers_;
  std::optional<io::RowWriter<double>> wide_showers_;
};

/// Collective: writes every rank's block (in rank order, blocks may be empty)
/// to `path` atomically, with the provenance attributes and `geometry`.
void write_calo_file(const std::string& path, const par::Communicator& comm, const geometry::Geometry& geometry,
                     const ShowerBlock& block, const io::Provenance& provenance, const WriteSettings& settings = {});

}  // namespace qvae::data
