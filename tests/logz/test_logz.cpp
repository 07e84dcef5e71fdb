// Partition functions (docs/logz.md): numerics, exact
// enumeration against brute force, exact samples, and the accuracy and bias
// direction of AIS and reverse AIS on small 4-partite models.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "logz_test_models.hpp"
#include "qvae/core/alert.hpp"
#include "qvae/core/error.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/logz/annealing.hpp"
#include "qvae/logz/exact.hpp"
#include "qvae/logz/ll_table.hpp"
#include "qvae/logz/log_sum_exp.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/logz/logz_file.hpp"
#include "qvae/logz/report_json.hpp"
#include "qvae/logz/schedule.hpp"
#include "qvae/rbm/coupling_energy.hpp"

namespace qvae::logz {
namespace {

using testing::brute_force_log_z;
using testing::four_partite;
using testing::mean_error;
using testing::random_machine;

par::Communicator self_comm() { return par::Communicator(MPI_COMM_SELF); }

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "qvae_logz_" + std::to_string(getpid()) + "_" + name;
}

AnnealingSettings annealing(std::int64_t chains, std::int64_t steps, std::uint64_t seed) {
  AnnealingSettings settings;
  settings.chains = chains;
  settings.betas = linear_schedule(steps);
  settings.seed = seed;
  return settings;
}

// ---------------------------------------------------------------------------
// Numerics.

TEST(LogzNumerics, SoftplusAndLogSumExpDoNotOverflow) {
  EXPECT_DOUBLE_EQ(softplus(0.0), std::log(2.0));
  EXPECT_DOUBLE_EQ(softplus(1000.0), 1000.0);
  EXPECT_NEAR(softplus(-1000.0), 0.0, 1e-300);
  EXPECT_NEAR(softplus(30.0), 30.0 + std::exp(-30.0), 1e-15);
  EXPECT_DOUBLE_EQ(log_sum_exp(std::vector<double>{1000.0, 1000.0}), 1000.0 + std::log(2.0));
  EXPECT_DOUBLE_EQ(log_sum_exp(std::vector<double>{-1000.0, -1000.0}), -1000.0 + std::log(2.0));
  EXPECT_EQ(log_sum_exp(std::vector<double>{}), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(log_mean_exp(std::vector<double>(7, 3.25)), 3.25);  // equal weights: exact
  LogSumExp running;
  std::vector<double> values;
  core::Philox rng(5, 5);
  for (int i = 0; i < 1000; ++i) {
    values.push_back(rng.normal(0.0, 300.0));
    running.add(values.back());
  }
  EXPECT_NEAR(running.value(), log_sum_exp(values), 1e-10);
  EXPECT_DOUBLE_EQ(effective_sample_size(std::vector<double>(10, -4.0)), 10.0);
  EXPECT_NEAR(effective_sample_size(std::vector<double>{0.0, -1000.0, -1000.0}), 1.0, 1e-12);
}

// ---------------------------------------------------------------------------
// Exact log Z.

TEST(LogzExact, MatchesBruteForceWithUnequalPartitions) {
  const par::Communicator comm = self_comm();
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const rbm::BoltzmannMachine machine = random_machine({3, 5, 4, 2}, 0.6, 1.0, 1.0, seed);
    const ExactResult exact = exact_log_z(machine, comm);
    EXPECT_EQ(exact.analytic_partition, 1);  // the largest partition is summed out
    EXPECT_EQ(exact.enumerated_units, 9);
    EXPECT_NEAR(exact.log_z, brute_force_log_z(machine), 1e-10) << "seed " << seed;
  }
  // Three partitions, strong couplings: large terms stay finite in double.
  const rbm::BoltzmannMachine strong = random_machine({4, 4, 5}, 1.0, 8.0, 3.0, 9);
  EXPECT_NEAR(exact_log_z(strong, comm).log_z, brute_force_log_z(strong), 1e-9);
}

TEST(LogzExact, ZeroCouplingsGiveTheSumOfSoftplusBiases) {
  rbm::BoltzmannMachine machine = four_partite(5, 1.0, 4);
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] = 0.0;
  double expected = 0;
  for (std::int64_t i = 0; i < machine.num_nodes(); ++i) expected += std::log1p(std::exp(machine.biases()[i]));
  EXPECT_NEAR(independent_log_z(machine), expected, 1e-12);
  EXPECT_NEAR(exact_log_z(machine, self_comm()).log_z, independent_log_z(machine), 1e-11);
}

