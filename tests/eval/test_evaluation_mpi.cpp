// The evaluation end to end on files written here.  Under mpirun -np 2 the
// 2-rank results are compared with one rank's (MPI_COMM_SELF): feature tables,
// histogram counts, separation powers and FPD/KPD must be identical.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/eval/evaluation.hpp"
#include "qvae/eval/features.hpp"
#include "qvae/eval/rbm_energy.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/par/collective_error.hpp"

using namespace qvae;

namespace {

std::string shared_path(const par::Communicator& comm, const std::string& name) {
  std::string path = ::testing::TempDir() + "qvae_eval_" + name;
  comm.broadcast(path);
  return path;
}

/// Random showers with E_tot/E_inc near 1: about a quarter of the voxels hit,
/// exponential energies, zeroed below the ds2 threshold; `scale` multiplies voxels.
data::ShowerBlock random_showers(const geometry::Geometry& geometry, std::int64_t events, std::uint64_t seed,
                                 double scale) {
  data::ShowerBlock block;
  block.voxels = geometry.voxels();
  for (std::int64_t i = 0; i < events; ++i) {
    core::Philox rng(seed, static_cast<std::uint64_t>(i));
    const double e_inc = std::pow(10.0, 3 + 3 * rng.uniform());
    block.incident_energies.push_back(e_inc);
    const double mean = e_inc / (0.25 * static_cast<double>(block.voxels));
    for (std::int64_t v = 0; v < block.voxels; ++v) {
      double x = rng.uniform() < 0.25 ? -std::log(1 - rng.uniform()) * mean : 0.0;
      if (x < 0.5e-3 / 0.033) x = 0;
      block.showers.push_back(static_cast<float>(x * scale));
    }
  }
  return block;
}

/// Writes `events` showers (all from rank 0) collectively over `comm`.
std::string write_file(const par::Communicator& comm, const std::string& name, const std::string& geometry_name,
                       std::int64_t events, std::uint64_t seed, double scale = 1.0) {
  const std::string path = shared_path(comm, name);
  const auto geometry = geometry::Geometry::builtin(geometry_name);
  data::ShowerBlock block = comm.is_root() ? random_showers(geometry, events, seed, scale) : data::ShowerBlock{};
  block.voxels = geometry.voxels();
  data::write_calo_file(path, comm, geometry, block, io::Provenance{"test_eval", seed, ""});
  return path;
}

eval::EvaluationSettings small_settings() {
  eval::EvaluationSettings s;
  s.chunk_rows = 37;  // many steps, uneven per rank
  s.fpd.min_samples = 60, s.fpd.max_samples = 300, s.fpd.points = 4, s.fpd.resamples = 3;
  s.kpd.batch_size = 200, s.kpd.batches = 5;
  s.progress = core::ProgressMode::off;
  return s;
}

class EvaluationFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    par::Communicator world;
    reference_ = write_file(world, "reference.h5", "ds2", 240, 1);
    generated_ = write_file(world, "generated.h5", "ds2", 200, 2);
    scaled_ = write_file(world, "scaled.h5", "ds2", 240, 1, 1.2);
    ds1_ = write_file(world, "ds1.h5", "ds1-photons", 50, 3);
  }
  static void TearDownTestSuite() {
    par::Communicator world;
    world.barrier();
    if (world.is_root())
      for (const auto* p : {&reference_, &generated_, &scaled_, &ds1_}) std::filesystem::remove(*p);
  }
  static std::string reference_, generated_, scaled_, ds1_;
};
std::string EvaluationFiles::reference_, EvaluationFiles::generated_, EvaluationFiles::scaled_, EvaluationFiles::ds1_;

}  // namespace

TEST_F(EvaluationFiles, FileAgainstItselfHasZeroSeparationAndDistancesConsistentWithZero) {
  par::Communicator world;
  const eval::Evaluation ev = eval::evaluate_files(reference_, reference_, world, small_settings());
  ASSERT_GT(ev.histograms.size(), 360u);
  for (const auto& h : ev.histograms) {
    EXPECT_EQ(h.reference.counts, h.generated.counts) << h.name;
    if (h.reference.entries() > 0) {
      EXPECT_EQ(h.separation.value, 0.0) << h.name;
    }
  }
  for (const auto& cc : ev.conditional)
    for (const auto& h : cc.per_bin)
      if (h.reference.entries() > 0) {
        EXPECT_EQ(h.separation.value, 0.0) << cc.name;
      }
  ASSERT_TRUE(ev.fpd && ev.kpd);
  EXPECT_TRUE(ev.fpd->reduced);  // 240 showers < max_samples 300
  EXPECT_LE(ev.fpd->value, 3 * ev.fpd->error);
  EXPECT_LE(std::abs(ev.kpd->value), 3 * ev.kpd->error);
  const nlohmann::json metrics = eval::metrics_json(ev);
  EXPECT_EQ(metrics["separation_power"]["etot_over_einc"]["value"].get<double>(), 0.0);
  EXPECT_GT(metrics["separation_power"]["etot_over_einc"]["floor"].get<double>(), 0.0);
  EXPECT_EQ(metrics["events"]["reference"].get<int>(), 240);
  EXPECT_EQ(metrics["fpd"]["features"].get<int>(), 362);
}

