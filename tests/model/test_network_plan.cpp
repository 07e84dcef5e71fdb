// Tests of the model configuration and of the CNN stage plans, without
// LibTorch: qvae/model/config.hpp and qvae/model/network_plan.hpp are free of it.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/network_plan.hpp"

namespace {

using namespace qvae::model;
using qvae::core::UsageError;
using qvae::geometry::Geometry;

const Geometry& ds2() {
  static const Geometry geometry = Geometry::builtin("ds2");
  return geometry;
}

// ---------------------------------------------------------------------------
// Configuration

TEST(ModelConfig, SchemaDefaultsAreTheDocumentedReference) {
  qvae::core::ConfigSchema schema;
  add_model_keys(schema);
  const auto config = qvae::core::Config::resolve(schema, {}, {});
  const ModelConfig m = model_config_from(config);
  const ModelConfig reference;
  EXPECT_EQ(m.encoder, NetworkKind::cnn);
  EXPECT_EQ(m.conditioning, Conditioning::encoder_decoder);
  EXPECT_EQ(m.prior_conditioning, PriorConditioning::clamped);
  EXPECT_EQ(m.cnn_encoder_channels, reference.cnn_encoder_channels);
  EXPECT_EQ(m.rbm.nodes_per_partition, 302);
  EXPECT_EQ(m.encoder_levels(), 3);
  EXPECT_DOUBLE_EQ(m.loss.mse_coefficient, 0.01);
  EXPECT_DOUBLE_EQ(m.beta.end, 100.0);
  EXPECT_EQ(m.rbm.update, RbmUpdate::centred_sgd);
  EXPECT_EQ(m.energy_code_widths.total(), 60);
}

TEST(ModelConfig, ExampleFilesResolve) {
  qvae::core::ConfigSchema schema;
  add_model_keys(schema);
  for (const char* name : {"ds2-cnn-pegasus.ini", "fcn.ini", "tiny.ini"}) {
    const std::string path = std::string(QVAE_MODEL_CONFIG_DIR) + "/" + name;
    const ModelConfig m = model_config_from(qvae::core::Config::resolve(schema, {path}, {}));
    EXPECT_GE(m.rbm.nodes_per_partition, 1) << name;
  }
}

TEST(ModelConfig, RefusesInconsistentValues) {
  qvae::core::ConfigSchema schema;
  add_model_keys(schema);
  auto resolve = [&](const std::string& key, const std::string& value) {
    return model_config_from(qvae::core::Config::resolve(schema, {}, {{key, value}}));
  };
  EXPECT_THROW(resolve("model.cnn_encoder_channels", "32,64"), UsageError);
  EXPECT_THROW(resolve("model.cnn_encoder_channels", "32,x,1,2"), UsageError);
  EXPECT_THROW(resolve("rbm.nodes_per_partition", "16"), UsageError);  // 60-bit code does not fit
  EXPECT_THROW(resolve("model.conditioning", "both"), UsageError);
  EXPECT_NO_THROW(resolve("model.energy_code_widths", "auto"));
}

TEST(ModelConfig, LinearAnnealFollowsTheReferenceLaw) {
  const LinearAnneal beta{1.0, 100.0, 0, 150};
  EXPECT_DOUBLE_EQ(beta.at(0, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(beta.at(1, 0, 10), 1.0);
  EXPECT_NEAR(beta.at(76, 0, 10), 1.0 + 99.0 * 75.0 / 150.0, 1e-12);
  EXPECT_DOUBLE_EQ(beta.at(400, 3, 10), 100.0);
  const LinearAnneal slope{0.05, 0.0, 0, 150};
  EXPECT_DOUBLE_EQ(slope.at(500, 0, 10), 0.0);
}

// ---------------------------------------------------------------------------
// Stage plans of the 3-D CNNs

TEST(Networks, Ds2LayerTablesMatchTheSpec) {
  const auto grid = regular_grid(ds2(), "encoder");
  EXPECT_EQ(grid, (std::array<int, 3>{45, 16, 9}));
  const auto encoder = plan_cnn_encoder(grid, {32, 64, 128, 256}, 302, ConditionMode::concat);
  ASSERT_EQ(encoder.size(), 5u);
  const std::vector<std::array<int, 3>> shapes{{22, 16, 8}, {10, 16, 7}, {8, 8, 6}, {3, 3, 4}, {1, 1, 1}};
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(encoder[i].out_shape, shapes[i]) << "stage " << i + 1;
  EXPECT_EQ(encoder[3].in_channels, 129);
  EXPECT_EQ(encoder[4].out_channels, 302);
  EXPECT_EQ(encoder[4].stride, (std::array<int, 3>{1, 2, 2}));

  const auto decoder = plan_cnn_decoder(grid, {512, 128, 64, 32}, 1208, ConditionMode::concat);
  const std::vector<std::array<int, 3>> out{{3, 3, 2}, {9, 6, 3}, {19, 10, 5}, {41, 14, 7}, {45, 16, 9}};
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(decoder[i].out_shape, out[i]) << "stage " << i + 1;
  EXPECT_EQ(decoder[2].in_channels, 129);
  EXPECT_EQ(decoder[1].kernel, (std::array<int, 3>{5, 4, 2}));
}

TEST(Networks, Ds3PlansReachTheGrid) {
  const auto grid = regular_grid(Geometry::builtin("ds3"), "encoder");
  const auto encoder = plan_cnn_encoder(grid, {4, 4, 4, 4}, 10, ConditionMode::film);
  EXPECT_EQ(encoder.back().out_shape, (std::array<int, 3>{1, 1, 1}));
  const auto decoder = plan_cnn_decoder(grid, {4, 4, 4, 4}, 40, ConditionMode::none);
  EXPECT_EQ(decoder.back().out_shape, grid);
  const std::string table = format_stages(encoder);
  EXPECT_NE(table.find("| 1 |"), std::string::npos) << table;
  if (std::getenv("QVAE_PRINT_DESCRIBE")) std::cout << table << "\n" << format_stages(decoder);
}

TEST(Networks, RegularGridRefusesTheIrregularDs1) {
  try {
    regular_grid(Geometry::builtin("ds1-photons"), "encoder");
    ADD_FAILURE() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("regular"), std::string::npos) << e.what();
  }
}

}  // namespace
