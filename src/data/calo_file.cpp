#include "qvae/data/calo_file.hpp"

#include <cmath>
#include <stdexcept>

#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::data {

namespace {

template <class RowOf>
BadValues find_bad_values_of(const ShowerBlock& block, RowOf row_of) {
  BadValues bad;
  auto note = [&](std::int64_t row, const char* dataset, const std::string& what) {
    if (bad.count++ == 0) bad.first_row = row, bad.first_dataset = dataset, bad.first_what = what;
  };
  for (std::int64_t i = 0; i < block.events(); ++i) {
    const std::int64_t row = row_of(i);
    const double e = block.incident_energies[static_cast<std::size_t>(i)];
    if (!std::isfinite(e))
      note(row, kIncidentEnergies, "incident energy is " + std::to_string(e));
    else if (e <= 0)
      note(row, kIncidentEnergies, "incident energy " + std::to_string(e) + " MeV is not positive");
    const float* s = block.shower(i);
    for (std::int64_t v = 0; v < block.voxels; ++v) {
      if (!std::isfinite(s[v]))
        note(row, kShowers, "voxel " + std::to_string(v) + " is " + std::to_string(s[v]));
      else if (s[v] < 0)
        note(row, kShowers, "voxel " + std::to_string(v) + " has negative energy " + std::to_string(s[v]) + " MeV");
    }
  }
  return bad;
}

}  // namespace

BadValues find_bad_values(const ShowerBlock& block) {
  return find_bad_values_of(block, [&](std::int64_t i) { return block.first_event + i; });
}

BadValues find_bad_values(const ShowerBlock& block, const std::vector<std::int64_t>& rows) {
  if (static_cast<std::int64_t>(rows.size()) != block.events())
    throw std::logic_error("qvae::data::find_bad_values: one row index per event expected");
  return find_bad_values_of(block, [&](std::int64_t i) { return rows[static_cast<std::size_t>(i)]; });
}

BadValues combine(const BadValues& local, const par::Communicator& comm) {
  BadValues global;
  global.count = comm.sum(local.count);
  if (global.count == 0) return global;
  // Blocks are ordered by rank, so the lowest rank with a bad value holds the first one.
  const int first_rank = comm.min(local.any() ? comm.rank() : comm.size());
  global.first_row = comm.broadcast_value(local.first_row, first_rank);
  global.first_dataset = local.first_dataset;
  global.first_what = local.first_what;
  comm.broadcast(global.first_dataset, first_rank);
  comm.broadcast(global.first_what, first_rank);
  return global;
}

void throw_bad_values(const std::string& path, const BadValues& bad) {
  throw core::InputError(core::describe(std::to_string(bad.count) + " bad value(s); first at row " +
                                            std::to_string(bad.first_row) + ": " + bad.first_what,
                                        io::where_text(path, bad.first_dataset),
                                        "showers must be finite and >= 0, incident energies > 0"));
}

namespace {

std::string stored_float_type(const io::File& file, const std::string& dataset) {
  const std::string type = io::stored_type(file, dataset);
  if (type.rfind("float", 0) != 0)
    throw core::InputError(core::describe("dataset holds " + type + ", not floating-point values",
                                          io::where_text(file.path(), dataset), "expected float32 or float64"));
  return type == "float32" ? "float32" : "float64";
}

}  // namespace

CaloReader::CaloReader(const std::string& path, const par::Communicator& comm, const std::string& geometry_name)
    : file_(io::File::open_parallel(path, comm)), comm_(comm) {
  const io::DatasetShape energies = io::dataset_shape(file_, kIncidentEnergies);
  const io::DatasetShape showers = io::dataset_shape(file_, kShowers);
  if (energies.dims.size() != 2 || energies.dims[1] != 1)
    throw core::InputError(core::describe("dataset has shape " + energies.text() + ", expected (N, 1)",
                                          io::where_text(path, kIncidentEnergies)));
  if (showers.dims.size() != 2)
    throw core::InputError(core::describe("dataset has shape " + showers.text() + ", expected (N, voxels)",
                                          io::where_text(path, kShowers)));
  if (energies.rows() != showers.rows())
    throw core::InputError(core::describe("row counts differ: " + std::to_string(showers.rows()) + " showers but " +
                                              std::to_string(energies.rows()) + " incident energies",
                                          io::where_text(path, kShowers)));
  events_ = showers.rows();
  const std::int64_t voxels = showers.dims[1];
  std::string name = geometry_name;
  if (name.empty() && io::has_attribute(file_, "/", "geometry")) {
    const std::string stored = io::get_string_attribute(file_, "/", "geometry");
    for (const auto& known : geometry::Geometry::builtin_names())
      if (stored == known) name = stored;
  }
  try {
    geometry_ = name.empty() ? geometry::Geometry::detect(voxels) : geometry::Geometry::builtin(name);
  } catch (const core::Error& e) {
    core::throw_error(e.code(), std::string(e.what()) + ", " + io::where_text(path, kShowers));
  }
  if (geometry_.voxels() != voxels)
    throw core::InputError(core::describe("dataset has " + std::to_string(voxels) +
                                              " voxels per shower but geometry '" + geometry_.name() + "' has " +
                                              std::to_string(geometry_.voxels()),
                                          io::where_text(path, kShowers), "pass the right --geometry"));
  stored_float_type(file_, kIncidentEnergies);
  shower_dtype_ = stored_float_type(file_, kShowers);
}

