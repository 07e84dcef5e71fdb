// β_eff estimation (docs/dwave.md, "Effective temperature"): five methods behind one loop, and the
// Stein fit (stein.hpp) on device samples taken once.
#include "qvae/dwave/beta_estimation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/dwave/stein.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::dwave {

double EnergyMoments::std() const { return std::sqrt(std::max(variance, 0.0)); }

EnergyMoments weighted_moments(const std::vector<double>& values, const std::vector<double>& weights) {
  EnergyMoments m;
  for (std::size_t k = 0; k < values.size(); ++k) {
    m.weight += weights[k];
    m.mean += weights[k] * values[k];
  }
  if (m.weight <= 0) return m;
  m.mean /= m.weight;
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double d = values[k] - m.mean;
    m.variance += weights[k] * d * d;
    m.third += weights[k] * d * d * d;
    m.fourth += weights[k] * d * d * d * d;
  }
  m.variance /= m.weight;
  m.third /= m.weight;
  m.fourth /= m.weight;
  return m;
}

double pseudolikelihood_beta(const rbm::BoltzmannMachine& machine, const IsingModel& model,
                             const std::vector<SampleSet>& samples, double* standard_error) {
  // f_i(s) = 2 s_i (h_i + Σ_j J_ij s_j): the energy lost by flipping s_i.
  const std::size_t n = model.h.size();
  std::vector<double> f, w;  // f per (read, spin); w per read
  std::vector<double> field(n);
  for (const SampleSet& set : samples)
    for (std::int64_t r = 0; r < set.rows; ++r) {
      const std::uint8_t* z = set.state(r);
      field = model.h;
      for (std::size_t e = 0; e < model.J.size(); ++e) {
        const auto [a, b] = machine.couplers()[e];
        field[static_cast<std::size_t>(a)] += model.J[e] * (z[b] ? 1.0 : -1.0);
        field[static_cast<std::size_t>(b)] += model.J[e] * (z[a] ? 1.0 : -1.0);
      }
      for (std::size_t i = 0; i < n; ++i) f.push_back(2.0 * (z[i] ? 1.0 : -1.0) * field[i]);
      w.push_back(static_cast<double>(set.occurrences[static_cast<std::size_t>(r)]));
    }
  // g(b) = Σ_s w_s Σ_i f_i σ(b f_i) is increasing in b; the MPLE is its root.
  auto sigmoid = [](double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); };
  auto g = [&](double b, double* slope) {
    double value = 0, derivative = 0;
    for (std::size_t s = 0; s < w.size(); ++s) {
      double u = 0, du = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double fi = f[s * n + i], p = sigmoid(b * fi);
        u += fi * p;
        du += fi * fi * p * (1 - p);
      }
      value += w[s] * u;
      derivative += w[s] * du;
    }
    if (slope) *slope = derivative;
    return value;
  };
  if (standard_error) *standard_error = 0;
  if (std::none_of(f.begin(), f.end(), [](double x) { return x > 0; }))
    return std::numeric_limits<double>::infinity();  // only local minima: T = 0
  if (g(0.0, nullptr) >= 0) return 0.0;              // no preference for low energy: T = ∞
  double lo = 0, hi = 1;
  while (g(hi, nullptr) < 0 && hi < 1e6) lo = hi, hi *= 2;
  double b = 0.5 * (lo + hi);
  for (int iteration = 0; iteration < 200 && hi - lo > 1e-12 * hi; ++iteration) {
    double slope = 0;
    const double value = g(b, &slope);
    if (value < 0)
      lo = b;
    else
      hi = b;
    const double newton = slope > 0 ? b - value / slope : -1;  // Newton inside the bracket, else bisection
    b = newton > lo && newton < hi ? newton : 0.5 * (lo + hi);
  }
  if (standard_error) {
    // Sandwich: Var(b̂) ≈ Σ w u_s(b̂)² / g'(b̂)², reads as the independent units.
    double slope = 0, score_square = 0;
    g(b, &slope);
    for (std::size_t s = 0; s < w.size(); ++s) {
      double u = 0;
      for (std::size_t i = 0; i < n; ++i) u += f[s * n + i] * sigmoid(b * f[s * n + i]);
      score_square += w[s] * u * u;
    }
    *standard_error = slope > 0 ? std::sqrt(score_square) / slope : std::numeric_limits<double>::infinity();
  }
  return b;
}

