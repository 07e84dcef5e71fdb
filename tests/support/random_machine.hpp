// Shared by the test suites: small random K-partite Boltzmann machines.
#pragma once

#include <cstdint>
#include <string>

#include "qvae/core/philox.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::testing {

/// How nodes are numbered: partition by partition, or round robin (node i in
/// partition i mod K, as hardware graphs interleave their partitions).
enum class NodeOrder { partition_major, interleaved };

/// K partitions × n nodes; each cross-partition pair is a coupler with
/// probability `density`; weights N(0, weight_sigma²), biases N(0, bias_sigma²);
/// no qubits.  Deterministic in `seed`.
inline rbm::BoltzmannMachine random_machine(int partitions, int nodes_per_partition, double density,
                                            double weight_sigma, double bias_sigma, std::uint64_t seed,
                                            NodeOrder order = NodeOrder::partition_major) {
  graph::PartitionedGraph graph;
  graph.topology = "test";
  graph.description = "random " + std::to_string(partitions) + "x" + std::to_string(nodes_per_partition);
  graph.partitions = partitions;
  const int n = partitions * nodes_per_partition;
  for (int i = 0; i < n; ++i)
    graph.partition.push_back(order == NodeOrder::partition_major ? i / nodes_per_partition : i % partitions);
  core::Philox pick(seed, 1);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (graph.partition[i] != graph.partition[j] && pick.uniform() < density) graph.couplers.push_back({i, j});
  rbm::BoltzmannMachine machine(graph);
  core::Philox values(seed, 2);
  for (int i = 0; i < n; ++i) machine.biases()[i] = bias_sigma * values.normal();
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] = weight_sigma * values.normal();
  return machine;
}

}  // namespace qvae::testing
