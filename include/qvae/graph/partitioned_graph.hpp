// The hand-off from the graph module to the Boltzmann machine: a K-partite
// selection of nodes of a hardware graph and the couplers between them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "qvae/graph/graph.hpp"

namespace qvae::graph {

/// K partitions of nodes (each an independent set of the hardware graph) and
/// the couplers that join nodes of different partitions.
struct PartitionedGraph {
  std::string topology;     ///< "pegasus", "zephyr", "chimera"
  std::string description;  ///< human summary, e.g. "pegasus m=16 fabric, region scheme, 302 per partition"
  int partitions = 4;
  /// Per node: its partition 0..K-1.  Nodes are ordered by partition, then by qubit.
  std::vector<int> partition;
  /// Per node: the hardware qubit (dwave-networkx linear index).
  std::vector<std::int64_t> qubits;
  /// Node-index pairs (i, j), i < j, partition[i] != partition[j], sorted.
  std::vector<std::pair<std::int64_t, std::int64_t>> couplers;

  std::int64_t num_nodes() const { return static_cast<std::int64_t>(partition.size()); }
};

/// What to select: a graph, a colouring scheme and n nodes per partition,
/// honouring a hardware yield (missing qubits and couplers).
struct SelectionRequest {
  std::string topology = "pegasus";  ///< chimera | pegasus | zephyr
  int size = 16;                     ///< m
  int t = 4;                         ///< shore size (chimera, zephyr)
  bool full = false;                 ///< pegasus: the full graph instead of fabric-only
  int nodes_per_partition = 0;
  /// "region" (the nice-coordinate region of docs/rbm.md, the default for
  /// pegasus), "four_color" (dnx.pegasus_four_color / zephyr_four_color scheme 1),
  /// or "checkerboard" (chimera, 2 partitions).
  std::string scheme = "region";
  std::vector<std::int64_t> missing_qubits;
  std::vector<std::pair<std::int64_t, std::int64_t>> missing_couplers;
};

/// Builds the graph and selects the partitions.  A partition that cannot reach
/// nodes_per_partition (graph too small, too many missing qubits) is a
/// core::UsageError naming the partition, how many it reached and what to change.
PartitionedGraph select_partitioned(const SelectionRequest& request);

// ---------------------------------------------------------------------------
// Helpers around the selection (additions; the declarations above are the contract).

/// The scheme a topology uses when none is named: region (pegasus),
/// four_color (zephyr), checkerboard (chimera).
ColourScheme default_scheme(Topology topology);
/// Parses request.scheme for a topology: "" or "default" gives default_scheme();
/// a name that is unknown or not defined for the topology is a core::UsageError.
ColourScheme parse_scheme(const std::string& name, Topology topology);

/// The graph a request describes (topology, size, t, full), with its yield
/// applied.  core::UsageError for a bad size, core::InputError for a missing
/// qubit or coupler outside the family's linear indices.
Graph build_graph(const SelectionRequest& request);

/// The nice-region grid (docs/rbm.md) for K = 4 partitions of n nodes:
/// cells = ⌈4n/8⌉, per layer = ⌈cells/3⌉, rows = cols = ⌈√per_layer⌉.
/// The selection loop visits rows 0..rows (one extra row for dead qubits).
struct RegionGrid {
  int rows = 0;
  int cols = 0;
};
RegionGrid nice_region_grid(int nodes_per_partition);

/// Number of nodes in each partition 0..K-1.
std::vector<std::int64_t> partition_sizes(const PartitionedGraph& selection);
/// Couplers per partition pair, keyed "01", "02", ... (lower partition first);
/// every pair p < q of the K partitions has a key, with 0 where none.
std::map<std::string, std::int64_t> pair_coupler_counts(const PartitionedGraph& selection);

}  // namespace qvae::graph