namespace {

/// Every rank's sample sets concatenated in rank order (= global read order) on every rank.
SampleSet all_samples(const std::vector<SampleSet>& mine, std::int64_t units, const par::Communicator& comm) {
  SampleSet local;
  local.units = units;
  for (const SampleSet& set : mine) {
    local.rows += set.rows;
    local.states.insert(local.states.end(), set.states.begin(), set.states.end());
    local.occurrences.insert(local.occurrences.end(), set.occurrences.begin(), set.occurrences.end());
    local.energies.insert(local.energies.end(), set.energies.begin(), set.energies.end());
  }
  SampleSet all;
  all.units = units;
  all.states = comm.allgather_blocks(local.states);
  all.occurrences = comm.allgather_blocks(local.occurrences);
  all.energies = comm.allgather_blocks(local.energies);
  all.rows = static_cast<std::int64_t>(all.energies.size());
  return all;
}

/// Unscaled Ising energies and weights of samples.
EnergyMoments ising_moments(const rbm::BoltzmannMachine& machine, const IsingModel& unscaled, const SampleSet& set) {
  std::vector<double> energies, weights;
  for (std::int64_t r = 0; r < set.rows; ++r) {
    energies.push_back(ising_energy_of_bits(machine, unscaled, set.state(r)));
    weights.push_back(static_cast<double>(set.occurrences[static_cast<std::size_t>(r)]));
  }
  return weighted_moments(energies, weights);
}

/// The stopping threshold c·2σ_Qσ_R/(√N(σ_Q + σ_R)).
double energy_threshold(double c, const EnergyMoments& q, const EnergyMoments& r) {
  const double sum = q.std() + r.std();
  return sum > 0 ? c * 2 * q.std() * r.std() / (std::sqrt(q.weight) * sum) : 0.0;
}

/// Standard error of a variance estimate, sqrt((μ4 − σ⁴)/N).
double variance_error(const EnergyMoments& m) {
  return std::sqrt(std::max(m.fourth - m.variance * m.variance, 0.0) / std::max(m.weight, 1.0));
}

double limit_step(double beta, double step) { return std::clamp(step, -beta / 2, beta); }

class Estimator {
 public:
  Estimator(const rbm::BoltzmannMachine& machine, IsingSampler& qpu, const BetaSettings& settings,
            const par::Communicator& comm)
      : machine_(machine), qpu_(qpu), settings_(settings), comm_(comm), unscaled_(rbm_to_ising(machine, 1.0)) {}

  /// Device samples of the machine programmed at scale 1/β; reads keyed by (iteration, read).
  SampleSet device_samples(double beta, int iteration, IsingModel* programmed_out = nullptr) {
    const IsingModel programmed = program_ising(machine_, beta, qpu_.ranges());
    const par::Block block = par::my_block(settings_.reads, comm_);
    const std::int64_t base = static_cast<std::int64_t>(iteration) * settings_.reads;
    const std::vector<SampleRequest> requests = split_reads(base + block.offset, block.count, settings_.reads);
    const std::vector<SampleSet> mine = sample_collective(qpu_, programmed, requests, comm_);
    if (programmed_out) *programmed_out = programmed;
    return all_samples(mine, machine_.num_nodes(), comm_);
  }