TEST(LogzExact, ConditionalLogZClampsPartitionZero) {
  const rbm::BoltzmannMachine machine = random_machine({4, 4, 4, 3}, 0.6, 1.0, 1.0, 21);
  for (unsigned code_bits : {0u, 5u, 15u}) {
    std::vector<std::uint8_t> code(4);
    std::vector<int> fixed(static_cast<std::size_t>(machine.num_nodes()), -1);
    for (int k = 0; k < 4; ++k) {
      code[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>((code_bits >> k) & 1u);
      fixed[static_cast<std::size_t>(machine.partition_nodes(0)[static_cast<std::size_t>(k)])] =
          code[static_cast<std::size_t>(k)];
    }
    const ExactResult conditional = exact_conditional_log_z(machine, code, self_comm());
    EXPECT_NEAR(conditional.log_z, brute_force_log_z(machine, fixed), 1e-10) << "code " << code_bits;
    EXPECT_EQ(conditional.enumerated_units, 7);  // partitions 1..3 minus the largest (4 units)
  }
  EXPECT_THROW(exact_conditional_log_z(machine, std::vector<std::uint8_t>(3, 0), self_comm()), core::InputError);
  EXPECT_THROW(exact_conditional_log_z(machine, std::vector<std::uint8_t>{0, 2, 0, 0}, self_comm()), core::InputError);
}

TEST(LogzExact, RefusesTooManyTermsUnlessForced) {
  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 7);
  ExactOptions options;
  options.max_log2_terms = 12;  // the model needs 2^15
  try {
    exact_log_z(machine, self_comm(), options);
    FAIL() << "expected a UsageError";
  } catch (const core::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("2^15 terms"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  options.force = true;
  EXPECT_NEAR(exact_log_z(machine, self_comm(), options).log_z, exact_log_z(machine, self_comm()).log_z, 1e-12);
  // The default limit is 2^32 terms: 4 x 12 units need 2^36.
  EXPECT_THROW(exact_log_z(four_partite(12, 1.0, 1), self_comm()), core::UsageError);
}

TEST(LogzExact, ExactSamplesFollowTheModel) {
  const rbm::BoltzmannMachine machine = random_machine({2, 3, 2, 3}, 0.7, 1.5, 1.0, 13);
  const ExactSampler sampler(machine);
  EXPECT_NEAR(sampler.log_z(), brute_force_log_z(machine), 1e-10);
  const std::int64_t count = 20000;
  const rbm::ChainBlock samples = sampler.sample(99, 0, count);
  // Frequencies of all 2^10 states against p(z): a chi-square test over the states.
  const int n = static_cast<int>(machine.num_nodes());
  std::vector<double> observed(std::size_t{1} << n, 0.0);
  for (std::int64_t c = 0; c < count; ++c) {
    std::size_t index = 0;
    for (int i = 0; i < n; ++i) index |= static_cast<std::size_t>(samples.state(c)[i]) << i;
    observed[index] += 1;
  }
  const double log_z = brute_force_log_z(machine);
  double chi_square = 0;
  int cells = 0;
  std::vector<std::uint8_t> z(static_cast<std::size_t>(n));
  for (std::size_t s = 0; s < observed.size(); ++s) {
    for (int i = 0; i < n; ++i) z[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((s >> i) & 1u);
    const double expected = static_cast<double>(count) * std::exp(-machine.energy(z.data()) - log_z);
    if (expected < 5) continue;
    chi_square += (observed[s] - expected) * (observed[s] - expected) / expected;
    ++cells;
  }
  // Chi-square with `cells` − 1 degrees of freedom: mean d, sd sqrt(2d); 6 sd is a
  // false alarm rate far below 1e-6.
  const double dof = cells - 1;
  EXPECT_LT(chi_square, dof + 6 * std::sqrt(2 * dof)) << cells << " cells";
  // Samples depend only on (seed, chain): a sub-block reproduces the same states.
  const rbm::ChainBlock part = sampler.sample(99, 1234, 10);
  for (std::int64_t c = 0; c < 10; ++c)
    EXPECT_TRUE(std::equal(part.state(c), part.state(c) + n, samples.state(1234 + c)));
}

// ---------------------------------------------------------------------------
// Schedules.

TEST(LogzSchedule, LinearPiecewiseAndAdaptive) {
  EXPECT_EQ(linear_schedule(4), (std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0}));
  const std::vector<double> sm = piecewise_schedule(14500);  // Salakhutdinov & Murray's own counts
  ASSERT_EQ(sm.size(), 14501u);
  EXPECT_DOUBLE_EQ(sm[500], 0.5);
  EXPECT_DOUBLE_EQ(sm[4500], 0.9);
  EXPECT_NO_THROW(check_schedule(piecewise_schedule(3)));
  EXPECT_THROW(piecewise_schedule(2), core::UsageError);
  EXPECT_THROW(check_schedule({0.0, 0.5, 0.5, 1.0}), core::UsageError);
  EXPECT_THROW(parse_schedule_kind("geometric"), core::UsageError);

  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 3);
  PilotSettings pilot;
  pilot.seed = 17;
  const std::vector<double> adaptive = adaptive_schedule(machine, 200, pilot);
  ASSERT_EQ(adaptive.size(), 201u);
  EXPECT_NO_THROW(check_schedule(adaptive));
  EXPECT_EQ(adaptive, adaptive_schedule(machine, 200, pilot));  // deterministic
  rbm::BoltzmannMachine uncoupled = machine;
  for (std::int64_t e = 0; e < uncoupled.num_couplers(); ++e) uncoupled.weights()[e] = 0.0;
  EXPECT_EQ(adaptive_schedule(uncoupled, 10, pilot), linear_schedule(10));
}

// ---------------------------------------------------------------------------
// AIS and reverse AIS.

TEST(LogzAnnealing, ZeroCouplingsGiveExactlyTheIndependentLogZ) {
  rbm::BoltzmannMachine machine = four_partite(5, 1.0, 8);
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] = 0.0;
  const par::Communicator comm = self_comm();
  const AnnealingSettings settings = annealing(64, 20, 3);
  const AnnealingRun forward = run_forward_ais(machine, settings, comm);
  const AnnealingRun reverse = run_reverse_ais(machine, settings, exact_start(machine, 3, 64, comm), comm);
  for (const AnnealingRun* run : {&forward, &reverse}) {
    for (double w : run->log_weights) EXPECT_EQ(w, 0.0);  // every weight equal (to 1)
    const Estimate estimate = estimate_log_z(*run, 1);
    EXPECT_EQ(estimate.log_z, independent_log_z(machine));
    EXPECT_EQ(estimate.std_error, 0.0);
    EXPECT_EQ(estimate.ess, 64.0);
  }
}

