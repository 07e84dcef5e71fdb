// numpy's summation order, reproduced so that sums agree with evaluate.py to
// the last bit (docs/evaluation.md, "Equality with evaluate.py").
//
// `np.sum(x, axis=-1)` over a contiguous run of n values of type T (float32 or
// float64) is np.add.reduce: the ufunc machinery hands the inner loop chunks of
// at most 8192 elements (its buffer size), the result starts at 0 and each
// chunk's pairwise sum is added to it in T.  The pairwise sum of a chunk:
//   n < 8:      a plain left-to-right loop from 0;
//   n <= 128:   8 accumulators r[j] = x[j] + x[j+8] + ..., combined as
//               ((r0+r1)+(r2+r3)) + ((r4+r5)+(r6+r7)), then the n % 8 rest added in order;
//   n > 128:    split at n2 = n/2 rounded down to a multiple of 8, recursively.
// Every operation is in T: float32 sums round at every step like numpy's do.
#pragma once

#include <cstdint>

namespace qvae::eval {

template <class T>
T numpy_pairwise_sum(const T* x, std::int64_t n);
/// np.add.reduce over x[0..n): chunks of kNumpyBufferSize, each numpy_pairwise_sum'med.
template <class T>
T numpy_sum(const T* x, std::int64_t n);

inline constexpr std::int64_t kNumpyBufferSize = 8192;

extern template float numpy_pairwise_sum<float>(const float*, std::int64_t);
extern template double numpy_pairwise_sum<double>(const double*, std::int64_t);
extern template float numpy_sum<float>(const float*, std::int64_t);
extern template double numpy_sum<double>(const double*, std::int64_t);

}  // namespace qvae::eval
