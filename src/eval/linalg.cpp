// Dense linear algebra of the Fréchet distance on Eigen 3 (its symmetric
// eigen-solver and pivoted LDLT); the fixed-order sums stay here because the
// covariances must come out bit-identical on any rank count.
#include "qvae/eval/linalg.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "qvae/core/cpu_dispatch.hpp"

namespace qvae::eval {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::size_t at(int i, int j, int n) {
  return static_cast<std::size_t>(i) * static_cast<std::size_t>(n) + static_cast<std::size_t>(j);
}

void require_square(const std::vector<double>& a, int n, const char* who) {
  if (n < 0 || a.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(n))
    throw std::invalid_argument(std::string(who) + ": matrix is not n x n");
}

Eigen::Map<const RowMatrix> view(const std::vector<double>& a, int n) { return {a.data(), n, n}; }

/// Eigen's solver reads the lower triangle: the average of A and A^T makes every entry count.
Eigen::MatrixXd symmetrised(const std::vector<double>& a, int n) {
  const auto m = view(a, n);
  return 0.5 * (m + m.transpose());
}

Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solve(const Eigen::MatrixXd& a, int options, const char* who) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(a, options);
  if (solver.info() != Eigen::Success)
    throw std::runtime_error(std::string(who) + ": the eigen-solver did not converge");
  return solver;
}

}  // namespace

double dot(const double* a, const double* b, std::int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n) {
  require_square(a, n, "symmetric_eigenvalues");
  if (n == 0) return {};
  const Eigen::VectorXd values =
      solve(symmetrised(a, n), Eigen::EigenvaluesOnly, "symmetric_eigenvalues").eigenvalues();
  return {values.data(), values.data() + n};  // ascending
}

SymmetricEigen symmetric_eigen(std::vector<double> a, int n) {
  require_square(a, n, "symmetric_eigen");
  SymmetricEigen out;
  if (n == 0) return out;
  const auto solver = solve(symmetrised(a, n), Eigen::ComputeEigenvectors, "symmetric_eigen");
  out.values.assign(solver.eigenvalues().data(), solver.eigenvalues().data() + n);
  out.vectors.resize(a.size());
  Eigen::Map<RowMatrix>(out.vectors.data(), n, n) = solver.eigenvectors();
  return out;
}

std::vector<double> sqrtm_psd(const std::vector<double>& a, int n) {
  require_square(a, n, "sqrtm_psd");
  std::vector<double> root(a.size(), 0.0);
  if (n == 0) return root;
  const auto solver = solve(symmetrised(a, n), Eigen::ComputeEigenvectors, "sqrtm_psd");
  const Eigen::VectorXd s = solver.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  Eigen::Map<RowMatrix>(root.data(), n, n) = solver.eigenvectors() * s.asDiagonal() * solver.eigenvectors().transpose();
  return root;
}

double trace_sqrt_product(const std::vector<double>& a, const std::vector<double>& b, int n) {
  require_square(a, n, "trace_sqrt_product");
  require_square(b, n, "trace_sqrt_product");
  if (n == 0) return 0.0;
  // A = P^T L D L^T P (LDLT with diagonal pivoting: rank-revealing for a PSD A),
  // so A = U^T U with U = D^(1/2) L^T P and the eigenvalues of A B are those of
  // U B U^T = D^(1/2) L^T (P B P^T) L D^(1/2).  Pivots below LAPACK dpstrf's
  // default tolerance n * eps * max(D) count as zero: singular covariances from
  // constant features are fine.
  // Eigen reports tiny negative pivots of a singular A as a numerical issue; they fall below the tolerance.
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(symmetrised(a, n));
  const Eigen::VectorXd d = ldlt.vectorD();
  const double tolerance = n * std::numeric_limits<double>::epsilon() * std::max(0.0, d.maxCoeff());
  const Eigen::VectorXd root = d.unaryExpr([&](double v) { return v > tolerance ? std::sqrt(v) : 0.0; });
  if (root.isZero(0.0)) return 0.0;
  const Eigen::MatrixXd pb = ldlt.transpositionsP() * symmetrised(b, n);
  const Eigen::MatrixXd pbp = ldlt.transpositionsP() * pb.transpose();  // P B P^T, B symmetric
  // Two triangular products (half the work of dense ones), then the diagonal scaling.
  const Eigen::MatrixXd pbpl = pbp * ldlt.matrixL();
  const Eigen::MatrixXd c = root.asDiagonal() * (ldlt.matrixU() * pbpl) * root.asDiagonal();
  const Eigen::VectorXd values =
      solve(0.5 * (c + c.transpose()), Eigen::EigenvaluesOnly, "trace_sqrt_product").eigenvalues();
  return values.cwiseMax(0.0).cwiseSqrt().sum();
}

