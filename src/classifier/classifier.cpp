#include "qvae/classifier/classifier.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/rbm/torch_sampler.hpp"

namespace qvae::classifier {
namespace {

// Philox stream families: one per purpose, so no two draws share a stream.
constexpr std::uint64_t kSplitStreams = 0x53504c4954ull << 24;    // + class
constexpr std::uint64_t kShuffleStreams = 0x5348554646ull << 24;  // + epoch
constexpr std::uint64_t kWeightStreams = 0x5745494748ull << 24;   // + 2 layer (+1 for the bias)

/// 0..n-1 ordered by a Philox key of (seed, stream, index): a permutation that
/// depends on nothing but its key.
std::vector<std::int64_t> keyed_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const core::PhiloxBlock b = core::Philox(seed, stream, static_cast<std::uint64_t>(i)).block();
    keys[static_cast<std::size_t>(i)] = (static_cast<std::uint64_t>(b.v[0]) << 32) | b.v[1];
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const auto ka = keys[static_cast<std::size_t>(a)], kb = keys[static_cast<std::size_t>(b)];
    return ka != kb ? ka < kb : a < b;
  });
  return order;
}

/// One split's rows as a (rows x d) float64 tensor with its labels.
struct Labelled {
  torch::Tensor x, y;
  std::vector<double> labels;
  std::int64_t rows() const { return static_cast<std::int64_t>(labels.size()); }
};

/// Rows [begin, end) of each class's permutation: generated (label 0) first,
/// then reference (label 1); the tensors on `device`.
Labelled gather_split(const eval::FeatureTable& reference, const eval::FeatureTable& generated,
                      const std::vector<std::int64_t>& order_ref, const std::vector<std::int64_t>& order_gen,
                      std::int64_t begin, std::int64_t end, torch::Device device) {
  const std::int64_t per_class = end - begin, cols = reference.cols;
  Labelled out;
  out.x = torch::empty({2 * per_class, cols}, torch::kFloat64);
  double* dst = out.x.data_ptr<double>();
  for (int label = 0; label < 2; ++label) {
    const eval::FeatureTable& table = label ? reference : generated;
    const std::vector<std::int64_t>& order = label ? order_ref : order_gen;
    for (std::int64_t k = begin; k < end; ++k) {
      const double* row = table.row(order[static_cast<std::size_t>(k)]);
      std::copy(row, row + cols, dst);
      dst += cols;
      out.labels.push_back(label);
    }
  }
  out.y = torch::tensor(out.labels, torch::kFloat64).unsqueeze(1).to(device);
  out.x = out.x.to(device);
  return out;
}

/// evaluate.py's DNN; Linear weights and biases drawn as PyTorch's default
/// (uniform in +-1/sqrt(fan_in)) from Philox streams keyed by seed and layer.
torch::nn::Sequential build_network(int inputs, const ClassifierSettings& s) {
  torch::nn::Sequential net;
  int fan_in = inputs;
  for (int l = 0; l <= s.layers; ++l) {
    net->push_back(torch::nn::Linear(fan_in, s.hidden));
    net->push_back(torch::nn::LeakyReLU());
    fan_in = s.hidden;
  }
  net->push_back(torch::nn::Linear(fan_in, 1));
  net->to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  std::uint64_t layer = 0;
  for (auto& module : net->children()) {
    auto* linear = module->as<torch::nn::LinearImpl>();
    if (!linear) continue;
    const double bound = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(1)));
    for (torch::Tensor* p : {&linear->weight, &linear->bias}) {
      core::Philox rng(s.seed, kWeightStreams + 2 * layer + (p == &linear->bias ? 1 : 0));
      std::vector<double> values(static_cast<std::size_t>(p->numel()));
      for (double& v : values) v = rng.uniform(-bound, bound);
      p->copy_(torch::from_blob(values.data(), p->sizes(), torch::kFloat64));
    }
    ++layer;
  }
  return net;
}

/// Collective: logits of every row of `data`, each rank computing a block, in row order on every rank.
std::vector<double> predict_logits(torch::nn::Sequential& net, const Labelled& data, const par::Communicator& comm,
                                   std::int64_t chunk) {
  torch::NoGradGuard no_grad;
  const par::Block mine = par::my_block(data.rows(), comm);
  std::vector<double> local;
  local.reserve(static_cast<std::size_t>(mine.count));
  for (std::int64_t begin = mine.offset; begin < mine.end(); begin += chunk) {
    const torch::Tensor logits =
        net->forward(data.x.slice(0, begin, std::min(begin + chunk, mine.end()))).to(torch::kCPU).contiguous();
    local.insert(local.end(), logits.data_ptr<double>(), logits.data_ptr<double>() + logits.numel());
  }
  return comm.size() == 1 ? local : comm.allgather_blocks(local);
}

