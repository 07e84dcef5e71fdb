// Evaluation of a generated shower file against a reference (evaluation.hpp):
// binnings from the reference, features streamed in row blocks over ranks,
// histograms, separation powers, FPD/KPD (metrics_json and the histograms file:
// evaluation_report.cpp).
#include "qvae/eval/evaluation.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/eval/features.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::eval {

using core::finite_or_null;
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr int kConditionalBins = 30;  // the original study's "30 common linear bins"

bool is_ds1(const std::string& geometry) { return geometry.rfind("ds1", 0) == 0; }

/// [lo, hi] widened when empty or a single point, so a binning can be built.
std::pair<double, double> usable_range(double lo, double hi) {
  if (!(lo <= hi)) return {0.0, 1.0};  // no entries at all
  if (hi > lo) return {lo, hi};
  const double pad = lo != 0 ? 0.05 * std::abs(lo) : 0.5;
  return {lo - pad, hi + pad};
}

/// A positive [lo, hi] for log bins over a range of positive values: an empty
/// range becomes [1, 10], a single value v becomes [v / 1.01, v * 1.01] (ds1's
/// discrete energies in a one-energy file).
std::pair<double, double> log_range(double lo, double hi) {
  if (!(lo > 0 && hi >= lo)) return {1.0, 10.0};
  if (hi == lo) return {lo / 1.01, hi * 1.01};
  return {lo, hi};
}

/// Upper edge of a log binning from `lo`: the reference maximum, or a decade above
/// `lo` when nothing in the reference passes the threshold (an empty layer).
double log_upper_edge(double lo, double reference_max) { return reference_max > lo ? reference_max : 10 * lo; }

/// evaluate.py's log bins from the threshold to the reference maximum of a float32
/// quantity: np.logspace(np.log10(min_energy), np.log10(ref.max()), n).  np.log10 of
/// the float32 maximum is a float32 (numpy's baseline float32 log10 is libm's log10f),
/// so the top edge 10**that is not the maximum itself and the maximum may fall
/// outside.  An empty reference (evaluate.py fails there) gets a decade above lo.
Binning reference_log_binning(double lo, double reference_max, int edge_count, Summation summation) {
  if (summation == Summation::numpy_float32 && reference_max > lo) {
    const float top = std::log10(static_cast<float>(reference_max));
    if (static_cast<double>(top) > std::log10(lo))
      return Binning::logspace(std::log10(lo), static_cast<double>(top), edge_count);
  }
  return Binning::log_edges(lo, log_upper_edge(lo, reference_max), edge_count);
}

struct Spec {
  std::string name, family, label;
  int layer_id = -1;
  int column = -1;  // feature column; -1 = the voxel spectrum
  Binning binning;
};

std::string layer_label(const std::string& what, int layer_id, const std::string& unit) {
  return what + ", layer " + std::to_string(layer_id) + (unit.empty() ? "" : " [" + unit + "]");
}

/// Binning of a per-layer position/width feature: evaluate.py's limits (ds2/ds3:
/// +-30 mm and [0, 30] mm; ds1: +-500/[0, 400] mm in layers 12 and 13, +-100/[0, 100]
/// mm elsewhere), 100 bins.  <r> and sigma_r are not plotted by evaluate.py; they get
/// [0, 42] and [0, 20] mm for ds2/ds3 and the layer's outer edge (and half
/// of it) for ds1.
Binning position_binning(FeatureKind kind, int layer_id, bool ds1, double outer_edge) {
  const bool wide = layer_id == 12 || layer_id == 13;
  switch (kind) {
    case FeatureKind::ec_eta:
    case FeatureKind::ec_phi: {
      const double limit = ds1 ? (wide ? 500.0 : 100.0) : 30.0;
      return Binning::linear(-limit, limit, 100);
    }
    case FeatureKind::width_eta:
    case FeatureKind::width_phi:
      return Binning::linear(0.0, ds1 ? (wide ? 400.0 : 100.0) : 30.0, 100);
    case FeatureKind::ec_r:
      return Binning::linear(0.0, ds1 ? outer_edge : 42.0, 100);
    case FeatureKind::width_r:
      return Binning::linear(0.0, ds1 ? outer_edge / 2 : 20.0, 100);
    default:
      throw std::logic_error("position_binning: not a position feature");
  }
}

