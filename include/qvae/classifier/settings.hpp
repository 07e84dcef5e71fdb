// The [classifier] config keys: the hyper-parameters of the classifier
// two-sample test, with CaloChallenge evaluate.py's values as defaults.  No
// LibTorch include, so the CLI registers the keys cheaply.
#pragma once

#include <cstdint>
#include <string>

#include "qvae/rbm/torch_device.hpp"

namespace qvae::core {
class Config;
class ConfigSchema;
}  // namespace qvae::core

namespace qvae::classifier {

struct ClassifierSettings {
  int hidden = 2048;  ///< width of every hidden layer
  int layers = 2;     ///< hidden 2048 -> 2048 layers after the input layer
  int epochs = 50;
  std::int64_t batch_size = 1000;                 ///< global mini-batch, split over ranks
  double lr = 2e-4;                               ///< Adam
  double train_fraction = 0.6;                    ///< per class; test and validation share the rest
  double test_fraction = 0.2;                     ///< per class; fits the calibration, picks the best epoch
  std::uint64_t seed = 42;                        ///< weights, split and shuffling
  int threads = 0;                                ///< LibTorch threads per rank (0 = LibTorch's default)
  std::int64_t chunk_rows = 1024;                 ///< showers read per rank per step when building inputs
  rbm::DeviceKind device = rbm::DeviceKind::cpu;  ///< where the network trains

  /// UsageError naming the first bad value.
  void validate() const;
};

void add_classifier_keys(core::ConfigSchema& schema);
ClassifierSettings classifier_settings_from(const core::Config& config);

/// Events per class in each split of `events` per class: floor(n * fraction)
/// for train and test (numpy's astype(int)), the rest for validation.
struct SplitSizes {
  std::int64_t train = 0, test = 0, validation = 0;
};
SplitSizes split_sizes(std::int64_t events, const ClassifierSettings& settings);
/// InputError (exit 3) unless every split holds at least one event of each class.
void require_enough_events(std::int64_t events_reference, std::int64_t events_generated,
                           const ClassifierSettings& settings, const std::string& where);

}  // namespace qvae::classifier
