// qvae inspect FILE: validate a CaloChallenge shower file and summarise it.
// Rows are streamed in chunks per rank, so any file size fits in memory.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::cli {

void declare_inspect_options(po::options_description& options) {
  options.add_options()("file", po::value<std::string>(), "the HDF5 file")(
      "geometry", po::value<std::string>()->default_value(""),
      "ds1-photons | ds1-pions | ds2 | ds3 (default: the file's attribute, else detected from the voxel count)")(
      "chunk-rows", po::value<std::int64_t>()->default_value(1024), "rows read per rank per step");
}

int run_inspect(Context& context) {
  CommandLine cli("inspect", "qvae inspect FILE [--geometry G] [--chunk-rows N] [--json]",
                  "Validates a CaloChallenge shower file (datasets, shapes, geometry, values) and\n"
                  "summarises it.  Bad values (NaN/inf, negative voxel energy, incident energy <= 0)\n"
                  "are counted; if there are any the summary is printed and the command exits 3\n"
                  "naming the first offending row.  JSON keys: events, voxels, geometry, e_inc_min,\n"
                  "e_inc_max, mean_etot_over_einc, zero_fraction, bad_values, shower_dtype.");
  declare_inspect_options(cli.options());
  cli.positional().add("file", 1);
  if (!cli.parse(context)) return 0;
  const par::Communicator& comm = context.world;
  const std::int64_t chunk = cli.values()["chunk-rows"].as<std::int64_t>();
  std::optional<data::CaloReader> reader;
  par::run_agreed(comm, [&] {
    if (!cli.values().count("file"))
      throw core::UsageError(core::describe("no file given", "qvae inspect", "usage: qvae inspect FILE"));
    if (chunk < 1) throw core::UsageError(core::describe("--chunk-rows must be >= 1", "qvae inspect"));
    reader.emplace(cli.values()["file"].as<std::string>(), comm, cli.values()["geometry"].as<std::string>());
  });

  const par::Block mine = par::my_block(reader->events(), comm);
  // Every rank must take part in every collective read: agree on the step count.
  const par::CollectiveChunks chunks(mine, chunk, comm);
  double e_min = std::numeric_limits<double>::infinity(), e_max = -e_min, ratio_sum = 0;
  std::int64_t good_rows = 0, zeros = 0, voxels_seen = 0, done = 0;
  data::BadValues bad_local;
  core::Progress progress("inspect", static_cast<std::uint64_t>(reader->events()), "showers", comm.is_root(),
                          cli.run().progress, cli.run().progress_interval_s);
  for (std::int64_t step = 0; step < chunks.steps(); ++step) {
    const data::ShowerBlock block = reader->read(chunks[step]);
    const data::BadValues bad = data::find_bad_values(block);
    if (bad.any() && !bad_local.any())
      bad_local = bad;
    else
      bad_local.count += bad.count;
    for (std::int64_t i = 0; i < block.events(); ++i) {
      const double e = block.incident_energies[static_cast<std::size_t>(i)];
      const float* s = block.shower(i);
      double total = 0;
      bool row_ok = std::isfinite(e) && e > 0;
      for (std::int64_t v = 0; v < block.voxels; ++v) {
        row_ok = row_ok && std::isfinite(s[v]) && s[v] >= 0;
        total += static_cast<double>(s[v]);
        zeros += s[v] == 0.0f;
      }
      voxels_seen += block.voxels;
      if (!row_ok) continue;  // bad rows are counted, not averaged
      e_min = std::min(e_min, e), e_max = std::max(e_max, e);
      ratio_sum += total / e;
      ++good_rows;
    }
    done += comm.sum(block.events());
    progress.update(static_cast<std::uint64_t>(done));
  }
  progress.finish();
  const data::BadValues bad = data::combine(bad_local, comm);
  e_min = comm.min(e_min), e_max = comm.max(e_max);
  ratio_sum = comm.sum(ratio_sum);
  good_rows = comm.sum(good_rows), zeros = comm.sum(zeros), voxels_seen = comm.sum(voxels_seen);

  const nlohmann::json summary = {
      {"file", reader->path()},
      {"events", reader->events()},
      {"voxels", reader->geometry().voxels()},
      {"geometry", reader->geometry().name()},
      {"shower_dtype", reader->shower_dtype()},
      {"e_inc_min", core::finite_or_null(e_min)},
      {"e_inc_max", core::finite_or_null(e_max)},
      {"mean_etot_over_einc",
       good_rows ? nlohmann::json(ratio_sum / static_cast<double>(good_rows)) : nlohmann::json()},
      {"zero_fraction",
       voxels_seen ? nlohmann::json(static_cast<double>(zeros) / static_cast<double>(voxels_seen)) : nlohmann::json()},
      {"bad_values", bad.count},
  };
  if (cli.json()) {
    core::print_json_summary(summary, comm.is_root());
  } else if (comm.is_root()) {
    std::fprintf(stderr, "%s: %lld events x %lld voxels, geometry %s, showers %s\n", reader->path().c_str(),
                 static_cast<long long>(reader->events()), static_cast<long long>(reader->geometry().voxels()),
                 reader->geometry().name().c_str(), reader->shower_dtype().c_str());
    if (good_rows)
      std::fprintf(stderr, "  E_inc %.6g .. %.6g MeV, mean E_tot/E_inc %.4f, zero voxels %.4f, bad values %lld\n",
                   e_min, e_max, ratio_sum / static_cast<double>(good_rows),
                   static_cast<double>(zeros) / static_cast<double>(voxels_seen), static_cast<long long>(bad.count));
  }
  if (bad.any()) par::run_agreed(comm, [&] { data::throw_bad_values(reader->path(), bad); });
  return 0;
}

}  // namespace qvae::cli
