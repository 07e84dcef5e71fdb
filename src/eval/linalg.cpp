#include "qvae/eval/linalg.hpp"

#include "vector_clones.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace qvae::eval {
namespace {

std::size_t at(int i, int j, int n) {
  return static_cast<std::size_t>(i) * static_cast<std::size_t>(n) + static_cast<std::size_t>(j);
}

void require_square(const std::vector<double>& a, int n, const char* who) {
  if (n < 0 || a.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(n))
    throw std::invalid_argument(std::string(who) + ": matrix is not n x n");
}

/// Implicit QL on a symmetric tridiagonal matrix (EISPACK tql2 as in JAMA):
/// d = diagonal, e[i] = element (i-1, i) with e[0] unused.  On return d holds
/// the eigenvalues, ascending; `vectors` (n x n row-major or nullptr) is
/// multiplied by the rotations, so the eigenvectors of the original matrix
/// come out when it enters holding the tridiagonalising transform.
void tql2(std::vector<double>& d, std::vector<double>& e, int n, double* vectors) {
  if (n == 0) return;
  for (int i = 1; i < n; ++i) e[static_cast<std::size_t>(i) - 1] = e[static_cast<std::size_t>(i)];
  e[static_cast<std::size_t>(n) - 1] = 0.0;
  double f = 0.0, tst1 = 0.0;
  const double eps = std::numeric_limits<double>::epsilon();
  auto D = [&](int i) -> double& { return d[static_cast<std::size_t>(i)]; };
  auto E = [&](int i) -> double& { return e[static_cast<std::size_t>(i)]; };
  for (int l = 0; l < n; ++l) {
    tst1 = std::max(tst1, std::abs(D(l)) + std::abs(E(l)));
    int m = l;
    while (m < n - 1 && std::abs(E(m)) > eps * tst1) ++m;
    if (m > l) {
      int iterations = 0;
      do {
        if (++iterations > 60 * n) throw std::runtime_error("symmetric eigenvalues: QL iteration did not converge");
        double g = D(l);
        double p = (D(l + 1) - g) / (2.0 * E(l));
        double r = std::hypot(p, 1.0);
        if (p < 0) r = -r;
        D(l) = E(l) / (p + r);
        D(l + 1) = E(l) * (p + r);
        const double dl1 = D(l + 1);
        double h = g - D(l);
        for (int i = l + 2; i < n; ++i) D(i) -= h;
        f += h;
        p = D(m);
        double c = 1.0, c2 = 1.0, c3 = 1.0, s = 0.0, s2 = 0.0;
        const double el1 = E(l + 1);
        for (int i = m - 1; i >= l; --i) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * E(i);
          h = c * p;
          r = std::hypot(p, E(i));
          E(i + 1) = s * r;
          s = E(i) / r;
          c = p / r;
          p = c * D(i) - s * g;
          D(i + 1) = h + s * (c * g + s * D(i));
          if (vectors) {
            // Rotation of columns i and i+1 (vectors are stored transposed: rows).
            double* vi = vectors + at(i, 0, n);
            double* vi1 = vectors + at(i + 1, 0, n);
            for (int k = 0; k < n; ++k) {
              const double t = vi1[k];
              vi1[k] = s * vi[k] + c * t;
              vi[k] = c * vi[k] - s * t;
            }
          }
        }
        p = -s * s2 * c3 * el1 * E(l) / dl1;
        E(l) = s * p;
        D(l) = c * p;
      } while (std::abs(E(l)) > eps * tst1);
    }
    D(l) += f;
    E(l) = 0.0;
  }
}