ShowerBlock CaloReader::read(const par::Block& rows) const {
  ShowerBlock block;
  block.first_event = rows.offset;
  block.voxels = geometry_.voxels();
  io::read_rows(file_, kIncidentEnergies, rows, 1, block.incident_energies);
  io::read_rows(file_, kShowers, rows, block.voxels, block.showers);
  return block;
}

ShowerBlock CaloReader::read_checked(const par::Block& rows) const {
  ShowerBlock block = read(rows);
  const BadValues bad = combine(find_bad_values(block), comm_);
  if (bad.any()) {
    // Every rank knows the same facts: throw the same agreed error everywhere.
    par::run_agreed(comm_, [&] { throw_bad_values(path(), bad); });
  }
  return block;
}

std::vector<double> CaloReader::incident_energies() const {
  std::vector<double> energies;
  io::read_rows(file_, kIncidentEnergies, par::Block{0, events_}, 1, energies);
  return energies;
}

namespace {
const WriteSettings& checked(const WriteSettings& settings, const std::string& path) {
  if (settings.shower_dtype != "float32" && settings.shower_dtype != "float64")
    throw core::UsageError(core::describe("unknown shower dtype '" + settings.shower_dtype + "'", "output " + path,
                                          "use float32 or float64"));
  return settings;
}
io::WriteOptions write_options(const WriteSettings& settings) {
  io::WriteOptions options;
  options.chunk_rows = settings.chunk_rows;
  options.gzip_level = settings.gzip_level;
  return options;
}
}  // namespace

CaloWriter::CaloWriter(const std::string& path, const par::Communicator& comm, const geometry::Geometry& geometry,
                       std::int64_t total_events, const io::Provenance& provenance, const WriteSettings& settings)
    : file_(io::OutputFile::create(path, comm)),
      geometry_(geometry),
      wide_(checked(settings, path).shower_dtype == "float64"),
      energies_(file_, kIncidentEnergies, total_events, 1, write_options(settings)) {
  if (wide_)
    wide_showers_.emplace(file_, kShowers, total_events, geometry.voxels(), write_options(settings));
  else
    narrow_showers_.emplace(file_, kShowers, total_events, geometry.voxels(), write_options(settings));
  io::write_provenance(file_, provenance);
  io::set_attribute(file_, "/", "geometry", geometry.name());
}

void CaloWriter::write(const ShowerBlock& block, std::int64_t first_row) {
  if (block.voxels != geometry_.voxels() ||
      static_cast<std::int64_t>(block.showers.size()) != block.events() * block.voxels)
    throw std::logic_error("qvae::data::CaloWriter::write: block does not match geometry " + geometry_.name());
  const par::Block rows{first_row, block.events()};
  energies_.write(rows, block.incident_energies.data());
  if (wide_) {
    const std::vector<double> wide(block.showers.begin(), block.showers.end());
    wide_showers_->write(rows, wide.data());
  } else {
    narrow_showers_->write(rows, block.showers.data());
  }
}

void CaloWriter::commit() {
  energies_.close();
  if (narrow_showers_) narrow_showers_->close();
  if (wide_showers_) wide_showers_->close();
  file_.commit();
}

void write_calo_file(const std::string& path, const par::Communicator& comm, const geometry::Geometry& geometry,
                     const ShowerBlock& block, const io::Provenance& provenance, const WriteSettings& settings) {
  const par::Block rows = par::block_from_count(block.events(), comm);
  CaloWriter writer(path, comm, geometry, comm.sum(block.events()), provenance, settings);
  writer.write(block, rows.offset);
  writer.commit();
}

}  // namespace qvae::data
