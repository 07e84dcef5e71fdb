// Hardware graphs against dwave-networkx 0.8.18's edge lists and the closed
// forms of docs/rbm.md; colourings (the partition selections: test_selection.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <unistd.h>

#include "qvae/core/error.hpp"
#include "qvae/graph/graph.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/graph/yield.hpp"

namespace qvae::graph {
namespace {

namespace fs = std::filesystem;
using Edge = Graph::Edge;

// ---------------------------------------------------------------------------
// Reference edge lists

struct ReferenceList {
  GraphShape shape;
  std::int64_t header_nodes = -1;
  std::int64_t header_edges = -1;
  std::vector<Edge> edges;
};

/// Parses "<topology>_m.._(n.._)(t..|fabric|full).edges" and its contents.
ReferenceList read_reference(const fs::path& path) {
  ReferenceList ref;
  const std::string name = path.stem().string();
  std::smatch match;
  if (std::regex_match(name, match, std::regex(R"(chimera_m(\d+)_n(\d+)_t(\d+))"))) {
    ref.shape = {Topology::chimera, std::stoi(match[1]), std::stoi(match[2]), std::stoi(match[3]), true};
  } else if (std::regex_match(name, match, std::regex(R"(pegasus_m(\d+)_(fabric|full))"))) {
    ref.shape = {Topology::pegasus, std::stoi(match[1]), std::stoi(match[1]), 12, match[2] == "fabric"};
  } else if (std::regex_match(name, match, std::regex(R"(zephyr_m(\d+)_t(\d+))"))) {
    ref.shape = {Topology::zephyr, std::stoi(match[1]), std::stoi(match[1]), std::stoi(match[2]), true};
  } else {
    ADD_FAILURE() << "reference file name not understood: " << path;
  }
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::smatch counts;
      if (std::regex_search(line, counts, std::regex(R"((\d+) nodes, (\d+) edges)")))
        ref.header_nodes = std::stoll(counts[1]), ref.header_edges = std::stoll(counts[2]);
      continue;
    }
    std::istringstream fields(line);
    Edge e;
    fields >> e.first >> e.second;
    ref.edges.push_back(e);
  }
  return ref;
}

TEST(ReferenceEdgeLists, EveryFileMatchesTheGeneratorNodeForNodeAndEdgeForEdge) {
  const fs::path dir = fs::path(QVAE_TEST_DATA_DIR) / "graphs";
  int files = 0;
  std::set<Topology> topologies;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".edges") continue;
    ++files;
    SCOPED_TRACE(entry.path().filename().string());
    const ReferenceList ref = read_reference(entry.path());
    topologies.insert(ref.shape.topology);
    const Graph graph = make_graph(ref.shape);

    std::vector<Edge> expected_edges = ref.edges;
    std::sort(expected_edges.begin(), expected_edges.end());
    EXPECT_EQ(graph.edges(), expected_edges);
    EXPECT_EQ(graph.num_edges(), ref.header_edges);

    std::set<std::int64_t> endpoints;
    for (const Edge& e : ref.edges) endpoints.insert(e.first), endpoints.insert(e.second);
    EXPECT_EQ(graph.nodes(), std::vector<std::int64_t>(endpoints.begin(), endpoints.end()));
    EXPECT_EQ(graph.num_nodes(), ref.header_nodes);
  }
  EXPECT_GE(files, 14) << "reference lists missing from " << dir;
  EXPECT_EQ(topologies.size(), 3u);
}

// ---------------------------------------------------------------------------
// Closed forms

