// A duplicated MPI communicator held by RAII, with the few collectives the
// project needs, typed.  Duplicating keeps our messages apart from any other
// library's on the same parent communicator.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "qvae/par/mpi_check.hpp"

namespace qvae::par {

/// The most elements one MPI call of ours carries (INT_MAX: MPI counts are
/// int).  Larger transfers go in pieces.  Tests lower it to exercise the
/// piecewise paths with small data.
std::size_t message_limit();
/// Sets message_limit() (>= 1); 0 restores the default.  Not thread-safe.
void set_message_limit(std::size_t elements);

template <class T>
MPI_Datatype mpi_type();
template <>
inline MPI_Datatype mpi_type<char>() {
  return MPI_CHAR;
}
template <>
inline MPI_Datatype mpi_type<std::uint8_t>() {
  return MPI_UINT8_T;
}
template <>
inline MPI_Datatype mpi_type<int>() {
  return MPI_INT;
}
template <>
inline MPI_Datatype mpi_type<unsigned>() {
  return MPI_UNSIGNED;
}
template <>
inline MPI_Datatype mpi_type<long>() {
  return MPI_LONG;
}
template <>
inline MPI_Datatype mpi_type<long long>() {
  return MPI_LONG_LONG;
}
template <>
inline MPI_Datatype mpi_type<unsigned long>() {
  return MPI_UNSIGNED_LONG;
}
template <>
inline MPI_Datatype mpi_type<unsigned long long>() {
  return MPI_UNSIGNED_LONG_LONG;
}
template <>
inline MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
inline MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

class Communicator {
 public:
  /// Duplicates `parent` (MPI_COMM_WORLD by default) and sets MPI_ERRORS_RETURN on the copy.
  explicit Communicator(MPI_Comm parent = MPI_COMM_WORLD);

  /// This process alone: serial work inside a parallel job.
  static Communicator self() { return Communicator(MPI_COMM_SELF); }

  MPI_Comm get() const { return *comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  /// This rank's index among the ranks of its node (shared-memory domain):
  /// what picks "its" GPU.  Collective.
  int node_rank() const;

  void barrier() const;

  template <class T>
  T allreduce(T value, MPI_Op op) const {
    static_assert(std::is_arithmetic<T>::value, "allreduce of arithmetic values only");
    T out{};
    QVAE_CHECK_MPI(MPI_Allreduce(&value, &out, 1, mpi_type<T>(), op, get()));
    return out;
  }
  template <class T>
  T sum(T value) const {
    return allreduce(value, MPI_SUM);
  }
  template <class T>
  T max(T value) const {
    return allreduce(value, MPI_MAX);
  }
  template <class T>
  T min(T value) const {
    return allreduce(value, MPI_MIN);
  }
  /// True on every rank iff `flag` is true on every rank.
  bool all(bool flag) const { return min(flag ? 1 : 0) == 1; }

  /// In-place element-wise sum over ranks (any count: sent in pieces of at
  /// most message_limit() elements).
  template <class T>
  void sum_in_place(T* data, std::size_t count) const {
    reduce_in_place(data, count, MPI_SUM);
  }

  /// In-place element-wise maximum / minimum over ranks.
  template <class T>
  void max_in_place(T* data, std::size_t count) const {
    reduce_in_place(data, count, MPI_MAX);
  }
  template <class T>
  void min_in_place(T* data, std::size_t count) const {
    reduce_in_place(data, count, MPI_MIN);
  }

  /// In-place element-wise reduction over ranks with `op` (MPI_SUM, MPI_MAX,
  /// MPI_MIN, ...), in pieces of at most message_limit() elements.
  template <class T>
  void reduce_in_place(T* data, std::size_t count, MPI_Op op) const {
    for (std::size_t done = 0; done < count;) {
      const std::size_t piece = std::min(count - done, message_limit());
      QVAE_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data + done, static_cast<int>(piece), mpi_type<T>(), op, get()));
      done += piece;
    }
  }

  /// A barrier the waiting ranks pass asleep, polling every `poll_ms`
  /// milliseconds (MPI_Barrier spins and would take the core a lone busy rank
  /// needs, e.g. in a single-rank benchmark inside a multi-rank job).
  void sleeping_barrier(int poll_ms = 2) const;

  /// Exclusive prefix sum: the sum of `value` over ranks below this one (0 on rank 0).
  std::int64_t exscan_sum(std::int64_t value) const;

