// qvae graph: a hardware graph's size and degrees, and optionally the K-partite
// selection the Boltzmann machine would use on it (docs/rbm.md).
// Not distributed: every rank computes the same small result, rank 0 prints.
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/graph/yield.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::cli {

namespace {

std::string histogram_text(const std::map<int, std::int64_t>& histogram) {
  std::string out;
  for (const auto& [degree, count] : histogram)
    out += (out.empty() ? "" : " ") + std::to_string(degree) + ":" + std::to_string(count);
  return out;
}

}  // namespace

void declare_graph_options(po::options_description& options) {
  options.add_options()("topology", po::value<std::string>(), "chimera | pegasus | zephyr")(
      "size", po::value<int>(), "m: chimera C(m,m,t), pegasus P(m), zephyr Z(m,t)")(
      "t", po::value<int>()->default_value(4), "shore size (chimera, zephyr)")(
      "full", po::bool_switch(), "pegasus: the full graph, not only the fabric")(
      "scheme", po::value<std::string>()->default_value(""),
      "region | four_color | checkerboard (default: by topology)")("nodes-per-partition", po::value<int>(),
                                                                   "select this many nodes per partition")(
      "missing-qubits", po::value<std::string>(),
      "yield file: one missing qubit 'q' or missing coupler 'u v' per line (# comments)");
}

int run_graph(Context& context) {
  CommandLine cli("graph",
                  "qvae graph --topology {chimera,pegasus,zephyr} --size M [--t T] [--full] [--scheme S]\n"
                  "       [--nodes-per-partition n] [--missing-qubits FILE] [--json]",
                  "Builds a D-Wave hardware graph with dwave-networkx's linear qubit indices and prints its\n"
                  "size and degrees.  With --nodes-per-partition it also selects the partitions of the\n"
                  "Boltzmann machine (n nodes each; 4 for pegasus and zephyr, 2 for chimera) and counts the\n"
                  "couplers between them.  Schemes: region (pegasus default: the nice-coordinate region of\n"
                  "the reference models), four_color (pegasus, zephyr default), checkerboard (chimera).\n"
                  "JSON keys: topology, graph, nodes, edges, max_degree, degree_histogram; with\n"
                  "--nodes-per-partition also scheme, partition_sizes, pair_couplers, couplers.");
  declare_graph_options(cli.options());
  if (!cli.parse(context)) return 0;
  const po::variables_map& values = cli.values();

  graph::SelectionRequest request;
  std::optional<graph::Graph> hardware;
  std::optional<graph::PartitionedGraph> selection;
  std::string scheme_name;
  par::run_agreed(context.world, [&] {
    if (!values.count("topology") || !values.count("size"))
      throw core::UsageError(core::describe("--topology and --size are required", "qvae graph",
                                            "e.g. qvae graph --topology pegasus --size 16"));
    request.topology = values["topology"].as<std::string>();
    request.size = values["size"].as<int>();
    request.t = values["t"].as<int>();
    request.full = values["full"].as<bool>();
    request.scheme = values["scheme"].as<std::string>();
    const graph::Topology topology = graph::parse_topology(request.topology);
    if (request.full && topology != graph::Topology::pegasus)
      throw core::UsageError(core::describe("--full applies to pegasus only", "qvae graph", "drop --full"));
    scheme_name = graph::to_string(graph::parse_scheme(request.scheme, topology));
    if (values.count("missing-qubits")) {
      graph::Yield yield = graph::read_yield_file(values["missing-qubits"].as<std::string>());
      request.missing_qubits = std::move(yield.missing_qubits);
      request.missing_couplers = std::move(yield.missing_couplers);
    }
    hardware.emplace(graph::build_graph(request));
    if (values.count("nodes-per-partition")) {
      request.nodes_per_partition = values["nodes-per-partition"].as<int>();
      selection.emplace(graph::select_partitioned(request));
    }
  });

  const std::map<int, std::int64_t> histogram = hardware->degree_histogram();
  nlohmann::json summary = {
      {"topology", request.topology},
      {"graph", hardware->shape().describe()},
      {"nodes", hardware->num_nodes()},
      {"edges", hardware->num_edges()},
      {"max_degree", hardware->max_degree()},
      {"missing_qubits", request.missing_qubits.size()},
      {"missing_couplers", request.missing_couplers.size()},
  };
  nlohmann::json histogram_json = nlohmann::json::object();
  for (const auto& [degree, count] : histogram) histogram_json[std::to_string(degree)] = count;
  summary["degree_histogram"] = histogram_json;
  if (selection) {
    summary["scheme"] = scheme_name;
    summary["nodes_per_partition"] = request.nodes_per_partition;
    summary["partition_sizes"] = graph::partition_sizes(*selection);
    summary["pair_couplers"] = graph::pair_coupler_counts(*selection);
    summary["couplers"] = selection->couplers.size();
  }

  if (cli.json()) {
    core::print_json_summary(summary, context.world.is_root());
  } else if (context.world.is_root()) {
    std::fprintf(stderr, "%s: %lld nodes, %lld edges, max degree %d\n", hardware->shape().describe().c_str(),
                 static_cast<long long>(hardware->num_nodes()), static_cast<long long>(hardware->num_edges()),
                 hardware->max_degree());
    std::fprintf(stderr, "  degree histogram (degree:count) %s\n", histogram_text(histogram).c_str());
    if (!request.missing_qubits.empty() || !request.missing_couplers.empty())
      std::fprintf(stderr, "  yield: %zu missing qubits, %zu missing couplers removed\n", request.missing_qubits.size(),
                   request.missing_couplers.size());
    if (selection) {
      std::string sizes, pairs;
      for (const std::int64_t size : graph::partition_sizes(*selection)) sizes += " " + std::to_string(size);
      for (const auto& [pair, count] : graph::pair_coupler_counts(*selection))
        pairs += " " + pair + ":" + std::to_string(count);
      std::fprintf(stderr, "  %s scheme: partition sizes%s; couplers %zu (per pair%s)\n", scheme_name.c_str(),
                   sizes.c_str(), selection->couplers.size(), pairs.c_str());
    }
  }
  return 0;
}

}  // namespace qvae::cli
