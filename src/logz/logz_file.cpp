// Latent-code inputs and the qvae-logz output file (qvae/logz/logz_file.hpp,
// docs/formats.md "qvae-logz v1").
#include "qvae/logz/logz_file.hpp"

#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::logz {
namespace {

std::string latent_dataset(const io::File& file) {
  if (file.has("latents")) return "latents";
  if (file.has("samples")) return "samples";
  throw core::InputError(core::describe("no dataset 'latents' or 'samples'", io::where_text(file.path()),
                                        "give latent codes as 'latents' (D, N) of 0/1 in node order"));
}

std::int64_t checked_rows(const io::File& file, const std::string& name, const rbm::BoltzmannMachine& machine) {
  const io::DatasetShape shape = io::dataset_shape(file, name);
  if (shape.dims.size() != 2 || shape.dims[1] != machine.num_nodes() || shape.dims[0] < 1)
    throw core::InputError(core::describe(
        "latent codes of shape " + shape.text() + " do not fit a model of " + std::to_string(machine.num_nodes()) +
            " units",
        io::where_text(file.path(), name),
        "give (D, " + std::to_string(machine.num_nodes()) + ") codes, D >= 1, one column per node in node order"));
  return shape.dims[0];
}

void require_binary(const std::vector<std::uint8_t>& values, std::int64_t units, std::int64_t first_row,
                    const std::string& where) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] > 1)
      throw core::InputError(core::describe("value " + std::to_string(int{values[i]}) + " in row " +
                                                std::to_string(first_row + static_cast<std::int64_t>(i) / units),
                                            where, "latent codes are 0 or 1"));
}

/// Rank 0 writes the whole (small) vector; the others take part with no rows.
void write_small(io::File& file, const std::string& name, const std::vector<double>& values,
                 const par::Communicator& comm) {
  const std::int64_t size = static_cast<std::int64_t>(values.size());
  io::RowWriter<double> writer(file, name, size, 0);
  writer.write(comm.is_root() ? par::Block{0, size} : par::Block{0, 0}, values.data());
}

/// Every rank writes its block of the per-chain values (held whole on every rank).
void write_chains(io::File& file, const std::string& name, const std::vector<double>& all,
                  const par::Communicator& comm) {
  const std::int64_t total = static_cast<std::int64_t>(all.size());
  const par::Block block = par::my_block(total, comm);
  io::RowWriter<double> writer(file, name, total, 0);
  writer.write(block, all.data() + block.offset);
}

}  // namespace

std::int64_t latent_rows(const std::string& path, const par::Communicator& comm, const rbm::BoltzmannMachine& machine) {
  const io::File file = io::File::open_parallel(path, comm);
  return checked_rows(file, latent_dataset(file), machine);
}

rbm::ChainBlock read_latents_for_chains(const std::string& path, const par::Communicator& comm,
                                        const rbm::BoltzmannMachine& machine, std::int64_t chains) {
  const io::File file = io::File::open_parallel(path, comm);
  const std::string name = latent_dataset(file);
  const std::int64_t rows = checked_rows(file, name, machine);
  const std::int64_t units = machine.num_nodes();
  const par::Block block = par::my_block(chains, comm);
  rbm::ChainBlock out;
  out.first_chain = block.offset;
  out.count = block.count;
  out.units = units;
  out.sweeps.assign(static_cast<std::size_t>(block.count), 0);
  if (chains <= rows) {  // chain c = row c: each rank reads its own rows
    io::read_rows(file, name, block, units, out.states);
    // Each rank checks its own rows: agree, so a bad row ends every rank alike.
    par::run_agreed(comm, [&] { require_binary(out.states, units, block.offset, io::where_text(path, name)); });
    return out;
  }
  const std::vector<std::uint8_t> all = io::read_all<std::uint8_t>(file, name, units);
  require_binary(all, units, 0, io::where_text(path, name));
  out.states.resize(static_cast<std::size_t>(block.count * units));
  for (std::int64_t c = 0; c < block.count; ++c) {
    const std::int64_t row = (block.offset + c) % rows;
    std::copy(all.begin() + row * units, all.begin() + (row + 1) * units, out.states.begin() + c * units);
  }
  return out;
}

std::vector<std::vector<std::uint8_t>> read_partition0_codes(const std::string& path, const par::Communicator& comm,
                                                             const rbm::BoltzmannMachine& machine) {
  const io::File file = io::File::open_parallel(path, comm);
  const std::vector<std::int64_t>& clamped = machine.partition_nodes(0);
  const std::int64_t width = static_cast<std::int64_t>(clamped.size());
  const bool codes_only = file.has("values");
  const std::string name = codes_only ? "values" : latent_dataset(file);
  const std::int64_t columns = codes_only ? width : machine.num_nodes();
  const io::DatasetShape shape = io::dataset_shape(file, name);
  if (shape.dims.size() != 2 || shape.dims[1] != columns || shape.dims[0] < 1)
    throw core::InputError(core::describe(
        "codes of shape " + shape.text() + " do not fit: expected (R, " + std::to_string(columns) + ")",
        io::where_text(path, name),
        codes_only ? "one column per unit of partition 0, in node order" : "full states, one column per node"));
  const std::vector<std::uint8_t> all = io::read_all<std::uint8_t>(file, name, columns);
  require_binary(all, columns, 0, io::where_text(path, name));
  std::vector<std::vector<std::uint8_t>> codes(static_cast<std::size_t>(shape.dims[0]));
  for (std::size_t r = 0; r < codes.size(); ++r)
    for (std::int64_t k = 0; k < width; ++k)
      codes[r].push_back(all[r * static_cast<std::size_t>(columns) +
                             static_cast<std::size_t>(codes_only ? k : clamped[static_cast<std::size_t>(k)])]);
  return codes;
}

