// qvae bench gibbs: block-Gibbs unit updates per second of a 4-partite
// Boltzmann machine on a hardware graph (default: Pegasus P16, region scheme,
// 302 nodes per partition: the reference model).  Chains are spread over ranks
// in contiguous blocks; the rate is all updates over the slowest rank's time.
// Options are declared in cmd_bench.cpp; results in docs/performance.md.
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/resource_usage.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/rbm/sampler.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/rbm/torch_sampler.hpp"

namespace qvae::cli {
namespace {

using core::process_cpu_seconds;

}  // namespace

int bench_gibbs(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  const std::int64_t chains = values["chains"].as<std::int64_t>();
  const std::int64_t sweeps = values["sweeps"].as<std::int64_t>();
  const std::string backend = values["backend"].as<std::string>();
  graph::SelectionRequest request;
  request.topology = values["topology"].as<std::string>();
  request.size = values["size"].as<int>();
  request.nodes_per_partition = values["nodes-per-partition"].as<int>();
  request.scheme = "";  // the topology's default (pegasus: region, as the reference models)
  std::optional<rbm::BoltzmannMachine> machine;
  std::string device = "cpu";
  const int node_rank = comm.node_rank();
  par::run_agreed(comm, [&] {
    device = rbm::resolve_device(compute_device_of(values), node_rank, "--device");
    if (device != "cpu" && backend != "torch")
      throw core::UsageError(
          core::describe("--device " + device + " needs the torch backend", "qvae bench gibbs", "add --backend torch"));
    if (chains < 1 || sweeps < 1 || request.nodes_per_partition < 1)
      throw core::UsageError(
          core::describe("--chains, --sweeps and --nodes-per-partition must be >= 1", "qvae bench gibbs"));
    if (backend != "kokkos" && backend != "torch")
      throw core::UsageError(
          core::describe("unknown backend '" + backend + "'", "qvae bench gibbs --backend", "use kokkos or torch"));
    machine.emplace(graph::select_partitioned(request), "the selected graph");
    machine->init_normal(1.0, cli.run().seed);
  });
  rbm::SamplerFactory factory = rbm::make_kokkos_sampler;
  if (backend == "torch") {
    rbm::limit_torch_threads(1);  // per core: one rank, one thread
    factory = [device](const rbm::BoltzmannMachine& m, const rbm::SamplerSettings& s) {
      return rbm::make_torch_sampler_on(device, m, s);
    };
  }
  rbm::SamplerSettings settings;
  settings.seed = cli.run().seed;
  std::unique_ptr<rbm::Sampler> sampler = factory(*machine, settings);
  const par::Block mine = par::my_block(chains, comm);
  sampler->set_chains(rbm::random_chains(machine->num_nodes(), settings.seed, mine.offset, mine.count));
  sampler->sweep(1);  // warm-up: first-touch of buffers, BLAS set-up
  comm.barrier();
  const core::Stopwatch t0;
  const double cpu0 = process_cpu_seconds();
  sampler->sweep(sweeps);
  const double cpu_seconds = comm.sum(process_cpu_seconds() - cpu0);
  const double seconds = comm.max(t0.seconds());
  const double updates =
      static_cast<double>(chains) * static_cast<double>(sweeps) * static_cast<double>(machine->num_nodes());
  const rbm::MemoryUse memory = sampler->memory_use();
  std::vector<std::int64_t> sizes;
  for (int p = 0; p < machine->partitions(); ++p) sizes.push_back(machine->partition_size(p));
  const nlohmann::json summary = {
      {"benchmark", "gibbs"},
      {"backend", backend},
      {"device", device},
      {"kernel_isa", backend == "kokkos" ? rbm::host_kernel_isa()
                     : device == "cpu"   ? std::string("blas")
                                         : device},
      {"topology", machine->graph().topology},
      {"model", machine->graph().description},
      {"nodes_per_partition", request.nodes_per_partition},
      {"partition_sizes", sizes},
      {"nodes", machine->num_nodes()},
      {"couplers", machine->num_couplers()},
      {"chains", chains},
      {"sweeps", sweeps},
      {"ranks", comm.size()},
      {"seconds", seconds},
      {"unit_updates_per_s", updates / seconds},
      {"unit_updates_per_s_per_rank", updates / seconds / comm.size()},
      // Core-nanoseconds per update: equal for 1 and P ranks under perfect scaling.
      {"ns_per_unit_update", 1e9 * seconds * comm.size() / updates},
      // The same from the CPU time the ranks got (robust to other load on the machine).
      {"cpu_seconds", cpu_seconds},
      {"ns_per_unit_update_cpu", 1e9 * cpu_seconds / updates},
      {"bytes_per_chain", memory.bytes_per_chain},
      {"model_bytes", memory.model_bytes},
  };
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr,
                 "bench gibbs: %s backend, %s (%lld couplers), %lld chains x %lld sweeps on %d rank(s): %.3g unit "
                 "updates/s, %.2f ns per update per core\n",
                 backend.c_str(), machine->graph().description.c_str(), static_cast<long long>(machine->num_couplers()),
                 static_cast<long long>(chains), static_cast<long long>(sweeps), comm.size(),
                 summary["unit_updates_per_s"].get<double>(), summary["ns_per_unit_update"].get<double>());
  return 0;
}

}  // namespace qvae::cli
