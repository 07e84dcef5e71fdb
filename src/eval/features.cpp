#include "qvae/eval/features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"
#include "qvae/eval/numpy_sum.hpp"
#include "qvae/par/mpi_check.hpp"

namespace qvae::eval {
namespace {

constexpr double kEpsilon = 1e-16;      // HighLevelFeatures' guard against empty layers
constexpr double kLogOffset = 1e-8;     // evaluate.py's log10(E + 1e-8) in the cls-high vector
constexpr double kPositionScale = 1e2;  // evaluate.py divides positions and widths by 100 (mm -> dm)

constexpr FeatureKind kPerLayerKinds[] = {FeatureKind::e_layer,   FeatureKind::sparsity, FeatureKind::ec_r,
                                          FeatureKind::width_r,   FeatureKind::ec_eta,   FeatureKind::ec_phi,
                                          FeatureKind::width_eta, FeatureKind::width_phi};
constexpr int kKinds = static_cast<int>(FeatureKind::width_r) + 1;

bool is_alpha_kind(FeatureKind kind) {
  return kind == FeatureKind::ec_eta || kind == FeatureKind::ec_phi || kind == FeatureKind::width_eta ||
         kind == FeatureKind::width_phi;
}

}  // namespace

Summation parse_summation(const std::string& text) {
  return core::parse_choice(text, {Summation::numpy_float32, Summation::float64}, "--sums");
}

const char* to_string(Summation summation) noexcept {
  return summation == Summation::numpy_float32 ? "numpy" : "float64";
}

double default_min_energy(const geometry::Geometry& geometry) {
  // evaluate.py: 0.5 keV of Si energy over the 0.033 sampling fraction for datasets 2
  // and 3; 1 MeV for dataset 1 (photons and pions).
  return geometry.name().rfind("ds1", 0) == 0 ? 1.0 : 0.5e-3 / 0.033;
}

const char* kind_name(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::e_inc:
      return "e_inc";
    case FeatureKind::e_tot:
      return "e_tot";
    case FeatureKind::etot_over_einc:
      return "etot_over_einc";
    case FeatureKind::sparsity_total:
      return "sparsity_total";
    case FeatureKind::e_layer:
      return "e_layer";
    case FeatureKind::sparsity:
      return "sparsity";
    case FeatureKind::ec_eta:
      return "ec_eta";
    case FeatureKind::ec_phi:
      return "ec_phi";
    case FeatureKind::ec_r:
      return "ec_r";
    case FeatureKind::width_eta:
      return "width_eta";
    case FeatureKind::width_phi:
      return "width_phi";
    case FeatureKind::width_r:
      return "width_r";
  }
  return "?";
}

FeatureLayout::FeatureLayout(const geometry::Geometry& geometry)
    : per_layer_(kKinds), num_layers_(geometry.num_layers()) {
  for (FeatureKind kind :
       {FeatureKind::e_inc, FeatureKind::e_tot, FeatureKind::etot_over_einc, FeatureKind::sparsity_total})
    columns_.push_back({kind_name(kind), kind, -1, -1});
  for (auto& columns : per_layer_) columns.assign(static_cast<std::size_t>(num_layers_), -1);
  for (int l = 0; l < num_layers_; ++l) {
    const geometry::Layer& layer = geometry.layers()[static_cast<std::size_t>(l)];
    const bool binned_in_alpha = layer.alpha_bins > 1;
    if (binned_in_alpha) alpha_layers_.push_back(l);
    for (FeatureKind kind : kPerLayerKinds) {
      if (is_alpha_kind(kind) && !binned_in_alpha) continue;
      per_layer_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(l)] = size();
      columns_.push_back({std::string(kind_name(kind)) + "_" + std::to_string(layer.id), kind, l, layer.id});
    }
  }
}

int FeatureLayout::column(FeatureKind kind, int layer) const {
  switch (kind) {
    case FeatureKind::e_inc:
      return 0;
    case FeatureKind::e_tot:
      return 1;
    case FeatureKind::etot_over_einc:
      return 2;
    case FeatureKind::sparsity_total:
      return 3;
    default:
      break;
  }
  if (layer < 0 || layer >= num_layers_) throw std::out_of_range("FeatureLayout::column: layer out of range");
  return per_layer_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(layer)];
}