/// Householder reduction of a symmetric matrix to tridiagonal form, for
/// eigenvalues only: d = diagonal, e[i] = element (i-1, i).  Reads and updates
/// the lower triangle only, row-major, every inner loop contiguous.
QVAE_VECTOR_CLONES void tridiagonalize(std::vector<double>& a, int n, std::vector<double>& d, std::vector<double>& e) {
  d.assign(static_cast<std::size_t>(n), 0.0);
  e.assign(static_cast<std::size_t>(n), 0.0);
  std::vector<double> u(static_cast<std::size_t>(n)), p(static_cast<std::size_t>(n));
  double* uu = u.data();
  double* pp = p.data();
  for (int i = n - 1; i > 0; --i) {
    double* row = a.data() + at(i, 0, n);
    d[static_cast<std::size_t>(i)] = row[i];
    double scale = 0;
    for (int k = 0; k < i; ++k) scale += std::abs(row[k]);
    if (i == 1 || scale == 0) {
      e[static_cast<std::size_t>(i)] = row[i - 1];
      continue;
    }
    double sigma = 0;
    for (int k = 0; k < i; ++k) {
      uu[k] = row[k] / scale;
      sigma += uu[k] * uu[k];
    }
    const double last = uu[i - 1];
    const double g = last > 0 ? -std::sqrt(sigma) : std::sqrt(sigma);
    e[static_cast<std::size_t>(i)] = scale * g;
    const double h = sigma - last * g;  // |u|^2 / 2 once u[i-1] is updated
    uu[i - 1] = last - g;
    // p = B u / h from B's lower triangle: row j gives p_j (its part k <= j)
    // and, by symmetry, p_k += B_jk u_j for k < j.
    std::fill(pp, pp + i, 0.0);
    for (int j = 0; j < i; ++j) {
      const double* bj = a.data() + at(j, 0, n);
      const double uj = uu[j];
      pp[j] += dot(bj, uu, j) + bj[j] * uj;
      for (int k = 0; k < j; ++k) pp[k] += bj[k] * uj;
    }
    double k_coefficient = 0;
    for (int j = 0; j < i; ++j) {
      pp[j] /= h;
      k_coefficient += uu[j] * pp[j];
    }
    k_coefficient /= 2 * h;
    for (int j = 0; j < i; ++j) pp[j] -= k_coefficient * uu[j];
    // B <- B - u q^T - q u^T on the lower triangle (q is now in p).
    for (int j = 0; j < i; ++j) {
      double* bj = a.data() + at(j, 0, n);
      const double uj = uu[j], qj = pp[j];
      for (int k = 0; k <= j; ++k) bj[k] -= uj * pp[k] + qj * uu[k];
    }
  }
  if (n > 0) d[0] = a[0];
}

