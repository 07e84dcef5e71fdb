// qvae rbm: create and inspect K-partite Boltzmann machines (qvae-rbm files,
// docs/formats.md).  `init` selects the partitions on a hardware graph
// (graph::select_partitioned, docs/rbm.md) and initialises the
// parameters; every rank builds the same model and the file is written
// collectively.  `info` summarises a file.
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/train/model_exports.hpp"

namespace qvae::cli {
namespace {

nlohmann::json describe_machine(const rbm::BoltzmannMachine& machine) {
  std::vector<std::int64_t> sizes;
  for (int p = 0; p < machine.partitions(); ++p) sizes.push_back(machine.partition_size(p));
  return {{"topology", machine.graph().topology},
          {"description", machine.graph().description},
          {"nodes", machine.num_nodes()},
          {"couplers", machine.num_couplers()},
          {"partitions", machine.partitions()},
          {"partition_sizes", sizes},
          {"has_qubits", !machine.graph().qubits.empty()}};
}

int rbm_init(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  graph::SelectionRequest request;
  std::string out, init;
  double sigma = 0;
  const std::uint64_t seed = values.count("seed") ? values["seed"].as<std::uint64_t>() : cli.run().seed;
  std::optional<rbm::BoltzmannMachine> machine;
  par::run_agreed(comm, [&] {
    if (!values.count("out"))
      throw core::UsageError(core::describe("no output file given", "qvae rbm init", "pass --out FILE"));
    if (!values.count("nodes-per-partition"))
      throw core::UsageError(core::describe("--nodes-per-partition is required", "qvae rbm init",
                                            "e.g. --nodes-per-partition 302 (the reference model)"));
    out = values["out"].as<std::string>();
    init = values["init"].as<std::string>();
    sigma = values["sigma"].as<double>();
    if (init != "normal" && init != "zeros")
      throw core::UsageError(core::describe("unknown --init '" + init + "'", "qvae rbm init", "use normal or zeros"));
    if (!(sigma >= 0) || !std::isfinite(sigma))
      throw core::UsageError(core::describe("--sigma must be a finite number >= 0", "qvae rbm init"));
    request.topology = values["topology"].as<std::string>();
    request.size = values["size"].as<int>();
    request.t = values["t"].as<int>();
    request.full = values["full"].as<bool>();
    request.scheme = values["scheme"].as<std::string>();
    request.nodes_per_partition = values["nodes-per-partition"].as<int>();
    if (request.nodes_per_partition < 1)
      throw core::UsageError(core::describe("--nodes-per-partition must be >= 1", "qvae rbm init"));
    machine.emplace(graph::select_partitioned(request), "the selected graph");
    if (init == "normal") machine->init_normal(sigma, seed);
  });
  rbm::write_rbm(out, *machine, comm, io::Provenance{context.command_line, seed, cli.config_ini()});
  nlohmann::json summary = describe_machine(*machine);
  summary["out"] = out;
  summary["init"] = init;
  summary["sigma"] = init == "normal" ? sigma : 0.0;
  summary["seed"] = seed;
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "rbm init: %s (%lld nodes, %lld couplers, init %s) -> %s\n",
                 machine->graph().description.c_str(), static_cast<long long>(machine->num_nodes()),
                 static_cast<long long>(machine->num_couplers()), init.c_str(), out.c_str());
  return 0;
}

int rbm_export(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  std::string model, out;
  par::run_agreed(comm, [&] {
    if (!values.count("model"))
      throw core::UsageError(core::describe("no trained model given", "qvae rbm export", "pass --model RUN/best.h5"));
    if (!values.count("out"))
      throw core::UsageError(core::describe("no output file given", "qvae rbm export", "pass --out FILE"));
    model = values["model"].as<std::string>();
    out = values["out"].as<std::string>();
    io::refuse_overwriting_inputs(out, {train::checkpoint_path(model)});
  });
  const rbm::BoltzmannMachine machine = train::trained_prior(model, schema(), comm);
  rbm::write_rbm(out, machine, comm, io::Provenance{context.command_line, cli.run().seed, cli.config_ini()});
  nlohmann::json summary = describe_machine(machine);
  summary["out"] = out;
  summary["model"] = train::checkpoint_path(model);
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "rbm export: the prior of %s (%lld nodes, %lld couplers) -> %s\n",
                 summary["model"].get<std::string>().c_str(), static_cast<long long>(machine.num_nodes()),
                 static_cast<long long>(machine.num_couplers()), out.c_str());
  return 0;
}