  /// Broadcast of any count (in pieces of at most message_limit() elements).
  template <class T>
  void broadcast(T* data, std::size_t count, int root = 0) const {
    for (std::size_t done = 0; done < count;) {
      const std::size_t piece = std::min(count - done, message_limit());
      QVAE_CHECK_MPI(MPI_Bcast(data + done, static_cast<int>(piece), mpi_type<T>(), root, get()));
      done += piece;
    }
  }
  template <class T>
  T broadcast_value(T value, int root = 0) const {
    broadcast(&value, 1, root);
    return value;
  }
  void broadcast(std::string& text, int root = 0) const;

  /// Gathers one value from every rank onto every rank (rank order).
  template <class T>
  std::vector<T> allgather(T value) const {
    std::vector<T> out(static_cast<std::size_t>(size_));
    QVAE_CHECK_MPI(MPI_Allgather(&value, 1, mpi_type<T>(), out.data(), 1, mpi_type<T>(), get()));
    return out;
  }
  /// Concatenates every rank's block onto every rank, in rank order (so a
  /// reduction over the result is the same for any rank count).  Blocks of
  /// any size, like allgather_in_place.
  template <class T>
  std::vector<T> allgather_blocks(const std::vector<T>& local) const {
    const std::vector<long long> counts = allgather(static_cast<long long>(local.size()));
    const std::vector<std::size_t> offsets = offsets_of(counts);
    std::vector<T> all(offsets.back());
    std::copy(local.begin(), local.end(), all.begin() + static_cast<std::ptrdiff_t>(offsets[rank_]));
    allgather_in_place(all.data(), counts);
    return all;
  }
  /// In place: rank r's block, counts[r] elements at offset counts[0] + ...
  /// + counts[r - 1] of `data` on rank r, reaches the same place on every
  /// rank (`counts` the same everywhere).  Any size: past message_limit()
  /// elements each block is broadcast in pieces instead of one
  /// MPI_Allgatherv with int counts and displacements.
  template <class T>
  void allgather_in_place(T* data, const std::vector<long long>& counts) const {
    if (fits_one_message(counts)) {
      const std::vector<int> n = as_int(counts), at = as_int_offsets(counts);
      QVAE_CHECK_MPI(
          MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, n.data(), at.data(), mpi_type<T>(), get()));
      return;
    }
    const std::vector<std::size_t> offsets = offsets_of(counts);
    for (int r = 0; r < size_; ++r)
      broadcast(data + offsets[static_cast<std::size_t>(r)],
                static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]), r);
  }
  /// Every rank's block reaches `root` in rank order, in pieces of at most
  /// `piece` elements, each handed to consume(rank, offset in its block,
  /// values, count) as it arrives (the root's own block too), so the root
  /// never holds more than one piece of another rank's block: what writing a
  /// sharded state into one file needs.  An exception from `consume` does not
  /// stop the transfer — the remaining pieces are received and dropped, so no
  /// sender is left blocked — and the first one is rethrown on the root at the end.
  template <class T, class Consume>
  void stream_blocks_to_root(const T* local, std::size_t count, std::size_t piece, Consume&& consume,
                             int root = 0) const {
    const std::vector<long long> counts = allgather(static_cast<long long>(count));
    piece = std::max<std::size_t>(1, std::min(piece, message_limit()));
    if (rank_ != root) {
      send_pieces(local, count, root, piece);
      return;
    }
    std::exception_ptr failure;
    auto hand = [&](int from, std::size_t offset, const T* values, std::size_t n) {
      if (failure) return;
      try {
        consume(from, offset, values, n);
      } catch (...) {
        failure = std::current_exception();
      }
    };
    std::vector<T> buffer;
    for (int r = 0; r < size_; ++r) {
      const auto total = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      for (std::size_t done = 0; done < total;) {
        const std::size_t n = std::min(total - done, piece);
        if (r == rank_) {
          hand(r, done, local + done, n);
        } else {
          buffer.resize(n);
          receive_pieces(buffer.data(), n, r);  // one piece: n <= message_limit()
          hand(r, done, buffer.data(), n);
        }
        done += n;
      }
    }
    if (failure) std::rethrow_exception(failure);
  }
  /// Every rank's block on `root`, one vector per rank in rank order (empty
  /// on the other ranks); any size, like allgather_blocks.
  template <class T>
  std::vector<std::vector<T>> gather_blocks(const std::vector<T>& local, int root = 0) const {
    const std::vector<long long> counts = allgather(static_cast<long long>(local.size()));
    std::vector<std::vector<T>> blocks(rank_ == root ? static_cast<std::size_t>(size_) : 0);
    if (fits_one_message(counts)) {
      const std::vector<int> n = as_int(counts), at = as_int_offsets(counts);
      std::vector<T> all(rank_ == root ? offsets_of(counts).back() : 0);
      QVAE_CHECK_MPI(MPI_Gatherv(local.data(), static_cast<int>(local.size()), mpi_type<T>(), all.data(), n.data(),
                                 at.data(), mpi_type<T>(), root, get()));
      for (std::size_t r = 0; r < blocks.size(); ++r) blocks[r].assign(all.begin() + at[r], all.begin() + at[r] + n[r]);
      return blocks;
    }
    for (int r = 0; r < size_; ++r) {
      const auto count = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      if (rank_ == root) {
        blocks[static_cast<std::size_t>(r)] = r == root ? local : std::vector<T>(count);
        if (r != root) receive_pieces(blocks[static_cast<std::size_t>(r)].data(), count, r);
      } else if (rank_ == r) {
        send_pieces(local.data(), count, root);
      }
    }
    return blocks;
  }
  /// The inverse of gather_blocks: `blocks[r]` (given on `root`) reaches rank r.
  template <class T>
  std::vector<T> scatter_blocks(const std::vector<std::vector<T>>& blocks, int root = 0) const {
    std::vector<long long> counts(static_cast<std::size_t>(size_), 0);
    if (rank_ == root)
      for (std::size_t r = 0; r < counts.size(); ++r) counts[r] = static_cast<long long>(blocks.at(r).size());
    broadcast(counts.data(), counts.size(), root);
    std::vector<T> mine(static_cast<std::size_t>(counts[static_cast<std::size_t>(rank_)]));
    if (fits_one_message(counts)) {
      const std::vector<int> n = as_int(counts), at = as_int_offsets(counts);
      std::vector<T> all;
      if (rank_ == root)
        for (const auto& block : blocks) all.insert(all.end(), block.begin(), block.end());
      QVAE_CHECK_MPI(MPI_Scatterv(all.data(), n.data(), at.data(), mpi_type<T>(), mine.data(),
                                  static_cast<int>(mine.size()), mpi_type<T>(), root, get()));
      return mine;
    }
    for (int r = 0; r < size_; ++r) {
      if (rank_ == root) {
        const std::vector<T>& block = blocks[static_cast<std::size_t>(r)];
        if (r == root)
          mine = block;
        else
          send_pieces(block.data(), block.size(), r);
      } else if (rank_ == r) {
        receive_pieces(mine.data(), mine.size(), root);
      }
    }
    return mine;
  }

 private:
  /// Whether one MPI call with int counts and displacements can carry these blocks.
  static bool fits_one_message(const std::vector<long long>& counts) {
    long long total = 0;
    for (long long c : counts) total += c;
    return total <= static_cast<long long>(message_limit());
  }
  static std::vector<std::size_t> offsets_of(const std::vector<long long>& counts) {
    std::vector<std::size_t> offsets(counts.size() + 1, 0);
    for (std::size_t r = 0; r < counts.size(); ++r) offsets[r + 1] = offsets[r] + static_cast<std::size_t>(counts[r]);
    return offsets;
  }
  static std::vector<int> as_int(const std::vector<long long>& counts) {
    return std::vector<int>(counts.begin(), counts.end());
  }
  static std::vector<int> as_int_offsets(const std::vector<long long>& counts) {
    const std::vector<std::size_t> offsets = offsets_of(counts);
    return std::vector<int>(offsets.begin(), offsets.end() - 1);
  }
  template <class T>
  void send_pieces(const T* data, std::size_t count, int to, std::size_t limit = message_limit()) const {
    for (std::size_t done = 0; done < count;) {
      const std::size_t piece = std::min(count - done, limit);
      QVAE_CHECK_MPI(MPI_Send(data + done, static_cast<int>(piece), mpi_type<T>(), to, kPieceTag, get()));
      done += piece;
    }
  }
  template <class T>
  void receive_pieces(T* data, std::size_t count, int from) const {
    for (std::size_t done = 0; done < count;) {
      const std::size_t piece = std::min(count - done, message_limit());
      QVAE_CHECK_MPI(
          MPI_Recv(data + done, static_cast<int>(piece), mpi_type<T>(), from, kPieceTag, get(), MPI_STATUS_IGNORE));
      done += piece;
    }
  }
  static constexpr int kPieceTag = 7301;

  std::shared_ptr<MPI_Comm> comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace qvae::par
