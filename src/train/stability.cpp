// Training-stability guard: fault-injection parsing, the per-batch verdict,
// gradient-norm clipping (see stability.hpp).
#include "qvae/train/stability.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include "qvae/core/error.hpp"
#include "qvae/core/lists.hpp"

namespace qvae::train {

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::nan_loss:
      return "nan_loss";
    case FaultKind::nan_grad:
      return "nan_grad";
    case FaultKind::data_error:
      return "data_error";
  }
  return "?";
}

namespace {

/// A whole-string non-negative decimal integer, or -1.
std::int64_t non_negative_integer(const std::string& text) {
  if (text.empty() || text.size() > 12) return -1;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  return std::stoll(text);
}

}  // namespace

std::vector<Fault> parse_fault_injection(const std::string& text) {
  std::vector<Fault> faults;
  if (core::trim(text).empty()) return faults;
  // split_list drops a trailing empty entry ("a,"): check the last character separately.
  const bool trailing_comma = core::trim(text).back() == ',';
  for (const std::string& item : core::split_list(text)) {
    auto malformed = [&](const std::string& why) {
      return core::UsageError(core::describe("train.fault_injection entry '" + item + "' is malformed (" + why + ")",
                                             "in the [train] settings",
                                             "write KIND@EPOCH:BATCH[#RANK] entries separated by commas, KIND "
                                             "nan_loss, nan_grad or data_error, EPOCH from 1, "
                                             "BATCH from 0, e.g. nan_loss@1:3,nan_grad@2:0#1"));
    };
    const auto at = item.find('@');
    const auto colon = item.find(':', at == std::string::npos ? 0 : at);
    if (at == std::string::npos || colon == std::string::npos) throw malformed("expected KIND@EPOCH:BATCH");
    Fault fault;
    const std::string kind = item.substr(0, at);
    if (kind == "nan_loss")
      fault.kind = FaultKind::nan_loss;
    else if (kind == "nan_grad")
      fault.kind = FaultKind::nan_grad;
    else if (kind == "data_error")
      fault.kind = FaultKind::data_error;
    else
      throw malformed("unknown kind '" + kind + "'");
    const std::int64_t epoch = non_negative_integer(item.substr(at + 1, colon - at - 1));
    if (epoch < 1) throw malformed("EPOCH must be an integer >= 1");
    fault.epoch = static_cast<int>(epoch);
    const auto hash = item.find('#', colon);
    fault.batch =
        non_negative_integer(item.substr(colon + 1, hash == std::string::npos ? std::string::npos : hash - colon - 1));
    if (fault.batch < 0) throw malformed("BATCH must be an integer >= 0");
    if (hash != std::string::npos) {
      const std::int64_t rank = non_negative_integer(item.substr(hash + 1));
      if (rank < 0) throw malformed("RANK must be an integer >= 0");
      fault.rank = static_cast<int>(rank);
    }
    faults.push_back(fault);
  }
  if (trailing_comma)
    throw core::UsageError(core::describe("train.fault_injection ends with an empty entry", "in the [train] settings",
                                          "remove the trailing comma"));
  return faults;
}

InjectedFaults FaultSchedule::take(int epoch, std::int64_t batch) {
  InjectedFaults mine;
  // One visit fires at most one copy of an entry: a repeated entry waits for
  // the next visit of its batch (after a rollback).
  std::vector<std::pair<FaultKind, int>> fired_now;
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    const Fault& fault = faults_[i];
    if (fired_[i] || fault.epoch != epoch || fault.batch != batch) continue;
    const std::pair<FaultKind, int> what{fault.kind, fault.rank};
    if (std::find(fired_now.begin(), fired_now.end(), what) != fired_now.end()) continue;
    fired_now.push_back(what);
    fired_[i] = true;
    if (fault.rank >= 0 && fault.rank != rank_) continue;
    switch (fault.kind) {
      case FaultKind::nan_loss:
        mine.nan_loss = true;
        break;
      case FaultKind::nan_grad:
        mine.nan_grad = true;
        break;
      case FaultKind::data_error:
        mine.data_error = true;
        break;
    }
  }
  return mine;
}

void GuardState::start_epoch() {
  epoch_bad_batches = epoch_rollbacks = epoch_clipped_batches = 0;
  epoch_grad_norm_max = 0.0;
}

std::vector<double> GuardState::encode() const {
  return {lr_scale,
          static_cast<double>(rollbacks),
          static_cast<double>(consecutive_bad),
          static_cast<double>(epoch_bad_batches),
          static_cast<double>(epoch_rollbacks),
          static_cast<double>(epoch_clipped_batches),
          epoch_grad_norm_max};
}

GuardState GuardState::decode(const std::vector<double>& values) {
  GuardState state;
  auto at = [&](std::size_t i, double fallback) { return i < values.size() ? values[i] : fallback; };
  // Counters come from a file: a NaN, negative or huge one would make the casts below undefined.
  auto count = [&](std::size_t i, double limit) {
    const double v = at(i, 0);
    if (!(v >= 0 && v <= limit))
      throw core::InputError(
          core::describe("guard_state value " + std::to_string(i) + " is " + std::to_string(v) + ", not a count",
                         "the checkpoint's guard_state", "resume from another checkpoint"));
    return v;
  };
  constexpr double kIntLimit = 2147483647.0, kCountLimit = 9.0e15;  // int; exact in a double
  state.lr_scale = at(0, 1.0);
  state.rollbacks = static_cast<int>(count(1, kIntLimit));
  state.consecutive_bad = static_cast<int>(count(2, kIntLimit));
  state.epoch_bad_batches = static_cast<std::int64_t>(count(3, kCountLimit));
  state.epoch_rollbacks = static_cast<std::int64_t>(count(4, kCountLimit));
  state.epoch_clipped_batches = static_cast<std::int64_t>(count(5, kCountLimit));
  state.epoch_grad_norm_max = at(6, 0.0);
  return state;
}

BatchVerdict judge_batch(bool bad, bool clipped, double grad_norm, const GuardLimits& limits, GuardState& state) {
  if (!bad) {
    state.consecutive_bad = 0;
    if (clipped) ++state.epoch_clipped_batches;
    state.epoch_grad_norm_max = std::max(state.epoch_grad_norm_max, grad_norm);
    return BatchVerdict::applied;
  }
  ++state.epoch_bad_batches;
  ++state.consecutive_bad;
  if (state.consecutive_bad < limits.max_bad_batches) return BatchVerdict::skipped;
  if (state.rollbacks >= limits.max_rollbacks) return BatchVerdict::give_up;
  ++state.rollbacks;
  ++state.epoch_rollbacks;
  state.lr_scale *= limits.rollback_lr_factor;
  state.consecutive_bad = 0;
  return BatchVerdict::rollback;
}

double gradient_norm(const std::vector<GradientPiece>& pieces) {
  double sum = 0.0;
  for (const GradientPiece& piece : pieces)
    for (std::size_t i = 0; i < piece.count; ++i)
      sum += static_cast<double>(piece.values[i]) * static_cast<double>(piece.values[i]);
  return std::sqrt(sum);
}

double clip_coefficient(double norm, double max_norm) {
  if (max_norm <= 0.0 || !std::isfinite(norm)) return 1.0;
  const double coefficient = max_norm / (norm + 1e-6);
  return coefficient < 1.0 ? coefficient : 1.0;
}

}  // namespace qvae::train
