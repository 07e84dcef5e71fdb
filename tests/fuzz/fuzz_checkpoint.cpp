// qvae-checkpoint files, the HDF5 metadata only: what `qvae train --resume`
// and load_trained_model read and validate before any model archive is handed
// to LibTorch — format, the stored configuration (resume_config and the
// stored-INI resolve), geometry, position and best-model attributes,
// partial_sums, guard_state and the history group.  The archives themselves
// (model_state, ...) are read as bytes but not deserialised: LibTorch's own
// pickle reader is not ours to fuzz.
#include "fuzz_support.hpp"
#include "h5_recipe.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/history.hpp"
#include "qvae/train/stability.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qvae::fuzz::start_runtime();
  return 0;
}

namespace {

const qvae::core::ConfigSchema& schema() {
  using qvae::core::ValueType;
  static const qvae::core::ConfigSchema s = [] {
    qvae::core::ConfigSchema out;
    out.add({"train.epochs", ValueType::integer, "10", "", {}});
    out.add({"train.lr", ValueType::real, "0.001", "", {}});
    out.add({"train.data", ValueType::string, "", "", {}});
    out.add({"train.best", ValueType::string, "val_loss", "", {"val_loss", "ll"}});
    out.add({"model.prior", ValueType::string, "rbm", "", {"rbm", "gaussian"}});
    out.add({"run.seed", ValueType::unsigned_integer, "1", "", {}});
    out.add({"run.verbose", ValueType::boolean, "false", "", {}});
    return out;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  static const fuzz::RecipeVocabulary vocabulary{
      {"format",          "format_version", "config",
       "geometry",        "data_file",      "train_events",
       "epochs_done",     "batches_done",   "global_step",
       "ranks",           "best_metric",    "best_epoch",
       "best_rule",       "elapsed_s",      "model_state",
       "optimizer_state", "partial_sums",   "guard_state",
       "history",         "columns",        "history/train_loss",
       "history/val_loss"},
      {train::kCheckpointFormat, "ds1-photons", "ds2", "[train]\nepochs = 3\nlr = 0.01\n[run]\nseed = 4\n",
       "[train]\nbest = ll\n[model]\nprior = gaussian\n", "[train]\nepochs = x\n", "train_loss,val_loss",
       "train_loss,,nothing", ",", "[unknown]\nkey = 1\n"},
      {7, 8, 9, 12, 1}};
  fuzz::Bytes bytes(data, size);
  const std::string path = fuzz::scratch_dir() + "/checkpoint.h5";
  fuzz::write_recipe_file(path, bytes, vocabulary);
  fuzz::expect_clean("fuzz_checkpoint", [&] {
    const io::File file = io::File::open_serial(path);
    io::require_format(file, train::kCheckpointFormat, train::kCheckpointFormatVersion);
    const std::string stored_ini = io::get_string_attribute(file, "/", "config");
    // `qvae train --resume` with one explicit key ...
    const core::Config given = core::Config::resolve(schema(), {}, {{"train.epochs", "20"}});
    train::resume_config(schema(), given, stored_ini);
    // ... and load_trained_model, which keeps the stored keys it knows.
    std::vector<core::ConfigOverride> stored;
    for (const auto& pair : core::parse_ini_text(stored_ini))
      if (schema().find(pair.key)) stored.push_back(pair);
    core::Config::resolve(schema(), {}, stored);
    geometry::Geometry::builtin(io::get_string_attribute(file, "/", "geometry"));
    const auto epochs_done = static_cast<int>(io::get_int_attribute(file, "/", "epochs_done"));
    io::get_int_attribute(file, "/", "batches_done");
    io::get_double_attribute(file, "/", "best_metric");
    io::get_int_attribute(file, "/", "best_epoch");
    io::get_double_attribute(file, "/", "elapsed_s");
    io::read_all<double>(file, "partial_sums", 0);
    if (file.has("guard_state")) train::GuardState::decode(io::read_all<double>(file, "guard_state", 0));
    train::History history = train::History::load(file, "history");
    history.ensure_column("grad_norm_max", 0.0);
    history.ensure_column("val_layer_loss", 0.0, "val_kl_loss");
    history.truncate(static_cast<std::size_t>(epochs_done));
    io::read_all<std::uint8_t>(file, "model_state", 0);
  });
  return 0;
}
