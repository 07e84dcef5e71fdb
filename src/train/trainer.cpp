// Data-parallel QVAE training: global batches, fused bucketed allreduce,
// lockstep steps, checkpoints, resume, history, best model (docs/training.md,
// docs/model.md "Loss terms and the RBM update").  See trainer.hpp for the scheme.
#include "qvae/train/trainer.hpp"

#include <sys/resource.h>
#include <time.h>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/shower_stream.hpp"
#include "qvae/data/splits.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/history.hpp"
#include "qvae/train/signals.hpp"

namespace qvae::train {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

namespace {

namespace fs = std::filesystem;

/// Loss terms in history order (the history column names, docs/training.md "History").
constexpr std::array<const char*, 8> kTermNames = {"ae_loss",    "hit_loss", "entropy",    "pos_energy",
                                                    "neg_energy", "kl_loss",  "layer_loss", "loss"};
constexpr std::size_t kTerms = kTermNames.size();
constexpr std::size_t kLayerTerm = 6;  ///< index of layer_loss (added after the first checkpoint format)
using TermSums = std::array<double, kTerms>;

/// Validation noise and chains never share streams with training steps.
constexpr std::uint64_t kValidationSeedSalt = 0x56414C4944415445ull;  // "VALIDATE"
constexpr std::uint64_t kLogLikelihoodSeedSalt = 0x4C4F474C494B4500ull;  // "LOGLIKE", + epoch
constexpr int kRatioBins = 40;  ///< E_tot/E_inc histogram of the recon_chi2 rule

std::string to_bytes(const std::function<void(std::ostream&)>& save) {
  std::ostringstream out(std::ios::binary);
  save(out);
  return out.str();
}

/// Showers held in memory (qvae bench train: the caller's block; training streams its rows instead).
struct InMemoryShowers {
  std::int64_t voxels = 0;
  std::vector<double> energies;
  std::vector<float> showers;

  data::ShowerBlock gather(const std::int64_t* events, std::int64_t count) const {
    data::ShowerBlock block;
    block.voxels = voxels;
    block.first_event = count > 0 ? events[0] : 0;
    block.incident_energies.resize(static_cast<std::size_t>(count));
    block.showers.resize(static_cast<std::size_t>(count * voxels));
    for (std::int64_t i = 0; i < count; ++i) {
      const auto e = static_cast<std::size_t>(events[i]);
      block.incident_energies[static_cast<std::size_t>(i)] = energies[e];
      std::copy_n(showers.data() + e * static_cast<std::size_t>(voxels), voxels, block.shower(i));
    }
    return block;
  }
};

/// This rank's rows of a global batch: what the step asks for, all at once.
using FetchRows = std::function<data::ShowerBlock()>;

/// Rows [offset, offset + count) of `block` (the whole block is moved, not copied).
data::ShowerBlock take_rows(data::ShowerBlock& block, std::int64_t offset, std::int64_t count) {
  if (offset == 0 && count == block.events()) return std::move(block);
  data::ShowerBlock part;
  part.voxels = block.voxels;
  part.incident_energies.assign(block.incident_energies.begin() + offset,
                                block.incident_energies.begin() + offset + count);
  part.showers.assign(block.shower(offset), block.shower(offset) + count * block.voxels);
  return part;
}

/// The reader's counters over a run (max over streams of the rows held; summed waits).
struct StreamStats {
  std::int64_t peak_rows = 0;
  double wait_seconds = 0.0;
  void add(const data::ShowerStream& stream) {
    peak_rows = std::max(peak_rows, stream.peak_rows());
    wait_seconds += stream.wait_seconds();
  }
};

torch::Tensor event_tensor(const std::int64_t* events, std::int64_t count) {
  return torch::from_blob(const_cast<std::int64_t*>(events), {count}, torch::kLong).clone();
}

/// Slots of the step's float64 allreduce buffer before the variable-size parts.
constexpr std::size_t kEventsSlot = kTerms;
constexpr std::size_t kStopSlot = kTerms + 1;
constexpr std::size_t kBadLossSlot = kTerms + 2;      ///< ranks whose loss is non-finite
constexpr std::size_t kBadGradientSlot = kTerms + 3;  ///< ranks whose gradient or statistics are non-finite
constexpr std::size_t kHeaderSlots = kTerms + 4;

/// What one global step reports (summed over all ranks, so the same on every rank).
struct StepReport {
  TermSums sums{};         ///< events x term
  double events = 0.0;
  bool stop_requested = false;
  int ranks_with_bad_loss = 0;
  int ranks_with_bad_gradient = 0;
  double grad_norm = 0.0;  ///< global encoder/decoder gradient norm before clipping (0: networks not trained)
  bool clipped = false;
  /// The stability guard's verdict on the batch: it was not applied.
  bool skipped() const { return ranks_with_bad_loss + ranks_with_bad_gradient > 0; }
};

template <class T> bool all_finite(const T* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i])) return false;
  return true;
}

struct ValidationReport {
  TermSums means{};
  double mean_prior_energy = 0.0;  ///< E(z) of the encoded (binary) codes, partition 0 included
  double val_loss = 0.0;   ///< ae + hit + kl (the OLD validation loss, docs/model.md "Loss terms and the RBM update")
  double chi2 = 0.0;       ///< E_tot/E_inc histograms, data vs reconstruction
  std::int64_t events = 0;
};

/// The model, its optimisers and the collectives of one data-parallel step.
class DataParallelModel {
 public:
  DataParallelModel(const model::ModelConfig& model_config, const geometry::Geometry& geometry,
                    const TrainConfig& train_config, std::uint64_t seed, const par::Communicator& comm)
      : config_(model_config), train_(train_config), seed_(seed), comm_(comm) {
    torch::manual_seed(seed);
    model_ = model::Qvae(model_config, geometry, model::make_prior(model_config, seed, comm));
    model_->train();
    adam_ = std::make_unique<torch::optim::Adam>(model_->parameters(), torch::optim::AdamOptions(train_config.lr));
    if (model_config.rbm.update == model::RbmUpdate::autograd) prior_optimizer_ = model_->make_prior_optimizer();
    for (const auto& item : model_->named_buffers()) {
      const std::string& name = item.key();
      if (ends_with(name, "running_mean") || ends_with(name, "running_var")) running_stats_.push_back(item.value());
      if (ends_with(name, "num_batches_tracked")) batch_counters_.push_back(item.value());
    }
    // Latent column -> machine node, to put the centred bias gradient in the machine's order.
    const model::Prior& prior = model_->prior();
    prior_ptr_ = model_->prior_ptr();
    const int n = prior.nodes_per_partition();
    latent_of_node_ = torch::empty({prior.nodes()}, torch::kLong);
    for (int p = 0; p < prior.partitions(); ++p)
      for (int k = 0; k < n; ++k)
        latent_of_node_[prior.machine().partition_nodes(p)[static_cast<std::size_t>(k)]] =
            static_cast<std::int64_t>(p) * n + k;
    broadcast_from_root();
  }

  model::Qvae& model() { return model_; }
  torch::optim::Adam& adam() { return *adam_; }
  torch::optim::Optimizer* prior_optimizer() { return prior_optimizer_.get(); }
  std::int64_t parameter_count() const {
    std::int64_t count = 0;
    for (const auto& p : model_->parameters()) count += p.numel();
    return count;
  }

