#include "qvae/data/splits.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <string>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::data {
namespace {

using core::describe;
using core::InputError;
using core::UsageError;

// Absorbs the rounding of fraction * n (e.g. 0.29 * 100 = 28.999...).
constexpr double kCountRoundingSlack = 1e-6;
constexpr double kFractionSumTolerance = 1e-9;

std::string number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

void check_count(std::int64_t n, const char* what) {
  if (n < 0) {
    throw UsageError(describe(std::string(what) + " " + std::to_string(n) + " is negative", "event splits",
                              "pass the number of events"));
  }
}

std::uint64_t key_of(const core::PhiloxBlock& block) {
  return (static_cast<std::uint64_t>(block.v[0]) << 32) | block.v[1];
}

// Split key of an event: one Philox block on the event's own stream.
std::uint64_t split_key(std::uint64_t seed, std::int64_t event) {
  core::Philox rng(seed, core::stream_id(kSplitStreamDomain, static_cast<std::uint64_t>(event)));
  return key_of(rng.block());
}

// Shuffle key of an event in an epoch: stream = epoch, counter = event, so a
// key costs one block and needs no other event.
std::uint64_t epoch_key(std::uint64_t seed, std::uint64_t epoch, std::int64_t event) {
  core::Philox rng(seed, core::stream_id(kEpochShuffleStreamDomain, epoch), static_cast<std::uint64_t>(event));
  return key_of(rng.block());
}

struct KeyedEvent {
  std::uint64_t key;
  std::int64_t event;
  bool operator<(const KeyedEvent& other) const { return key != other.key ? key < other.key : event < other.event; }
};

template <typename KeyOf>
std::vector<std::int64_t> sorted_by_key(const std::vector<std::int64_t>& events, KeyOf key_of_event) {
  std::vector<KeyedEvent> keyed(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) keyed[i] = KeyedEvent{key_of_event(events[i]), events[i]};
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int64_t> order(events.size());
  for (std::size_t i = 0; i < keyed.size(); ++i) order[i] = keyed[i].event;
  return order;
}

std::vector<std::int64_t> all_events(std::int64_t n) {
  std::vector<std::int64_t> events(static_cast<std::size_t>(n));
  std::iota(events.begin(), events.end(), std::int64_t{0});
  return events;
}

enum class Part : std::uint8_t { train, validation, test };

// Labels order[begin, end) by split_sizes: train first, then validation, then test.
void deal(const std::vector<std::int64_t>& order, std::size_t begin, std::size_t end, const SplitFractions& fractions,
          std::vector<Part>& part_of_event) {
  const SplitSizes sizes = split_sizes(static_cast<std::int64_t>(end - begin), fractions);
  const std::size_t train_end = begin + static_cast<std::size_t>(sizes.train);
  const std::size_t validation_end = train_end + static_cast<std::size_t>(sizes.validation);
  for (std::size_t i = begin; i < end; ++i) {
    const Part part = i < train_end ? Part::train : (i < validation_end ? Part::validation : Part::test);
    part_of_event[static_cast<std::size_t>(order[i])] = part;
  }
}

// One sweep over the events gives each part in ascending order (no sort needed).
Split collect(const std::vector<Part>& part_of_event) {
  Split split;
  for (std::size_t event = 0; event < part_of_event.size(); ++event) {
    const auto index = static_cast<std::int64_t>(event);
    switch (part_of_event[event]) {
      case Part::train:
        split.train.push_back(index);
        break;
      case Part::validation:
        split.validation.push_back(index);
        break;
      case Part::test:
        split.test.push_back(index);
        break;
    }
  }
  return split;
}

}  // namespace