int rbm_info(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  std::optional<rbm::BoltzmannMachine> machine;
  std::int64_t chains = 0;
  std::string path;
  par::run_agreed(comm, [&] {
    if (!values.count("rbm"))
      throw core::UsageError(core::describe("no model file given", "qvae rbm info", "pass --rbm FILE"));
    path = values["rbm"].as<std::string>();
    machine.emplace(rbm::read_rbm(path, comm));
    const io::File file = io::File::open_parallel(path, comm);
    if (file.has("chains")) chains = io::dataset_shape(file, "chains").rows();
  });
  nlohmann::json summary = describe_machine(*machine);
  summary["rbm"] = path;
  summary["chains"] = chains;
  double bias_square = 0, weight_square = 0;
  for (std::int64_t i = 0; i < machine->num_nodes(); ++i) bias_square += machine->biases()[i] * machine->biases()[i];
  for (std::int64_t e = 0; e < machine->num_couplers(); ++e)
    weight_square += machine->weights()[e] * machine->weights()[e];
  summary["bias_rms"] = machine->num_nodes() ? std::sqrt(bias_square / static_cast<double>(machine->num_nodes())) : 0.0;
  summary["weight_rms"] =
      machine->num_couplers() ? std::sqrt(weight_square / static_cast<double>(machine->num_couplers())) : 0.0;
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr, "%s: %s, %lld nodes in %d partitions, %lld couplers, %lld stored chains\n", path.c_str(),
                 machine->graph().description.c_str(), static_cast<long long>(machine->num_nodes()),
                 machine->partitions(), static_cast<long long>(machine->num_couplers()),
                 static_cast<long long>(chains));
  return 0;
}

}  // namespace

void declare_rbm_options(po::options_description& options) {
  options.add_options()("action", po::value<std::string>(), "init | info | export")(
      "topology", po::value<std::string>()->default_value("pegasus"), "init: chimera | pegasus | zephyr")(
      "size", po::value<int>()->default_value(16), "init: graph size m")("t", po::value<int>()->default_value(4),
                                                                         "init: shore size (chimera, zephyr)")(
      "full", po::bool_switch(), "init: pegasus full graph instead of fabric-only")(
      "scheme", po::value<std::string>()->default_value(""),
      "init: region | four_color | checkerboard (default: by topology)")("nodes-per-partition", po::value<int>(),
                                                                         "init: nodes per partition")(
      "init", po::value<std::string>()->default_value("normal"), "init: normal | zeros")(
      "sigma", po::value<double>()->default_value(1.0), "init: standard deviation of the normal init")(
      "seed", po::value<std::uint64_t>(), "init: seed (default: run.seed)")("out", po::value<std::string>(),
                                                                            "init, export: output qvae-rbm file")(
      "rbm", po::value<std::string>(), "info: the qvae-rbm file")("model", po::value<std::string>(),
                                                                  "export: a training checkpoint or run directory");
}

int run_rbm(Context& context) {
  CommandLine cli("rbm",
                  "qvae rbm init --topology T --size M [--t T] [--full] [--scheme S] --nodes-per-partition n\n"
                  "              [--init normal|zeros] [--sigma s] [--seed S] --out FILE [--json]\n"
                  "       qvae rbm info --rbm FILE [--json]\n"
                  "       qvae rbm export --model RUN/best.h5 --out FILE [--json]",
                  "K-partite Boltzmann machines in qvae-rbm files (docs/formats.md).\n"
                  "  init  selects n nodes per partition on a hardware graph (pegasus: the region\n"
                  "        scheme of the reference models by default), couplers = the graph's edges\n"
                  "        between partitions; biases and weights ~ N(0, sigma^2) keyed by (seed,\n"
                  "        parameter index), or zeros.\n"
                  "  info  prints nodes, couplers, partition sizes, stored chains and parameter scales.\n"
                  "  export  writes the trained prior of a `qvae train` checkpoint (or a run\n"
                  "        directory's best.h5) as a qvae-rbm file, for logz, ll, sample and dwave.");
  declare_rbm_options(cli.options());
  cli.positional().add("action", 1);
  if (!cli.parse(context)) return 0;
  const std::string action = cli.values().count("action") ? cli.values()["action"].as<std::string>() : "";
  par::run_agreed(context.world, [&] {
    if (action != "init" && action != "info" && action != "export")
      throw core::UsageError(core::describe(action.empty() ? "no action given" : "unknown action '" + action + "'",
                                            "qvae rbm", "use `qvae rbm init`, `info` or `export`"));
  });
  if (action == "export") return rbm_export(context, cli);
  return action == "init" ? rbm_init(context, cli) : rbm_info(context, cli);
}

}  // namespace qvae::cli
