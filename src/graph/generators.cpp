// Generators of Chimera, Pegasus and Zephyr graphs, edge rule for edge rule
// as in dwave-networkx 0.8.18 (docs/rbm.md, "Hardware graphs").  Each emits its edge
// list once and lets Graph sort it: P16 takes a few milliseconds.
#include <algorithm>
#include <array>

#include "qvae/core/error.hpp"
#include "qvae/graph/graph.hpp"

namespace qvae::graph {

namespace {

using Edge = Graph::Edge;

// Beyond this a parameter is surely a typo; it also keeps index arithmetic
// far from int64 overflow.
constexpr int max_parameter = 100000;
// Bounds the memory a graph takes (CSR by linear index).
constexpr std::int64_t max_index_range = std::int64_t{1} << 27;

void require(bool ok, const std::string& what, const std::string& remedy) {
  if (!ok) throw core::UsageError(core::describe(what, "graph generator", remedy));
}

void check_size(const GraphShape& shape) {
  const std::string name = to_string(shape.topology);
  require(shape.m <= max_parameter && shape.n <= max_parameter && shape.t <= max_parameter,
          name + " size parameter too large", "use sizes below " + std::to_string(max_parameter));
  require(shape.index_range() <= max_index_range,
          shape.describe() + " has " + std::to_string(shape.index_range()) + " qubits, too many for this tool",
          "use a smaller --size");
}

std::vector<std::int64_t> all_indices(std::int64_t range) {
  std::vector<std::int64_t> nodes(static_cast<std::size_t>(range));
  for (std::int64_t q = 0; q < range; ++q) nodes[static_cast<std::size_t>(q)] = q;
  return nodes;
}

}  // namespace

Graph chimera_graph(int m, int n, int t) {
  require(m >= 1 && n >= 1,
          "chimera needs m >= 1 and n >= 1 (got m=" + std::to_string(m) + ", n=" + std::to_string(n) + ")",
          "use --size 1 or more");
  require(t >= 1, "chimera needs t >= 1 (got " + std::to_string(t) + ")", "use --t 1 or more");
  const GraphShape shape{Topology::chimera, m, n, t, true};
  check_size(shape);
  const ChimeraCoordinates coords(m, n, t);
  auto q = [&](int i, int j, int u, int k) { return coords.to_linear({i, j, u, k}); };
  std::vector<Edge> edges;
  edges.reserve(static_cast<std::size_t>(std::int64_t{t} * (t + 2) * m * n));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      for (int k0 = 0; k0 < t; ++k0)  // K_{t,t} inside the cell
        for (int k1 = 0; k1 < t; ++k1) edges.emplace_back(q(i, j, 0, k0), q(i, j, 1, k1));
      for (int k = 0; k < t; ++k) {
        if (j + 1 < n) edges.emplace_back(q(i, j, 1, k), q(i, j + 1, 1, k));  // horizontal shore: along the row
        if (i + 1 < m) edges.emplace_back(q(i, j, 0, k), q(i + 1, j, 0, k));  // vertical shore: along the column
      }
    }
  return Graph(shape, all_indices(shape.index_range()), std::move(edges));
}

