#include "qvae/eval/numpy_sum.hpp"

namespace qvae::eval {

template <class T>
T numpy_pairwise_sum(const T* x, std::int64_t n) {
  if (n < 8) {
    T sum = 0;
    for (std::int64_t i = 0; i < n; ++i) sum += x[i];
    return sum;
  }
  if (n <= 128) {
    T r[8];
    for (int j = 0; j < 8; ++j) r[j] = x[j];
    std::int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += x[i + j];
    T sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += x[i];
    return sum;
  }
  std::int64_t half = n / 2;
  half -= half % 8;
  return numpy_pairwise_sum(x, half) + numpy_pairwise_sum(x + half, n - half);
}

template <class T>
T numpy_sum(const T* x, std::int64_t n) {
  T sum = 0;
  for (std::int64_t begin = 0; begin < n; begin += kNumpyBufferSize)
    sum += numpy_pairwise_sum(x + begin, n - begin < kNumpyBufferSize ? n - begin : kNumpyBufferSize);
  return sum;
}

template float numpy_pairwise_sum<float>(const float*, std::int64_t);
template double numpy_pairwise_sum<double>(const double*, std::int64_t);
template float numpy_sum<float>(const float*, std::int64_t);
template double numpy_sum<double>(const double*, std::int64_t);

}  // namespace qvae::eval
