// The partition selections of docs/rbm.md: nice-region, four-colour and
// checkerboard selections, missing qubits and couplers, bad requests.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/graph/graph.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/graph/yield.hpp"

namespace qvae::graph {
namespace {

using Edge = Graph::Edge;

// ---------------------------------------------------------------------------
// Selection

SelectionRequest pegasus_request(int n) {
  SelectionRequest request;
  request.topology = "pegasus";
  request.size = 16;
  request.nodes_per_partition = n;
  request.scheme = "region";
  return request;
}

/// Structural invariants every selection must satisfy.
void expect_well_formed(const PartitionedGraph& s, const Graph& graph, int n) {
  ASSERT_EQ(s.partition.size(), s.qubits.size());
  EXPECT_EQ(partition_sizes(s), std::vector<std::int64_t>(static_cast<std::size_t>(s.partitions), n));
  for (std::size_t i = 1; i < s.qubits.size(); ++i) {
    // ordered by partition, then qubit
    ASSERT_TRUE(s.partition[i - 1] < s.partition[i] ||
                (s.partition[i - 1] == s.partition[i] && s.qubits[i - 1] < s.qubits[i]));
  }
  EXPECT_TRUE(std::is_sorted(s.couplers.begin(), s.couplers.end()));
  std::int64_t induced = 0;  // every graph edge between selected qubits is a coupler
  std::set<std::int64_t> chosen(s.qubits.begin(), s.qubits.end());
  for (const Edge& e : graph.edges()) induced += chosen.count(e.first) && chosen.count(e.second);
  EXPECT_EQ(static_cast<std::int64_t>(s.couplers.size()), induced);
  for (const auto& [i, j] : s.couplers) {
    ASSERT_LT(i, j);
    ASSERT_NE(s.partition[static_cast<std::size_t>(i)], s.partition[static_cast<std::size_t>(j)]);
    ASSERT_TRUE(graph.has_edge(s.qubits[static_cast<std::size_t>(i)], s.qubits[static_cast<std::size_t>(j)]));
  }
}

TEST(NiceRegionSelection, GridFollowsTheRegionFormulas) {
  EXPECT_EQ(nice_region_grid(64).rows, 4);
  EXPECT_EQ(nice_region_grid(64).cols, 4);
  EXPECT_EQ(nice_region_grid(302).rows, 8);  // 151 cells, 51 per layer
  EXPECT_EQ(nice_region_grid(1350).rows, 15);
  EXPECT_EQ(nice_region_grid(1).rows, 1);
  EXPECT_EQ(nice_region_grid(12).rows, 2);  // 6 cells, 2 per layer
}

TEST(NiceRegionSelection, P16With64PerPartitionReproducesTheReferenceTableRow) {
  const PartitionedGraph s = select_partitioned(pegasus_request(64));
  EXPECT_EQ(s.topology, "pegasus");
  EXPECT_EQ(s.partitions, 4);
  expect_well_formed(s, pegasus_graph(16), 64);
  const std::map<std::string, std::int64_t> expected{{"01", 322}, {"02", 144}, {"03", 322},
                                                     {"12", 322}, {"13", 156}, {"23", 322}};
  EXPECT_EQ(pair_coupler_counts(s), expected);
  EXPECT_EQ(s.couplers.size(), 1588u);
}

TEST(NiceRegionSelection, TheFourBy302PegasusModelHas8312Couplers) {
  const PartitionedGraph s = select_partitioned(pegasus_request(302));
  expect_well_formed(s, pegasus_graph(16), 302);
  EXPECT_EQ(s.couplers.size(), 8312u);
  std::printf("4x302 pair couplers:");
  for (const auto& [pair, count] : pair_coupler_counts(s))
    std::printf(" %s:%lld", pair.c_str(), static_cast<long long>(count));
  std::printf("\n");
}

TEST(NiceRegionSelection, FirstQubitsComeFromTheNiceOriginInReferenceOrder) {
  // n = 2: the first cell (row 0, col 0, layer 0) fills every partition.
  const PartitionedGraph s = select_partitioned(pegasus_request(2));
  const PegasusCoordinates coords(16);
  auto q = [&](int u, int k) { return coords.nice_to_linear({0, 0, 0, u, k}); };
  std::vector<std::vector<std::int64_t>> expected{
      {q(1, 0), q(1, 3)}, {q(0, 0), q(0, 3)}, {q(1, 1), q(1, 2)}, {q(0, 1), q(0, 2)}};
  for (auto& list : expected) std::sort(list.begin(), list.end());
  for (int p = 0; p < 4; ++p)
    for (int i = 0; i < 2; ++i)
      EXPECT_EQ(s.qubits[static_cast<std::size_t>(2 * p + i)],
                expected[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)]);
}

TEST(NiceRegionSelection, WorksOnTheFullGraphAndSmallerChips) {
  SelectionRequest full = pegasus_request(64);
  full.full = true;
  EXPECT_EQ(select_partitioned(full).couplers.size(), 1588u);  // the nice region lies inside the fabric
  SelectionRequest small = pegasus_request(24);
  small.size = 4;  // 3x3 nice cells per layer, 54 per partition at most
  expect_well_formed(select_partitioned(small), pegasus_graph(4), 24);
}

TEST(NiceRegionSelection, TheWholeNiceRegionFitsButOneMoreNodeIsRefused) {
  expect_well_formed(select_partitioned(pegasus_request(1350)), pegasus_graph(16), 1350);
  try {
    select_partitioned(pegasus_request(1351));
    ADD_FAILURE() << "1351 per partition accepted on P16";
  } catch (const core::UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("partition 0 reached only 1350 of 1351"), std::string::npos) << message;
    EXPECT_NE(message.find("--size"), std::string::npos) << message;
    EXPECT_NE(message.find("fewer"), std::string::npos) << message;
  }
}

