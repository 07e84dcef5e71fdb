// Kernel discrete Stein discrepancy (stein.hpp): the tiled U-statistic, its
// standard error and bootstrap against a plain O(n²N²) reference on a tiny
// model; weights equal expanded rows; the β fit recovers a Gibbs device's β;
// the goodness-of-fit test rejects a perturbed model and accepts the true one;
// 1 and 2 ranks agree (SteinMpi.*, run under mpirun -np 2 by ctest).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "dwave_test_support.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/dwave/beta_estimation.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/dwave/stein.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::dwave {
namespace {

using testing::random_machine;

// --- a plain reference, written from the definitions ---------------------------------------------

double hamming_kernel(const std::vector<std::uint8_t>& x, const std::vector<std::uint8_t>& y) {
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d += x[i] != y[i];
  return std::exp(-d / static_cast<double>(x.size()));
}

/// s_i(x) = 1 − p(¬_i x)/p(x) from full energies.
std::vector<double> reference_scores(const rbm::BoltzmannMachine& machine, const std::vector<std::uint8_t>& x,
                                     double beta) {
  std::vector<std::uint8_t> flipped = x;
  std::vector<double> scores;
  for (std::size_t i = 0; i < x.size(); ++i) {
    flipped[i] ^= 1;
    scores.push_back(1 - std::exp(-beta * (machine.energy(flipped.data()) - machine.energy(x.data()))));
    flipped[i] ^= 1;
  }
  return scores;
}

/// κ(x, y) = Σ_i [s_i(x)s_i(y)k − s_i(x)(k − k(x, ¬_i y)) − s_i(y)(k − k(¬_i x, y))
///               + k − k(¬_i x, y) − k(x, ¬_i y) + k(¬_i x, ¬_i y)].
double reference_kappa(const std::vector<std::uint8_t>& x, const std::vector<std::uint8_t>& y,
                       const std::vector<double>& sx, const std::vector<double>& sy) {
  const double k = hamming_kernel(x, y);
  std::vector<std::uint8_t> fx = x, fy = y;
  double total = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    fx[i] ^= 1;
    fy[i] ^= 1;
    const double k_fx = hamming_kernel(fx, y), k_fy = hamming_kernel(x, fy), k_both = hamming_kernel(fx, fy);
    total += sx[i] * sy[i] * k - sx[i] * (k - k_fy) - sy[i] * (k - k_fx) + (k - k_fx - k_fy + k_both);
    fx[i] ^= 1;
    fy[i] ^= 1;
  }
  return total;
}

/// The rows of a sample set expanded by their occurrences (items of the U-statistic).
std::vector<std::vector<std::uint8_t>> expand(const SampleSet& set) {
  std::vector<std::vector<std::uint8_t>> items;
  for (std::int64_t r = 0; r < set.rows; ++r)
    for (std::int64_t c = 0; c < set.occurrences[static_cast<std::size_t>(r)]; ++c)
      items.emplace_back(set.state(r), set.state(r) + set.units);
  return items;
}

struct Reference {
  double statistic = 0, std_error = 0, p_value = 0;
};

/// U-statistic, Hoeffding standard error and the Rademacher bootstrap p-value over
/// expanded items; replicate r's signs are the bits of Philox (seed, (0xD303, r))
/// words, row after row, ⌈w/32⌉ words per row (the documented draw order).
Reference reference_test(const rbm::BoltzmannMachine& machine, const SampleSet& set, double beta, int bootstrap,
                         std::uint64_t seed) {
  const std::vector<std::vector<std::uint8_t>> items = expand(set);
  const std::size_t w = items.size();
  std::vector<std::vector<double>> scores;
  for (const auto& item : items) scores.push_back(reference_scores(machine, item, beta));
  std::vector<double> kappa(w * w);
  for (std::size_t i = 0; i < w; ++i)
    for (std::size_t j = 0; j < w; ++j) kappa[i * w + j] = reference_kappa(items[i], items[j], scores[i], scores[j]);
  double sum = 0, squares = 0;
  std::vector<double> row_mean(w, 0.0);
  for (std::size_t i = 0; i < w; ++i)
    for (std::size_t j = 0; j < w; ++j)
      if (i != j)
        sum += kappa[i * w + j], squares += kappa[i * w + j] * kappa[i * w + j], row_mean[i] += kappa[i * w + j];
  const double n = static_cast<double>(w);
  Reference out;
  out.statistic = sum / (n * (n - 1));
  const double zeta2 = squares / (n * (n - 1)) - out.statistic * out.statistic;
  double spread = 0;
  for (double& m : row_mean) m /= n - 1, spread += (m - out.statistic) * (m - out.statistic);
  spread /= n - 1;
  const double zeta1 = std::max((spread - zeta2 / (n - 1)) / (1 - 1 / (n - 1)), 0.0);
  out.std_error = std::sqrt((4 * (n - 2) * zeta1 + 2 * zeta2) / (n * (n - 1)));
  int exceed = 0;
  for (int r = 0; r < bootstrap; ++r) {
    core::Philox rng(seed, core::stream_id(0xD303, static_cast<std::uint64_t>(r)));
    std::vector<double> sign;
    for (std::int64_t row = 0; row < set.rows; ++row) {
      std::uint32_t word = 0;
      for (std::int64_t c = 0; c < set.occurrences[static_cast<std::size_t>(row)]; ++c) {
        if (c % 32 == 0) word = rng.next_u32();
        sign.push_back((word >> (c % 32)) & 1 ? 1.0 : -1.0);
      }
    }
    double star = 0;
    for (std::size_t i = 0; i < w; ++i)
      for (std::size_t j = 0; j < w; ++j)
        if (i != j) star += sign[i] * sign[j] * kappa[i * w + j];
    exceed += star / (n * (n - 1)) >= out.statistic;  // the U-statistic's normalisation
  }
  out.p_value = (1.0 + exceed) / (1.0 + bootstrap);
  return out;
}

