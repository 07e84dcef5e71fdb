// Features of hand-made showers (docs/evaluation.md) on the ds2 and ds1
// geometries, against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "qvae/eval/features.hpp"

using namespace qvae;
using eval::FeatureKind;

namespace {

constexpr double kThreshold = 0.5e-3 / 0.033;  // evaluate.py's min_energy for ds2/ds3

struct Shower {
  const geometry::Geometry& geometry;
  std::vector<float> voxels;
  explicit Shower(const geometry::Geometry& g) : geometry(g), voxels(static_cast<std::size_t>(g.voxels()), 0.0f) {}
  void set(int layer, int alpha, int r, float energy) {
    voxels[static_cast<std::size_t>(geometry.index(layer, alpha, r))] = energy;
  }
};

std::vector<double> features_of(const eval::FeatureCalculator& calculator, const Shower& shower, double e_inc) {
  std::vector<double> row(static_cast<std::size_t>(calculator.layout().size()));
  calculator.compute(shower.voxels.data(), e_inc, row.data());
  return row;
}

double value(const eval::FeatureLayout& layout, const std::vector<double>& row, FeatureKind kind, int layer = -1) {
  const int c = layout.column(kind, layer);
  EXPECT_GE(c, 0);
  return row[static_cast<std::size_t>(c)];
}

}  // namespace

TEST(Features, LayoutOfDs2) {
  const auto geometry = geometry::Geometry::builtin("ds2");
  const eval::FeatureLayout layout(geometry);
  EXPECT_EQ(layout.num_layers(), 45);
  EXPECT_EQ(layout.alpha_layers().size(), 45u);
  EXPECT_EQ(layout.size(), 4 + 45 * 8);
  EXPECT_EQ(layout.columns()[static_cast<std::size_t>(layout.index_of("etot_over_einc"))].kind,
            FeatureKind::etot_over_einc);
  EXPECT_EQ(layout.index_of("ec_eta_12"), layout.column(FeatureKind::ec_eta, 12));
  EXPECT_EQ(layout.index_of("no_such_feature"), -1);
  // evaluate.py's cls-high vector: 1 + 45 + 4 x 45 + 1 + 3 x 45 = 362 entries.
  const auto entries = eval::cls_high_entries(layout);
  ASSERT_EQ(entries.size(), 362u);
  EXPECT_EQ(entries.front().name, "log10_e_inc");
  EXPECT_EQ(entries[46].name, "ec_eta_0/100");
  EXPECT_EQ(entries[226].name, "log10_e_tot");
  EXPECT_EQ(entries.back().name, "width_r_44/100");
}

TEST(Features, Ds1PhotonsHasEtaPhiOnlyInLayersBinnedInAlpha) {
  const auto geometry = geometry::Geometry::builtin("ds1-photons");
  const eval::FeatureLayout layout(geometry);
  ASSERT_EQ(layout.num_layers(), 5);
  int with_alpha = 0;
  for (int l = 0; l < 5; ++l) {
    const bool binned = geometry.layers()[static_cast<std::size_t>(l)].alpha_bins > 1;
    with_alpha += binned;
    EXPECT_EQ(layout.column(FeatureKind::ec_eta, l) >= 0, binned) << "layer " << l;
    EXPECT_GE(layout.column(FeatureKind::ec_r, l), 0);
  }
  EXPECT_EQ(static_cast<int>(layout.alpha_layers().size()), with_alpha);
  EXPECT_EQ(eval::cls_high_entries(layout).size(), static_cast<std::size_t>(2 + 4 * 5 + 4 * with_alpha));
  EXPECT_EQ(eval::default_min_energy(geometry), 1.0);
  EXPECT_EQ(eval::default_min_energy(geometry::Geometry::builtin("ds3")), kThreshold);
}

