// qvae sweep plan | collect: hyper-parameter sweeps as Slurm job arrays.
//
// plan:    a sweep file (INI) with [sweep] settings, a [grid] of value lists
//          and/or [random] distributions expands into one resolved, validated
//          config per point (DIR/points/NNNN/config.ini), DIR/plan.json and an
//          array job script DIR/sweep.sbatch.
// collect: gathers every point's metrics.json and last history.csv row into
//          DIR/results.csv and DIR/results.json, marking missing points.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <utility>

#include "cli.hpp"
#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/par/collective_error.hpp"

namespace fs = std::filesystem;

namespace qvae::cli {
namespace {

constexpr std::uint32_t kSweepStreamDomain = 0x5EE9;

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(trim(item));
  return items;
}

/// A [random] entry: uniform(a, b) | loguniform(a, b) | int(a, b) | choice(x, y, ...).
struct Distribution {
  std::string key, kind;
  std::vector<std::string> args;

  std::string draw(core::Philox& rng) const {
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

SweepFile read_sweep_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw core::UsageError(core::describe("cannot read sweep file '" + path + "'", "qvae sweep plan --grid"));
  SweepFile sweep;
  std::string line, section;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') throw core::UsageError(core::describe("malformed section header", where));
      section = line.substr(1, line.size() - 2);
      if (section != "sweep" && section != "grid" && section != "random")
        throw core::UsageError(core::describe("unknown section [" + section + "]", where, "use [sweep], [grid], [random]"));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos || section.empty())
      throw core::UsageError(core::describe("expected 'key = value' under a section", where));
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (section == "sweep") {
      if (key == "mode") sweep.mode = value;
      else if (key == "draws") sweep.draws = std::stoll(value);
      else if (key == "seed") sweep.seed = std::stoull(value);
      else if (key == "command") sweep.command = value;
      else if (key == "arguments") sweep.arguments = value;
      else if (key == "base") sweep.base_configs = split_list(value);
      else throw core::UsageError(core::describe("unknown [sweep] key '" + key + "'", where,
                                                 "use mode, draws, seed, command, arguments, base"));
    } else if (section == "grid") {
      sweep.grid.emplace_back(key, split_list(value));
    } else {
      const auto open = value.find('('), close = value.rfind(')');
      Distribution d{key, trim(value.substr(0, open)), {}};
      if (open == std::string::npos || close == std::string::npos || close < open)
        throw core::UsageError(core::describe("expected kind(args) for '" + key + "'", where));
      d.args = split_list(value.substr(open + 1, close - open - 1));
      const bool two = d.kind == "uniform" || d.kind == "loguniform" || d.kind == "int";
      if ((two && d.args.size() != 2) || (d.kind == "choice" && d.args.empty()) || (!two && d.kind != "choice"))
        throw core::UsageError(core::describe("bad distribution '" + value + "'", where,
                                              "use uniform(a, b), loguniform(a, b), int(a, b) or choice(x, y, ...)"));
      sweep.random.push_back(d);
    }
  }
  if (sweep.mode != "grid" && sweep.mode != "random")
    throw core::UsageError(core::describe("[sweep] mode must be grid or random", path));
  if (sweep.mode == "random" && sweep.draws < 1)
    throw core::UsageError(core::describe("[sweep] draws must be >= 1 for a random search", path));
  // Relative base config paths are relative to the sweep file.
  for (auto& base : sweep.base_configs)
    if (fs::path(base).is_relative() && !fs::exists(base)) base = (fs::path(path).parent_path() / base).string();
  return sweep;
}

/// Every point's overrides: the grid's Cartesian product (last key fastest) or
/// `draws` random draws keyed by (seed, point), each followed by the [random] keys.
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

std::string point_name(std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%04zu", index);
  return name;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  core::write_file_atomically(path.string(), text, "qvae sweep");
}

