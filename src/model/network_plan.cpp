// Stage plans of the 3-D CNN encoder and decoder (network_plan.hpp; docs/model.md,
// "Encoders", "Decoders").  No LibTorch here.
#include "qvae/model/network_plan.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/geometry/geometry.hpp"

namespace qvae::model {

namespace {

std::string shape_text(const std::array<int, 3>& shape) {
  return std::to_string(shape[0]) + "," + std::to_string(shape[1]) + "," + std::to_string(shape[2]);
}

/// Growth of (z, alpha, r) by cylinder_pad().
constexpr std::array<int, 3> kCylinderGrowth{0, 2, 1};

}  // namespace

ConditionMode encoder_condition_mode(Conditioning conditioning) {
  switch (conditioning) {
    case Conditioning::none:
      return ConditionMode::none;
    case Conditioning::encoder:
    case Conditioning::encoder_decoder:
      return ConditionMode::concat;
    case Conditioning::additive:
      return ConditionMode::add;
    case Conditioning::film:
      return ConditionMode::film;
  }
  return ConditionMode::none;
}

ConditionMode decoder_condition_mode(Conditioning conditioning) {
  switch (conditioning) {
    case Conditioning::none:
    case Conditioning::encoder:
      return ConditionMode::none;
    case Conditioning::encoder_decoder:
      return ConditionMode::concat;
    case Conditioning::additive:
      return ConditionMode::add;
    case Conditioning::film:
      return ConditionMode::film;
  }
  return ConditionMode::none;
}

std::string grid_text(const std::array<int, 3>& grid) {
  return std::to_string(grid[0]) + "x" + std::to_string(grid[1]) + "x" + std::to_string(grid[2]);
}

std::string format_stages(const std::vector<ConvStage>& stages) {
  std::ostringstream os;
  os << "| # | op (Cin->Cout, kernel, stride, padding) | out (C,z,alpha,r) |\n|---|---|---|\n";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    os << "| " << i + 1 << " | " << (s.cylinder_padding ? "PConv3d " : "Conv3d ") << s.in_channels << "->"
       << s.out_channels << ", k(" << shape_text(s.kernel) << "), s(" << shape_text(s.stride) << "), "
       << (s.cylinder_padding ? "cylinder pad" : "p=0") << (s.batch_norm ? "; BN3d" : "") << "; PReLU("
       << s.out_channels << ", init " << s.prelu_init << ")"
       << " | " << s.out_channels << "," << shape_text(s.out_shape) << " |\n";
  }
  return os.str();
}

std::string format_stages(const std::vector<TransposedStage>& stages) {
  std::ostringstream os;
  os << "| # | op (Cin->Cout, kernel, stride) | out (C,z,alpha,r) |\n|---|---|---|\n";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    os << "| " << i + 1 << " | ConvT3d " << s.in_channels << "->" << s.out_channels << ", k(" << shape_text(s.kernel)
       << "), s(" << shape_text(s.stride) << ")" << (s.post_pad ? ", cylinder post-pad" : "") << " | " << s.out_channels
       << "," << shape_text(s.out_shape) << " |\n";
  }
  return os.str();
}

std::array<int, 3> regular_grid(const geometry::Geometry& geometry, const std::string& what) {
  if (!geometry.is_regular() || geometry.layers().empty())
    throw core::UsageError(core::describe("the 3-D CNN " + what +
                                              " needs a regular (layers x alpha x r) geometry, but " + geometry.name() +
                                              " has layers with different binnings",
                                          "", "set model." + what + "=fcn for this geometry"));
  const auto& first = geometry.layers().front();
  return {geometry.num_layers(), first.alpha_bins, first.r_bins()};
}

std::vector<ConvStage> plan_cnn_encoder(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                        int latent_nodes, ConditionMode condition) {
  if (channels.size() != 4) throw core::UsageError("model.cnn_encoder_channels needs 4 values");
  std::vector<ConvStage> stages;
  std::array<int, 3> shape = grid;
  int in_channels = 1;
  auto add = [&](int out, std::array<int, 3> kernel, std::array<int, 3> stride, bool cylinder, bool batch_norm,
                 double prelu_init) {
    ConvStage stage{in_channels, out, kernel, stride, cylinder, batch_norm, prelu_init, {0, 0, 0}};
    for (int d = 0; d < 3; ++d) {
      const int padded =
          shape[static_cast<std::size_t>(d)] + (cylinder ? kCylinderGrowth[static_cast<std::size_t>(d)] : 0);
      if (padded < kernel[static_cast<std::size_t>(d)])
        throw core::UsageError(core::describe("the geometry grid " + grid_text(grid) +
                                                  " is too small for the 3-D CNN encoder (stage " +
                                                  std::to_string(stages.size() + 1) + ")",
                                              "", "use model.encoder=fcn"));
      shape[static_cast<std::size_t>(d)] =
          (padded - kernel[static_cast<std::size_t>(d)]) / stride[static_cast<std::size_t>(d)] + 1;
    }
    stage.out_shape = shape;
    stages.push_back(stage);
    in_channels = out;
  };
  // Convs 1-3 of the encoder table (docs/model.md) with the cylinder padding.
  add(channels[0], {3, 3, 3}, {2, 1, 1}, true, true, 0.02);
  add(channels[1], {3, 3, 3}, {2, 1, 1}, true, true, 0.02);
  add(channels[2], {3, 3, 3}, {1, 2, 1}, true, true, 0.02);
  if (condition == ConditionMode::concat) in_channels += 1;  // the trans_energy channel
  add(channels[3], {3, 3, 3}, {2, 2, 1}, false, true, 0.02);
  // Larger grids (ds3): halve every extent above 4 until none is.
  while (*std::max_element(shape.begin(), shape.end()) > 4) {
    std::array<int, 3> kernel{}, stride{};
    for (std::size_t d = 0; d < 3; ++d) {
      kernel[d] = std::min(3, shape[d]);
      stride[d] = shape[d] > 4 ? 2 : 1;
    }
    add(channels[3], kernel, stride, false, true, 0.02);
  }
  // Conv 5 of the table (k 3, s(1,2,2)) when it collapses the grid, else a kernel of the remaining extent.
  bool table_collapses = true;
  const std::array<int, 3> table_stride{1, 2, 2};
  for (std::size_t d = 0; d < 3; ++d)
    table_collapses = table_collapses && shape[d] >= 3 && (shape[d] - 3) / table_stride[d] + 1 == 1;
  if (table_collapses)
    add(latent_nodes, {3, 3, 3}, table_stride, false, false, 1.0);
  else
    add(latent_nodes, shape, {1, 1, 1}, false, false, 1.0);
  return stages;
}

