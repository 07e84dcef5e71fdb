// D-Wave hardware graphs (Chimera, Pegasus, Zephyr) with dwave-networkx 0.8.18's
// linear qubit indices, their coordinate systems and their proper colourings.
// Science: docs/rbm.md, "Hardware graphs" and "Colourings and the partition selection".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qvae::graph {

enum class Topology { chimera, pegasus, zephyr };

/// "chimera", "pegasus", "zephyr".
std::string to_string(Topology topology);
/// Parses a topology name; core::UsageError naming the valid ones otherwise.
Topology parse_topology(const std::string& name);

/// Which member of a family: the generator's parameters.
struct GraphShape {
  Topology topology = Topology::pegasus;
  int m = 16;               ///< rows (chimera), size parameter (pegasus, zephyr)
  int n = 16;               ///< columns (chimera only)
  int t = 4;                ///< shore size (chimera, zephyr); 12, the tile, for pegasus
  bool fabric_only = true;  ///< pegasus only: drop the disconnected boundary qubits

  /// How many linear indices the family uses (node labels lie in [0, index_range())).
  std::int64_t index_range() const;
  /// e.g. "pegasus m=16 fabric", "zephyr m=6 t=4", "chimera m=16 n=16 t=4".
  std::string describe() const;
};

/// An undirected simple graph on linear qubit indices: sorted nodes, sorted
/// edges (u < v) and a compressed adjacency for fast neighbour queries.
class Graph {
 public:
  using Edge = std::pair<std::int64_t, std::int64_t>;

  /// A contiguous, sorted run of neighbour indices.
  struct Neighbours {
    const std::int64_t* first;
    const std::int64_t* last;
    const std::int64_t* begin() const { return first; }
    const std::int64_t* end() const { return last; }
    std::size_t size() const { return static_cast<std::size_t>(last - first); }
  };

  /// Nodes and edges in any order; edges are normalised to u < v and
  /// deduplicated.  Throws std::invalid_argument for a label outside
  /// [0, shape.index_range()), a self-loop or an edge to a node not listed.
  Graph(GraphShape shape, std::vector<std::int64_t> nodes, std::vector<Edge> edges);

  const GraphShape& shape() const { return shape_; }
  Topology topology() const { return shape_.topology; }
  const std::vector<std::int64_t>& nodes() const { return nodes_; }
  const std::vector<Edge>& edges() const { return edges_; }
  std::int64_t num_nodes() const { return static_cast<std::int64_t>(nodes_.size()); }
  std::int64_t num_edges() const { return static_cast<std::int64_t>(edges_.size()); }

  bool has_node(std::int64_t q) const;
  bool has_edge(std::int64_t a, std::int64_t b) const;
  /// Sorted neighbours of q (empty when q is not a node).
  Neighbours neighbours(std::int64_t q) const;
  int degree(std::int64_t q) const { return static_cast<int>(neighbours(q).size()); }
  int max_degree() const;
  /// degree -> number of nodes with that degree.
  std::map<int, std::int64_t> degree_histogram() const;

  /// The same graph with a hardware yield applied: the missing qubits (and
  /// every coupler touching them) and the missing couplers removed.  Labels
  /// that are not nodes / edges of this graph are ignored.
  Graph without(const std::vector<std::int64_t>& missing_qubits, const std::vector<Edge>& missing_couplers) const;

 private:
  GraphShape shape_;
  std::vector<std::int64_t> nodes_;
  std::vector<Edge> edges_;
  std::vector<char> present_;                  // by linear index
  std::vector<std::int64_t> adjacency_start_;  // CSR by linear index, size index_range + 1
  std::vector<std::int64_t> adjacency_;
};

// ---------------------------------------------------------------------------
// Generators.  Invalid sizes are a core::UsageError.

/// Chimera C(m, n, t): m rows and n columns of K_{t,t} cells.
Graph chimera_graph(int m, int n, int t = 4);
/// Pegasus P(m) with offsets_index 0; fabric_only drops the qubits
/// outside the main connected component, like dwave-networkx's default.
Graph pegasus_graph(int m, bool fabric_only = true);
/// Zephyr Z(m, t).
Graph zephyr_graph(int m, int t = 4);
/// Dispatches on shape.topology.
Graph make_graph(const GraphShape& shape);

// ---------------------------------------------------------------------------
// Coordinates.  Each converter checks nothing on the hot path; `contains`
// says whether a coordinate lies inside the family.

/// (i, j, u, k): cell row i < m, cell column j < n, shore u, index k < t.
struct ChimeraCoord {
  int i = 0, j = 0, u = 0, k = 0;
  bool operator==(const ChimeraCoord& o) const { return i == o.i && j == o.j && u == o.u && k == o.k; }
};