TEST_F(EvaluationFiles, ScaledShowersGiveALargeSeparationOnEtotOverEinc) {
  par::Communicator world;
  eval::EvaluationSettings settings = small_settings();
  settings.compute_fpd = settings.compute_kpd = false;
  const eval::Evaluation ev = eval::evaluate_files(reference_, scaled_, world, settings);
  const nlohmann::json metrics = eval::metrics_json(ev);
  const double s = metrics["separation_power"]["etot_over_einc"]["value"].get<double>();
  EXPECT_GT(s, 0.5);
  EXPECT_GT(s, 10 * metrics["separation_power"]["etot_over_einc"]["floor"].get<double>());
  // Same showers: the incident energies agree exactly.
  EXPECT_EQ(metrics["separation_power"]["e_inc"]["value"].get<double>(), 0.0);
  EXPECT_TRUE(metrics["fpd"]["value"].is_null());
}

TEST_F(EvaluationFiles, ManyRanksGiveTheSameResultAsOne) {
  par::Communicator world;
  par::Communicator alone(MPI_COMM_SELF);
  // Feature tables: every rank's rows gathered equal one rank's table.
  const auto geometry = geometry::Geometry::builtin("ds2");
  const eval::FeatureCalculator calculator(geometry, eval::default_min_energy(geometry));
  const auto table_over = [&](const par::Communicator& comm) {
    data::CaloReader reader(reference_, comm);
    eval::FeatureTable local;
    local.cols = calculator.layout().size();
    const par::Block mine = par::my_block(reader.events(), comm);
    calculator.append(reader.read(mine), local);
    local.first_event = mine.offset;
    return eval::allgather_rows(local, comm);
  };
  const eval::FeatureTable spread = table_over(world), single = table_over(alone);
  ASSERT_EQ(spread.rows(), 240);
  EXPECT_EQ(spread.values, single.values);

  const eval::EvaluationSettings settings = small_settings();
  const eval::Evaluation a = eval::evaluate_files(reference_, generated_, world, settings);
  const eval::Evaluation b = eval::evaluate_files(reference_, generated_, alone, settings);
  ASSERT_EQ(a.histograms.size(), b.histograms.size());
  for (std::size_t i = 0; i < a.histograms.size(); ++i) {
    EXPECT_EQ(a.histograms[i].reference.binning.edges, b.histograms[i].reference.binning.edges) << a.histograms[i].name;
    EXPECT_EQ(a.histograms[i].reference.counts, b.histograms[i].reference.counts) << a.histograms[i].name;
    EXPECT_EQ(a.histograms[i].generated.counts, b.histograms[i].generated.counts) << a.histograms[i].name;
  }
  nlohmann::json ja = eval::metrics_json(a), jb = eval::metrics_json(b);
  for (auto* j : {&ja, &jb}) j->erase("seconds"), j->erase("ranks");
  EXPECT_EQ(ja.dump(), jb.dump());  // FPD/KPD included, to the last bit
  EXPECT_EQ(a.fpd->value, b.fpd->value);
  EXPECT_EQ(a.kpd->values, b.kpd->values);
}

TEST_F(EvaluationFiles, DifferentGeometriesAreBadInput) {
  par::Communicator world;
  try {
    eval::evaluate_files(reference_, ds1_, world, small_settings());
    FAIL() << "no error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ExitCode::bad_input);
    EXPECT_NE(std::string(e.what()).find("different geometries"), std::string::npos) << e.what();
  }
  eval::EvaluationSettings bad = small_settings();
  bad.energy_edges = {10, 5};
  EXPECT_THROW(eval::evaluate_files(reference_, generated_, world, bad), core::Error);
}

TEST_F(EvaluationFiles, ConditionalHistogramsAndEnergyEdges) {
  par::Communicator world;
  eval::EvaluationSettings settings = small_settings();
  settings.compute_fpd = settings.compute_kpd = false;
  settings.energy_edges = {1e3, 1e4, 1e5, 1e6};
  const eval::Evaluation ev = eval::evaluate_files(reference_, generated_, world, settings);
  EXPECT_EQ(ev.energy_bins.bins(), 3);
  std::int64_t total = 0;
  for (auto n : ev.energy_bin_events_reference) total += n;
  EXPECT_EQ(total, 240);
  ASSERT_EQ(ev.conditional.size(), 3u);
  for (const auto& cc : ev.conditional) {
    ASSERT_EQ(cc.per_bin.size(), 3u);
    for (std::size_t k = 0; k < 3; ++k)
      EXPECT_EQ(cc.per_bin[k].reference.entries() + cc.per_bin[k].reference.outside, ev.energy_bin_events_reference[k])
          << cc.name;
  }
}

