#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "error_message.hpp"
#include "qvae/core/error.hpp"
#include "qvae/geometry/geometry.hpp"

using qvae::core::InputError;
using qvae::core::UsageError;
using qvae::geometry::Geometry;

namespace {

constexpr double pi = 3.14159265358979323846;
const std::string data_dir = std::string(QVAE_TEST_DATA_DIR) + "/calochallenge/";

/// Runs `action`, expects an InputError, and returns its message.
template <class F>
std::string input_error_of(F&& action) {
  return qvae::testing::error_message<InputError>(std::forward<F>(action));
}

std::string one_layer_xml(const std::string& r_edges, const std::string& alpha) {
  return "<Bins><Bin pid=\"11\" name=\"electron\"><Layer id=\"0\" r_edges=\"" + r_edges + "\" n_bin_alpha=\"" + alpha +
         "\"/></Bin></Bins>";
}

}  // namespace

TEST(Geometry, BuiltinsHaveTheCaloChallengeVoxelCounts) {
  EXPECT_EQ(Geometry::builtin_names(), (std::vector<std::string>{"ds1-photons", "ds1-pions", "ds2", "ds3"}));
  EXPECT_EQ(Geometry::builtin("ds1-photons").voxels(), 368);
  EXPECT_EQ(Geometry::builtin("ds1-pions").voxels(), 533);
  EXPECT_EQ(Geometry::builtin("ds2").voxels(), 6480);
  EXPECT_EQ(Geometry::builtin("ds3").voxels(), 40500);
  EXPECT_EQ(Geometry::builtin("ds2").name(), "ds2");
}

TEST(Geometry, Ds2IsA45By16By9GridInLayerAlphaROrder) {
  const Geometry g = Geometry::builtin("ds2");
  ASSERT_EQ(g.num_layers(), 45);
  for (const auto& layer : g.layers()) {
    EXPECT_EQ(layer.alpha_bins, 16);
    EXPECT_EQ(layer.r_bins(), 9);
  }
  for (int l = 0; l < 45; ++l)
    for (int a = 0; a < 16; ++a)
      for (int r = 0; r < 9; ++r) {
        const std::int64_t i = g.index(l, a, r);
        ASSERT_EQ(i, (l * 16 + a) * 9 + r);
        ASSERT_EQ(g.layer_of()[static_cast<std::size_t>(i)], l);
        ASSERT_EQ(g.alpha_bin()[static_cast<std::size_t>(i)], a);
        ASSERT_EQ(g.r_bin()[static_cast<std::size_t>(i)], r);
      }
  EXPECT_TRUE(g.is_regular());
}

TEST(Geometry, RadialCentresAreMidpointsOfTheEdges) {
  const Geometry g = Geometry::builtin("ds2");
  for (int r = 0; r < 9; ++r)
    EXPECT_NEAR(g.r_center()[static_cast<std::size_t>(g.index(3, 7, r))], 2.325 + 4.65 * r, 1e-12);
  EXPECT_DOUBLE_EQ(g.r_center()[0], 2.325);
  EXPECT_DOUBLE_EQ(g.r_center()[8], 39.525);
  const Geometry ds3 = Geometry::builtin("ds3");
  EXPECT_DOUBLE_EQ(ds3.r_center()[0], 1.1625);
  EXPECT_DOUBLE_EQ(ds3.r_center()[17], 40.6875);
}

TEST(Geometry, AlphaCentresAreMidpointsOfEqualBinsFromMinusPiToPi) {
  const Geometry g = Geometry::builtin("ds2");
  for (int a = 0; a < 16; ++a)
    EXPECT_NEAR(g.alpha_center()[static_cast<std::size_t>(g.index(0, a, 4))], -pi + (2 * a + 1) * pi / 16, 1e-14);
  const Geometry ds3 = Geometry::builtin("ds3");
  for (int a = 0; a < 50; ++a)
    EXPECT_NEAR(ds3.alpha_center()[static_cast<std::size_t>(ds3.index(10, a, 0))], -pi + (2 * a + 1) * pi / 50, 1e-14);
}