  /// Classical block Gibbs of the machine at β (scope all), continuing `chains` when given.
  EnergyMoments classical(double beta, std::optional<rbm::StoredChains>& chains) {
    rbm::SampleJob job;
    job.chains = settings_.rbm_chains;
    job.sweeps = settings_.rbm_sweeps;
    job.settings.seed = settings_.seed ^ 0x5EEDBE7AULL;
    job.settings.beta = beta;
    job.settings.beta_scope = rbm::BetaScope::all;
    job.resume = chains;
    const rbm::SampleResult result = rbm::run_sample_job(machine_, job, comm_, rbm::make_kokkos_sampler);
    chains = result.chains;
    std::vector<double> local;
    for (std::int64_t c = 0; c < result.chains.local.count; ++c)
      local.push_back(ising_energy_of_bits(machine_, unscaled_, result.chains.local.state(c)));
    // Gather in chain order so the moments do not depend on the rank count.
    const std::vector<double> energies = comm_.allgather_blocks(local);
    return weighted_moments(energies, std::vector<double>(energies.size(), 1.0));
  }

  BetaEstimate run() {
    BetaEstimate estimate;
    estimate.method = settings_.method;
    switch (settings_.method) {
      case BetaMethod::ml:
        forward(estimate);
        break;
      case BetaMethod::pseudolikelihood:
        pseudolikelihood(estimate);
        break;
      case BetaMethod::stein:
        stein(estimate);
        break;
      default:
        reverse(estimate);
        break;
    }
    if (!estimate.converged)
      core::log::warn_root("dwave: beta estimation (", to_string(settings_.method),
                           ") did not meet its stopping rule in ", settings_.max_iterations,
                           " iterations; reporting the last beta");
    return estimate;
  }

 private:
  /// A. Forward: the device once at scale 1; classical Gibbs at β until ⟨E⟩_β = ⟨E⟩_Q.
  void forward(BetaEstimate& estimate) {
    const EnergyMoments q = ising_moments(machine_, unscaled_, device_samples(1.0, 0));
    std::optional<rbm::StoredChains> chains;
    double beta = settings_.beta_initial;
    for (int it = 0; it < settings_.max_iterations; ++it) {
      const EnergyMoments r = classical(beta, chains);
      BetaIteration step = record(it, beta, q, r);
      step.statistic = r.mean - q.mean;
      step.threshold = energy_threshold(settings_.stop_constant, q, r);
      estimate.beta_eff = beta;
      estimate.uncertainty = std::sqrt(q.variance / q.weight + r.variance / r.weight) / std::max(r.variance, 1e-300);
      if (std::fabs(step.statistic) < step.threshold) {
        converge(estimate, step);
        return;
      }
      // ∂⟨E⟩_β/∂β = −Var_β: Newton β ← β + (⟨E⟩_β − ⟨E⟩_Q)/Var_β.
      step.next_beta = next(beta, r.variance > 0 ? step.statistic / r.variance : beta);
      estimate.history.push_back(step);
      beta = step.next_beta;
    }
  }