/// Local rows of one file, streamed in chunks, and the largest voxel that passed the threshold.
struct FileFeatures {
  FeatureTable table;
  double max_voxel = 0;
};

FileFeatures stream_features(const data::CaloReader& reader, const FeatureCalculator& calculator,
                             const par::Communicator& comm, std::int64_t chunk, core::Progress& progress,
                             std::int64_t& done) {
  FileFeatures out;
  out.table.cols = calculator.layout().size();
  const par::Block mine = par::my_block(reader.events(), comm);
  out.table.first_event = mine.offset;
  out.table.values.reserve(static_cast<std::size_t>(mine.count * out.table.cols));
  // Every rank takes part in every collective read: agree on the step count.
  const par::CollectiveChunks chunks(mine, chunk, comm);
  for (std::int64_t step = 0; step < chunks.steps(); ++step) {
    const data::ShowerBlock block = reader.read_checked(chunks[step]);
    calculator.append(block, out.table);
    for (float v : block.showers)
      if (calculator.keeps(v)) out.max_voxel = std::max(out.max_voxel, static_cast<double>(v));
    done += comm.sum(block.events());
    progress.update(static_cast<std::uint64_t>(done));
  }
  return out;
}

void stream_voxel_spectrum(const data::CaloReader& reader, const par::Communicator& comm, std::int64_t chunk,
                           const FeatureCalculator& calculator, Histogram& histogram, core::Progress& progress,
                           std::int64_t& done) {
  const par::Block mine = par::my_block(reader.events(), comm);
  const par::CollectiveChunks chunks(mine, chunk, comm);
  for (std::int64_t step = 0; step < chunks.steps(); ++step) {
    const data::ShowerBlock block = reader.read(chunks[step]);
    // Zeroed voxels (below the threshold) fall below the first edge and are not counted,
    // as in evaluate.py, where they are 0 and the log bins start at min_energy.
    for (float v : block.showers)
      if (calculator.keeps(v)) histogram.fill(static_cast<double>(v));
    done += comm.sum(block.events());
    progress.update(static_cast<std::uint64_t>(done));
  }
}

/// Collective: sums every histogram's counts over ranks with one allreduce.
void sum_histograms(const std::vector<Histogram*>& histograms, const par::Communicator& comm) {
  std::vector<std::int64_t> packed;
  for (const Histogram* h : histograms) {
    packed.insert(packed.end(), h->counts.begin(), h->counts.end());
    packed.push_back(h->outside);
  }
  if (!packed.empty()) comm.sum_in_place(packed.data(), packed.size());
  std::size_t at = 0;
  for (Histogram* h : histograms) {
    for (auto& c : h->counts) c = packed[at++];
    h->outside = packed[at++];
  }
}

SampleMatrix gather_cls_high(const FeatureTable& local, const FeatureLayout& layout, const par::Communicator& comm) {
  const std::vector<ClsHighEntry> entries = cls_high_entries(layout);
  FeatureTable vectors;
  vectors.cols = static_cast<int>(entries.size());
  vectors.first_event = local.first_event;
  vectors.values.resize(static_cast<std::size_t>(local.rows() * vectors.cols));
  for (std::int64_t i = 0; i < local.rows(); ++i)
    cls_high_vector(entries, local.row(i), vectors.values.data() + i * vectors.cols);
  FeatureTable all = allgather_rows(vectors, comm);
  SampleMatrix matrix;
  matrix.cols = vectors.cols;
  matrix.rows = all.rows();
  matrix.values = std::move(all.values);
  return matrix;
}

