// A duplicated MPI communicator held by RAII, with the few collectives the
// project needs, typed.  Duplicating keeps our messages apart from any other
// library's on the same parent communicator.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "qvae/par/mpi_check.hpp"

namespace qvae::par {

template <class T> MPI_Datatype mpi_type();
template <> inline MPI_Datatype mpi_type<char>() { return MPI_CHAR; }
template <> inline MPI_Datatype mpi_type<std::uint8_t>() { return MPI_UINT8_T; }
template <> inline MPI_Datatype mpi_type<int>() { return MPI_INT; }
template <> inline MPI_Datatype mpi_type<unsigned>() { return MPI_UNSIGNED; }
template <> inline MPI_Datatype mpi_type<long>() { return MPI_LONG; }
template <> inline MPI_Datatype mpi_type<long long>() { return MPI_LONG_LONG; }
template <> inline MPI_Datatype mpi_type<unsigned long>() { return MPI_UNSIGNED_LONG; }
template <> inline MPI_Datatype mpi_type<unsigned long long>() { return MPI_UNSIGNED_LONG_LONG; }
template <> inline MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> inline MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

class Communicator {
 public:
  /// Duplicates `parent` (MPI_COMM_WORLD by default) and sets MPI_ERRORS_RETURN on the copy.
  explicit Communicator(MPI_Comm parent = MPI_COMM_WORLD);

  MPI_Comm get() const { return *comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier() const;

  template <class T> T allreduce(T value, MPI_Op op) const {
    static_assert(std::is_arithmetic<T>::value, "allreduce of arithmetic values only");
    T out{};
    QVAE_CHECK_MPI(MPI_Allreduce(&value, &out, 1, mpi_type<T>(), op, get()));
    return out;
  }
  template <class T> T sum(T value) const { return allreduce(value, MPI_SUM); }
  template <class T> T max(T value) const { return allreduce(value, MPI_MAX); }
  template <class T> T min(T value) const { return allreduce(value, MPI_MIN); }
  /// True on every rank iff `flag` is true on every rank.
  bool all(bool flag) const { return min(flag ? 1 : 0) == 1; }

  /// In-place element-wise sum over ranks.
  template <class T> void sum_in_place(T* data, std::size_t count) const {
    QVAE_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type<T>(), MPI_SUM, get()));
  }

  /// Exclusive prefix sum: the sum of `value` over ranks below this one (0 on rank 0).
  std::int64_t exscan_sum(std::int64_t value) const;

  template <class T> void broadcast(T* data, std::size_t count, int root = 0) const {
    QVAE_CHECK_MPI(MPI_Bcast(data, static_cast<int>(count), mpi_type<T>(), root, get()));
  }
  template <class T> T broadcast_value(T value, int root = 0) const {
    broadcast(&value, 1, root);
    return value;
  }
  void broadcast(std::string& text, int root = 0) const;

  /// Gathers one value from every rank onto every rank (rank order).
  template <class T> std::vector<T> allgather(T value) const {
    std::vector<T> out(static_cast<std::size_t>(size_));
    QVAE_CHECK_MPI(MPI_Allgather(&value, 1, mpi_type<T>(), out.data(), 1, mpi_type<T>(), get()));
    return out;
  }
  /// Concatenates every rank's block onto every rank, in rank order (so a
  /// reduction over the result is the same for any rank count).
  template <class T> std::vector<T> allgather_blocks(const std::vector<T>& local) const {
    const std::vector<int> counts = allgather(static_cast<int>(local.size()));
    std::vector<int> offsets(counts.size(), 0);
    for (std::size_t r = 1; r < counts.size(); ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
    std::vector<T> all(static_cast<std::size_t>(offsets.back() + counts.back()));
    QVAE_CHECK_MPI(MPI_Allgatherv(local.data(), static_cast<int>(local.size()), mpi_type<T>(), all.data(),
                                  counts.data(), offsets.data(), mpi_type<T>(), get()));
    return all;
  }

 private:
  std::shared_ptr<MPI_Comm> comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace qvae::par