namespace {

/// One dimension of the decoder plan: kernels and strides of the 5 transposed convs.
struct DimensionPlan {
  std::array<int, 5> kernel{};
  std::array<int, 5> stride{};
};

/// Size after the 5 stages from 1, with `growth` added after stages 3 and 4 (post-pad).
int plan_size(const DimensionPlan& plan, int growth) {
  int size = 1;
  for (std::size_t i = 0; i < 5; ++i) {
    size = (size - 1) * plan.stride[i] + plan.kernel[i];
    if (i == 2 || i == 3) size += growth;
  }
  return size;
}

/// The plan closest to `reference` (cost: kernel distance + 2 per changed stride) reaching `target`.
DimensionPlan plan_dimension(int target, int growth, const DimensionPlan& reference, const char* name) {
  if (plan_size(reference, growth) == target) return reference;
  DimensionPlan best{}, trial = reference;
  int best_cost = std::numeric_limits<int>::max();
  for (int code = 0; code < 5 * 5 * 5 * 5 * 5 * 16; ++code) {
    int rest = code;
    for (std::size_t i = 0; i < 5; ++i) {
      trial.kernel[i] = 1 + rest % 5;
      rest /= 5;
    }
    for (std::size_t i = 1; i < 5; ++i) {
      trial.stride[i] = 1 + rest % 2;
      rest /= 2;
    }
    if (plan_size(trial, growth) != target) continue;
    int cost = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      cost += std::abs(trial.kernel[i] - reference.kernel[i]);
      if (i > 0 && trial.stride[i] != reference.stride[i]) cost += 2;
    }
    if (cost < best_cost) {
      best_cost = cost;
      best = trial;
    }
  }
  if (best_cost == std::numeric_limits<int>::max())
    throw core::UsageError(
        core::describe("no 3-D CNN decoder plan reaches " + std::to_string(target) + " bins in " + name, "",
                       "use model.decoder=fcn for this geometry"));
  return best;
}

}  // namespace

std::vector<TransposedStage> plan_cnn_decoder(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                              int latent_size, ConditionMode condition) {
  if (channels.size() != 4) throw core::UsageError("model.cnn_decoder_channels needs 4 values");
  // The reference's newer `Decoder` (docs/model.md, "Decoders"), per dimension (z, alpha, r).
  const DimensionPlan reference_z{{3, 5, 3, 5, 5}, {2, 2, 2, 2, 1}};
  const DimensionPlan reference_alpha{{3, 4, 3, 3, 3}, {1, 1, 1, 1, 1}};
  const DimensionPlan reference_r{{2, 2, 2, 2, 3}, {1, 1, 1, 1, 1}};
  const std::array<DimensionPlan, 3> plans{plan_dimension(grid[0], kCylinderGrowth[0], reference_z, "z"),
                                           plan_dimension(grid[1], kCylinderGrowth[1], reference_alpha, "alpha"),
                                           plan_dimension(grid[2], kCylinderGrowth[2], reference_r, "r")};
  const int trunk_out = channels[1] + (condition == ConditionMode::concat ? 1 : 0);
  const std::array<int, 5> in_channels{latent_size, channels[0], trunk_out, channels[2], channels[3]};
  const std::array<int, 5> out_channels{channels[0], channels[1], channels[2], channels[3], 1};
  std::vector<TransposedStage> stages;
  std::array<int, 3> shape{1, 1, 1};
  for (std::size_t i = 0; i < 5; ++i) {
    TransposedStage stage;
    stage.in_channels = in_channels[i];
    stage.out_channels = out_channels[i];
    stage.post_pad = (i == 2 || i == 3);
    for (std::size_t d = 0; d < 3; ++d) {
      stage.kernel[d] = plans[d].kernel[i];
      stage.stride[d] = plans[d].stride[i];
      shape[d] = (shape[d] - 1) * stage.stride[d] + stage.kernel[d] + (stage.post_pad ? kCylinderGrowth[d] : 0);
    }
    stage.out_shape = shape;
    stages.push_back(stage);
  }
  return stages;
}

}  // namespace qvae::model