/// Log-weights of AIS as the annealing defines them, evaluated the slow way:
/// the chains copied out of a plain sampler after every temperature.
std::vector<double> copied_chain_weights(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings,
                                         Direction direction, const rbm::ChainBlock& start) {
  const std::vector<double>& betas = settings.betas;
  const std::size_t steps = betas.size() - 1;
  const bool forward = direction == Direction::forward;
  rbm::SamplerSettings sampler_settings;
  sampler_settings.seed = chain_seed(settings.seed, direction);
  sampler_settings.beta = forward ? 0.0 : 1.0;
  std::unique_ptr<rbm::Sampler> sampler = rbm::make_kokkos_sampler(machine, sampler_settings);
  sampler->set_chains(start);
  if (forward) sampler->sweep(1);
  const rbm::CouplingEnergy coupling(machine);
  std::vector<double> weight(static_cast<std::size_t>(start.count), 0.0);
  for (std::size_t i = 1; i <= steps; ++i) {
    const std::size_t k = forward ? i : steps + 1 - i;
    const std::vector<double> q = coupling.evaluate(sampler->chains());
    for (std::size_t c = 0; c < q.size(); ++c) weight[c] += (forward ? 1 : -1) * (betas[k] - betas[k - 1]) * q[c];
    if (i < steps) {
      sampler->set_beta(betas[forward ? k : k - 1], rbm::BetaScope::couplings);
      sampler->sweep(settings.sweeps_per_temperature);
    }
  }
  return weight;
}

