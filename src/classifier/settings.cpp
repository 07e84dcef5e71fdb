#include "qvae/classifier/settings.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/config_binder.hpp"
#include "qvae/core/error.hpp"

namespace qvae::classifier {

void ClassifierSettings::validate() const {
  const auto require = [](bool ok, const std::string& what, const std::string& remedy) {
    if (!ok) throw core::UsageError(core::describe(what, "[classifier] config", remedy));
  };
  require(hidden >= 1, "classifier.hidden must be >= 1", "evaluate.py uses 2048");
  require(layers >= 0, "classifier.layers must be >= 0", "evaluate.py uses 2");
  require(epochs >= 1, "classifier.epochs must be >= 1", "evaluate.py uses 50");
  require(batch_size >= 1, "classifier.batch_size must be >= 1", "evaluate.py uses 1000");
  require(lr > 0 && std::isfinite(lr), "classifier.lr must be > 0", "evaluate.py uses 2e-4");
  require(train_fraction > 0 && test_fraction > 0 && train_fraction + test_fraction < 1,
          "classifier.train_fraction and classifier.test_fraction must be > 0 with a sum < 1 (the rest validates)",
          "evaluate.py uses 0.6 and 0.2");
  require(threads >= 0, "classifier.threads must be >= 0", "0 keeps LibTorch's default");
  require(chunk_rows >= 1, "classifier.chunk_rows must be >= 1", "e.g. 1024");
}

namespace {

/// The [classifier] keys, each bound to its ClassifierSettings member (whose default it takes).
const core::ConfigBinder<ClassifierSettings>& classifier_keys() {
  static const core::ConfigBinder<ClassifierSettings> keys = [] {
    core::ConfigBinder<ClassifierSettings> k;
    k.value("classifier.hidden", "classifier test: width of the hidden layers", &ClassifierSettings::hidden)
        .value("classifier.layers", "classifier test: hidden-to-hidden layers after the input layer",
               &ClassifierSettings::layers)
        .value("classifier.epochs", "classifier test: training epochs (the epoch with the best test accuracy is kept)",
               &ClassifierSettings::epochs)
        .value("classifier.batch_size", "classifier test: global mini-batch, split over ranks",
               &ClassifierSettings::batch_size)
        .value("classifier.lr", "classifier test: Adam learning rate", &ClassifierSettings::lr)
        .value("classifier.train_fraction", "classifier test: training share of each class",
               &ClassifierSettings::train_fraction)
        .value("classifier.test_fraction",
               "classifier test: test share of each class (best epoch, calibration); the rest validates",
               &ClassifierSettings::test_fraction)
        .value("classifier.seed", "classifier test: seed of the weights, the split and the shuffling",
               &ClassifierSettings::seed)
        .value("classifier.threads", "classifier test: LibTorch threads per rank (0 = default)",
               &ClassifierSettings::threads)
        .value("classifier.chunk_rows", "classifier test: showers read per rank per step while building inputs",
               &ClassifierSettings::chunk_rows)
        .choice("classifier.device",
                "classifier test: where the network trains: cpu, or cuda (one GPU per rank); a build without CUDA "
                "exits 2",
                {rbm::DeviceKind::cpu, rbm::DeviceKind::cuda}, &ClassifierSettings::device);
    return k;
  }();
  return keys;
}

}  // namespace

void add_classifier_keys(core::ConfigSchema& schema) { classifier_keys().add_keys(schema); }

ClassifierSettings classifier_settings_from(const core::Config& config) {
  ClassifierSettings s = classifier_keys().read(config);
  s.validate();
  return s;
}

SplitSizes split_sizes(std::int64_t events, const ClassifierSettings& settings) {
  SplitSizes s;
  s.train = static_cast<std::int64_t>(static_cast<double>(events) * settings.train_fraction);
  s.test = static_cast<std::int64_t>(static_cast<double>(events) * settings.test_fraction);
  s.validation = std::max<std::int64_t>(0, events - s.train - s.test);
  return s;
}

void require_enough_events(std::int64_t events_reference, std::int64_t events_generated,
                           const ClassifierSettings& settings, const std::string& where) {
  const std::int64_t events = std::min(events_reference, events_generated);
  const SplitSizes s = split_sizes(events, settings);
  if (s.train >= 1 && s.test >= 1 && s.validation >= 1) return;
  const double smallest =
      std::min({settings.train_fraction, settings.test_fraction, 1 - settings.train_fraction - settings.test_fraction});
  throw core::InputError(
      core::describe("too few showers for the classifier split: " + std::to_string(events) + " per class give " +
                         std::to_string(s.train) + " train, " + std::to_string(s.test) + " test, " +
                         std::to_string(s.validation) + " validation",
                     where,
                     "give both files at least " + std::to_string(static_cast<std::int64_t>(std::ceil(1 / smallest))) +
                         " showers (CaloChallenge uses 100000)"));
}

}  // namespace qvae::classifier