void check_split_fractions(const SplitFractions& fractions) {
  for (double fraction : {fractions.train, fractions.validation, fractions.test}) {
    if (!(fraction >= 0.0 && fraction <= 1.0)) {
      throw UsageError(describe("split fraction " + number(fraction) + " is outside [0, 1]", "event splits",
                                "use fractions such as 0.8/0.1/0.1"));
    }
  }
  const double sum = fractions.train + fractions.validation + fractions.test;
  if (!(std::fabs(sum - 1.0) <= kFractionSumTolerance)) {
    throw UsageError(describe("split fractions " + number(fractions.train) + "/" + number(fractions.validation) + "/" +
                                  number(fractions.test) + " sum to " + number(sum) + ", not 1",
                              "event splits", "make train + validation + test = 1"));
  }
}

SplitSizes split_sizes(std::int64_t n, const SplitFractions& fractions) {
  check_count(n, "event count");
  check_split_fractions(fractions);
  const double total = static_cast<double>(n);
  auto boundary = [&](double cumulative_fraction) {
    const auto cut = static_cast<std::int64_t>(std::floor(cumulative_fraction * total + kCountRoundingSlack));
    return std::min(cut, n);
  };
  const std::int64_t train_end = boundary(fractions.train);
  const std::int64_t validation_end = std::max(train_end, boundary(fractions.train + fractions.validation));
  return SplitSizes{train_end, validation_end - train_end, n - validation_end};
}

Split split_events(std::int64_t n, std::uint64_t seed, const SplitFractions& fractions) {
  check_count(n, "event count");
  check_split_fractions(fractions);
  const std::vector<std::int64_t> order =
      sorted_by_key(all_events(n), [seed](std::int64_t event) { return split_key(seed, event); });
  std::vector<Part> part_of_event(order.size());
  deal(order, 0, order.size(), fractions, part_of_event);
  return collect(part_of_event);
}

Split split_events_contiguous(std::int64_t n, const SplitFractions& fractions) {
  check_count(n, "event count");
  check_split_fractions(fractions);
  const std::vector<std::int64_t> order = all_events(n);
  std::vector<Part> part_of_event(order.size());
  deal(order, 0, order.size(), fractions, part_of_event);
  return collect(part_of_event);
}

std::vector<int> energy_strata(const double* incident_energies, std::int64_t n, const StratifyOptions& options) {
  check_count(n, "event count");
  if (options.unique_threshold < 1 || options.log_bins < 1) {
    throw UsageError(describe("stratification needs unique_threshold >= 1 and log_bins >= 1 (got " +
                                  std::to_string(options.unique_threshold) + ", " + std::to_string(options.log_bins) +
                                  ")",
                              "event splits", "use the defaults 20 and 15"));
  }
  const auto count = static_cast<std::size_t>(n);
  for (std::size_t i = 0; i < count; ++i) {
    const double energy = incident_energies[i];
    if (!std::isfinite(energy) || !(energy > 0.0)) {
      throw InputError(describe("incident energy " + number(energy) + " MeV is not a finite positive number",
                                "at event " + std::to_string(i), "check the incident_energies dataset"));
    }
  }
  std::vector<int> strata(count, 0);
  if (count == 0) return strata;

  std::vector<double> distinct(incident_energies, incident_energies + count);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());

  if (distinct.size() < static_cast<std::size_t>(options.unique_threshold)) {
    for (std::size_t i = 0; i < count; ++i) {
      strata[i] =
          static_cast<int>(std::lower_bound(distinct.begin(), distinct.end(), incident_energies[i]) - distinct.begin());
    }
    return strata;
  }
  // Many distinct values: log-spaced bins over [E_min, E_max] (E_min < E_max here).
  const double log_min = std::log(distinct.front());
  const double log_span = std::log(distinct.back()) - log_min;
  for (std::size_t i = 0; i < count; ++i) {
    const double position = (std::log(incident_energies[i]) - log_min) / log_span;
    const auto bin = static_cast<int>(std::floor(position * options.log_bins));
    strata[i] = std::min(std::max(bin, 0), options.log_bins - 1);
  }
  return strata;
}

