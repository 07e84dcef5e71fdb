// Selection of K partitions × n nodes from a hardware graph (docs/rbm.md,
// "Colourings and the partition selection"), with the reference implementation's bugs fixed: every partition
// is checked for completeness, nice coordinates never alias, and couplers are
// assigned to partitions by node, never by position.
#include "qvae/graph/partitioned_graph.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"

namespace qvae::graph {

namespace {

bool defined_for(ColourScheme scheme, Topology topology) {
  switch (scheme) {
    case ColourScheme::region:
      return topology == Topology::pegasus;
    case ColourScheme::four_color:
      return topology == Topology::pegasus || topology == Topology::zephyr;
    case ColourScheme::checkerboard:
      return topology == Topology::chimera;
  }
  return false;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::int64_t ceil_sqrt(std::int64_t x) {
  std::int64_t r = 0;
  while (r * r < x) ++r;
  return r;
}

void check_label(std::int64_t q, const GraphShape& shape, const std::string& what) {
  const std::int64_t range = shape.index_range();
  if (q < 0 || q >= range)
    throw core::InputError(core::describe(
        what + " is not a qubit of " + shape.describe() + " (linear indices 0.." + std::to_string(range - 1) + ")",
        "yield list", "check that it was written for this topology and size"));
}

/// The region-scheme loop of the reference: cells in itertools.product(rows 0..R, cols 0..C-1, layers
/// 0..2) order starting at the nice origin; in each cell the partitions in the
/// reference's order 0, 2, 1, 3, each taking its qubits in increasing nice k.
/// Unlike the reference it skips cells outside the nice region (which alias
/// onto other qubits there) and stops only when *every* partition is full.
void select_nice_region(const Graph& graph, int nodes_per_partition, std::vector<std::vector<std::int64_t>>& members) {
  const RegionGrid grid = nice_region_grid(nodes_per_partition);
  const int m = graph.shape().m;
  const PegasusCoordinates coords(m);
  const std::size_t wanted = static_cast<std::size_t>(nodes_per_partition);
  static constexpr std::array<int, 4> partition_order{0, 2, 1, 3};
  auto all_full = [&] {
    return std::all_of(members.begin(), members.end(), [&](const auto& list) { return list.size() >= wanted; });
  };
  auto take_cell = [&](int row, int col, int layer) {
    for (const int p : partition_order) {
      const int u = p % 2 == 0 ? 1 : 0;  // P0/P2 horizontal, P1/P3 vertical
      for (int k = 0; k < 4; ++k) {
        const NiceCoord nice{layer, col, row, u, k};  // (t, y, x, u, k) = (layer, col, row, side, index)
        if (nice_region_color(nice) != p) continue;
        const std::int64_t q = coords.nice_to_linear(nice);
        if (graph.has_node(q)) members[static_cast<std::size_t>(p)].push_back(q);  // dead qubits are skipped
      }
    }
  };
  // Rows 0..grid.rows (one extra row, for dead qubits), clipped to the nice
  // region of this chip: beyond x, y = m-2 nice coordinates would alias.
  const int last_row = std::min(grid.rows, m - 2), col_end = std::min(grid.cols, m - 1);
  [&] {
    for (int row = 0; row <= last_row; ++row)
      for (int col = 0; col < col_end; ++col)
        for (int layer = 0; layer < 3; ++layer) {
          take_cell(row, col, layer);
          if (all_full()) return;
        }
  }();
  for (auto& list : members)
    if (list.size() > wanted) list.resize(wanted);  // the first n in region order
}

/// First n nodes of each class in graph (linear index) order.
void select_by_colour(const Graph& graph, ColourScheme scheme, int nodes_per_partition,
                      std::vector<std::vector<std::int64_t>>& members) {
  const std::vector<int> classes = colour_nodes(graph, scheme);
  const std::size_t wanted = static_cast<std::size_t>(nodes_per_partition);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i] < 0) continue;
    auto& list = members[static_cast<std::size_t>(classes[i])];
    if (list.size() < wanted) list.push_back(graph.nodes()[i]);
  }
}

std::string join_sizes(const std::vector<std::vector<std::int64_t>>& members) {
  std::string out;
  for (const auto& list : members) out += (out.empty() ? "" : ", ") + std::to_string(list.size());
  return out;
}

}  // namespace

ColourScheme default_scheme(Topology topology) {
  switch (topology) {
    case Topology::pegasus:
      return ColourScheme::region;
    case Topology::zephyr:
      return ColourScheme::four_color;
    case Topology::chimera:
      return ColourScheme::checkerboard;
  }
  return ColourScheme::region;
}

ColourScheme parse_scheme(const std::string& name, Topology topology) {
  if (name.empty() || name == "default") return default_scheme(topology);
  const ColourScheme scheme = core::parse_choice(
      name, {ColourScheme::region, ColourScheme::four_color, ColourScheme::checkerboard}, "--scheme");
  if (!defined_for(scheme, topology))
    throw core::UsageError(core::describe("scheme " + name + " is not defined for " + to_string(topology), "--scheme",
                                          "use " + to_string(default_scheme(topology)) +
                                              (topology == Topology::pegasus ? " or four_color" : "") + " for " +
                                              to_string(topology)));
  return scheme;
}