  void set_lr(double lr) {
    for (auto& group : adam_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }

  /// Rank 0's parameters, buffers and prior on every rank (docs/training.md "How a step is distributed").
  void broadcast_from_root() {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> tensors = model_->parameters();
    for (const auto& b : model_->buffers()) tensors.push_back(b);
    for (const auto& p : model_->prior_parameters()) tensors.push_back(p);
    for (auto& t : tensors) {
      TORCH_CHECK(t.is_contiguous(), "broadcast of a non-contiguous tensor");
      comm_.broadcast(static_cast<std::uint8_t*>(t.data_ptr()), t.nbytes());
    }
  }

  /// One global step on `batch` (B global event indices): this rank's
  /// micro-batches (their rows from `fetch`, positions my_rows() of the
  /// batch), then the fixed sequence of collectives, then the updates
  /// unless some rank's loss or gradient is non-finite (the stability guard:
  /// then nothing changes but the BatchNorm buffers, which are restored, and,
  /// with persistent chains, the chains, which the caller restores).
  StepReport step(const std::int64_t* batch, std::int64_t batch_size, const FetchRows& fetch, int epoch,
                  std::int64_t batch_index, std::int64_t batches_per_epoch, std::int64_t total_steps, Stage stage,
                  bool stop_requested, const InjectedFaults& inject = {}) {
    const std::int64_t global_step = static_cast<std::int64_t>(epoch - 1) * batches_per_epoch + batch_index;
    const double beta = config_.beta.at(epoch, batch_index, batches_per_epoch);
    const double slope = config_.slope.at(epoch, batch_index, batches_per_epoch);
    const double kl_weight = train_.kl_weight_at(global_step, total_steps, config_.loss.kl_weight);
    last_beta_ = beta;
    last_slope_ = slope;
    last_kl_weight_ = kl_weight;
    const bool centred = config_.rbm.update != model::RbmUpdate::autograd;
    const bool autograd_prior = !centred;
    const bool trains_networks = stage != Stage::prior;
    const bool trains_prior = stage != Stage::autoencoder;
    const bool networks_in_train_mode = stage != Stage::prior;

    model::Prior& prior = model_->prior();
    const std::int64_t nodes = prior.nodes(), couplers = prior.couplers();
    // The float64 buffer: [terms | events | stop | bad-loss ranks | bad-gradient ranks |
    //                      S1d S2d S1m S2m | prior grads | BN running stats].
    const std::int64_t stats_offset = kHeaderSlots;
    const std::int64_t stats_size = (trains_prior && centred) ? 2 * (nodes + couplers) : 0;
    const std::int64_t grads_offset = stats_offset + stats_size;
    const std::int64_t grads_size = (trains_prior && autograd_prior) ? nodes + couplers : 0;
    const std::int64_t bn_offset = grads_offset + grads_size;
    std::int64_t bn_size = 0;
    if (networks_in_train_mode)
      for (const auto& t : running_stats_) bn_size += t.numel();
    std::vector<double> reduced(static_cast<std::size_t>(bn_offset + bn_size), 0.0);
    reduced[kStopSlot] = stop_requested ? 1.0 : 0.0;

    adam_->zero_grad();
    for (auto& p : model_->prior_parameters())
      if (p.grad().defined()) p.mutable_grad().zero_();
    std::vector<torch::Tensor> stats_before;
    std::vector<std::int64_t> counters_before;
    {
      torch::NoGradGuard no_grad;
      for (const auto& t : running_stats_) stats_before.push_back(t.clone());
      for (const auto& t : batch_counters_) counters_before.push_back(t.item<std::int64_t>());
    }
    if (networks_in_train_mode)
      model_->train();
    else
      model_->eval();  // two-stage, stage 2: frozen networks, binary posterior samples

    // Micro-batches: block_partition(B, j, M); this rank takes block_partition(M, rank, P).
    const std::int64_t micro_batches = micro_batch_count(batch_size);
    const par::Block mine = my_micro_batches(batch_size);
    const par::Block share = my_rows(batch_size);
    auto local_work = [&] {
      // Inside the agreed section: a read or bad-value error is every rank's to know.
      data::ShowerBlock local = fetch();
      if (local.events() != share.count ||
          local.voxels * local.events() != static_cast<std::int64_t>(local.showers.size()))
        throw std::logic_error("DataParallelModel::step: fetched " + std::to_string(local.events()) +
                               " rows for a share of " + std::to_string(share.count));
      for (std::int64_t j = mine.offset; j < mine.end(); ++j) {
        const par::Block rows = par::block_partition(batch_size, static_cast<int>(j), static_cast<int>(micro_batches));
        if (rows.count == 0) continue;
        if (j > mine.offset && networks_in_train_mode) restore(stats_before);
        data::ShowerBlock block = take_rows(local, rows.offset - share.offset, rows.count);
        block.first_event = batch[rows.offset];
        if (inject.data_error && j == mine.offset) block.showers.front() = -1.0f;
        const torch::Tensor u = model_->reduce(block);
        model::StepSettings settings{beta, slope,
                                     model::NoiseKeys{seed_, static_cast<std::uint64_t>(global_step),
                                                      event_tensor(batch + rows.offset, rows.count), rows.offset}};
        const double weight = static_cast<double>(rows.count) / static_cast<double>(batch_size);
        std::optional<torch::NoGradGuard> no_grad;
        if (stage == Stage::prior && centred) no_grad.emplace();
        const model::ForwardOutput out = model_->forward(u, model::QvaeImpl::energies_of(block), settings);
        const torch::Tensor negative = model_->negative_samples(out, settings.noise);
        const model::LossTerms terms = model_->loss(out, negative);
        // The optimised loss with the scheduled gamma_KL (the OLD total, docs/model.md "Loss terms and the RBM update").
        torch::Tensor total = terms.ae + terms.hit + terms.layer;
        if (stage != Stage::autoencoder) {
          total = total + kl_weight * (terms.entropy + terms.pos_energy);
          if (autograd_prior) total = total + kl_weight * terms.neg_energy;
        }
        if (total.requires_grad() && (trains_networks || autograd_prior)) (total * weight).backward();
        const std::array<torch::Tensor, kTerms> values = {terms.ae,         terms.hit, terms.entropy, terms.pos_energy,
                                                          terms.neg_energy, terms.kl,  terms.layer, total};
        for (std::size_t t = 0; t < kTerms; ++t)
          reduced[t] += static_cast<double>(rows.count) * values[t].detach().item<double>();
        reduced[kEventsSlot] += static_cast<double>(rows.count);
        if (stats_size > 0)
          add_sufficient_statistics(out.posterior_samples, negative, reduced.data() + stats_offset, nodes, couplers);
        if (networks_in_train_mode) add_running_stats(reduced.data() + bn_offset);
      }
      if (grads_size > 0) {
        std::int64_t offset = grads_offset;
        for (const auto& p : model_->prior_parameters()) {
          if (p.grad().defined()) {
            const torch::Tensor g = p.grad().to(torch::kDouble).contiguous();
            std::copy_n(g.data_ptr<double>(), g.numel(), reduced.data() + offset);
          }
          offset += p.numel();
        }
      }
    };
    // The rank's own work may fail (a voxel the transform refuses, a model
    // check): every rank learns it here, before any collective of the step,
    // so the job ends with one message and no abort.
    par::run_agreed(comm_, local_work);

    if (config_.rbm.negative_chains == model::NegativeChains::pcd) share_persistent_chains(batch_size);
    if (trains_networks) pack_network_gradients();

    // Stability guard: this rank's verdict on its own values, summed with the
    // rest of the buffer below, so every rank learns how many ranks saw a
    // non-finite loss or gradient at no extra latency.  Test faults first.
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (inject.nan_loss) reduced[kTerms - 1] = nan;  // the rank's optimised-loss sum
    if (inject.nan_grad) {
      if (trains_networks)
        flat_.front() = std::numeric_limits<float>::quiet_NaN();
      else
        reduced[static_cast<std::size_t>(stats_offset)] = nan;  // prior stage: the RBM statistics or gradients
    }
    const bool loss_finite = all_finite(reduced.data(), kTerms);
    const bool gradient_finite =
        all_finite(reduced.data() + stats_offset, reduced.size() - static_cast<std::size_t>(stats_offset)) &&
        (!trains_networks || all_finite(flat_.data(), flat_.size()));
    reduced[kBadLossSlot] = loss_finite ? 0.0 : 1.0;
    reduced[kBadGradientSlot] = gradient_finite ? 0.0 : 1.0;

    // The collectives, in the same order on every rank (a rank that skipped one would deadlock the others).
    if (trains_networks) allreduce_flat_gradients();
    comm_.sum_in_place(reduced.data(), reduced.size());

    StepReport report;
    std::copy_n(reduced.begin(), kTerms, report.sums.begin());
    report.events = reduced[kEventsSlot];
    report.stop_requested = reduced[kStopSlot] > 0;
    report.ranks_with_bad_loss = static_cast<int>(reduced[kBadLossSlot]);
    report.ranks_with_bad_gradient = static_cast<int>(reduced[kBadGradientSlot]);

    torch::NoGradGuard no_grad;
    if (report.skipped()) {  // no update: the BatchNorm buffers as before the batch
      restore(stats_before);
      for (std::size_t i = 0; i < batch_counters_.size(); ++i) batch_counters_[i].fill_(counters_before[i]);
      model_->train();
      return report;
    }
    if (trains_networks) {
      // Clipping on the summed gradient every rank holds: the same norm, the same scale everywhere.
      report.grad_norm = gradient_norm(flat_.data(), flat_.size());
      const double coefficient = clip_coefficient(report.grad_norm, train_.clip_grad_norm);
      report.clipped = coefficient < 1.0;
      unpack_network_gradients(static_cast<float>(coefficient));
    }
    if (networks_in_train_mode) {
      const double inverse_micro = 1.0 / static_cast<double>(micro_batches);
      std::int64_t offset = bn_offset;
      for (auto& t : running_stats_) {
        const torch::Tensor mean =
            torch::from_blob(reduced.data() + offset, t.sizes(), torch::kDouble).mul(inverse_micro);
        t.copy_(mean);
        offset += t.numel();
      }
      for (std::size_t i = 0; i < batch_counters_.size(); ++i) batch_counters_[i].fill_(counters_before[i] + 1);
    } else {
      restore(stats_before);
    }
    if (trains_networks) adam_->step();
    if (trains_prior) {
      if (centred) {
        model_->apply_prior_gradient(
            centred_gradient(reduced.data() + stats_offset, reduced[kEventsSlot], nodes, couplers));
      } else {
        std::int64_t offset = grads_offset;
        for (auto& p : model_->prior_parameters()) {
          const torch::Tensor g = torch::from_blob(reduced.data() + offset, p.sizes(), torch::kDouble).to(p.dtype());
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          p.mutable_grad().copy_(g);
          offset += p.numel();
        }
        prior_optimizer_->step();
      }
    }
    model_->train();
    return report;
  }

  /// Persistent chains belong to rows of the global batch: each rank advanced
  /// the rows of its micro-batches, which are contiguous and in rank order,
  /// so one allgather gives every rank the same (B, nodes) chains.
  void share_persistent_chains(std::int64_t batch_size) {
    const std::int64_t nodes = model_->prior().nodes();
    const par::Block share = my_rows(batch_size);
    const std::int64_t first = share.offset, end = share.end();
    std::vector<std::uint8_t> rows(static_cast<std::size_t>((end - first) * nodes));
    if (end > first) {
      const torch::Tensor mine_rows = model_->persistent_chains().slice(0, first, end).to(torch::kUInt8).contiguous();
      std::copy_n(mine_rows.data_ptr<std::uint8_t>(), rows.size(), rows.data());
    }
    std::vector<std::uint8_t> all = comm_.allgather_blocks(rows);
    TORCH_CHECK(static_cast<std::int64_t>(all.size()) == batch_size * nodes, "persistent chains: gathered ",
                all.size(), " states for ", batch_size, " rows");
    model_->set_persistent_chains(
        torch::from_blob(all.data(), {batch_size, nodes}, torch::kUInt8).to(torch::kDouble));
  }

  /// Validation in eval mode over `events` (positions spread over ranks); noise
  /// keyed by (seed, event) and fixed across epochs.  The rows stream from
  /// `data_file` in chunks, `depth` chunks read ahead.
  ValidationReport validate(const std::vector<std::int64_t>& events, const std::string& data_file,
                            std::int64_t voxels, int depth, std::int64_t chunk, double ratio_max, StreamStats& stats) {
    torch::NoGradGuard no_grad;
    model_->eval();
    const par::Block mine = par::my_block(static_cast<std::int64_t>(events.size()), comm_);
    std::vector<double> reduced(kTerms + 2 + 2 * kRatioBins, 0.0);
    double* truth_hist = reduced.data() + kTerms + 2;
    double* recon_hist = truth_hist + kRatioBins;
    auto bin_of = [&](double ratio) {
      const int bin = static_cast<int>(ratio / ratio_max * kRatioBins);
      return std::clamp(bin, 0, kRatioBins - 1);
    };
    const std::uint64_t seed = seed_ ^ kValidationSeedSalt;
    auto local_work = [&] {
      const std::int64_t chunks = (mine.count + chunk - 1) / chunk;
      data::ShowerStream stream(data_file, voxels, chunks, [&events, mine, chunk](std::int64_t k) {
        const std::int64_t start = mine.offset + k * chunk;
        return std::vector<std::int64_t>(events.begin() + start, events.begin() + std::min(start + chunk, mine.end()));
      }, depth);
      for (std::int64_t start = mine.offset; start < mine.end(); start += chunk) {
        const std::int64_t count = std::min(chunk, mine.end() - start);
        const std::int64_t* ids = events.data() + start;
        const data::ShowerBlock block = stream.next().block;
        const torch::Tensor u = model_->reduce(block);
        model::StepSettings settings{1.0, 0.0, model::NoiseKeys{seed, 0, event_tensor(ids, count), start}};
        const model::ForwardOutput out = model_->forward(u, model::QvaeImpl::energies_of(block), settings);
        const torch::Tensor negative = model_->negative_samples(out, settings.noise, model::NegativePhase::evaluation);
        const model::LossTerms terms = model_->loss(out, negative);
        const std::array<torch::Tensor, kTerms> values = {
            terms.ae, terms.hit, terms.entropy, terms.pos_energy, terms.neg_energy, terms.kl, terms.layer,
            terms.ae + terms.hit + terms.layer + terms.kl};
        for (std::size_t t = 0; t < kTerms; ++t) reduced[t] += static_cast<double>(count) * values[t].item<double>();
        reduced[kTerms] += static_cast<double>(count);
        const torch::Tensor codes = out.posterior_samples.to(torch::kDouble);
        reduced[kTerms + 1] += model_->prior().energy(codes, false).sum().item<double>();
        // E_tot / E_inc of data and reconstruction (the recon_chi2 rule, docs/training.md "Best model").
        std::vector<float> showers_mev(static_cast<std::size_t>(count * block.voxels));
        model_->decode_to_mev(out.reconstruction, out.layer_logits, block.incident_energies, showers_mev.data());
        for (std::int64_t b = 0; b < count; ++b) {
          const double energy = block.incident_energies[static_cast<std::size_t>(b)];
          double truth = 0.0, reconstructed = 0.0;
          for (std::int64_t v = 0; v < block.voxels; ++v) truth += static_cast<double>(block.shower(b)[v]);
          for (std::int64_t v = 0; v < block.voxels; ++v)
            reconstructed += static_cast<double>(showers_mev[static_cast<std::size_t>(b * block.voxels + v)]);
          truth_hist[bin_of(truth / energy)] += 1.0;
          recon_hist[bin_of(reconstructed / energy)] += 1.0;
        }
      }
      stats.add(stream);
    };
    par::run_agreed(comm_, local_work);  // one rank's failure ends all of them with one message
    comm_.sum_in_place(reduced.data(), reduced.size());
    model_->train();

    ValidationReport report;
    report.events = static_cast<std::int64_t>(reduced[kTerms]);
    const double n = std::max(reduced[kTerms], 1.0);
    for (std::size_t t = 0; t < kTerms; ++t) report.means[t] = reduced[t] / n;
    report.mean_prior_energy = reduced[kTerms + 1] / n;
    report.val_loss = report.means[kTerms - 1];
    double chi2 = 0.0;
    int filled = 0;
    for (int b = 0; b < kRatioBins; ++b) {
      const double sum = truth_hist[b] + recon_hist[b];
      if (sum <= 0) continue;
      chi2 += (truth_hist[b] - recon_hist[b]) * (truth_hist[b] - recon_hist[b]) / sum;
      ++filled;
    }
    report.chi2 = filled > 0 ? chi2 / filled : 0.0;
    return report;
  }

  /// FNV-1a over the bytes of the tensors broadcast at the start (parameters,
  /// buffers, prior), and whether they are all finite: equal on every rank as
  /// long as the ranks made the same updates.
  std::pair<std::uint64_t, bool> parameter_digest() {
    std::vector<torch::Tensor> tensors = model_->parameters();
    for (const auto& b : model_->buffers()) tensors.push_back(b);
    for (const auto& p : model_->prior_parameters()) tensors.push_back(p);
    std::uint64_t hash = 14695981039346656037ull;
    bool finite = true;
    torch::NoGradGuard no_grad;
    for (const auto& t : tensors) {
      const torch::Tensor c = t.detach().contiguous();
      if (c.is_floating_point()) finite = finite && c.isfinite().all().item<bool>();
      const auto* bytes = static_cast<const std::uint8_t*>(c.data_ptr());
      for (std::size_t i = 0; i < c.nbytes(); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
    }
    return {hash, finite};
  }

  /// The schedules at the epoch's last batch, as the history records them; set
  /// here too because an epoch resumed after its last batch runs no step.
  void set_schedules_at_epoch_end(int epoch, std::int64_t batches_per_epoch, std::int64_t total_steps) {
    const std::int64_t last = batches_per_epoch - 1;
    last_beta_ = config_.beta.at(epoch, last, batches_per_epoch);
    last_slope_ = config_.slope.at(epoch, last, batches_per_epoch);
    last_kl_weight_ = train_.kl_weight_at(static_cast<std::int64_t>(epoch - 1) * batches_per_epoch + last, total_steps,
                                          config_.loss.kl_weight);
  }
  double last_beta() const { return last_beta_; }
  double last_slope() const { return last_slope_; }
  double last_kl_weight() const { return last_kl_weight_; }

  std::int64_t micro_batch_count(std::int64_t batch_size) const {
    const std::int64_t wanted = train_.micro_batch_size > 0
                                    ? (batch_size + train_.micro_batch_size - 1) / train_.micro_batch_size
                                    : static_cast<std::int64_t>(comm_.size());
    return std::max<std::int64_t>(1, std::min(wanted, batch_size));
  }

  /// This rank's micro-batches of a global batch: block_partition(M, rank, P).
  par::Block my_micro_batches(std::int64_t batch_size) const {
    return par::block_partition(micro_batch_count(batch_size), comm_.rank(), comm_.size());
  }

  /// Positions [offset, end) of the global batch that this rank's
  /// micro-batches cover: they are contiguous, so their rows are too.
  par::Block my_rows(std::int64_t batch_size) const {
    const par::Block mine = my_micro_batches(batch_size);
    if (mine.count == 0) return par::Block{0, 0};  // more ranks than micro-batches: this rank has no rows
    const int parts = static_cast<int>(micro_batch_count(batch_size));
    const par::Block first = par::block_partition(batch_size, static_cast<int>(mine.offset), parts);
    const par::Block last = par::block_partition(batch_size, static_cast<int>(mine.end() - 1), parts);
    return par::Block{first.offset, last.end() - first.offset};
  }

 private:
  static bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
  }

  void restore(const std::vector<torch::Tensor>& saved) {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < running_stats_.size(); ++i) running_stats_[i].copy_(saved[i]);
  }