Graph pegasus_graph(int m, bool fabric_only) {
  require(m >= 2, "pegasus needs m >= 2 (got " + std::to_string(m) + ")", "use --size 2 or more");
  const GraphShape shape{Topology::pegasus, m, m, 12, fabric_only};  // t: the tile size
  check_size(shape);
  // offsets_index 0: S0 for vertical qubits, S1 for horizontal ones.
  static constexpr std::array<int, 12> vertical_offsets{2, 2, 2, 2, 10, 10, 10, 10, 6, 6, 6, 6};
  static constexpr std::array<int, 12> horizontal_offsets{6, 6, 6, 6, 2, 2, 2, 2, 10, 10, 10, 10};
  // Fabric filter: the generator's fabric_start = (min S1, min S0) and
  // fabric_end = (12 - max S1, 12 - max S0), indexed by orientation u.
  std::array<int, 2> fabric_start{0, 0}, fabric_end{0, 0};
  if (fabric_only) {
    fabric_start = {*std::min_element(horizontal_offsets.begin(), horizontal_offsets.end()),
                    *std::min_element(vertical_offsets.begin(), vertical_offsets.end())};
    fabric_end = {12 - *std::max_element(horizontal_offsets.begin(), horizontal_offsets.end()),
                  12 - *std::max_element(vertical_offsets.begin(), vertical_offsets.end())};
  }
  auto in_fabric = [&](const PegasusCoord& c) {
    if (c.w == 0 && c.k < fabric_start[static_cast<std::size_t>(c.u)]) return false;
    if (c.w == m - 1 && c.k >= 12 - fabric_end[static_cast<std::size_t>(c.u)]) return false;
    return true;
  };
  const PegasusCoordinates coords(m);
  std::vector<Edge> edges;
  edges.reserve(static_cast<std::size_t>(12 * (15 * std::int64_t{m - 1} * (m - 1) + m)));
  auto add = [&](const PegasusCoord& a, const PegasusCoord& b) {
    if (in_fabric(a) && in_fabric(b)) edges.emplace_back(coords.to_linear(a), coords.to_linear(b));
  };
  for (int u = 0; u < 2; ++u)
    for (int w = 0; w < m; ++w)
      for (int k = 0; k < 12; ++k)
        for (int z = 0; z < m - 1; ++z) {
          if (z + 1 < m - 1) add({u, w, k, z}, {u, w, k, z + 1});  // external
          if (k % 2 == 0) add({u, w, k, z}, {u, w, k + 1, z});     // odd
        }
  // Internal: (0,w,k,z) ~ (1, z + [kk < S0[k]], kk, w − [k < S1[kk]]); the k
  // range keeps the horizontal qubit's z inside [0, m−1).
  for (int w = 0; w < m; ++w)
    for (int kk = 0; kk < 12; ++kk) {
      const int split = horizontal_offsets[static_cast<std::size_t>(kk)];
      const int k_begin = w == 0 ? split : 0;
      const int k_end = w < m - 1 ? 12 : split;
      for (int k = k_begin; k < k_end; ++k)
        for (int z = 0; z < m - 1; ++z)
          add({0, w, k, z},
              {1, z + (kk < vertical_offsets[static_cast<std::size_t>(k)] ? 1 : 0), kk, w - (k < split ? 1 : 0)});
    }
  // Nodes exist only through edges (dwave-networkx adds no others).
  std::vector<std::int64_t> nodes;
  nodes.reserve(2 * edges.size());
  for (const Edge& e : edges) nodes.push_back(e.first), nodes.push_back(e.second);
  return Graph(shape, std::move(nodes), std::move(edges));
}

Graph zephyr_graph(int m, int t) {
  require(m >= 1, "zephyr needs m >= 1 (got " + std::to_string(m) + ")", "use --size 1 or more");
  require(t >= 1, "zephyr needs t >= 1 (got " + std::to_string(t) + ")", "use --t 1 or more");
  const GraphShape shape{Topology::zephyr, m, m, t, true};
  check_size(shape);
  const ZephyrCoordinates coords(m, t);
  auto q = [&](int u, int w, int k, int j, int z) { return coords.to_linear({u, w, k, j, z}); };
  std::vector<Edge> edges;
  edges.reserve(static_cast<std::size_t>(2 * std::int64_t{t} * ((8 * std::int64_t{t} + 8) * m * m + 4)));
  for (int u = 0; u < 2; ++u)
    for (int w = 0; w < 2 * m + 1; ++w)
      for (int k = 0; k < t; ++k)
        for (int z = 0; z < m; ++z) {
          for (int j = 0; j < 2; ++j)
            if (z + 1 < m) edges.emplace_back(q(u, w, k, j, z), q(u, w, k, j, z + 1));  // external
          for (int a = 0; a < 2; ++a)
            if (z >= a) edges.emplace_back(q(u, w, k, 0, z), q(u, w, k, 1, z - a));  // odd
        }
  // Internal: (0, 2w+1+a(2i−1), k, j, z) ~ (1, 2z+1+b(2j−1), h, i, w).
  for (int w = 0; w < m; ++w)
    for (int z = 0; z < m; ++z)
      for (int h = 0; h < t; ++h)
        for (int k = 0; k < t; ++k)
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j)
              for (int a = 0; a < 2; ++a)
                for (int b = 0; b < 2; ++b)
                  edges.emplace_back(q(0, 2 * w + 1 + a * (2 * i - 1), k, j, z),
                                     q(1, 2 * z + 1 + b * (2 * j - 1), h, i, w));
  return Graph(shape, all_indices(shape.index_range()), std::move(edges));
}

Graph make_graph(const GraphShape& shape) {
  switch (shape.topology) {
    case Topology::chimera:
      return chimera_graph(shape.m, shape.n, shape.t);
    case Topology::pegasus:
      return pegasus_graph(shape.m, shape.fabric_only);
    case Topology::zephyr:
      return zephyr_graph(shape.m, shape.t);
  }
  throw core::UsageError("unknown topology");
}

}  // namespace qvae::graph
