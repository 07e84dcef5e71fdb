// Checkpoint file names, listing, pruning, the best.h5 link and the resumed
// configuration (docs/formats.md "qvae-checkpoint").
#include "qvae/train/checkpoint.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"

namespace qvae::train {

namespace fs = std::filesystem;

std::string checkpoint_name(const CheckpointPosition& position) {
  char name[64];
  if (position.batches_done == 0)
    std::snprintf(name, sizeof name, "checkpoint-%04d.h5", position.epochs_done);
  else
    std::snprintf(name, sizeof name, "checkpoint-%04d-%06lld.h5", position.epochs_done,
                  static_cast<long long>(position.batches_done));
  return name;
}

std::optional<CheckpointPosition> parse_checkpoint_name(const std::string& file_name) {
  int epochs = 0;
  long long batches = 0;
  int used = 0;
  CheckpointPosition position;
  if (std::sscanf(file_name.c_str(), "checkpoint-%d-%lld.h5%n", &epochs, &batches, &used) == 2 &&
      used == static_cast<int>(file_name.size()) && batches > 0) {
    position.epochs_done = epochs;
    position.batches_done = batches;
    return position;
  }
  used = 0;
  if (std::sscanf(file_name.c_str(), "checkpoint-%d.h5%n", &epochs, &used) == 1 &&
      used == static_cast<int>(file_name.size())) {
    position.epochs_done = epochs;
    return position;
  }
  return std::nullopt;
}

std::vector<CheckpointEntry> list_checkpoints(const std::string& directory) {
  std::vector<CheckpointEntry> entries;
  std::error_code error;
  if (!fs::is_directory(directory, error)) return entries;
  for (const auto& item : fs::directory_iterator(directory, error)) {
    if (!item.is_regular_file(error)) continue;
    if (auto position = parse_checkpoint_name(item.path().filename().string()))
      entries.push_back({item.path().string(), *position});
  }
  std::sort(entries.begin(), entries.end(),
            [](const CheckpointEntry& a, const CheckpointEntry& b) { return a.position < b.position; });
  return entries;
}

int remove_stale_temporaries(const std::string& directory) {
  int removed = 0;
  std::error_code error;
  if (!fs::is_directory(directory, error)) return 0;
  for (const auto& item : fs::directory_iterator(directory, error)) {
    if (!item.is_regular_file(error) || !core::is_temporary_name(item.path().filename().string())) continue;
    if (fs::remove(item.path(), error)) ++removed;
  }
  return removed;
}

void prune_checkpoints(const std::string& directory, int keep) {
  std::vector<CheckpointEntry> entries = list_checkpoints(directory);
  const std::size_t keep_count = static_cast<std::size_t>(std::max(keep, 1));
  if (entries.size() <= keep_count) return;
  for (std::size_t i = 0; i + keep_count < entries.size(); ++i) {
    std::error_code error;
    fs::remove(entries[i].path, error);  // best.h5 is its own link: the best epoch survives pruning
  }
}

void replace_with_link(const std::string& target, const std::string& link_path) {
  const std::string temp = core::temporary_path(link_path);
  std::error_code error;
  fs::remove(temp, error);
  fs::create_hard_link(target, temp, error);
  if (error) {  // file systems without hard links: a copy
    error.clear();
    fs::copy_file(target, temp, fs::copy_options::overwrite_existing, error);
  }
  if (!error) fs::rename(temp, link_path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw core::RuntimeError(
        core::describe("cannot make '" + link_path + "' from '" + target + "' (" + error.message() + ")",
                       "the best-model checkpoint", "check the output directory"));
  }
}

namespace {

bool may_change_on_resume(const std::string& key) {
  // The stability guard's keys are remedies for a run that diverged (resume it
  // with more rollbacks, or with clipping), so they may change too; so may
  // the optimiser's sharding, which changes where the state is, not the result,
  // and the device (a run started on CPUs may go on on GPUs).
  return key == "train.epochs" || key == "train.keep_last" || key == "train.threads" || key == "train.data" ||
         key == "train.device" || key == "train.shard_optimizer" || key == "train.out" || key.rfind("run.", 0) == 0 ||
         key == "train.max_bad_batches" || key == "train.max_rollbacks" || key == "train.rollback_lr_factor" ||
         key == "train.clip_grad_norm" || key == "train.fault_injection";
}

bool same_value(const core::ConfigKey& key, const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (key.type == core::ValueType::real) {
    try {
      return std::stod(a) == std::stod(b);
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

}  // namespace

core::Config resume_config(const core::ConfigSchema& schema, const core::Config& given, const std::string& stored_ini) {
  std::map<std::string, std::string> stored;
  for (const auto& pair : core::parse_ini_text(stored_ini))
    if (schema.find(pair.key)) stored[pair.key] = pair.value;
  std::map<std::string, std::string> now;
  for (const auto& pair : core::parse_ini_text(given.to_ini())) now[pair.key] = pair.value;

  std::vector<core::ConfigOverride> merged;
  for (const core::ConfigKey& key : schema.keys()) {
    const auto from_checkpoint = stored.find(key.name);
    const bool explicit_now = given.source(key.name) != "default";
    if (explicit_now && may_change_on_resume(key.name)) {
      merged.push_back({key.name, now[key.name]});
      continue;
    }
    if (from_checkpoint == stored.end()) continue;  // a key newer than the checkpoint: its default
    if (explicit_now && !same_value(key, now[key.name], from_checkpoint->second))
      throw core::UsageError(core::describe(
          key.name + " is '" + now[key.name] + "' here but '" + from_checkpoint->second + "' in the checkpoint",
          "qvae train --resume",
          "a resumed run keeps its configuration (only train.epochs, train.keep_last, train.threads, train.device, "
          "train.data, train.out, run.* and the stability-guard keys may change); start a new run with another --out "
          "to "
          "change it"));
    merged.push_back({key.name, from_checkpoint->second});
  }
  return core::Config::resolve(schema, {}, merged);
}

}  // namespace qvae::train