int plan(Context& context, CommandLine& cli) {
  const auto& vm = cli.values();
  SweepFile sweep;
  std::vector<std::vector<core::ConfigOverride>> points;
  std::vector<core::Config> configs;
  fs::path out;
  par::run_agreed(context.world, [&] {
    if (!vm.count("grid") || !vm.count("out"))
      throw core::UsageError(core::describe("plan needs --grid FILE and --out DIR", "qvae sweep plan"));
    sweep = read_sweep_file(vm["grid"].as<std::string>());
    out = vm["out"].as<std::string>();
    if (fs::exists(out / "plan.json") && !vm["force"].as<bool>())
      throw core::UsageError(core::describe("'" + out.string() + "' already holds a plan", "qvae sweep plan",
                                            "choose a new --out or pass --force"));
    points = expand(sweep);
    // Resolve (and so validate) every point before writing anything.
    for (std::size_t i = 0; i < points.size(); ++i) {
      try {
        configs.push_back(core::Config::resolve(schema(), sweep.base_configs, points[i]));
      } catch (const core::UsageError& e) {
        throw core::UsageError(std::string(e.what()) + " (sweep point " + point_name(i) + ")");
      }
    }
  });
  nlohmann::json plan_json = {{"command", sweep.command}, {"mode", sweep.mode}, {"seed", sweep.seed},
                              {"base", sweep.base_configs}, {"points", nlohmann::json::array()}};
  for (std::size_t i = 0; i < points.size(); ++i) {
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& o : points[i]) overrides[o.key] = o.value;
    plan_json["points"].push_back({{"name", point_name(i)}, {"overrides", overrides}});
  }
  if (context.world.is_root()) {
    for (std::size_t i = 0; i < points.size(); ++i) {
      const fs::path dir = out / "points" / point_name(i);
      fs::create_directories(dir);
      write_text_atomically(dir / "config.ini", configs[i].to_ini());
    }
    // {dir} becomes the shell variable holding the point's directory.
    std::string arguments = sweep.arguments;
    for (std::size_t at; (at = arguments.find("{dir}")) != std::string::npos;) arguments.replace(at, 5, "\"$dir\"");
    // run-point.sh runs one point; both the generated array script and the
    // generic jobs/slurm/sweep.sbatch call it, so a point runs the same either way.
    const std::string absolute = fs::absolute(out).string();
    const std::string point_script =
        "#!/bin/bash\n"
        "# Generated by `" + context.command_line + "`: runs sweep point $1 (0-based).\n"
        "# Environment: QVAE (the executable), QVAE_LAUNCH (default srun), QVAE_SWEEP_ARGS.\n"
        "set -uo pipefail\n"
        "[ $# -eq 1 ] || { echo \"qvae: error: run-point.sh needs the point index\" >&2; exit 2; }\n"
        "point=$(printf '%04d' \"$1\")\n"
        "dir=\"" + absolute + "/points/$point\"\n"
        "[ -f \"$dir/config.ini\" ] || { echo \"qvae: error: no sweep point $1 in " + absolute + "\" >&2; exit 2; }\n"
        "qvae=\"${QVAE:-qvae}\"\n"
        "rm -f \"$dir/FAILED\"\n"
        "if ! ${QVAE_LAUNCH:-srun} \"$qvae\" " + sweep.command + " --config \"$dir/config.ini\" " + arguments +
        " ${QVAE_SWEEP_ARGS:-}; then\n"
        "  touch \"$dir/FAILED\"; exit 1\n"
        "fi\n";
    const std::string array_script =
        "#!/bin/bash\n"
        "# Generated by `" + context.command_line + "`: one array task per sweep point.\n"
        "# Submit: sbatch " + (out / "sweep.sbatch").string() + "   (override resources on the sbatch line)\n"
        "#SBATCH --job-name=qvae-sweep\n"
        "#SBATCH --array=0-" + std::to_string(points.size() - 1) + "\n"
        "#SBATCH --output=" + absolute + "/points/%a.log\n"
        "exec bash \"" + absolute + "/run-point.sh\" \"$SLURM_ARRAY_TASK_ID\"\n";
    for (const auto& [name, text] : {std::pair{"run-point.sh", point_script}, std::pair{"sweep.sbatch", array_script}}) {
      write_text_atomically(out / name, text);
      fs::permissions(out / name, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    }
    write_text_atomically(out / "plan.json", plan_json.dump(2) + "\n");
  }
  const nlohmann::json summary = {{"points", points.size()}, {"out", out.string()},
                                  {"script", (out / "sweep.sbatch").string()}};
  if (cli.json())
    core::print_json_summary(summary, context.world.is_root());
  else if (context.world.is_root())
    std::printf("sweep plan: %zu point(s) in %s; submit with: sbatch %s\n", points.size(), out.string().c_str(),
                (out / "sweep.sbatch").string().c_str());
  return 0;
}

