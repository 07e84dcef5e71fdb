// Requests of every rank answered by one sampler on rank 0 (docs/dwave.md, "Batching
// from rank 0"), and sampling a machine through any backend.

#include <chrono>
#include <cstring>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::dwave {
namespace {

// --- a flat byte encoding of requests and sample sets ---------------------------------------------

class Writer {
 public:
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable<T>::value, "plain values only");
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
    data.insert(data.end(), bytes, bytes + sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& values) {
    put(static_cast<std::int64_t>(values.size()));
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(values.data());
    data.insert(data.end(), bytes, bytes + values.size() * sizeof(T));
  }
  std::vector<std::uint8_t> data;
};

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <class T>
  T get() {
    T value;
    need(sizeof(T));
    std::memcpy(&value, data_ + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto count = static_cast<std::size_t>(get<std::int64_t>());
    need(count * sizeof(T));
    std::vector<T> values(count);
    if (count) std::memcpy(values.data(), data_ + at_, count * sizeof(T));
    at_ += count * sizeof(T);
    return values;
  }
  bool done() const { return at_ == size_; }

 private:
  void need(std::size_t bytes) const {
    if (at_ + bytes > size_) throw std::logic_error("qvae::dwave: truncated request/answer buffer");
  }
  const std::uint8_t* data_;
  std::size_t size_, at_ = 0;
};

void put_request(Writer& out, const SampleRequest& request) {
  out.put(request.first_read);
  out.put(request.reads);
  out.put_vector(request.condition);
}
SampleRequest get_request(Reader& in) {
  SampleRequest request;
  request.first_read = in.get<std::int64_t>();
  request.reads = in.get<std::int64_t>();
  request.condition = in.get_vector<std::uint8_t>();
  return request;
}
void put_set(Writer& out, const SampleSet& set) {
  out.put(set.rows);
  out.put(set.units);
  out.put(set.pin_violations);
  out.put_vector(set.states);
  out.put_vector(set.occurrences);
  out.put_vector(set.energies);
}
SampleSet get_set(Reader& in) {
  SampleSet set;
  set.rows = in.get<std::int64_t>();
  set.units = in.get<std::int64_t>();
  set.pin_violations = in.get<std::int64_t>();
  set.states = in.get_vector<std::uint8_t>();
  set.occurrences = in.get_vector<std::int64_t>();
  set.energies = in.get_vector<double>();
  return set;
}

}  // namespace

std::vector<SampleRequest> split_reads(std::int64_t first, std::int64_t count, std::int64_t reads_per_problem,
                                       const std::vector<std::uint8_t>& condition) {
  if (reads_per_problem < 1 || first < 0 || count < 0)
    throw core::UsageError(core::describe("reads must be >= 0 and reads_per_problem >= 1", "qvae::dwave::split_reads"));
  std::vector<SampleRequest> requests;
  for (std::int64_t at = first; at < first + count;) {
    const std::int64_t end = std::min(first + count, (at / reads_per_problem + 1) * reads_per_problem);
    requests.push_back(SampleRequest{at, end - at, condition});
    at = end;
  }
  return requests;
}

std::vector<SampleSet> sample_collective(IsingSampler& sampler, const IsingModel& programmed,
                                         const std::vector<SampleRequest>& requests, const par::Communicator& comm,
                                         RoutingOptions routing) {
  if (!sampler.remote() && !routing.through_root) {
    std::vector<SampleSet> out;
    par::run_agreed(comm, [&] { out = sampler.sample(programmed, requests); });
    return out;
  }
  // Gather: every rank's requests to rank 0.
  Writer mine;
  mine.put(static_cast<std::int64_t>(requests.size()));
  for (const SampleRequest& request : requests) put_request(mine, request);
  const std::vector<std::vector<std::uint8_t>> gathered = comm.gather_blocks(mine.data);

  // Rank 0 answers all of them in one call (the sampler batches), then packs each rank's answers.
  std::vector<std::vector<std::uint8_t>> answers_of_rank(comm.is_root() ? static_cast<std::size_t>(comm.size()) : 0);
  par::run_agreed(comm, [&] {
    if (!comm.is_root()) return;
    std::vector<SampleRequest> all;
    std::vector<std::size_t> per_rank;
    for (int r = 0; r < comm.size(); ++r) {
      const std::vector<std::uint8_t>& bytes = gathered[static_cast<std::size_t>(r)];
      Reader in(bytes.data(), bytes.size());
      const auto n = static_cast<std::size_t>(in.get<std::int64_t>());
      per_rank.push_back(n);
      for (std::size_t k = 0; k < n; ++k) all.push_back(get_request(in));
    }
    const std::vector<SampleSet> answers = sampler.sample(programmed, all);
    if (answers.size() != all.size()) throw std::logic_error("qvae::dwave: a sampler lost requests");
    std::size_t next = 0;
    for (int r = 0; r < comm.size(); ++r) {
      Writer out;
      for (std::size_t k = 0; k < per_rank[static_cast<std::size_t>(r)]; ++k) put_set(out, answers[next++]);
      answers_of_rank[static_cast<std::size_t>(r)] = std::move(out.data);
    }
  });

  // Scatter: each rank gets its answers, in its request order.
  const std::vector<std::uint8_t> received = comm.scatter_blocks(answers_of_rank);
  Reader in(received.data(), received.size());
  std::vector<SampleSet> out;
  for (std::size_t k = 0; k < requests.size(); ++k) out.push_back(get_set(in));
  return out;
}