TEST(LogzAnnealing, WeightsFromTheSamplersLayoutAreTheCopiedChainsBits) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(6, 1.5, 41);
  AnnealingSettings settings = annealing(37, 25, 77);
  settings.sweeps_per_temperature = 2;
  const rbm::ChainBlock forward_start =
      rbm::random_chains(machine.num_nodes(), chain_seed(settings.seed, Direction::forward), 0, settings.chains);
  EXPECT_EQ(run_forward_ais(machine, settings, comm).log_weights,
            copied_chain_weights(machine, settings, Direction::forward, forward_start));
  const ReverseStartStates start = exact_start(machine, 5, settings.chains, comm);
  EXPECT_EQ(run_reverse_ais(machine, settings, start, comm).log_weights,
            copied_chain_weights(machine, settings, Direction::reverse, start.states));
}

TEST(LogzAnnealing, AisAndReverseAisLandWithinFiveHundredthsOfExact) {
  const par::Communicator comm = self_comm();
  for (std::uint64_t model_seed : {31u, 32u, 33u}) {
    const rbm::BoltzmannMachine machine = four_partite(5, 1.0, model_seed);  // 20 units, σ = 1
    const double exact = exact_log_z(machine, comm).log_z;
    const AnnealingSettings settings = annealing(400, 300, 1000 + model_seed);
    const Estimate ais = estimate_log_z(run_forward_ais(machine, settings, comm), 1);
    const Estimate rais =
        estimate_log_z(run_reverse_ais(machine, settings, exact_start(machine, 1000 + model_seed, 400, comm), comm), 1);
    EXPECT_NEAR(ais.log_z, exact, 0.05) << "model " << model_seed << " ais se " << ais.std_error;
    EXPECT_NEAR(rais.log_z, exact, 0.05) << "model " << model_seed << " rais se " << rais.std_error;
    EXPECT_LT(ais.std_error, 0.02);
    EXPECT_LT(rais.std_error, 0.02);
    EXPECT_GT(ais.ess, 200.0);
  }
}

// Each estimate within 4 of its own bootstrap standard errors of the exact
// value (a 4σ band: one in 16 000 runs of an unbiased estimator falls outside
// it), and the errors small enough for the band to mean something.
TEST(LogzAnnealing, OtherSchedulesAndStartsAreAccurateToo) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 41);
  const double exact = exact_log_z(machine, comm).log_z;
  for (ScheduleKind kind : {ScheduleKind::piecewise, ScheduleKind::adaptive}) {
    LogzRequest request;
    request.method = Method::both;
    request.chains = 400;
    request.temperatures = 300;
    request.schedule = kind;
    request.seed = 77;
    const LogzReport report = run_logz(machine, request, comm);
    EXPECT_NEAR(report.ais_estimate->log_z, exact, 4 * report.ais_estimate->std_error) << to_string(kind);
    EXPECT_NEAR(report.rais_estimate->log_z, exact, 4 * report.rais_estimate->std_error) << to_string(kind);
    EXPECT_LT(report.ais_estimate->std_error, 0.05) << to_string(kind);
    EXPECT_LT(report.rais_estimate->std_error, 0.05) << to_string(kind);
    EXPECT_TRUE(report.rais_is_bound);
    EXPECT_EQ(report.reverse_start, ReverseStart::exact);
  }
  LogzRequest chains_start;
  chains_start.method = Method::rais;
  chains_start.chains = 400;
  chains_start.temperatures = 300;
  chains_start.reverse_start = ReverseStart::chains;
  chains_start.equilibration_sweeps = 200;
  chains_start.seed = 78;
  const LogzReport report = run_logz(machine, chains_start, comm);
  EXPECT_NEAR(report.rais_estimate->log_z, exact, 4 * report.rais_estimate->std_error);
  EXPECT_LT(report.rais_estimate->std_error, 0.05);
  EXPECT_FALSE(report.rais_is_bound);
}

