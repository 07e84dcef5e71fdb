// The QPU over SAPI (docs/dwave.md, "SAPI client"): rank 0 holds the client, packs
// problems into POSTs of ≤ batch_size, keeps ≤ max_in_flight unanswered,
// long-polls them in groups of ≤ 100 and maps answers back to node order.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>

#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::dwave {
namespace {

/// One SAPI problem: a slice of a request's reads.
struct Problem {
  std::size_t request = 0;
  std::int64_t first_read = 0;
  std::int64_t reads = 0;
  std::string label;
  std::string id;
  std::optional<SampleSet> answer;
};

class QpuSampler final : public IsingSampler {
 public:
  QpuSampler(const rbm::BoltzmannMachine& machine, QpuSettings settings)
      : machine_(machine), settings_(std::move(settings)) {}

  std::string name() const override { return "dwave"; }
  bool remote() const override { return true; }
  Ranges ranges() const override { return ranges_; }

  /// Rank 0: connects, fetches the solver and places the machine on it.
  void connect() {
    if (settings_.batch_size < 1 || settings_.batch_size > 20 || settings_.max_in_flight < 1 ||
        settings_.reads_per_problem < 1)
      throw core::UsageError(
          core::describe("batch_size must be in [1, 20], max_in_flight and reads_per_problem >= 1", "[dwave] config"));
    client_ = std::make_unique<SapiClient>(settings_.client);
    solver_ = client_->get_solver(settings_.solver);
    const std::string where = "SAPI solver '" + solver_.name + "'";
    if (!solver_.status.empty() && solver_.status != "ONLINE")
      core::log::warn("dwave: solver ", solver_.name, " is ", solver_.status);
    if (!solver_.problem_types.empty() &&
        std::find(solver_.problem_types.begin(), solver_.problem_types.end(), "ising") == solver_.problem_types.end())
      throw core::RuntimeError(
          core::describe("the solver does not take Ising problems", where, "choose another solver"));
    if (!solver_.parameters.empty())
      for (const char* parameter : {"num_reads", "answer_mode", "auto_scale"})
        if (!solver_.accepts_parameter(parameter))
          throw core::RuntimeError(core::describe(std::string("the solver does not accept parameter ") + parameter,
                                                  where, "choose a QPU solver"));
    layout_.emplace(machine_, solver_);
    ranges_ = solver_.ranges;
  }

  void set_ranges(const Ranges& ranges) { ranges_ = ranges; }