TEST(ChimeraGraph, CountsFollowTheClosedFormForManySizes) {
  for (int m = 1; m <= 9; ++m)
    for (int n = 1; n <= 9; n += 2)
      for (int t = 1; t <= 6; ++t) {
        const Graph g = chimera_graph(m, n, t);
        const std::int64_t expected_edges =
            std::int64_t{t} * t * m * n + std::int64_t{t} * (m - 1) * n + std::int64_t{t} * m * (n - 1);
        ASSERT_EQ(g.num_nodes(), 2 * m * n * t) << m << " " << n << " " << t;
        ASSERT_EQ(g.num_edges(), expected_edges) << m << " " << n << " " << t;
      }
  const std::vector<std::tuple<int, int, int, int, int>> table{{1, 1, 4, 8, 16},        {2, 2, 4, 32, 80},
                                                               {4, 4, 4, 128, 352},     {8, 8, 4, 512, 1472},
                                                               {16, 16, 4, 2048, 6016}, {3, 5, 4, 120, 328}};
  for (const auto& [m, n, t, nodes, edges] : table) {
    const Graph g = chimera_graph(m, n, t);
    EXPECT_EQ(g.num_nodes(), nodes);
    EXPECT_EQ(g.num_edges(), edges);
  }
  EXPECT_EQ(chimera_graph(16, 16, 4).max_degree(), 6);
}

TEST(PegasusGraph, FabricAndFullCountsFollowTheClosedFormsForEverySizeUpTo20) {
  for (std::int64_t m = 2; m <= 20; ++m) {
    SCOPED_TRACE("m=" + std::to_string(m));
    const Graph fabric = pegasus_graph(static_cast<int>(m), true);
    EXPECT_EQ(fabric.num_nodes(), 24 * m * (m - 1) - 8 * (m - 1));
    EXPECT_EQ(fabric.num_edges(), 144 * (m - 1) * (m - 1) + (m - 2) * (24 * m - 8) + (m - 1) * (12 * m - 4));
    const Graph full = pegasus_graph(static_cast<int>(m), false);
    EXPECT_EQ(full.num_nodes(), 24 * m * (m - 1));
    EXPECT_EQ(full.num_edges(), 12 * (15 * (m - 1) * (m - 1) + m - 3));
    EXPECT_EQ(fabric.max_degree(), m == 2 ? 13 : m == 3 ? 14 : 15);
  }
}

TEST(PegasusGraph, TableOfSection3MatchesIncludingNiceRegionCounts) {
  // m, fabric nodes, fabric edges, full nodes, full edges, nice nodes, nice edges, max degree
  const std::vector<std::array<std::int64_t, 8>> table{
      {2, 40, 164, 48, 168, 24, 92, 13},           {3, 128, 704, 144, 720, 96, 528, 14},
      {4, 264, 1604, 288, 1632, 216, 1324, 15},    {6, 680, 4484, 720, 4536, 600, 3996, 15},
      {8, 1288, 8804, 1344, 8880, 1176, 8108, 15}, {16, 5640, 40484, 5760, 40656, 5400, 38956, 15}};
  for (const auto& row : table) {
    const int m = static_cast<int>(row[0]);
    SCOPED_TRACE("m=" + std::to_string(m));
    const Graph fabric = pegasus_graph(m), full = pegasus_graph(m, false);
    EXPECT_EQ(fabric.num_nodes(), row[1]);
    EXPECT_EQ(fabric.num_edges(), row[2]);
    EXPECT_EQ(full.num_nodes(), row[3]);
    EXPECT_EQ(full.num_edges(), row[4]);
    EXPECT_EQ(fabric.max_degree(), row[7]);
    // The nice region: every nice coordinate names a distinct fabric qubit.
    const PegasusCoordinates coords(m);
    std::vector<char> nice(static_cast<std::size_t>(fabric.shape().index_range()), 0);
    std::int64_t nice_nodes = 0;
    for (int t = 0; t < 3; ++t)
      for (int y = 0; y < m - 1; ++y)
        for (int x = 0; x < m - 1; ++x)
          for (int u = 0; u < 2; ++u)
            for (int k = 0; k < 4; ++k) {
              const std::int64_t q = coords.nice_to_linear({t, y, x, u, k});
              ASSERT_TRUE(fabric.has_node(q));
              ASSERT_FALSE(nice[static_cast<std::size_t>(q)]) << "nice coordinates alias";
              nice[static_cast<std::size_t>(q)] = 1;
              ++nice_nodes;
            }
    std::int64_t nice_edges = 0;
    for (const Edge& e : fabric.edges())
      nice_edges += nice[static_cast<std::size_t>(e.first)] && nice[static_cast<std::size_t>(e.second)];
    EXPECT_EQ(nice_nodes, row[5]);
    EXPECT_EQ(nice_edges, row[6]);
  }
}

