// Sweep files of `qvae sweep plan` (INI-like): [sweep] settings, a [grid] of
// value lists and [random] distributions.  Parsing and expansion into points
// are kept apart from the command so tests and the fuzz harness can call them.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <utility>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/philox.hpp"

namespace qvae::cli {

/// The most points one sweep may expand to (grid product or random draws):
/// far more jobs than any array, and small enough to plan in memory.
inline constexpr std::int64_t kMaxSweepPoints = 100000;

/// A [random] entry: uniform(a, b) | loguniform(a, b) | int(a, b) | choice(x, y, ...).
struct Distribution {
  std::string key, kind;
  std::vector<std::string> args;
  std::string draw(core::Philox& rng) const;
};

struct SweepFile {
  std::string mode = "grid";  // grid | random
  std::int64_t draws = 0;
  std::uint64_t seed = 1;
  std::string command = "train";
  std::string arguments = "--out {dir}";  ///< {dir} is the point's directory
  std::vector<std::string> base_configs;
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // in file order
  std::vector<Distribution> random;
};

/// Parses a sweep file's text; `path` names it in errors and anchors relative
/// base configs.  Any malformed line or value is a core::UsageError.
SweepFile parse_sweep_file(std::istream& in, const std::string& path);
/// Opens and parses `path` (UsageError when it cannot be read).
SweepFile read_sweep_file(const std::string& path);

/// Every point's overrides: the grid's Cartesian product (last key fastest) or
/// `draws` random draws keyed by (seed, point), each followed by the [random] keys.
std::vector<std::vector<core::ConfigOverride>> expand(const SweepFile& sweep);

}  // namespace qvae::cli