std::vector<double> sigmoid(const std::vector<double>& logits) {
  std::vector<double> p(logits.size());
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = 1.0 / (1.0 + std::exp(-logits[i]));
  return p;
}

/// Sums the gradients of `params` over ranks (an undefined gradient counts as zero).
void sum_gradients(const std::vector<torch::Tensor>& params, std::vector<double>& flat, const par::Communicator& comm) {
  std::size_t at = 0;
  for (const auto& p : params) {
    const auto n = static_cast<std::size_t>(p.numel());
    if (p.grad().defined())
      std::copy_n(p.grad().to(torch::kCPU).contiguous().data_ptr<double>(), n,
                  flat.begin() + static_cast<std::ptrdiff_t>(at));
    else
      std::fill_n(flat.begin() + static_cast<std::ptrdiff_t>(at), n, 0.0);
    at += n;
  }
  comm.sum_in_place(flat.data(), flat.size());
  at = 0;
  for (const auto& p : params) {
    const auto n = static_cast<std::size_t>(p.numel());
    auto grad = torch::from_blob(flat.data() + at, p.sizes(), torch::kFloat64).to(p.device(), false, true);
    p.mutable_grad() = grad;
    at += n;
  }
}

}  // namespace

eval::ClassifierResult train_classifier(const eval::FeatureTable& reference, const eval::FeatureTable& generated,
                                        eval::ClassifierInputs inputs, const ClassifierSettings& s,
                                        const par::Communicator& comm) {
  s.validate();
  const std::string name = eval::to_string(inputs);
  const std::string where = "classifier test (" + name + ")";
  if (reference.cols != generated.cols || reference.cols < 1)
    throw std::invalid_argument("train_classifier: the tables need the same, non-zero column count");
  require_enough_events(reference.rows(), generated.rows(), s, where);
  const core::Stopwatch start;
  if (s.threads > 0) rbm::limit_torch_threads(s.threads);
  const int node_rank = comm.node_rank();
  torch::Device device(torch::kCPU);
  par::run_agreed(comm, [&] { device = torch::Device(rbm::resolve_device(s.device, node_rank, "classifier.device")); });

  eval::ClassifierResult r;
  r.inputs = name;
  r.features = reference.cols;
  r.events_per_class = std::min(reference.rows(), generated.rows());
  const SplitSizes sizes = split_sizes(r.events_per_class, s);
  r.train_per_class = sizes.train, r.test_per_class = sizes.test, r.validation_per_class = sizes.validation;
  r.hidden = s.hidden, r.layers = s.layers, r.epochs = s.epochs, r.batch_size = s.batch_size, r.lr = s.lr;
  r.seed = s.seed;

  // Per class, one keyed permutation of its events: train, test, validation in that order.
  const auto order_gen = keyed_permutation(r.events_per_class, s.seed, kSplitStreams + 0);
  const auto order_ref = keyed_permutation(r.events_per_class, s.seed, kSplitStreams + 1);
  const Labelled train = gather_split(reference, generated, order_ref, order_gen, 0, sizes.train, device);
  const Labelled test =
      gather_split(reference, generated, order_ref, order_gen, sizes.train, sizes.train + sizes.test, device);
  const Labelled val =
      gather_split(reference, generated, order_ref, order_gen, sizes.train + sizes.test, r.events_per_class, device);

  torch::nn::Sequential net = build_network(r.features, s);  // drawn on the host: the same weights anywhere
  net->to(device);
  const std::vector<torch::Tensor> params = net->parameters();
  std::size_t total = 0;
  for (const auto& p : params) total += static_cast<std::size_t>(p.numel());
  std::vector<double> flat(comm.size() > 1 ? total : 0);
  torch::optim::Adam adam(params, torch::optim::AdamOptions(s.lr));
  const std::int64_t eval_chunk = std::max<std::int64_t>(s.batch_size, 1);

  double best_accuracy = -1;
  std::vector<torch::Tensor> best;
  for (int epoch = 1; epoch <= s.epochs; ++epoch) {
    net->train();
    const auto order = keyed_permutation(train.rows(), s.seed, kShuffleStreams + static_cast<std::uint64_t>(epoch));
    double loss_sum = 0;
    for (std::int64_t begin = 0; begin < train.rows(); begin += s.batch_size) {
      const std::int64_t length = std::min(s.batch_size, train.rows() - begin);
      const par::Block mine = par::block_partition(length, comm.rank(), comm.size());
      adam.zero_grad();
      if (mine.count > 0) {
        const torch::Tensor rows =
            torch::from_blob(const_cast<std::int64_t*>(order.data()) + begin + mine.offset, {mine.count}, torch::kInt64)
                .to(device);
        const torch::Tensor logits = net->forward(train.x.index_select(0, rows));
        const torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, train.y.index_select(0, rows), {},
                                                                           {}, torch::Reduction::Sum);
        loss_sum += loss.item<double>();
        (loss / static_cast<double>(length)).backward();
      }
      if (comm.size() > 1) sum_gradients(params, flat, comm);
      adam.step();
    }
    r.train_loss_per_epoch.push_back(comm.sum(loss_sum) / static_cast<double>(train.rows()));

    net->eval();
    const double test_accuracy = eval::accuracy(predict_logits(net, test, comm, eval_chunk), test.labels, 0.0);
    r.test_accuracy_per_epoch.push_back(test_accuracy);
    r.epochs_run = epoch;
    core::log::info_root("classifier ", name, ": epoch ", epoch, "/", s.epochs, ", train loss ",
                         r.train_loss_per_epoch.back(), ", test accuracy ", test_accuracy);
    if (test_accuracy > best_accuracy) {
      best_accuracy = test_accuracy;
      r.best_epoch = epoch;
      best.clear();
      for (const auto& p : params) best.push_back(p.detach().clone());
    }
    if (test_accuracy == 1.0) break;  // as evaluate.py: nothing left to improve
  }
  r.best_test_accuracy = best_accuracy;
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  }

  // Calibrate on the test set, score on the validation set.
  net->eval();
  const std::vector<double> test_p = sigmoid(predict_logits(net, test, comm, eval_chunk));
  const std::vector<double> val_logits = predict_logits(net, val, comm, eval_chunk);
  const std::vector<double> val_p = sigmoid(val_logits);
  r.auc_test = eval::roc_auc(test_p, test.labels);
  r.auc_uncalibrated = eval::roc_auc(val_p, val.labels);
  r.jsd_uncalibrated = eval::jsd_from_bce(eval::binary_cross_entropy_logits(val_logits, val.labels));
  r.accuracy_uncalibrated = eval::accuracy(val_p, val.labels, 0.5);
  eval::IsotonicRegression calibration(1e-6, 1 - 1e-6);
  calibration.fit(test_p, test.labels);
  const std::vector<double> calibrated = calibration.predict(val_p);
  r.auc = eval::roc_auc(calibrated, val.labels);
  r.jsd = eval::jsd_from_bce(eval::binary_cross_entropy(calibrated, val.labels));
  r.accuracy = eval::accuracy(calibrated, val.labels, 0.5);
  r.roc = eval::roc_curve(calibrated, val.labels);
  r.seconds_training = comm.max(start.seconds());
  return r;
}