TEST(Features, OneVoxelHit) {
  const auto geometry = geometry::Geometry::builtin("ds2");
  const eval::FeatureCalculator calculator(geometry, kThreshold);
  const auto& layout = calculator.layout();
  Shower shower(geometry);
  const int layer = 3, alpha = 5, r = 2;
  shower.set(layer, alpha, r, 5.0f);
  const auto row = features_of(calculator, shower, 10.0);
  const std::size_t v = static_cast<std::size_t>(geometry.index(layer, alpha, r));
  EXPECT_EQ(value(layout, row, FeatureKind::e_inc), 10.0);
  EXPECT_EQ(value(layout, row, FeatureKind::e_tot), 5.0);
  EXPECT_EQ(value(layout, row, FeatureKind::etot_over_einc), 0.5);
  EXPECT_DOUBLE_EQ(value(layout, row, FeatureKind::sparsity_total), 1.0 - 1.0 / 6480);
  EXPECT_EQ(value(layout, row, FeatureKind::e_layer, layer), 5.0);
  EXPECT_DOUBLE_EQ(value(layout, row, FeatureKind::sparsity, layer), 1.0 - 1.0 / 144);
  // A single voxel: the centre is its position, the width 0 up to the rounding
  // that sqrt(<x^2> - <x>^2) magnifies (as in HighLevelFeatures).
  EXPECT_NEAR(value(layout, row, FeatureKind::ec_eta, layer), geometry.eta()[v], 1e-13);
  EXPECT_NEAR(value(layout, row, FeatureKind::ec_phi, layer), geometry.phi()[v], 1e-13);
  EXPECT_NEAR(value(layout, row, FeatureKind::ec_r, layer), (9.3 + 13.95) * 0.5, 1e-13);
  EXPECT_NEAR(value(layout, row, FeatureKind::width_eta, layer), 0.0, 1e-6);
  EXPECT_NEAR(value(layout, row, FeatureKind::width_phi, layer), 0.0, 1e-6);
  EXPECT_NEAR(value(layout, row, FeatureKind::width_r, layer), 0.0, 1e-6);
  // Empty layers: E = 0, everything else 0 through the 1e-16 guard, sparsity 1.
  for (int l : {0, 4, 44}) {
    EXPECT_EQ(value(layout, row, FeatureKind::e_layer, l), 0.0);
    EXPECT_EQ(value(layout, row, FeatureKind::ec_eta, l), 0.0);
    EXPECT_EQ(value(layout, row, FeatureKind::width_r, l), 0.0);
    EXPECT_EQ(value(layout, row, FeatureKind::sparsity, l), 1.0);
  }
  // cls-high: log10(E + 1e-8) of empty layers is -8; positions are divided by 100.
  const auto entries = eval::cls_high_entries(layout);
  std::vector<double> vector(entries.size());
  eval::cls_high_vector(entries, row.data(), vector.data());
  EXPECT_DOUBLE_EQ(vector[0], 1.0);   // log10(10 MeV)
  EXPECT_DOUBLE_EQ(vector[1], -8.0);  // layer 0 empty
  EXPECT_DOUBLE_EQ(vector[1 + layer], std::log10(5.0 + 1e-8));
  EXPECT_NEAR(vector[46 + layer], geometry.eta()[v] / 100, 1e-15);
  EXPECT_DOUBLE_EQ(vector[226], std::log10(5.0 + 1e-8));
  EXPECT_DOUBLE_EQ(vector[227 + layer], 1.0 - 1.0 / 144);
}