  void add_running_stats(double* out) {
    torch::NoGradGuard no_grad;
    for (const auto& t : running_stats_) {
      const torch::Tensor values = t.to(torch::kDouble).contiguous();
      const double* v = values.data_ptr<double>();
      for (std::int64_t i = 0; i < values.numel(); ++i) out[i] += v[i];
      out += values.numel();
    }
  }

  /// Sums of z and of z_i z_j over the couplers, data (posterior) then model (negative).
  void add_sufficient_statistics(const torch::Tensor& posterior, const torch::Tensor& negative, double* out,
                                 std::int64_t nodes, std::int64_t couplers) const {
    torch::NoGradGuard no_grad;
    const model::Prior& prior = *prior_ptr_;
    auto add = [&](const torch::Tensor& states, double* target) {
      const torch::Tensor z = states.detach().to(torch::kDouble);
      const torch::Tensor first = z.sum(0).contiguous();
      const torch::Tensor second =
          (z.index_select(1, prior.edge_first()) * z.index_select(1, prior.edge_second())).sum(0).contiguous();
      const double* f = first.data_ptr<double>();
      const double* s = second.data_ptr<double>();
      for (std::int64_t i = 0; i < nodes; ++i) target[i] += f[i];
      for (std::int64_t e = 0; e < couplers; ++e) target[nodes + e] += s[e];
    };
    add(posterior, out);
    add(negative, out + nodes + couplers);
  }