eval::ClassifierResult classify_files(const std::string& reference, const std::string& generated,
                                      const std::string& geometry_name, double min_energy,
                                      eval::ClassifierInputs inputs, const ClassifierSettings& settings,
                                      const par::Communicator& comm) {
  const core::Stopwatch start;
  std::optional<data::CaloReader> ref_reader, gen_reader;
  par::run_agreed(comm, [&] {
    settings.validate();
    ref_reader.emplace(reference, comm, geometry_name);
    gen_reader.emplace(generated, comm, geometry_name);
    if (ref_reader->geometry().voxels() != gen_reader->geometry().voxels())
      throw core::InputError(core::describe("the files have different geometries",
                                            "files '" + reference + "' and '" + generated + "'",
                                            "compare showers of one geometry"));
    require_enough_events(ref_reader->events(), gen_reader->events(), settings,
                          "classifier test of '" + generated + "' against '" + reference + "'");
  });
  const geometry::Geometry& geometry = ref_reader->geometry();
  const eval::FeatureCalculator calculator(geometry, min_energy >= 0 ? min_energy : eval::default_min_energy(geometry));
  const eval::ClassifierInputBuilder builder(inputs, calculator, geometry.voxels());
  const std::int64_t events = std::min(ref_reader->events(), gen_reader->events());
  const eval::FeatureTable ref = eval::classifier_inputs(*ref_reader, events, builder, settings.chunk_rows, comm);
  const eval::FeatureTable gen = eval::classifier_inputs(*gen_reader, events, builder, settings.chunk_rows, comm);
  const double seconds_inputs = comm.max(start.seconds());
  eval::ClassifierResult result = train_classifier(ref, gen, inputs, settings, comm);
  result.seconds_inputs = seconds_inputs;
  return result;
}

}  // namespace qvae::classifier