Graph build_graph(const SelectionRequest& request) {
  GraphShape shape;
  shape.topology = parse_topology(request.topology);
  shape.m = shape.n = request.size;
  shape.t = shape.topology == Topology::pegasus ? 12 : request.t;
  shape.fabric_only = !request.full;
  Graph graph = make_graph(shape);
  if (request.missing_qubits.empty() && request.missing_couplers.empty()) return graph;
  for (const std::int64_t q : request.missing_qubits)
    check_label(q, graph.shape(), "missing qubit " + std::to_string(q));
  for (const auto& c : request.missing_couplers) {
    const std::string name = "missing coupler (" + std::to_string(c.first) + ", " + std::to_string(c.second) + ")";
    check_label(c.first, graph.shape(), name);
    check_label(c.second, graph.shape(), name);
    if (c.first == c.second)
      throw core::InputError(
          core::describe(name + " joins a qubit to itself", "yield list", "list couplers as two qubits"));
  }
  return graph.without(request.missing_qubits, request.missing_couplers);
}

RegionGrid nice_region_grid(int nodes_per_partition) {
  const std::int64_t nodes = 4 * static_cast<std::int64_t>(std::max(nodes_per_partition, 0));
  const std::int64_t cells = ceil_div(nodes, 8);  // 8 qubits per nice cell (2 per partition)
  const std::int64_t per_layer = ceil_div(cells, 3);
  const int side = static_cast<int>(ceil_sqrt(per_layer));
  return {side, side};
}

PartitionedGraph select_partitioned(const SelectionRequest& request) {
  if (request.nodes_per_partition < 1)
    throw core::UsageError(
        core::describe("nodes per partition must be >= 1 (got " + std::to_string(request.nodes_per_partition) + ")",
                       "--nodes-per-partition"));
  const Topology topology = parse_topology(request.topology);
  const ColourScheme scheme = parse_scheme(request.scheme, topology);
  const Graph graph = build_graph(request);
  const int classes = num_classes(scheme);
  const int n = request.nodes_per_partition;

  std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(classes));
  if (scheme == ColourScheme::region)
    select_nice_region(graph, n, members);
  else
    select_by_colour(graph, scheme, n, members);

  std::string yield_note;
  if (!request.missing_qubits.empty() || !request.missing_couplers.empty())
    yield_note = ", yield: " + std::to_string(request.missing_qubits.size()) + " missing qubits, " +
                 std::to_string(request.missing_couplers.size()) + " missing couplers";
  const std::string where = graph.shape().describe() + ", " + to_string(scheme) + " scheme" + yield_note;
  for (std::size_t p = 0; p < members.size(); ++p)
    if (members[p].size() < static_cast<std::size_t>(n))
      throw core::UsageError(core::describe("partition " + std::to_string(p) + " reached only " +
                                                std::to_string(members[p].size()) + " of " + std::to_string(n) +
                                                " nodes (partitions reached " + join_sizes(members) + ")",
                                            where, "use fewer --nodes-per-partition or a bigger --size"));

  PartitionedGraph out;
  out.topology = to_string(topology);
  out.partitions = classes;
  out.description = where + ", " + std::to_string(n) + " per partition";
  for (std::size_t p = 0; p < members.size(); ++p) {
    std::sort(members[p].begin(), members[p].end());  // by partition, then qubit
    for (const std::int64_t q : members[p]) {
      out.partition.push_back(static_cast<int>(p));
      out.qubits.push_back(q);
    }
  }
  std::vector<std::int64_t> node_of_qubit(static_cast<std::size_t>(graph.shape().index_range()), -1);
  for (std::size_t i = 0; i < out.qubits.size(); ++i)
    node_of_qubit[static_cast<std::size_t>(out.qubits[i])] = static_cast<std::int64_t>(i);
  for (std::size_t i = 0; i < out.qubits.size(); ++i)
    for (const std::int64_t neighbour : graph.neighbours(out.qubits[i])) {
      const std::int64_t j = node_of_qubit[static_cast<std::size_t>(neighbour)];
      if (j <= static_cast<std::int64_t>(i)) continue;  // not selected, or counted from the other end
      if (out.partition[i] == out.partition[static_cast<std::size_t>(j)])
        throw std::logic_error("select_partitioned: " + to_string(scheme) + " put both ends of coupler (" +
                               std::to_string(out.qubits[i]) + ", " + std::to_string(neighbour) + ") in one partition");
      out.couplers.emplace_back(static_cast<std::int64_t>(i), j);
    }
  std::sort(out.couplers.begin(), out.couplers.end());
  return out;
}

std::vector<std::int64_t> partition_sizes(const PartitionedGraph& selection) {
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(std::max(selection.partitions, 0)), 0);
  for (const int p : selection.partition)
    if (p >= 0 && p < selection.partitions) ++sizes[static_cast<std::size_t>(p)];
  return sizes;
}

std::map<std::string, std::int64_t> pair_coupler_counts(const PartitionedGraph& selection) {
  std::map<std::string, std::int64_t> counts;
  for (int p = 0; p < selection.partitions; ++p)
    for (int q = p + 1; q < selection.partitions; ++q) counts[std::to_string(p) + std::to_string(q)] = 0;
  for (const auto& c : selection.couplers) {
    int a = selection.partition[static_cast<std::size_t>(c.first)];
    int b = selection.partition[static_cast<std::size_t>(c.second)];
    if (a > b) std::swap(a, b);
    ++counts[std::to_string(a) + std::to_string(b)];
  }
  return counts;
}

}  // namespace qvae::graph
