#include "run_checkpoint.hpp"

#include <algorithm>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"

namespace qvae::train {
namespace {

std::string read_bytes(const io::File& file, const std::string& name) {
  const std::vector<std::uint8_t> bytes = io::read_all<std::uint8_t>(file, name, 0);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

void write_checkpoint(const std::string& path, DataParallelModel& trainer, const RunState& state,
                      const CheckpointContext& context, const par::Communicator& comm) {
  model::Qvae& model = trainer.model();
  const bool root = comm.is_root();
  std::string model_bytes;
  if (root) model_bytes = to_bytes([&](std::ostream& out) { torch::save(model, out); });
  par::run_agreed(comm, [&] {
    if (!root) return;
    const std::string optimizer_bytes = to_bytes([&](std::ostream& out) { torch::save(trainer.adam(), out); });
    io::OutputFile file = io::OutputFile::create_serial(path);
    io::write_provenance(file, context.provenance);
    io::set_format(file, kCheckpointFormat, kCheckpointFormatVersion);
    io::set_attribute(file, "/", "geometry", context.geometry);
    io::set_attribute(file, "/", "data_file", context.data_file);
    io::set_attribute(file, "/", "train_events", context.train_events);
    io::set_attribute(file, "/", "epochs_done", static_cast<std::int64_t>(state.position.epochs_done));
    io::set_attribute(file, "/", "batches_done", state.position.batches_done);
    io::set_attribute(file, "/", "ranks", static_cast<std::int64_t>(comm.size()));
    io::set_attribute(file, "/", "best_metric", state.best_metric);
    io::set_attribute(file, "/", "best_epoch", static_cast<std::int64_t>(state.best_epoch));
    io::set_attribute(file, "/", "best_rule", context.best_rule);
    io::set_attribute(file, "/", "elapsed_s", state.elapsed_s);
    auto write_bytes = [&](const std::string& name, const std::string& bytes) {
      io::write_rows<std::uint8_t>(file, name, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                   static_cast<std::int64_t>(bytes.size()), 0);
    };
    write_bytes("model_state", model_bytes);
    write_bytes("optimizer_state", optimizer_bytes);
    if (auto* prior_optimizer = trainer.prior_optimizer())
      write_bytes("prior_optimizer_state", to_bytes([&](std::ostream& out) { torch::save(*prior_optimizer, out); }));
    std::vector<double> partial(state.partial_sums.begin(), state.partial_sums.end());
    partial.push_back(state.partial_events);
    partial.push_back(state.partial_seconds);
    io::write_rows<double>(file, "partial_sums", partial.data(), static_cast<std::int64_t>(partial.size()), 0);
    const std::vector<double> guard = state.guard.encode();
    io::write_rows<double>(file, "guard_state", guard.data(), static_cast<std::int64_t>(guard.size()), 0);
    const model::Prior& prior = model->prior();
    const torch::Tensor biases = prior.biases().detach().contiguous();
    const torch::Tensor weights = prior.weights().detach().contiguous();
    io::write_rows<double>(file, "rbm_biases", biases.data_ptr<double>(), biases.numel(), 0);
    io::write_rows<double>(file, "rbm_weights", weights.data_ptr<double>(), weights.numel(), 0);
    std::vector<std::int64_t> couplers;
    for (const auto& edge : prior.machine().couplers()) {
      couplers.push_back(edge.first);
      couplers.push_back(edge.second);
    }
    io::write_rows<std::int64_t>(file, "rbm_couplers", couplers.data(), static_cast<std::int64_t>(couplers.size() / 2),
                                 2);
    state.history.store(file, "history");
    file.commit();
  });
}

void load_checkpoint(const std::string& path, DataParallelModel& trainer, RunState& state) {
  const io::File file = io::File::open_serial(path);
  io::require_format(file, kCheckpointFormat, kCheckpointFormatVersion);
  load_from_bytes(trainer.model(), read_bytes(file, "model_state"));
  load_from_bytes(trainer.adam(), read_bytes(file, "optimizer_state"));
  if (auto* prior_optimizer = trainer.prior_optimizer())
    load_from_bytes(*prior_optimizer, read_bytes(file, "prior_optimizer_state"));
  state.position.epochs_done = static_cast<int>(io::get_int_attribute(file, "/", "epochs_done"));
  state.position.batches_done = io::get_int_attribute(file, "/", "batches_done");
  state.best_metric = io::get_double_attribute(file, "/", "best_metric");
  state.best_epoch = static_cast<int>(io::get_int_attribute(file, "/", "best_epoch"));
  state.elapsed_s = io::get_double_attribute(file, "/", "elapsed_s");
  std::vector<double> partial = io::read_all<double>(file, "partial_sums", 0);
  // Checkpoints from before the layer-energy term hold one term less: it was 0.
  if (partial.size() == kTerms + 1) partial.insert(partial.begin() + kLayerTerm, 0.0);
  if (partial.size() != kTerms + 2)
    throw core::InputError(core::describe("partial_sums has " + std::to_string(partial.size()) + " values",
                                          io::where_text(path, "partial_sums"), "resume from another checkpoint"));
  std::copy_n(partial.begin(), kTerms, state.partial_sums.begin());
  state.partial_events = partial[kTerms];
  state.partial_seconds = partial[kTerms + 1];
  // Checkpoints before the stability guard (v1) have no guard state: nothing
  // was ever skipped, rolled back or clipped, so their epochs get zero counts
  // (and NaN, not recorded, for the gradient norm).
  state.guard = file.has("guard_state") ? GuardState::decode(io::read_all<double>(file, "guard_state", 0)) : GuardState{};
  state.history = History::load(file, "history");
  for (const char* column : kGuardColumns)
    state.history.ensure_column(column, std::string(column) == "grad_norm_max" ? std::numeric_limits<double>::quiet_NaN()
                                                                                : 0.0);
  state.history.ensure_column("train_layer_loss", 0.0, "train_kl_loss");
  state.history.ensure_column("val_layer_loss", 0.0, "val_kl_loss");
  // Columns added later than the checkpoint: not recorded (NaN).
  for (const char* column : kLogLikelihoodColumns)
    state.history.ensure_column(column, std::numeric_limits<double>::quiet_NaN());
  state.history.truncate(static_cast<std::size_t>(state.position.epochs_done));
}

}  // namespace qvae::train