rbm::SampleResult sample_with_backend(const rbm::BoltzmannMachine& machine, const BackendSampleOptions& options,
                                      const par::Communicator& comm) {
  const std::string where = "qvae::dwave::sample_with_backend";
  if (options.reads < 1) throw core::UsageError(core::describe("the number of reads must be >= 1", where));
  if (options.condition && options.condition->partitions != std::vector<int>{0})
    throw core::UsageError(
        core::describe("only partition 0 can be conditioned on a QPU (flux biases)", where, "condition partition 0"));
  const std::unique_ptr<IsingSampler> sampler =
      make_sampler(options.backend, machine, options.settings, options.seed, comm);
  const IsingModel programmed = program_ising(machine, options.beta, sampler->ranges());
  const par::Block block = par::my_block(options.reads, comm);
  const std::int64_t per_problem = options.settings.qpu.reads_per_problem;

  std::vector<SampleRequest> requests;
  if (!options.condition) {
    requests = split_reads(block.offset, block.count, per_problem);
  } else if (options.condition->rows == block.count) {  // one problem per read (one per shower)
    const std::size_t width = static_cast<std::size_t>(machine.partition_size(0));
    for (std::int64_t r = 0; r < block.count; ++r) {
      const auto row =
          options.condition->values.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(r) * width);
      requests.push_back(
          SampleRequest{block.offset + r, 1, std::vector<std::uint8_t>(row, row + static_cast<std::ptrdiff_t>(width))});
    }
  } else if (options.condition->rows == 1) {
    requests = split_reads(block.offset, block.count, per_problem, options.condition->values);
  } else {
    throw core::InputError(core::describe(
        "condition rows (" + std::to_string(options.condition->rows) + ") are neither 1 nor this rank's reads", where));
  }

  comm.barrier();
  const auto started = std::chrono::steady_clock::now();
  const std::vector<SampleSet> answers = sample_collective(*sampler, programmed, requests, comm, options.routing);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  rbm::SampleResult result;
  result.backend = sampler->name();
  result.seconds = comm.max(seconds);
  result.chains.seed = options.seed;
  result.chains.total = options.reads;
  rbm::ChainBlock& chains = result.chains.local;
  chains.first_chain = block.offset;
  chains.units = machine.num_nodes();
  std::int64_t violations = 0;
  for (const SampleSet& set : answers) {  // histogram rows expanded by num_occurrences
    violations += set.pin_violations;
    for (std::int64_t r = 0; r < set.rows; ++r)
      for (std::int64_t c = 0; c < set.occurrences[static_cast<std::size_t>(r)]; ++c)
        chains.states.insert(chains.states.end(), set.state(r), set.state(r) + set.units);
  }
  chains.count = static_cast<std::int64_t>(chains.states.size()) / std::max<std::int64_t>(1, chains.units);
  if (chains.count != block.count)
    throw core::RuntimeError(core::describe("the sampler returned " + std::to_string(chains.count) + " samples for " +
                                                std::to_string(block.count) + " reads",
                                            where));
  chains.sweeps.assign(static_cast<std::size_t>(chains.count), 0);
  result.energies = rbm::chain_energies(machine, chains);
  violations = comm.sum(violations);
  if (violations > 0)
    core::log::warn_root("dwave: in ", violations, " of ", options.reads,
                         " reads partition 0 missed its flux-bias condition (set to the condition); raise "
                         "dwave.flux_threshold");
  return result;
}

}  // namespace qvae::dwave