// Over S independent seeds of a short, deliberately coarse run, the estimators
// are biased in opposite directions: E[log Ẑ_AIS] ≤ log Z ≤ E[log Ẑ_RAIS].
// Statistical form: each mean over S seeds has standard error se = sd/√S; the
// one-sided test of "E[log Ẑ_AIS] ≤ log Z" rejects when mean − log Z > 3 se
// (false alarm 0.13 % at the boundary), likewise for RAIS.  The runs are
// coarse enough that the bias is many se wide, so the plain ordering of the
// means holds too; and the bootstrap error of one run must match the spread
// of log Ẑ over seeds (within a factor 2).  (Measured: exact 28.288, AIS mean
// 27.875 ± 0.080, RAIS mean 28.743 ± 0.079.)
TEST(LogzAnnealing, RepeatedSeedsBracketTheExactValue) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 51);
  const double exact = exact_log_z(machine, comm).log_z;
  // 16 chains, 5 temperatures: Var(log Ẑ) ≈ 0.6, so the Jensen gaps (≈ Var/2) are
  // about 5 se of a mean over 100 seeds.
  constexpr int kSeeds = 100, kChains = 16, kTemps = 5;
  std::vector<double> ais, rais, ais_bootstrap, rais_bootstrap;
  for (int s = 0; s < kSeeds; ++s) {
    const AnnealingSettings settings = annealing(kChains, kTemps, 5000 + static_cast<std::uint64_t>(s));
    const Estimate forward = estimate_log_z(run_forward_ais(machine, settings, comm), settings.seed);
    const Estimate reverse = estimate_log_z(
        run_reverse_ais(machine, settings, exact_start(machine, settings.seed, kChains, comm), comm), settings.seed);
    ais.push_back(forward.log_z);
    rais.push_back(reverse.log_z);
    ais_bootstrap.push_back(forward.std_error);
    rais_bootstrap.push_back(reverse.std_error);
  }
  const auto forward = mean_error(ais), reverse = mean_error(rais);
  EXPECT_LT(forward.mean - exact, 3 * forward.std_error) << "AIS above log Z beyond 3 se";
  EXPECT_GT(reverse.mean - exact, -3 * reverse.std_error) << "RAIS below log Z beyond 3 se";
  EXPECT_LE(forward.mean, exact);
  EXPECT_GE(reverse.mean, exact);
  // ... and the gaps are resolved (the test has the power to see a wrong sign).
  EXPECT_LT(forward.mean, exact - 2 * forward.std_error);
  EXPECT_GT(reverse.mean, exact + 2 * reverse.std_error);
  // Markov: P(log Ẑ_AIS > log Z + t) ≤ e^{−t}; with t = 1 at most 37 % of the seeds
  // (binomial: more than 50 of 100 has probability < 0.005 even at the bound).
  const auto above = std::count_if(ais.begin(), ais.end(), [&](double v) { return v > exact + 1.0; });
  EXPECT_LE(above, kSeeds / 2);
  EXPECT_GT(mean_error(ais_bootstrap).mean, 0.5 * forward.sd);
  EXPECT_LT(mean_error(ais_bootstrap).mean, 2.0 * forward.sd);
  EXPECT_GT(mean_error(rais_bootstrap).mean, 0.5 * reverse.sd);
  EXPECT_LT(mean_error(rais_bootstrap).mean, 2.0 * reverse.sd);
  std::printf("exact %.4f  AIS mean %.4f +- %.4f (sd %.3f)  RAIS mean %.4f +- %.4f (sd %.3f)\n", exact, forward.mean,
              forward.std_error, forward.sd, reverse.mean, reverse.std_error, reverse.sd);
}

// A report with the two estimates set by hand, as run_logz fills them.
LogzReport bracket_report(double ais, double se_ais, double rais, double se_rais) {
  LogzReport report;
  report.method = Method::both;
  report.ais_estimate = Estimate{ais, se_ais, 100.0, 100, 200};
  report.rais_estimate = Estimate{rais, se_rais, 100.0, 100, 200};
  report.rais_is_bound = true;
  return report;
}

