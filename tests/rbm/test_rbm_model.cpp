// The BoltzmannMachine (K-partite structure, energy, initialisation) and the
// qvae-rbm v1 file format: round trips and refusals of bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "error_message.hpp"
#include "qvae/core/error.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/sampler.hpp"
#include "rbm_test_models.hpp"

namespace qvae::rbm {
namespace {

using testing::random_machine;

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "qvae_rbm_" + name; }

graph::PartitionedGraph small_graph() {
  graph::PartitionedGraph graph;
  graph.topology = "test";
  graph.description = "3 partitions";
  graph.partitions = 3;
  graph.partition = {0, 1, 2, 0, 1, 2};
  graph.qubits = {10, 11, 12, 13, 14, 15};
  graph.couplers = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {4, 5}};
  return graph;
}

template <class F>
std::string input_error(F&& f) {
  return qvae::testing::error_message<core::InputError>(std::forward<F>(f));
}

TEST(BoltzmannMachine, KnowsItsPartitions) {
  const BoltzmannMachine machine(small_graph());
  EXPECT_EQ(machine.num_nodes(), 6);
  EXPECT_EQ(machine.num_couplers(), 6);
  EXPECT_EQ(machine.partition_nodes(1), (std::vector<std::int64_t>{1, 4}));
  EXPECT_EQ(machine.position_in_partition(4), 1);
  EXPECT_EQ(machine.partition_size(2), 2);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_EQ(machine.biases()[i], 0.0);
}

TEST(BoltzmannMachine, RefusesGraphsThatAreNotKPartite) {
  auto with = [](auto change) {
    graph::PartitionedGraph graph = small_graph();
    change(graph);
    return input_error([&] { BoltzmannMachine machine(graph, "test graph"); });
  };
  EXPECT_NE(with([](auto& g) {
              g.couplers.push_back({0, 3});
            }).find("joins two nodes of partition 0"),
            std::string::npos);
  EXPECT_NE(with([](auto& g) { g.couplers.push_back({4, 1}); }).find("not ordered i < j"), std::string::npos);
  EXPECT_NE(with([](auto& g) { g.couplers.push_back({2, 6}); }).find("outside [0, 6)"), std::string::npos);
  EXPECT_NE(with([](auto& g) { g.couplers.push_back({0, 1}); }).find("appears twice"), std::string::npos);
  EXPECT_NE(with([](auto& g) { g.partition[5] = 3; }).find("partition 3"), std::string::npos);
  EXPECT_NE(with([](auto& g) { g.qubits.pop_back(); }).find("5 qubits for 6 nodes"), std::string::npos);
  EXPECT_NE(with([](auto& g) { g.qubits[1] = 10; }).find("qubit 10 belongs to two nodes"), std::string::npos);
  EXPECT_NE(with([](auto& g) { g.couplers.push_back({0, 3}); }).find("test graph"), std::string::npos);
}

TEST(BoltzmannMachine, EnergyInZeroOneUnits) {
  BoltzmannMachine machine(small_graph());
  for (int i = 0; i < 6; ++i) machine.biases()[i] = 0.5 * (i + 1);
  for (int e = 0; e < 6; ++e) machine.weights()[e] = -1.0 + 0.25 * e;
  const std::vector<std::uint8_t> z{1, 1, 0, 1, 0, 1};
  // -b·z = -(0.5 + 1 + 2 + 3) ; couplers with both ends on: (0,1) e0, (1,3) e2.
  const double expected = -(0.5 + 1.0 + 2.0 + 3.0) - (-1.0 + -0.5);
  EXPECT_DOUBLE_EQ(machine.energy(z.data()), expected);
  EXPECT_DOUBLE_EQ(machine.scaled_energy(z.data(), 2.0, BetaScope::couplings), -(6.5) - 2.0 * (-1.5));
  EXPECT_DOUBLE_EQ(machine.scaled_energy(z.data(), 2.0, BetaScope::all), -2.0 * 6.5 - 2.0 * (-1.5));
  std::vector<std::uint8_t> two(z);
  two.insert(two.end(), 6, 0);
  double energies[2];
  machine.energies(two.data(), 2, energies);
  EXPECT_DOUBLE_EQ(energies[0], expected);
  EXPECT_DOUBLE_EQ(energies[1], 0.0);
}