void validate(const EvaluationSettings& s) {
  const auto usage = [](const std::string& what, const std::string& remedy) {
    throw core::UsageError(core::describe(what, "qvae evaluate", remedy));
  };
  if (s.chunk_rows < 1) usage("--chunk-rows must be >= 1", "pass a positive row count");
  if (s.energy_edges.empty() && s.energy_bins < 1) usage("--energy-bins must be >= 1", "pass e.g. --energy-bins 5");
  if (!s.energy_edges.empty()) {
    bool ok = s.energy_edges.size() >= 2 && s.energy_edges.front() > 0;
    for (std::size_t i = 1; i < s.energy_edges.size(); ++i) ok = ok && s.energy_edges[i] > s.energy_edges[i - 1];
    if (!ok)
      usage("--energy-edges must be at least 2 positive, ascending energies in MeV", "write e.g. 1e3,1e4,1e5,1e6");
  }
  if (s.fpd.min_samples < 2 || s.fpd.max_samples < s.fpd.min_samples)
    usage("need 2 <= --fpd-min-samples <= --fpd-max-samples", "e.g. --fpd-min-samples 2000 --fpd-max-samples 10000");
  if (s.fpd.points < 1 || s.fpd.resamples < 1) usage("--fpd-points and --fpd-resamples must be >= 1", "");
  if (s.kpd.batch_size < 2 || s.kpd.batches < 1) usage("need --kpd-batch-size >= 2 and --kpd-batches >= 1", "");
  if (s.min_energy >= 0 && !std::isfinite(s.min_energy)) usage("--min-energy must be finite", "");
}

}  // namespace

