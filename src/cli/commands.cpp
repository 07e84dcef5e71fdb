#include "cli.hpp"
#include "command_settings.hpp"
#include "qvae/classifier/settings.hpp"
#include "qvae/dwave/settings.hpp"
#include "qvae/model/config.hpp"
#include "qvae/sim/gflash.hpp"
#include "qvae/train/config.hpp"

namespace qvae::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"simulate", "generate GFlash-style calorimeter showers into a CaloChallenge file", run_simulate,
       declare_simulate_options},
      {"inspect", "validate and summarise a CaloChallenge shower file", run_inspect, declare_inspect_options},
      {"graph", "build Chimera/Pegasus/Zephyr graphs and 4-partite selections", run_graph, declare_graph_options},
      {"rbm", "create and convert K-partite Boltzmann machines", run_rbm, declare_rbm_options, "rbm_init"},
      {"sample", "sample an RBM prior (Gibbs, annealing, D-Wave)", run_sample, declare_sample_options},
      {"logz", "estimate the partition function (exact, AIS, reverse AIS, RAISE)", run_logz, declare_logz_options},
      {"ll", "the log-likelihood table of a trained vs random prior", run_ll, declare_ll_options},
      {"train", "data-parallel QVAE training with checkpoints and resume", run_train},
      {"generate", "generate showers from a trained QVAE", run_generate, declare_generate_options},
      {"encode", "latent codes of showers under a trained QVAE (for ll, logz)", run_encode, declare_encode_options},
      {"evaluate", "CaloChallenge metrics, histograms and plots", run_evaluate, declare_evaluate_options},
      {"dwave", "D-Wave sampling and effective-temperature estimation", run_dwave, declare_dwave_options},
      {"gof", "Stein goodness of fit of binary samples to a Boltzmann machine (KDSD)", run_gof, declare_gof_options},
      {"sweep", "hyper-parameter sweeps as Slurm job arrays (plan, collect)", run_sweep, declare_sweep_options},
      {"bench", "benchmarks: io, simulate, gibbs, logz, train", run_bench, declare_bench_options},
      {"config", "show the resolved configuration", run_config},
      {"version", "versions of qvae and of MPI, LibTorch, HDF5, Kokkos", run_version},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const Command& command : commands())
    if (command.name == name) return &command;
  return nullptr;
}

const core::ConfigSchema& schema() {
  static const core::ConfigSchema instance = [] {
    core::ConfigSchema s;
    core::add_run_keys(s);
    sim::add_sim_keys(s);
    model::add_model_keys(s);
    train::add_train_keys(s);
    dwave::add_dwave_keys(s);
    classifier::add_classifier_keys(s);
    // The train command's options override [train] keys of the same meaning; it declares no settings.
    for (const Command& command : commands()) {
      if (!command.declare_options) continue;
      po::options_description options;
      command.declare_options(options);
      for (OptionSetting& setting : option_settings(command.section(), options)) s.add(std::move(setting.key));
    }
    return s;
  }();
  return instance;
}

}  // namespace qvae::cli