TEST(BoltzmannMachine, NormalInitIsKeyedByParameterIndex) {
  BoltzmannMachine a(small_graph()), b(small_graph());
  a.init_normal(0.7, 5);
  b.init_normal(0.7, 5);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.biases()[i], b.biases()[i]);
  // Same seed on a larger model: the shared parameter indices get the same values.
  BoltzmannMachine larger = random_machine(3, 4, 1.0, 0.0, 0.0, 1);
  larger.init_normal(0.7, 5);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(larger.biases()[i], a.biases()[i]);
  for (int e = 0; e < 6; ++e) EXPECT_EQ(larger.weights()[e], a.weights()[e]);
  BoltzmannMachine big = random_machine(4, 50, 0.5, 0.0, 0.0, 2);
  big.init_normal(2.0, 9);
  double sum = 0, square = 0;
  for (std::int64_t e = 0; e < big.num_couplers(); ++e)
    sum += big.weights()[e], square += big.weights()[e] * big.weights()[e];
  const double n = static_cast<double>(big.num_couplers());
  EXPECT_NEAR(sum / n, 0.0, 5 * 2.0 / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(square / n), 2.0, 0.1);
  big.init_zeros();
  EXPECT_EQ(big.weights()[0], 0.0);
  EXPECT_THROW(big.init_normal(-1.0, 1), core::UsageError);
}

TEST(RbmFile, RoundTripKeepsEverything) {
  const par::Communicator self(MPI_COMM_SELF);
  BoltzmannMachine machine(small_graph());
  machine.init_normal(1.3, 77);
  StoredChains chains;
  chains.seed = 4242;
  chains.total = 5;
  chains.local = random_chains(6, 1, 0, 5);
  chains.local.sweeps = {0, 3, 9, 27, 81};
  const std::string path = temp_path("roundtrip.h5");
  write_rbm(path, machine, self, io::Provenance{"test", 77, ""}, &chains);

  const BoltzmannMachine back = read_rbm(path, self);
  EXPECT_EQ(back.graph().partition, machine.graph().partition);
  EXPECT_EQ(back.graph().qubits, machine.graph().qubits);
  EXPECT_EQ(back.couplers(), machine.couplers());
  EXPECT_EQ(back.graph().topology, "test");
  EXPECT_EQ(back.graph().description, "3 partitions");
  EXPECT_EQ(back.partitions(), 3);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back.biases()[i], machine.biases()[i]);
  for (int e = 0; e < 6; ++e) EXPECT_EQ(back.weights()[e], machine.weights()[e]);
  const StoredChains stored = read_chains(path, self, 6);
  EXPECT_EQ(stored.seed, 4242u);
  EXPECT_EQ(stored.total, 5);
  EXPECT_EQ(stored.local.states, chains.local.states);
  EXPECT_EQ(stored.local.sweeps, chains.local.sweeps);

  const io::File file = io::File::open_serial(path);
  EXPECT_EQ(io::get_string_attribute(file, "/", "format"), "qvae-rbm");
  EXPECT_EQ(io::get_int_attribute(file, "/", "format_version"), 1);
  EXPECT_EQ(io::dataset_shape(file, "edges").dims, (std::vector<std::int64_t>{6, 2}));
  EXPECT_EQ(io::dataset_shape(file, "chains").dims, (std::vector<std::int64_t>{5, 6}));
  std::filesystem::remove(path);
}

TEST(RbmFile, MachineWithoutCouplersQubitsOrChains) {
  const par::Communicator self(MPI_COMM_SELF);
  graph::PartitionedGraph graph;
  graph.partitions = 2;
  graph.partition = {0, 1, 1};
  BoltzmannMachine machine(graph);
  machine.biases()[2] = -3.5;
  const std::string path = temp_path("bare.h5");
  write_rbm(path, machine, self, io::Provenance{});
  const BoltzmannMachine back = read_rbm(path, self);
  EXPECT_EQ(back.num_couplers(), 0);
  EXPECT_TRUE(back.graph().qubits.empty());
  EXPECT_EQ(back.biases()[2], -3.5);
  EXPECT_NE(input_error([&] { read_chains(path, self, 3); }).find("holds no chains"), std::string::npos);
  std::filesystem::remove(path);
}

/// Writes an RBM file from raw pieces, so each can be made wrong.
struct RawRbm {
  std::string format = "qvae-rbm";
  std::int64_t version = 1, partitions = 2;
  std::vector<std::int32_t> partition{0, 0, 1, 1};
  std::vector<double> biases{0.1, 0.2, 0.3, 0.4};
  std::vector<std::int64_t> edges{0, 2, 1, 3, 0, 3};
  std::vector<double> weights{1.0, -1.0, 0.5};
  std::vector<std::uint8_t> chains;
  std::vector<std::int64_t> qubits;

