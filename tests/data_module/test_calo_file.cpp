// Runs under mpirun -np 2: CaloChallenge files written and read in row blocks,
// and every bad-input case refused with an error naming file, dataset and row.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "qvae/core/error.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/par/collective_error.hpp"

using namespace qvae;

namespace {

std::string shared_path(const par::Communicator& comm, const std::string& name) {
  std::string path = ::testing::TempDir() + "qvae_calo_" + name;
  comm.broadcast(path);
  return path;
}

float voxel_value(std::int64_t event, std::int64_t voxel) {
  return (event + voxel) % 5 == 0 ? 0.0f : static_cast<float>(event) + 0.001f * static_cast<float>(voxel);
}

/// This rank's block of `events` (even partition) with deterministic values.
data::ShowerBlock make_block(std::int64_t events, std::int64_t voxels, const par::Communicator& comm) {
  const par::Block rows = par::my_block(events, comm);
  data::ShowerBlock block;
  block.first_event = rows.offset;
  block.voxels = voxels;
  for (std::int64_t i = 0; i < rows.count; ++i) {
    block.incident_energies.push_back(1000.0 * static_cast<double>(rows.offset + i + 1));
    for (std::int64_t v = 0; v < voxels; ++v) block.showers.push_back(voxel_value(rows.offset + i, v));
  }
  return block;
}

/// Writes raw datasets (bypassing the CaloWriter's checks) to build bad files.
struct RawFile {
  std::string path;
  RawFile(const par::Communicator& comm, const std::string& name, std::int64_t events, std::int64_t voxels,
          std::int64_t energy_rows, bool with_energies, std::function<void(data::ShowerBlock&)> spoil) {
    path = shared_path(comm, name);
    data::ShowerBlock block = make_block(events, voxels, comm);
    spoil(block);
    io::OutputFile out = io::OutputFile::create(path, comm);
    const par::Block energy_block = par::my_block(energy_rows, comm);
    std::vector<double> energies(static_cast<std::size_t>(energy_block.count), 5000.0);
    if (energy_rows == events) energies = block.incident_energies;
    if (with_energies) io::write_rows(out, data::kIncidentEnergies, energies.data(), energy_block.count, 1);
    io::write_rows(out, data::kShowers, block.showers.data(), block.events(), voxels);
    out.commit();
  }
  ~RawFile() {
    par::Communicator comm;
    comm.barrier();
    if (comm.is_root()) std::filesystem::remove(path);
  }
};

/// Sets one value of the block if this rank holds global row `row`.
template <class F>
void at_row(data::ShowerBlock& block, std::int64_t row, F&& f) {
  if (row >= block.first_event && row < block.first_event + block.events()) f(row - block.first_event);
}

/// The message of the error reading `path` throws (construction or checked read).
std::string read_error(const std::string& path, core::ExitCode& code, const std::string& geometry = {}) {
  par::Communicator comm;
  try {
    par::run_agreed(comm, [&] {
      data::CaloReader reader(path, comm, geometry);
      reader.read_checked(par::my_block(reader.events(), comm));
    });
  } catch (const par::CollectiveError& e) {
    code = e.code();
    return e.what();
  }
  code = core::ExitCode::ok;
  return "no error";
}

void expect_bad_input(const std::string& path, const std::vector<std::string>& fragments,
                      const std::string& geometry = {}) {
  core::ExitCode code{};
  const std::string msg = read_error(path, code, geometry);
  EXPECT_EQ(code, core::ExitCode::bad_input) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
}

const geometry::Geometry& ds1_photons() {
  static const geometry::Geometry g = geometry::Geometry::builtin("ds1-photons");
  return g;
}

}  // namespace

TEST(CaloFile, StreamedWritesReadBackInAnotherLayoutWithAttributes) {
  par::Communicator comm;
  const std::int64_t events = 11, voxels = ds1_photons().voxels();
  for (const std::string dtype : {"float32", "float64"}) {
    const std::string path = shared_path(comm, "roundtrip.h5");
    {
      data::WriteSettings settings;
      settings.shower_dtype = dtype;
      settings.chunk_rows = dtype == "float64" ? 4 : 0;
      settings.gzip_level = dtype == "float64" ? 4 : 0;
      data::CaloWriter writer(path, comm, ds1_photons(), events, {"test", 9, "[run]\nseed = 9\n"}, settings);
      // Two steps per rank; rank blocks are written in pieces of 3 rows.
      const data::ShowerBlock whole = make_block(events, voxels, comm);
      const std::int64_t steps = comm.max((whole.events() + 2) / 3);
      for (std::int64_t s = 0; s < steps; ++s) {
        data::ShowerBlock part;
        part.voxels = voxels;
        const std::int64_t begin = std::min<std::int64_t>(s * 3, whole.events());
        const std::int64_t n = std::min<std::int64_t>(3, whole.events() - begin);
        part.first_event = whole.first_event + begin;
        part.incident_energies.assign(whole.incident_energies.begin() + begin,
                                      whole.incident_energies.begin() + begin + n);
        part.showers.assign(whole.shower(begin), whole.shower(begin) + n * voxels);
        writer.write(part);
      }
      writer.commit();
    }
    data::CaloReader reader(path, comm);
    EXPECT_EQ(reader.events(), events);
    EXPECT_EQ(reader.geometry().name(), "ds1-photons");
    EXPECT_EQ(reader.shower_dtype(), dtype);
    EXPECT_EQ(io::get_string_attribute(reader.file(), "/", "geometry"), "ds1-photons");
    EXPECT_EQ(io::get_uint_attribute(reader.file(), "/", "seed"), 9u);
    // Read back with rank 0 taking everything, rank 1 nothing.
    const par::Block rows = comm.is_root() ? par::Block{0, events} : par::Block{events, 0};
    const data::ShowerBlock back = reader.read_checked(rows);
    for (std::int64_t i = 0; i < back.events(); ++i) {
      EXPECT_EQ(back.incident_energies[static_cast<std::size_t>(i)], 1000.0 * static_cast<double>(i + 1));
      for (std::int64_t v = 0; v < voxels; ++v) ASSERT_EQ(back.shower(i)[v], voxel_value(i, v)) << i << "," << v;
    }
    comm.barrier();
    if (comm.is_root()) std::filesystem::remove(path);
  }
}