/// EISPACK tred2 (as in JAMA): tridiagonalisation that also accumulates the
/// orthogonal transform in `v` (n x n row-major, here in JAMA's V[row][col]).
void tred2(std::vector<double>& v, int n, std::vector<double>& d, std::vector<double>& e) {
  auto V = [&](int i, int j) -> double& { return v[at(i, j, n)]; };
  d.assign(static_cast<std::size_t>(n), 0.0);
  e.assign(static_cast<std::size_t>(n), 0.0);
  auto D = [&](int i) -> double& { return d[static_cast<std::size_t>(i)]; };
  auto E = [&](int i) -> double& { return e[static_cast<std::size_t>(i)]; };
  for (int j = 0; j < n; ++j) D(j) = V(n - 1, j);
  for (int i = n - 1; i > 0; --i) {
    double scale = 0.0, h = 0.0;
    for (int k = 0; k < i; ++k) scale += std::abs(D(k));
    if (scale == 0.0) {
      E(i) = D(i - 1);
      for (int j = 0; j < i; ++j) {
        D(j) = V(i - 1, j);
        V(i, j) = 0.0;
        V(j, i) = 0.0;
      }
    } else {
      for (int k = 0; k < i; ++k) {
        D(k) /= scale;
        h += D(k) * D(k);
      }
      double f = D(i - 1);
      double g = std::sqrt(h);
      if (f > 0) g = -g;
      E(i) = scale * g;
      h -= f * g;
      D(i - 1) = f - g;
      for (int j = 0; j < i; ++j) E(j) = 0.0;
      for (int j = 0; j < i; ++j) {
        f = D(j);
        V(j, i) = f;
        g = E(j) + V(j, j) * f;
        for (int k = j + 1; k <= i - 1; ++k) {
          g += V(k, j) * D(k);
          E(k) += V(k, j) * f;
        }
        E(j) = g;
      }
      f = 0.0;
      for (int j = 0; j < i; ++j) {
        E(j) /= h;
        f += E(j) * D(j);
      }
      const double hh = f / (h + h);
      for (int j = 0; j < i; ++j) E(j) -= hh * D(j);
      for (int j = 0; j < i; ++j) {
        f = D(j);
        g = E(j);
        for (int k = j; k <= i - 1; ++k) V(k, j) -= (f * E(k) + g * D(k));
        D(j) = V(i - 1, j);
        V(i, j) = 0.0;
      }
    }
    D(i) = h;
  }
  for (int i = 0; i < n - 1; ++i) {
    V(n - 1, i) = V(i, i);
    V(i, i) = 1.0;
    const double h = D(i + 1);
    if (h != 0.0) {
      for (int k = 0; k <= i; ++k) D(k) = V(k, i + 1) / h;
      for (int j = 0; j <= i; ++j) {
        double g = 0.0;
        for (int k = 0; k <= i; ++k) g += V(k, i + 1) * V(k, j);
        for (int k = 0; k <= i; ++k) V(k, j) -= g * D(k);
      }
    }
    for (int k = 0; k <= i; ++k) V(k, i + 1) = 0.0;
  }
  for (int j = 0; j < n; ++j) {
    D(j) = V(n - 1, j);
    V(n - 1, j) = 0.0;
  }
  if (n > 0) V(n - 1, n - 1) = 1.0;
  if (n > 0) E(0) = 0.0;
}

std::vector<double> transpose(const std::vector<double>& a, int rows, int cols) {
  std::vector<double> t(a.size());
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) t[at(j, i, rows)] = a[at(i, j, cols)];
  return t;
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
  std::vector<double> d, e;
  tridiagonalize(a, n, d, e);
  tql2(d, e, n, nullptr);
  std::sort(d.begin(), d.end());
  return d;
}

SymmetricEigen symmetric_eigen(std::vector<double> a, int n) {
  require_square(a, n, "symmetric_eigen");
  std::vector<double> d, e;
  tred2(a, n, d, e);
  // tql2 rotates columns; keep the transform transposed so each rotation touches two rows.
  std::vector<double> vt = transpose(a, n, n);
  tql2(d, e, n, vt.data());
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return d[static_cast<std::size_t>(x)] < d[static_cast<std::size_t>(y)]; });
  SymmetricEigen out;
  out.values.resize(static_cast<std::size_t>(n));
  out.vectors.resize(a.size());
  for (int k = 0; k < n; ++k) {
    const int src = order[static_cast<std::size_t>(k)];
    out.values[static_cast<std::size_t>(k)] = d[static_cast<std::size_t>(src)];
    for (int i = 0; i < n; ++i) out.vectors[at(i, k, n)] = vt[at(src, i, n)];
  }
  return out;
}

std::vector<double> sqrtm_psd(const std::vector<double>& a, int n) {
  const SymmetricEigen eigen = symmetric_eigen(a, n);
  std::vector<double> root(a.size(), 0.0);
  for (int k = 0; k < n; ++k) {
    const double s = std::sqrt(std::max(0.0, eigen.values[static_cast<std::size_t>(k)]));
    if (s == 0) continue;
    for (int i = 0; i < n; ++i) {
      const double vik = eigen.vectors[at(i, k, n)] * s;
      for (int j = 0; j < n; ++j) root[at(i, j, n)] += vik * eigen.vectors[at(j, k, n)];
    }
  }
  return root;
}

