#include "cli.hpp"
#include "qvae/classifier/settings.hpp"
#include "qvae/dwave/settings.hpp"
#include "qvae/model/config.hpp"
#include "qvae/train/config.hpp"
#include "qvae/sim/gflash.hpp"

namespace qvae::cli {

const std::vector<Command>& commands() {
  // A command without a function is listed but answers "not built yet" (exit 2).
  static const std::vector<Command> table = {
      {"simulate", "generate GFlash-style calorimeter showers into a CaloChallenge file", run_simulate},
      {"inspect", "validate and summarise a CaloChallenge shower file", run_inspect},
      {"graph", "build Chimera/Pegasus/Zephyr graphs and 4-partite selections", run_graph},
      {"rbm", "create and convert K-partite Boltzmann machines", run_rbm},
      {"sample", "sample an RBM prior (Gibbs, annealing, D-Wave)", run_sample},
      {"logz", "estimate the partition function (exact, AIS, reverse AIS, RAISE)", run_logz},
      {"ll", "the log-likelihood table of a trained vs random prior", run_ll},
      {"train", "data-parallel QVAE training with checkpoints and resume", run_train},
      {"generate", "generate showers from a trained QVAE", run_generate},
      {"encode", "latent codes of showers under a trained QVAE (for ll, logz)", run_encode},
      {"evaluate", "CaloChallenge metrics, histograms and plots", run_evaluate},
      {"dwave", "D-Wave sampling and effective-temperature estimation", run_dwave},
      {"gof", "Stein goodness of fit of binary samples to a Boltzmann machine (KDSD)", run_gof},
      {"sweep", "hyper-parameter sweeps as Slurm job arrays (plan, collect)", run_sweep},
      {"bench", "benchmarks: io, simulate, gibbs, logz, train", run_bench},
      {"config", "show the resolved configuration", run_config},
      {"version", "versions of qvae and of MPI, LibTorch, HDF5, Kokkos", run_version},
  };
  return table;
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
    return s;
  }();
  return instance;
}

}  // namespace qvae::cli
