// The reports of an evaluation (evaluation.hpp): metrics.json ("metrics v1")
// and the histograms file ("histograms v1", docs/formats.md).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/json_output.hpp"
#include "qvae/eval/evaluation.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"

namespace qvae::eval {

using core::finite_or_null;

namespace {

nlohmann::json separation_json(const SeparationPower& s) {
  return {{"value", finite_or_null(s.value)},
          {"floor", finite_or_null(s.floor)},
          {"bins_occupied", s.occupied_bins},
          {"entries_reference", s.entries_a},
          {"entries_generated", s.entries_b}};
}

std::vector<double> scaled(const std::vector<double>& values, double factor) {
  std::vector<double> out;
  for (double v : values) out.push_back(v * factor);
  return out;
}

}  // namespace

nlohmann::json metrics_json(const Evaluation& ev) {
  constexpr double kScale = 1e3;  // FPD/KPD are reported x 10^3 (evaluate.py)
  nlohmann::json separation = nlohmann::json::object();
  nlohmann::json families = nlohmann::json::object();
  for (const HistogramComparison& h : ev.histograms) {
    separation[h.name] = separation_json(h.separation);
    nlohmann::json& f = families[h.family];
    if (f.is_null())
      f = {{"features", 0}, {"mean", 0.0}, {"mean_floor", 0.0}, {"max", nullptr}, {"max_feature", nullptr}};
    if (!std::isfinite(h.separation.value)) continue;
    const int n = f["features"].get<int>();
    f["mean"] = (f["mean"].get<double>() * n + h.separation.value) / (n + 1);
    f["mean_floor"] = (f["mean_floor"].get<double>() * n + h.separation.floor) / (n + 1);
    f["features"] = n + 1;
    if (f["max"].is_null() || h.separation.value > f["max"].get<double>()) {
      f["max"] = h.separation.value;
      f["max_feature"] = h.name;
    }
  }
  for (auto& [name, f] : families.items())
    if (f["features"].get<int>() == 0) f["mean"] = f["mean_floor"] = nullptr;  // every histogram empty
  nlohmann::json conditional = {{"energy_edges_mev", ev.energy_bins.edges},
                                {"events_reference", ev.energy_bin_events_reference},
                                {"events_generated", ev.energy_bin_events_generated},
                                {"separation_power", nlohmann::json::object()}};
  for (const ConditionalComparison& cc : ev.conditional) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t k = 0; k < cc.per_bin.size(); ++k) {
      nlohmann::json entry = separation_json(cc.per_bin[k].separation);
      entry["e_low_mev"] = ev.energy_bins.edges[k];
      entry["e_high_mev"] = ev.energy_bins.edges[k + 1];
      list.push_back(entry);
    }
    conditional["separation_power"][cc.name] = list;
  }
  nlohmann::json fpd, kpd;
  if (ev.fpd) {
    fpd = {{"value", finite_or_null(ev.fpd->value * kScale)},
           {"error", finite_or_null(ev.fpd->error * kScale)},
           {"scale", kScale},
           {"slope", finite_or_null(ev.fpd->slope * kScale)},
           {"features", ev.distance_features},
           {"batch_sizes", ev.fpd->batch_sizes},
           {"mean_distances", scaled(ev.fpd->mean_distances, kScale)},
           {"min_samples", ev.fpd->min_samples},
           {"max_samples", ev.fpd->max_samples},
           {"reduced", ev.fpd->reduced}};
    if (ev.fpd->reduced) fpd["note"] = ev.fpd->note;
  } else {
    fpd = {{"value", nullptr}, {"error", nullptr}, {"note", ev.distances_note}};
  }
  if (ev.kpd) {
    kpd = {{"value", finite_or_null(ev.kpd->value * kScale)},
           {"error", finite_or_null(ev.kpd->error * kScale)},
           {"scale", kScale},
           {"kernel", "(x.y/d + 1)^4"},
           {"features", ev.distance_features},
           {"batch_size", ev.kpd->batch_size},
           {"batches", ev.kpd->values.size()},
           {"values", scaled(ev.kpd->values, kScale)},
           {"reduced", ev.kpd->reduced}};
    if (ev.kpd->reduced) kpd["note"] = ev.kpd->note;
  } else {
    kpd = {{"value", nullptr}, {"error", nullptr}, {"note", ev.distances_note}};
  }
  nlohmann::json metrics = {{"format", "qvae-metrics"},
                            {"format_version", 1},
                            {"reference", ev.reference_path},
                            {"generated", ev.generated_path},
                            {"geometry", ev.geometry},
                            {"voxels", ev.voxels},
                            {"layers", ev.layers},
                            {"events", {{"reference", ev.events_reference}, {"generated", ev.events_generated}}},
                            {"min_energy_mev", ev.min_energy},
                            {"summation", to_string(ev.summation)},
                            {"ranks", ev.ranks},
                            {"separation_power", separation},
                            {"separation_power_by_family", families},
                            {"conditional", conditional},
                            {"fpd", fpd},
                            {"kpd", kpd},
                            {"seconds",
                             {{"features_and_histograms", ev.seconds_features},
                              {"fpd", ev.seconds_fpd},
                              {"kpd", ev.seconds_kpd},
                              {"total", ev.seconds_total}}}};
  if (ev.model) {
    const ModelComparison& m = *ev.model;
    metrics["rbm_energy"] = energy_comparison_json(m.rbm_energy);
    metrics["rbm_energy"]["energy"] = "E(z) of the full prior (partition-0 biases included), 0/1 units";
    metrics["rbm_energy"]["chains"] = m.chains;
    metrics["rbm_energy"]["gibbs_sweeps"] = m.gibbs_sweeps;
    metrics["rbm_energy"]["seed"] = m.seed;
    metrics["rbm_energy"]["partition0_clamped"] = m.partition0_clamped;
    metrics["reconstruction"] = reconstruction_json(m.reconstruction);
    metrics["model_evaluation"] = {{"model", m.model_path},
                                   {"data", m.data_path},
                                   {"events", m.events},
                                   {"latent", "deterministic: z = 1[logit > 0] (posterior mean rounded)"},
                                   {"reconstruction", "deterministic: ReLU(act) * 1[hit logit > 0]"},
                                   {"seconds", {{"encode", m.seconds_encode}, {"gibbs", m.seconds_gibbs}}}};
  }
  if (!ev.classifiers.empty()) {
    nlohmann::json classifiers = nlohmann::json::object();
    for (const ClassifierResult& c : ev.classifiers) classifiers[c.inputs] = classifier_json(c);
    metrics["classifier"] = classifiers;
  }
  return metrics;
}

