#include "qvae/core/error.hpp"
#include "qvae/rbm/torch_tensors.hpp"

namespace qvae::rbm {
namespace {

constexpr const char* kWhere = "qvae::rbm dense model";

std::string pair_key(int p, int q) { return std::to_string(p) + std::to_string(q); }

void require_digits(int partitions) {
  if (partitions > 10)
    throw core::InputError(
        core::describe("a machine of " + std::to_string(partitions) + " partitions has no single-digit pair keys",
                       kWhere, "the dense layout holds at most 10 partitions"));
}

const torch::Tensor& find(const std::map<std::string, torch::Tensor>& dict, const std::string& key,
                          const std::string& what) {
  const auto it = dict.find(key);
  if (it == dict.end() || !it->second.defined())
    throw core::InputError(core::describe(what + " '" + key + "' is missing", kWhere));
  return it->second;
}

/// A contiguous float64 CPU copy of `tensor`, checked to have `shape`.
torch::Tensor as_double(const torch::Tensor& tensor, std::vector<std::int64_t> shape, const std::string& what) {
  if (tensor.sizes().vec() != shape) {
    std::string expected, found;
    for (auto d : shape) expected += (expected.empty() ? "" : "x") + std::to_string(d);
    for (auto d : tensor.sizes()) found += (found.empty() ? "" : "x") + std::to_string(d);
    throw core::InputError(core::describe(what + " has shape " + found + ", expected " + expected, kWhere));
  }
  return tensor.detach().to(torch::kCPU, torch::kFloat64).contiguous();
}

}  // namespace

torch::Tensor biases_tensor(BoltzmannMachine& machine) {
  return torch::from_blob(machine.biases(), {machine.num_nodes()}, torch::kFloat64);
}

torch::Tensor weights_tensor(BoltzmannMachine& machine) {
  return torch::from_blob(machine.weights(), {machine.num_couplers()}, torch::kFloat64);
}

DenseModel to_dense(const BoltzmannMachine& machine, torch::Dtype dtype) {
  const int k = machine.partitions();
  require_digits(k);
  DenseModel dense;
  for (int p = 0; p < k; ++p) {
    const auto& nodes = machine.partition_nodes(p);
    torch::Tensor bias = torch::empty({static_cast<std::int64_t>(nodes.size())}, torch::kFloat64);
    double* out = bias.data_ptr<double>();
    for (std::size_t i = 0; i < nodes.size(); ++i) out[i] = machine.biases()[nodes[i]];
    dense.biases[std::to_string(p)] = bias.to(dtype);
  }
  std::map<std::string, torch::Tensor> weights, masks;
  for (int p = 0; p < k; ++p)
    for (int q = p + 1; q < k; ++q) {
      weights[pair_key(p, q)] = torch::zeros({machine.partition_size(p), machine.partition_size(q)}, torch::kFloat64);
      masks[pair_key(p, q)] = torch::zeros({machine.partition_size(p), machine.partition_size(q)}, torch::kFloat64);
    }
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) {
    auto [i, j] = machine.couplers()[static_cast<std::size_t>(e)];
    if (machine.partition_of(i) > machine.partition_of(j)) std::swap(i, j);  // rows: the lower partition
    const std::string key = pair_key(machine.partition_of(i), machine.partition_of(j));
    const std::int64_t row = machine.position_in_partition(i), col = machine.position_in_partition(j);
    const std::int64_t columns = machine.partition_size(machine.partition_of(j));
    weights[key].data_ptr<double>()[row * columns + col] = machine.weights()[e];
    masks[key].data_ptr<double>()[row * columns + col] = 1.0;
  }
  for (auto& [key, tensor] : weights) dense.weights[key] = tensor.to(dtype);
  for (auto& [key, tensor] : masks) dense.masks[key] = tensor.to(dtype);
  return dense;
}

