// β_eff as the minimiser of the kernel Stein discrepancy (stein.hpp): a grid in
// log β extended while the minimum sits on an edge, then Brent's method.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/dwave/stein.hpp"

namespace qvae::dwave {

namespace {

constexpr int kGridPoints = 9;  ///< first grid over [β₀/8, 8β₀]
constexpr double kGridSpan = 8.0;
constexpr int kMostGridPoints = 40;  ///< extensions stop here
constexpr double kLargestBeta = 1e4;
constexpr double kLogTolerance = 2.5e-4;  ///< Brent's tol1 in log β: final bracket ≈ 4·tol1 = 0.1%
constexpr double kGoldenSection = 0.3819660112501051;
constexpr double kDerivativeStep = 0.01;  ///< relative step of the finite differences at β̂

class SteinSearch {
 public:
  SteinSearch(const SteinDiscrepancy& discrepancy, const BetaSettings& settings)
      : discrepancy_(discrepancy), settings_(settings) {
    estimate_.method = BetaMethod::stein;
  }

  BetaEstimate run() {
    if (!(settings_.beta_initial > 0) || !std::isfinite(settings_.beta_initial) || settings_.max_iterations < 1)
      throw core::UsageError(core::describe("the Stein fit needs a finite beta_initial > 0 and iterations >= 1",
                                            "[dwave] beta_initial, beta_iterations"));
    // Grid in log β; extended one spacing at a time while the minimum sits on an edge.
    const double floor = std::log(std::max(settings_.beta_min, 1e-300));
    const double spacing = 2 * std::log(kGridSpan) / (kGridPoints - 1);
    const double first = std::max(std::log(settings_.beta_initial / kGridSpan), floor);
    std::vector<double> grid, values;
    for (int g = 0; g < kGridPoints; ++g) {
      grid.push_back(first + g * spacing);
      values.push_back(evaluate(grid.back(), "grid", grid.back() - grid.front()));
    }
    std::size_t best = lowest(values);
    while (static_cast<int>(grid.size()) < kMostGridPoints && values[best] < kInfinity) {
      if (best == 0 && grid.front() - spacing >= floor - 1e-12) {
        grid.insert(grid.begin(), grid.front() - spacing);
        values.insert(values.begin(), evaluate(grid.front(), "grid (extended down)", grid.back() - grid.front()));
      } else if (best + 1 == grid.size() && grid.back() + spacing <= std::log(kLargestBeta)) {
        grid.push_back(grid.back() + spacing);
        values.push_back(evaluate(grid.back(), "grid (extended up)", grid.back() - grid.front()));
      } else {
        break;
      }
      best = lowest(values);
    }
    if (!(values[best] < kInfinity))
      throw core::RuntimeError(core::describe("exp(-beta dE) overflows at every beta of the grid",
                                              "qvae dwave beta --method stein",
                                              "check that the samples belong to this model, or lower --beta0"));
    if (best == 0 || best + 1 == grid.size()) {
      // The minimum is on the edge of the allowed range: report it, unconverged.
      estimate_.beta_eff = std::exp(grid[best]);
      estimate_.uncertainty = kInfinity;
      finish("minimum on the edge of the search range");
      return estimate_;
    }
    brent(grid[best - 1], grid[best], grid[best + 1], values[best], values[best - 1], values[best + 1]);
    uncertainty();
    return estimate_;
  }

 private:
  static constexpr double kInfinity = std::numeric_limits<double>::infinity();

  static std::size_t lowest(const std::vector<double>& values) {
    return static_cast<std::size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  }

  double evaluate(double log_beta, const std::string& note, double width) {
    const double beta = std::exp(log_beta);
    if (!estimate_.history.empty()) estimate_.history.back().next_beta = beta;
    const double value = discrepancy_.statistic(beta);
    BetaIteration step;
    step.iteration = static_cast<int>(estimate_.history.size());
    step.beta = beta;
    step.statistic = value;
    step.threshold = width;
    step.note = note;
    estimate_.history.push_back(step);
    core::log::info_root("dwave: stein beta ", beta, ": KDSD ", value, " (", note, ")");
    return value;
  }