/// Rows of random bits (density 0.4) with occurrences 1..3.
SampleSet random_samples(std::int64_t rows, std::int64_t units, std::uint64_t seed) {
  core::Philox rng(seed, 7);
  SampleSet set;
  set.rows = rows;
  set.units = units;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < units; ++i) set.states.push_back(rng.uniform() < 0.4);
    set.occurrences.push_back(1 + static_cast<std::int64_t>(rng.uniform() * 3));
  }
  set.energies.assign(static_cast<std::size_t>(rows), 0.0);
  return set;
}

SampleSet gibbs_samples(const rbm::BoltzmannMachine& machine, double beta, std::int64_t reads, std::uint64_t seed,
                        std::int64_t sweeps = 100) {
  GibbsQpuSettings settings;
  settings.beta = beta;
  settings.sweeps = sweeps;
  return make_gibbs_sampler(machine, settings, seed)
      ->sample(rbm_to_ising(machine, 1.0), {SampleRequest{0, reads, {}}})[0];
}

/// |a − b| relative to the larger; 0 when equal (also for two equal infinities).
double relative(double a, double b) {
  return a == b ? 0.0 : std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), 1e-300});
}

// --- (a) the tiled estimate equals the reference -------------------------------------------------

TEST(Stein, MatchesThePlainReferenceWithWeights) {
  const par::Communicator comm;
  // 72 nodes (two 64-bit words, not a multiple of the 8-column panels), 37 rows (not a multiple of 16).
  const rbm::BoltzmannMachine machine = random_machine(4, 18, 0.3, 0.6, 0.4, 5);
  const SampleSet set = random_samples(37, machine.num_nodes(), 11);
  const double beta = 0.7;
  const SteinDiscrepancy discrepancy(machine, set, comm);
  const Reference reference = reference_test(machine, set, beta, 60, 21);
  const KdsdTest test = discrepancy.test(beta, 60, 21);
  ASSERT_EQ(test.samples, static_cast<std::int64_t>(expand(set).size()));
  EXPECT_LT(relative(test.statistic, reference.statistic), 1e-10) << test.statistic << " vs " << reference.statistic;
  EXPECT_LT(relative(discrepancy.statistic(beta), reference.statistic), 1e-10);
  EXPECT_LT(relative(test.std_error, reference.std_error), 1e-8);
  EXPECT_GT(test.std_error, 0);
  EXPECT_DOUBLE_EQ(test.p_value, reference.p_value);
  // Random bits are far from the model: the test rejects them.
  EXPECT_GT(test.statistic, 3 * test.std_error);
  EXPECT_LT(test.p_value, 0.05);
}

TEST(Stein, MatchesThePlainReferenceAcrossCacheChunks) {
  const par::Communicator comm;
  // 300 nodes: two chunks of 256 units in the dot products, five 64-bit words.
  const rbm::BoltzmannMachine machine = random_machine(4, 75, 0.05, 0.5, 0.3, 8);
  const SampleSet set = random_samples(18, machine.num_nodes(), 4);
  const Reference reference = reference_test(machine, set, 0.4, 0, 0);
  const KdsdTest test = SteinDiscrepancy(machine, set, comm).test(0.4, 0, 0);
  EXPECT_LT(relative(test.statistic, reference.statistic), 1e-10) << test.statistic << " vs " << reference.statistic;
  EXPECT_LT(relative(test.std_error, reference.std_error), 1e-8);
}