TEST(CaloFileBadInput, MissingIncidentEnergiesDataset) {
  par::Communicator comm;
  RawFile f(comm, "missing.h5", 6, 368, 6, /*with_energies=*/false, [](data::ShowerBlock&) {});
  expect_bad_input(f.path, {"dataset 'incident_energies'", "missing"});
}

TEST(CaloFileBadInput, RowCountsThatDiffer) {
  par::Communicator comm;
  RawFile f(comm, "rows.h5", 6, 368, 5, true, [](data::ShowerBlock&) {});
  expect_bad_input(f.path, {"row counts differ", "6 showers", "5 incident energies"});
}

TEST(CaloFileBadInput, AVoxelCountOfNoKnownGeometry) {
  par::Communicator comm;
  RawFile f(comm, "voxels.h5", 4, 100, 4, true, [](data::ShowerBlock&) {});
  expect_bad_input(f.path, {"100", "6480 (ds2)"});
}

TEST(CaloFileBadInput, AGeometryThatDoesNotMatchTheFile) {
  par::Communicator comm;
  RawFile f(comm, "geometry.h5", 4, 368, 4, true, [](data::ShowerBlock&) {});
  expect_bad_input(f.path, {"368 voxels", "'ds2' has 6480"}, "ds2");
}

TEST(CaloFileBadInput, NanVoxelNamesTheFirstOffendingRow) {
  par::Communicator comm;
  // Rows 7 and 9 are bad; with 10 rows on 2 ranks, row 7 lives on rank 1.
  RawFile f(comm, "nan.h5", 10, 368, 10, true, [](data::ShowerBlock& b) {
    at_row(b, 7, [&](std::int64_t i) { b.shower(i)[3] = std::numeric_limits<float>::quiet_NaN(); });
    at_row(b, 9, [&](std::int64_t i) { b.shower(i)[0] = -1.0f; });
  });
  expect_bad_input(f.path, {"dataset 'showers'", "first at row 7", "voxel 3 is nan", "2 bad value"});
}

TEST(CaloFileBadInput, InfiniteVoxel) {
  par::Communicator comm;
  RawFile f(comm, "inf.h5", 4, 368, 4, true, [](data::ShowerBlock& b) {
    at_row(b, 2, [&](std::int64_t i) { b.shower(i)[5] = std::numeric_limits<float>::infinity(); });
  });
  expect_bad_input(f.path, {"row 2", "voxel 5 is inf"});
}

TEST(CaloFileBadInput, NegativeVoxelEnergy) {
  par::Communicator comm;
  RawFile f(comm, "negative.h5", 4, 368, 4, true,
            [](data::ShowerBlock& b) { at_row(b, 1, [&](std::int64_t i) { b.shower(i)[0] = -0.5f; }); });
  expect_bad_input(f.path, {"row 1", "negative energy"});
}

TEST(CaloFileBadInput, NonPositiveIncidentEnergy) {
  par::Communicator comm;
  RawFile f(comm, "einc.h5", 4, 368, 4, true, [](data::ShowerBlock& b) {
    at_row(b, 3, [&](std::int64_t i) { b.incident_energies[static_cast<std::size_t>(i)] = 0.0; });
  });
  expect_bad_input(f.path, {"dataset 'incident_energies'", "row 3", "not positive"});
}

TEST(CaloFileBadInput, TruncatedFile) {
  par::Communicator comm;
  RawFile f(comm, "truncated.h5", 20, 368, 20, true, [](data::ShowerBlock&) {});
  comm.barrier();
  if (comm.is_root()) std::filesystem::resize_file(f.path, std::filesystem::file_size(f.path) / 3);
  comm.barrier();
  expect_bad_input(f.path, {});
}