  /// The centred gradient of model::Prior::centred_gradient from global sums
  /// (docs/model.md "Loss terms and the RBM update"; covariances with the N - 1 normalisation).
  model::PriorGradient centred_gradient(const double* sums, double events, std::int64_t nodes,
                                        std::int64_t couplers) const {
    const model::Prior& prior = *prior_ptr_;
    const double n = std::max(events, 1.0);
    const double normaliser = std::max(events - 1.0, 1.0);
    const double clamp = config_.rbm.mean_clamp;
    auto tensor = [](const double* values, std::int64_t count) {
      return torch::from_blob(const_cast<double*>(values), {count}, torch::kDouble).clone();
    };
    auto covariance = [&](const double* block) {
      const torch::Tensor mean = tensor(block, nodes) / n;
      const torch::Tensor products = tensor(block + nodes, couplers);
      return (products - n * mean.index_select(0, prior.edge_first()) * mean.index_select(0, prior.edge_second())) /
             normaliser;
    };
    const double* data_block = sums;
    const double* model_block = sums + nodes + couplers;
    model::PriorGradient gradient;
    gradient.weights = covariance(data_block) - covariance(model_block);
    const torch::Tensor mean_data = (tensor(data_block, nodes) / n).clamp(clamp, 1 - clamp);
    const torch::Tensor mean_model = (tensor(model_block, nodes) / n).clamp(clamp, 1 - clamp);
    const torch::Tensor offset = mean_data + mean_model;
    torch::Tensor coupling = torch::zeros_like(offset);
    coupling.index_add_(0, prior.edge_first(), gradient.weights * offset.index_select(0, prior.edge_second()));
    coupling.index_add_(0, prior.edge_second(), gradient.weights * offset.index_select(0, prior.edge_first()));
    const torch::Tensor latent_biases = (mean_data - mean_model) - 0.5 * coupling;
    gradient.biases = latent_biases.index_select(0, latent_of_node_);
    return gradient;
  }

  /// This rank's encoder/decoder gradients, packed in parameters() order into
  /// one flat float32 buffer (zeros for parameters without a gradient).
  void pack_network_gradients() {
    const std::vector<torch::Tensor> params = model_->parameters();
    std::int64_t total = 0;
    for (const auto& p : params) total += p.numel();
    flat_.assign(static_cast<std::size_t>(total), 0.0f);
    std::int64_t offset = 0;
    for (const auto& p : params) {
      if (p.grad().defined()) {
        const torch::Tensor g = p.grad().to(torch::kFloat).contiguous();
        std::copy_n(g.data_ptr<float>(), g.numel(), flat_.data() + offset);
      }
      offset += p.numel();
    }
  }

  /// Sums the packed gradients over ranks in buckets of train.bucket_mb.
  void allreduce_flat_gradients() {
    if (comm_.size() == 1) return;
    const auto total = static_cast<std::int64_t>(flat_.size());
    const auto bucket = static_cast<std::int64_t>(std::max(1.0, train_.bucket_mb * 1e6 / sizeof(float)));
    for (std::int64_t start = 0; start < total; start += bucket)
      comm_.sum_in_place(flat_.data() + start, static_cast<std::size_t>(std::min(bucket, total - start)));
  }

  /// The summed gradients, times `scale` (clipping), into the parameters' .grad.
  void unpack_network_gradients(float scale) {
    if (scale != 1.0f)
      for (float& g : flat_) g *= scale;
    std::vector<torch::Tensor> params = model_->parameters();
    std::int64_t offset = 0;
    torch::NoGradGuard no_grad;
    for (auto& p : params) {
      const torch::Tensor g = torch::from_blob(flat_.data() + offset, p.sizes(), torch::kFloat).to(p.dtype());
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      p.mutable_grad().copy_(g);
      offset += p.numel();
    }
  }

