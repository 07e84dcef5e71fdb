// Annealing schedules (docs/logz.md, "The annealing path"; qvae/logz/schedule.hpp).
#include "qvae/logz/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"
#include "qvae/logz/annealing.hpp"
#include "qvae/logz/random_streams.hpp"

namespace qvae::logz {

ScheduleKind parse_schedule_kind(const std::string& text) {
  return core::parse_choice(text, {ScheduleKind::linear, ScheduleKind::piecewise, ScheduleKind::adaptive},
                            "--schedule");
}

const char* to_string(ScheduleKind kind) noexcept {
  switch (kind) {
    case ScheduleKind::linear:
      return "linear";
    case ScheduleKind::piecewise:
      return "piecewise";
    case ScheduleKind::adaptive:
      return "adaptive";
  }
  return "?";
}

std::vector<double> linear_schedule(std::int64_t steps) {
  if (steps < 1) throw core::UsageError(core::describe("a schedule needs at least 1 temperature step", "--temps"));
  std::vector<double> betas(static_cast<std::size_t>(steps + 1));
  for (std::int64_t k = 0; k <= steps; ++k)
    betas[static_cast<std::size_t>(k)] = static_cast<double>(k) / static_cast<double>(steps);
  return betas;
}

std::vector<double> piecewise_schedule(std::int64_t steps) {
  if (steps < 3)
    throw core::UsageError(core::describe("the piecewise schedule needs at least 3 temperature steps", "--temps"));
  // Salakhutdinov & Murray (2008): 500, 4000 and 10000 steps on [0, .5], [.5, .9], [.9, 1].
  const double total = 14500.0, k = static_cast<double>(steps);
  std::int64_t first = std::max<std::int64_t>(1, std::llround(k * 500.0 / total));
  std::int64_t second = std::max<std::int64_t>(1, std::llround(k * 4000.0 / total));
  while (steps - first - second < 1) (second > 1 ? second : first) -= 1;
  const std::int64_t third = steps - first - second;
  std::vector<double> betas{0.0};
  auto segment = [&](double from, double to, std::int64_t count) {
    for (std::int64_t i = 1; i <= count; ++i)
      betas.push_back(from + (to - from) * static_cast<double>(i) / static_cast<double>(count));
  };
  segment(0.0, 0.5, first);
  segment(0.5, 0.9, second);
  segment(0.9, 1.0, third);
  betas.back() = 1.0;
  return betas;
}

std::vector<double> adaptive_schedule(const rbm::BoltzmannMachine& machine, std::int64_t steps,
                                      const PilotSettings& pilot) {
  if (steps < 1) throw core::UsageError(core::describe("a schedule needs at least 1 temperature step", "--temps"));
  if (pilot.chains < 2 || pilot.temperatures < 1 || pilot.sweeps_per_temperature < 1)
    throw core::UsageError(
        core::describe("the adaptive schedule's pilot needs >= 2 chains, >= 1 temperature and "
                       ">= 1 sweep per temperature",
                       "adaptive schedule"));
  const std::vector<double> grid = linear_schedule(pilot.temperatures);
  const std::uint64_t seed = derive_seed(pilot.seed, SeedPurpose::adaptive_pilot);
  // The whole pilot on this rank: identical on every rank, no communication.
  rbm::SamplerSettings settings;
  settings.seed = seed;
  settings.beta = 0.0;
  settings.beta_scope = rbm::BetaScope::couplings;
  std::unique_ptr<rbm::Sampler> sampler = pilot.factory(machine, settings);
  sampler->set_chains(rbm::random_chains(machine.num_nodes(), seed, 0, pilot.chains));
  std::vector<double> sigma(grid.size()), q(static_cast<std::size_t>(pilot.chains));
  for (std::size_t g = 0; g < grid.size(); ++g) {
    // Q at each grid point (g = 0: one sweep at β = 0 gives exact p_0 samples).
    std::fill(q.begin(), q.end(), 0.0);
    sampler->anneal({{grid[g], g > 0 ? pilot.sweeps_per_temperature : 1, 1.0}}, q.data());
    double mean = 0, square = 0;
    for (double v : q) mean += v;
    mean /= static_cast<double>(q.size());
    for (double v : q) square += (v - mean) * (v - mean);
    sigma[g] = std::sqrt(square / static_cast<double>(q.size() - 1));
  }
  const double top = *std::max_element(sigma.begin(), sigma.end());
  if (!(top > 0) || !std::isfinite(top)) return linear_schedule(steps);
  // A floor keeps the length strictly increasing where the pilot saw no spread.
  for (double& s : sigma) s = std::max(s, 0.01 * top);
  std::vector<double> length(grid.size(), 0.0);  // ∫σ dβ, trapezoids
  for (std::size_t g = 1; g < grid.size(); ++g)
    length[g] = length[g - 1] + 0.5 * (sigma[g - 1] + sigma[g]) * (grid[g] - grid[g - 1]);
  std::vector<double> betas(static_cast<std::size_t>(steps + 1));
  betas.front() = 0.0;
  betas.back() = 1.0;
  for (std::int64_t k = 1; k < steps; ++k) {
    const double target = length.back() * static_cast<double>(k) / static_cast<double>(steps);
    std::size_t g = static_cast<std::size_t>(std::lower_bound(length.begin(), length.end(), target) - length.begin());
    g = std::clamp<std::size_t>(g, 1, grid.size() - 1);
    const double fraction = (target - length[g - 1]) / (length[g] - length[g - 1]);
    betas[static_cast<std::size_t>(k)] = grid[g - 1] + fraction * (grid[g] - grid[g - 1]);
  }
  check_schedule(betas);
  return betas;
}

std::vector<double> make_schedule(ScheduleKind kind, const rbm::BoltzmannMachine& machine, std::int64_t steps,
                                  const PilotSettings& pilot) {
  switch (kind) {
    case ScheduleKind::linear:
      return linear_schedule(steps);
    case ScheduleKind::piecewise:
      return piecewise_schedule(steps);
    case ScheduleKind::adaptive:
      return adaptive_schedule(machine, steps, pilot);
  }
  return linear_schedule(steps);
}

void check_schedule(const std::vector<double>& betas) {
  bool ok = betas.size() >= 2 && betas.front() == 0.0 && betas.back() == 1.0;
  for (std::size_t k = 1; ok && k < betas.size(); ++k) ok = betas[k] > betas[k - 1];
  if (!ok)
    throw core::UsageError(
        core::describe("an annealing schedule must start at beta = 0, end at beta = 1 and "
                       "increase strictly",
                       "annealing schedule"));
}

}  // namespace qvae::logz