/// The last data row of a CSV file as {column: value}; empty if absent.
nlohmann::json last_csv_row(const fs::path& path) {
  std::ifstream in(path);
  std::string header, line, last;
  if (!std::getline(in, header)) return nullptr;
  while (std::getline(in, line))
    if (!trim(line).empty()) last = line;
  if (last.empty()) return nullptr;
  const auto names = split_list(header), values = split_list(last);
  nlohmann::json row = nlohmann::json::object();
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    char* end = nullptr;
    const double v = std::strtod(values[i].c_str(), &end);
    row[names[i]] = (*end == '\0' && !values[i].empty()) ? nlohmann::json(v) : nlohmann::json(values[i]);
  }
  return row;
}

int collect(Context& context, CommandLine& cli) {
  const auto& vm = cli.values();
  nlohmann::json plan_json;
  fs::path dir;
  par::run_agreed(context.world, [&] {
    if (!vm.count("dir")) throw core::UsageError(core::describe("collect needs the sweep DIR", "qvae sweep collect"));
    dir = vm["dir"].as<std::string>();
    std::ifstream in(dir / "plan.json");
    if (!in)
      throw core::InputError(core::describe("no plan.json", "directory '" + dir.string() + "'",
                                            "run `qvae sweep plan` first"));
    try {
      in >> plan_json;
    } catch (const nlohmann::json::exception& e) {
      throw core::InputError(core::describe(std::string("plan.json is not valid JSON: ") + e.what(), dir.string()));
    }
  });
  nlohmann::json rows = nlohmann::json::array();
  std::int64_t complete = 0;
  for (const auto& point : plan_json["points"]) {
    const fs::path point_dir = dir / "points" / point["name"].get<std::string>();
    nlohmann::json row = {{"point", point["name"]}, {"overrides", point["overrides"]}};
    nlohmann::json metrics = nullptr;
    for (const fs::path& candidate : {point_dir / "metrics.json", point_dir / "report" / "metrics.json"}) {
      std::ifstream in(candidate);
      if (!in) continue;
      try {
        in >> metrics;
      } catch (const nlohmann::json::exception&) {
        metrics = nullptr;
        row["error"] = "unreadable " + candidate.string();
      }
      break;
    }
    const nlohmann::json history = last_csv_row(point_dir / "history.csv");
    row["metrics"] = metrics;
    row["final"] = history;
    const bool failed = fs::exists(point_dir / "FAILED");
    row["status"] = failed ? "failed" : (metrics.is_null() && history.is_null() ? "missing" : "ok");
    complete += row["status"] == "ok";
    rows.push_back(row);
  }
  // One flat CSV: point, status, overrides, final losses, scalar metrics.
  std::vector<std::string> columns{"point", "status"};
  auto add_column = [&](const std::string& name) {
    if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
  };
  std::vector<std::map<std::string, std::string>> flat;
  for (const auto& row : rows) {
    std::map<std::string, std::string> cells{{"point", row["point"]}, {"status", row["status"]}};
    for (const auto& [k, v] : row["overrides"].items()) add_column(k), cells[k] = v.get<std::string>();
    if (row["final"].is_object())
      for (const auto& [k, v] : row["final"].items()) add_column("final." + k), cells["final." + k] = v.dump();
    if (row["metrics"].is_object()) {
      const nlohmann::json metrics = row["metrics"].flatten();  // keys "/a/b"; keep it alive while iterating
      for (const auto& [k, v] : metrics.items())
        if (v.is_number()) add_column("metrics" + k), cells["metrics" + k] = v.dump();
    }
    flat.push_back(cells);
  }
  std::ostringstream csv;
  for (std::size_t i = 0; i < columns.size(); ++i) csv << (i ? "," : "") << columns[i];
  csv << "\n";
  for (const auto& cells : flat) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto it = cells.find(columns[i]);
      csv << (i ? "," : "") << (it == cells.end() ? "" : it->second);
    }
    csv << "\n";
  }
  const nlohmann::json summary = {{"points", rows.size()}, {"complete", complete}, {"results", rows}};
  if (context.world.is_root()) {
    write_text_atomically(dir / "results.csv", csv.str());
    write_text_atomically(dir / "results.json", summary.dump(2) + "\n");
  }
  if (cli.json())
    core::print_json_summary(summary, context.world.is_root());
  else if (context.world.is_root())
    std::printf("sweep collect: %lld of %zu point(s) complete; table in %s\n", static_cast<long long>(complete),
                rows.size(), (dir / "results.csv").string().c_str());
  return 0;
}

}  // namespace