TEST(LogzUncertainty, CombinesTheBootstrapErrorWithHalfTheBracket) {
  const LogzReport report = bracket_report(10.0, 0.03, 10.4, 0.04);
  EXPECT_DOUBLE_EQ(report.log_z(), 10.2);
  // (1e-12: 10.4 − 10.0 is not exactly 0.4 in binary.)
  EXPECT_NEAR(report.statistical_uncertainty(), 0.5 * 0.05, 1e-12);  // ½·hypot(0.03, 0.04)
  EXPECT_NEAR(report.systematic_uncertainty(), 0.2, 1e-12);          // |AIS − RAIS| / 2
  EXPECT_NEAR(report.combined_uncertainty(), std::sqrt(0.025 * 0.025 + 0.2 * 0.2), 1e-12);
  EXPECT_FALSE(report.bracket_inverted());
  const nlohmann::json j = report_json(report);
  EXPECT_EQ(j["error"].get<double>(), report.combined_uncertainty());
  EXPECT_EQ(j["error_stat"].get<double>(), report.statistical_uncertainty());
  EXPECT_EQ(j["error_sys"].get<double>(), report.systematic_uncertainty());
  EXPECT_FALSE(j["bracket"]["inversion_significant"].get<bool>());
  // An inverted bracket widens the error just the same (|AIS − RAIS|).
  EXPECT_NEAR(bracket_report(10.4, 0.03, 10.0, 0.04).systematic_uncertainty(), 0.2, 1e-12);
  // One direction: no bracket, so no systematic estimate; the error is its se.
  LogzReport ais_only = report;
  ais_only.method = Method::ais;
  ais_only.rais_estimate.reset();
  EXPECT_TRUE(std::isnan(ais_only.systematic_uncertainty()));
  EXPECT_EQ(ais_only.combined_uncertainty(), 0.03);
  EXPECT_TRUE(report_json(ais_only)["error_sys"].is_null() ||
              std::isnan(report_json(ais_only)["error_sys"].get<double>()));
}

// A coarse schedule (5 temperatures, 64 chains): AIS and RAIS are biased in
// opposite directions by a few tenths, comparable to their bootstrap errors.
// The midpoint +- the combined uncertainty must cover the exact log Z.
// Bound: 3 combined standard deviations (z-score; 0.3 % per seed for a normal error).
TEST(LogzUncertainty, CombinedIntervalCoversTheExactLogZ) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 51);
  const double exact = exact_log_z(machine, comm).log_z;
  for (std::uint64_t seed : {91u, 92u, 93u}) {
    LogzRequest request;
    request.method = Method::both;
    request.chains = 64;
    request.temperatures = 5;
    request.seed = seed;
    const LogzReport report = run_logz(machine, request, comm);
    std::printf("seed %llu: exact %.4f, midpoint %.4f +- %.4f (stat %.4f, sys %.4f)\n",
                static_cast<unsigned long long>(seed), exact, report.log_z(), report.combined_uncertainty(),
                report.statistical_uncertainty(), report.systematic_uncertainty());
    EXPECT_LE(std::fabs(report.log_z() - exact), 3 * report.combined_uncertainty()) << seed;
    EXPECT_GE(report.combined_uncertainty(), report.statistical_uncertainty()) << seed;
    EXPECT_GE(report.combined_uncertainty(), report.systematic_uncertainty()) << seed;
  }
}

TEST(LogzUncertainty, SignificantlyInvertedBracketIsAnAlert) {
  // AIS above RAIS by 0.5 with se 0.05 each: z = 0.5 / 0.0707 = 7.1.
  const LogzReport inverted = bracket_report(10.5, 0.05, 10.0, 0.05);
  EXPECT_TRUE(inverted.bracket_inverted());
  EXPECT_GT(inverted.inversion_z(), 7.0);
  EXPECT_TRUE(inverted.bracket_inversion_significant());
  const std::vector<std::string> alerts = report_alerts(inverted);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].find("inverted"), std::string::npos);
  EXPECT_NE(alerts[0].find("--temps"), std::string::npos);
  EXPECT_NE(alerts[0].find("--chains"), std::string::npos);
  for (const std::string& w : report_warnings(inverted)) EXPECT_EQ(w.find("inverted"), std::string::npos) << w;
  EXPECT_TRUE(report_json(inverted)["bracket"]["inversion_significant"].get<bool>());
  EXPECT_EQ(core::warning_line(alerts[0]).rfind("qvae: warning: the log Z bracket is inverted", 0), 0u);
  // Within noise (z = 0.7): a plain warning, no alert.
  const LogzReport noisy = bracket_report(10.05, 0.05, 10.0, 0.05);
  EXPECT_TRUE(noisy.bracket_inverted());
  EXPECT_FALSE(noisy.bracket_inversion_significant());
  EXPECT_TRUE(report_alerts(noisy).empty());
  const std::vector<std::string> warnings = report_warnings(noisy);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("within noise"), std::string::npos);
}