TEST(Geometry, EtaAndPhiAreCartesianOffsetsOfTheBinCentre) {
  const Geometry g = Geometry::builtin("ds2");
  // alpha = -15pi/16, r = 2.325
  EXPECT_NEAR(g.eta()[0], -2.2803257769375107, 1e-12);
  EXPECT_NEAR(g.phi()[0], -0.4535849986874991, 1e-12);
  // layer 7, alpha bin 5 (-5pi/16), r bin 8 (39.525)
  EXPECT_NEAR(g.eta()[1061], 21.958913460099772, 1e-12);
  EXPECT_NEAR(g.phi()[1061], -32.8638364262581, 1e-12);
  // ds3 last voxel: alpha = 49pi/50, r = 40.6875
  const Geometry ds3 = Geometry::builtin("ds3");
  EXPECT_NEAR(ds3.eta()[40499], -40.6072125129253, 1e-12);
  EXPECT_NEAR(ds3.phi()[40499], 2.5547892633489284, 1e-12);
}

TEST(Geometry, Ds1SkipsLayersWithoutRadialBins) {
  const Geometry photons = Geometry::builtin("ds1-photons");
  std::vector<int> ids;
  for (const auto& layer : photons.layers()) ids.push_back(layer.id);
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 2, 3, 12}));
  EXPECT_EQ(photons.layer_offsets(), (std::vector<std::int64_t>{0, 8, 168, 358, 363, 368}));

  const Geometry pions = Geometry::builtin("ds1-pions");
  ids.clear();
  for (const auto& layer : pions.layers()) ids.push_back(layer.id);
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 2, 3, 12, 13, 14}));
  EXPECT_EQ(pions.layer_offsets(), (std::vector<std::int64_t>{0, 8, 108, 208, 213, 363, 523, 533}));
  EXPECT_FALSE(photons.is_regular());
  EXPECT_FALSE(pions.is_regular());
}

TEST(Geometry, LayerOffsetsAreCumulativeVoxelCounts) {
  const auto offsets = Geometry::builtin("ds2").layer_offsets();
  ASSERT_EQ(offsets.size(), 46u);
  for (std::size_t l = 0; l < offsets.size(); ++l) EXPECT_EQ(offsets[l], static_cast<std::int64_t>(l) * 144);
  EXPECT_EQ(Geometry::builtin("ds3").layer_offsets().back(), 40500);
}

TEST(Geometry, Ds1VoxelsFollowXmlHandlerCoordinates) {
  const Geometry g = Geometry::builtin("ds1-photons");
  // Unbinned-alpha layer: the single alpha centre is exactly 0, so eta = r and phi = 0.
  for (int r = 0; r < 8; ++r) {
    const auto i = static_cast<std::size_t>(g.index(0, 0, r));
    EXPECT_EQ(g.alpha_center()[i], 0.0);
    EXPECT_EQ(g.eta()[i], g.r_center()[i]);
    EXPECT_EQ(g.phi()[i], 0.0);
  }
  EXPECT_DOUBLE_EQ(g.r_center()[7], 500.0);  // edges 400, 600
  // Layer id 1: 10 alpha x 16 r; alpha bin 3 is centred on -0.3 pi, r bin 2 spans 4..6 mm.
  const std::int64_t i = g.index(1, 3, 2);
  EXPECT_EQ(i, 8 + 3 * 16 + 2);
  EXPECT_DOUBLE_EQ(g.r_center()[static_cast<std::size_t>(i)], 5.0);
  EXPECT_NEAR(g.eta()[static_cast<std::size_t>(i)], 2.938926261462366, 1e-12);
  EXPECT_NEAR(g.phi()[static_cast<std::size_t>(i)], -4.045084971874737, 1e-12);
}

TEST(Geometry, DetectPicksTheBuiltinByVoxelCount) {
  EXPECT_EQ(Geometry::detect(368).name(), "ds1-photons");
  EXPECT_EQ(Geometry::detect(533).name(), "ds1-pions");
  EXPECT_EQ(Geometry::detect(6480).name(), "ds2");
  EXPECT_EQ(Geometry::detect(40500).name(), "ds3");
}

TEST(Geometry, DetectRejectsUnknownCountsListingTheKnownOnes) {
  const std::string message = input_error_of([] { Geometry::detect(1000); });
  for (const char* part : {"1000", "368", "533", "6480", "40500"})
    EXPECT_NE(message.find(part), std::string::npos) << message;
}

