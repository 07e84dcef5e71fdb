#include "qvae/par/communicator.hpp"

#include "qvae/par/partition.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <stdexcept>
#include <thread>

namespace qvae::par {
namespace {
std::size_t g_message_limit = INT_MAX;
}  // namespace

std::size_t message_limit() { return g_message_limit; }

void set_message_limit(std::size_t elements) { g_message_limit = elements == 0 ? INT_MAX : elements; }

Communicator::Communicator(MPI_Comm parent) {
  auto* dup = new MPI_Comm(MPI_COMM_NULL);
  const int rc = MPI_Comm_dup(parent, dup);
  if (rc != MPI_SUCCESS) {
    delete dup;
    QVAE_CHECK_MPI(rc);
  }
  comm_.reset(dup, [](MPI_Comm* c) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && *c != MPI_COMM_NULL) MPI_Comm_free(c);
    delete c;
  });
  QVAE_CHECK_MPI(MPI_Comm_set_errhandler(*comm_, MPI_ERRORS_RETURN));
  QVAE_CHECK_MPI(MPI_Comm_rank(*comm_, &rank_));
  QVAE_CHECK_MPI(MPI_Comm_size(*comm_, &size_));
}

void Communicator::barrier() const { QVAE_CHECK_MPI(MPI_Barrier(get())); }

int Communicator::node_rank() const {
  MPI_Comm node = MPI_COMM_NULL;
  QVAE_CHECK_MPI(MPI_Comm_split_type(get(), MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  int rank = 0;
  const int rc = MPI_Comm_rank(node, &rank);
  MPI_Comm_free(&node);
  QVAE_CHECK_MPI(rc);
  return rank;
}

void Communicator::sleeping_barrier(int poll_ms) const {
  MPI_Request request = MPI_REQUEST_NULL;
  QVAE_CHECK_MPI(MPI_Ibarrier(get(), &request));
  for (int done = 0;;) {
    QVAE_CHECK_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

std::int64_t Communicator::exscan_sum(std::int64_t value) const {
  long long in = value, out = 0;
  QVAE_CHECK_MPI(MPI_Exscan(&in, &out, 1, MPI_LONG_LONG, MPI_SUM, get()));
  return rank_ == 0 ? 0 : static_cast<std::int64_t>(out);  // MPI leaves rank 0's result undefined
}

void Communicator::broadcast(std::string& text, int root) const {
  unsigned long long length = text.size();
  broadcast(&length, 1, root);
  text.resize(static_cast<std::size_t>(length));
  if (length > 0) broadcast(text.data(), text.size(), root);
}

Block block_partition(std::int64_t total, int part, int parts) {
  if (total < 0 || parts <= 0 || part < 0 || part >= parts)
    throw std::invalid_argument("qvae::par::block_partition: total=" + std::to_string(total) +
                                " part=" + std::to_string(part) + " parts=" + std::to_string(parts));
  const std::int64_t base = total / parts, extra = total % parts;
  Block b;
  b.count = base + (part < extra ? 1 : 0);
  b.offset = part * base + std::min<std::int64_t>(part, extra);
  return b;
}

CollectiveChunks::CollectiveChunks(Block mine, std::int64_t chunk, const Communicator& comm)
    : mine_(mine), chunk_(chunk), steps_(0) {
  if (chunk < 1) throw std::invalid_argument("qvae::par::CollectiveChunks: chunk must be >= 1");
  steps_ = comm.max((mine.count + chunk - 1) / chunk);
}

Block CollectiveChunks::operator[](std::int64_t step) const {
  const std::int64_t begin = std::min(mine_.offset + step * chunk_, mine_.end());
  return Block{begin, std::min(chunk_, mine_.end() - begin)};
}

Block my_block(std::int64_t total, const Communicator& comm) {
  return block_partition(total, comm.rank(), comm.size());
}

Block block_from_count(std::int64_t local_count, const Communicator& comm) {
  if (local_count < 0) throw std::invalid_argument("qvae::par::block_from_count: negative count");
  return Block{comm.exscan_sum(local_count), local_count};
}

}  // namespace qvae::par