TEST(PegasusGraph, P16HasTheDocumentedDegreeHistogramAndFirstEdges) {
  const Graph p16 = pegasus_graph(16);
  const std::map<int, std::int64_t> expected{{6, 32}, {7, 208}, {10, 32}, {11, 208}, {14, 688}, {15, 4472}};
  EXPECT_EQ(p16.degree_histogram(), expected);
  const Graph p2 = pegasus_graph(2);
  ASSERT_GE(p2.num_nodes(), 3);
  EXPECT_EQ(p2.nodes()[0], 2);
  EXPECT_EQ(p2.nodes()[1], 3);
  EXPECT_EQ(p2.nodes()[2], 4);
  const std::vector<Edge> first{{2, 3}, {2, 28}, {2, 29}, {2, 30}, {2, 31}, {3, 28}};
  EXPECT_TRUE(std::equal(first.begin(), first.end(), p2.edges().begin()));
}

TEST(PegasusGraph, P16EdgeKindsSplitAsDocumented) {
  // 32 400 internal + 5 264 external + 2 820 odd.
  const Graph p16 = pegasus_graph(16);
  const PegasusCoordinates coords(16);
  std::int64_t internal = 0, external = 0, odd = 0;
  for (const Edge& e : p16.edges()) {
    const PegasusCoord a = coords.from_linear(e.first), b = coords.from_linear(e.second);
    if (a.u != b.u)
      ++internal;
    else if (a.k == b.k)
      ++external;
    else
      ++odd;
  }
  EXPECT_EQ(internal, 32400);
  EXPECT_EQ(external, 5264);
  EXPECT_EQ(odd, 2820);
}

TEST(PegasusGraph, P16IsGeneratedWellUnder100Milliseconds) {
  const auto start = std::chrono::steady_clock::now();
  const Graph p16 = pegasus_graph(16);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("p16_ms", std::to_string(ms));
  std::printf("pegasus_graph(16): %.2f ms\n", ms);
  EXPECT_EQ(p16.num_edges(), 40484);
  EXPECT_LT(ms, 100.0);
}

TEST(ZephyrGraph, CountsFollowTheClosedFormForManySizes) {
  for (std::int64_t m = 1; m <= 10; ++m)
    for (std::int64_t t = 1; t <= 6; ++t) {
      const Graph g = zephyr_graph(static_cast<int>(m), static_cast<int>(t));
      const std::int64_t expected_edges = m == 1 ? 2 * t * (8 * t + 3) : 2 * t * ((8 * t + 8) * m * m - 2 * m - 3);
      ASSERT_EQ(g.num_nodes(), 4 * t * m * (2 * m + 1)) << m << " " << t;
      ASSERT_EQ(g.num_edges(), expected_edges) << m << " " << t;
      if (m >= 3) {  // a qubit with two external couplers needs z in the middle
        ASSERT_EQ(g.max_degree(), 4 * t + 4) << m << " " << t;
      }
    }
  const std::vector<std::tuple<int, int, int, int>> table{
      {1, 4, 48, 280},      {2, 4, 160, 1224},    {4, 4, 576, 5032}, {6, 4, 1248, 11400},
      {12, 4, 4800, 45864}, {15, 4, 7440, 71736}, {4, 2, 288, 1492}, {6, 2, 624, 3396}};
  for (const auto& [m, t, nodes, edges] : table) {
    const Graph g = zephyr_graph(m, t);
    EXPECT_EQ(g.num_nodes(), nodes);
    EXPECT_EQ(g.num_edges(), edges);
  }
}