void write_logz_file(const std::string& path, const LogzReport& report, const LogzRequest& request,
                     const LogzFileInfo& info, const io::Provenance& provenance, const par::Communicator& comm) {
  io::OutputFile file = io::OutputFile::create(path, comm);
  io::set_format(file, kLogzFormat, kLogzFormatVersion);
  io::write_provenance(file, provenance);
  io::set_attribute(file, "/", "rbm", info.rbm_path);
  io::set_attribute(file, "/", "nodes", info.nodes);
  io::set_attribute(file, "/", "couplers", info.couplers);
  io::set_attribute(file, "/", "partitions", info.partitions);
  io::set_attribute(file, "/", "method", std::string(to_string(report.method)));
  io::set_attribute(file, "/", "log_z0", report.log_z0);
  io::set_attribute(file, "/", "log_z", report.log_z());
  // The headline error combines the bootstrap error with half the bracket width
  // (LogzReport::combined_uncertainty); both parts are kept too.
  io::set_attribute(file, "/", "log_z_error", report.combined_uncertainty());
  io::set_attribute(file, "/", "log_z_error_stat", report.statistical_uncertainty());
  io::set_attribute(file, "/", "log_z_error_sys", report.systematic_uncertainty());
  std::map<std::string, double> series = info.series;
  series["log_z"] = report.log_z();
  series["log_z_error"] = report.combined_uncertainty();
  series["log_z_error_stat"] = report.statistical_uncertainty();
  series["log_z_error_sys"] = report.systematic_uncertainty();
  if (report.exact) {
    io::set_attribute(file, "/", "log_z_exact", report.exact->log_z);
    io::set_attribute(file, "/", "analytic_partition", static_cast<std::int64_t>(report.exact->analytic_partition));
    io::set_attribute(file, "/", "enumerated_units", report.exact->enumerated_units);
    series["log_z_exact"] = report.exact->log_z;
  }
  if (!report.betas.empty()) {
    io::set_attribute(file, "/", "schedule", std::string(to_string(report.schedule)));
    io::set_attribute(file, "/", "temperatures", static_cast<std::int64_t>(report.betas.size()) - 1);
    io::set_attribute(file, "/", "sweeps_per_temperature", request.sweeps_per_temperature);
    io::set_attribute(file, "/", "chains", request.chains);
    io::set_attribute(file, "/", "bootstrap_resamples", request.bootstrap_resamples);
    io::set_attribute(file, "/", "ess", report.ess());
    write_small(file, "schedule", report.betas, comm);
  }
  auto direction = [&](const std::optional<AnnealingRun>& run, const std::optional<Estimate>& estimate,
                       const std::string& name) {
    if (!run) return;
    io::set_attribute(file, "/", "backend", run->backend);
    io::set_attribute(file, "/", "chain_seed_" + name, run->sampler_seed);
    io::set_attribute(file, "/", "log_z_" + name, estimate->log_z);
    io::set_attribute(file, "/", "log_z_" + name + "_error", estimate->std_error);
    io::set_attribute(file, "/", "ess_" + name, estimate->ess);
    io::set_attribute(file, "/", "seconds_" + name, run->seconds);
    series["log_z_" + name] = estimate->log_z;
    series["log_z_" + name + "_error"] = estimate->std_error;
    write_chains(file, "log_weights_" + name, run->log_weights, comm);
  };
  direction(report.ais, report.ais_estimate, "ais");
  direction(report.rais, report.rais_estimate, "rais");
  if (report.rais) {
    io::set_attribute(file, "/", "reverse_start", std::string(to_string(report.reverse_start)));
    io::set_attribute(file, "/", "rais_is_bound", static_cast<std::int64_t>(report.rais_is_bound));
    io::set_attribute(file, "/", "equilibration_sweeps", report.equilibration_sweeps);
    if (!info.latents_path.empty()) io::set_attribute(file, "/", "latents", info.latents_path);
  }
  if (report.has_bracket()) {
    io::set_attribute(file, "/", "bracket",
                      std::vector<double>{report.ais_estimate->log_z, report.rais_estimate->log_z});
    io::set_attribute(file, "/", "bracket_inverted", static_cast<std::int64_t>(report.bracket_inverted()));
    io::set_attribute(file, "/", "bracket_inversion_significant",
                      static_cast<std::int64_t>(report.bracket_inversion_significant()));
  }
  if (report.raise) {
    io::set_attribute(file, "/", "ll_raise", report.raise->mean_log_likelihood);
    io::set_attribute(file, "/", "ll_raise_error", report.raise->std_error);
    io::set_attribute(file, "/", "raise_rows", report.raise->rows);
    series["ll_raise"] = report.raise->mean_log_likelihood;
    series["ll_raise_error"] = report.raise->std_error;
  }
  for (const auto& [name, value] : series) write_small(file, name, std::vector<double>{value}, comm);
  if (info.epoch) {
    io::RowWriter<std::int64_t> writer(file, "epoch", 1, 0);
    writer.write(comm.is_root() ? par::Block{0, 1} : par::Block{0, 0}, &*info.epoch);
  }
  file.commit();
}

}  // namespace qvae::logz