void from_dense(BoltzmannMachine& machine, const DenseModel& dense) {
  const int k = machine.partitions();
  require_digits(k);
  std::vector<double> biases(machine.biases(), machine.biases() + machine.num_nodes());
  for (int p = 0; p < k; ++p) {
    const auto& nodes = machine.partition_nodes(p);
    const torch::Tensor bias =
        as_double(find(dense.biases, std::to_string(p), "bias vector"), {static_cast<std::int64_t>(nodes.size())},
                  "bias vector '" + std::to_string(p) + "'");
    for (std::size_t i = 0; i < nodes.size(); ++i) biases[nodes[i]] = bias.data_ptr<double>()[i];
  }
  std::map<std::string, torch::Tensor> weights, coupled;
  for (int p = 0; p < k; ++p)
    for (int q = p + 1; q < k; ++q) {
      const std::string key = pair_key(p, q);
      const std::vector<std::int64_t> shape{machine.partition_size(p), machine.partition_size(q)};
      weights[key] = as_double(find(dense.weights, key, "weight matrix"), shape, "weight matrix '" + key + "'");
      coupled[key] = torch::zeros(shape, torch::kFloat64);
    }
  std::vector<double> values(static_cast<std::size_t>(machine.num_couplers()));
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) {
    auto [i, j] = machine.couplers()[static_cast<std::size_t>(e)];
    if (machine.partition_of(i) > machine.partition_of(j)) std::swap(i, j);
    const std::string key = pair_key(machine.partition_of(i), machine.partition_of(j));
    const std::int64_t index = machine.position_in_partition(i) * machine.partition_size(machine.partition_of(j)) +
                               machine.position_in_partition(j);
    values[static_cast<std::size_t>(e)] = weights[key].data_ptr<double>()[index];
    coupled[key].data_ptr<double>()[index] = 1.0;
  }
  for (const auto& [key, mask] : dense.masks) {
    const auto it = coupled.find(key);
    if (it == coupled.end())
      throw core::InputError(core::describe("mask '" + key + "' names no partition pair of the machine", kWhere));
    const torch::Tensor given =
        as_double(mask, it->second.sizes().vec(), "mask '" + key + "'").ne(0).to(torch::kFloat64);
    if (!torch::equal(given, it->second))
      throw core::InputError(
          core::describe("mask '" + key + "' differs from the machine's couplers between partitions " +
                             key.substr(0, 1) + " and " + key.substr(1, 1),
                         kWhere, "build the machine from the same graph, or use machine_from_dense"));
  }
  std::copy(biases.begin(), biases.end(), machine.biases());
  std::copy(values.begin(), values.end(), machine.weights());
}

BoltzmannMachine machine_from_dense(const DenseModel& dense, const std::string& topology,
                                    const std::string& description) {
  const int k = static_cast<int>(dense.biases.size());
  if (k < 1) throw core::InputError(core::describe("the dense model has no bias vectors", kWhere));
  require_digits(k);
  graph::PartitionedGraph graph;
  graph.topology = topology;
  graph.description = description;
  graph.partitions = k;
  std::vector<std::int64_t> first(static_cast<std::size_t>(k) + 1, 0), sizes(static_cast<std::size_t>(k));
  for (int p = 0; p < k; ++p) {
    const torch::Tensor& bias = find(dense.biases, std::to_string(p), "bias vector");
    if (bias.dim() != 1)
      throw core::InputError(core::describe("bias vector '" + std::to_string(p) + "' is not 1-D", kWhere));
    sizes[static_cast<std::size_t>(p)] = bias.size(0);
    first[static_cast<std::size_t>(p) + 1] = first[static_cast<std::size_t>(p)] + bias.size(0);
    graph.partition.insert(graph.partition.end(), static_cast<std::size_t>(bias.size(0)), p);
  }
  for (int p = 0; p < k; ++p)
    for (int q = p + 1; q < k; ++q) {
      const std::string key = pair_key(p, q);
      const torch::Tensor mask =
          as_double(find(dense.masks, key, "mask"),
                    {sizes[static_cast<std::size_t>(p)], sizes[static_cast<std::size_t>(q)]}, "mask '" + key + "'");
      const double* m = mask.data_ptr<double>();
      for (std::int64_t r = 0; r < mask.size(0); ++r)
        for (std::int64_t c = 0; c < mask.size(1); ++c)
          if (m[r * mask.size(1) + c] != 0.0)
            graph.couplers.push_back({first[static_cast<std::size_t>(p)] + r, first[static_cast<std::size_t>(q)] + c});
    }
  std::sort(graph.couplers.begin(), graph.couplers.end());
  BoltzmannMachine machine(std::move(graph), kWhere);
  from_dense(machine, dense);
  return machine;
}

}  // namespace qvae::rbm
