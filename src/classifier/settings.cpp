#include "qvae/classifier/settings.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/config.hpp"
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

void add_classifier_keys(core::ConfigSchema& schema) {
  using core::ValueType;
  schema.add({"classifier.hidden", ValueType::integer, "2048", "classifier test: width of the hidden layers", {}});
  schema.add({"classifier.layers",
              ValueType::integer,
              "2",
              "classifier test: hidden-to-hidden layers after the input layer",
              {}});
  schema.add({"classifier.epochs",
              ValueType::integer,
              "50",
              "classifier test: training epochs (the epoch with the best test accuracy is kept)",
              {}});
  schema.add({"classifier.batch_size",
              ValueType::integer,
              "1000",
              "classifier test: global mini-batch, split over ranks",
              {}});
  schema.add({"classifier.lr", ValueType::real, "2e-4", "classifier test: Adam learning rate", {}});
  schema.add(
      {"classifier.train_fraction", ValueType::real, "0.6", "classifier test: training share of each class", {}});
  schema.add({"classifier.test_fraction",
              ValueType::real,
              "0.2",
              "classifier test: test share of each class (best epoch, calibration); the rest validates",
              {}});
  schema.add({"classifier.seed",
              ValueType::unsigned_integer,
              "42",
              "classifier test: seed of the weights, the split and the shuffling",
              {}});
  schema.add(
      {"classifier.threads", ValueType::integer, "0", "classifier test: LibTorch threads per rank (0 = default)", {}});
  schema.add({"classifier.chunk_rows",
              ValueType::integer,
              "1024",
              "classifier test: showers read per rank per step while building inputs",
              {}});
}

ClassifierSettings classifier_settings_from(const core::Config& config) {
  ClassifierSettings s;
  s.hidden = static_cast<int>(config.get_int("classifier.hidden"));
  s.layers = static_cast<int>(config.get_int("classifier.layers"));
  s.epochs = static_cast<int>(config.get_int("classifier.epochs"));
  s.batch_size = config.get_int("classifier.batch_size");
  s.lr = config.get_real("classifier.lr");
  s.train_fraction = config.get_real("classifier.train_fraction");
  s.test_fraction = config.get_real("classifier.test_fraction");
  s.seed = config.get_uint("classifier.seed");
  s.threads = static_cast<int>(config.get_int("classifier.threads"));
  s.chunk_rows = config.get_int("classifier.chunk_rows");
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
