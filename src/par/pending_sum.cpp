#include "qvae/par/pending_sum.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "qvae/core/bfloat16.hpp"
#include "qvae/par/mpi_check.hpp"

namespace qvae::par {

PendingSum::PendingSum(PendingSum&& other) noexcept : requests_(std::move(other.requests_)) { other.requests_.clear(); }

PendingSum& PendingSum::operator=(PendingSum&& other) noexcept {
  if (this != &other) {
    if (pending()) MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    requests_ = std::move(other.requests_);
    other.requests_.clear();
  }
  return *this;
}

PendingSum::~PendingSum() {
  // No throw from a destructor: an MPI failure here ends the job elsewhere.
  if (pending()) MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
}

bool PendingSum::pending() const {
  return std::any_of(requests_.begin(), requests_.end(), [](MPI_Request r) { return r != MPI_REQUEST_NULL; });
}

bool PendingSum::test() {
  if (requests_.empty()) return true;
  int done = 0;
  QVAE_CHECK_MPI(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE));
  return done != 0;
}

void PendingSum::wait() {
  if (requests_.empty()) return;
  QVAE_CHECK_MPI(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
}

namespace {

void add_bfloat16(void* in, void* inout, int* length, MPI_Datatype*) {
  const auto* a = static_cast<const std::uint16_t*>(in);
  auto* b = static_cast<std::uint16_t*>(inout);
  for (int i = 0; i < *length; ++i) b[i] = core::to_bfloat16(core::from_bfloat16(a[i]) + core::from_bfloat16(b[i]));
}

/// The bfloat16 sum as an MPI operation, made once.  It lives until MPI_Finalize,
/// which releases it with the rest of MPI's state.
MPI_Op bfloat16_sum() {
  static const MPI_Op op = [] {
    MPI_Op made = MPI_OP_NULL;
    QVAE_CHECK_MPI(MPI_Op_create(&add_bfloat16, /*commute=*/1, &made));
    return made;
  }();
  return op;
}

/// Starts in-place reductions of `count` values in pieces of at most
/// message_limit(), appending each request to `requests` as soon as it exists
/// (so the PendingSum that owns them waits for them even if a later start fails).
template <class T>
void start_in_pieces(const Communicator& comm, T* data, std::size_t count, MPI_Datatype type, MPI_Op op,
                     std::vector<MPI_Request>& requests) {
  for (std::size_t done = 0; done < count;) {
    const std::size_t piece = std::min(count - done, message_limit());
    MPI_Request request = MPI_REQUEST_NULL;
    QVAE_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, data + done, static_cast<int>(piece), type, op, comm.get(), &request));
    requests.push_back(request);
    done += piece;
  }
}

}  // namespace

PendingSum start_sum_in_place(const Communicator& comm, float* data, std::size_t count) {
  PendingSum sum;
  start_in_pieces(comm, data, count, MPI_FLOAT, MPI_SUM, sum.requests_);
  return sum;
}

PendingSum start_bfloat16_sum_in_place(const Communicator& comm, std::uint16_t* data, std::size_t count) {
  PendingSum sum;
  start_in_pieces(comm, data, count, MPI_UINT16_T, bfloat16_sum(), sum.requests_);
  return sum;
}

}  // namespace qvae::par