/// (u, w, k, z): orientation u (0 vertical, 1 horizontal), w < m, k < 12, z < m-1.
struct PegasusCoord {
  int u = 0, w = 0, k = 0, z = 0;
  bool operator==(const PegasusCoord& o) const { return u == o.u && w == o.w && k == o.k && z == o.z; }
};

/// Nice coordinates (t, y, x, u, k): t < 3, y, x < m-1, u < 2, k < 4.
struct NiceCoord {
  int t = 0, y = 0, x = 0, u = 0, k = 0;
  bool operator==(const NiceCoord& o) const { return t == o.t && y == o.y && x == o.x && u == o.u && k == o.k; }
};

/// (u, w, k, j, z): u < 2, w < 2m+1, k < t, j < 2, z < m.
struct ZephyrCoord {
  int u = 0, w = 0, k = 0, j = 0, z = 0;
  bool operator==(const ZephyrCoord& o) const { return u == o.u && w == o.w && k == o.k && j == o.j && z == o.z; }
};

class ChimeraCoordinates {
 public:
  ChimeraCoordinates(int m, int n, int t) : m_(m), n_(n), t_(t) {}
  /// q = i·n·2t + j·2t + u·t + k
  std::int64_t to_linear(const ChimeraCoord& c) const;
  ChimeraCoord from_linear(std::int64_t q) const;
  bool contains(const ChimeraCoord& c) const;

 private:
  int m_, n_, t_;
};

class PegasusCoordinates {
 public:
  explicit PegasusCoordinates(int m) : m_(m) {}
  /// q = ((m·u + w)·12 + k)·(m−1) + z
  std::int64_t to_linear(const PegasusCoord& c) const;
  PegasusCoord from_linear(std::int64_t q) const;
  bool contains(const PegasusCoord& c) const;

  /// dwave-networkx nice_to_pegasus; meaningful when contains(nice).
  static PegasusCoord nice_to_pegasus(const NiceCoord& nice);
  /// The nice coordinate of a Pegasus coordinate, or none when the qubit lies
  /// outside the nice region (the 24(m−1)² qubits nice coordinates cover).
  std::optional<NiceCoord> pegasus_to_nice(const PegasusCoord& c) const;
  /// Throws std::out_of_range for a nice coordinate outside the family (rather
  /// than aliasing onto another qubit, which dwave-networkx does silently).
  std::int64_t nice_to_linear(const NiceCoord& nice) const;
  std::optional<NiceCoord> linear_to_nice(std::int64_t q) const;
  bool contains(const NiceCoord& nice) const;

 private:
  int m_;
};

class ZephyrCoordinates {
 public:
  ZephyrCoordinates(int m, int t) : m_(m), t_(t) {}
  /// q = (((u(2m+1) + w)t + k)·2 + j)·m + z
  std::int64_t to_linear(const ZephyrCoord& c) const;
  ZephyrCoord from_linear(std::int64_t q) const;
  bool contains(const ZephyrCoord& c) const;

 private:
  int m_, t_;
};

// ---------------------------------------------------------------------------
// Colourings: each maps a qubit to a class so that no edge joins two qubits
// of one class (tests check every one of them on whole graphs).

/// dnx.pegasus_four_color: 2u + ((k xor z) & 1).
int pegasus_four_color(const PegasusCoord& c);
/// dnx.zephyr_four_color scheme 1: (2u + w + 2z + j) mod 4.
int zephyr_four_color(const ZephyrCoord& c);
/// The nice-region partition of the old PegasusRBM (the reference models):
/// 2·((x + [k∈{1,2}]) mod 2) for u = 1, 1 + 2·((y + [k∈{1,2}]) mod 2) for u = 0.
int nice_region_color(const NiceCoord& c);
/// Chimera checkerboard (old ChimeraRBM): cells with i + j even put
/// shore u = 0 in class 0, odd cells swap, i.e. (i + j + u) mod 2.
int chimera_checkerboard_color(const ChimeraCoord& c);

/// The colouring schemes select_partitioned() knows.
enum class ColourScheme { region, four_color, checkerboard };
std::string to_string(ColourScheme scheme);
/// Number of classes of a scheme (4, except checkerboard: 2).
int num_classes(ColourScheme scheme);

/// Per node of `graph` (in graph.nodes() order) its class under `scheme`, or
/// −1 where the scheme gives none (region: qubits outside the nice region).
/// core::UsageError when the scheme is not defined for the graph's topology.
std::vector<int> colour_nodes(const Graph& graph, ColourScheme scheme);

/// Number of edges whose two ends have the same class (≥ 0) — 0 for a proper
/// colouring.  Nodes with class −1 are ignored.
std::int64_t count_monochromatic_edges(const Graph& graph, const std::vector<int>& node_classes);

}  // namespace qvae::graph