TEST(Stein, WeightsEqualExpandedRows) {
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = random_machine(4, 6, 0.5, 0.5, 0.3, 2);
  const SampleSet weighted = random_samples(45, machine.num_nodes(), 3);
  SampleSet expanded;
  expanded.units = weighted.units;
  for (const auto& item : expand(weighted)) {
    expanded.states.insert(expanded.states.end(), item.begin(), item.end());
    expanded.occurrences.push_back(1);
    ++expanded.rows;
  }
  for (double beta : {0.3, 1.0, 2.5}) {
    const KdsdTest a = kdsd_test(machine, weighted, beta, 0, 0, comm);
    const KdsdTest b = kdsd_test(machine, expanded, beta, 0, 0, comm);
    EXPECT_EQ(a.samples, b.samples);
    EXPECT_LT(relative(a.statistic, b.statistic), 1e-11) << beta;
    EXPECT_LT(relative(a.std_error, b.std_error), 1e-9) << beta;
  }
}

TEST(Stein, RefusesBadSamplesAndBeta) {
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = random_machine(4, 3, 0.6, 0.5, 0.3, 1);
  SampleSet set = random_samples(5, machine.num_nodes(), 1);
  SampleSet narrow = set;
  narrow.units -= 1;
  narrow.states.resize(static_cast<std::size_t>(narrow.rows * narrow.units));
  EXPECT_THROW(SteinDiscrepancy(machine, narrow, comm), core::InputError);
  SampleSet non_binary = set;
  non_binary.states[7] = 2;
  EXPECT_THROW(SteinDiscrepancy(machine, non_binary, comm), core::InputError);
  SampleSet single = random_samples(1, machine.num_nodes(), 1);
  single.occurrences = {1};
  EXPECT_THROW(SteinDiscrepancy(machine, single, comm), core::InputError);
  const SteinDiscrepancy discrepancy(machine, set, comm);
  EXPECT_THROW(discrepancy.statistic(0.0), core::UsageError);
  EXPECT_THROW(discrepancy.test(std::nan(""), 10, 1), core::UsageError);
}

// --- (b) β_eff of a Gibbs device -----------------------------------------------------------------

TEST(SteinBeta, RecoversTheBetaOfAGibbsDevice) {
  constexpr double kTrueBeta = 2.5;
  const par::Communicator comm;
  // The Pegasus model of the CLI tests (7 couplers per node).  On a denser model
  // (12 per node, random_machine(4, 8, 0.5, ...)) the difference score
  // 1 − p(¬x)/p(x) is so heavy-tailed at β = 2.5 that single reads can dominate
  // the KDSD (docs/dwave.md); 3000 reads give a standard error of about 2%.
  const rbm::BoltzmannMachine machine = testing::pegasus_machine(4, 8, 0.5, 3);
  GibbsQpuSettings device_settings;
  device_settings.beta = kTrueBeta;
  device_settings.sweeps = 100;
  const auto device = make_gibbs_sampler(machine, device_settings, 77);
  BetaSettings settings;
  settings.method = BetaMethod::stein;
  settings.beta_initial = 4.0;
  settings.max_iterations = 20;
  settings.reads = 3000;
  settings.seed = 3;
  const BetaEstimate estimate = estimate_beta(machine, *device, settings, comm);
  EXPECT_EQ(estimate.method, BetaMethod::stein);
  EXPECT_TRUE(estimate.converged);
  EXPECT_NEAR(estimate.beta_eff, kTrueBeta, 0.05 * kTrueBeta);
  EXPECT_GT(estimate.uncertainty, 0);
  EXPECT_LT(estimate.uncertainty, 0.05 * kTrueBeta);
  EXPECT_NEAR(estimate.beta_eff, kTrueBeta, 4 * estimate.uncertainty);
  ASSERT_GE(estimate.history.size(), 10u);  // 9 grid points + Brent steps
  // The grid runs from β_PL/8, β_PL the pseudo-likelihood β of the same reads (≈ 2.5).
  EXPECT_NEAR(estimate.history.front().beta * 8, 2.5, 0.25);
  EXPECT_NE(estimate.history.back().note.find("converged"), std::string::npos);
  EXPECT_DOUBLE_EQ(estimate.history.back().next_beta, estimate.beta_eff);
  for (std::size_t k = 0; k + 1 < estimate.history.size(); ++k)
    EXPECT_DOUBLE_EQ(estimate.history[k].next_beta, estimate.history[k + 1].beta);
  // β_eff is where the lowest KDSD was evaluated (the search only narrows around it).
  const auto lowest =
      std::min_element(estimate.history.begin(), estimate.history.end(),
                       [](const BetaIteration& a, const BetaIteration& b) { return a.statistic < b.statistic; });
  EXPECT_DOUBLE_EQ(lowest->beta, estimate.beta_eff);
}