TEST(Geometry, UnknownBuiltinNameIsAUsageErrorListingTheNames) {
  try {
    Geometry::builtin("ds4");
    FAIL() << "no UsageError thrown";
  } catch (const UsageError& e) {
    const std::string message = e.what();
    for (const char* part : {"ds4", "ds1-photons", "ds1-pions", "ds2", "ds3"})
      EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

TEST(Geometry, FilesParseToTheSameGeometryAsTheBuiltins) {
  const std::vector<std::pair<std::string, std::string>> files = {{"ds1-photons", "binning_dataset_1_photons.xml"},
                                                                  {"ds1-pions", "binning_dataset_1_pions.xml"},
                                                                  {"ds2", "binning_dataset_2.xml"},
                                                                  {"ds3", "binning_dataset_3.xml"}};
  for (const auto& [name, file] : files) {
    const Geometry from_file = Geometry::from_xml_file(data_dir + file, name);
    const Geometry builtin = Geometry::builtin(name);
    ASSERT_EQ(from_file.num_layers(), builtin.num_layers()) << file;
    for (int l = 0; l < builtin.num_layers(); ++l) {
      const auto& a = from_file.layers()[static_cast<std::size_t>(l)];
      const auto& b = builtin.layers()[static_cast<std::size_t>(l)];
      EXPECT_EQ(a.id, b.id);
      EXPECT_EQ(a.r_edges, b.r_edges);
      EXPECT_EQ(a.alpha_bins, b.alpha_bins);
      EXPECT_EQ(a.first_voxel, b.first_voxel);
    }
    EXPECT_EQ(from_file.eta(), builtin.eta()) << file;
    EXPECT_EQ(from_file.phi(), builtin.phi()) << file;
  }
}

TEST(Geometry, MissingFileIsAnInputErrorNamingThePath) {
  const std::string message = input_error_of([] { Geometry::from_xml_file("/nonexistent/binning.xml", "x"); });
  EXPECT_NE(message.find("/nonexistent/binning.xml"), std::string::npos) << message;
}

TEST(Geometry, MalformedBinningIsAnInputErrorNamingTheSource) {
  const std::vector<std::string> bad = {
      "<Bins><Bin><Layer id=\"0\" r_edges=\"0,1\" n_bin_alpha=\"1\"></Bin></Bins>",  // unclosed <Layer>
      "",                                                                            // empty document
      "<Bins></Bins>",                                                               // no <Bin>
      "<Bins><Bin><Layer id=\"0\" n_bin_alpha=\"1\"/></Bin></Bins>",                 // no r_edges
      "<Bins><Bin><Layer id=\"0\" r_edges=\"0,1\"/></Bin></Bins>",                   // no n_bin_alpha
      "<Bins><Bin><Row id=\"0\" r_edges=\"0,1\" n_bin_alpha=\"1\"/></Bin></Bins>",   // unknown element
      "<Bins><Bin><Layer id=\"0\" r_edges=\"0\" n_bin_alpha=\"1\"/></Bin></Bins>",   // no voxels at all
      one_layer_xml("0,abc,2", "1"),                                                 // non-numeric edge
      one_layer_xml("0,1,", "1"),                                                    // empty edge
      one_layer_xml("0,5,3", "1"),                                                   // not ascending
      one_layer_xml("0,5,5", "1"),                                                   // zero-width bin
      one_layer_xml("0,nan", "1"),                                                   // not finite
      one_layer_xml("0,1,2", "0"),                                                   // no alpha bins
      one_layer_xml("0,1,2", "-3"),                                                  // negative alpha bins
      one_layer_xml("0,1,2", "2.5"),                                                 // fractional alpha bins
  };
  for (const std::string& xml : bad) {
    const std::string message = input_error_of([&] { Geometry::from_xml_text(xml, "test", "my-binning.xml"); });
    EXPECT_NE(message.find("my-binning.xml"), std::string::npos) << xml << " -> " << message;
  }
}

TEST(Geometry, WellFormedVariantsAreAccepted) {
  // Whitespace around values, an XML declaration and comments are fine; empty layers are skipped.
  const std::string xml =
      "<?xml version=\"1.0\"?>\n<!-- test -->\n<Bins><Bin name=\"e\">"
      "<Layer id=\"0\" r_edges=\"0\" n_bin_alpha=\"4\"/>"
      "<Layer id=\"1\" r_edges=\" 0, 1.5 ,3\" n_bin_alpha=\" 4 \"/></Bin></Bins>";
  const Geometry g = Geometry::from_xml_text(xml, "custom", "inline");
  ASSERT_EQ(g.num_layers(), 1);
  EXPECT_EQ(g.layers()[0].id, 1);
  EXPECT_EQ(g.voxels(), 8);
  EXPECT_DOUBLE_EQ(g.r_center()[g.index(0, 3, 1)], 2.25);
  EXPECT_NEAR(g.alpha_center()[g.index(0, 3, 1)], 0.75 * pi, 1e-15);
  EXPECT_EQ(g.layer_offsets(), (std::vector<std::int64_t>{0, 8}));
}
