// DataParallelModel: one global step (micro-batches, the agreed local work,
// the fixed sequence of collectives, the updates), validation, digests.
#include "data_parallel_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "qvae/core/fnv_hash.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/torch_device.hpp"

namespace qvae::train {
namespace {

/// Validation noise and chains never share streams with training steps.
constexpr std::uint64_t kValidationSeedSalt = 0x56414C4944415445ull;  // "VALIDATE"
constexpr int kRatioBins = 40;                                        ///< E_tot/E_inc histogram of the recon_chi2 rule

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

torch::Tensor event_tensor(const std::int64_t* events, std::int64_t count) {
  return torch::from_blob(const_cast<std::int64_t*>(events), {count}, torch::kLong).clone();
}

/// Slots of the step's float64 allreduce buffer before the variable-size parts.
constexpr std::size_t kEventsSlot = kTerms;
constexpr std::size_t kStopSlot = kTerms + 1;
constexpr std::size_t kBadLossSlot = kTerms + 2;      ///< ranks whose loss is non-finite
constexpr std::size_t kBadGradientSlot = kTerms + 3;  ///< ranks whose gradient or statistics are non-finite
constexpr std::size_t kHeaderSlots = kTerms + 4;

template <class T>
bool all_finite(const T* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i])) return false;
  return true;
}

}  // namespace

DataParallelModel::DataParallelModel(const model::ModelConfig& model_config, const geometry::Geometry& geometry,
                                     const TrainConfig& train_config, std::uint64_t seed, const par::Communicator& comm)
    : config_(model_config), train_(train_config), seed_(seed), comm_(comm) {
  torch::manual_seed(seed);
  model_ = model::Qvae(model_config, geometry, model::make_prior(model_config, seed, comm));
  // Built on the host (the same initial values on any device), then moved.
  const int node_rank = comm_.node_rank();
  par::run_agreed(comm_, [&] {  // a build without CUDA: one message, exit 2
    device_ = torch::Device(rbm::resolve_device(train_config.device, node_rank, "train.device"));
  });
  model_->place_on(device_);
  model_->train();
  if (model_config.rbm.update == model::RbmUpdate::autograd) prior_optimizer_ = model_->make_prior_optimizer();
  buckets_ = std::make_unique<GradientBuckets>(model_->parameters(), train_config.bucket_mb,
                                               train_config.exchange_precision == ExchangePrecision::bf16, comm_);
  AdamSettings adam;
  adam.lr = train_config.lr;
  optimizer_ =
      std::make_unique<ShardedAdam>(model_->parameters(), *buckets_, adam, train_config.shard_optimizer, comm_);
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

std::int64_t DataParallelModel::parameter_count() const {
  std::int64_t count = 0;
  for (const auto& p : model_->parameters()) count += p.numel();
  return count;
}

void DataParallelModel::broadcast_from_root() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors = model_->parameters();
  for (const auto& b : model_->buffers()) tensors.push_back(b);
  for (const auto& p : model_->prior_parameters()) tensors.push_back(p);
  for (auto& t : tensors) {
    TORCH_CHECK(t.is_contiguous(), "broadcast of a non-contiguous tensor");
    if (t.device().is_cpu()) {
      comm_.broadcast(static_cast<std::uint8_t*>(t.data_ptr()), t.nbytes());
      continue;
    }
    torch::Tensor host = t.to(torch::kCPU);  // MPI reads and writes host memory
    comm_.broadcast(static_cast<std::uint8_t*>(host.data_ptr()), host.nbytes());
    t.copy_(host);
  }
}

