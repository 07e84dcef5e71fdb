#include "qvae/rbm/rbm_file.hpp"

#include <algorithm>
#include <cmath>

#include "chain_io.hpp"
#include "qvae/core/error.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::rbm {
namespace detail {

bool write_chain_datasets(io::File& file, const std::string& states_name, const StoredChains& chains) {
  const ChainBlock& local = chains.local;
  const par::Communicator* comm = file.comm();
  const par::Block block = comm ? par::block_from_count(local.count, *comm) : par::Block{0, local.count};
  const bool tiled = comm ? comm->all(block.offset == local.first_chain) && comm->sum(local.count) == chains.total
                          : local.first_chain == 0 && local.count == chains.total;
  if (!tiled)
    throw std::logic_error("qvae::rbm: chain blocks of the ranks do not tile [0, " + std::to_string(chains.total) +
                           ") in rank order, file '" + file.path() + "'");
  const bool states_collective =
      write_row_block(file, states_name, chains.total, local.units, block, local.states.data());
  const bool sweeps_collective = write_row_block(file, "chain_sweeps", chains.total, 0, block, local.sweeps.data());
  io::set_attribute(file, "/", "chain_seed", chains.seed);
  return states_collective && sweeps_collective;
}

StoredChains read_chain_datasets(const io::File& file, const std::string& states_name, std::int64_t units) {
  const io::DatasetShape shape = io::dataset_shape(file, states_name);
  if (shape.dims.size() != 2 || shape.dims[1] != units)
    throw core::InputError(core::describe(
        "chains of shape " + shape.text() + " do not fit a machine of " + std::to_string(units) + " units",
        io::where_text(file.path(), states_name), "resume with the machine the chains were sampled from"));
  if (!file.has("chain_sweeps") || !io::has_attribute(file, "/", "chain_seed"))
    throw core::InputError(core::describe("chains without 'chain_sweeps' and 'chain_seed' cannot be resumed",
                                          io::where_text(file.path()),
                                          "use a file written by qvae sample or qvae rbm"));
  const io::DatasetShape counters = io::dataset_shape(file, "chain_sweeps");
  if (counters.dims.size() != 1 || counters.dims[0] != shape.dims[0])
    throw core::InputError(core::describe(
        "chain_sweeps of shape " + counters.text() + " does not match " + std::to_string(shape.dims[0]) + " chains",
        io::where_text(file.path(), "chain_sweeps")));
  StoredChains chains;
  chains.total = shape.dims[0];
  chains.seed = io::get_uint_attribute(file, "/", "chain_seed");
  const par::Block block = file.comm() ? par::my_block(chains.total, *file.comm()) : par::Block{0, chains.total};
  chains.local.first_chain = block.offset;
  chains.local.count = block.count;
  chains.local.units = units;
  if (chains.total > 0) {  // HDF5 refuses transfers from an empty dataset
    io::read_rows(file, states_name, block, units, chains.local.states);
    io::read_rows(file, "chain_sweeps", block, 0, chains.local.sweeps);
  }
  for (std::size_t i = 0; i < chains.local.states.size(); ++i)
    if (chains.local.states[i] > 1)
      throw core::InputError(core::describe("chain " +
                                                std::to_string(block.offset + static_cast<std::int64_t>(i) / units) +
                                                " holds the value " + std::to_string(int{chains.local.states[i]}),
                                            io::where_text(file.path(), states_name), "unit states are 0 or 1"));
  for (std::int64_t s : chains.local.sweeps)
    if (s < 0)
      throw core::InputError(
          core::describe("a sweep counter is negative", io::where_text(file.path(), "chain_sweeps")));
  return chains;
}

}  // namespace detail

namespace {

/// Rank 0 writes all rows of a small dataset, the others none (collective).
template <class T>
void write_whole(io::File& file, const std::string& name, const std::vector<T>& values, std::int64_t cols,
                 bool is_root) {
  const std::int64_t rows = static_cast<std::int64_t>(values.size()) / (cols > 0 ? cols : 1);
  detail::write_row_block(file, name, rows, cols, par::Block{0, is_root ? rows : 0}, values.data());
}

[[noreturn]] void refuse(const std::string& what, const std::string& path, const std::string& dataset,
                         const std::string& remedy = {}) {
  throw core::InputError(core::describe(what, io::where_text(path, dataset), remedy));
}

void require_finite(const std::vector<double>& values, const std::string& path, const std::string& dataset) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      refuse("value " + std::to_string(i) + " is " + std::to_string(values[i]), path, dataset,
             "parameters must be finite numbers");
}

/// read_all that tolerates an empty dataset (HDF5 refuses a transfer from zero rows).
template <class T>
std::vector<T> read_whole(const io::File& file, const std::string& name, std::int64_t cols, std::int64_t rows) {
  return rows == 0 ? std::vector<T>{} : io::read_all<T>(file, name, cols);
}

std::int64_t length_of(const io::File& file, const std::string& name, std::int64_t cols) {
  const io::DatasetShape shape = io::dataset_shape(file, name);
  const bool ok = cols == 0 ? shape.dims.size() == 1 : shape.dims.size() == 2 && shape.dims[1] == cols;
  if (!ok)
    refuse("dataset has shape " + shape.text() + ", expected " +
               (cols == 0 ? "(n,)" : "(n, " + std::to_string(cols) + ")"),
           file.path(), name);
  return shape.dims[0];
}

}  // namespace