TEST(ZephyrGraph, Z12EdgeKindsSplitAsDocumented) {
  const Graph z = zephyr_graph(12, 4);
  const ZephyrCoordinates coords(12, 4);
  std::int64_t internal = 0, external = 0, odd = 0;
  for (const Edge& e : z.edges()) {
    const ZephyrCoord a = coords.from_linear(e.first), b = coords.from_linear(e.second);
    if (a.u != b.u)
      ++internal;
    else if (a.j == b.j)
      ++external;
    else
      ++odd;
  }
  EXPECT_EQ(internal, 36864);
  EXPECT_EQ(external, 4400);
  EXPECT_EQ(odd, 4600);
}

TEST(Generators, RefuseSizesOutsideTheFamilyWithAUsageError) {
  EXPECT_THROW(pegasus_graph(1), core::UsageError);
  EXPECT_THROW(pegasus_graph(0, false), core::UsageError);
  EXPECT_THROW(zephyr_graph(0, 4), core::UsageError);
  EXPECT_THROW(zephyr_graph(2, 0), core::UsageError);
  EXPECT_THROW(chimera_graph(0, 1, 4), core::UsageError);
  EXPECT_THROW(pegasus_graph(100000), core::UsageError);
  EXPECT_THROW(parse_topology("pegasos"), core::UsageError);
}

// ---------------------------------------------------------------------------
// Coordinates

TEST(Coordinates, LinearIndicesRoundTripForEveryQubit) {
  const int m = 5, n = 3, t = 4;
  const ChimeraCoordinates chimera(m, n, t);
  for (std::int64_t q = 0; q < 2 * m * n * t; ++q) {
    const ChimeraCoord c = chimera.from_linear(q);
    ASSERT_TRUE(chimera.contains(c));
    ASSERT_EQ(chimera.to_linear(c), q);
  }
  EXPECT_EQ(chimera.to_linear({1, 2, 1, 3}), 1 * 3 * 8 + 2 * 8 + 1 * 4 + 3);

  const PegasusCoordinates pegasus(6);
  for (std::int64_t q = 0; q < 24 * 6 * 5; ++q) {
    const PegasusCoord c = pegasus.from_linear(q);
    ASSERT_TRUE(pegasus.contains(c));
    ASSERT_EQ(pegasus.to_linear(c), q);
  }
  EXPECT_EQ(pegasus.to_linear({1, 2, 3, 4}), ((6 * 1 + 2) * 12 + 3) * 5 + 4);

  const ZephyrCoordinates zephyr(3, 2);
  for (std::int64_t q = 0; q < 4 * 2 * 3 * 7; ++q) {
    const ZephyrCoord c = zephyr.from_linear(q);
    ASSERT_TRUE(zephyr.contains(c));
    ASSERT_EQ(zephyr.to_linear(c), q);
  }
  EXPECT_EQ(zephyr.to_linear({1, 2, 1, 1, 2}), 2 + 3 * (1 + 2 * (1 + 2 * (2 + 7 * 1))));
}