  model::ModelConfig config_;
  TrainConfig train_;
  std::uint64_t seed_;
  par::Communicator comm_;
  model::Qvae model_{nullptr};
  std::shared_ptr<model::Prior> prior_ptr_;
  std::unique_ptr<torch::optim::Adam> adam_;
  std::unique_ptr<torch::optim::Optimizer> prior_optimizer_;
  std::vector<torch::Tensor> running_stats_, batch_counters_;
  torch::Tensor latent_of_node_;
  std::vector<float> flat_;
  double last_beta_ = 0.0, last_slope_ = 0.0, last_kl_weight_ = 0.0;
};

/// What a checkpoint holds besides the model (see checkpoint.hpp).
struct RunState {
  GuardState guard;          ///< the stability guard (lr scale, rollbacks, the epoch's counters)
  CheckpointPosition position;
  History history;
  TermSums partial_sums{};   ///< of an interrupted epoch
  double partial_events = 0.0;
  double partial_seconds = 0.0;
  double best_metric = std::numeric_limits<double>::infinity();
  int best_epoch = 0;
  double elapsed_s = 0.0;
};

struct CheckpointContext {
  std::string geometry, data_file, best_rule;
  std::int64_t train_events = 0;
  io::Provenance provenance;
};

/// Collective: every rank serialises what it must, rank 0 writes `path` atomically.
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

std::string read_bytes(const io::File& file, const std::string& name) {
  const std::vector<std::uint8_t> bytes = io::read_all<std::uint8_t>(file, name, 0);
  return std::string(bytes.begin(), bytes.end());
}

/// torch::load of a model or optimiser from the bytes torch::save wrote.
template <class Target> void load_from_bytes(Target& target, const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  torch::load(target, in);
}

/// History columns of the stability guard, in row order (history v2).
constexpr std::array<const char*, 4> kGuardColumns = {"bad_batches", "rollbacks", "clipped_batches", "grad_norm_max"};
/// History columns of the prior's log-likelihood (NaN in epochs without it).
constexpr std::array<const char*, 5> kLogLikelihoodColumns = {"val_prior_energy", "val_ll", "log_z", "log_z_err", "ll_s"};

/// Every rank reads the checkpoint it resumes from (persistent chains are the
/// same on every rank, so rank 0's model archive holds them).
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

}  // namespace

namespace {

/// What the pre-flight pass over the file learns (see scan_file).
struct FileScan {
  std::int64_t voxels = 0;
  std::vector<double> energies;  ///< every incident energy, on every rank (the split needs them)
  double largest_fraction = 0.0; ///< largest E_tot/E_inc of the file (over ranks)
  std::int64_t largest_where = -1;
  par::Block mine;               ///< this rank's rows of the pass
  std::vector<double> fractions; ///< E_tot/E_inc of each of those rows
};

/// Rows per block of the pre-flight pass: about 32 MB of float32 showers.
std::int64_t scan_block_rows(std::int64_t voxels) {
  return std::max<std::int64_t>(1, (std::int64_t{32} << 20) / (4 * std::max<std::int64_t>(voxels, 1)));
}

/// Collective: one pass over the file in bounded row blocks (each rank its
/// own rows), refusing bad values with one agreed message, and recording
/// each row's E_tot/E_inc; the showers are not kept.
FileScan scan_file(const data::CaloReader& reader, const par::Communicator& comm) {
  FileScan scan;
  scan.voxels = reader.geometry().voxels();
  scan.mine = par::my_block(reader.events(), comm);
  scan.fractions.reserve(static_cast<std::size_t>(scan.mine.count));
  const std::int64_t rows_per_block = scan_block_rows(scan.voxels);
  // Every rank makes the same number of (collective) reads; the last ones may be empty.
  const std::int64_t rounds = comm.max((scan.mine.count + rows_per_block - 1) / rows_per_block);
  data::BadValues bad;
  double largest = 0.0;
  std::int64_t where = -1;
  for (std::int64_t round = 0; round < rounds; ++round) {
    const std::int64_t offset = std::min(scan.mine.offset + round * rows_per_block, scan.mine.end());
    const data::ShowerBlock block =
        reader.read(par::Block{offset, std::min(rows_per_block, scan.mine.end() - offset)});
    const data::BadValues found = data::find_bad_values(block);
    if (found.any() && !bad.any()) bad = found;
    else bad.count += found.count;
    for (std::int64_t i = 0; i < block.events(); ++i) {
      const float* row = block.shower(i);
      double total = 0.0;
      for (std::int64_t v = 0; v < block.voxels; ++v) total += static_cast<double>(row[v]);
      const double fraction = total / block.incident_energies[static_cast<std::size_t>(i)];
      scan.fractions.push_back(fraction);
      if (fraction > largest) largest = fraction, where = block.first_event + i;
    }
  }
  const data::BadValues global = data::combine(bad, comm);
  if (global.any()) par::run_agreed(comm, [&] { data::throw_bad_values(reader.path(), global); });
  scan.largest_fraction = comm.max(largest);
  scan.largest_where = comm.max(largest == scan.largest_fraction ? where : std::int64_t{-1});
  scan.energies = reader.incident_energies();
  return scan;
}

/// The voxel transform must represent every voxel (and the total, which the
/// layer head transforms) of the file: an `auto` fraction scale is fixed here
/// from the largest E_tot/E_inc (stored in
/// the run's config, so checkpoints, generate and encode use the same one);
/// a given or resumed scale that is too small stops the run before the first
/// epoch with one message.
void resolve_fraction_scale(double global_largest, std::int64_t global_where, const std::string& data_file,
                            bool resume, core::Config& config, model::ModelConfig& model_config,
                            const par::Communicator& comm) {
  par::run_agreed(comm, [&] {
    if (model_config.fraction_scale == 0.0) {
      // Checkpoints written before the setting existed were trained with scale 1.
      model_config.fraction_scale = resume ? 1.0 : model::auto_fraction_scale(global_largest);
      std::ostringstream value;
      value.precision(17);
      value << model_config.fraction_scale;
      config.set("model.fraction_scale", value.str(), "qvae train (auto, from the data)");
      if (model_config.fraction_scale > 1.0)
        core::log::info_root("model.fraction_scale = auto: ", model_config.fraction_scale,
                             " (the largest shower holds ", global_largest, " x E_inc)");
    }
    if (global_largest > model_config.fraction_scale)
      throw core::InputError(core::describe(
          "event " + std::to_string(global_where) + " has E_tot = " + std::to_string(global_largest) +
              " x E_inc, beyond what the model can represent (model.fraction_scale = " +
              std::to_string(model_config.fraction_scale) + ")",
          "file '" + data_file + "'",
          resume ? "train a new run on this file (model.fraction_scale = auto)"
                 : "set model.fraction_scale = auto or >= " + std::to_string(global_largest)));
  });
}

}  // namespace