void write_rbm(const std::string& path, const BoltzmannMachine& machine, const par::Communicator& comm,
               const io::Provenance& provenance, const StoredChains* chains) {
  io::OutputFile file = io::OutputFile::create(path, comm);
  const graph::PartitionedGraph& graph = machine.graph();
  const bool root = comm.is_root();
  io::set_format(file, kRbmFormat, kRbmFormatVersion);
  io::write_provenance(file, provenance);
  io::set_attribute(file, "/", "topology", graph.topology);
  io::set_attribute(file, "/", "description", graph.description);
  io::set_attribute(file, "/", "partitions", static_cast<std::int64_t>(graph.partitions));

  const std::vector<std::int32_t> partition(graph.partition.begin(), graph.partition.end());
  write_whole(file, "partition", partition, 0, root);
  const std::vector<double> biases(machine.biases(), machine.biases() + machine.num_nodes());
  write_whole(file, "biases", biases, 0, root);
  std::vector<std::int64_t> edges;
  edges.reserve(2 * graph.couplers.size());
  for (const auto& [i, j] : graph.couplers) edges.insert(edges.end(), {i, j});
  write_whole(file, "edges", edges, 2, root);  // (0, 2) when there are no couplers: the width stays recorded
  const std::vector<double> weights(machine.weights(), machine.weights() + machine.num_couplers());
  write_whole(file, "weights", weights, 0, root);
  if (!graph.qubits.empty()) write_whole(file, "qubits", graph.qubits, 0, root);
  if (chains) detail::write_chain_datasets(file, "chains", *chains);
  file.commit();
}

BoltzmannMachine read_rbm(const std::string& path, const par::Communicator& comm) {
  const io::File file = io::File::open_parallel(path, comm);
  io::require_format(file, kRbmFormat, kRbmFormatVersion);
  graph::PartitionedGraph graph;
  graph.topology = io::has_attribute(file, "/", "topology") ? io::get_string_attribute(file, "/", "topology") : "";
  graph.description =
      io::has_attribute(file, "/", "description") ? io::get_string_attribute(file, "/", "description") : "";
  const std::int64_t partitions = io::get_int_attribute(file, "/", "partitions");
  if (partitions < 1 || partitions > 1024)
    refuse("attribute 'partitions' is " + std::to_string(partitions) + ", not in [1, 1024]", path, "/");
  graph.partitions = static_cast<int>(partitions);

  const std::int64_t nodes = length_of(file, "partition", 0);
  for (const char* name : {"biases", "qubits"})
    if ((std::string(name) == "biases" || file.has(name)) && length_of(file, name, 0) != nodes)
      refuse("dataset has " + std::to_string(length_of(file, name, 0)) + " rows but 'partition' has " +
                 std::to_string(nodes),
             path, name);
  const std::int64_t couplers = length_of(file, "edges", 2);
  if (length_of(file, "weights", 0) != couplers)
    refuse("dataset has " + std::to_string(length_of(file, "weights", 0)) + " rows but 'edges' has " +
               std::to_string(couplers),
           path, "weights");

  const std::vector<std::int32_t> partition = read_whole<std::int32_t>(file, "partition", 0, nodes);
  for (std::size_t i = 0; i < partition.size(); ++i)
    if (partition[i] < 0 || partition[i] >= partitions)
      refuse("node " + std::to_string(i) + " has partition " + std::to_string(partition[i]) + ", outside [0, " +
                 std::to_string(partitions) + ")",
             path, "partition");
  graph.partition.assign(partition.begin(), partition.end());
  if (file.has("qubits")) {
    graph.qubits = read_whole<std::int64_t>(file, "qubits", 0, nodes);
    std::vector<std::int64_t> sorted = graph.qubits;
    std::sort(sorted.begin(), sorted.end());
    if (!sorted.empty() && sorted.front() < 0)
      refuse("qubit " + std::to_string(sorted.front()) + " is negative", path, "qubits");
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end()) refuse("qubit " + std::to_string(*twice) + " belongs to two nodes", path, "qubits");
  }
  const std::vector<std::int64_t> edges = read_whole<std::int64_t>(file, "edges", 2, couplers);
  graph.couplers.reserve(static_cast<std::size_t>(couplers));
  for (std::int64_t e = 0; e < couplers; ++e) graph.couplers.push_back({edges[2 * e], edges[2 * e + 1]});
  std::vector<double> biases = read_whole<double>(file, "biases", 0, nodes);
  std::vector<double> weights = read_whole<double>(file, "weights", 0, couplers);
  require_finite(biases, path, "biases");
  require_finite(weights, path, "weights");

  BoltzmannMachine machine(std::move(graph), io::where_text(path, "edges"));
  std::copy(biases.begin(), biases.end(), machine.biases());
  std::copy(weights.begin(), weights.end(), machine.weights());
  if (file.has("chains")) {
    // Checked now so a bad file fails on open, not when chains are resumed.
    const io::DatasetShape shape = io::dataset_shape(file, "chains");
    if (shape.dims.size() != 2 || shape.dims[1] != nodes)
      refuse("chains of shape " + shape.text() + " do not fit " + std::to_string(nodes) + " nodes", path, "chains");
  }
  return machine;
}

StoredChains read_chains(const std::string& path, const par::Communicator& comm, std::int64_t units) {
  const io::File file = io::File::open_parallel(path, comm);
  if (file.has("chains")) return detail::read_chain_datasets(file, "chains", units);
  if (file.has("samples")) return detail::read_chain_datasets(file, "samples", units);
  throw core::InputError(core::describe("file holds no chains (no 'chains' or 'samples' dataset)", io::where_text(path),
                                        "pass a file written by qvae sample or qvae rbm"));
}

}  // namespace qvae::rbm
