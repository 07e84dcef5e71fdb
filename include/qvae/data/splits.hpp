// Train/validation/test splits and per-epoch shuffles of events.
//
// All randomness is Philox keyed by (seed, work item) (docs/architecture.md,
// "Randomness"): an event's sort key is a pure function of (seed, event index)
// for splits and of (seed, epoch, event index) for shuffles.  Every function
// here is pure, needs no MPI, and gives the same answer on every rank and for
// every rank count.  A permutation is the event indices sorted by their keys
// (ties, practically impossible with 64-bit keys, broken by the index):
// O(n log n), about 0.1 s for n = 1e6.
#pragma once

#include <cstdint>
#include <vector>

namespace qvae::data {

/// Philox stream domains (core::stream_id) owned by this file; no other use of
/// a seed may take them.
inline constexpr std::uint32_t kSplitStreamDomain = 0x5B11;         ///< split key of an event
inline constexpr std::uint32_t kEpochShuffleStreamDomain = 0x5B12;  ///< per-epoch key, stream = epoch

/// Fractions of the events in each part.  They must each lie in [0, 1] and sum
/// to 1 within 1e-9 (core::UsageError otherwise).  Defaults: 0.8 / 0.1 / 0.1
/// (docs/training.md, keys train.val_fraction and train.test_fraction).
struct SplitFractions {
  double train = 0.8;
  double validation = 0.1;
  double test = 0.1;
};

/// Event indices (0-based rows of the file) of each part, each ascending.
struct Split {
  std::vector<std::int64_t> train;
  std::vector<std::int64_t> validation;
  std::vector<std::int64_t> test;
};

/// Sizes of the parts of a group of n events, by cumulative boundaries:
///   n_train = floor(f_train n + 1e-6),
///   n_train + n_validation = min(n, floor((f_train + f_validation) n + 1e-6)),
///   n_test = the rest.
/// (The 1e-6 absorbs rounding of f·n such as 0.29·100 = 28.999…; it is far
/// below 1 for any n below 1e9.)  E.g. n = 10 -> 8/1/1, n = 15 -> 12/1/2, n = 19 -> 15/2/2.
struct SplitSizes {
  std::int64_t train = 0;
  std::int64_t validation = 0;
  std::int64_t test = 0;
};
SplitSizes split_sizes(std::int64_t n, const SplitFractions& fractions = {});

/// Throws core::UsageError when the fractions are invalid (see SplitFractions).
void check_split_fractions(const SplitFractions& fractions);

/// Shuffled split of n events: the events ordered by their split key under
/// `seed`, then the first split_sizes(n).train go to train, the next to
/// validation, the rest to test; each part is returned ascending.  An event's
/// key does not depend on n.
Split split_events(std::int64_t n, std::uint64_t seed, const SplitFractions& fractions = {});

/// The reference implementation's split without shuffling (docs/model.md
/// names it NEW): rows
/// [0, n_train) train, then validation, then test.
Split split_events_contiguous(std::int64_t n, const SplitFractions& fractions = {});

/// How events are grouped into strata by incident energy.
struct StratifyOptions {
  /// With fewer than this many distinct energies (ds1's discrete energies,
  /// ATLAS 2^8..2^22 MeV), each distinct energy is a stratum.
  int unique_threshold = 20;
  /// Otherwise: this many log-spaced bins between the smallest and largest
  /// energy (bin = floor(bins · ln(E/E_min) / ln(E_max/E_min)), the largest
  /// energy in the last bin).
  int log_bins = 15;
};

/// Stratum of each event (0 .. number of strata - 1, ascending with energy).
/// Throws core::InputError naming the event when an energy is not finite and
/// > 0, core::UsageError for options below 1.
std::vector<int> energy_strata(const double* incident_energies, std::int64_t n, const StratifyOptions& options = {});

/// Split stratified by incident energy: each stratum is ordered by the split
/// keys (as in split_events) and split with split_sizes(stratum size); the
/// parts of all strata are merged, each part ascending by event index.  So every
/// stratum's share in each part is exactly as split_sizes documents.
Split split_events_stratified(const double* incident_energies, std::int64_t n, std::uint64_t seed,
                              const SplitFractions& fractions = {}, const StratifyOptions& options = {});
Split split_events_stratified(const std::vector<double>& incident_energies, std::uint64_t seed,
                              const SplitFractions& fractions = {}, const StratifyOptions& options = {});

/// Permutation of 0 .. n-1 for `epoch`: positions sorted by the key of
/// (seed, epoch, index).  Different epochs give independent permutations.
std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t epoch);

/// The given events (e.g. Split::train) in the order of `epoch`: sorted by the
/// key of (seed, epoch, event index), so the order of two events does not
/// depend on which other events are in the list.
std::vector<std::int64_t> shuffle_events(const std::vector<std::int64_t>& events, std::uint64_t seed,
                                         std::uint64_t epoch);

/// This rank's contiguous block (par::block_partition: the first n % ranks
/// ranks get one extra) of epoch_permutation(n, seed, epoch).  The ranks'
/// shards concatenated in rank order are that permutation for any rank count.
/// Throws core::UsageError unless n >= 0 and 0 <= rank < ranks.
std::vector<std::int64_t> shard_of_epoch(std::int64_t n, std::uint64_t seed, std::uint64_t epoch, int rank, int ranks);

/// Equal batch counts on every rank, so every rank makes the same number of
/// collective gradient steps.  Rule: each rank runs
///   batches = floor(floor(n / ranks) / B)
/// batches of exactly B events, the first batches·B events of its shard; the
/// rest of each shard (fewer than B + 1 events per rank) is not used this
/// epoch.  Since the permutation changes every epoch, so do the unused events.
/// Throws core::UsageError unless n >= 0, ranks >= 1 and B >= 1.
std::int64_t equal_batch_count(std::int64_t n, int ranks, std::int64_t batch_size);

/// shard_of_epoch cut to its first equal_batch_count(n, ranks, B) · B events.
std::vector<std::int64_t> equal_batch_shard(std::int64_t n, std::uint64_t seed, std::uint64_t epoch, int rank,
                                            int ranks, std::int64_t batch_size);

}  // namespace qvae::data