TrainResult run_training(const TrainRequest& request, const par::Communicator& comm) {
  TrainResult result;
  result.ranks = comm.size();
  const core::Stopwatch wall_start;

  // 1. Configuration, output directory, where to resume from (agreed: one message).
  core::Config config = request.config;
  std::string out_dir, data_file, resume_path;
  par::run_agreed(comm, [&] {
    const TrainConfig given = train_config_from(request.config);
    out_dir = request.out.empty() ? given.out : request.out;
    if (out_dir.empty())
      throw core::UsageError(core::describe("no output directory", "qvae train", "pass --out DIR or set train.out"));
    const std::vector<CheckpointEntry> existing = list_checkpoints(out_dir);
    if (request.resume) {
      if (existing.empty())
        throw core::UsageError(core::describe("nothing to resume: no checkpoint-*.h5 in '" + out_dir + "'",
                                              "qvae train --resume", "start the run without --resume"));
      resume_path = existing.back().path;
      const io::File file = io::File::open_serial(resume_path);
      io::require_format(file, kCheckpointFormat, kCheckpointFormatVersion);
      if (request.schema == nullptr) throw std::logic_error("run_training: resume needs the config schema");
      config = resume_config(*request.schema, request.config, io::get_string_attribute(file, "/", "config"));
      data_file = !request.data.empty() ? request.data
                  : request.config.source("train.data") != "default" ? request.config.get_string("train.data")
                                                                     : io::get_string_attribute(file, "/", "data_file");
    } else {
      if (!existing.empty())
        throw core::UsageError(core::describe("'" + out_dir + "' already holds a run (" +
                                                  fs::path(existing.back().path).filename().string() + ")",
                                              "qvae train", "pass --resume to continue it, or choose another --out"));
      data_file = !request.data.empty() ? request.data : given.data;
    }
    if (data_file.empty())
      throw core::UsageError(core::describe("no training data", "qvae train", "pass --data FILE or set train.data"));
  });
  TrainConfig train_config;
  model::ModelConfig model_config;
  core::RunOptions run;
  par::run_agreed(comm, [&] {
    train_config = train_config_from(config);
    model_config = model::model_config_from(config);
    run = core::RunOptions::from(config);
    for (const Fault& fault : train_config.faults)
      if (fault.rank >= comm.size())
        throw core::UsageError(core::describe("train.fault_injection aims at rank " + std::to_string(fault.rank) +
                                                  " but the run has " + std::to_string(comm.size()) + " rank(s)",
                                              "in the [train] settings", "use a rank below the rank count"));
    if (comm.is_root()) {
      std::error_code error;
      fs::create_directories(out_dir, error);
      if (error || !fs::is_directory(out_dir))
        throw core::UsageError(core::describe("cannot create the output directory '" + out_dir + "'", "qvae train --out",
                                              "choose a writable directory"));
      if (const int stale = remove_stale_temporaries(out_dir); stale > 0)
        core::log::info("removed ", stale, " temporary file(s) a killed run left in '", out_dir, "'");
    }
  });
  const std::uint64_t seed = run.seed;
  if (train_config.threads > 0) torch::set_num_threads(train_config.threads);

  // 2. Data: one bounded pass over the file (values checked, E_tot/E_inc per
  // row), then the split (docs/training.md, train.split).  Training and validation rows are
  // streamed per batch later; no rank ever holds the file.
  std::optional<data::CaloReader> reader;
  par::run_agreed(comm, [&] { reader.emplace(data_file, comm); });
  const FileScan scan = scan_file(*reader, comm);
  const std::int64_t voxels = scan.voxels;
  const data::SplitFractions fractions{1.0 - train_config.val_fraction - train_config.test_fraction,
                                       train_config.val_fraction, train_config.test_fraction};
  const data::Split split =
      train_config.split == SplitKind::contiguous ? data::split_events_contiguous(reader->events(), fractions)
      : train_config.split == SplitKind::stratified
          ? data::split_events_stratified(scan.energies, seed, fractions)
          : data::split_events(reader->events(), seed, fractions);
  std::vector<std::int64_t> validation = split.validation;
  if (train_config.val_max_events > 0 && static_cast<std::int64_t>(validation.size()) > train_config.val_max_events)
    validation.resize(static_cast<std::size_t>(train_config.val_max_events));
  const auto train_events = static_cast<std::int64_t>(split.train.size());
  const std::int64_t batch_size = train_config.batch_size;
  std::int64_t batches_per_epoch = train_events / batch_size;
  if (train_config.max_batches_per_epoch > 0)
    batches_per_epoch = std::min(batches_per_epoch, train_config.max_batches_per_epoch);
  par::run_agreed(comm, [&] {
    if (batches_per_epoch < 1)
      throw core::UsageError(core::describe("the training split has " + std::to_string(train_events) +
                                                " events, fewer than train.batch_size = " + std::to_string(batch_size),
                                            "file '" + data_file + "'", "use more events or a smaller batch"));
    if (validation.empty())
      throw core::UsageError(core::describe("the validation split is empty", "file '" + data_file + "'",
                                            "use more events or a larger train.val_fraction"));
  });
  resolve_fraction_scale(scan.largest_fraction, scan.largest_where, data_file, request.resume, config, model_config,
                         comm);
  double ratio_max = 0.0;  // histogram range of E_tot/E_inc: 1.5 x the largest validation value
  for (std::int64_t e : validation)
    if (e >= scan.mine.offset && e < scan.mine.end())
      ratio_max = std::max(ratio_max, scan.fractions[static_cast<std::size_t>(e - scan.mine.offset)]);
  ratio_max = comm.max(ratio_max);
  ratio_max = ratio_max > 0 ? 1.5 * ratio_max : 1.0;

  // 3. Model, optimisers, rank 0's parameters everywhere; the resumed state.
  std::optional<DataParallelModel> trainer;
  // A fresh model and optimisers as at the start (collective: rank 0's
  // parameters are broadcast); restoring a saved state into them is the resume path.
  auto build_trainer = [&] {
    par::run_agreed(comm, [&] {
      trainer.reset();
      trainer.emplace(model_config, reader->geometry(), train_config, seed, comm);
    });
  };
  build_trainer();
  // The energy code must hold the file's largest incident energy (its features
  // grow with E): refused here, once, before the first epoch.
  if (model_config.prior_conditioning == model::PriorConditioning::clamped) {
    const double global_largest = *std::max_element(scan.energies.begin(), scan.energies.end());
    par::run_agreed(comm, [&] {
      try {
        trainer->model()->energy_code(torch::tensor({global_largest}, torch::kDouble), torch::kFloat);
      } catch (const core::InputError& error) {
        throw core::InputError(core::describe(
            "the file's largest incident energy, " + std::to_string(global_largest) +
                " MeV, does not fit the binary energy code (" + error.what() + ")",
            "file '" + data_file + "'",
            "set model.energy_code_widths = auto and model.energy_code_max_mev >= " + std::to_string(global_largest)));
      }
    });
  }
  RunState state;
  if (request.resume) {
    par::run_agreed(comm, [&] {
      load_checkpoint(resume_path, *trainer, state);
      const io::File file = io::File::open_serial(resume_path);
      if (io::get_int_attribute(file, "/", "train_events") != train_events)
        throw core::InputError(core::describe(
            "the training split has " + std::to_string(train_events) + " events but the checkpoint was trained on " +
                std::to_string(io::get_int_attribute(file, "/", "train_events")),
            "file '" + data_file + "'", "resume with the run's own data file"));
    });
    if (io::get_int_attribute(io::File::open_serial(resume_path), "/", "ranks") != comm.size())
      core::log::warn_root("resuming on ", comm.size(), " ranks a run checkpointed on another rank count: ",
                           "the continuation is equivalent but not bit-identical");
    core::log::info_root("resuming from ", resume_path, " (", state.position.epochs_done, " epochs and ",
                         state.position.batches_done, " batches done)");
  }
  CheckpointContext context{reader->geometry().name(), data_file, to_string(train_config.best), train_events,
                            io::Provenance{request.command_line, seed, config.to_ini()}};
  result.out_dir = out_dir;
  result.epochs_planned = train_config.epochs;
  result.best_epoch = state.best_epoch;
  result.best_metric = state.best_metric;
  const std::string best_path = (fs::path(out_dir) / "best.h5").string();
  if (state.best_epoch > 0) result.best = best_path;

  // Stability guard (stability.hpp).  Rollbacks go to the newest checkpoint of
  // this run, or, before the first one, to the initial model kept in memory.
  const GuardLimits guard_limits = train_config.guard_limits();
  FaultSchedule faults(train_config.faults, comm.rank());
  std::string rollback_checkpoint = resume_path;
  std::string initial_model;
  if (rollback_checkpoint.empty())
    initial_model = to_bytes([&](std::ostream& out) { torch::save(trainer->model(), out); });
  const bool persistent_chains = model_config.rbm.negative_chains == model::NegativeChains::pcd;
  auto roll_back = [&] {
    const GuardState guard = state.guard;  // the guard's state is about the run: it survives
    build_trainer();
    if (rollback_checkpoint.empty()) {
      par::run_agreed(comm, [&] { load_from_bytes(trainer->model(), initial_model); });
      state = RunState{};
    } else {
      par::run_agreed(comm, [&] { load_checkpoint(rollback_checkpoint, *trainer, state); });
    }
    state.guard = guard;
  };
  auto diverged = [&](int epoch, std::int64_t batch) {
    const std::string kept = rollback_checkpoint.empty()
                                 ? "no checkpoint was written yet: start a new run with a lower train.lr or a "
                                   "train.clip_grad_norm"
                                 : "the last good checkpoint " + fs::path(rollback_checkpoint).filename().string() +
                                       " is intact: continue with --resume and a larger train.max_rollbacks or a "
                                       "train.clip_grad_norm";
    par::run_agreed(comm, [&] {
      throw core::RuntimeError(core::describe(
          "training diverged: " + std::to_string(guard_limits.max_bad_batches) +
              " batch(es) in a row with a non-finite loss or gradient (the last: epoch " + std::to_string(epoch) +
              " batch " + std::to_string(batch) + ") after " + std::to_string(state.guard.rollbacks) +
              " rollback(s), the limit train.max_rollbacks",
          "run directory '" + out_dir + "'", kept));
    });
  };

  // 4. Epochs.
  StopSignals signals;
  const std::int64_t total_steps = static_cast<std::int64_t>(train_config.epochs) * batches_per_epoch;
  const std::int64_t validation_chunk =
      std::max<std::int64_t>(1, batch_size / trainer->micro_batch_count(batch_size));
  const double elapsed_before = state.elapsed_s;
  StreamStats stream_stats;
  // A rollback restarts the loop body at the restored position (as a resume would).
  int epoch = state.position.epochs_done + 1;
  while (epoch <= train_config.epochs && !result.interrupted) {
    const Stage stage = train_config.stage_of(epoch);
    const double lr = train_config.lr_at(epoch) * state.guard.lr_scale;
    trainer->set_lr(lr);
    const std::vector<std::int64_t> order = data::shuffle_events(split.train, seed, static_cast<std::uint64_t>(epoch));
    TermSums sums = state.partial_sums;
    double events = state.partial_events;
    double train_seconds = state.partial_seconds;
    const std::int64_t first_batch = state.position.batches_done;
    state.partial_sums = {};
    state.partial_events = state.partial_seconds = 0.0;
    state.position.batches_done = 0;

    core::Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(train_config.epochs),
                            static_cast<std::uint64_t>(batches_per_epoch), "batches", comm.is_root(), run.progress,
                            run.progress_interval_s);
    progress.update(static_cast<std::uint64_t>(first_batch));
    const core::Stopwatch train_start;
    std::int64_t batches_done = first_batch;
    bool rolled_back = false;
    // This rank's rows of batches first_batch.. in the background, prefetch_batches
    // ahead.  While it exists the reader is the process's only HDF5 user: it is
    // closed before anything else touches a file (checkpoint, rollback, validation).
    const par::Block share = trainer->my_rows(batch_size);
    std::optional<data::ShowerStream> stream;
    // Agreed: a rank that cannot start its reader must not leave the others in a step's collectives.
    par::run_agreed(comm, [&] {
      stream.emplace(data_file, voxels, batches_per_epoch - first_batch,
                     [&order, share, batch_size, first_batch](std::int64_t k) {
                       const auto start = static_cast<std::ptrdiff_t>((first_batch + k) * batch_size + share.offset);
                       return std::vector<std::int64_t>(order.begin() + start, order.begin() + start + share.count);
                     },
                     train_config.prefetch_batches);
    });
    auto close_stream = [&] {
      if (!stream) return;
      stream_stats.add(*stream);
      stream.reset();
    };
    const FetchRows fetch = [&] { return stream->next().block; };
    for (std::int64_t b = first_batch; b < batches_per_epoch; ++b) {
      // A skipped batch leaves the persistent chains as they were before it.
      torch::Tensor chains_before;
      if (persistent_chains && trainer->model()->persistent_chains().defined())
        chains_before = trainer->model()->persistent_chains().clone();
      // The step agrees on its ranks' own failures before its collectives.
      std::optional<StepReport> report =
          trainer->step(order.data() + b * batch_size, batch_size, fetch, epoch, b, batches_per_epoch, total_steps,
                        stage, signals.requested(), faults.take(epoch, b));
      // Every input of the verdict is collective: all ranks take the same branch.
      const BatchVerdict verdict =
          judge_batch(report->skipped(), report->clipped, report->grad_norm, guard_limits, state.guard);
      if (verdict == BatchVerdict::applied) {
        for (std::size_t t = 0; t < kTerms; ++t) sums[t] += report->sums[t];
        events += report->events;
      } else {
        std::string what = report->ranks_with_bad_loss > 0 ? "loss" : "";
        if (report->ranks_with_bad_gradient > 0) what += what.empty() ? "gradient" : " and gradient";
        core::log::warn_root("epoch ", epoch, " batch ", b, ": non-finite ", what, " (loss on ",
                             report->ranks_with_bad_loss, ", gradient on ", report->ranks_with_bad_gradient, " of ",
                             comm.size(), " ranks); batch skipped, ", state.guard.consecutive_bad > 0
                                                                         ? state.guard.consecutive_bad
                                                                         : guard_limits.max_bad_batches,
                             " in a row (rollback at ", guard_limits.max_bad_batches, ")");
        if (verdict == BatchVerdict::give_up) {
          close_stream();
          diverged(epoch, b);
        }
        if (verdict == BatchVerdict::rollback) {
          core::log::warn_root("rolling back to ",
                               rollback_checkpoint.empty() ? std::string("the initial parameters")
                                                           : fs::path(rollback_checkpoint).filename().string(),
                               " (rollback ", state.guard.rollbacks, " of at most ", guard_limits.max_rollbacks,
                               "); learning rate now x", state.guard.lr_scale);
          close_stream();
          roll_back();
          rolled_back = true;
          break;
        }
        if (persistent_chains) trainer->model()->set_persistent_chains(chains_before);
      }
      batches_done = b + 1;
      progress.update(static_cast<std::uint64_t>(batches_done));
      if (report->stop_requested) {
        result.interrupted = true;
        break;
      }
    }
    close_stream();
    progress.finish();
    if (rolled_back) {
      epoch = state.position.epochs_done + 1;
      continue;
    }
    train_seconds += comm.max(train_start.seconds());

    if (result.interrupted) {
      // Pre-emption: a resumable checkpoint of the partial epoch, then exit 0.
      state.position = {epoch - 1, batches_done};
      state.partial_sums = sums;
      state.partial_events = events;
      state.partial_seconds = train_seconds;
      state.elapsed_s = elapsed_before + wall_start.seconds();
      const std::string path = (fs::path(out_dir) / checkpoint_name(state.position)).string();
      write_checkpoint(path, *trainer, state, context, comm);
      result.checkpoint = path;
      result.epochs_done = epoch - 1;
      core::log::info_root("stopped by signal ", signals.signal_number(), " after ", batches_done, " batches of epoch ",
                           epoch, "; checkpoint ", path, " (continue with --resume)");
      break;
    }

    const core::Stopwatch validation_start;
    const std::optional<ValidationReport> val = trainer->validate(
        validation, data_file, voxels, train_config.prefetch_batches, validation_chunk, ratio_max, stream_stats);
    const double validation_seconds = comm.max(validation_start.seconds());
    // train.best = ll: LL = -<E(z)>_encoded validation - log Z of the prior, every ll_every epochs and at the end.
    const bool ll_epoch =
        train_config.best == BestRule::ll && (epoch % train_config.ll_every == 0 || epoch == train_config.epochs);
    std::optional<logz::LogzReport> log_z;
    double ll_seconds = 0.0;
    if (ll_epoch) {
      const core::Stopwatch ll_start;
      logz::LogzRequest ll_request;
      ll_request.method = logz::Method::both;
      ll_request.chains = train_config.ll_chains;
      ll_request.temperatures = train_config.ll_temperatures;
      ll_request.seed = seed ^ (kLogLikelihoodSeedSalt + static_cast<std::uint64_t>(epoch));
      par::run_agreed(comm, [&] { log_z = logz::run_logz(trainer->model()->prior().machine(), ll_request, comm); });
      ll_seconds = comm.max(ll_start.seconds());
    }
    const double val_ll = log_z ? -val->mean_prior_energy - log_z->log_z() : std::numeric_limits<double>::quiet_NaN();
    const double metric = train_config.best == BestRule::recon_chi2 ? val->means[0] + 10.0 * val->chi2
                          : train_config.best == BestRule::ll       ? -val_ll
                                                                    : val->val_loss;
    const bool is_best = std::isfinite(metric) && (state.best_epoch == 0 || metric < state.best_metric);
    if (is_best) {
      state.best_metric = metric;
      state.best_epoch = epoch;
    }
    state.elapsed_s = elapsed_before + wall_start.seconds();
    trainer->set_schedules_at_epoch_end(epoch, batches_per_epoch, total_steps);
    History::Row row = {{"epoch", epoch},
                        {"stage", static_cast<double>(static_cast<int>(stage))},
                        {"lr", lr},
                        {"beta", trainer->last_beta()},
                        {"slope", trainer->last_slope()},
                        {"kl_weight", trainer->last_kl_weight()}};
    const double n = std::max(events, 1.0);
    for (std::size_t t = 0; t < kTerms; ++t) row.emplace_back(std::string("train_") + kTermNames[t], sums[t] / n);
    for (std::size_t t = 0; t + 1 < kTerms; ++t) row.emplace_back(std::string("val_") + kTermNames[t], val->means[t]);
    row.emplace_back("val_loss", val->val_loss);
    row.emplace_back("val_recon_chi2", val->chi2);
    row.emplace_back("metric", metric);
    row.emplace_back("is_best", is_best ? 1.0 : 0.0);
    row.emplace_back("train_events", events);
    row.emplace_back("val_events", static_cast<double>(val->events));
    row.emplace_back("train_s", train_seconds);
    row.emplace_back("val_s", validation_seconds);
    row.emplace_back("showers_per_s", train_seconds > 0 ? events / train_seconds : 0.0);
    row.emplace_back("elapsed_s", state.elapsed_s);
    row.emplace_back("ranks", comm.size());
    row.emplace_back(kGuardColumns[0], static_cast<double>(state.guard.epoch_bad_batches));
    row.emplace_back(kGuardColumns[1], static_cast<double>(state.guard.epoch_rollbacks));
    row.emplace_back(kGuardColumns[2], static_cast<double>(state.guard.epoch_clipped_batches));
    row.emplace_back(kGuardColumns[3], state.guard.epoch_grad_norm_max);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::array<double, kLogLikelihoodColumns.size()> ll_values = {
        val->mean_prior_energy, val_ll, log_z ? log_z->log_z() : nan, log_z ? log_z->combined_uncertainty() : nan, ll_seconds};
    for (std::size_t c = 0; c < ll_values.size(); ++c) row.emplace_back(kLogLikelihoodColumns[c], ll_values[c]);
    state.history.append(row);
    state.position = {epoch, 0};
    if (state.guard.epoch_clipped_batches > 0)
      core::log::warn_root("epoch ", epoch, ": gradient norm clipped to ", train_config.clip_grad_norm, " in ",
                           state.guard.epoch_clipped_batches, " of ", batches_per_epoch, " batches (largest norm ",
                           state.guard.epoch_grad_norm_max, ")");
    state.guard.start_epoch();  // the epoch's checkpoint starts the next epoch's counters at zero

    const std::string path = (fs::path(out_dir) / checkpoint_name(state.position)).string();
    write_checkpoint(path, *trainer, state, context, comm);
    result.checkpoint = path;
    result.epochs_done = epoch;
    rollback_checkpoint = path;
    initial_model = std::string();  // a checkpoint exists now: free the initial model
    par::run_agreed(comm, [&] {
      if (!comm.is_root()) return;
      if (is_best) replace_with_link(path, best_path);
      prune_checkpoints(out_dir, train_config.keep_last);
      state.history.write_files(out_dir, context.provenance);
    });
    if (is_best) result.best = best_path;
    core::log::info_root("epoch ", epoch, "/", train_config.epochs, " [", to_string(stage), "]: loss ",
                         sums[kTerms - 1] / n, ", val_loss ", val->val_loss, ", chi2 ", val->chi2,
                         is_best ? " (best)" : "", ", ", static_cast<long long>(events / std::max(train_seconds, 1e-9)),
                         " showers/s");
    // A signal that arrived during validation or the checkpoint: the state is saved, stop now.
    if (comm.max(signals.requested() ? 1 : 0) > 0 && epoch < train_config.epochs) {
      result.interrupted = true;
      core::log::info_root("stopped by signal after epoch ", epoch, "; continue with --resume");
    }
    ++epoch;
  }
  if (result.epochs_done == 0) result.epochs_done = state.position.epochs_done;
  result.best_epoch = state.best_epoch;
  result.best_metric = state.best_metric;
  if (state.best_epoch > 0) result.best = best_path;
  result.history_csv = (fs::path(out_dir) / "history.csv").string();
  result.history_h5 = (fs::path(out_dir) / "history.h5").string();
  for (const auto& [name, value] : state.history.last()) result.last_epoch[name] = value;
  std::tie(result.parameter_digest, result.parameters_finite) = trainer->parameter_digest();
  result.seconds = comm.max(wall_start.seconds());
  result.peak_rss_mb = comm.max(peak_rss_mb());
  result.peak_stream_rows = comm.max(stream_stats.peak_rows);
  result.io_wait_s = comm.max(stream_stats.wait_seconds);
  return result;
}