int run_sweep(Context& context) {
  CommandLine cli("sweep", "qvae sweep plan --grid FILE --out DIR [--force] | qvae sweep collect DIR [--json]",
                  "plan: expands a sweep file into one validated config per point, plan.json and an\n"
                  "      array job script sweep.sbatch running run-point.sh INDEX for its task (or\n"
                  "      QVAE_SWEEP_DIR=DIR sbatch --array=0-N jobs/slurm/sweep.sbatch); QVAE,\n"
                  "      QVAE_LAUNCH and QVAE_SWEEP_ARGS are read at run time, resources go on the\n"
                  "      sbatch line.  Sweep file (INI):\n"
                  "        [sweep] mode = grid|random, draws = N, seed = S, command = train,\n"
                  "                base = a.ini, b.ini   (configs every point starts from)\n"
                  "                arguments = --out {dir}  (the command's arguments; {dir} = point dir)\n"
                  "        [grid]  section.key = v1, v2, ...     (Cartesian product)\n"
                  "        [random] section.key = uniform(a, b) | loguniform(a, b) | int(a, b) | choice(x, y)\n"
                  "collect: gathers every point's metrics.json (or report/metrics.json) and the last\n"
                  "      row of history.csv into results.csv and results.json; points without\n"
                  "      results are 'missing', points with a FAILED file 'failed'.");
  cli.options().add_options()("action", po::value<std::string>(), "plan | collect")(
      "dir", po::value<std::string>(), "collect: the sweep directory")(
      "grid", po::value<std::string>(), "plan: the sweep file")("out", po::value<std::string>(), "plan: output directory")(
      "force", po::bool_switch()->default_value(false), "plan: overwrite an existing plan");
  cli.positional().add("action", 1).add("dir", 1);
  if (!cli.parse(context)) return 0;
  const std::string action = cli.values().count("action") ? cli.values()["action"].as<std::string>() : "";
  par::run_agreed(context.world, [&] {
    if (action != "plan" && action != "collect")
      throw core::UsageError(core::describe("unknown or missing action '" + action + "'", "qvae sweep",
                                            "use `qvae sweep plan` or `qvae sweep collect`"));
  });
  return action == "plan" ? plan(context, cli) : collect(context, cli);
}

}  // namespace qvae::cli
