// Building blocks of the Fréchet distance against small hand-computed cases:
// symmetric eigenvalues, the PSD square root, Tr sqrt(A B), covariances.
#include <gtest/gtest.h>

#include <cmath>

#include "qvae/core/philox.hpp"
#include "qvae/eval/linalg.hpp"

using namespace qvae::eval;

namespace {

using Matrix = std::vector<double>;

Matrix multiply(const Matrix& a, const Matrix& b, int n) {
  Matrix c(a.size(), 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j)
        c[static_cast<std::size_t>(i * n + j)] +=
            a[static_cast<std::size_t>(i * n + k)] * b[static_cast<std::size_t>(k * n + j)];
  return c;
}

/// n x m standard normal entries.
Matrix random_factor(int n, int m, std::uint64_t seed) {
  qvae::core::Philox rng(seed, 0);
  Matrix g(static_cast<std::size_t>(n * m));
  for (double& x : g) x = rng.normal();
  return g;
}

/// A random PSD matrix G G^T / n with G n x m (rank min(n, m)).
Matrix random_psd(int n, int m, std::uint64_t seed) {
  const Matrix g = random_factor(n, m, seed);
  Matrix s(static_cast<std::size_t>(n * n), 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < m; ++k)
        s[static_cast<std::size_t>(i * n + j)] +=
            g[static_cast<std::size_t>(i * m + k)] * g[static_cast<std::size_t>(j * m + k)] / n;
  return s;
}

double trace(const Matrix& a, int n) {
  double t = 0;
  for (int i = 0; i < n; ++i) t += a[static_cast<std::size_t>(i * n + i)];
  return t;
}

}  // namespace

TEST(Linalg, EigenvaluesOfSmallMatrices) {
  const auto two = symmetric_eigenvalues({2, 1, 1, 2}, 2);
  EXPECT_NEAR(two[0], 1.0, 1e-14);
  EXPECT_NEAR(two[1], 3.0, 1e-14);
  // diag(5, -1, 2) in a rotated basis keeps its eigenvalues.
  const double c = std::cos(0.3), s = std::sin(0.3);
  const Matrix r = {c, -s, 0, s, c, 0, 0, 0, 1}, rt = {c, s, 0, -s, c, 0, 0, 0, 1};
  const Matrix a = multiply(multiply(r, {5, 0, 0, 0, -1, 0, 0, 0, 2}, 3), rt, 3);
  const auto three = symmetric_eigenvalues(a, 3);
  EXPECT_NEAR(three[0], -1.0, 1e-13);
  EXPECT_NEAR(three[1], 2.0, 1e-13);
  EXPECT_NEAR(three[2], 5.0, 1e-13);
  EXPECT_TRUE(symmetric_eigenvalues({}, 0).empty());
  EXPECT_THROW(symmetric_eigenvalues({1, 2, 3}, 2), std::invalid_argument);
}

TEST(Linalg, EigenDecompositionReconstructsTheMatrix) {
  const int n = 40;
  const Matrix a = random_psd(n, 25, 7);  // rank 25: 15 zero eigenvalues
  const SymmetricEigen e = symmetric_eigen(a, n);
  const auto values_only = symmetric_eigenvalues(a, n);
  double scale = 0;
  for (double v : e.values) scale = std::max(scale, std::abs(v));
  for (int k = 0; k < n; ++k)
    EXPECT_NEAR(e.values[static_cast<std::size_t>(k)], values_only[static_cast<std::size_t>(k)], 1e-12 * scale);
  for (int k = 0; k < 15; ++k) EXPECT_NEAR(e.values[static_cast<std::size_t>(k)], 0.0, 1e-12 * scale);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double rebuilt = 0, orthogonality = 0;
      for (int k = 0; k < n; ++k) {
        rebuilt += e.vectors[static_cast<std::size_t>(i * n + k)] * e.values[static_cast<std::size_t>(k)] *
                   e.vectors[static_cast<std::size_t>(j * n + k)];
        orthogonality +=
            e.vectors[static_cast<std::size_t>(k * n + i)] * e.vectors[static_cast<std::size_t>(k * n + j)];
      }
      EXPECT_NEAR(rebuilt, a[static_cast<std::size_t>(i * n + j)], 1e-12 * scale);
      EXPECT_NEAR(orthogonality, i == j ? 1.0 : 0.0, 1e-12);
    }
}

TEST(Linalg, SquareRootOfPsdMatrices) {
  const Matrix diagonal = sqrtm_psd({4, 0, 0, 9}, 2);
  EXPECT_NEAR(diagonal[0], 2.0, 1e-14);
  EXPECT_NEAR(diagonal[3], 3.0, 1e-14);
  EXPECT_NEAR(diagonal[1], 0.0, 1e-14);
  // [[2, 1], [1, 2]] = R diag(1, 3) R^T: its root is R diag(1, sqrt 3) R^T.
  const Matrix root = sqrtm_psd({2, 1, 1, 2}, 2);
  const double p = (1 + std::sqrt(3.0)) / 2, q = (std::sqrt(3.0) - 1) / 2;
  EXPECT_NEAR(root[0], p, 1e-14);
  EXPECT_NEAR(root[1], q, 1e-14);
  EXPECT_NEAR(root[3], p, 1e-14);
  const int n = 30;
  const Matrix a = random_psd(n, 12, 3);
  const Matrix r = sqrtm_psd(a, n);
  const Matrix squared = multiply(r, r, n);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(squared[i], a[i], 1e-11);
}