  std::string write(const std::string& name) const {
    const std::string path = temp_path(name);
    io::OutputFile out = io::OutputFile::create_serial(path);
    io::set_format(out, format, version);
    io::set_attribute(out, "/", "partitions", partitions);
    io::write_rows(out, "partition", partition.data(), static_cast<std::int64_t>(partition.size()), 0);
    io::write_rows(out, "biases", biases.data(), static_cast<std::int64_t>(biases.size()), 0);
    io::write_rows(out, "edges", edges.data(), static_cast<std::int64_t>(edges.size() / 2), 2);
    io::write_rows(out, "weights", weights.data(), static_cast<std::int64_t>(weights.size()), 0);
    if (!qubits.empty()) io::write_rows(out, "qubits", qubits.data(), static_cast<std::int64_t>(qubits.size()), 0);
    if (!chains.empty()) io::write_rows(out, "chains", chains.data(), static_cast<std::int64_t>(chains.size() / 5), 5);
    out.commit();
    return path;
  }
};

TEST(RbmFile, RefusesBadFilesNamingFileAndDataset) {
  const par::Communicator self(MPI_COMM_SELF);
  auto refusal = [&](const RawRbm& raw, const std::string& name) {
    const std::string path = raw.write(name);
    const std::string message = input_error([&] { read_rbm(path, self); });
    std::filesystem::remove(path);
    return message;
  };
  const std::string good = RawRbm{}.write("good.h5");
  EXPECT_NO_THROW(read_rbm(good, self));
  std::filesystem::remove(good);
  auto expect_refusal = [&](RawRbm raw, const std::string& name, const std::string& dataset, const std::string& why) {
    const std::string message = refusal(raw, name);
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_NE(message.find(dataset), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
  };
  RawRbm raw;
  raw.format = "qvae-checkpoint";
  expect_refusal(raw, "format.h5", "", "expected 'qvae-rbm'");
  raw = RawRbm{};
  raw.version = 2;
  expect_refusal(raw, "version.h5", "", "format_version 2 is not supported");
  raw = RawRbm{};
  raw.biases.push_back(0.5);
  expect_refusal(raw, "biases.h5", "dataset 'biases'", "5 rows but 'partition' has 4");
  raw = RawRbm{};
  raw.weights.pop_back();
  expect_refusal(raw, "weights.h5", "dataset 'weights'", "2 rows but 'edges' has 3");
  raw = RawRbm{};
  raw.edges.insert(raw.edges.end(), {2, 3});
  raw.weights.push_back(0.0);
  expect_refusal(raw, "inside.h5", "dataset 'edges'", "joins two nodes of partition 1");
  raw = RawRbm{};
  raw.edges[1] = 9;
  expect_refusal(raw, "range.h5", "dataset 'edges'", "outside [0, 4)");
  raw = RawRbm{};
  std::swap(raw.edges[0], raw.edges[1]);
  expect_refusal(raw, "order.h5", "dataset 'edges'", "not ordered i < j");
  raw = RawRbm{};
  raw.edges.insert(raw.edges.end(), {0, 2});
  raw.weights.push_back(0.0);
  expect_refusal(raw, "twice.h5", "dataset 'edges'", "appears twice");
  raw = RawRbm{};
  raw.weights[1] = std::numeric_limits<double>::quiet_NaN();
  expect_refusal(raw, "nan.h5", "dataset 'weights'", "value 1 is nan");
  raw = RawRbm{};
  raw.biases[0] = std::numeric_limits<double>::infinity();
  expect_refusal(raw, "inf.h5", "dataset 'biases'", "value 0 is inf");
  raw = RawRbm{};
  raw.partition[3] = 2;
  expect_refusal(raw, "partition.h5", "dataset 'partition'", "outside [0, 2)");
  raw = RawRbm{};
  raw.qubits = {7, 8, 7, 9};
  expect_refusal(raw, "qubits.h5", "dataset 'qubits'", "qubit 7 belongs to two nodes");
  raw = RawRbm{};
  raw.qubits = {7, 8, 9};
  expect_refusal(raw, "qubitcount.h5", "dataset 'qubits'", "3 rows but 'partition' has 4");
  raw = RawRbm{};
  raw.chains.assign(10, 0);
  expect_refusal(raw, "chains.h5", "dataset 'chains'", "do not fit 4 nodes");
  EXPECT_NE(input_error([&] { read_rbm(temp_path("does-not-exist.h5"), self); }).find("does-not-exist.h5"),
            std::string::npos);
}

}  // namespace
}  // namespace qvae::rbm
