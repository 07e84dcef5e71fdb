#include "run_checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <istream>
#include <optional>
#include <streambuf>
#include <system_error>
#include <utility>
#include <vector>

#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::train {
namespace {

/// Pieces in which an archive is copied into the checkpoint.
constexpr std::int64_t kArchivePieceBytes = std::int64_t{64} << 20;

/// Writes what `save` puts in a file (torch::save of a model or optimiser)
/// into the uint8 dataset `name` of `file`.  The archive goes through a
/// temporary file beside the checkpoint and is copied in bounded pieces, so
/// it is never held in memory (1.3 GB for a 100 M-parameter network and its
/// Adam moments).  The temporary file is removed however this ends; one left
/// by a killed run is removed when the run restarts.
void write_archive(io::OutputFile& file, const std::string& name, const std::string& checkpoint_path,
                   const std::function<void(const std::string&)>& save) {
  const std::string temporary = core::temporary_path(checkpoint_path + "." + name);
  struct Remover {
    std::string path;
    ~Remover() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } remover{temporary};
  save(temporary);
  std::error_code error;
  const auto size = static_cast<std::int64_t>(std::filesystem::file_size(temporary, error));
  std::ifstream in(temporary, std::ios::binary);
  if (error || !in)
    throw core::RuntimeError(core::describe("cannot read back the archive written for " + name, temporary,
                                            "check the space and permissions of the run directory"));
  io::RowWriter<std::uint8_t> writer(file, name, size, 0);
  std::vector<char> piece(static_cast<std::size_t>(std::min(size, kArchivePieceBytes)));
  for (std::int64_t offset = 0; offset < size;) {
    const std::int64_t count = std::min(size - offset, kArchivePieceBytes);
    in.read(piece.data(), count);
    if (in.gcount() != count)
      throw core::RuntimeError(core::describe("short read of the archive written for " + name, temporary,
                                              "check the space of the run directory"));
    writer.write(par::Block{offset, count}, reinterpret_cast<const std::uint8_t*>(piece.data()));
    offset += count;
  }
}

/// A read-only, seekable view of a uint8 dataset, for torch::load: the
/// archive's zip reader seeks to each record and reads it, so only the
/// record being read is in memory, never the whole archive.
class DatasetStreamBuf : public std::streambuf {
 public:
  DatasetStreamBuf(const io::File& file, std::string name)
      : file_(file), name_(std::move(name)), size_(io::dataset_shape(file, name_).rows()) {}

 protected:
  std::streamsize xsgetn(char* out, std::streamsize wanted) override {
    const std::int64_t count = std::min<std::int64_t>(wanted, size_ - position_);
    if (count <= 0) return 0;
    io::read_rows(file_, name_, par::Block{position_, count}, 0, piece_);
    std::memcpy(out, piece_.data(), static_cast<std::size_t>(count));
    position_ += count;
    return count;
  }
  int_type underflow() override {  // single characters: read one, keep the position
    char c = 0;
    if (xsgetn(&c, 1) != 1) return traits_type::eof();
    --position_;
    return traits_type::to_int_type(c);
  }
  int_type uflow() override {
    char c = 0;
    return xsgetn(&c, 1) == 1 ? traits_type::to_int_type(c) : traits_type::eof();
  }
  pos_type seekoff(off_type offset, std::ios_base::seekdir from, std::ios_base::openmode) override {
    const std::int64_t base = from == std::ios_base::beg ? 0 : from == std::ios_base::cur ? position_ : size_;
    return seekpos(pos_type(base + offset), std::ios_base::in);
  }
  pos_type seekpos(pos_type position, std::ios_base::openmode) override {
    const auto target = static_cast<std::int64_t>(position);
    if (target < 0 || target > size_) return pos_type(off_type(-1));
    position_ = target;
    return position;
  }

