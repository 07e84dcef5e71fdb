// qvae bench <subject>: throughput measurements, run as real jobs (any rank
// count), never as timed tests.  Results and commands: docs/performance.md.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/sim/gflash.hpp"

#include <optional>

namespace qvae::cli {
namespace {

constexpr std::uint32_t kBenchStreamDomain = 0xBE1;

/// Row `row` of the benchmark matrix: a pure function of (seed, row), so the
/// data, and its check on read, do not depend on the rank count.
void fill_row(std::uint64_t seed, std::int64_t row, float* out, std::int64_t cols) {
  core::Philox rng(seed, core::stream_id(kBenchStreamDomain, static_cast<std::uint64_t>(row)));
  for (std::int64_t c = 0; c < cols; ++c) out[c] = rng.uniform_float();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int bench_io(Context& context, CommandLine& cli) {
  const auto& vm = cli.values();
  const std::int64_t rows = vm["rows"].as<std::int64_t>();
  const std::int64_t cols = vm["cols"].as<std::int64_t>();
  const int repeats = vm["repeats"].as<int>();
  const std::string dir = vm["dir"].as<std::string>();
  const std::int64_t chunk_rows = vm["chunk-rows"].as<std::int64_t>();
  par::run_agreed(context.world, [&] {
    if (rows < 1 || cols < 1 || repeats < 1 || chunk_rows < 0)
      throw core::UsageError(
          core::describe("--rows, --cols and --repeats must be >= 1, --chunk-rows >= 0", "qvae bench io"));
    if (!std::filesystem::is_directory(dir))
      throw core::UsageError(
          core::describe("directory '" + dir + "' does not exist", "qvae bench io --dir", "create it or pass another"));
  });
  const par::Communicator& comm = context.world;
  const par::Block block = par::my_block(rows, comm);
  const std::uint64_t seed = cli.run().seed;
  std::vector<float> data(static_cast<std::size_t>(block.count * cols));
  for (std::int64_t r = 0; r < block.count; ++r)
    fill_row(seed, block.offset + r, &data[static_cast<std::size_t>(r * cols)], cols);

  const std::string path = (std::filesystem::path(dir) / "qvae-bench-io.h5").string();
  const double megabytes = static_cast<double>(rows) * static_cast<double>(cols) * sizeof(float) / 1e6;
  std::vector<double> write_s, read_s;
  bool collective_write = true, collective_read = true, verified = true;
  core::Progress progress("bench io", static_cast<std::uint64_t>(repeats), "repeats", comm.is_root(),
                          cli.run().progress, cli.run().progress_interval_s);
  for (int rep = 0; rep < repeats; ++rep) {
    comm.barrier();
    core::Stopwatch t0;
    {
      io::OutputFile out = io::OutputFile::create(path, comm);
      io::WriteOptions options;
      options.chunk_rows = chunk_rows;
      const io::IoReport report = io::write_rows(out, "showers", data.data(), block.count, cols, options);
      collective_write = collective_write && report.collective;
      io::write_provenance(out, {context.command_line, seed, cli.config_ini()});
      out.commit();
    }
    write_s.push_back(comm.max(t0.seconds()));

    std::vector<float> back;
    comm.barrier();
    t0.restart();
    {
      io::File in = io::File::open_parallel(path, comm);
      const io::IoReport report = io::read_rows(in, "showers", block, cols, back);
      collective_read = collective_read && report.collective;
    }
    read_s.push_back(comm.max(t0.seconds()));
    verified = comm.all(verified && back == data);
    progress.advance();
  }
  progress.finish();
  if (comm.is_root()) std::remove(path.c_str());
  if (!verified)
    throw core::RuntimeError(core::describe("data read back differs from data written", "file '" + path + "'",
                                            "the file system or MPI-IO layer is corrupting data"));

  const nlohmann::json summary = {
      {"benchmark", "io"},
      {"ranks", comm.size()},
      {"rows", rows},
      {"cols", cols},
      {"dtype", "float32"},
      {"megabytes", megabytes},
      {"repeats", repeats},
      {"chunk_rows", chunk_rows},
      {"write_s", write_s},
      {"read_s", read_s},
      {"write_mb_per_s", megabytes / median(write_s)},
      {"read_mb_per_s", megabytes / median(read_s)},
      {"collective_write", collective_write},
      {"collective_read", collective_read},
      {"verified", verified},
  };
  if (cli.json()) {
    core::print_json_summary(summary, comm.is_root());
  } else if (comm.is_root()) {
    std::fprintf(stderr,
                 "bench io: %lld x %lld float32 (%.1f MB) on %d rank(s), median of %d: write %.1f MB/s, read %.1f MB/s "
                 "(collective: write %s, read %s; data verified)\n",
                 static_cast<long long>(rows), static_cast<long long>(cols), megabytes, comm.size(), repeats,
                 summary["write_mb_per_s"].get<double>(), summary["read_mb_per_s"].get<double>(),
                 collective_write ? "yes" : "no", collective_read ? "yes" : "no");
  }
  return 0;
}

/// Showers per second of the GFlash simulator alone (no I/O): each rank
/// simulates its block of events; the rate is total events over the slowest rank.
int bench_simulate(Context& context, CommandLine& cli) {
  const auto& vm = cli.values();
  const std::int64_t events = vm["events"].as<std::int64_t>();
  const par::Communicator& comm = context.world;
  std::optional<sim::GFlashSimulator> simulator;
  par::run_agreed(comm, [&] {
    if (events < 1) throw core::UsageError(core::describe("--events must be >= 1", "qvae bench simulate"));
    simulator.emplace(geometry::Geometry::builtin(vm["geometry"].as<std::string>()),
                      sim::parameters_from(cli.config()));
  });
  const par::Block mine = par::my_block(events, comm);
  const std::int64_t voxels = simulator->geometry().voxels();
  std::vector<double> energies(static_cast<std::size_t>(mine.count));
  std::vector<float> showers(static_cast<std::size_t>(mine.count * voxels));
  comm.barrier();
  core::Stopwatch t0;
  sim::simulate_events(*simulator, sim::EnergySpectrum{}, cli.run().seed, mine.offset, mine.count, energies.data(),
                       showers.data());
  const double mine_s = t0.seconds();
  const double seconds = comm.max(mine_s);
  const nlohmann::json summary = {
      {"benchmark", "simulate"},
      {"geometry", simulator->geometry().name()},
      {"events", events},
      {"ranks", comm.size()},
      {"seconds", seconds},
      {"showers_per_s", events / seconds},
      {"showers_per_s_per_rank", events / seconds / comm.size()},
  };
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr,
                 "bench simulate: %lld %s showers (log-uniform 1 GeV-1 TeV) on %d rank(s) in %.3f s: %.0f showers/s, "
                 "%.0f per rank\n",
                 static_cast<long long>(events), simulator->geometry().name().c_str(), comm.size(), seconds,
                 summary["showers_per_s"].get<double>(), summary["showers_per_s_per_rank"].get<double>());
  return 0;
}

}  // namespace

void declare_bench_options(po::options_description& options) {
  options.add_options()("subject", po::value<std::string>(), "io | simulate | gibbs | logz | train")(
      "rows", po::value<std::int64_t>()->default_value(20000), "io: rows (showers) in the dataset")(
      "cols", po::value<std::int64_t>()->default_value(6480), "io: values per row (6480 = ds2 voxels)")(
      "chunk-rows", po::value<std::int64_t>()->default_value(0), "io: chunk size in rows (0 = contiguous)")(
      "repeats", po::value<int>()->default_value(3), "io: write+read repetitions")(
      "dir", po::value<std::string>()->default_value("."), "io: directory for the temporary file")(
      "events", po::value<std::int64_t>()->default_value(4000), "simulate: showers in total")(
      "geometry", po::value<std::string>()->default_value("ds2"), "simulate: ds1-photons | ds1-pions | ds2 | ds3")(
      "nodes-per-partition", po::value<int>()->default_value(302), "gibbs: nodes per partition of the 4-partite model")(
      "topology", po::value<std::string>()->default_value("pegasus"), "gibbs: hardware graph of the model")(
      "size", po::value<int>()->default_value(16), "gibbs: graph size m")(
      "chains", po::value<std::int64_t>()->default_value(1024), "gibbs: chains in total")(
      "sweeps", po::value<std::int64_t>()->default_value(100), "gibbs: block-Gibbs sweeps")(
      "backend", po::value<std::string>()->default_value("kokkos"), "gibbs: kokkos | torch")(
      "temps", po::value<std::int64_t>()->default_value(200), "logz: temperatures of the rate measurement")(
      "sweeps-per-temp", po::value<std::int64_t>()->default_value(1), "logz: Gibbs sweeps per temperature")(
      "schedule", po::value<std::string>()->default_value("adaptive"), "logz: linear | piecewise | adaptive")(
      "weight-sigma", po::value<double>()->default_value(2.0), "logz: weight std of the hard model")(
      "bias-sigma", po::value<double>()->default_value(1.0), "logz: bias std of the hard model")(
      "start-temps", po::value<std::int64_t>()->default_value(1000), "logz: first K of the convergence search")(
      "equilibration-sweeps", po::value<std::int64_t>()->default_value(1000), "logz: sweeps before reverse AIS")(
      "converge-seconds", po::value<double>()->default_value(600),
      "logz: time limit of the convergence search (0 skips)")(
      "target-gap", po::value<double>()->default_value(0.1, "0.1"), "logz: |AIS - RAIS| target, nats")(
      "target-stderr", po::value<double>()->default_value(0.05, "0.05"), "logz: bootstrap error target, nats")(
      "batch-size", po::value<std::int64_t>()->default_value(32), "train: global batch size (split over ranks)")(
      "batches", po::value<int>()->default_value(3), "train: timed optimiser steps after one warm-up step")(
      "threads", po::value<int>()->default_value(1), "train: LibTorch intra-op threads per rank");
  add_compute_device_option(options, "gibbs --backend torch's chains");
}

int run_bench(Context& context) {
  CommandLine cli("bench", "qvae bench <subject> [options]",
                  "Benchmarks, run as jobs (alone or under mpirun/srun).  Subjects:\n"
                  "  io    parallel HDF5 write + read of a (rows, cols) float32 dataset in row\n"
                  "        blocks; reports median MB/s over repeats and whether HDF5 did the\n"
                  "        transfers collectively; verifies every value read back.\n"
                  "  simulate  GFlash showers/s (no I/O), events spread over ranks.\n"
                  "  gibbs     block-Gibbs unit updates/s of a 4-partite RBM (kokkos or torch backend).\n"
                  "  logz      AIS / reverse-AIS annealing rate and the temperatures that converge.\n"
                  "  train     data-parallel training steps of the configured model: showers/s,\n"
                  "            peak memory per rank, and where a step's time goes.");
  declare_bench_options(cli.options());
  cli.positional().add("subject", 1);
  if (!cli.parse(context)) return 0;
  std::string subject = cli.values().count("subject") ? cli.values()["subject"].as<std::string>() : "";
  par::run_agreed(context.world, [&] {
    if (subject.empty())
      throw core::UsageError(core::describe("no benchmark subject given", "qvae bench", "try `qvae bench io`"));
    if (subject != "io" && subject != "simulate" && subject != "gibbs" && subject != "logz" && subject != "train")
      throw core::UsageError(core::describe("unknown benchmark subject '" + subject + "'", "qvae bench",
                                            "available: io, simulate, gibbs, logz, train"));
  });
  if (subject == "gibbs") return bench_gibbs(context, cli);
  if (subject == "logz") return bench_logz(context, cli);
  if (subject == "train") return bench_train(context, cli);
  return subject == "io" ? bench_io(context, cli) : bench_simulate(context, cli);
}

}  // namespace qvae::cli