int FeatureLayout::index_of(const std::string& name) const {
  for (int c = 0; c < size(); ++c)
    if (columns_[static_cast<std::size_t>(c)].name == name) return c;
  return -1;
}

FeatureCalculator::FeatureCalculator(const geometry::Geometry& geometry, double min_energy, Summation summation)
    : layout_(geometry),
      min_energy_(min_energy),
      summation_(summation),
      threshold32_(static_cast<float>(min_energy)),
      layer_offsets_(geometry.layer_offsets()),
      eta_(geometry.eta()),
      phi_(geometry.phi()) {
  r_.reserve(static_cast<std::size_t>(geometry.voxels()));
  for (const geometry::Layer& layer : geometry.layers()) {
    alpha_binned_.push_back(layer.alpha_bins > 1);
    for (int a = 0; a < layer.alpha_bins; ++a)
      for (int r = 0; r < layer.r_bins(); ++r)  // HighLevelFeatures: (r_i + r_{i+1}) * 0.5
        r_.push_back((layer.r_edges[static_cast<std::size_t>(r)] + layer.r_edges[static_cast<std::size_t>(r) + 1]) *
                     0.5);
  }
}

void FeatureCalculator::compute(const float* voxels, double incident_energy, double* row) const {
  if (summation_ == Summation::numpy_float32)
    compute_numpy(voxels, incident_energy, row);
  else
    compute_float64(voxels, incident_energy, row);
}

// HighLevelFeatures.CalculateFeatures on one float32 row, operation by operation:
//   E_tot = data.sum(-1), E_layer = data[:, a:b].sum(-1)      float32, numpy's order
//   EC = (eta * x).sum(-1) / (x.sum(-1) + 1e-16)               float64 / float32
//   W = sqrt(clip((eta * eta * x).sum(-1) / (x.sum(-1) + 1e-16) - EC**2, 0))
// The r features and sparsity are not in evaluate.py's histograms; they are
// computed as in compute_float64 from the same zeroed voxels.
void FeatureCalculator::compute_numpy(const float* voxels, double incident_energy, double* row) const {
  const std::int64_t count = layer_offsets_.back();
  std::vector<float> x(static_cast<std::size_t>(count));
  std::int64_t nonzero_total = 0;
  for (std::int64_t v = 0; v < count; ++v) {
    x[static_cast<std::size_t>(v)] = keeps(voxels[v]) ? voxels[v] : 0.0f;
    nonzero_total += x[static_cast<std::size_t>(v)] > 0;
  }
  std::vector<double> products;
  const auto product_sum = [&](std::int64_t begin, std::int64_t end, const std::vector<double>& a,
                               const std::vector<double>* b) {
    products.resize(static_cast<std::size_t>(end - begin));
    for (std::int64_t v = begin; v < end; ++v) {
      const std::size_t i = static_cast<std::size_t>(v);
      const double weight = b ? a[i] * (*b)[i] : a[i];  // eta * eta first, as numpy evaluates eta * eta * x
      products[static_cast<std::size_t>(v - begin)] = weight * static_cast<double>(x[i]);
    }
    return numpy_sum(products.data(), end - begin);
  };
  for (int l = 0; l < layout_.num_layers(); ++l) {
    const std::int64_t begin = layer_offsets_[static_cast<std::size_t>(l)];
    const std::int64_t end = layer_offsets_[static_cast<std::size_t>(l) + 1];
    const float layer_sum = numpy_sum(x.data() + begin, end - begin);
    row[layout_.column(FeatureKind::e_layer, l)] = static_cast<double>(layer_sum);
    std::int64_t nonzero = 0;
    double sum_r = 0, sum_r2 = 0;
    for (std::int64_t v = begin; v < end; ++v) {
      const std::size_t i = static_cast<std::size_t>(v);
      const double xi = static_cast<double>(x[i]);
      nonzero += xi > 0;
      sum_r += r_[i] * xi;
      sum_r2 += r_[i] * r_[i] * xi;
    }
    row[layout_.column(FeatureKind::sparsity, l)] =
        1.0 - static_cast<double>(nonzero) / static_cast<double>(end - begin);
    const double r_norm = static_cast<double>(layer_sum) + kEpsilon;
    const double ec_r = sum_r / r_norm;
    row[layout_.column(FeatureKind::ec_r, l)] = ec_r;
    row[layout_.column(FeatureKind::width_r, l)] = std::sqrt(std::max(0.0, sum_r2 / r_norm - ec_r * ec_r));
    if (alpha_binned_[static_cast<std::size_t>(l)]) {
      // numpy: float32 array + Python float stays float32, so the guard is added in float32.
      const double norm = static_cast<double>(layer_sum + static_cast<float>(kEpsilon));
      const double ec_eta = product_sum(begin, end, eta_, nullptr) / norm;
      const double ec_phi = product_sum(begin, end, phi_, nullptr) / norm;
      const double second_eta = product_sum(begin, end, eta_, &eta_) / norm;
      const double second_phi = product_sum(begin, end, phi_, &phi_) / norm;
      row[layout_.column(FeatureKind::ec_eta, l)] = ec_eta;
      row[layout_.column(FeatureKind::ec_phi, l)] = ec_phi;
      row[layout_.column(FeatureKind::width_eta, l)] = std::sqrt(std::max(0.0, second_eta - ec_eta * ec_eta));
      row[layout_.column(FeatureKind::width_phi, l)] = std::sqrt(std::max(0.0, second_phi - ec_phi * ec_phi));
    }
  }
  const double total = static_cast<double>(numpy_sum(x.data(), count));
  row[layout_.column(FeatureKind::e_inc)] = incident_energy;
  row[layout_.column(FeatureKind::e_tot)] = total;
  row[layout_.column(FeatureKind::etot_over_einc)] = total / incident_energy;
  row[layout_.column(FeatureKind::sparsity_total)] =
      count ? 1.0 - static_cast<double>(nonzero_total) / static_cast<double>(count) : 0.0;
}