  std::vector<SampleSet> sample(const IsingModel& programmed, const std::vector<SampleRequest>& requests) override {
    if (!client_) throw std::logic_error("qvae::dwave::QpuSampler::sample: only rank 0 talks to SAPI");
    const auto started = std::chrono::steady_clock::now();
    const std::int64_t requests_before = client_->requests(), retries_before = client_->retries();
    const std::string lin = layout_->lin(programmed), quad = layout_->quad(programmed);
    const std::int64_t adopted_before = client_->adopted();
    // Problems: each request split at multiples of the read cap of the global read index.
    const std::int64_t cap =
        solver_.max_reads > 0 ? std::min(settings_.reads_per_problem, solver_.max_reads) : settings_.reads_per_problem;
    std::vector<Problem> problems;
    for (std::size_t k = 0; k < requests.size(); ++k) {
      const SampleRequest& request = requests[k];
      if (!request.condition.empty()) {
        if (!solver_.parameters.empty() &&
            (!solver_.accepts_parameter("flux_biases") || !solver_.accepts_parameter("flux_drift_compensation")))
          throw core::RuntimeError(core::describe("the solver does not accept flux_biases",
                                                  "SAPI solver '" + solver_.name + "'",
                                                  "partition-0 conditioning needs flux biases"));
        if (static_cast<std::int64_t>(request.condition.size()) != machine_.partition_size(0))
          throw core::InputError(core::describe("a condition of the wrong length", "partition-0 conditioning"));
      }
      for (const SampleRequest& part : split_reads(request.first_read, request.reads, cap)) {
        Problem problem;
        problem.request = k;
        problem.first_read = part.first_read;
        problem.reads = part.reads;
        problem.label = settings_.label + " " + unique_tag(problems.size()) + " @" + std::to_string(part.first_read);
        problems.push_back(std::move(problem));
      }
    }

    ++calls_;
    std::map<std::string, std::size_t> in_flight;  // id -> problem
    std::size_t next = 0, answered = 0, posts = 0;
    const auto deadline = started + std::chrono::duration<double>(settings_.job_timeout_s);
    try {
      while (answered < problems.size()) {
        // Submit while there is room: ≤ batch_size per POST, ≤ max_in_flight outstanding.
        while (next < problems.size() && in_flight.size() < static_cast<std::size_t>(settings_.max_in_flight)) {
          const std::size_t room = static_cast<std::size_t>(settings_.max_in_flight) - in_flight.size();
          const std::size_t count =
              std::min({static_cast<std::size_t>(settings_.batch_size), room, problems.size() - next});
          std::vector<nlohmann::json> jobs;
          for (std::size_t p = next; p < next + count; ++p) {
            const SampleRequest& request = requests[problems[p].request];
            std::vector<double> flux;
            if (!request.condition.empty())
              flux = condition_flux_biases(machine_, solver_.num_qubits, request.condition.data(),
                                           settings_.flux_threshold);
            jobs.push_back(make_job(solver_, lin, quad, problems[p].reads, request.condition.empty() ? nullptr : &flux,
                                    problems[p].label));
          }
          const std::vector<SubmitResult> results = client_->submit(jobs);
          ++posts;
          for (std::size_t i = 0; i < count; ++i) {
            Problem& problem = problems[next + i];
            if (!results[i].ok)
              throw core::RuntimeError(core::describe("SAPI rejected problem '" + problem.label + "': error " +
                                                          std::to_string(results[i].error_code) + " " +
                                                          results[i].error_msg,
                                                      "SAPI POST problems/", "see the solver's message"));
            problem.id = results[i].status.id;
            in_flight[problem.id] = next + i;
            if (results[i].status.done()) answered += finish(problem, results[i].status, requests, in_flight);
          }
          next += count;
        }
        if (in_flight.empty()) continue;
        std::vector<std::string> ids;
        for (const auto& item : in_flight) ids.push_back(item.first);
        for (const ProblemStatus& status : client_->poll(ids)) {
          const auto it = in_flight.find(status.id);
          if (it == in_flight.end() || !status.done()) continue;
          answered += finish(problems[it->second], status, requests, in_flight);
        }
        if (answered < problems.size() && std::chrono::steady_clock::now() > deadline)
          throw core::RuntimeError(core::describe(std::to_string(problems.size() - answered) + " of " +
                                                      std::to_string(problems.size()) + " problems unanswered after " +
                                                      std::to_string(settings_.job_timeout_s) + " s",
                                                  "solver '" + solver_.name + "'", "raise dwave.job_timeout_s"));
      }
    } catch (...) {
      cancel_quietly(in_flight);
      throw;
    }

    // Reassemble each request from its problems, in read order.
    std::vector<SampleSet> out(requests.size());
    for (std::size_t k = 0; k < requests.size(); ++k) out[k].units = machine_.num_nodes();
    for (Problem& problem : problems) {
      SampleSet& set = out[problem.request];
      SampleSet& part = *problem.answer;
      set.rows += part.rows;
      set.states.insert(set.states.end(), part.states.begin(), part.states.end());
      set.occurrences.insert(set.occurrences.end(), part.occurrences.begin(), part.occurrences.end());
      set.energies.insert(set.energies.end(), part.energies.begin(), part.energies.end());
      set.pin_violations += part.pin_violations;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    core::log::info("dwave: ", problems.size(), " problems on ", solver_.name, " in ", posts, " POSTs (",
                    client_->requests() - requests_before, " requests, ", client_->retries() - retries_before,
                    " retries, ", client_->adopted() - adopted_before, " jobs adopted after ambiguous submissions), ",
                    seconds, " s");
    return out;
  }

 private:
  /// "s<run seed>.c<call>.p<problem>.<nonce>": unique per job, so that after an
  /// ambiguous submission the client finds exactly its own jobs by label.  The
  /// nonce (random per sampler) keeps two runs with the same seed apart; it
  /// changes no result (the read's place in the run is the "@<first read>" suffix).
  std::string unique_tag(std::size_t problem) const {
    char tag[96];
    std::snprintf(tag, sizeof tag, "s%llu.c%lld.p%zu.%016llx", static_cast<unsigned long long>(settings_.run_seed),
                  static_cast<long long>(calls_), problem, static_cast<unsigned long long>(nonce_));
    return tag;
  }

  /// A terminal status: the answer decoded into the problem (refetched while
  /// it is malformed), or an error.  Returns 1 (one more problem answered).
  std::size_t finish(Problem& problem, const ProblemStatus& status, const std::vector<SampleRequest>& requests,
                     std::map<std::string, std::size_t>& in_flight) {
    const std::string where = "SAPI problem " + problem.id + " ('" + problem.label + "')";
    if (status.status == "FAILED")
      throw core::RuntimeError(
          core::describe("the problem failed: " + status.error_message, where, "see the solver's message"));
    if (status.status == "CANCELLED")
      throw core::RuntimeError(core::describe("the problem was cancelled", where, "submit it again"));
    ProblemStatus current = status;
    for (int attempt = 0;; ++attempt) {
      try {
        if (!current.has_answer) current = client_->get_problem(problem.id);
        if (!current.has_answer) throw ProtocolError(core::describe("a COMPLETED problem without an answer", where));
        problem.answer = to_sample_set(decode_qp_answer(current.answer), problem, requests[problem.request].condition);
        break;
      } catch (const ProtocolError& e) {
        if (attempt >= settings_.client.max_retries)
          throw core::RuntimeError(core::describe(std::string("the answer stays malformed: ") + e.what(), where,
                                                  "report it to the service"));
        core::log::debug("dwave: ", e.what(), "; fetching the answer again");
        core::Philox jitter(client_->settings().jitter_seed, 1, static_cast<std::uint64_t>(attempt));
        client_->sleep(backoff_delay(attempt, settings_.client.backoff_initial_s, settings_.client.backoff_max_s,
                                     jitter.uniform()));
        current = ProblemStatus{};
      }
    }
    in_flight.erase(problem.id);
    return 1;
  }

  /// Answer rows (spins over active qubits) to 0/1 states in node order.
  SampleSet to_sample_set(const QpAnswer& answer, const Problem& problem,
                          const std::vector<std::uint8_t>& condition) const {
    const std::int64_t n = machine_.num_nodes();
    std::vector<std::int64_t> column_of_node(static_cast<std::size_t>(n), -1);
    for (std::size_t k = 0; k < answer.active_variables.size(); ++k) {
      const std::int64_t node = layout_->node_of_qubit(answer.active_variables[k]);
      if (node >= 0) column_of_node[static_cast<std::size_t>(node)] = static_cast<std::int64_t>(k);
    }
    for (std::int64_t node = 0; node < n; ++node)
      if (column_of_node[static_cast<std::size_t>(node)] < 0)
        throw ProtocolError(core::describe(
            "the answer lacks qubit " + std::to_string(machine_.graph().qubits[static_cast<std::size_t>(node)]),
            "SAPI answer"));
    std::int64_t total = 0;
    for (std::int64_t c : answer.num_occurrences) total += c;
    if (total != problem.reads)
      throw ProtocolError(core::describe(
          "the answer holds " + std::to_string(total) + " reads, " + std::to_string(problem.reads) + " were asked for",
          "SAPI answer"));
    SampleSet set;
    set.rows = answer.rows;
    set.units = n;
    set.states.resize(static_cast<std::size_t>(answer.rows * n));
    const std::size_t width = answer.active_variables.size();
    for (std::int64_t r = 0; r < answer.rows; ++r)
      for (std::int64_t node = 0; node < n; ++node)  // −1 ↦ 0, +1 ↦ 1, in node (= partition) order
        set.states[static_cast<std::size_t>(r * n + node)] =
            answer.spins[static_cast<std::size_t>(r) * width +
                         static_cast<std::size_t>(column_of_node[static_cast<std::size_t>(node)])] > 0;
    set.occurrences = answer.num_occurrences;
    set.energies = answer.energies;
    if (!condition.empty()) {
      const std::vector<std::int64_t>& p0 = machine_.partition_nodes(0);
      for (std::int64_t r = 0; r < set.rows; ++r) {
        std::uint8_t* row = set.states.data() + r * n;
        bool differs = false;
        for (std::size_t k = 0; k < p0.size(); ++k) {
          differs |= row[p0[k]] != condition[k];
          row[p0[k]] = condition[k];
        }
        if (differs) set.pin_violations += set.occurrences[static_cast<std::size_t>(r)];
      }
    }
    return set;
  }

  void cancel_quietly(const std::map<std::string, std::size_t>& in_flight) noexcept {
    if (in_flight.empty() || !client_) return;
    try {
      std::vector<std::string> ids;
      for (const auto& item : in_flight) ids.push_back(item.first);
      client_->cancel(ids);
    } catch (const std::exception& e) {
      core::log::warn("dwave: could not cancel ", in_flight.size(), " problems: ", e.what());
    }
  }

  const rbm::BoltzmannMachine& machine_;
  QpuSettings settings_;
  std::unique_ptr<SapiClient> client_;
  SolverInfo solver_;
  std::optional<QpLayout> layout_;
  Ranges ranges_;
  std::int64_t calls_ = 0;
  std::uint64_t nonce_ = [] {
    std::random_device device;  // not a result's randomness: only keeps labels of separate runs apart
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }();
};

}  // namespace

std::unique_ptr<IsingSampler> make_qpu_sampler(const rbm::BoltzmannMachine& machine, const QpuSettings& settings,
                                               const par::Communicator& comm) {
  auto sampler = std::make_unique<QpuSampler>(machine, settings);
  par::run_agreed(comm, [&] {
    if (comm.is_root()) sampler->connect();
  });
  Ranges ranges = sampler->ranges();
  double values[4] = {ranges.h_min, ranges.h_max, ranges.j_min, ranges.j_max};
  comm.broadcast(values, 4);
  sampler->set_ranges(Ranges{values[0], values[1], values[2], values[3]});
  return sampler;
}

std::unique_ptr<IsingSampler> make_sampler(const std::string& backend, const rbm::BoltzmannMachine& machine,
                                           const DwaveSettings& settings, std::uint64_t seed,
                                           const par::Communicator& comm) {
  if (backend == "anneal") return make_anneal_sampler(machine, settings.anneal, seed);
  if (backend == "gibbs") return make_gibbs_sampler(machine, settings.gibbs, seed);
  if (backend == "dwave") {
    QpuSettings qpu = settings.qpu;
    qpu.run_seed = seed;
    return make_qpu_sampler(machine, qpu, comm);
  }
  throw core::UsageError(
      core::describe("unknown backend '" + backend + "'", "--backend", "use gibbs, anneal or dwave"));
}

}  // namespace qvae::dwave