QVAE_VECTOR_CLONES double trace_sqrt_product(const std::vector<double>& a, const std::vector<double>& b, int n) {
  require_square(a, n, "trace_sqrt_product");
  require_square(b, n, "trace_sqrt_product");
  if (n == 0) return 0.0;
  // Left-looking pivoted Cholesky A = U^T U, U (rank x n) in A's own column order
  // (row k is zero in the columns pivoted before it), stopping when the largest
  // remaining diagonal is below LAPACK dpstrf's default tolerance n * eps * max diag.
  std::vector<double> remaining(static_cast<std::size_t>(n));
  std::vector<char> pivoted(static_cast<std::size_t>(n), 0);
  double max_diagonal = 0;
  for (int j = 0; j < n; ++j) {
    remaining[static_cast<std::size_t>(j)] = a[at(j, j, n)];
    max_diagonal = std::max(max_diagonal, a[at(j, j, n)]);
  }
  const double tolerance = n * std::numeric_limits<double>::epsilon() * max_diagonal;
  std::vector<double> u;
  int rank = 0;
  for (int k = 0; k < n && max_diagonal > 0; ++k) {
    int pivot = -1;
    for (int j = 0; j < n; ++j)
      if (!pivoted[static_cast<std::size_t>(j)] &&
          (pivot < 0 || remaining[static_cast<std::size_t>(j)] > remaining[static_cast<std::size_t>(pivot)]))
        pivot = j;
    if (pivot < 0 || !(remaining[static_cast<std::size_t>(pivot)] > tolerance)) break;
    u.resize(static_cast<std::size_t>(k + 1) * static_cast<std::size_t>(n));
    double* row = u.data() + at(k, 0, n);
    std::copy(a.begin() + static_cast<std::ptrdiff_t>(at(pivot, 0, n)),
              a.begin() + static_cast<std::ptrdiff_t>(at(pivot, 0, n) + static_cast<std::size_t>(n)), row);
    for (int m = 0; m < k; ++m) {
      const double* previous = u.data() + at(m, 0, n);
      const double coefficient = previous[pivot];
      if (coefficient == 0) continue;
      for (int j = 0; j < n; ++j) row[j] -= coefficient * previous[j];
    }
    const double diagonal = std::sqrt(remaining[static_cast<std::size_t>(pivot)]);
    pivoted[static_cast<std::size_t>(pivot)] = 1;
    for (int j = 0; j < n; ++j) {
      if (j == pivot)
        row[j] = diagonal;
      else if (pivoted[static_cast<std::size_t>(j)])
        row[j] = 0.0;
      else {
        row[j] /= diagonal;
        remaining[static_cast<std::size_t>(j)] -= row[j] * row[j];
      }
    }
    ++rank;
  }
  if (rank == 0) return 0.0;
  // C = U B U^T (rank x rank): its eigenvalues are the non-zero ones of A B.
  std::vector<double> w(static_cast<std::size_t>(rank) * static_cast<std::size_t>(n), 0.0);  // U B
  for (int k = 0; k < rank; ++k) {
    const double* uk = u.data() + at(k, 0, n);
    double* wk = w.data() + at(k, 0, n);
    for (int j = 0; j < n; ++j) {
      const double coefficient = uk[j];
      if (coefficient == 0) continue;
      const double* bj = b.data() + at(j, 0, n);
      for (int m = 0; m < n; ++m) wk[m] += coefficient * bj[m];
    }
  }
  std::vector<double> c(static_cast<std::size_t>(rank) * static_cast<std::size_t>(rank));
  for (int k = 0; k < rank; ++k)
    for (int l = k; l < rank; ++l)
      c[at(k, l, rank)] = c[at(l, k, rank)] = dot(w.data() + at(k, 0, n), u.data() + at(l, 0, n), n);
  const std::vector<double> eigenvalues = symmetric_eigenvalues(std::move(c), rank);
  double trace = 0;
  for (double lambda : eigenvalues) trace += std::sqrt(std::max(0.0, lambda));
  return trace;
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