TEST(Coordinates, NiceCoordinatesRoundTripAndCoverExactlyTheNiceRegion) {
  for (const int m : {2, 3, 16}) {
    const PegasusCoordinates coords(m);
    const Graph fabric = pegasus_graph(m);
    std::int64_t with_nice = 0;
    for (std::int64_t q = 0; q < fabric.shape().index_range(); ++q) {
      const std::optional<NiceCoord> nice = coords.linear_to_nice(q);
      if (!nice) continue;
      ++with_nice;
      ASSERT_TRUE(coords.contains(*nice));
      ASSERT_EQ(coords.nice_to_linear(*nice), q);
      ASSERT_TRUE(fabric.has_node(q));
    }
    EXPECT_EQ(with_nice, 24 * (m - 1) * (m - 1));
  }
  // dwave-networkx's nice_to_pegasus, one case per layer.
  EXPECT_EQ(PegasusCoordinates::nice_to_pegasus({0, 2, 3, 1, 1}), (PegasusCoord{1, 3, 5, 3}));
  EXPECT_EQ(PegasusCoordinates::nice_to_pegasus({1, 2, 3, 0, 1}), (PegasusCoord{0, 3, 9, 2}));
  EXPECT_EQ(PegasusCoordinates::nice_to_pegasus({2, 2, 3, 0, 1}), (PegasusCoord{0, 4, 1, 2}));
  EXPECT_EQ(PegasusCoordinates::nice_to_pegasus({2, 2, 3, 1, 1}), (PegasusCoord{1, 2, 9, 3}));
}

TEST(Coordinates, NiceToLinearRefusesCoordinatesOutsideTheChipInsteadOfAliasing) {
  const PegasusCoordinates coords(16);
  EXPECT_THROW(coords.nice_to_linear({0, 15, 0, 1, 0}), std::out_of_range);
  EXPECT_THROW(coords.nice_to_linear({0, 0, 15, 0, 0}), std::out_of_range);
  EXPECT_THROW(coords.nice_to_linear({3, 0, 0, 0, 0}), std::out_of_range);
  EXPECT_FALSE(coords.linear_to_nice(-1).has_value());
  EXPECT_FALSE(coords.linear_to_nice(24 * 16 * 15).has_value());
}

// ---------------------------------------------------------------------------
// Colourings: proper on whole graphs

std::vector<std::int64_t> class_sizes(const std::vector<int>& classes, int k) {
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  for (const int c : classes)
    if (c >= 0) ++sizes[static_cast<std::size_t>(c)];
  return sizes;
}

TEST(Colourings, PegasusFourColorIsProperWith1410QubitsPerClassOnP16) {
  for (const int m : {2, 3, 4, 8, 16})
    for (const bool fabric : {true, false}) {
      const Graph g = pegasus_graph(m, fabric);
      const std::vector<int> classes = colour_nodes(g, ColourScheme::four_color);
      EXPECT_EQ(count_monochromatic_edges(g, classes), 0) << m << " fabric=" << fabric;
      EXPECT_EQ(std::count(classes.begin(), classes.end(), -1), 0);
    }
  const Graph p16 = pegasus_graph(16);
  EXPECT_EQ(class_sizes(colour_nodes(p16, ColourScheme::four_color), 4),
            (std::vector<std::int64_t>{1410, 1410, 1410, 1410}));
}

TEST(Colourings, NiceRegionColourIsProperOnTheNiceRegion) {
  for (const int m : {2, 3, 6, 16}) {
    const Graph g = pegasus_graph(m);
    const std::vector<int> classes = colour_nodes(g, ColourScheme::region);
    EXPECT_EQ(count_monochromatic_edges(g, classes), 0) << m;
    const std::int64_t per_class = 6 * (m - 1) * (m - 1);
    EXPECT_EQ(class_sizes(classes, 4), (std::vector<std::int64_t>(4, per_class))) << m;
  }
}

TEST(Colourings, ZephyrScheme1IsProper) {
  for (const int m : {1, 2, 3, 6, 12})
    for (const int t : {1, 2, 4}) {
      const Graph g = zephyr_graph(m, t);
      EXPECT_EQ(count_monochromatic_edges(g, colour_nodes(g, ColourScheme::four_color)), 0) << m << " " << t;
    }
  // Z(6,4): 312 qubits per class.
  EXPECT_EQ(class_sizes(colour_nodes(zephyr_graph(6, 4), ColourScheme::four_color), 4),
            (std::vector<std::int64_t>(4, 312)));
}

