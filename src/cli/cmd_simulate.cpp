// qvae simulate: GFlash-style electromagnetic showers into a CaloChallenge file.
// Events are spread over ranks in contiguous blocks and streamed to disk in
// steps; each event's randomness is keyed by (seed, event index), so the file
// is identical for any rank count.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/lists.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/sim/gflash.hpp"

namespace qvae::cli {
namespace {

std::vector<double> parse_energy_list(const std::string& text) {
  const std::string remedy = "write e.g. --energies 256,512,1024 or ds1";
  const std::vector<double> values = core::parse_list<double>(text, "qvae simulate --energies", remedy);
  for (double v : values)
    if (!(v > 0))
      throw core::UsageError(core::describe("energy " + std::to_string(v) + " is not a positive number of MeV",
                                            "qvae simulate --energies", remedy));
  return values;
}

}  // namespace

void declare_simulate_options(po::options_description& options) {
  options.add_options()("out", po::value<std::string>(), "output HDF5 file")(
      "events", po::value<std::int64_t>()->default_value(10000), "number of showers")(
      "geometry", po::value<std::string>()->default_value("ds2"), "ds1-photons | ds1-pions | ds2 | ds3")(
      "seed", po::value<std::uint64_t>(), "master seed (default: run.seed)")(
      "e-min", po::value<double>()->default_value(1e3), "lowest incident energy, MeV")(
      "e-max", po::value<double>()->default_value(1e6), "highest incident energy, MeV")(
      "energies", po::value<std::string>(), "discrete energies in MeV, comma-separated, or 'ds1' (2^8..2^22)")(
      "dtype", po::value<std::string>()->default_value("float32"), "stored voxel type: float32 | float64")(
      "chunk-rows", po::value<std::int64_t>()->default_value(0), "HDF5 chunk size in rows (0 = contiguous)")(
      "gzip", po::value<int>()->default_value(0), "gzip level 1-9 (needs --chunk-rows)")(
      "step-events", po::value<std::int64_t>()->default_value(512), "events per rank simulated between writes");
}

int run_simulate(Context& context) {
  CommandLine cli("simulate", "qvae simulate --out FILE [--events N] [--geometry G] [--seed S] [options]",
                  "Generates GFlash-style electromagnetic showers (Grindhammer-Peters profiles in\n"
                  "the effective W/Si medium of CaloChallenge ds2, spot and sampling fluctuations,\n"
                  "15.15 keV readout threshold) into a CaloChallenge file.  Physics constants are\n"
                  "the [sim] config keys (`qvae config show`).  Incident energies are log-uniform in\n"
                  "[--e-min, --e-max] MeV, or drawn from a discrete --energies list.");
  declare_simulate_options(cli.options());
  if (!cli.parse(context)) return 0;
  const auto& vm = cli.values();
  const par::Communicator& comm = context.world;

  std::optional<sim::GFlashSimulator> simulator;
  sim::EnergySpectrum spectrum;
  data::WriteSettings settings;
  std::string out;
  const std::int64_t events = vm["events"].as<std::int64_t>();
  const std::int64_t step_events = vm["step-events"].as<std::int64_t>();
  const std::uint64_t seed = vm.count("seed") ? vm["seed"].as<std::uint64_t>() : cli.run().seed;
  par::run_agreed(comm, [&] {
    if (!vm.count("out"))
      throw core::UsageError(core::describe("no output file given", "qvae simulate", "pass --out FILE"));
    out = vm["out"].as<std::string>();
    if (events < 0) throw core::UsageError(core::describe("--events must be >= 0", "qvae simulate"));
    if (step_events < 1) throw core::UsageError(core::describe("--step-events must be >= 1", "qvae simulate"));
    if (vm.count("energies")) {
      const std::string list = vm["energies"].as<std::string>();
      spectrum = list == "ds1" ? sim::EnergySpectrum::ds1_discrete() : sim::EnergySpectrum{};
      if (list != "ds1") {
        spectrum.kind = sim::EnergySpectrum::Kind::discrete;
        spectrum.values = parse_energy_list(list);
      }
    } else {
      spectrum.e_min = vm["e-min"].as<double>();
      spectrum.e_max = vm["e-max"].as<double>();
      if (!(spectrum.e_min > 0) || !(spectrum.e_max >= spectrum.e_min))
        throw core::UsageError(core::describe("need 0 < --e-min <= --e-max", "qvae simulate"));
    }
    settings.shower_dtype = vm["dtype"].as<std::string>();
    settings.chunk_rows = vm["chunk-rows"].as<std::int64_t>();
    settings.gzip_level = vm["gzip"].as<int>();
    if (settings.gzip_level < 0 || settings.gzip_level > 9 || (settings.gzip_level > 0 && settings.chunk_rows < 1))
      throw core::UsageError(core::describe("--gzip must be 0-9 and needs --chunk-rows > 0", "qvae simulate"));
    simulator.emplace(geometry::Geometry::builtin(vm["geometry"].as<std::string>()),
                      sim::parameters_from(cli.config()));
  });

  const geometry::Geometry& geometry = simulator->geometry();
  const std::int64_t voxels = geometry.voxels();
  const par::Block mine = par::my_block(events, comm);
  const par::CollectiveChunks chunks(mine, step_events, comm);
  std::optional<data::CaloWriter> writer;
  par::run_agreed(comm, [&] {
    writer.emplace(out, comm, geometry, events, io::Provenance{context.command_line, seed, cli.config_ini()}, settings);
  });

  core::Progress progress("simulate", static_cast<std::uint64_t>(events), "showers", comm.is_root(), cli.run().progress,
                          cli.run().progress_interval_s);
  data::ShowerBlock block;
  block.voxels = voxels;
  std::int64_t done = 0;
  const core::Stopwatch t0;
  for (std::int64_t step = 0; step < chunks.steps(); ++step) {
    block.first_event = chunks[step].offset;
    const std::int64_t n = chunks[step].count;
    block.incident_energies.resize(static_cast<std::size_t>(n));
    block.showers.resize(static_cast<std::size_t>(n * voxels));
    sim::simulate_events(*simulator, spectrum, seed, block.first_event, n, block.incident_energies.data(),
                         block.showers.data());
    writer->write(block);
    done += comm.sum(n);
    progress.update(static_cast<std::uint64_t>(done));
  }
  writer->commit();
  progress.finish();
  const double seconds = comm.max(t0.seconds());
  const nlohmann::json summary = {{"out", out},
                                  {"events", events},
                                  {"geometry", geometry.name()},
                                  {"voxels", voxels},
                                  {"seed", seed},
                                  {"ranks", comm.size()},
                                  {"seconds", seconds},
                                  {"showers_per_s", seconds > 0 ? events / seconds : 0.0}};
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "simulate: %lld %s showers -> %s in %.2f s (%.0f showers/s on %d rank(s))\n",
                 static_cast<long long>(events), geometry.name().c_str(), out.c_str(), seconds,
                 summary["showers_per_s"].get<double>(), comm.size());
  return 0;
}

}  // namespace qvae::cli