Evaluation evaluate_files(const std::string& reference, const std::string& generated, const par::Communicator& comm,
                          const EvaluationSettings& settings) {
  const core::Stopwatch t_start;
  std::optional<data::CaloReader> ref_reader, gen_reader;
  par::run_agreed(comm, [&] {
    validate(settings);
    ref_reader.emplace(reference, comm, settings.geometry_name);
    gen_reader.emplace(generated, comm, settings.geometry_name);
    const geometry::Geometry& a = ref_reader->geometry();
    const geometry::Geometry& b = gen_reader->geometry();
    if (a.name() != b.name() || a.voxels() != b.voxels())
      throw core::InputError(core::describe(
          "the files have different geometries: reference " + a.name() + " (" + std::to_string(a.voxels()) +
              " voxels), generated " + b.name() + " (" + std::to_string(b.voxels()) + " voxels)",
          "files '" + reference + "' and '" + generated + "'", "compare showers of one geometry"));
  });
  const geometry::Geometry& geometry = ref_reader->geometry();
  const bool ds1 = is_ds1(geometry.name());

  Evaluation ev;
  ev.reference_path = reference;
  ev.generated_path = generated;
  ev.geometry = geometry.name();
  ev.voxels = geometry.voxels();
  ev.layers = geometry.num_layers();
  ev.events_reference = ref_reader->events();
  ev.events_generated = gen_reader->events();
  ev.min_energy = settings.min_energy >= 0 ? settings.min_energy : default_min_energy(geometry);
  ev.summation = settings.summation;
  ev.ranks = comm.size();

  // 1. Features, streamed.
  const FeatureCalculator calculator(geometry, ev.min_energy, settings.summation);
  const FeatureLayout& layout = calculator.layout();
  const std::uint64_t total_reads = static_cast<std::uint64_t>(2 * (ev.events_reference + ev.events_generated));
  core::Progress progress("evaluate", total_reads, "showers read", comm.is_root(), settings.progress,
                          settings.progress_interval_s);
  std::int64_t done = 0;
  FileFeatures ref = stream_features(*ref_reader, calculator, comm, settings.chunk_rows, progress, done);
  FileFeatures gen = stream_features(*gen_reader, calculator, comm, settings.chunk_rows, progress, done);

  // 2. Binnings from global reductions over the reference (evaluate.py bins by the reference).
  const int e_inc = layout.column(FeatureKind::e_inc), e_tot = layout.column(FeatureKind::e_tot);
  std::vector<double> maxima(static_cast<std::size_t>(ev.layers) + 3, 0.0);  // E_layer per layer, E_inc, E_tot, voxel
  std::vector<double> minima = {kInfinity, kInfinity};                       // E_inc, E_tot > 0
  for (std::int64_t i = 0; i < ref.table.rows(); ++i) {
    const double* row = ref.table.row(i);
    for (int l = 0; l < ev.layers; ++l)
      maxima[static_cast<std::size_t>(l)] =
          std::max(maxima[static_cast<std::size_t>(l)], row[layout.column(FeatureKind::e_layer, l)]);
    maxima[static_cast<std::size_t>(ev.layers)] = std::max(maxima[static_cast<std::size_t>(ev.layers)], row[e_inc]);
    maxima[static_cast<std::size_t>(ev.layers) + 1] =
        std::max(maxima[static_cast<std::size_t>(ev.layers) + 1], row[e_tot]);
    minima[0] = std::min(minima[0], row[e_inc]);
    if (row[e_tot] > 0) minima[1] = std::min(minima[1], row[e_tot]);
  }
  maxima[static_cast<std::size_t>(ev.layers) + 2] = ref.max_voxel;
  comm.max_in_place(maxima.data(), maxima.size());
  comm.min_in_place(minima.data(), minima.size());
  const double ref_e_inc_max = maxima[static_cast<std::size_t>(ev.layers)];
  const double ref_e_tot_max = maxima[static_cast<std::size_t>(ev.layers) + 1];
  const double ref_voxel_max = maxima[static_cast<std::size_t>(ev.layers) + 2];

  std::vector<Spec> specs;
  const auto [e_inc_lo, e_inc_hi] = log_range(minima[0], ref_e_inc_max);
  specs.push_back({"e_inc", "e_inc", "incident energy [MeV]", -1, e_inc, Binning::log_edges(e_inc_lo, e_inc_hi, 51)});
  const double e_tot_lo = std::isfinite(minima[1]) ? std::max(minima[1], ev.min_energy) : ev.min_energy;
  specs.push_back({"e_tot", "e_tot", "E_tot [MeV]", -1, e_tot,
                   Binning::log_edges(e_tot_lo, log_upper_edge(e_tot_lo, ref_e_tot_max), 51)});
  specs.push_back({"etot_over_einc", "etot_over_einc", "E_tot / E_inc", -1, layout.column(FeatureKind::etot_over_einc),
                   Binning::linear(0.5, 1.5, 100)});
  specs.push_back({"sparsity_total", "sparsity_total", "fraction of zero voxels in the shower", -1,
                   layout.column(FeatureKind::sparsity_total), Binning::linear(0.0, 1.0, 100)});
  for (const FeatureColumn& column : layout.columns()) {
    if (column.layer < 0) continue;
    const int c = layout.index_of(column.name);
    const std::string family = kind_name(column.kind);
    const geometry::Layer& layer = geometry.layers()[static_cast<std::size_t>(column.layer)];
    switch (column.kind) {
      case FeatureKind::e_layer: {
        specs.push_back({column.name, family, layer_label("energy", column.layer_id, "MeV"), column.layer_id, c,
                         reference_log_binning(ev.min_energy, maxima[static_cast<std::size_t>(column.layer)], 40,
                                               settings.summation)});
        break;
      }
      case FeatureKind::sparsity:
        specs.push_back({column.name, family, layer_label("sparsity (1 - fraction of voxels > 0)", column.layer_id, ""),
                         column.layer_id, c, Binning::linear(0.0, 1.0, 20)});
        break;
      default: {
        static const std::vector<std::pair<FeatureKind, std::string>> names = {
            {FeatureKind::ec_eta, "centre of energy in eta"}, {FeatureKind::ec_phi, "centre of energy in phi"},
            {FeatureKind::ec_r, "centre of energy in r"},     {FeatureKind::width_eta, "width in eta"},
            {FeatureKind::width_phi, "width in phi"},         {FeatureKind::width_r, "width in r"}};
        std::string what;
        for (const auto& [kind, text] : names)
          if (kind == column.kind) what = text;
        specs.push_back({column.name, family, layer_label(what, column.layer_id, "mm"), column.layer_id, c,
                         position_binning(column.kind, column.layer_id, ds1, layer.r_edges.back())});
      }
    }
  }
  const double voxel_lo = ev.min_energy;
  specs.push_back({"voxel_energy", "voxel_energy", "voxel energy [MeV]", -1, -1,
                   reference_log_binning(voxel_lo, ref_voxel_max, 50, settings.summation)});

  for (const Spec& spec : specs)
    ev.histograms.push_back(
        {spec.name, spec.family, spec.label, spec.layer_id, Histogram(spec.binning), Histogram(spec.binning), {}});
  for (std::size_t s = 0; s < specs.size(); ++s) {
    if (specs[s].column < 0) continue;
    const int c = specs[s].column;
    for (std::int64_t i = 0; i < ref.table.rows(); ++i) ev.histograms[s].reference.fill(ref.table.at(i, c));
    for (std::int64_t i = 0; i < gen.table.rows(); ++i) ev.histograms[s].generated.fill(gen.table.at(i, c));
  }

  // Conditional histograms: energy bins log-spaced over the reference's E_inc range.
  if (!settings.energy_edges.empty()) {
    ev.energy_bins = Binning{settings.energy_edges, true};
  } else {
    ev.energy_bins = Binning::log_edges(e_inc_lo, e_inc_hi, settings.energy_bins + 1);
  }
  const int k_bins = ev.energy_bins.bins();
  struct ConditionalSpec {
    std::string name, label;
    int column;
    bool fixed;  // CaloChallenge binning; otherwise 30 linear bins over both files' range in the energy bin
  };
  const std::vector<ConditionalSpec> conditional_specs = {
      {"etot_over_einc", "E_tot / E_inc", layout.column(FeatureKind::etot_over_einc), true},
      {"e_tot", "E_tot [MeV]", e_tot, false},
      {"sparsity_total", "fraction of zero voxels in the shower", layout.column(FeatureKind::sparsity_total), false}};
  const auto energy_bin_of = [&](const FeatureTable& t, std::int64_t i) { return ev.energy_bins.find(t.at(i, e_inc)); };
  // Ranges per (feature, energy bin): min in the first half, -max in the second, over both files.
  std::vector<double> range_minima(conditional_specs.size() * static_cast<std::size_t>(k_bins) * 2, kInfinity);
  for (const FeatureTable* t : {&ref.table, &gen.table})
    for (std::int64_t i = 0; i < t->rows(); ++i) {
      const int k = energy_bin_of(*t, i);
      if (k < 0) continue;
      for (std::size_t f = 0; f < conditional_specs.size(); ++f) {
        const double x = t->at(i, conditional_specs[f].column);
        const std::size_t slot = (f * static_cast<std::size_t>(k_bins) + static_cast<std::size_t>(k)) * 2;
        range_minima[slot] = std::min(range_minima[slot], x);
        range_minima[slot + 1] = std::min(range_minima[slot + 1], -x);
      }
    }
  comm.min_in_place(range_minima.data(), range_minima.size());
  for (std::size_t f = 0; f < conditional_specs.size(); ++f) {
    ConditionalComparison cc{conditional_specs[f].name, conditional_specs[f].name, conditional_specs[f].label, {}};
    for (int k = 0; k < k_bins; ++k) {
      Binning binning = Binning::linear(0.5, 1.5, 100);
      if (!conditional_specs[f].fixed) {
        const std::size_t slot = (f * static_cast<std::size_t>(k_bins) + static_cast<std::size_t>(k)) * 2;
        const auto [lo, hi] = usable_range(range_minima[slot], -range_minima[slot + 1]);
        binning = Binning::linear(lo, hi, kConditionalBins);
      }
      cc.per_bin.push_back({cc.name, cc.family, cc.label, -1, Histogram(binning), Histogram(binning), {}});
    }
    ev.conditional.push_back(std::move(cc));
  }
  ev.energy_bin_events_reference.assign(static_cast<std::size_t>(k_bins), 0);
  ev.energy_bin_events_generated.assign(static_cast<std::size_t>(k_bins), 0);
  for (int which = 0; which < 2; ++which) {
    const FeatureTable& t = which == 0 ? ref.table : gen.table;
    auto& events = which == 0 ? ev.energy_bin_events_reference : ev.energy_bin_events_generated;
    for (std::int64_t i = 0; i < t.rows(); ++i) {
      const int k = energy_bin_of(t, i);
      if (k < 0) continue;
      ++events[static_cast<std::size_t>(k)];
      for (std::size_t f = 0; f < conditional_specs.size(); ++f) {
        HistogramComparison& h = ev.conditional[f].per_bin[static_cast<std::size_t>(k)];
        (which == 0 ? h.reference : h.generated).fill(t.at(i, conditional_specs[f].column));
      }
    }
  }
  comm.sum_in_place(ev.energy_bin_events_reference.data(), ev.energy_bin_events_reference.size());
  comm.sum_in_place(ev.energy_bin_events_generated.data(), ev.energy_bin_events_generated.size());

  // 3. The voxel spectrum: a second pass, now that its binning is known.
  HistogramComparison& voxels = ev.histograms.back();
  stream_voxel_spectrum(*ref_reader, comm, settings.chunk_rows, calculator, voxels.reference, progress, done);
  stream_voxel_spectrum(*gen_reader, comm, settings.chunk_rows, calculator, voxels.generated, progress, done);
  progress.finish();

  std::vector<Histogram*> all;
  for (auto& h : ev.histograms) all.push_back(&h.reference), all.push_back(&h.generated);
  for (auto& cc : ev.conditional)
    for (auto& h : cc.per_bin) all.push_back(&h.reference), all.push_back(&h.generated);
  sum_histograms(all, comm);
  for (auto& h : ev.histograms) h.separation = separation_power(h.reference.counts, h.generated.counts);
  for (auto& cc : ev.conditional)
    for (auto& h : cc.per_bin) h.separation = separation_power(h.reference.counts, h.generated.counts);
  ev.seconds_features = comm.max(t_start.seconds());

  // 4. FPD and KPD on the normalised cls-high vectors.
  ev.distance_features = static_cast<int>(cls_high_entries(layout).size());
  if (settings.compute_fpd || settings.compute_kpd) {
    if (std::min(ev.events_reference, ev.events_generated) < 2) {
      ev.distances_note = "FPD and KPD need at least 2 showers in each file";
      core::log::warn_root("evaluate: ", ev.distances_note, "; skipped");
    } else {
      SampleMatrix ref_matrix = gather_cls_high(ref.table, layout, comm);
      SampleMatrix gen_matrix = gather_cls_high(gen.table, layout, comm);
      normalise_by_reference(ref_matrix, gen_matrix);
      if (settings.compute_fpd) {
        const core::Stopwatch t0;
        core::log::info_root("evaluate: FPD on ", ev.distance_features, " features, ", settings.fpd.points, " x ",
                             settings.fpd.resamples, " resamples over ", comm.size(), " rank(s)");
        ev.fpd = frechet_physics_distance(ref_matrix, gen_matrix, settings.fpd, &comm);
        if (ev.fpd->reduced) core::log::warn_root("evaluate: FPD ", ev.fpd->note);
        ev.seconds_fpd = comm.max(t0.seconds());
      }
      if (settings.compute_kpd) {
        const core::Stopwatch t0;
        core::log::info_root("evaluate: KPD with ", settings.kpd.batches, " batches over ", comm.size(), " rank(s)");
        ev.kpd = kernel_physics_distance(ref_matrix, gen_matrix, settings.kpd, &comm);
        if (ev.kpd->reduced) core::log::warn_root("evaluate: KPD ", ev.kpd->note);
        ev.seconds_kpd = comm.max(t0.seconds());
      }
    }
  }
  if (!settings.compute_fpd || !settings.compute_kpd)
    ev.distances_note = ev.distances_note.empty() ? "skipped on request (--no-fpd / --no-kpd)" : ev.distances_note;
  ev.seconds_total = comm.max(t_start.seconds());
  return ev;
}

}  // namespace qvae::eval
