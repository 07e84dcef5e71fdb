// Samplers of a programmed Ising problem behind one interface — the QPU over
// SAPI and two offline stand-ins (simulated annealing, Gibbs at a given β) —
// and the collective that sends every rank's requests to rank 0, which packs
// them into batched submissions and scatters the answers back.
//
// Randomness is keyed by the global read index (SampleRequest::first_read + r):
// offline samplers draw read r from Philox (seed, read), the test server seeds
// it from the label "… @first_read".  A read's result therefore does not
// depend on the rank count, on how reads are split into problems or on how
// problems are batched (docs/architecture.md, "Randomness").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qvae/dwave/ising.hpp"
#include "qvae/dwave/settings.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"
#include "qvae/rbm/sampling.hpp"

namespace qvae::dwave {

/// Philox stream domains of the dwave module (core::stream_id).
inline constexpr std::uint32_t kAnnealReadDomain = 0xD301;
inline constexpr std::uint32_t kBetaQpuReadDomain = 0xD302;

/// `reads` reads with global indices first_read, first_read + 1, …; with
/// `condition` (the bits of partition 0, ascending node order) partition 0 is
/// pinned (flux biases on the QPU, clamped offline).
struct SampleRequest {
  std::int64_t first_read = 0;
  std::int64_t reads = 0;
  std::vector<std::uint8_t> condition;
};

/// The answer to one request, in node order.
struct SampleSet {
  std::int64_t rows = 0;
  std::int64_t units = 0;
  std::vector<std::uint8_t> states;       ///< rows × units, 0/1 (−1 ↦ 0, +1 ↦ 1)
  std::vector<std::int64_t> occurrences;  ///< per row (num_occurrences); they sum to reads
  std::vector<double> energies;           ///< per row: programmed Ising energy E_prog(s)
  std::int64_t pin_violations = 0;        ///< reads whose partition 0 missed the condition (then overwritten)

  const std::uint8_t* state(std::int64_t row) const { return states.data() + row * units; }
};

class IsingSampler {
 public:
  virtual ~IsingSampler() = default;
  /// "dwave", "anneal", "gibbs".
  virtual std::string name() const = 0;
  /// True when one process talks to a remote service: requests go to rank 0.
  virtual bool remote() const = 0;
  /// The ranges programmed problems must respect (infinite offline).
  virtual Ranges ranges() const { return {}; }
  /// Samples every request with `programmed` (h, J over the machine's nodes
  /// and couplers); result k answers requests[k].  Called on one process.
  virtual std::vector<SampleSet> sample(const IsingModel& programmed, const std::vector<SampleRequest>& requests) = 0;
};

/// Simulated annealing: Metropolis sweeps in node order over a geometric β
/// schedule from beta_start to beta_end (one sweep per β); read r starts from
/// random spins; all draws from Philox (seed, (kAnnealReadDomain, r)).
std::unique_ptr<IsingSampler> make_anneal_sampler(const rbm::BoltzmannMachine& machine, AnnealSettings settings,
                                                  std::uint64_t seed);
/// Block Gibbs (the rbm Kokkos sampler) of exp(−beta·E_prog): read r is chain
/// r of the rbm sampler (seed, chain r), run for `sweeps` sweeps from a random start.
std::unique_ptr<IsingSampler> make_gibbs_sampler(const rbm::BoltzmannMachine& machine, GibbsQpuSettings settings,
                                                 std::uint64_t seed);
/// Collective: the QPU over SAPI.  Rank 0 connects, fetches the solver and
/// checks that the machine's qubits and couplers are on it (core::InputError
/// otherwise); the other ranks hold a proxy that only rank 0 may call.
/// The machine needs hardware qubits.  `settings.client.token` must be set.
std::unique_ptr<IsingSampler> make_qpu_sampler(const rbm::BoltzmannMachine& machine, const QpuSettings& settings,
                                               const par::Communicator& comm);
/// "gibbs" | "anneal" | "dwave" (collective for dwave); core::UsageError otherwise.
std::unique_ptr<IsingSampler> make_sampler(const std::string& backend, const rbm::BoltzmannMachine& machine,
                                           const DwaveSettings& settings, std::uint64_t seed,
                                           const par::Communicator& comm);

struct RoutingOptions {
  /// Send requests to rank 0 even for offline samplers (tests: results must not change).
  bool through_root = false;
};

/// Collective: answers this rank's `requests` (result k for requests[k]).
/// Remote samplers run on rank 0 — requests are gathered there, sampled in
/// batches and the answers scattered back; offline samplers run where the
/// requests are.  An error on rank 0 reaches every rank (par::agree).
std::vector<SampleSet> sample_collective(IsingSampler& sampler, const IsingModel& programmed,
                                         const std::vector<SampleRequest>& requests, const par::Communicator& comm,
                                         RoutingOptions routing = {});

/// Requests for reads [first, first + count), split at multiples of
/// `reads_per_problem` of the global read index (so the split does not depend
/// on which rank holds which reads); every request carries `condition`.
std::vector<SampleRequest> split_reads(std::int64_t first, std::int64_t count, std::int64_t reads_per_problem,
                                       const std::vector<std::uint8_t>& condition = {});

/// What `qvae sample --backend {gibbs,anneal,dwave}` and `qvae dwave sample` run.
struct BackendSampleOptions {
  std::string backend = "dwave";  ///< gibbs | anneal | dwave
  double beta = 1.0;              ///< programs E_I/β (β: the device's β_eff, docs/dwave.md)
  std::int64_t reads = 0;         ///< samples over all ranks
  std::uint64_t seed = 0;         ///< offline samplers
  DwaveSettings settings;         ///< settings.qpu.client.token must be set for dwave
  /// Partition-0 conditioning: this rank's rows (1 row for all reads, or one
  /// per read of this rank's block), as rbm::read_clamp_values returns with
  /// partitions {0}.  Per-read rows give one problem per read (one per shower).
  std::optional<rbm::Clamp> condition;
  RoutingOptions routing;
};

/// Collective: this rank's block (par::my_block) of `reads` samples of the
/// machine from a backend, as an rbm::SampleResult ready for
/// rbm::write_samples: states 0/1 in node order (histogram answers expanded
/// by num_occurrences), energies E(z) at β = 1, backend name, wall seconds.
rbm::SampleResult sample_with_backend(const rbm::BoltzmannMachine& machine, const BackendSampleOptions& options,
                                      const par::Communicator& comm);

}  // namespace qvae::dwave