TEST(NiceRegionSelection, AMissingQubitIsSkippedAndReplacedByTheNextInRegionOrder) {
  const PartitionedGraph full_yield = select_partitioned(pegasus_request(64));
  // Kill a qubit of partition 2, then select again.
  const std::size_t victim_index = 2 * 64 + 10;
  const std::int64_t victim = full_yield.qubits[victim_index];
  SelectionRequest request = pegasus_request(64);
  request.missing_qubits = {victim};
  const PartitionedGraph s = select_partitioned(request);
  expect_well_formed(s, pegasus_graph(16).without({victim}, {}), 64);
  EXPECT_EQ(std::count(s.qubits.begin(), s.qubits.end(), victim), 0);
  // Partitions 0, 1, 3 are unchanged; partition 2 lost one qubit and gained one.
  for (int p : {0, 1, 3})
    EXPECT_TRUE(
        std::equal(s.qubits.begin() + 64 * p, s.qubits.begin() + 64 * (p + 1), full_yield.qubits.begin() + 64 * p));
  std::vector<std::int64_t> before(full_yield.qubits.begin() + 128, full_yield.qubits.begin() + 192);
  std::vector<std::int64_t> after(s.qubits.begin() + 128, s.qubits.begin() + 192);
  std::vector<std::int64_t> gained;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(gained));
  ASSERT_EQ(gained.size(), 1u);
  const std::optional<NiceCoord> nice = PegasusCoordinates(16).linear_to_nice(gained[0]);
  ASSERT_TRUE(nice.has_value());
  EXPECT_EQ(nice_region_color(*nice), 2);
}

TEST(NiceRegionSelection, AMissingCouplerDisappearsAndNothingElseChanges) {
  const PartitionedGraph full_yield = select_partitioned(pegasus_request(64));
  const auto [i, j] = full_yield.couplers[100];
  const std::int64_t a = full_yield.qubits[static_cast<std::size_t>(i)],
                     b = full_yield.qubits[static_cast<std::size_t>(j)];
  SelectionRequest request = pegasus_request(64);
  request.missing_couplers = {{b, a}};
  const PartitionedGraph s = select_partitioned(request);
  EXPECT_EQ(s.qubits, full_yield.qubits);
  EXPECT_EQ(s.couplers.size(), full_yield.couplers.size() - 1);
  EXPECT_EQ(std::count(s.couplers.begin(), s.couplers.end(), std::make_pair(i, j)), 0);
}

TEST(NiceRegionSelection, AShortPartitionIsNamedEvenWhenPartitionZeroIsFull) {
  // The reference tests only P0; here P3 loses every qubit outside row 0 of
  // the grid, so it stops at 12 cells x 2 = 24 while the others fill.
  const PegasusCoordinates coords(16);
  SelectionRequest request = pegasus_request(64);
  const RegionGrid grid = nice_region_grid(64);
  for (int row = 1; row <= grid.rows; ++row)
    for (int col = 0; col < grid.cols; ++col)
      for (int layer = 0; layer < 3; ++layer)
        for (int k = 0; k < 4; ++k) {
          const NiceCoord nice{layer, col, row, 0, k};
          if (nice_region_color(nice) == 3) request.missing_qubits.push_back(coords.nice_to_linear(nice));
        }
  try {
    select_partitioned(request);
    ADD_FAILURE() << "under-filled partition accepted";
  } catch (const core::UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("partition 3 reached only 24 of 64"), std::string::npos) << message;
    EXPECT_NE(message.find("96 missing qubits"), std::string::npos) << message;
  }
}