double frechet_distance(const std::vector<double>& mean1, const std::vector<double>& cov1,
                        const std::vector<double>& mean2, const std::vector<double>& cov2, int n) {
  if (mean1.size() != static_cast<std::size_t>(n) || mean2.size() != static_cast<std::size_t>(n))
    throw std::invalid_argument("frechet_distance: mean of the wrong length");
  double distance = 0;
  for (int i = 0; i < n; ++i) {
    const double diff = mean1[static_cast<std::size_t>(i)] - mean2[static_cast<std::size_t>(i)];
    distance += diff * diff;
  }
  double traces = 0;
  for (int i = 0; i < n; ++i) traces += cov1[at(i, i, n)] + cov2[at(i, i, n)];
  return distance + traces - 2.0 * trace_sqrt_product(cov1, cov2, n);
}

QVAE_VECTOR_CLONES void mean_and_covariance(const double* matrix, int cols, const std::int64_t* indices,
                                            std::int64_t count, std::vector<double>& mean,
                                            std::vector<double>& covariance) {
  const std::size_t d = static_cast<std::size_t>(cols);
  mean.assign(d, 0.0);
  covariance.assign(d * d, 0.0);
  if (count == 0) return;
  for (std::int64_t r = 0; r < count; ++r) {
    const double* x = matrix + indices[r] * cols;
    for (std::size_t j = 0; j < d; ++j) mean[j] += x[j];
  }
  for (double& m : mean) m /= static_cast<double>(count);
  // Centred rows in groups of 8: each pass over the upper triangle does 8
  // multiply-adds per element, in the same order for any split of the work.
  constexpr int kGroup = 8;
  std::vector<double> centred(kGroup * d, 0.0);
  for (std::int64_t first = 0; first < count; first += kGroup) {
    const int rows = static_cast<int>(std::min<std::int64_t>(kGroup, count - first));
    for (int g = 0; g < kGroup; ++g) {
      double* c = centred.data() + static_cast<std::size_t>(g) * d;
      if (g < rows) {
        const double* x = matrix + indices[first + g] * cols;
        for (std::size_t j = 0; j < d; ++j) c[j] = x[j] - mean[j];
      } else {
        std::fill(c, c + d, 0.0);  // padding rows add exact zeros
      }
    }
    const double* c0 = centred.data();
    const double *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d, *c4 = c3 + d, *c5 = c4 + d, *c6 = c5 + d, *c7 = c6 + d;
    for (std::size_t i = 0; i < d; ++i) {
      const double a0 = c0[i], a1 = c1[i], a2 = c2[i], a3 = c3[i], a4 = c4[i], a5 = c5[i], a6 = c6[i], a7 = c7[i];
      double* out = covariance.data() + i * d;
      for (std::size_t j = i; j < d; ++j)
        out[j] += ((a0 * c0[j] + a1 * c1[j]) + (a2 * c2[j] + a3 * c3[j])) +
                  ((a4 * c4[j] + a5 * c5[j]) + (a6 * c6[j] + a7 * c7[j]));
    }
  }
  const double norm = count > 1 ? 1.0 / static_cast<double>(count - 1) : std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = i; j < d; ++j) covariance[j * d + i] = covariance[i * d + j] *= norm;
}

}  // namespace qvae::eval