  /// Brent's minimisation in x = log β on the bracket a < x < b (Numerical Recipes' brent).
  void brent(double a, double x, double b, double fx, double fa, double fb) {
    // The bracket's ends start as the two remembered points, so the first step may be parabolic.
    double w = fa <= fb ? a : b, v = fa <= fb ? b : a;
    double fw = std::min(fa, fb), fv = std::max(fa, fb);
    double d = 0, e = b - a;
    bool converged = false;
    for (int it = 0;; ++it) {
      const double middle = 0.5 * (a + b), tol1 = kLogTolerance, tol2 = 2 * tol1;
      if (std::fabs(x - middle) <= tol2 - 0.5 * (b - a)) {
        converged = true;
        break;
      }
      if (it >= settings_.max_iterations) break;
      bool golden = true;
      if (std::fabs(e) > tol1 && std::isfinite(fx) && std::isfinite(fw) && std::isfinite(fv)) {
        const double r = (x - w) * (fx - fv);
        double q = (x - v) * (fx - fw);
        double p = (x - v) * q - (x - w) * r;
        q = 2 * (q - r);
        if (q > 0) p = -p;
        q = std::fabs(q);
        const double previous = e;
        e = d;
        if (!(std::fabs(p) >= std::fabs(0.5 * q * previous) || p <= q * (a - x) || p >= q * (b - x))) {
          d = p / q;
          const double u = x + d;
          if (u - a < tol2 || b - u < tol2) d = std::copysign(tol1, middle - x);
          golden = false;
        }
      }
      if (golden) {
        e = x >= middle ? a - x : b - x;
        d = kGoldenSection * e;
      }
      const double u = std::fabs(d) >= tol1 ? x + d : x + std::copysign(tol1, d);
      const double fu = evaluate(u, golden ? "golden section" : "parabolic step", b - a);
      if (fu <= fx) {
        (u >= x ? a : b) = x;
        v = w, fv = fw, w = x, fw = fx, x = u, fx = fu;
      } else {
        (u < x ? a : b) = u;
        if (fu <= fw || w == x) {
          v = w, fv = fw, w = u, fw = fu;
        } else if (fu <= fv || v == x || v == w) {
          v = u, fv = fu;
        }
      }
      estimate_.history.back().threshold = b - a;
    }
    estimate_.beta_eff = std::exp(x);
    estimate_.converged = converged;
  }

  /// Delta method: β̂ solves D'(β) = 0, so Var β̂ ≈ Var D̂'(β̂) / D''(β̂)², with
  /// Var D̂' ≈ 4 Var(g)/W from the row projections g of D' (a U-statistic).
  void uncertainty() {
    const double beta = estimate_.beta_eff, h = kDerivativeStep * beta;
    const KdsdTest centre = discrepancy_.test(beta, 0, 0);
    const SteinDiscrepancy::Projections up = discrepancy_.projections(beta + h);
    const SteinDiscrepancy::Projections down = discrepancy_.projections(beta - h);
    const double curvature = (up.statistic - 2 * centre.statistic + down.statistic) / (h * h);
    // The lowest triangle-pass value is the same U summed in another order: if the two
    // differ by more than a thousandth of the standard error, rounding dominates.
    const double searched =
        std::min_element(estimate_.history.begin(), estimate_.history.end(),
                         [](const BetaIteration& a, const BetaIteration& b) { return a.statistic < b.statistic; })
            ->statistic;
    std::string trouble;
    if (!(std::fabs(searched - centre.statistic) <= 1e-3 * centre.std_error))
      trouble = "KDSD at beta_eff is dominated by rounding (terms with huge p(-x)/p(x))";
    else if (centre.statistic < -3 * centre.std_error)
      trouble = "KDSD significantly negative at beta_eff: a few samples with large p(-x)/p(x) dominate";
    else if (!(curvature > 0 && std::isfinite(curvature)) || up.row_means.empty() || down.row_means.empty())
      trouble = "no resolved minimum at beta_eff (KDSD not convex or not finite next to it)";
    if (!trouble.empty()) estimate_.converged = false;
    const std::vector<double>& weights = discrepancy_.weights();
    const double w = static_cast<double>(discrepancy_.sample_count());
    double mean = 0, spread = 0;
    if (up.row_means.size() == down.row_means.size()) {
      for (std::size_t a = 0; a < up.row_means.size(); ++a)
        mean += weights[a] * (up.row_means[a] - down.row_means[a]) / (2 * h);
      mean /= w;
      for (std::size_t a = 0; a < up.row_means.size(); ++a) {
        const double g = (up.row_means[a] - down.row_means[a]) / (2 * h) - mean;
        spread += weights[a] * g * g;
      }
      spread /= std::max(w - 1, 1.0);
    }
    estimate_.uncertainty =
        trouble.empty() && std::isfinite(spread) ? std::sqrt(4 * spread / w) / curvature : kInfinity;
    finish("KDSD at beta_eff " + std::to_string(centre.statistic) + " +- " + std::to_string(centre.std_error) +
           (trouble.empty() ? "" : "; " + trouble));
    if (!trouble.empty())
      core::log::warn_root("dwave: stein: ", trouble, "; beta_eff ", estimate_.beta_eff,
                           " is unreliable: use more reads or a moment-matching method");
  }

  void finish(const std::string& note) {
    BetaIteration& last = estimate_.history.back();
    last.next_beta = estimate_.beta_eff;
    last.note += "; " + note + (estimate_.converged ? "; converged" : "");
  }

  const SteinDiscrepancy& discrepancy_;
  BetaSettings settings_;
  BetaEstimate estimate_;
};

}  // namespace

BetaEstimate fit_stein_beta(const SteinDiscrepancy& discrepancy, const BetaSettings& settings) {
  return SteinSearch(discrepancy, settings).run();
}

}  // namespace qvae::dwave