TEST(FourColourSelection, PegasusTakesTheFirstQubitsOfEachClassInIndexOrder) {
  SelectionRequest request = pegasus_request(302);
  request.scheme = "four_color";
  const PartitionedGraph s = select_partitioned(request);
  const Graph p16 = pegasus_graph(16);
  expect_well_formed(s, p16, 302);
  const PegasusCoordinates coords(16);
  for (std::size_t i = 0; i < s.qubits.size(); ++i)
    ASSERT_EQ(pegasus_four_color(coords.from_linear(s.qubits[i])), s.partition[i]);
  // The last qubit taken in class 0 has no unselected class-0 qubit below it.
  const std::int64_t last = s.qubits[301];
  std::int64_t below = 0;
  for (const std::int64_t q : p16.nodes()) below += q <= last && pegasus_four_color(coords.from_linear(q)) == 0;
  EXPECT_EQ(below, 302);
}

TEST(FourColourSelection, ZephyrZ64With302PerPartitionIsProperAndRegressionCounted) {
  SelectionRequest request;
  request.topology = "zephyr";
  request.size = 6;
  request.t = 4;
  request.scheme = "";  // zephyr's default: four_color
  request.nodes_per_partition = 302;
  const PartitionedGraph s = select_partitioned(request);
  expect_well_formed(s, zephyr_graph(6, 4), 302);
  std::printf("Z(6,4) n=302 pair couplers:");
  for (const auto& [pair, count] : pair_coupler_counts(s))
    std::printf(" %s:%lld", pair.c_str(), static_cast<long long>(count));
  std::printf(" total %zu\n", s.couplers.size());
  request.nodes_per_partition = 313;  // 312 per class
  EXPECT_THROW(select_partitioned(request), core::UsageError);
}

TEST(CheckerboardSelection, ChimeraGivesTwoPartitionsJoinedOnlyAcross) {
  SelectionRequest request;
  request.topology = "chimera";
  request.size = 4;
  request.scheme = "checkerboard";
  request.nodes_per_partition = 64;
  const PartitionedGraph s = select_partitioned(request);
  EXPECT_EQ(s.partitions, 2);
  expect_well_formed(s, chimera_graph(4, 4, 4), 64);
  EXPECT_EQ(s.couplers.size(), 352u);  // the whole C4
  EXPECT_EQ(pair_coupler_counts(s), (std::map<std::string, std::int64_t>{{"01", 352}}));
}

TEST(SelectionRequests, BadRequestsAreUsageOrInputErrors) {
  SelectionRequest request = pegasus_request(0);
  EXPECT_THROW(select_partitioned(request), core::UsageError);
  request = pegasus_request(10);
  request.scheme = "checkerboard";
  EXPECT_THROW(select_partitioned(request), core::UsageError);
  request.scheme = "spiral";
  EXPECT_THROW(select_partitioned(request), core::UsageError);
  request = pegasus_request(10);
  request.topology = "zephyr";  // region is pegasus-only
  EXPECT_THROW(select_partitioned(request), core::UsageError);
  request = pegasus_request(10);
  request.missing_qubits = {5760};  // one past P16's last linear index
  EXPECT_THROW(select_partitioned(request), core::InputError);
  request = pegasus_request(10);
  request.missing_couplers = {{7, 7}};
  EXPECT_THROW(select_partitioned(request), core::InputError);
  request = pegasus_request(10);
  request.size = 1;
  EXPECT_THROW(select_partitioned(request), core::UsageError);
}

TEST(SelectionRequests, DefaultSchemesFollowTheTopology) {
  EXPECT_EQ(parse_scheme("", Topology::pegasus), ColourScheme::region);
  EXPECT_EQ(parse_scheme("default", Topology::zephyr), ColourScheme::four_color);
  EXPECT_EQ(parse_scheme("", Topology::chimera), ColourScheme::checkerboard);
  EXPECT_EQ(parse_scheme("four_color", Topology::pegasus), ColourScheme::four_color);
}

}  // namespace
}  // namespace qvae::graph