TEST(SteinBeta, AMinimumDominatedByRareReadsIsNotConverged) {
  // The denser model of the β tests of the other methods (12 couplers per node):
  // at β = 2.5 with well-mixed chains, read set 6 holds reads whose flips are
  // ~e^10 more probable, the U-statistic keeps falling with β and the minimum runs
  // away; the fit must say so rather than report a confident β.
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = random_machine(4, 8, 0.5, 0.5, 0.3, 17);
  const SteinDiscrepancy discrepancy(machine, gibbs_samples(machine, 2.5, 1500, 6, 1000), comm);
  BetaSettings settings;
  settings.beta_initial = 4.0;
  const BetaEstimate estimate = fit_stein_beta(discrepancy, settings);
  EXPECT_FALSE(estimate.converged) << "beta_eff " << estimate.beta_eff << " +- " << estimate.uncertainty;
  EXPECT_GT(std::fabs(estimate.beta_eff - 2.5), 0.5);  // the run-away this test is about
  EXPECT_EQ(estimate.history.back().note.find("converged"), std::string::npos);
}

// --- (c) goodness of fit -------------------------------------------------------------------------

TEST(SteinTest, FlagsAPerturbedModelAndAcceptsTheTrueOne) {
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = random_machine(4, 8, 0.5, 0.6, 0.3, 23);
  rbm::BoltzmannMachine perturbed = random_machine(4, 8, 0.5, 0.6, 0.3, 23);
  core::Philox noise(99, 1);
  for (std::int64_t e = 0; e < perturbed.num_couplers(); ++e) perturbed.weights()[e] += 0.4 * noise.normal();
  constexpr std::int64_t kSamples = 400, kBootstrap = 400;
  constexpr int kSeeds = 10;
  // Under H0 the p-value is (close to) uniform: P(p > 0.05) = 0.95 per seed, so
  // P(at most 7 of 10 accepted) = 1 − 0.95¹⁰ − 10·0.95⁹·0.05 − 45·0.95⁸·0.05² = 0.0115.
  int accepted = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    const SampleSet truth = gibbs_samples(machine, 1.0, kSamples, 1000 + seed, 200);
    const KdsdTest test = kdsd_test(machine, truth, 1.0, kBootstrap, 500 + seed, comm);
    accepted += test.p_value > 0.05;
    const SampleSet wrong = gibbs_samples(perturbed, 1.0, kSamples, 2000 + seed, 200);
    const KdsdTest flagged = kdsd_test(machine, wrong, 1.0, kBootstrap, 700 + seed, comm);
    std::printf("seed %d: true p %.4f (KDSD %.3g +- %.2g), perturbed p %.4f (KDSD %.3g +- %.2g)\n", seed, test.p_value,
                test.statistic, test.std_error, flagged.p_value, flagged.statistic, flagged.std_error);
    EXPECT_LT(flagged.p_value, 0.01) << "seed " << seed << ": KDSD " << flagged.statistic << " +- "
                                     << flagged.std_error;
  }
  EXPECT_GE(accepted, 8) << "true samples accepted in only " << accepted << " of " << kSeeds << " seeds";
  std::printf("true samples accepted at p > 0.05 in %d of %d seeds\n", accepted, kSeeds);
}

// --- (d) rank count ------------------------------------------------------------------------------

TEST(SteinMpi, TwoRanksEqualOne) {
  const par::Communicator comm;
  if (comm.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const par::Communicator self(MPI_COMM_SELF);
  const rbm::BoltzmannMachine machine = random_machine(4, 8, 0.5, 0.5, 0.3, 17);
  SampleSet set = gibbs_samples(machine, 2.5, 150, 8);  // 150 rows: 10 tiles, the last one partial
  for (std::size_t r = 0; r < set.occurrences.size(); r += 7) set.occurrences[r] = 3;
  const SteinDiscrepancy world(machine, set, comm), single(machine, set, self);
  for (double beta : {0.5, 2.5, 6.0}) {
    EXPECT_LT(relative(world.statistic(beta), single.statistic(beta)), 1e-12) << beta;
    const KdsdTest a = world.test(beta, 200, 4), b = single.test(beta, 200, 4);
    EXPECT_LT(relative(a.statistic, b.statistic), 1e-12) << beta;
    EXPECT_LT(relative(a.std_error, b.std_error), 1e-12) << beta;
    EXPECT_EQ(a.p_value, b.p_value) << beta;
  }
  BetaSettings settings;
  settings.beta_initial = 4.0;
  const BetaEstimate a = fit_stein_beta(world, settings), b = fit_stein_beta(single, settings);
  ASSERT_EQ(a.history.size(), b.history.size());
  EXPECT_LT(relative(a.beta_eff, b.beta_eff), 1e-12);
  EXPECT_LT(relative(a.uncertainty, b.uncertainty), 1e-9);
  for (std::size_t k = 0; k < a.history.size(); ++k)
    EXPECT_LT(relative(a.history[k].statistic, b.history[k].statistic), 1e-12) << k;
}

}  // namespace
}  // namespace qvae::dwave
