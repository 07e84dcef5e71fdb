// Tests of qvae/data/transforms.hpp: reduce/logit transform, scaled log energy,
// binary energy code and sinusoidal embedding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/data/transforms.hpp"

namespace {

using qvae::core::InputError;
using qvae::core::UsageError;
using qvae::data::BinaryEnergyCode;
using qvae::data::EnergyCodeFeatures;
using qvae::data::EnergyCodeWidths;
using qvae::data::LogitTransform;
using qvae::data::ScaledLogEnergy;
using qvae::data::SinusoidalEnergyEmbedding;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double relative_error(double value, double reference) { return std::fabs(value - reference) / std::fabs(reference); }

// Log-spaced values from lo to hi inclusive.
std::vector<double> log_grid(double lo, double hi, int count) {
  std::vector<double> grid(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    grid[static_cast<std::size_t>(i)] = lo * std::pow(hi / lo, static_cast<double>(i) / (count - 1));
  }
  grid.back() = hi;
  return grid;
}

// Runs `call`, expects InputError and returns its message.
template <typename Call>
std::string input_error_message(Call call) {
  try {
    call();
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected qvae::core::InputError";
  return {};
}

// ---------------------------------------------------------------------------
// LogitTransform

TEST(LogitTransform, RefusesROutsideOpenIntervalZeroToHalf) {
  for (double r : {0.0, 0.5, -1e-7, 0.7, kNaN}) {
    EXPECT_THROW(LogitTransform{r}, UsageError) << "R = " << r;
  }
  EXPECT_NO_THROW(LogitTransform{0.25});
  EXPECT_DOUBLE_EQ(LogitTransform{}.r(), 1e-7);
}

TEST(LogitTransform, MatchesHandComputedValues) {
  // R = 1/4, eps = 1/2: x = 1/2, u = ln(0.5 * 0.75 / (0.25 * 0.5)) = ln 3.
  EXPECT_LT(relative_error(LogitTransform(0.25).forward(500.0, 1000.0), std::log(3.0)), 1e-15);
  // R = 1e-7, eps = 1/2: u = ln((1 - R) / R) = 16.118095550958314788... (40-digit reference).
  const LogitTransform transform;
  EXPECT_LT(relative_error(transform.forward(5000.0, 10000.0), 16.118095550958314788), 1e-14);
  // R = 1e-7, eps = 0.01: u = ln(x (1 - R) / (R (1 - x))) = 11.522985599765609064...
  EXPECT_LT(relative_error(transform.forward(10.0, 1000.0), 11.522985599765609064), 1e-13);
  // eps = 1: x = 1 - R, u = 2 ln((1 - R) / R).
  EXPECT_LT(relative_error(transform.forward(1000.0, 1000.0), 2.0 * 16.118095550958314788), 1e-14);
  EXPECT_LT(relative_error(transform.max_u(), 2.0 * 16.118095550958314788), 1e-14);
}

TEST(LogitTransform, ZeroVoxelsMapToExactlyZeroAndBack) {
  const LogitTransform transform;
  for (double incident : {1e3, 4.2e4, 1e6}) {
    EXPECT_EQ(transform.forward(0.0, incident), 0.0);
    EXPECT_EQ(transform.inverse(0.0, incident), 0.0);
  }
  const std::vector<float> voxels = {0.0f, 12.5f, 0.0f, 0.015f, 0.0f};
  std::vector<float> reduced(voxels.size(), -1.0f), back(voxels.size(), -1.0f);
  transform.forward_row(voxels.data(), voxels.size(), 1e6, reduced.data());
  transform.inverse_row(reduced.data(), reduced.size(), 1e6, back.data());
  for (std::size_t i = 0; i < voxels.size(); ++i) {
    if (voxels[i] == 0.0f) {
      EXPECT_EQ(reduced[i], 0.0f) << i;
      EXPECT_EQ(back[i], 0.0f) << i;
    } else {
      EXPECT_GT(reduced[i], 0.0f) << i;  // the "hit" target is u > 0
      EXPECT_GT(back[i], 0.0f) << i;
    }
  }
}

TEST(LogitTransform, FractionScaleAcceptsVoxelsAboveTheIncidentEnergyAndRoundTrips) {
  // 96 voxels of a calibrated ds1 file hold up to 1.015 x E_inc: scale 2 maps them inside the range.
  const LogitTransform plain, scaled(1e-7, 2.0);
  EXPECT_THROW(plain.forward(259.7, 256.0), InputError);
  const double u = scaled.forward(259.7, 256.0);
  // eps = 259.7 / 512 < 1/2 maps exactly as the unscaled transform maps the same eps.
  EXPECT_LT(relative_error(u, plain.forward(259.7 / 2.0, 256.0)), 1e-15);
  EXPECT_LT(relative_error(scaled.inverse(u, 256.0), 259.7), 1e-13);
  EXPECT_EQ(scaled.forward(0.0, 256.0), 0.0);
  EXPECT_THROW(scaled.forward(512.1, 256.0), InputError);  // beyond 2 x E_inc
  const std::string message = input_error_message([&] { scaled.forward(600.0, 256.0); });
  EXPECT_NE(message.find("model.fraction_scale = 2"), std::string::npos) << message;
}

TEST(LogitTransform, RefusesFractionScaleBelowOneOrNotFinite) {
  for (double s : {0.0, 0.99, -2.0, kNaN, kInf}) EXPECT_THROW(LogitTransform(1e-7, s), UsageError) << s;
  EXPECT_DOUBLE_EQ(LogitTransform(1e-7, 4.0).fraction_scale(), 4.0);
}

TEST(LogitTransform, SmallestRealisticVoxelGivesPositiveU) {
  // 0.015 MeV in a 1 TeV shower: eps = 1.5e-8, still clearly above the zero point.
  EXPECT_GT(LogitTransform().forward(0.015, 1e6), 0.1);
}

TEST(LogitTransform, NegativeUFromADecoderMapsToZeroEnergy) { EXPECT_EQ(LogitTransform().inverse(-0.3, 1e4), 0.0); }

TEST(LogitTransform, DoubleRoundTripOverRealisticRangeWithin1e13Relative) {
  const LogitTransform transform;
  double worst = 0.0;
  for (double incident : log_grid(1e3, 1e6, 31)) {
    for (double voxel : log_grid(0.015, incident, 400)) {
      const double back = transform.inverse(transform.forward(voxel, incident), incident);
      worst = std::max(worst, relative_error(back, voxel));
    }
  }
  EXPECT_LT(worst, 1e-13);
}

TEST(LogitTransform, FloatRowRoundTripOverRealisticRangeWithin1e6Relative) {
  // Float storage of u costs at most half an ulp of u times d(ln E)/du, below
  // 6e-7 relative in E_vox (see LogitTransform), so 1e-6 must hold everywhere.
  const LogitTransform transform;
  double worst = 0.0;
  qvae::core::Philox rng(2024, 1);
  for (double grid_incident : log_grid(1e3, 1e6, 31)) {
    // Files store E_inc as float too; no voxel may exceed it after rounding.
    const double incident = static_cast<float>(grid_incident);
    std::vector<double> grid = log_grid(0.015, incident, 300);
    // Plus random voxel energies, log-uniform over the same range.
    for (int i = 0; i < 300; ++i) grid.push_back(0.015 * std::pow(incident / 0.015, rng.uniform()));
    std::vector<float> voxels(grid.begin(), grid.end());
    std::vector<float> reduced(voxels.size()), back(voxels.size());
    transform.forward_row(voxels.data(), voxels.size(), incident, reduced.data());
    transform.inverse_row(reduced.data(), reduced.size(), incident, back.data());
    for (std::size_t i = 0; i < voxels.size(); ++i) {
      worst = std::max(worst, relative_error(back[i], voxels[i]));
    }
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(LogitTransform, RowsUseEachEventsIncidentEnergyAndRoundTrip) {
  const LogitTransform transform;
  const std::vector<double> incident = {1e3, 1e6};
  const std::vector<double> showers = {0.0, 1.0, 500.0,   // event 0
                                       0.0, 1.0, 500.0};  // event 1
  std::vector<double> reduced(showers.size()), back(showers.size());
  transform.forward_rows(showers.data(), 2, 3, incident.data(), reduced.data());
  EXPECT_EQ(reduced[1], transform.forward(1.0, 1e3));
  EXPECT_EQ(reduced[4], transform.forward(1.0, 1e6));
  EXPECT_NE(reduced[1], reduced[4]);
  transform.inverse_rows(reduced.data(), 2, 3, incident.data(), back.data());
  for (std::size_t i = 0; i < showers.size(); ++i) {
    if (showers[i] == 0.0) {
      EXPECT_EQ(back[i], 0.0);
    } else {
      EXPECT_LT(relative_error(back[i], showers[i]), 1e-10);
    }
  }
}

TEST(LogitTransform, RefusesBadVoxelsNamingTheIndexAndLeavesOutputUntouched) {
  const LogitTransform transform;
  for (double bad : {-1.0, 1000.5, kNaN, kInf}) {
    const std::vector<double> voxels = {1.0, 2.0, 3.0, bad, 4.0};
    std::vector<double> reduced(voxels.size(), -7.0);
    const std::string message =
        input_error_message([&] { transform.forward_row(voxels.data(), voxels.size(), 1000.0, reduced.data()); });
    EXPECT_NE(message.find("voxel 3"), std::string::npos) << message;
    for (double value : reduced) EXPECT_EQ(value, -7.0);
  }
  const std::vector<float> showers = {1.0f, 2.0f, 3.0f, 4.0f, -5.0f, 6.0f};
  const std::vector<float> incident = {100.0f, 100.0f};
  std::vector<float> reduced(showers.size());
  const std::string message =
      input_error_message([&] { transform.forward_rows(showers.data(), 2, 3, incident.data(), reduced.data()); });
  EXPECT_NE(message.find("event 1, voxel 1"), std::string::npos) << message;
}

TEST(LogitTransform, RefusesNonPositiveOrNonFiniteIncidentEnergyAndNonFiniteU) {
  const LogitTransform transform;
  for (double incident : {0.0, -5.0, kNaN, kInf}) {
    EXPECT_THROW(transform.forward(1.0, incident), InputError) << incident;
    EXPECT_THROW(transform.inverse(1.0, incident), InputError) << incident;
  }
  EXPECT_THROW(transform.inverse(kNaN, 1e3), InputError);
  const std::vector<double> reduced = {1.0, kInf};
  std::vector<double> voxels(2);
  const std::string message =
      input_error_message([&] { transform.inverse_row(reduced.data(), 2, 1e3, voxels.data()); });
  EXPECT_NE(message.find("voxel 1"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------
// ScaledLogEnergy

TEST(ScaledLogEnergy, MapsDs2BoundsToZeroAndOneAndHandValue) {
  const ScaledLogEnergy scale;  // a = 6, b = 14
  EXPECT_NEAR(scale.forward(std::exp(6.0)), 0.0, 1e-15);
  EXPECT_NEAR(scale.forward(std::exp(14.0)), 1.0, 1e-15);
  // (ln 1000 - 6) / 8 = 0.11346940987276710...
  EXPECT_LT(relative_error(scale.forward(1000.0), 0.1134694098727671), 1e-14);
  EXPECT_LT(relative_error(ScaledLogEnergy(5.0, 16.0).forward(1000.0), (std::log(1000.0) - 5.0) / 11.0), 1e-15);
}

TEST(ScaledLogEnergy, InverseUndoesForward) {
  const ScaledLogEnergy scale;
  for (double energy : log_grid(1e3, 1e6, 50)) {
    EXPECT_LT(relative_error(scale.inverse(scale.forward(energy)), energy), 1e-14) << energy;
  }
  const std::vector<float> energies = {1000.0f, 65536.0f, 1e6f};
  std::vector<float> scaled(3), back(3);
  scale.forward(energies.data(), 3, scaled.data());
  scale.inverse(scaled.data(), 3, back.data());
  for (std::size_t i = 0; i < 3; ++i) EXPECT_LT(relative_error(back[i], energies[i]), 1e-6);
}

TEST(ScaledLogEnergy, RefusesBadBoundsAndBadEnergies) {
  EXPECT_THROW(ScaledLogEnergy(14.0, 6.0), UsageError);
  EXPECT_THROW(ScaledLogEnergy(6.0, 6.0), UsageError);
  EXPECT_THROW(ScaledLogEnergy(kNaN, 6.0), UsageError);
  const ScaledLogEnergy scale;
  EXPECT_THROW(scale.forward(0.0), InputError);
  EXPECT_THROW(scale.forward(kNaN), InputError);
  EXPECT_THROW(scale.inverse(kInf), InputError);
  const std::vector<double> energies = {1e3, 1e4, -1.0};
  std::vector<double> scaled(3);
  const std::string message = input_error_message([&] { scale.forward(energies.data(), 3, scaled.data()); });
  EXPECT_NE(message.find("index 2"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------
// BinaryEnergyCode

std::vector<std::uint8_t> bits_of(const std::string& lsb_first) {
  std::vector<std::uint8_t> bits;
  for (char c : lsb_first) bits.push_back(c == '1' ? 1 : 0);
  return bits;
}

TEST(BinaryEnergyCode, PicksMinimalWidthsForTheDataRange) {
  // E_max = 1e6 MeV: floor(E) = 1000000 (20 bits), floor(sqrt(1e7)) = 3162 (12 bits),
  // floor(e^10 ln 1e6) = 304306 (19 bits).
  const BinaryEnergyCode code(1e6, 302);
  EXPECT_EQ(code.widths().linear, 20);
  EXPECT_EQ(code.widths().sqrt, 12);
  EXPECT_EQ(code.widths().log, 19);
  EXPECT_EQ(code.copy_length(), 51);
  EXPECT_EQ(code.copies(), 5);
  EXPECT_EQ(code.padding(), 302 - 5 * 51);
}

TEST(BinaryEnergyCode, FeaturesOf1GeVAreHandComputed) {
  // floor(1000) = 1000, floor(sqrt(10000)) = 100, floor(22026.4657948... * 6.90775527898...) = 152153.
  const EnergyCodeFeatures features = BinaryEnergyCode::features(1000.0);
  EXPECT_EQ(features.linear, 1000u);
  EXPECT_EQ(features.sqrt, 100u);
  EXPECT_EQ(features.log, 152153u);
}

TEST(BinaryEnergyCode, BitPatternOf1GeVIsLsbFirstRepeatedThenZeroPadded) {
  const BinaryEnergyCode code(1e6, 120);  // 51-bit copy: 2 copies + 18 zeros
  // LSB first: 1000 = 0001011111, 100 = 0010011, 152153 = 100110100100101001.
  const std::vector<std::uint8_t> linear = bits_of("00010111110000000000");    // 20 bits
  const std::vector<std::uint8_t> sqrt_field = bits_of("001001100000");        // 12 bits
  const std::vector<std::uint8_t> log_field = bits_of("1001101001001010010");  // 19 bits
  std::vector<std::uint8_t> expected;
  for (int copy = 0; copy < 2; ++copy) {
    expected.insert(expected.end(), linear.begin(), linear.end());
    expected.insert(expected.end(), sqrt_field.begin(), sqrt_field.end());
    expected.insert(expected.end(), log_field.begin(), log_field.end());
  }
  expected.resize(120, 0);
  EXPECT_EQ(code.encode(1000.0), expected);

  std::vector<float> as_float(120, -1.0f);
  code.encode(1000.0, as_float.data());
  for (std::size_t i = 0; i < 120; ++i) EXPECT_EQ(as_float[i], static_cast<float>(expected[i])) << i;
}

TEST(BinaryEnergyCode, DecodeRecoversTheFeaturesOverTheRange) {
  const BinaryEnergyCode code(1e6, 302);
  for (double energy : log_grid(1.5, 1e6, 200)) {
    const std::vector<std::uint8_t> nodes = code.encode(energy);
    EXPECT_EQ(code.decode(nodes.data()), BinaryEnergyCode::features(energy)) << energy;
  }
  const std::vector<double> energies = {1e3, 2.5e5};
  std::vector<float> rows(2 * 302);
  code.encode_rows(energies.data(), 2, rows.data());
  EXPECT_EQ(code.decode(rows.data() + 302), BinaryEnergyCode::features(2.5e5));
}

TEST(BinaryEnergyCode, RefusesAnEnergyThatWouldWrap) {
  const BinaryEnergyCode code(1000.0, 302);  // floor(E) gets 10 bits: up to 1023
  EXPECT_NO_THROW(code.encode(1000.0));
  EXPECT_NO_THROW(code.encode(1023.9));  // beyond E_max but every feature still fits
  EXPECT_THROW(code.encode(1024.0), InputError);
  // The NEW reference widths 15/15/15 wrap floor(e^10 ln E) above e^(32768/e^10)
  // = 4.43 MeV, i.e. for every realistic energy.
  const BinaryEnergyCode reference(EnergyCodeWidths{15, 15, 15}, 302);
  EXPECT_NO_THROW(reference.encode(4.4));
  const std::string message = input_error_message([&] { reference.encode(4.45); });
  EXPECT_NE(message.find("floor(e^10 ln E) = 32883"), std::string::npos) << message;
  EXPECT_NE(message.find("wrap"), std::string::npos) << message;
  const std::vector<double> energies = {1.5, 2e3};
  std::vector<float> rows(2 * 302, -1.0f);
  const std::string rows_message = input_error_message([&] { reference.encode_rows(energies.data(), 2, rows.data()); });
  EXPECT_NE(rows_message.find("event 1"), std::string::npos) << rows_message;
  EXPECT_EQ(rows[0], -1.0f);  // nothing written
}

TEST(BinaryEnergyCode, RefusesEnergiesNotAbove1MeV) {
  const BinaryEnergyCode code(1e6, 302);
  for (double energy : {1.0, 0.5, 0.0, -3.0, kNaN, kInf}) {
    EXPECT_THROW(code.encode(energy), InputError) << energy;
  }
  EXPECT_THROW(BinaryEnergyCode(1.0, 302), InputError);
}

TEST(BinaryEnergyCode, RefusesAPartitionTooSmallForOneCopy) {
  EXPECT_THROW(BinaryEnergyCode(1e6, 50), UsageError);  // needs 51
  const BinaryEnergyCode exact(1e6, 51);
  EXPECT_EQ(exact.copies(), 1);
  EXPECT_EQ(exact.padding(), 0);
  EXPECT_THROW(BinaryEnergyCode(EnergyCodeWidths{0, 5, 5}, 302), UsageError);
  EXPECT_THROW(BinaryEnergyCode(EnergyCodeWidths{64, 5, 5}, 302), UsageError);
}

TEST(BinaryEnergyCode, DecodeRefusesDisagreeingCopiesAndNonBinaryNodes) {
  const BinaryEnergyCode code(1e6, 120);
  std::vector<std::uint8_t> nodes = code.encode(5e4);
  nodes[51 + 7] ^= 1u;  // second copy differs
  std::string message = input_error_message([&] { code.decode(nodes.data()); });
  EXPECT_NE(message.find("node 58"), std::string::npos) << message;
  nodes = code.encode(5e4);
  nodes[119] = 1;  // padding
  EXPECT_THROW(code.decode(nodes.data()), InputError);
  std::vector<float> floats(120, 0.0f);
  code.encode(5e4, floats.data());
  floats[3] = 0.5f;
  EXPECT_THROW(code.decode(floats.data()), InputError);
}

// ---------------------------------------------------------------------------
// SinusoidalEnergyEmbedding

TEST(SinusoidalEnergyEmbedding, MatchesFormulaAtHandPoint) {
  // d = 4, ln E = 1: frequencies 10000^0 = 1 and 10000^(-2/4) = 0.01.
  const SinusoidalEnergyEmbedding embedding(4);
  const std::vector<double> values = embedding.embed(std::exp(1.0));
  ASSERT_EQ(values.size(), 4u);
  EXPECT_NEAR(values[0], std::sin(1.0), 1e-15);
  EXPECT_NEAR(values[1], std::cos(1.0), 1e-15);
  EXPECT_NEAR(values[2], std::sin(0.01), 1e-15);
  EXPECT_NEAR(values[3], std::cos(0.01), 1e-15);
}

TEST(SinusoidalEnergyEmbedding, RowsMatchSingleEmbeddings) {
  const SinusoidalEnergyEmbedding embedding(16);
  const std::vector<double> energies = {1e3, 3.3e5};
  std::vector<float> rows(2 * 16);
  embedding.embed_rows(energies.data(), 2, rows.data());
  const std::vector<double> second = embedding.embed(3.3e5);
  for (int i = 0; i < 16; ++i)
    EXPECT_FLOAT_EQ(rows[16 + static_cast<std::size_t>(i)], static_cast<float>(second[static_cast<std::size_t>(i)]));
}

TEST(SinusoidalEnergyEmbedding, RefusesOddDimensionAndNonPositiveEnergy) {
  EXPECT_THROW(SinusoidalEnergyEmbedding(3), UsageError);
  EXPECT_THROW(SinusoidalEnergyEmbedding(0), UsageError);
  EXPECT_THROW(SinusoidalEnergyEmbedding(4, 1.0), UsageError);
  const SinusoidalEnergyEmbedding embedding(4);
  EXPECT_THROW(embedding.embed(0.0), InputError);
  EXPECT_THROW(embedding.embed(kNaN), InputError);
}

}  // namespace