namespace {

template <class T>
void write_vector(io::File& file, const std::string& name, const std::vector<T>& values, std::int64_t cols = 0) {
  const std::int64_t rows =
      cols ? static_cast<std::int64_t>(values.size()) / cols : static_cast<std::int64_t>(values.size());
  io::write_rows(file, name, values.data(), rows, cols);
}

void write_histogram_attributes(io::File& file, const std::string& group, const HistogramComparison& h) {
  io::set_attribute(file, group, "label", h.label);
  io::set_attribute(file, group, "family", h.family);
  io::set_attribute(file, group, "layer_id", static_cast<std::int64_t>(h.layer_id));
  io::set_attribute(file, group, "log_x", static_cast<std::int64_t>(h.reference.binning.log_scale));
}

}  // namespace

void write_histograms_file(const std::string& path, const Evaluation& ev, const io::Provenance& provenance) {
  io::OutputFile file = io::OutputFile::create_serial(path);
  io::write_provenance(file, provenance);
  io::set_format(file, "qvae-histograms", 1);
  io::set_attribute(file, "/", "geometry", ev.geometry);
  io::set_attribute(file, "/", "reference_file", ev.reference_path);
  io::set_attribute(file, "/", "generated_file", ev.generated_path);
  io::set_attribute(file, "/", "events_reference", ev.events_reference);
  io::set_attribute(file, "/", "events_generated", ev.events_generated);
  io::set_attribute(file, "/", "min_energy_mev", ev.min_energy);
  io::set_attribute(file, "/", "summation", std::string(to_string(ev.summation)));
  io::create_group(file, "histograms");
  for (const HistogramComparison& h : ev.histograms) {
    const std::string group = "histograms/" + h.name;
    io::create_group(file, group);
    write_histogram_attributes(file, group, h);
    io::set_attribute(file, group, "separation_power", h.separation.value);
    io::set_attribute(file, group, "separation_power_floor", h.separation.floor);
    write_vector(file, group + "/edges", h.reference.binning.edges);
    write_vector(file, group + "/reference", h.reference.counts);
    write_vector(file, group + "/generated", h.generated.counts);
    write_vector(file, group + "/outside", std::vector<std::int64_t>{h.reference.outside, h.generated.outside});
  }
  io::create_group(file, "conditional");
  for (const ConditionalComparison& cc : ev.conditional) {
    if (cc.per_bin.empty()) continue;
    const std::string group = "conditional/" + cc.name;
    io::create_group(file, group);
    write_histogram_attributes(file, group, cc.per_bin.front());
    const std::int64_t bins = cc.per_bin.front().reference.binning.bins();
    std::vector<double> edges, separation, floor;
    std::vector<std::int64_t> reference, generated;
    for (const HistogramComparison& h : cc.per_bin) {
      edges.insert(edges.end(), h.reference.binning.edges.begin(), h.reference.binning.edges.end());
      reference.insert(reference.end(), h.reference.counts.begin(), h.reference.counts.end());
      generated.insert(generated.end(), h.generated.counts.begin(), h.generated.counts.end());
      separation.push_back(h.separation.value);
      floor.push_back(h.separation.floor);
    }
    write_vector(file, group + "/energy_edges", ev.energy_bins.edges);
    write_vector(file, group + "/edges", edges, bins + 1);
    write_vector(file, group + "/reference", reference, bins);
    write_vector(file, group + "/generated", generated, bins);
    write_vector(file, group + "/separation_power", separation);
    write_vector(file, group + "/separation_power_floor", floor);
  }
  if (ev.model) {
    write_energy_comparison(file, ev.model->rbm_energy);
    write_reconstruction_comparison(file, ev.model->reconstruction);
  }
  if (!ev.classifiers.empty()) {
    io::create_group(file, "classifier");
    for (const ClassifierResult& c : ev.classifiers) write_classifier_result(file, c);
  }
  file.commit();
}

}  // namespace qvae::eval