TEST(Linalg, TraceSqrtProduct) {
  // Commuting: sqrt(diag(1, 4) diag(9, 1)) = diag(3, 2).
  EXPECT_NEAR(trace_sqrt_product({1, 0, 0, 4}, {9, 0, 0, 1}, 2), 5.0, 1e-14);
  // Rank one: A = v v^T makes A B's only non-zero eigenvalue v^T B v.
  const Matrix rank_one = {1, 2, 2, 4}, b = {2, 1, 1, 3};
  EXPECT_NEAR(trace_sqrt_product(rank_one, b, 2), std::sqrt(2.0 + 4.0 + 12.0), 1e-12);
  EXPECT_EQ(trace_sqrt_product({0, 0, 0, 0}, b, 2), 0.0);
  // General, also singular: for A = G G^T / n (G n x m), the non-zero eigenvalues
  // of A B are those of the well-conditioned m x m matrix G^T B G / n.
  const int n = 30;
  const Matrix y = random_psd(n, 40, 12);
  for (int rank : {30, 17}) {
    const Matrix g = random_factor(n, rank, 11), x = random_psd(n, rank, 11);
    Matrix small(static_cast<std::size_t>(rank * rank), 0.0);
    for (int i = 0; i < rank; ++i)
      for (int j = 0; j < rank; ++j)
        for (int k = 0; k < n; ++k)
          for (int l = 0; l < n; ++l)
            small[static_cast<std::size_t>(i * rank + j)] += g[static_cast<std::size_t>(k * rank + i)] *
                                                             y[static_cast<std::size_t>(k * n + l)] *
                                                             g[static_cast<std::size_t>(l * rank + j)] / n;
    double expected = 0;
    for (double lambda : symmetric_eigenvalues(small, rank)) expected += std::sqrt(std::max(0.0, lambda));
    EXPECT_NEAR(trace_sqrt_product(x, y, n), expected, 1e-10 * expected) << "rank " << rank;
    if (rank == n) {
      // Full rank: also Tr sqrt(A^1/2 B A^1/2), and symmetric in A, B.
      const Matrix root = sqrtm_psd(x, n);
      EXPECT_NEAR(trace(sqrtm_psd(multiply(multiply(root, y, n), root, n), n), n), expected, 1e-10 * expected);
      EXPECT_NEAR(trace_sqrt_product(y, x, n), expected, 1e-10 * expected);
    }
  }
}

TEST(Linalg, FrechetDistanceOfGaussians) {
  // 1-D: (mu1 - mu2)^2 + (sigma1 - sigma2)^2.
  EXPECT_NEAR(frechet_distance({0}, {4}, {3}, {1}, 1), 9.0 + 1.0, 1e-14);
  const int n = 12;
  const Matrix s = random_psd(n, 30, 5);
  const std::vector<double> mu(static_cast<std::size_t>(n), 0.3);
  EXPECT_NEAR(frechet_distance(mu, s, mu, s, n), 0.0, 1e-12);
  // Equal covariances: only the means differ.
  std::vector<double> shifted = mu;
  shifted[3] += 2;
  EXPECT_NEAR(frechet_distance(mu, s, shifted, s, n), 4.0, 1e-11);
}

TEST(Linalg, MeanAndCovarianceLikeNumpyCov) {
  const int rows = 37, cols = 11;
  qvae::core::Philox rng(9, 1);
  std::vector<double> m(static_cast<std::size_t>(rows * cols));
  for (double& x : m) x = rng.uniform(-2, 5);
  const std::vector<std::int64_t> indices = {0, 3, 3, 36, 5, 9, 9, 9, 12, 20, 1, 30, 31};  // repeats, 13 rows
  std::vector<double> mean, cov;
  mean_and_covariance(m.data(), cols, indices.data(), static_cast<std::int64_t>(indices.size()), mean, cov);
  const double n = static_cast<double>(indices.size());
  for (int i = 0; i < cols; ++i) {
    double mu_i = 0;
    for (auto r : indices) mu_i += m[static_cast<std::size_t>(r * cols + i)];
    mu_i /= n;
    EXPECT_NEAR(mean[static_cast<std::size_t>(i)], mu_i, 1e-14);
  }
  for (int i = 0; i < cols; ++i)
    for (int j = 0; j < cols; ++j) {
      double expected = 0;
      for (auto r : indices)
        expected += (m[static_cast<std::size_t>(r * cols + i)] - mean[static_cast<std::size_t>(i)]) *
                    (m[static_cast<std::size_t>(r * cols + j)] - mean[static_cast<std::size_t>(j)]);
      EXPECT_NEAR(cov[static_cast<std::size_t>(i * cols + j)], expected / (n - 1), 1e-13);
    }
}
