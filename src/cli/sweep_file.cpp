#include "sweep_file.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <type_traits>

#include "qvae/core/error.hpp"
#include "qvae/core/lists.hpp"

namespace fs = std::filesystem;

namespace qvae::cli {
namespace {
constexpr std::uint32_t kSweepStreamDomain = 0x5EE9;
}  // namespace

namespace {

/// A whole-string number of a sweep file; anything else is a UsageError naming `where`.
template <class T>
T parse_number(const std::string& text, const std::string& what, const std::string& where) {
  const std::optional<T> value = core::to_number<T>(text);
  if (!value) throw core::UsageError(core::describe(what + " '" + text + "' is not a valid number", where));
  return *value;
}

/// Checks a [random] distribution's arguments once, so draws never fail.
void check_arguments(const Distribution& d, const std::string& where) {
  if (d.kind == "uniform" || d.kind == "loguniform") {
    const double lo = parse_number<double>(d.args[0], d.kind + " bound", where);
    const double hi = parse_number<double>(d.args[1], d.kind + " bound", where);
    if (d.kind == "loguniform" && (lo <= 0 || hi <= 0))
      throw core::UsageError(core::describe("loguniform bounds must be > 0", where));
  } else if (d.kind == "int") {
    const auto lo = parse_number<std::int64_t>(d.args[0], "int bound", where);
    const auto hi = parse_number<std::int64_t>(d.args[1], "int bound", where);
    // hi - lo + 1 must fit: bounds within +-2^61 and ordered.
    constexpr long long kLimit = 1LL << 61;
    if (lo > hi || lo < -kLimit || hi > kLimit)
      throw core::UsageError(core::describe("int(a, b) needs a <= b within +-2^61", where));
  }
}

}  // namespace

std::string Distribution::draw(core::Philox& rng) const {
  auto number = [&](std::size_t i) { return std::stod(args.at(i)); };
  std::ostringstream out;
  out << std::setprecision(10);
  if (kind == "uniform") {
    out << rng.uniform(number(0), number(1));
  } else if (kind == "loguniform") {
    out << std::exp(rng.uniform(std::log(number(0)), std::log(number(1))));
  } else if (kind == "int") {
    const auto lo = std::stoll(args[0]), hi = std::stoll(args[1]);
    out << lo + static_cast<long long>(rng.uniform() * static_cast<double>(hi - lo + 1));
  } else {  // choice
    return args[static_cast<std::size_t>(rng.uniform() * static_cast<double>(args.size()))];
  }
  return out.str();
}

SweepFile parse_sweep_file(std::istream& in, const std::string& path) {
  SweepFile sweep;
  std::string line, section;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number);
    line = core::trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') throw core::UsageError(core::describe("malformed section header", where));
      section = line.substr(1, line.size() - 2);
      if (section != "sweep" && section != "grid" && section != "random")
        throw core::UsageError(
            core::describe("unknown section [" + section + "]", where, "use [sweep], [grid], [random]"));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos || section.empty())
      throw core::UsageError(core::describe("expected 'key = value' under a section", where));
    const std::string key = core::trim(line.substr(0, eq)), value = core::trim(line.substr(eq + 1));
    if (section == "sweep") {
      if (key == "mode")
        sweep.mode = value;
      else if (key == "draws")
        sweep.draws = parse_number<std::int64_t>(value, "draws", where);
      else if (key == "seed")
        sweep.seed = parse_number<std::uint64_t>(value, "seed", where);
      else if (key == "command")
        sweep.command = value;
      else if (key == "arguments")
        sweep.arguments = value;
      else if (key == "base")
        sweep.base_configs = core::split_list(value);
      else
        throw core::UsageError(core::describe("unknown [sweep] key '" + key + "'", where,
                                              "use mode, draws, seed, command, arguments, base"));
    } else if (section == "grid") {
      sweep.grid.emplace_back(key, core::split_list(value));
      if (sweep.grid.back().second.empty())
        throw core::UsageError(core::describe("grid key '" + key + "' has no values", where, "list values a, b, c"));
    } else {
      const auto open = value.find('('), close = value.rfind(')');
      Distribution d{key, core::trim(value.substr(0, open)), {}};
      if (open == std::string::npos || close == std::string::npos || close < open)
        throw core::UsageError(core::describe("expected kind(args) for '" + key + "'", where));
      d.args = core::split_list(value.substr(open + 1, close - open - 1));
      const bool two = d.kind == "uniform" || d.kind == "loguniform" || d.kind == "int";
      if ((two && d.args.size() != 2) || (d.kind == "choice" && d.args.empty()) || (!two && d.kind != "choice"))
        throw core::UsageError(core::describe("bad distribution '" + value + "'", where,
                                              "use uniform(a, b), loguniform(a, b), int(a, b) or choice(x, y, ...)"));
      check_arguments(d, where);
      sweep.random.push_back(d);
    }
  }
  if (sweep.mode != "grid" && sweep.mode != "random")
    throw core::UsageError(core::describe("[sweep] mode must be grid or random", path));
  if (sweep.mode == "random" && sweep.draws < 1)
    throw core::UsageError(core::describe("[sweep] draws must be >= 1 for a random search", path));
  // The expansion is held in memory: bound it before expanding.
  // (a random search expands the grid too, then draws from it)
  std::int64_t points = 1;
  for (const auto& [key, values] : sweep.grid) {
    if (static_cast<std::int64_t>(values.size()) > kMaxSweepPoints / points) {
      points = kMaxSweepPoints + 1;
      break;
    }
    points *= static_cast<std::int64_t>(values.size());
  }
  if (points > kMaxSweepPoints || (sweep.mode == "random" && sweep.draws > kMaxSweepPoints))
    throw core::UsageError(
        core::describe("the sweep expands to more than " + std::to_string(kMaxSweepPoints) + " points", path,
                       "split it into several sweeps"));
  // Relative base config paths are relative to the sweep file.
  for (auto& base : sweep.base_configs)
    if (fs::path(base).is_relative() && !fs::exists(base)) base = (fs::path(path).parent_path() / base).string();
  return sweep;
}

SweepFile read_sweep_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw core::UsageError(core::describe("cannot read sweep file '" + path + "'", "qvae sweep plan --grid"));
  return parse_sweep_file(in, path);
}

std::vector<std::vector<core::ConfigOverride>> expand(const SweepFile& sweep) {
  std::vector<std::vector<core::ConfigOverride>> points{{}};
  for (const auto& [key, values] : sweep.grid) {
    std::vector<std::vector<core::ConfigOverride>> next;
    for (const auto& point : points)
      for (const auto& value : values) {
        next.push_back(point);
        next.back().push_back({key, value});
      }
    points.swap(next);
  }
  if (sweep.mode == "random") {
    std::vector<std::vector<core::ConfigOverride>> drawn;
    for (std::int64_t i = 0; i < sweep.draws; ++i) {
      core::Philox rng(sweep.seed, core::stream_id(kSweepStreamDomain, static_cast<std::uint64_t>(i)));
      auto point = points[static_cast<std::size_t>(rng.uniform() * static_cast<double>(points.size()))];
      for (const auto& d : sweep.random) point.push_back({d.key, d.draw(rng)});
      drawn.push_back(point);
    }
    points.swap(drawn);
  }
  return points;
}

}  // namespace qvae::cli
