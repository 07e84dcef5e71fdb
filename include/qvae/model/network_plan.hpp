// Stage plans of the 3-D CNN encoder and decoder: which convolutions, kernels
// and strides take a calorimeter's (z, alpha, r) grid to 1x1x1 and back, and
// the layer tables `describe()` prints.  Free of LibTorch, so the plans are
// computed and tested without it.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "qvae/model/config.hpp"

namespace qvae::geometry {
class Geometry;
}

namespace qvae::model {

/// What a conditioning point does with the energy.
enum class ConditionMode { none, concat, add, film };
/// The mode of the encoder's / decoder's conditioning point for a model.conditioning value.
ConditionMode encoder_condition_mode(Conditioning conditioning);
ConditionMode decoder_condition_mode(Conditioning conditioning);

/// One convolution stage of the 3-D CNN encoder, for the layer table.
struct ConvStage {
  int in_channels = 0;
  int out_channels = 0;
  std::array<int, 3> kernel{3, 3, 3};
  std::array<int, 3> stride{1, 1, 1};
  bool cylinder_padding = false;
  bool batch_norm = true;
  double prelu_init = 0.02;
  std::array<int, 3> out_shape{0, 0, 0};  ///< (z, alpha, r) after the stage
};

/// One transposed-convolution stage of the 3-D CNN decoder, for the layer table.
struct TransposedStage {
  int in_channels = 0;
  int out_channels = 0;
  std::array<int, 3> kernel{3, 3, 3};
  std::array<int, 3> stride{1, 1, 1};
  bool post_pad = false;                  ///< cylinder_pad after the transposed conv
  std::array<int, 3> out_shape{0, 0, 0};  ///< (z, alpha, r) after the stage (and its pad)
};

/// Formats stages as a markdown table (docs/model.md, `describe()` of the networks).
std::string format_stages(const std::vector<ConvStage>& stages);
std::string format_stages(const std::vector<TransposedStage>& stages);

/// A grid as "ZxAxR".
std::string grid_text(const std::array<int, 3>& grid);

/// The (z, alpha, r) grid of a regular geometry.  UsageError (naming the
/// geometry and suggesting model.encoder = fcn) when it is not regular.
std::array<int, 3> regular_grid(const geometry::Geometry& geometry, const std::string& what);

/// The encoder stages for a grid: convs 1-3 of the encoder table (cylinder padding),
/// the energy conditioning point after conv 3 (concat adds a channel), conv 4
/// without padding, extra stride-2 reductions while an extent exceeds 4 (none
/// for ds2), then conv 5 of the table when it yields 1x1x1, else a conv whose kernel
/// is the remaining extent.  UsageError when the grid is too small.
std::vector<ConvStage> plan_cnn_encoder(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                        int latent_nodes, ConditionMode condition);
/// The decoder stages for a grid: 2 trunk transposed convs from 1x1x1, the
/// energy conditioning point, 3 head transposed convs with the periodic post-pad
/// after heads 1 and 2 (the reference's newer `Decoder`, docs/model.md).  Per dimension the kernels and
/// strides are those of the decoder table when they reach the grid (ds2), otherwise the
/// closest plan (kernels 2..5, strides 1..2) that reaches it exactly.
std::vector<TransposedStage> plan_cnn_decoder(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                              int latent_size, ConditionMode condition);

}  // namespace qvae::model