TEST(LogzAnnealing, BootstrapIsDeterministicInTheSeed) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(4, 1.0, 61);
  const AnnealingRun run = run_forward_ais(machine, annealing(50, 10, 5), comm);
  EXPECT_EQ(estimate_log_z(run, 9).std_error, estimate_log_z(run, 9).std_error);
  EXPECT_NE(estimate_log_z(run, 9).std_error, estimate_log_z(run, 10).std_error);
  EXPECT_EQ(run.log_weights, run_forward_ais(machine, annealing(50, 10, 5), comm).log_weights);
}

// ---------------------------------------------------------------------------
// RAISE, files and the LL table.

/// Writes `states` as a latent file ('latents', uint8 (D, N)).
void write_latents(const std::string& path, const rbm::ChainBlock& states) {
  const par::Communicator comm = self_comm();
  io::OutputFile file = io::OutputFile::create(path, comm);
  io::write_rows(file, "latents", states.states.data(), states.count, states.units);
  file.commit();
}

TEST(LogzRaise, DataStartsGiveTheLikelihoodOfTheData) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(4, 1.0, 71);
  const double exact = exact_log_z(machine, comm).log_z;
  const rbm::ChainBlock data = ExactSampler(machine).sample(3, 0, 100);
  const std::string path = temp_path("latents.h5");
  write_latents(path, data);
  EXPECT_EQ(latent_rows(path, comm, machine), 100);
  const rbm::ChainBlock chains = read_latents_for_chains(path, comm, machine, 250);  // wraps: chain c = row c mod 100
  EXPECT_TRUE(std::equal(chains.state(173), chains.state(174), data.state(73)));
  double exact_ll = 0;
  for (std::int64_t d = 0; d < 100; ++d) exact_ll += -machine.energy(data.state(d)) - exact;
  exact_ll /= 100;
  LogzRequest request;
  request.method = Method::rais;
  request.chains = 300;
  request.temperatures = 300;
  request.reverse_start = ReverseStart::data;
  request.latents_path = path;
  request.seed = 12;
  const LogzReport report = run_logz(machine, request, comm);
  ASSERT_TRUE(report.raise.has_value());
  EXPECT_EQ(report.raise->rows, 100);
  EXPECT_NEAR(report.raise->mean_log_likelihood, exact_ll, 0.05);  // data from the model: p_ann ≈ p
  EXPECT_NEAR(report.log_z(), exact, 0.05);
  EXPECT_FALSE(report.rais_is_bound);
  std::remove(path.c_str());
}