 private:
  const io::File& file_;
  std::string name_;
  std::int64_t size_;
  std::int64_t position_ = 0;
  std::vector<std::uint8_t> piece_;
};

/// torch::load of a model or optimiser from the archive in dataset `name`,
/// its tensors mapped to `device` (that of the tensors they replace).
template <class Target>
void load_archive(Target& target, const io::File& file, const std::string& name, torch::Device device = torch::kCPU) {
  DatasetStreamBuf buffer(file, name);
  std::istream in(&buffer);
  torch::load(target, in, device);
}

/// The encoder/decoder Adam moments in the checkpoint: float32 datasets
/// over the flat parameter vector (docs/formats.md), whatever the rank count.
constexpr const char* kFirstMoments = "optimizer_exp_avg";
constexpr const char* kSecondMoments = "optimizer_exp_avg_sq";
constexpr const char* kOptimizerSteps = "optimizer_steps";
/// Elements of a rank's moments in one message to rank 0 (16 MB).
constexpr std::size_t kMomentPieceElements = std::size_t{1} << 22;

/// Collective: each rank's block of the moments goes to rank 0 in bounded
/// pieces, which rank 0 writes into `file` as they arrive, so no rank ever
/// holds more than its own block.  A failure on rank 0 is thrown there after
/// every piece has arrived (no rank is left blocked), for run_agreed to share.
void write_optimizer_moments(io::OutputFile* file, const ShardedAdam& optimizer, const par::Communicator& comm) {
  for (const auto& [name, values] : {std::make_pair(kFirstMoments, &optimizer.first_moments()),
                                     std::make_pair(kSecondMoments, &optimizer.second_moments())}) {
    std::optional<io::RowWriter<float>> writer;
    const auto saved = static_cast<std::size_t>(optimizer.saved_block(comm.rank()).count);
    comm.stream_blocks_to_root(
        values->data(), saved, kMomentPieceElements,
        [&, name = name](int rank, std::size_t offset, const float* piece, std::size_t count) {
          if (!writer) writer.emplace(*file, name, optimizer.flat_size(), 0);
          const std::int64_t start = optimizer.saved_block(rank).offset;
          writer->write(par::Block{start + static_cast<std::int64_t>(offset), static_cast<std::int64_t>(count)}, piece);
        });
  }
}

/// This rank's block of the moments (format 3), or the whole torch::optim::Adam
/// archive of formats 1 and 2, from which it takes its block.
void load_optimizer(const io::File& file, const std::string& path, DataParallelModel& trainer) {
  ShardedAdam& optimizer = trainer.optimizer();
  if (!file.has(kFirstMoments)) {
    torch::optim::Adam legacy(trainer.model()->parameters(), torch::optim::AdamOptions(optimizer.lr()));
    load_archive(legacy, file, "optimizer_state");
    optimizer.restore(legacy);
    return;
  }
  std::vector<float> first, second;
  for (const auto& [name, out] : {std::make_pair(kFirstMoments, &first), std::make_pair(kSecondMoments, &second)}) {
    const std::int64_t rows = io::dataset_shape(file, name).rows();
    if (rows != optimizer.flat_size())
      throw core::InputError(core::describe(name + std::string(" holds ") + std::to_string(rows) + " moments for " +
                                                std::to_string(optimizer.flat_size()) + " network parameters",
                                            io::where_text(path, name), "resume with the run's own configuration"));
    io::read_rows(file, name, optimizer.shard(), 0, *out);
  }
  optimizer.restore(io::get_int_attribute(file, "/", kOptimizerSteps), std::move(first), std::move(second));
}

}  // namespace

