#include "qvae/par/pending_sum.hpp"

#include <algorithm>
#include <utility>

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

PendingSum start_sum_in_place(const Communicator& comm, float* data, std::size_t count) {
  PendingSum sum;
  for (std::size_t done = 0; done < count;) {
    const std::size_t piece = std::min(count - done, message_limit());
    MPI_Request request = MPI_REQUEST_NULL;
    QVAE_CHECK_MPI(
        MPI_Iallreduce(MPI_IN_PLACE, data + done, static_cast<int>(piece), MPI_FLOAT, MPI_SUM, comm.get(), &request));
    sum.requests_.push_back(request);
    done += piece;
  }
  return sum;
}

}  // namespace qvae::par