  /// B, C, D. Reverse: program E_I/β, compare the device with classical Gibbs at β = 1.
  void reverse(BetaEstimate& estimate) {
    std::optional<rbm::StoredChains> chains;
    const EnergyMoments r = classical(1.0, chains);
    double beta = settings_.beta_initial;
    for (int it = 0; it < settings_.max_iterations; ++it) {
      const EnergyMoments q = ising_moments(machine_, unscaled_, device_samples(beta, it));
      BetaIteration step = record(it, beta, q, r);
      const double newton_linear = q.variance > 0 ? -(q.mean - r.mean) * beta / q.variance : -beta / 2;
      double delta = 0;
      estimate.beta_eff = beta;
      if (settings_.method == BetaMethod::variance) {
        const double se_q = variance_error(q), se_r = variance_error(r);
        step.statistic = q.variance - r.variance;
        step.threshold = se_q + se_r > 0 ? settings_.stop_constant * 2 * se_q * se_r / (se_q + se_r) : 0.0;
        // ∂Var_Q/∂β ≈ κ₃/β near the fixed point (∂Var/∂b = −κ₃ at device β b, b ∝ 1/β); κ₃ of
        // the classical reference, fixed over the iterations, keeps the steps from oscillating.
        const double kappa_error = std::sqrt(6 * std::pow(r.variance, 3) / r.weight);  // normal theory
        estimate.uncertainty = r.third != 0 ? beta * std::hypot(se_q, se_r) / std::fabs(r.third) : beta;
        if (r.third > 2 * kappa_error) {
          delta = -step.statistic * beta / r.third;
        } else {
          delta = (step.statistic > 0 ? -0.1 : 0.1) * beta;
          step.note = "third cumulant not significant: 10% step";
        }
      } else {
        step.statistic = q.mean - r.mean;
        step.threshold = energy_threshold(settings_.stop_constant, q, r);
        estimate.uncertainty =
            q.variance > 0 ? beta * std::sqrt(q.variance / q.weight + r.variance / r.weight) / q.variance : beta;
        if (settings_.method == BetaMethod::linear) {
          delta = newton_linear;  // lr = β/Var(E_Q)
        } else if (q.mean < 0 && r.mean < 0) {
          // C. β ← β·(⟨E⟩_Q/⟨E⟩_R)^δ with δ = |⟨E⟩_Q|/Var(E_Q).
          const double exponent = q.variance > 0 ? std::fabs(q.mean) / q.variance : 1.0;
          delta = beta * (std::pow(q.mean / r.mean, exponent) - 1);
        } else {
          delta = newton_linear;
          step.note = "mean energies not negative: linear step";
        }
      }
      if (std::fabs(step.statistic) < step.threshold) {
        converge(estimate, step);
        return;
      }
      step.next_beta = next(beta, delta);
      estimate.history.push_back(step);
      beta = step.next_beta;
    }
  }

  /// E. Pseudo-likelihood: fit β̂ on the programmed problem E_I/β, then program at β = β̂.
  void pseudolikelihood(BetaEstimate& estimate) {
    double beta = settings_.beta_initial;
    for (int it = 0; it < settings_.max_iterations; ++it) {
      IsingModel programmed;
      const SampleSet samples = device_samples(beta, it, &programmed);
      double error = 0;
      const double fitted = pseudolikelihood_beta(machine_, programmed, {samples}, &error);
      const EnergyMoments q = ising_moments(machine_, unscaled_, samples);
      BetaIteration step = record(it, beta, q, EnergyMoments{});
      step.statistic = fitted;
      step.threshold = settings_.stop_constant * error;
      estimate.beta_eff = fitted;
      estimate.uncertainty = error;
      if (!std::isfinite(fitted) || fitted <= 0) {
        step.note = fitted <= 0 ? "samples show no preference for low energy" : "samples are all local minima";
        estimate.history.push_back(step);
        throw core::RuntimeError(core::describe("pseudo-likelihood fit failed: " + step.note,
                                                "qvae dwave beta --method pseudolikelihood",
                                                "use more reads or another method"));
      }
      if (std::fabs(fitted - beta) < step.threshold) {
        converge(estimate, step);
        return;
      }
      step.next_beta = std::max(settings_.beta_min, fitted);
      estimate.history.push_back(step);
      beta = step.next_beta;
    }
  }