TEST(LogzFile, LatentFilesOfTheWrongShapeAreRefused) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(3, 1.0, 72);
  const std::string path = temp_path("bad_latents.h5");
  write_latents(path, rbm::random_chains(5, 1, 0, 4));  // 5 columns, the model has 12 units
  EXPECT_THROW(latent_rows(path, comm, machine), core::InputError);
  std::remove(path.c_str());
  rbm::ChainBlock twos = rbm::random_chains(12, 1, 0, 4);
  twos.states[12 + 7] = 2;  // row 1
  write_latents(path, twos);
  try {  // each rank checks its rows and the ranks agree: a CollectiveError with the input-error code
    read_latents_for_chains(path, comm, machine, 4);
    ADD_FAILURE() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ExitCode::bad_input);
    EXPECT_NE(std::string(e.what()).find("value 2 in row 1"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(LogzFile, WritesTheDocumentedLayout) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(4, 1.0, 73);
  LogzRequest request;
  request.method = Method::both;
  request.chains = 40;
  request.temperatures = 25;
  request.seed = 4;
  const LogzReport report = run_logz(machine, request, comm);
  LogzFileInfo info;
  info.rbm_path = "model.h5";
  info.nodes = machine.num_nodes();
  info.couplers = machine.num_couplers();
  info.partitions = machine.partitions();
  const std::string path = temp_path("logz.h5");
  write_logz_file(path, report, request, info, io::Provenance{"qvae logz test", 4, "[run]\nseed = 4\n"}, comm);
  const io::File file = io::File::open_serial(path);
  EXPECT_EQ(io::require_format(file, kLogzFormat, kLogzFormatVersion), 1);
  EXPECT_EQ(io::get_string_attribute(file, "/", "method"), "both");
  EXPECT_EQ(io::get_int_attribute(file, "/", "temperatures"), 25);
  EXPECT_EQ(io::get_double_attribute(file, "/", "log_z_ais"), report.ais_estimate->log_z);
  EXPECT_EQ(io::get_double_array_attribute(file, "/", "bracket").size(), 2u);
  EXPECT_EQ(io::read_all<double>(file, "schedule", 0), report.betas);
  EXPECT_EQ(io::read_all<double>(file, "log_weights_ais", 0), report.ais->log_weights);
  EXPECT_EQ(io::read_all<double>(file, "log_weights_rais", 0), report.rais->log_weights);
  EXPECT_EQ(io::read_all<double>(file, "log_z_rais", 0), std::vector<double>{report.rais_estimate->log_z});
  EXPECT_EQ(io::get_double_attribute(file, "/", "log_z_error"), report.combined_uncertainty());
  EXPECT_EQ(io::get_double_attribute(file, "/", "log_z_error_stat"), report.statistical_uncertainty());
  EXPECT_EQ(io::get_double_attribute(file, "/", "log_z_error_sys"), report.systematic_uncertainty());
  EXPECT_EQ(io::read_all<double>(file, "log_z_error", 0), std::vector<double>{report.combined_uncertainty()});
  EXPECT_EQ(io::get_int_attribute(file, "/", "bracket_inversion_significant"),
            report.bracket_inversion_significant() ? 1 : 0);
  std::remove(path.c_str());
}

TEST(LogzLlTable, TrainedModelOnItsOwnSamples) {
  const par::Communicator comm = self_comm();
  const rbm::BoltzmannMachine machine = four_partite(4, 1.0, 74);
  const std::string path = temp_path("ll_latents.h5");
  write_latents(path, ExactSampler(machine).sample(8, 0, 400));  // "encoded" codes drawn from the model itself
  LlSettings settings;
  settings.logz.chains = 200;
  settings.logz.temperatures = 200;
  settings.logz.seed = 21;
  settings.gibbs_sweeps = 50;
  settings.random_reference = true;
  const LlTable table = compute_ll_table(machine, path, settings, comm);
  ASSERT_EQ(table.entries.size(), 4u);
  const double exact = exact_log_z(machine, comm).log_z;
  EXPECT_NEAR(table.entries[0].ll_ais, -table.entries[0].mean_energy - exact, 0.05);
  // Codes and Gibbs samples come from the same distribution: "≈" holds within a few se.
  EXPECT_NEAR(table.entries[0].mean_energy, table.entries[1].mean_energy,
              4 * std::hypot(table.entries[0].energy_std_error, table.entries[1].energy_std_error));
  EXPECT_EQ(table.entries[2].model, "random");
  EXPECT_EQ(table.entries[2].samples, "gibbs");
  EXPECT_EQ(table.entries[1].count, 400);
  // The quoted LL error carries log Z's combined (statistical + bracket) uncertainty.
  for (const LlEntry& entry : table.entries) {
    const LogzReport& logz = entry.model == "trained" ? table.trained.logz : table.random->logz;
    EXPECT_EQ(entry.ll, -entry.mean_energy - logz.log_z());
    EXPECT_EQ(entry.ll_error, std::hypot(logz.combined_uncertainty(), entry.energy_std_error));
  }
  for (const std::string& line : table.violations) std::printf("flagged: %s\n", line.c_str());
  // A tolerance of 0 nats always flags "≈".
  settings.approx_tolerance = 0.0;
  settings.random_reference = false;
  EXPECT_FALSE(compute_ll_table(machine, path, settings, comm).order_ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace qvae::logz
