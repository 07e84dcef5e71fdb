// BinaryEnergyCode: the incident energy as bits of partition 0 of the prior.
#include "qvae/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"

namespace qvae::data {

using core::describe;
using core::InputError;
using core::UsageError;

namespace {

constexpr int kMaxFieldWidth = 63;
// Energies from 2^63 MeV on do not fit the integer features at all.
constexpr double kEnergyFeatureLimit = 9223372036854775808.0;

int bits_needed(std::uint64_t value) {
  int bits = 1;  // a field of zero still takes one node
  while (bits < 64 && (value >> bits) != 0) ++bits;
  return bits;
}

bool fits(std::uint64_t value, int width) { return width >= 64 || (value >> width) == 0; }

void check_partition(const EnergyCodeWidths& widths, int partition_size) {
  for (int width : {widths.linear, widths.sqrt, widths.log}) {
    if (width < 1 || width > kMaxFieldWidth) {
      throw UsageError(describe("binary energy code field width " + std::to_string(width) + " is outside [1, 63]",
                                "conditioned prior partition", "choose widths from the data's energy range"));
    }
  }
  if (partition_size < widths.total()) {
    throw UsageError(describe("conditioned partition of " + std::to_string(partition_size) +
                                  " nodes cannot hold one binary energy code of " + std::to_string(widths.total()) +
                                  " bits (" + std::to_string(widths.linear) + "+" + std::to_string(widths.sqrt) + "+" +
                                  std::to_string(widths.log) + ")",
                              "conditioned prior partition", "use a larger partition or a smaller energy range"));
  }
}

template <typename Node>
void write_code(const EnergyCodeFeatures& features, const EnergyCodeWidths& widths, int partition_size, Node* nodes) {
  const int copy_length = widths.total();
  const int copies = partition_size / copy_length;
  int node = 0;
  for (int copy = 0; copy < copies; ++copy) {
    for (const auto& field : {std::make_pair(features.linear, widths.linear),
                              std::make_pair(features.sqrt, widths.sqrt), std::make_pair(features.log, widths.log)}) {
      for (int bit = 0; bit < field.second; ++bit) nodes[node++] = static_cast<Node>((field.first >> bit) & 1u);
    }
  }
  for (; node < partition_size; ++node) nodes[node] = static_cast<Node>(0);
}

template <typename Node>
EnergyCodeFeatures read_code(const Node* nodes, const EnergyCodeWidths& widths, int partition_size) {
  for (int node = 0; node < partition_size; ++node) {
    if (!(nodes[node] == static_cast<Node>(0) || nodes[node] == static_cast<Node>(1))) {
      throw InputError(describe("binary energy code node is neither 0 nor 1", "at node " + std::to_string(node),
                                "pass the clamped partition unchanged"));
    }
  }
  const int copy_length = widths.total();
  const int copies = partition_size / copy_length;
  for (int copy = 1; copy < copies; ++copy) {
    for (int bit = 0; bit < copy_length; ++bit) {
      const int node = copy * copy_length + bit;
      if (nodes[node] != nodes[bit]) {
        throw InputError(describe("binary energy code copy " + std::to_string(copy) + " differs from copy 0",
                                  "at node " + std::to_string(node), "pass the clamped partition unchanged"));
      }
    }
  }
  for (int node = copies * copy_length; node < partition_size; ++node) {
    if (nodes[node] != static_cast<Node>(0)) {
      throw InputError(describe("binary energy code padding node is not 0", "at node " + std::to_string(node),
                                "pass the clamped partition unchanged"));
    }
  }
  EnergyCodeFeatures features;
  int node = 0;
  for (auto field : {std::make_pair(&features.linear, widths.linear), std::make_pair(&features.sqrt, widths.sqrt),
                     std::make_pair(&features.log, widths.log)}) {
    for (int bit = 0; bit < field.second; ++bit, ++node) {
      if (nodes[node] == static_cast<Node>(1)) *field.first |= std::uint64_t{1} << bit;
    }
  }
  return features;
}

}  // namespace

namespace {

const char* const kCodeWhere = "binary energy code";

EnergyCodeFeatures features_at(double energy, const std::string& where) {
  if (!std::isfinite(energy) || !(energy > 1.0)) {
    throw InputError(describe("incident energy " + core::real_text(energy) + " MeV is not above 1 MeV", where,
                              "the code needs ln E > 0; check the incident energies"));
  }
  if (!(energy < kEnergyFeatureLimit)) {
    throw InputError(
        describe("incident energy " + core::real_text(energy) + " MeV is too large for a binary energy code", where,
                 "check the incident energies"));
  }
  EnergyCodeFeatures result;
  result.linear = static_cast<std::uint64_t>(std::floor(energy));
  result.sqrt = static_cast<std::uint64_t>(std::floor(std::sqrt(10.0 * energy)));
  result.log = static_cast<std::uint64_t>(std::floor(std::exp(10.0) * std::log(energy)));
  return result;
}

EnergyCodeFeatures checked_features_at(const EnergyCodeWidths& widths, double energy, const std::string& where) {
  const EnergyCodeFeatures code = features_at(energy, where);
  const char* field = nullptr;
  std::uint64_t value = 0;
  int width = 0;
  if (!fits(code.linear, widths.linear)) {
    field = "floor(E)", value = code.linear, width = widths.linear;
  } else if (!fits(code.sqrt, widths.sqrt)) {
    field = "floor(sqrt(10 E))", value = code.sqrt, width = widths.sqrt;
  } else if (!fits(code.log, widths.log)) {
    field = "floor(e^10 ln E)", value = code.log, width = widths.log;
  }
  if (field != nullptr) {
    throw InputError(describe("incident energy " + core::real_text(energy) + " MeV gives " + field + " = " +
                                  std::to_string(value) + ", which does not fit its " + std::to_string(width) +
                                  " bits (it would wrap)",
                              where, "build the code from the data's largest energy"));
  }
  return code;
}

}  // namespace

EnergyCodeFeatures BinaryEnergyCode::features(double energy) { return features_at(energy, kCodeWhere); }

EnergyCodeWidths BinaryEnergyCode::minimal_widths(double energy) {
  const EnergyCodeFeatures top = features(energy);
  return EnergyCodeWidths{bits_needed(top.linear), bits_needed(top.sqrt), bits_needed(top.log)};
}

BinaryEnergyCode::BinaryEnergyCode(double max_energy, int partition_size)
    : widths_(minimal_widths(max_energy)), partition_size_(partition_size) {
  check_partition(widths_, partition_size_);
}

BinaryEnergyCode::BinaryEnergyCode(EnergyCodeWidths widths, int partition_size)
    : widths_(widths), partition_size_(partition_size) {
  check_partition(widths_, partition_size_);
}

EnergyCodeFeatures BinaryEnergyCode::checked_features(double energy) const {
  return checked_features_at(widths_, energy, kCodeWhere);
}

void BinaryEnergyCode::encode(double energy, std::uint8_t* nodes) const {
  write_code(checked_features(energy), widths_, partition_size_, nodes);
}

void BinaryEnergyCode::encode(double energy, float* nodes) const {
  write_code(checked_features(energy), widths_, partition_size_, nodes);
}

std::vector<std::uint8_t> BinaryEnergyCode::encode(double energy) const {
  std::vector<std::uint8_t> nodes(static_cast<std::size_t>(partition_size_));
  encode(energy, nodes.data());
  return nodes;
}

namespace {

// Every energy is checked before any row is written.
template <typename T>
void encode_rows_impl(const BinaryEnergyCode& code, const T* energies, std::size_t count, float* nodes) {
  std::vector<EnergyCodeFeatures> all(count);
  for (std::size_t i = 0; i < count; ++i) {
    all[i] = checked_features_at(code.widths(), static_cast<double>(energies[i]),
                                 "binary energy code of event " + std::to_string(i));
  }
  const std::size_t row_length = static_cast<std::size_t>(code.partition_size());
  for (std::size_t i = 0; i < count; ++i) {
    write_code(all[i], code.widths(), code.partition_size(), nodes + i * row_length);
  }
}

}  // namespace

void BinaryEnergyCode::encode_rows(const double* energies, std::size_t count, float* nodes) const {
  encode_rows_impl(*this, energies, count, nodes);
}
void BinaryEnergyCode::encode_rows(const float* energies, std::size_t count, float* nodes) const {
  encode_rows_impl(*this, energies, count, nodes);
}

EnergyCodeFeatures BinaryEnergyCode::decode(const std::uint8_t* nodes) const {
  return read_code(nodes, widths_, partition_size_);
}
EnergyCodeFeatures BinaryEnergyCode::decode(const float* nodes) const {
  return read_code(nodes, widths_, partition_size_);
}

}  // namespace qvae::data
