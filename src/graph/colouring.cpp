// Proper colourings of the hardware graphs (docs/rbm.md, "Colourings and the partition selection").
#include "qvae/core/error.hpp"
#include "qvae/graph/graph.hpp"

namespace qvae::graph {

int pegasus_four_color(const PegasusCoord& c) { return 2 * c.u + ((c.k ^ c.z) & 1); }

int zephyr_four_color(const ZephyrCoord& c) { return (2 * c.u + c.w + 2 * c.z + c.j) % 4; }

int nice_region_color(const NiceCoord& c) {
  // Odd couplers pair nice k (0,1) and (2,3), so {0,3} vs {1,2} splits them;
  // external couplers move x (horizontal) or y (vertical) by one, hence the parity.
  const int middle = (c.k == 1 || c.k == 2) ? 1 : 0;
  return c.u == 1 ? 2 * ((c.x + middle) % 2) : 1 + 2 * ((c.y + middle) % 2);
}

int chimera_checkerboard_color(const ChimeraCoord& c) { return (c.i + c.j + c.u) % 2; }

std::string to_string(ColourScheme scheme) {
  switch (scheme) {
    case ColourScheme::region:
      return "region";
    case ColourScheme::four_color:
      return "four_color";
    case ColourScheme::checkerboard:
      return "checkerboard";
  }
  return "unknown";
}

int num_classes(ColourScheme scheme) { return scheme == ColourScheme::checkerboard ? 2 : 4; }

std::vector<int> colour_nodes(const Graph& graph, ColourScheme scheme) {
  const GraphShape& shape = graph.shape();
  std::vector<int> classes;
  classes.reserve(graph.nodes().size());
  auto undefined = [&] {
    return core::UsageError(core::describe(
        "scheme " + to_string(scheme) + " is not defined for " + to_string(shape.topology), "graph colouring",
        "use region or four_color for pegasus, four_color for zephyr, "
        "checkerboard for chimera"));
  };
  switch (scheme) {
    case ColourScheme::region: {
      if (shape.topology != Topology::pegasus) throw undefined();
      const PegasusCoordinates coords(shape.m);
      for (const std::int64_t q : graph.nodes()) {
        const std::optional<NiceCoord> nice = coords.linear_to_nice(q);
        classes.push_back(nice ? nice_region_color(*nice) : -1);
      }
      break;
    }
    case ColourScheme::four_color: {
      if (shape.topology == Topology::pegasus) {
        const PegasusCoordinates coords(shape.m);
        for (const std::int64_t q : graph.nodes()) classes.push_back(pegasus_four_color(coords.from_linear(q)));
      } else if (shape.topology == Topology::zephyr) {
        const ZephyrCoordinates coords(shape.m, shape.t);
        for (const std::int64_t q : graph.nodes()) classes.push_back(zephyr_four_color(coords.from_linear(q)));
      } else {
        throw undefined();
      }
      break;
    }
    case ColourScheme::checkerboard: {
      if (shape.topology != Topology::chimera) throw undefined();
      const ChimeraCoordinates coords(shape.m, shape.n, shape.t);
      for (const std::int64_t q : graph.nodes()) classes.push_back(chimera_checkerboard_color(coords.from_linear(q)));
      break;
    }
  }
  return classes;
}

std::int64_t count_monochromatic_edges(const Graph& graph, const std::vector<int>& node_classes) {
  // node_classes follows graph.nodes(); look classes up by linear index.
  std::vector<int> class_of(static_cast<std::size_t>(graph.shape().index_range()), -1);
  for (std::size_t i = 0; i < graph.nodes().size() && i < node_classes.size(); ++i)
    class_of[static_cast<std::size_t>(graph.nodes()[i])] = node_classes[i];
  std::int64_t clashes = 0;
  for (const Graph::Edge& e : graph.edges()) {
    const int a = class_of[static_cast<std::size_t>(e.first)], b = class_of[static_cast<std::size_t>(e.second)];
    if (a >= 0 && a == b) ++clashes;
  }
  return clashes;
}

}  // namespace qvae::graph