  /// Stein: the device once at scale 1 (like ml), then β = argmin KDSD(samples, p_β):
  /// every step evaluates the discrepancy on the same samples, none samples the model.
  void stein(BetaEstimate& estimate) {
    // The fit's standard error (Hoeffding variance, delta method) is asymptotic in the
    // number of reads W; with a handful of reads the KDSD is noise and its minimum, often
    // near β → 0 where every term shrinks, is no estimate at all.
    constexpr std::int64_t kSteinMinReads = 100;
    if (settings_.reads < kSteinMinReads)
      throw core::RuntimeError(core::describe("the Stein fit needs at least " + std::to_string(kSteinMinReads) +
                                                  " device reads, got " + std::to_string(settings_.reads),
                                              "qvae dwave beta --method stein", "raise --reads (dwave.beta_reads)"));
    const SampleSet samples = device_samples(1.0, 0);
    const EnergyMoments q = ising_moments(machine_, unscaled_, samples);
    const SteinDiscrepancy discrepancy(machine_, samples, comm_);
    // Centre the search on the pseudo-likelihood β of the same reads.  The KDSD of
    // device reads has a narrow well at the true β (heavy-tailed scores make it rise
    // steeply on both sides: 6.6 at β/2, ≈ 0 at β, 6.7 at 1.19β on the reported model)
    // and falls again toward β → 0, where it tends to the small KDSD against the
    // uniform distribution; a grid around a fixed β₀ stepped over the well and ran to
    // the lower edge.  The MPLE is consistent and puts a grid point in the well.
    BetaSettings search = settings_;
    double pl_error = 0;
    const double pl = pseudolikelihood_beta(machine_, rbm_to_ising(machine_, 1.0), {samples}, &pl_error);
    if (std::isfinite(pl) && pl > settings_.beta_min) search.beta_initial = pl;
    core::log::info_root("dwave: stein: search centred on the pseudo-likelihood beta ", pl, " +- ", pl_error);
    estimate = fit_stein_beta(discrepancy, search);
    for (BetaIteration& step : estimate.history) {
      step.qpu_mean = q.mean;
      step.qpu_std = q.std();
    }
    // No silent boundary value or unresolved β: exit 4 with the fit's own reason.
    std::string reason;
    if (!estimate.converged)
      reason = estimate.history.empty() ? std::string("no KDSD evaluated") : estimate.history.back().note;
    else if (!(estimate.uncertainty < estimate.beta_eff))
      reason = "beta_eff " + std::to_string(estimate.beta_eff) + " +- " + std::to_string(estimate.uncertainty) +
               ": the reads do not resolve beta (too few, or a flat discrepancy)";
    if (!reason.empty())
      throw core::RuntimeError(core::describe(
          "the Stein fit found no beta_eff: " + reason,
          "qvae dwave beta --method stein (" + std::to_string(discrepancy.sample_count()) + " device reads)",
          "use more reads (--reads) or a moment-matching method"));
  }

  BetaIteration record(int it, double beta, const EnergyMoments& q, const EnergyMoments& r) const {
    BetaIteration step;
    step.iteration = it;
    step.beta = beta;
    step.qpu_mean = q.mean;
    step.qpu_std = q.std();
    step.rbm_mean = r.mean;
    step.rbm_std = r.std();
    core::log::info_root("dwave: beta ", beta, ": device <E> ", q.mean, " (std ", q.std(), "), classical <E> ", r.mean,
                         " (std ", r.std(), ")");
    return step;
  }

  double next(double beta, double delta) const { return std::max(settings_.beta_min, beta + limit_step(beta, delta)); }

  static void converge(BetaEstimate& estimate, BetaIteration& step) {
    step.next_beta = estimate.beta_eff;
    step.note = step.note.empty() ? "converged" : step.note + "; converged";
    estimate.history.push_back(step);
    estimate.converged = true;
  }

  const rbm::BoltzmannMachine& machine_;
  IsingSampler& qpu_;
  BetaSettings settings_;
  const par::Communicator& comm_;
  IsingModel unscaled_;
};

}  // namespace

BetaEstimate estimate_beta(const rbm::BoltzmannMachine& machine, IsingSampler& qpu, const BetaSettings& settings,
                           const par::Communicator& comm) {
  if (!(settings.beta_initial > 0) || settings.max_iterations < 1 || settings.reads < 2 || settings.rbm_chains < 2)
    throw core::UsageError(
        core::describe("beta estimation needs beta_initial > 0, iterations >= 1, reads >= 2 and "
                       "rbm_chains >= 2",
                       "[dwave] beta_*"));
  return Estimator(machine, qpu, settings, comm).run();
}

}  // namespace qvae::dwave