TEST(Features, TwoSymmetricVoxels) {
  const auto geometry = geometry::Geometry::builtin("ds2");
  const eval::FeatureCalculator calculator(geometry, kThreshold);
  const auto& layout = calculator.layout();
  Shower shower(geometry);
  // Opposite alpha bins (alpha and alpha + pi) at one radius, equal energies.
  const int layer = 10, r = 4;
  shower.set(layer, 2, r, 2.0f);
  shower.set(layer, 2 + 8, r, 2.0f);
  const auto row = features_of(calculator, shower, 4.0);
  const std::size_t v = static_cast<std::size_t>(geometry.index(layer, 2, r));
  EXPECT_EQ(value(layout, row, FeatureKind::e_layer, layer), 4.0);
  EXPECT_EQ(value(layout, row, FeatureKind::etot_over_einc), 1.0);
  EXPECT_NEAR(value(layout, row, FeatureKind::ec_eta, layer), 0.0, 1e-12);
  EXPECT_NEAR(value(layout, row, FeatureKind::ec_phi, layer), 0.0, 1e-12);
  EXPECT_NEAR(value(layout, row, FeatureKind::width_eta, layer), std::abs(geometry.eta()[v]), 1e-9);
  EXPECT_NEAR(value(layout, row, FeatureKind::width_phi, layer), std::abs(geometry.phi()[v]), 1e-9);
  EXPECT_DOUBLE_EQ(value(layout, row, FeatureKind::ec_r, layer), (18.6 + 23.25) * 0.5);
  EXPECT_NEAR(value(layout, row, FeatureKind::width_r, layer), 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(value(layout, row, FeatureKind::sparsity, layer), 1.0 - 2.0 / 144);
  // Two radii in one alpha bin: <r> is the energy-weighted mean, sigma_r its spread.
  Shower radial(geometry);
  radial.set(0, 0, 0, 1.0f);  // r = 2.325 mm
  radial.set(0, 0, 2, 3.0f);  // r = 11.625 mm
  const auto row2 = features_of(calculator, radial, 4.0);
  const double mean = (1 * 2.325 + 3 * 11.625) / 4, second = (1 * 2.325 * 2.325 + 3 * 11.625 * 11.625) / 4;
  EXPECT_NEAR(value(layout, row2, FeatureKind::ec_r, 0), mean, 1e-12);
  EXPECT_NEAR(value(layout, row2, FeatureKind::width_r, 0), std::sqrt(second - mean * mean), 1e-9);
}

TEST(Features, ThresholdZeroesVoxelsBelowMinEnergy) {
  const auto geometry = geometry::Geometry::builtin("ds2");
  const eval::FeatureCalculator calculator(geometry, kThreshold);
  const auto& layout = calculator.layout();
  Shower shower(geometry);
  shower.set(7, 0, 0, 0.01f);  // below 15.15 keV: counts as 0
  shower.set(7, 1, 0, 0.02f);  // above: counts
  const auto row = features_of(calculator, shower, 1.0);
  EXPECT_DOUBLE_EQ(value(layout, row, FeatureKind::e_tot), static_cast<double>(0.02f));
  EXPECT_DOUBLE_EQ(value(layout, row, FeatureKind::sparsity, 7), 1.0 - 1.0 / 144);
  const std::size_t v = static_cast<std::size_t>(geometry.index(7, 1, 0));
  EXPECT_NEAR(value(layout, row, FeatureKind::ec_eta, 7), geometry.eta()[v], 1e-13);
  // A higher threshold removes the other voxel too.
  const eval::FeatureCalculator strict(geometry, 0.05);
  const auto none = features_of(strict, shower, 1.0);
  EXPECT_EQ(value(strict.layout(), none, FeatureKind::e_tot), 0.0);
  EXPECT_EQ(value(strict.layout(), none, FeatureKind::sparsity_total), 1.0);
}

TEST(Features, AppendFillsOneRowPerShower) {
  const auto geometry = geometry::Geometry::builtin("ds1-photons");
  const eval::FeatureCalculator calculator(geometry, 1.0);
  data::ShowerBlock block;
  block.first_event = 7;
  block.voxels = geometry.voxels();
  for (int i = 0; i < 3; ++i) {
    block.incident_energies.push_back(1000.0 * (i + 1));
    for (std::int64_t v = 0; v < block.voxels; ++v)
      block.showers.push_back(v % 7 == 0 ? 2.0f * static_cast<float>(i + 1) : 0.0f);
  }
  eval::FeatureTable table;
  calculator.append(block, table);
  ASSERT_EQ(table.rows(), 3);
  EXPECT_EQ(table.first_event, 7);
  const int e_tot = calculator.layout().column(FeatureKind::e_tot);
  const double per_shower = 2.0 * static_cast<double>((geometry.voxels() + 6) / 7);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(table.at(i, e_tot), per_shower * (i + 1));
}