BenchTrainResult benchmark_training(const BenchTrainRequest& request, const data::ShowerBlock& showers,
                                    const geometry::Geometry& geometry, const par::Communicator& comm) {
  BenchTrainResult result;
  TrainConfig train_config = train_config_from(request.config);
  train_config.batch_size = request.batch_size;
  train_config.micro_batch_size = 0;
  const model::ModelConfig model_config = model::model_config_from(request.config);
  if (request.threads > 0) torch::set_num_threads(request.threads);
  InMemoryShowers data;
  data.voxels = showers.voxels;
  data.energies = showers.incident_energies;
  data.showers = showers.showers;
  const std::int64_t events = showers.events();
  if (events < request.batch_size)
    throw core::UsageError(core::describe("need at least one batch of events", "qvae bench train",
                                          "raise --events or lower --batch-size"));
  const std::int64_t batches_per_epoch = events / request.batch_size;
  std::optional<DataParallelModel> trainer;
  par::run_agreed(comm, [&] { trainer.emplace(model_config, geometry, train_config, core::RunOptions{}.seed, comm); });
  result.parameters = trainer->parameter_count();
  const std::vector<std::int64_t> order = data::epoch_permutation(events, 0, 1);
  auto run_step = [&](int index) {
    const std::int64_t b = index % batches_per_epoch;
    const std::int64_t* batch = order.data() + b * request.batch_size;
    const par::Block share = trainer->my_rows(request.batch_size);
    trainer->step(batch, request.batch_size, [&] { return data.gather(batch + share.offset, share.count); }, 1, b,
                  batches_per_epoch, batches_per_epoch, Stage::joint, false);
  };
  auto cpu_seconds = [] {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
  };
  run_step(0);  // warm-up: allocations, sampler construction
  comm.barrier();
  const core::Stopwatch start;
  const double cpu_start = cpu_seconds();
  for (int i = 1; i <= request.batches; ++i) run_step(i);
  result.cpu_step_seconds = comm.max(cpu_seconds() - cpu_start) / std::max(request.batches, 1);
  result.seconds = comm.max(start.seconds());
  result.step_seconds = result.seconds / std::max(request.batches, 1);
  result.showers_per_s =
      result.seconds > 0 ? static_cast<double>(request.batches) * static_cast<double>(request.batch_size) / result.seconds : 0.0;
  result.peak_rss_mb = comm.max(peak_rss_mb());
  return result;
}

}  // namespace qvae::train
