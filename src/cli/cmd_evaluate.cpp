// qvae evaluate: CaloChallenge metrics of a generated shower file against a
// reference (docs/evaluation.md, "The metrics"): histograms and separation powers,
// incident-energy-conditional histograms, FPD/KPD; with --model/--data also
// the model-side metrics (RBM energies of encoded data vs Gibbs samples,
// reconstruction errors); with --classifier the classifier two-sample test
// (AUC, JSD, ROC curve).  Writes DIR/metrics.json and DIR/histograms.h5
// (docs/formats.md); tools/plot_report.py DIR draws them.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>

#include "cli.hpp"
#include "qvae/classifier/classifier.hpp"
#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/lists.hpp"
#include "qvae/eval/evaluation.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/train/model_metrics.hpp"

namespace qvae::cli {
namespace {

std::vector<double> parse_edges(const std::string& text) {
  return core::parse_list<double>(text, "qvae evaluate --energy-edges",
                                  "write MeV values, e.g. --energy-edges 1e3,1e4,1e5,1e6");
}

/// The histograms and statistics of the model-side per-shower values (each rank
/// holds all of them, in event order, so every rank gets the same result).
eval::ModelComparison compare_model_side(train::ModelMetricsSamples samples, const std::string& data_path,
                                         const train::ModelMetricsRequest& request) {
  eval::ModelComparison m;
  m.model_path = samples.model_path;
  m.data_path = data_path;
  m.events = samples.events;
  m.chains = static_cast<std::int64_t>(samples.gibbs_energies.size());
  m.gibbs_sweeps = request.gibbs_sweeps;
  m.seed = request.seed;
  m.partition0_clamped = samples.partition0_clamped;
  m.rbm_energy = eval::compare_rbm_energies(samples.encoded_energies, samples.gibbs_energies);
  eval::ReconstructedShowers showers;
  showers.incident_energies = std::move(samples.incident_energies);
  showers.etot_data = std::move(samples.etot_data);
  showers.etot_reconstruction = std::move(samples.etot_reconstruction);
  showers.squared_error = std::move(samples.squared_error);
  m.reconstruction = eval::compare_reconstruction(showers);
  m.seconds_encode = samples.seconds_encode;
  m.seconds_gibbs = samples.seconds_gibbs;
  return m;
}

void print_summary(const eval::Evaluation& ev, const nlohmann::json& metrics, const std::string& out_dir) {
  std::fprintf(stderr, "evaluate: %s vs %s: %lld reference, %lld generated %s showers (%d rank(s), %.1f s)\n",
               ev.generated_path.c_str(), ev.reference_path.c_str(), static_cast<long long>(ev.events_reference),
               static_cast<long long>(ev.events_generated), ev.geometry.c_str(), ev.ranks, ev.seconds_total);
  std::fprintf(stderr, "  separation power S (finite-sample floor):\n");
  for (const char* name : {"etot_over_einc", "e_tot", "sparsity_total", "voxel_energy"}) {
    const auto& s = metrics["separation_power"][name];
    if (s["value"].is_null()) continue;
    std::fprintf(stderr, "    %-20s %.5f  (floor %.5f)\n", name, s["value"].get<double>(), s["floor"].get<double>());
  }
  for (const auto& [family, f] : metrics["separation_power_by_family"].items()) {
    if (f["features"].get<int>() < 2 || f["max"].is_null()) continue;
    std::fprintf(stderr, "    %-20s mean %.5f over %d layers (floor %.5f), max %.5f in %s\n", family.c_str(),
                 f["mean"].get<double>(), f["features"].get<int>(), f["mean_floor"].get<double>(),
                 f["max"].get<double>(), f["max_feature"].get<std::string>().c_str());
  }
  for (const char* name : {"fpd", "kpd"}) {
    const auto& d = metrics[name];
    if (d["value"].is_null()) continue;
    std::fprintf(stderr, "  %s x 10^3: %.4f +- %.4f%s\n", name, d["value"].get<double>(),
                 d["error"].is_null() ? 0.0 : d["error"].get<double>(),
                 d.value("reduced", false) ? "  (reduced sizes, see metrics.json)" : "");
  }
  if (ev.model) {
    const eval::EnergyComparison& e = ev.model->rbm_energy;
    const eval::ReconstructionComparison& r = ev.model->reconstruction;
    std::fprintf(stderr, "  model %s on %lld showers of %s:\n", ev.model->model_path.c_str(),
                 static_cast<long long>(ev.model->events), ev.model->data_path.c_str());
    std::fprintf(stderr,
                 "    RBM energy: encoded %.4g +- %.4g, Gibbs (%lld chains x %d sweeps) %.4g +- %.4g, overlap %.4f\n",
                 e.mean_encoded, e.std_encoded, static_cast<long long>(e.count_gibbs), ev.model->gibbs_sweeps,
                 e.mean_gibbs, e.std_gibbs, e.overlap);
    std::fprintf(stderr,
                 "    reconstruction: MSE %.5g +- %.5g MeV^2, E_tot relative error %.4g +- %.4g, "
                 "E_tot/E_inc chi2 %.4g over %d bins\n",
                 r.mse_mean, r.mse_std, r.etot_relative_error_mean, r.etot_relative_error_std, r.chi2.value,
                 r.chi2.occupied_bins);
  }
  for (const eval::ClassifierResult& c : ev.classifiers)
    std::fprintf(stderr,
                 "  classifier (%s, %d inputs, %lld validation showers per class): AUC %.4f, JSD %.4f "
                 "(uncalibrated AUC %.4f), best epoch %d of %d\n",
                 c.inputs.c_str(), c.features, static_cast<long long>(c.validation_per_class), c.auc, c.jsd,
                 c.auc_uncalibrated, c.best_epoch, c.epochs_run);
  std::fprintf(stderr, "  wrote %s/metrics.json and %s/histograms.h5; plot with tools/plot_report.py %s\n",
               out_dir.c_str(), out_dir.c_str(), out_dir.c_str());
}

}  // namespace

void declare_evaluate_options(po::options_description& options) {
  options.add_options()("reference", po::value<std::string>(), "reference CaloChallenge file (defines the binnings)")(
      "generated", po::value<std::string>(), "generated CaloChallenge file")("out", po::value<std::string>(),
                                                                             "output directory")(
      "seed", po::value<std::uint64_t>()->default_value(42),
      "seed of the FPD/KPD resampling (JetNet's default: 42) and of the --model Gibbs chains")(
      "energy-bins", po::value<int>()->default_value(5), "incident-energy bins, log-spaced over the reference's range")(
      "energy-edges", po::value<std::string>(), "explicit incident-energy bin edges in MeV, comma-separated")(
      "min-energy", po::value<double>(), "readout threshold in MeV (default: 0.01515 for ds2/ds3, 1 for ds1)")(
      "geometry", po::value<std::string>()->default_value(""),
      "ds1-photons | ds1-pions | ds2 | ds3 (default: from the files)")(
      "chunk-rows", po::value<std::int64_t>()->default_value(1024), "showers read per rank per step")(
      "sums", po::value<std::string>()->default_value("numpy"),
      "numpy: features summed as evaluate.py's numpy code does (float32 layer sums in numpy's pairwise order; "
      "separation powers equal evaluate.py's); float64: double sums in voxel order")(
      "fpd-min-samples", po::value<std::int64_t>()->default_value(10000), "smallest FPD batch (evaluate.py: 10000)")(
      "fpd-max-samples", po::value<std::int64_t>()->default_value(50000), "largest FPD batch (JetNet: 50000)")(
      "fpd-points", po::value<int>()->default_value(10), "FPD batch sizes, evenly spaced in 1/N")(
      "fpd-resamples", po::value<int>()->default_value(20), "Fréchet distances averaged per batch size")(
      "kpd-batch-size", po::value<std::int64_t>()->default_value(10000), "KPD batch size (evaluate.py: 10000)")(
      "kpd-batches", po::value<int>()->default_value(10), "KPD batches")("no-fpd", po::bool_switch(), "skip FPD")(
      "no-kpd", po::bool_switch(), "skip KPD")("model", po::value<std::string>(),
                                               "trained model (RUN/best.h5 or RUN): RBM energies, reconstruction")(
      "data", po::value<std::string>(), "CaloChallenge showers to encode with --model")(
      "data-events", po::value<std::int64_t>(), "encode the first N showers of --data (default: all)")(
      "gibbs-sweeps", po::value<int>()->default_value(1000), "Gibbs sweeps per prior chain, from a random start")(
      "gibbs-chains", po::value<std::int64_t>(), "prior chains (default: one per encoded shower)")(
      "model-chunk-events", po::value<std::int64_t>()->default_value(256), "showers (chains) per forward pass")(
      "threads", po::value<int>()->default_value(0), "LibTorch threads per rank for --model (0 = default)")(
      "classifier", po::value<std::string>(), "classifier test on low | high | both inputs ([classifier] keys)");
  add_compute_device_option(options, "--model's networks and prior chains");
}

int run_evaluate(Context& context) {
  CommandLine cli("evaluate",
                  "qvae evaluate --reference FILE --generated FILE --out DIR [--model RUN/best.h5 --data FILE]\n"
                  "              [--seed S] [--energy-bins K] [--classifier low|high|both] [options] [--json]",
                  "Compares a generated CaloChallenge shower file with a reference one, as CaloChallenge's\n"
                  "evaluate.py does (docs/formats.md, \"metrics v1\" and \"histograms v1\"):\n"
                  "  * per-shower features (E_tot, E_tot/E_inc, E_layer, centres and widths in eta, phi and r,\n"
                  "    sparsity per layer, voxel spectrum) after zeroing voxels below --min-energy;\n"
                  "  * histograms with CaloChallenge's binnings and the separation power S of each, quoted\n"
                  "    next to its finite-sample floor n_occupied (1/N_ref + 1/N_gen) / 4;\n"
                  "  * E_tot/E_inc, E_tot and sparsity per incident-energy bin (--energy-bins log bins);\n"
                  "  * FPD and KPD (x 10^3, JetNet's definitions) on the 'cls-high' feature vector.\n"
                  "Files smaller than the FPD/KPD sample sizes are evaluated with smaller batches, and\n"
                  "metrics.json says so (\"reduced\": true).  Writes DIR/metrics.json and DIR/histograms.h5\n"
                  "(DIR is created); `tools/plot_report.py DIR` renders PNGs and DIR/index.html.\n"
                  "With --model (a checkpoint of `qvae train`) and --data (showers of its geometry), each\n"
                  "shower is encoded (z ~ Bernoulli(sigmoid(logit))) and decoded with Bernoulli hits, every\n"
                  "draw keyed by (--seed, event): RBM energies E(z) of the codes are compared with those of Gibbs\n"
                  "chains of the prior (partition 0 clamped to each shower's energy code when the prior\n"
                  "is conditioned), and the per-shower MSE, E_tot relative error and E_tot/E_inc chi^2\n"
                  "of the reconstruction are reported (metrics.json \"rbm_energy\", \"reconstruction\").\n"
                  "With --classifier, CaloChallenge's classifier two-sample test: a network learns to tell\n"
                  "reference from generated showers on 'low' (log10 E_inc, voxels/E_inc) and/or 'high' (the\n"
                  "cls-high vector) inputs; the calibrated AUC (0.5: indistinguishable) and JSD on held-out\n"
                  "showers go to metrics.json \"classifier\", the ROC curve to histograms.h5.  Its settings\n"
                  "are the [classifier] config keys (`qvae config show`), evaluate.py's values by default.\n"
                  "The result is the same for any number of MPI ranks (the classifier's to rounding).");
  declare_evaluate_options(cli.options());
  if (!cli.parse(context)) return 0;
  const auto& vm = cli.values();
  const par::Communicator& comm = context.world;

  eval::EvaluationSettings settings;
  std::string reference, generated, out_dir;
  const bool with_model = vm.count("model") || vm.count("data");
  train::ModelMetricsRequest model_request;
  std::vector<eval::ClassifierInputs> classifier_inputs;
  classifier::ClassifierSettings classifier_settings;
  const int node_rank = comm.node_rank();
  par::run_agreed(comm, [&] {
    if (vm.count("model") != vm.count("data"))
      throw core::UsageError(core::describe(std::string(vm.count("model") ? "--data" : "--model") + " is missing",
                                            "qvae evaluate --model/--data",
                                            "pass both: --model RUN/best.h5 --data SHOWERS.h5"));
    for (const char* required : {"reference", "generated", "out"})
      if (!vm.count(required))
        throw core::UsageError(core::describe(std::string("--") + required + " is missing", "qvae evaluate",
                                              "usage: qvae evaluate --reference FILE --generated FILE --out DIR"));
    reference = vm["reference"].as<std::string>();
    generated = vm["generated"].as<std::string>();
    out_dir = vm["out"].as<std::string>();
    settings.geometry_name = vm["geometry"].as<std::string>();
    settings.energy_bins = vm["energy-bins"].as<int>();
    if (vm.count("energy-edges")) settings.energy_edges = parse_edges(vm["energy-edges"].as<std::string>());
    if (vm.count("min-energy")) {
      settings.min_energy = vm["min-energy"].as<double>();
      if (!(settings.min_energy >= 0))
        throw core::UsageError(core::describe("--min-energy must be >= 0 MeV", "qvae evaluate"));
    }
    settings.chunk_rows = vm["chunk-rows"].as<std::int64_t>();
    settings.summation = eval::parse_summation(vm["sums"].as<std::string>());
    settings.compute_fpd = !vm["no-fpd"].as<bool>();
    settings.compute_kpd = !vm["no-kpd"].as<bool>();
    const std::uint64_t seed = vm["seed"].as<std::uint64_t>();
    settings.fpd.seed = settings.kpd.seed = seed;
    settings.fpd.min_samples = vm["fpd-min-samples"].as<std::int64_t>();
    settings.fpd.max_samples = vm["fpd-max-samples"].as<std::int64_t>();
    settings.fpd.points = vm["fpd-points"].as<int>();
    settings.fpd.resamples = vm["fpd-resamples"].as<int>();
    settings.kpd.batch_size = vm["kpd-batch-size"].as<std::int64_t>();
    settings.kpd.batches = vm["kpd-batches"].as<int>();
    settings.progress = cli.run().progress;
    settings.progress_interval_s = cli.run().progress_interval_s;
    // The report directory is created; outputs never replace an input.
    if (comm.is_root()) {
      std::error_code error;
      std::filesystem::create_directories(out_dir, error);
      if (error || !std::filesystem::is_directory(out_dir))
        throw core::UsageError(core::describe(
            "cannot create the output directory '" + out_dir + "'" + (error ? ": " + error.message() : ""),
            "qvae evaluate --out", "pass a writable directory"));
    }
    if (with_model) {
      model_request.model = vm["model"].as<std::string>();
      model_request.data = vm["data"].as<std::string>();
      model_request.events = vm.count("data-events") ? vm["data-events"].as<std::int64_t>() : -1;
      model_request.chains = vm.count("gibbs-chains") ? vm["gibbs-chains"].as<std::int64_t>() : -1;
      model_request.gibbs_sweeps = vm["gibbs-sweeps"].as<int>();
      model_request.seed = seed;
      model_request.chunk_events = vm["model-chunk-events"].as<std::int64_t>();
      model_request.threads = vm["threads"].as<int>();
      model_request.device = compute_device_of(vm);
    }
    if (vm.count("classifier")) {
      const std::string which = vm["classifier"].as<std::string>();
      if (which == "low" || which == "both") classifier_inputs.push_back(eval::ClassifierInputs::low);
      if (which == "high" || which == "both") classifier_inputs.push_back(eval::ClassifierInputs::high);
      if (classifier_inputs.empty())
        throw core::UsageError(core::describe("--classifier '" + which + "' is not low, high or both",
                                              "qvae evaluate --classifier", "write --classifier high"));
      classifier_settings = classifier::classifier_settings_from(cli.config());
    }
    for (const char* name : {"metrics.json", "histograms.h5"})
      io::refuse_overwriting_inputs(out_dir + "/" + name,
                                    {reference, generated, model_request.model, model_request.data});
    // A device this build cannot use fails now, not after the long passes.
    if (with_model) rbm::resolve_device(model_request.device, node_rank, "--device");
    if (!classifier_inputs.empty()) rbm::resolve_device(classifier_settings.device, node_rank, "classifier.device");
  });

  // The model side first: a wrong --model or --data fails before the long feature pass.
  std::optional<train::ModelMetricsSamples> model_samples;
  if (with_model) model_samples = train::compute_model_metrics(model_request, schema(), comm);
  // The classifier before the feature pass too: too few showers fail in seconds.
  std::vector<eval::ClassifierResult> classifiers;
  for (eval::ClassifierInputs inputs : classifier_inputs)
    classifiers.push_back(classifier::classify_files(reference, generated, settings.geometry_name, settings.min_energy,
                                                     inputs, classifier_settings, comm));
  eval::Evaluation evaluation = eval::evaluate_files(reference, generated, comm, settings);
  evaluation.classifiers = std::move(classifiers);
  if (model_samples)
    evaluation.model = compare_model_side(std::move(*model_samples), model_request.data, model_request);
  const nlohmann::json metrics = eval::metrics_json(evaluation);
  par::run_agreed(comm, [&] {
    if (!comm.is_root()) return;  // small outputs: rank 0 writes them
    eval::write_histograms_file(out_dir + "/histograms.h5", evaluation,
                                io::Provenance{context.command_line, settings.fpd.seed, cli.config_ini()});
    const std::string text = metrics.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    core::write_file_atomically(out_dir + "/metrics.json", text, "qvae evaluate metrics");
  });
  if (cli.json())
    core::print_json_summary(metrics, comm.is_root());
  else if (comm.is_root())
    print_summary(evaluation, metrics, out_dir);
  return 0;
}

}  // namespace qvae::cli