void FeatureCalculator::compute_float64(const float* voxels, double incident_energy, double* row) const {
  double total = 0;
  std::int64_t nonzero_total = 0;
  for (int l = 0; l < layout_.num_layers(); ++l) {
    const std::int64_t begin = layer_offsets_[static_cast<std::size_t>(l)];
    const std::int64_t end = layer_offsets_[static_cast<std::size_t>(l) + 1];
    double sum = 0, sum_eta = 0, sum_eta2 = 0, sum_phi = 0, sum_phi2 = 0, sum_r = 0, sum_r2 = 0;
    std::int64_t nonzero = 0;
    for (std::int64_t v = begin; v < end; ++v) {
      double x = static_cast<double>(voxels[v]);
      if (!(x >= min_energy_)) x = 0;  // threshold zeroing; NaN counts as 0 too
      const std::size_t i = static_cast<std::size_t>(v);
      sum += x;
      nonzero += x > 0;
      sum_eta += eta_[i] * x;
      sum_eta2 += eta_[i] * eta_[i] * x;
      sum_phi += phi_[i] * x;
      sum_phi2 += phi_[i] * phi_[i] * x;
      sum_r += r_[i] * x;
      sum_r2 += r_[i] * r_[i] * x;
    }
    total += sum;
    nonzero_total += nonzero;
    const double norm = sum + kEpsilon;
    const auto width = [norm](double second_moment, double centre) {
      return std::sqrt(std::max(0.0, second_moment / norm - centre * centre));
    };
    row[layout_.column(FeatureKind::e_layer, l)] = sum;
    row[layout_.column(FeatureKind::sparsity, l)] =
        1.0 - static_cast<double>(nonzero) / static_cast<double>(end - begin);
    const double ec_r = sum_r / norm;
    row[layout_.column(FeatureKind::ec_r, l)] = ec_r;
    row[layout_.column(FeatureKind::width_r, l)] = width(sum_r2, ec_r);
    if (alpha_binned_[static_cast<std::size_t>(l)]) {
      const double ec_eta = sum_eta / norm, ec_phi = sum_phi / norm;
      row[layout_.column(FeatureKind::ec_eta, l)] = ec_eta;
      row[layout_.column(FeatureKind::ec_phi, l)] = ec_phi;
      row[layout_.column(FeatureKind::width_eta, l)] = width(sum_eta2, ec_eta);
      row[layout_.column(FeatureKind::width_phi, l)] = width(sum_phi2, ec_phi);
    }
  }
  const std::int64_t voxel_count = layer_offsets_.back();
  row[layout_.column(FeatureKind::e_inc)] = incident_energy;
  row[layout_.column(FeatureKind::e_tot)] = total;
  row[layout_.column(FeatureKind::etot_over_einc)] = total / incident_energy;
  row[layout_.column(FeatureKind::sparsity_total)] =
      voxel_count ? 1.0 - static_cast<double>(nonzero_total) / static_cast<double>(voxel_count) : 0.0;
}