Split split_events_stratified(const double* incident_energies, std::int64_t n, std::uint64_t seed,
                              const SplitFractions& fractions, const StratifyOptions& options) {
  check_split_fractions(fractions);
  const std::vector<int> strata = energy_strata(incident_energies, n, options);

  // One sort by (stratum, split key, event) puts each stratum in a contiguous,
  // key-ordered run.
  struct StratumKeyedEvent {
    int stratum;
    std::uint64_t key;
    std::int64_t event;
    bool operator<(const StratumKeyedEvent& other) const {
      if (stratum != other.stratum) return stratum < other.stratum;
      return key != other.key ? key < other.key : event < other.event;
    }
  };
  std::vector<StratumKeyedEvent> keyed(strata.size());
  for (std::size_t i = 0; i < strata.size(); ++i) {
    const auto event = static_cast<std::int64_t>(i);
    keyed[i] = StratumKeyedEvent{strata[i], split_key(seed, event), event};
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int64_t> order(keyed.size());
  for (std::size_t i = 0; i < keyed.size(); ++i) order[i] = keyed[i].event;

  std::vector<Part> part_of_event(order.size());
  for (std::size_t begin = 0; begin < keyed.size();) {
    std::size_t end = begin;
    while (end < keyed.size() && keyed[end].stratum == keyed[begin].stratum) ++end;
    deal(order, begin, end, fractions, part_of_event);
    begin = end;
  }
  return collect(part_of_event);
}

Split split_events_stratified(const std::vector<double>& incident_energies, std::uint64_t seed,
                              const SplitFractions& fractions, const StratifyOptions& options) {
  return split_events_stratified(incident_energies.data(), static_cast<std::int64_t>(incident_energies.size()), seed,
                                 fractions, options);
}

std::vector<std::int64_t> shuffle_events(const std::vector<std::int64_t>& events, std::uint64_t seed,
                                         std::uint64_t epoch) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i] < 0) {
      throw UsageError(describe("event index " + std::to_string(events[i]) + " is negative",
                                "at list position " + std::to_string(i), "pass event indices from a split"));
    }
  }
  return sorted_by_key(events, [seed, epoch](std::int64_t event) { return epoch_key(seed, epoch, event); });
}

std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t epoch) {
  check_count(n, "event count");
  return shuffle_events(all_events(n), seed, epoch);
}

namespace {

par::Block rank_block(std::int64_t n, int rank, int ranks) {
  check_count(n, "event count");
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    throw UsageError(describe("rank " + std::to_string(rank) + " of " + std::to_string(ranks) + " is invalid",
                              "epoch shards", "pass 0 <= rank < ranks"));
  }
  return par::block_partition(n, rank, ranks);
}

}  // namespace

std::vector<std::int64_t> shard_of_epoch(std::int64_t n, std::uint64_t seed, std::uint64_t epoch, int rank, int ranks) {
  const par::Block block = rank_block(n, rank, ranks);
  const std::vector<std::int64_t> permutation = epoch_permutation(n, seed, epoch);
  return std::vector<std::int64_t>(permutation.begin() + block.offset, permutation.begin() + block.end());
}

std::int64_t equal_batch_count(std::int64_t n, int ranks, std::int64_t batch_size) {
  check_count(n, "event count");
  if (ranks < 1 || batch_size < 1) {
    throw UsageError(describe("batches need ranks >= 1 and batch size >= 1 (got " + std::to_string(ranks) + ", " +
                                  std::to_string(batch_size) + ")",
                              "epoch shards", "pass a positive batch size"));
  }
  return (n / ranks) / batch_size;
}

std::vector<std::int64_t> equal_batch_shard(std::int64_t n, std::uint64_t seed, std::uint64_t epoch, int rank,
                                            int ranks, std::int64_t batch_size) {
  const std::int64_t used = equal_batch_count(n, ranks, batch_size) * batch_size;
  std::vector<std::int64_t> shard = shard_of_epoch(n, seed, epoch, rank, ranks);
  shard.resize(static_cast<std::size_t>(used));
  return shard;
}

}  // namespace qvae::data
