// Small dense linear algebra for the Fréchet distance (docs/evaluation.md,
// FPD): symmetric eigenvalues, the PSD matrix square root, Tr sqrt(A B) (on
// Eigen 3) and sample covariances.  Matrices are row-major n x n
// std::vector<double>.  Every routine runs serially in a fixed operation
// order, so the same inputs give the same bits on any rank.
#pragma once

#include <cstdint>
#include <vector>

namespace qvae::eval {

/// Eigenvalues (ascending) of a symmetric matrix (Eigen's self-adjoint solver:
/// Householder tridiagonalisation, then implicit symmetric QR).  The full matrix
/// is read, as (A + A^T) / 2.
std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n);

struct SymmetricEigen {
  std::vector<double> values;   ///< ascending
  std::vector<double> vectors;  ///< n x n, row-major; column k is the eigenvector of values[k]
};
/// Eigenvalues and eigenvectors of a symmetric matrix (the same solver).
SymmetricEigen symmetric_eigen(std::vector<double> a, int n);

/// The PSD square root V diag(sqrt(max(lambda, 0))) V^T of a symmetric matrix.
std::vector<double> sqrtm_psd(const std::vector<double>& a, int n);

/// Tr sqrt(A B) for symmetric positive semi-definite A, B (sample covariances):
/// the sum of square roots of the eigenvalues of A B, which are those of
/// U B U^T for A = U^T U (LDLT with diagonal pivoting, rank-revealing, so
/// singular covariances from constant features are fine).  This is the term
/// scipy.linalg.sqrtm(A.dot(B)).trace() computes in JetNet's Fréchet distance.
double trace_sqrt_product(const std::vector<double>& a, const std::vector<double>& b, int n);

/// Fréchet distance of two Gaussians: |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr sqrt(S1 S2).
double frechet_distance(const std::vector<double>& mean1, const std::vector<double>& cov1,
                        const std::vector<double>& mean2, const std::vector<double>& cov2, int n);

/// Mean and sample covariance (numpy.cov, ddof = 1) of the rows `indices` (with
/// repeats) of a row-major matrix with `cols` columns.  Two-pass: the mean first,
/// then centred rank-8 updates of the upper triangle, mirrored.
void mean_and_covariance(const double* matrix, int cols, const std::int64_t* indices, std::int64_t count,
                         std::vector<double>& mean, std::vector<double>& covariance);

/// Sum of a[i] * b[i] in a fixed order (four interleaved partial sums).
double dot(const double* a, const double* b, std::int64_t n);

}  // namespace qvae::eval
