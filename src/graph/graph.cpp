// The Graph container: sorted nodes and edges plus a CSR adjacency by linear index.
#include "qvae/graph/graph.hpp"

#include <algorithm>
#include <stdexcept>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"

namespace qvae::graph {

std::string to_string(Topology topology) {
  switch (topology) {
    case Topology::chimera:
      return "chimera";
    case Topology::pegasus:
      return "pegasus";
    case Topology::zephyr:
      return "zephyr";
  }
  return "unknown";
}

Topology parse_topology(const std::string& name) {
  return core::parse_choice(name, {Topology::chimera, Topology::pegasus, Topology::zephyr}, "--topology");
}

std::int64_t GraphShape::index_range() const {
  const std::int64_t big_m = m;
  switch (topology) {
    case Topology::chimera:
      return 2 * big_m * n * t;
    case Topology::pegasus:
      return 24 * big_m * (big_m - 1);
    case Topology::zephyr:
      return 4 * static_cast<std::int64_t>(t) * big_m * (2 * big_m + 1);
  }
  return 0;
}

std::string GraphShape::describe() const {
  switch (topology) {
    case Topology::chimera:
      return "chimera m=" + std::to_string(m) + " n=" + std::to_string(n) + " t=" + std::to_string(t);
    case Topology::pegasus:
      return "pegasus m=" + std::to_string(m) + (fabric_only ? " fabric" : " full");
    case Topology::zephyr:
      return "zephyr m=" + std::to_string(m) + " t=" + std::to_string(t);
  }
  return "unknown";
}

Graph::Graph(GraphShape shape, std::vector<std::int64_t> nodes, std::vector<Edge> edges)
    : shape_(shape), nodes_(std::move(nodes)), edges_(std::move(edges)) {
  const std::int64_t range = shape_.index_range();
  std::sort(nodes_.begin(), nodes_.end());
  nodes_.erase(std::unique(nodes_.begin(), nodes_.end()), nodes_.end());
  if (!nodes_.empty() && (nodes_.front() < 0 || nodes_.back() >= range))
    throw std::invalid_argument("Graph: node label outside [0, " + std::to_string(range) + ") of " + shape_.describe());
  present_.assign(static_cast<std::size_t>(range), 0);
  for (const std::int64_t q : nodes_) present_[static_cast<std::size_t>(q)] = 1;

  for (Edge& e : edges_) {
    if (e.first > e.second) std::swap(e.first, e.second);
    if (e.first == e.second) throw std::invalid_argument("Graph: self-loop at " + std::to_string(e.first));
    if (!has_node(e.first) || !has_node(e.second))
      throw std::invalid_argument("Graph: edge (" + std::to_string(e.first) + ", " + std::to_string(e.second) +
                                  ") joins a node that is not in the node list");
  }
  std::sort(edges_.begin(), edges_.end());
  edges_.erase(std::unique(edges_.begin(), edges_.end()), edges_.end());

  // CSR: count, prefix-sum, fill.  Filling from sorted edges keeps every
  // neighbour run sorted: first the smaller neighbours (as e.second's), then
  // the larger ones (as e.first's) — see the two passes below.
  adjacency_start_.assign(static_cast<std::size_t>(range) + 1, 0);
  for (const Edge& e : edges_) {
    ++adjacency_start_[static_cast<std::size_t>(e.first) + 1];
    ++adjacency_start_[static_cast<std::size_t>(e.second) + 1];
  }
  for (std::size_t i = 1; i < adjacency_start_.size(); ++i) adjacency_start_[i] += adjacency_start_[i - 1];
  adjacency_.resize(2 * edges_.size());
  std::vector<std::int64_t> fill(adjacency_start_.begin(), adjacency_start_.end() - 1);
  // Pass 1: for node v, neighbours u < v, in increasing u (edges sorted by first).
  for (const Edge& e : edges_)
    adjacency_[static_cast<std::size_t>(fill[static_cast<std::size_t>(e.second)]++)] = e.first;
  // Pass 2: for node u, neighbours v > u, in increasing v (sorted by second within first).
  for (const Edge& e : edges_)
    adjacency_[static_cast<std::size_t>(fill[static_cast<std::size_t>(e.first)]++)] = e.second;
}

bool Graph::has_node(std::int64_t q) const {
  return q >= 0 && q < static_cast<std::int64_t>(present_.size()) && present_[static_cast<std::size_t>(q)];
}

Graph::Neighbours Graph::neighbours(std::int64_t q) const {
  if (!has_node(q)) return {nullptr, nullptr};
  const std::int64_t* base = adjacency_.data();
  return {base + adjacency_start_[static_cast<std::size_t>(q)],
          base + adjacency_start_[static_cast<std::size_t>(q) + 1]};
}

bool Graph::has_edge(std::int64_t a, std::int64_t b) const {
  const Neighbours around = neighbours(a);
  return std::binary_search(around.begin(), around.end(), b);
}

int Graph::max_degree() const {
  int best = 0;
  for (const std::int64_t q : nodes_) best = std::max(best, degree(q));
  return best;
}

std::map<int, std::int64_t> Graph::degree_histogram() const {
  std::map<int, std::int64_t> histogram;
  for (const std::int64_t q : nodes_) ++histogram[degree(q)];
  return histogram;
}

Graph Graph::without(const std::vector<std::int64_t>& missing_qubits, const std::vector<Edge>& missing_couplers) const {
  std::vector<char> dead(present_.size(), 0);
  for (const std::int64_t q : missing_qubits)
    if (has_node(q)) dead[static_cast<std::size_t>(q)] = 1;
  std::vector<Edge> cut;
  cut.reserve(missing_couplers.size());
  for (const Edge& e : missing_couplers) cut.push_back(e.first < e.second ? e : Edge{e.second, e.first});
  std::sort(cut.begin(), cut.end());

  std::vector<std::int64_t> kept_nodes;
  kept_nodes.reserve(nodes_.size());
  for (const std::int64_t q : nodes_)
    if (!dead[static_cast<std::size_t>(q)]) kept_nodes.push_back(q);
  std::vector<Edge> kept_edges;
  kept_edges.reserve(edges_.size());
  for (const Edge& e : edges_) {
    if (dead[static_cast<std::size_t>(e.first)] || dead[static_cast<std::size_t>(e.second)]) continue;
    if (std::binary_search(cut.begin(), cut.end(), e)) continue;
    kept_edges.push_back(e);
  }
  return Graph(shape_, std::move(kept_nodes), std::move(kept_edges));
}

}  // namespace qvae::graph