StepReport DataParallelModel::step(const std::int64_t* batch, std::int64_t batch_size, const FetchRows& fetch,
                                   int epoch, std::int64_t batch_index, std::int64_t batches_per_epoch,
                                   std::int64_t total_steps, Stage stage, bool stop_requested,
                                   const InjectedFaults& inject) {
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

  core::Stopwatch clock;  // laps: where this rank's step time goes (step_times())
  auto lap = [&clock, this](double& slot) {
    if (device_.is_cuda()) torch::cuda::synchronize(device_.index());  // the phase's kernels, not their launches
    slot += clock.seconds();
    clock.restart();
  };
  buckets_->zero();
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
  // On a GPU, backward runs on LibTorch's device thread, which must not call
  // MPI: the sums start after backward, from this thread.
  const bool overlap = trains_networks && train_.overlap_exchange && device_.is_cpu();
  if (inject.nan_grad && trains_networks) buckets_->poison_next_exchange();
  auto local_work = [&] {
    // Inside the agreed section: a read or bad-value error is every rank's to know.
    lap(times_.setup);
    data::ShowerBlock local = fetch();
    lap(times_.fetch);
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
      lap(times_.setup);
      const model::ForwardOutput out = model_->forward(u, model::QvaeImpl::energies_of(block), settings);
      lap(times_.forward);
      const torch::Tensor negative = model_->negative_samples(out, settings.noise);
      lap(times_.gibbs);
      const model::LossTerms terms = model_->loss(out, negative);
      // The optimised loss with the scheduled gamma_KL (the OLD total, docs/model.md "Loss terms and the RBM update").
      torch::Tensor total = terms.ae + terms.hit + terms.layer;
      if (stage != Stage::autoencoder) {
        total = total + kl_weight * (terms.entropy + terms.pos_energy);
        if (autograd_prior) total = total + kl_weight * terms.neg_energy;
      }
      lap(times_.forward);
      if (overlap && j == mine.end() - 1) buckets_->arm();  // this rank's last backward of the step
      if (total.requires_grad() && (trains_networks || autograd_prior)) (total * weight).backward();
      lap(times_.backward);
      const std::array<torch::Tensor, kTerms> values = {terms.ae,         terms.hit, terms.entropy, terms.pos_energy,
                                                        terms.neg_energy, terms.kl,  terms.layer,   total};
      for (std::size_t t = 0; t < kTerms; ++t)
        reduced[t] += static_cast<double>(rows.count) * values[t].detach().item<double>();
      reduced[kEventsSlot] += static_cast<double>(rows.count);
      if (stats_size > 0)
        add_sufficient_statistics(out.posterior_samples, negative, reduced.data() + stats_offset, nodes, couplers);
      if (networks_in_train_mode) add_running_stats(reduced.data() + bn_offset);
      lap(times_.statistics);
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
    lap(times_.statistics);
  };
  // The rank's own work may fail (a voxel the transform refuses, a model
  // check): every rank learns it here, so the job ends with one message and
  // no abort.  The gradient sums that overlap backward are the only
  // collectives before it: a rank that fails starts the rest of them too, so
  // every rank starts the same sums in the same order.
  par::run_agreed(comm_, [&] {
    try {
      local_work();
    } catch (...) {
      if (overlap) buckets_->start_remaining();
      throw;
    }
    if (overlap) buckets_->start_remaining();
  });
  lap(times_.agree);

  if (trains_networks && !overlap) buckets_->start_remaining();
  if (config_.rbm.negative_chains == model::NegativeChains::pcd) share_persistent_chains(batch_size);
  lap(times_.pack);

  // Stability guard: this rank's verdict on its own values, summed with the
  // rest of the buffer below, so every rank learns how many ranks saw a
  // non-finite loss or gradient at no extra latency.  Test faults first.
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  if (inject.nan_loss) reduced[kTerms - 1] = nan;  // the rank's optimised-loss sum
  if (inject.nan_grad && !trains_networks)
    reduced[static_cast<std::size_t>(stats_offset)] = nan;  // prior stage: the RBM statistics or gradients
  const bool loss_finite = all_finite(reduced.data(), kTerms);
  const bool gradient_finite =
      all_finite(reduced.data() + stats_offset, reduced.size() - static_cast<std::size_t>(stats_offset)) &&
      (!trains_networks || buckets_->local_finite());
  reduced[kBadLossSlot] = loss_finite ? 0.0 : 1.0;
  reduced[kBadGradientSlot] = gradient_finite ? 0.0 : 1.0;

  // The collectives, in the same order on every rank (a rank that skipped one would deadlock the others).
  if (trains_networks) {
    buckets_->wait();
    times_.buckets_started_in_backward += static_cast<std::int64_t>(buckets_->started_during_backward());
  }
  comm_.sum_in_place(reduced.data(), reduced.size());
  lap(times_.exchange);
  ++times_.steps;

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
    lap(times_.update);
    return report;
  }
  if (trains_networks) {
    // Clipping on the summed gradient every rank holds: the same norm, the same scale everywhere.
    report.grad_norm = buckets_->norm();
    const double coefficient = clip_coefficient(report.grad_norm, train_.clip_grad_norm);
    report.clipped = coefficient < 1.0;
    if (report.clipped) buckets_->scale(static_cast<float>(coefficient));
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
  if (trains_networks) optimizer_->step();
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
  lap(times_.update);
  return report;
}