void write_checkpoint(const std::string& path, DataParallelModel& trainer, const RunState& state,
                      const CheckpointContext& context, const par::Communicator& comm) {
  model::Qvae& model = trainer.model();
  const bool root = comm.is_root();
  // Rank 0 writes the file in three agreed phases (the moments need every
  // rank); a failure anywhere leaves no file, as the temporary is removed.
  std::optional<io::OutputFile> file;
  par::run_agreed(comm, [&] {
    if (!root) return;
    file.emplace(io::OutputFile::create_serial(path));
    io::write_provenance(*file, context.provenance);
    io::set_format(*file, kCheckpointFormat, kCheckpointFormatVersion);
    io::set_attribute(*file, "/", "geometry", context.geometry);
    io::set_attribute(*file, "/", "data_file", context.data_file);
    io::set_attribute(*file, "/", "train_events", context.train_events);
    io::set_attribute(*file, "/", "epochs_done", static_cast<std::int64_t>(state.position.epochs_done));
    io::set_attribute(*file, "/", "batches_done", state.position.batches_done);
    io::set_attribute(*file, "/", "ranks", static_cast<std::int64_t>(comm.size()));
    io::set_attribute(*file, "/", "best_metric", state.best_metric);
    io::set_attribute(*file, "/", "best_epoch", static_cast<std::int64_t>(state.best_epoch));
    io::set_attribute(*file, "/", "best_rule", context.best_rule);
    io::set_attribute(*file, "/", "elapsed_s", state.elapsed_s);
    io::set_attribute(*file, "/", kOptimizerSteps, trainer.optimizer().steps());
    write_archive(*file, "model_state", path, [&](const std::string& to) { torch::save(model, to); });
    if (auto* prior_optimizer = trainer.prior_optimizer())
      write_archive(*file, "prior_optimizer_state", path,
                    [&](const std::string& to) { torch::save(*prior_optimizer, to); });
  });
  par::run_agreed(comm, [&] { write_optimizer_moments(root ? &*file : nullptr, trainer.optimizer(), comm); });
  par::run_agreed(comm, [&] {
    if (!root) return;
    std::vector<double> partial(state.partial_sums.begin(), state.partial_sums.end());
    partial.push_back(state.partial_events);
    partial.push_back(state.partial_seconds);
    io::write_rows<double>(*file, "partial_sums", partial.data(), static_cast<std::int64_t>(partial.size()), 0);
    const std::vector<double> guard = state.guard.encode();
    io::write_rows<double>(*file, "guard_state", guard.data(), static_cast<std::int64_t>(guard.size()), 0);
    const model::Prior& prior = model->prior();
    const torch::Tensor biases = prior.biases().detach().contiguous();
    const torch::Tensor weights = prior.weights().detach().contiguous();
    io::write_rows<double>(*file, "rbm_biases", biases.data_ptr<double>(), biases.numel(), 0);
    io::write_rows<double>(*file, "rbm_weights", weights.data_ptr<double>(), weights.numel(), 0);
    std::vector<std::int64_t> couplers;
    for (const auto& edge : prior.machine().couplers()) {
      couplers.push_back(edge.first);
      couplers.push_back(edge.second);
    }
    io::write_rows<std::int64_t>(*file, "rbm_couplers", couplers.data(), static_cast<std::int64_t>(couplers.size() / 2),
                                 2);
    state.history.store(*file, "history");
    file->commit();
  });
}

void load_checkpoint(const std::string& path, DataParallelModel& trainer, RunState& state) {
  const io::File file = io::File::open_serial(path);
  io::require_format(file, kCheckpointFormat, kCheckpointFormatVersion);
  load_archive(trainer.model(), file, "model_state", trainer.device());
  load_optimizer(file, path, trainer);
  if (auto* prior_optimizer = trainer.prior_optimizer()) load_archive(*prior_optimizer, file, "prior_optimizer_state");
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
  state.guard =
      file.has("guard_state") ? GuardState::decode(io::read_all<double>(file, "guard_state", 0)) : GuardState{};
  state.history = History::load(file, "history");
  for (const char* column : kGuardColumns)
    state.history.ensure_column(
        column, std::string(column) == "grad_norm_max" ? std::numeric_limits<double>::quiet_NaN() : 0.0);
  state.history.ensure_column("train_layer_loss", 0.0, "train_kl_loss");
  state.history.ensure_column("val_layer_loss", 0.0, "val_kl_loss");
  // Columns added later than the checkpoint: not recorded (NaN).
  for (const char* column : kLogLikelihoodColumns)
    state.history.ensure_column(column, std::numeric_limits<double>::quiet_NaN());
  state.history.truncate(static_cast<std::size_t>(state.position.epochs_done));
}

}  // namespace qvae::train