TEST(Colourings, ChimeraCheckerboardIsAProperTwoColouring) {
  for (const auto& [m, n, t] : std::vector<std::tuple<int, int, int>>{{1, 1, 4}, {3, 5, 4}, {16, 16, 4}, {4, 4, 2}}) {
    const Graph g = chimera_graph(m, n, t);
    const std::vector<int> classes = colour_nodes(g, ColourScheme::checkerboard);
    EXPECT_EQ(count_monochromatic_edges(g, classes), 0);
    EXPECT_EQ(class_sizes(classes, 2), (std::vector<std::int64_t>(2, m * n * t)));
  }
}

TEST(Colourings, AClashIsCounted) {
  const Graph g = chimera_graph(1, 1, 4);
  EXPECT_EQ(count_monochromatic_edges(g, std::vector<int>(8, 0)), 16);
}

TEST(Colourings, SchemesOutsideTheirTopologyAreUsageErrors) {
  EXPECT_THROW(colour_nodes(zephyr_graph(2, 4), ColourScheme::region), core::UsageError);
  EXPECT_THROW(colour_nodes(chimera_graph(2, 2, 4), ColourScheme::four_color), core::UsageError);
  EXPECT_THROW(colour_nodes(pegasus_graph(2), ColourScheme::checkerboard), core::UsageError);
}

// ---------------------------------------------------------------------------
// Graph container and yield

TEST(GraphContainer, NeighboursAreSortedAndAgreeWithTheEdgeList) {
  const Graph g = pegasus_graph(4);
  std::int64_t half_degree_sum = 0;
  for (const std::int64_t q : g.nodes()) {
    const auto around = g.neighbours(q);
    EXPECT_TRUE(std::is_sorted(around.begin(), around.end()));
    for (const std::int64_t r : around) EXPECT_TRUE(g.has_edge(q, r) && g.has_edge(r, q));
    half_degree_sum += static_cast<std::int64_t>(around.size());
  }
  EXPECT_EQ(half_degree_sum, 2 * g.num_edges());
  EXPECT_FALSE(g.has_node(0));  // w = 0, k < 2: outside the fabric
  EXPECT_EQ(g.neighbours(0).size(), 0u);
}

TEST(GraphContainer, WithoutRemovesMissingQubitsTheirCouplersAndMissingCouplers) {
  const Graph g = pegasus_graph(3);
  const std::int64_t dead = g.nodes()[5];
  const Edge cut = g.edges().back();
  const Graph y = g.without({dead}, {{cut.second, cut.first}});
  EXPECT_FALSE(y.has_node(dead));
  EXPECT_FALSE(y.has_edge(cut.first, cut.second));
  EXPECT_TRUE(y.has_node(cut.first) && y.has_node(cut.second));
  EXPECT_EQ(y.num_nodes(), g.num_nodes() - 1);
  ASSERT_TRUE(cut.first != dead && cut.second != dead);
  EXPECT_EQ(y.num_edges(), g.num_edges() - g.degree(dead) - 1);
}

TEST(YieldFile, ReadsQubitsCouplersAndCommentsAndRefusesGarbage) {
  const fs::path dir = fs::temp_directory_path() / ("qvae_graph_yield_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path good = dir / "good.txt", bad = dir / "bad.txt", three = dir / "three.txt";
  std::ofstream(good) << "# device yield\n12\n\n30 31  # a coupler\n 7 \n";
  std::ofstream(bad) << "12\nfoo\n";
  std::ofstream(three) << "1 2 3\n";
  const Yield y = read_yield_file(good.string());
  EXPECT_EQ(y.missing_qubits, (std::vector<std::int64_t>{12, 7}));
  EXPECT_EQ(y.missing_couplers, (std::vector<Edge>{{30, 31}}));
  try {
    read_yield_file(bad.string());
    ADD_FAILURE() << "garbage accepted";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_yield_file(three.string()), core::InputError);
  EXPECT_THROW(read_yield_file((dir / "missing.txt").string()), core::InputError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qvae::graph