void DataParallelModel::share_persistent_chains(std::int64_t batch_size) {
  const std::int64_t nodes = model_->prior().nodes();
  const par::Block share = my_rows(batch_size);
  const std::int64_t first = share.offset, end = share.end();
  std::vector<std::uint8_t> rows(static_cast<std::size_t>((end - first) * nodes));
  if (end > first) {
    const torch::Tensor mine_rows = model_->persistent_chains().slice(0, first, end).to(torch::kUInt8).contiguous();
    std::copy_n(mine_rows.data_ptr<std::uint8_t>(), rows.size(), rows.data());
  }
  std::vector<std::uint8_t> all = comm_.allgather_blocks(rows);
  TORCH_CHECK(static_cast<std::int64_t>(all.size()) == batch_size * nodes, "persistent chains: gathered ", all.size(),
              " states for ", batch_size, " rows");
  model_->set_persistent_chains(torch::from_blob(all.data(), {batch_size, nodes}, torch::kUInt8).to(torch::kDouble));
}

ValidationReport DataParallelModel::validate(const std::vector<std::int64_t>& events, const std::string& data_file,
                                             std::int64_t voxels, int depth, std::int64_t chunk, double ratio_max,
                                             StreamStats& stats) {
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
    data::ShowerStream stream(
        data_file, voxels, chunks,
        [&events, mine, chunk](std::int64_t k) {
          const std::int64_t start = mine.offset + k * chunk;
          return std::vector<std::int64_t>(events.begin() + start,
                                           events.begin() + std::min(start + chunk, mine.end()));
        },
        depth);
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
          terms.ae,         terms.hit, terms.entropy, terms.pos_energy,
          terms.neg_energy, terms.kl,  terms.layer,   terms.ae + terms.hit + terms.layer + terms.kl};
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

std::pair<std::uint64_t, bool> DataParallelModel::parameter_digest() {
  std::vector<torch::Tensor> tensors = model_->parameters();
  for (const auto& b : model_->buffers()) tensors.push_back(b);
  for (const auto& p : model_->prior_parameters()) tensors.push_back(p);
  core::Fnv1a hash;
  bool finite = true;
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    if (c.is_floating_point()) finite = finite && c.isfinite().all().item<bool>();
    hash.add(c.data_ptr(), c.nbytes());
  }
  return {hash.value(), finite};
}

void DataParallelModel::set_schedules_at_epoch_end(int epoch, std::int64_t batches_per_epoch,
                                                   std::int64_t total_steps) {
  const std::int64_t last = batches_per_epoch - 1;
  last_beta_ = config_.beta.at(epoch, last, batches_per_epoch);
  last_slope_ = config_.slope.at(epoch, last, batches_per_epoch);
  last_kl_weight_ = train_.kl_weight_at(static_cast<std::int64_t>(epoch - 1) * batches_per_epoch + last, total_steps,
                                        config_.loss.kl_weight);
}

std::int64_t DataParallelModel::micro_batch_count(std::int64_t batch_size) const {
  const std::int64_t wanted = train_.micro_batch_size > 0
                                  ? (batch_size + train_.micro_batch_size - 1) / train_.micro_batch_size
                                  : static_cast<std::int64_t>(comm_.size());
  return std::max<std::int64_t>(1, std::min(wanted, batch_size));
}

par::Block DataParallelModel::my_rows(std::int64_t batch_size) const {
  const par::Block mine = my_micro_batches(batch_size);
  if (mine.count == 0) return par::Block{0, 0};  // more ranks than micro-batches: this rank has no rows
  const int parts = static_cast<int>(micro_batch_count(batch_size));
  const par::Block first = par::block_partition(batch_size, static_cast<int>(mine.offset), parts);
  const par::Block last = par::block_partition(batch_size, static_cast<int>(mine.end() - 1), parts);
  return par::Block{first.offset, last.end() - first.offset};
}

void DataParallelModel::add_running_stats(double* out) {
  torch::NoGradGuard no_grad;
  for (const auto& t : running_stats_) {
    const torch::Tensor values = t.to(torch::kCPU, torch::kDouble).contiguous();
    const double* v = values.data_ptr<double>();
    for (std::int64_t i = 0; i < values.numel(); ++i) out[i] += v[i];
    out += values.numel();
  }
}

void DataParallelModel::add_sufficient_statistics(const torch::Tensor& posterior, const torch::Tensor& negative,
                                                  double* out, std::int64_t nodes, std::int64_t couplers) const {
  torch::NoGradGuard no_grad;
  const model::Prior& prior = *prior_ptr_;
  auto add = [&](const torch::Tensor& states, double* target) {
    const torch::Tensor z = states.detach().to(torch::kCPU, torch::kDouble);
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

model::PriorGradient DataParallelModel::centred_gradient(const double* sums, double events, std::int64_t nodes,
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

}  // namespace qvae::train