TEST_F(EvaluationFiles, OutputsAreWrittenAtomically) {
  par::Communicator world;
  eval::EvaluationSettings settings = small_settings();
  settings.compute_kpd = false;
  const eval::Evaluation ev = eval::evaluate_files(reference_, generated_, world, settings);
  const std::string h5 = shared_path(world, "histograms.h5"), json = shared_path(world, "metrics.json");
  par::run_agreed(world, [&] {
    if (!world.is_root()) return;
    eval::write_histograms_file(h5, ev, io::Provenance{"test", 42, ""});
    core::write_file_atomically(json, eval::metrics_json(ev).dump(), "metrics");
  });
  if (world.is_root()) {
    const io::File file = io::File::open_serial(h5);
    EXPECT_EQ(io::require_format(file, "qvae-histograms", 1), 1);
    EXPECT_TRUE(file.has("histograms"));
    EXPECT_EQ(io::get_string_attribute(file, "histograms/etot_over_einc", "family"), "etot_over_einc");
    EXPECT_EQ(io::get_int_attribute(file, "/", "events_generated"), 200);
    const auto counts = io::read_all<std::int64_t>(file, "conditional/e_tot/reference",
                                                   ev.conditional[1].per_bin[0].reference.binning.bins());
    EXPECT_EQ(static_cast<int>(counts.size()), ev.energy_bins.bins() * 30);
    std::ifstream in(json);
    const auto parsed = nlohmann::json::parse(in);
    EXPECT_TRUE(parsed["kpd"]["value"].is_null());
    EXPECT_FALSE(parsed["fpd"]["value"].is_null());
    for (const auto& entry : std::filesystem::directory_iterator(::testing::TempDir()))
      EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
    std::filesystem::remove(h5);
    std::filesystem::remove(json);
  }
  world.barrier();
}

TEST(RbmEnergies, IdenticalAndShiftedSets) {
  std::vector<double> a, b, shifted;
  core::Philox rng(5, 0);
  for (int i = 0; i < 4000; ++i) {
    const double e = rng.normal(-120, 8);
    a.push_back(e);
    shifted.push_back(e + 40);
  }
  b = a;
  const eval::EnergyComparison same = eval::compare_rbm_energies(a, b, 40);
  EXPECT_EQ(same.separation.value, 0.0);
  EXPECT_DOUBLE_EQ(same.overlap, 1.0);
  EXPECT_NEAR(same.mean_encoded, -120, 0.5);
  EXPECT_NEAR(same.std_gibbs, 8, 0.3);
  const eval::EnergyComparison apart = eval::compare_rbm_energies(a, shifted, 40);
  EXPECT_GT(apart.separation.value, 0.9);
  EXPECT_LT(apart.overlap, 0.05);
  const nlohmann::json j = eval::energy_comparison_json(apart);
  EXPECT_EQ(j["encoded"]["count"].get<int>(), 4000);
}

// Blocks in rank order (the layout of allgather_blocks), of unequal sizes, so
// a rank-order-dependent sum would show; every number must be bit-identical.
TEST(RbmEnergies, SpreadOverRanksGivesTheBitsOfOneRank) {
  par::Communicator world;
  std::vector<double> encoded, gibbs;
  core::Philox rng(6, 0);
  // Large, close energies: E[x^2] - E[x]^2 would cancel 8 of the 16 digits here.
  for (int i = 0; i < 1001; ++i) encoded.push_back(rng.normal(-5e4, 5)), gibbs.push_back(rng.normal(-5e4 + 2, 6));
  const auto block = [&](const std::vector<double>& all) {
    const std::size_t n = all.size(), k = static_cast<std::size_t>(world.size());
    const std::size_t r = static_cast<std::size_t>(world.rank());
    const std::size_t begin = n * r * r / (k * k), end = n * (r + 1) * (r + 1) / (k * k);  // unequal blocks
    return std::vector<double>(all.begin() + static_cast<std::ptrdiff_t>(begin),
                               all.begin() + static_cast<std::ptrdiff_t>(end));
  };
  const eval::EnergyComparison spread = eval::compare_rbm_energies(block(encoded), block(gibbs), 30, &world);
  const eval::EnergyComparison single = eval::compare_rbm_energies(encoded, gibbs, 30);
  EXPECT_EQ(spread.encoded.binning.edges, single.encoded.binning.edges);
  EXPECT_EQ(spread.encoded.counts, single.encoded.counts);
  EXPECT_EQ(spread.gibbs.counts, single.gibbs.counts);
  EXPECT_EQ(spread.separation.value, single.separation.value);
  EXPECT_EQ(spread.overlap, single.overlap);
  EXPECT_EQ(spread.mean_encoded, single.mean_encoded);
  EXPECT_EQ(spread.mean_gibbs, single.mean_gibbs);
  EXPECT_EQ(spread.std_encoded, single.std_encoded);
  EXPECT_EQ(spread.std_gibbs, single.std_gibbs);
  EXPECT_EQ(spread.count_encoded, 1001);
  // The two-pass deviation keeps its digits: N(., 5) over 1001 values has a
  // sample sd within 5 * (1 +- 4 / sqrt(2 * 1000)) (4 standard errors of the sd).
  EXPECT_NEAR(single.std_encoded, 5.0, 5.0 * 4 / std::sqrt(2000.0));
}