void FeatureCalculator::append(const data::ShowerBlock& block, FeatureTable& table) const {
  if (table.cols == 0) {
    table.cols = layout_.size();
    table.first_event = block.first_event;
  }
  if (table.cols != layout_.size()) throw std::invalid_argument("FeatureCalculator::append: table of another layout");
  if (block.voxels != layer_offsets_.back())
    throw std::invalid_argument("FeatureCalculator::append: block of another geometry");
  const std::size_t old_size = table.values.size();
  table.values.resize(old_size + static_cast<std::size_t>(block.events() * table.cols));
  for (std::int64_t i = 0; i < block.events(); ++i)
    compute(block.shower(i), block.incident_energies[static_cast<std::size_t>(i)],
            table.values.data() + old_size + static_cast<std::size_t>(i * table.cols));
}

FeatureTable allgather_rows(const FeatureTable& local, const par::Communicator& comm) {
  const int cols = comm.max(local.cols);
  if (local.cols != 0 && local.cols != cols) throw std::invalid_argument("allgather_rows: ranks disagree on columns");
  FeatureTable all;
  all.cols = cols;
  all.first_event = comm.min(local.values.empty() ? std::numeric_limits<std::int64_t>::max() : local.first_event);
  all.values = comm.allgather_blocks(local.values);
  if (all.values.empty()) all.first_event = 0;
  return all;
}

std::vector<ClsHighEntry> cls_high_entries(const FeatureLayout& layout) {
  using Transform = ClsHighEntry::Transform;
  std::vector<ClsHighEntry> entries;
  const auto& columns = layout.columns();
  const auto add = [&](int c, Transform transform) {
    const std::string& base = columns[static_cast<std::size_t>(c)].name;
    std::string name = base;
    if (transform == Transform::log10) name = "log10_" + base;
    if (transform == Transform::log10_offset) name = "log10_" + base;
    if (transform == Transform::per_100) name = base + "/100";
    entries.push_back({name, c, transform});
  };
  add(layout.column(FeatureKind::e_inc), Transform::log10);
  for (int l = 0; l < layout.num_layers(); ++l) add(layout.column(FeatureKind::e_layer, l), Transform::log10_offset);
  for (FeatureKind kind : {FeatureKind::ec_eta, FeatureKind::ec_phi, FeatureKind::width_eta, FeatureKind::width_phi})
    for (int l : layout.alpha_layers()) add(layout.column(kind, l), Transform::per_100);
  add(layout.column(FeatureKind::e_tot), Transform::log10_offset);
  for (int l = 0; l < layout.num_layers(); ++l) add(layout.column(FeatureKind::sparsity, l), Transform::identity);
  for (FeatureKind kind : {FeatureKind::ec_r, FeatureKind::width_r})
    for (int l = 0; l < layout.num_layers(); ++l) add(layout.column(kind, l), Transform::per_100);
  return entries;
}

void cls_high_vector(const std::vector<ClsHighEntry>& entries, const double* feature_row, double* out) {
  using Transform = ClsHighEntry::Transform;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double x = feature_row[entries[i].column];
    switch (entries[i].transform) {
      case Transform::log10:
        out[i] = std::log10(x);
        break;
      case Transform::log10_offset:
        out[i] = std::log10(x + kLogOffset);
        break;
      case Transform::per_100:
        out[i] = x / kPositionScale;
        break;
      case Transform::identity:
        out[i] = x;
        break;
    }
  }
}

}  // namespace qvae::eval
