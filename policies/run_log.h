// What the training loop (trainer.cc) and the distillation loop (distill.cc) share: per-batch
// seeds, the epoch permutation, the history (EpochRecord) as JSON, train_log.csv, and the
// checkpoint directory with its train_state.json. Torch-free header.
//
// <out>/checkpoint/        policy.json + weights.pt (registry.h format), the loop's own files
//                          (optimizer.pt, ...) and train_state.json; replaced atomically
// <out>/train_log.csv      epoch, step, train_loss, valid_loss, [extra loss columns], lr,
//                          seconds, cpu_seconds, then the metrics (sorted by name)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/policy.h"
#include "policies/trainer.h"

namespace onedp {

// SplitMix64-mixed seed of a random stream (seed, a, b): batch i of epoch e uses
// StreamSeed(seed, e << 20, i), the epoch permutation StreamSeed(seed, 1, e).
uint64_t StreamSeed(uint64_t seed, uint64_t a, uint64_t b);
uint64_t BatchSeed(uint64_t seed, int epoch, int64_t batch);  // StreamSeed(seed, epoch << 20, batch)
// Fisher-Yates permutation of 0..n-1 with mt19937_64(seed) draws (portable).
std::vector<int64_t> Permutation(int64_t n, uint64_t seed);
// Optimiser steps per epoch of a loop over n samples: config.steps_per_epoch when set (the budget
// does not depend on the dataset's size), else ceil(n / batch_size) capped at
// config.max_batches_per_epoch when that is set.
int64_t BatchesPerEpoch(int64_t n, const LoopConfig& config);

// The batches of epoch `epoch` (1-based). Pass 0 is the permutation StreamSeed(seed, 1, epoch)
// cut into ceil(n / batch_size) batches (the last one short); an epoch of steps_per_epoch batches
// takes the first ones of that pass and, when the dataset has fewer, continues with passes
// p = 1, 2, ... over the permutations StreamSeed(seed, 1 + p, epoch), so each sample is seen
// once per pass and the batches depend only on (seed, epoch, steps_per_epoch, n, batch_size).
class EpochBatches {
 public:
  EpochBatches(int64_t n, const LoopConfig& config, int epoch);
  int64_t size() const { return batches_; }
  // The dataset indices of batch i (0 <= i < size()).
  std::vector<int64_t> Batch(int64_t i);

 private:
  int64_t n_, batches_, per_pass_;
  int batch_size_;
  uint64_t seed_;
  int epoch_;
  int64_t pass_ = -1;
  std::vector<int64_t> perm_;
};

nlohmann::json HistoryToJson(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> HistoryFromJson(const nlohmann::json& j);
// Rewrites train_log.csv from the whole history (write to .tmp, rename).
void WriteTrainLog(const std::vector<EpochRecord>& history, const std::string& path);

// CPU time used so far by this process (all threads).
double ProcessCpuSeconds();

// Started at the beginning of an epoch's batches: its wall clock and the process CPU time.
struct EpochTimer {
  std::chrono::steady_clock::time_point wall0 = std::chrono::steady_clock::now();
  double cpu0 = ProcessCpuSeconds();
};

// Ends an epoch: rec.seconds / rec.cpu_seconds = wall / CPU time since the timer started (the
// batches only), then callbacks.on_epoch's metrics, appends rec to *history and rewrites
// <out_dir>/train_log.csv. Returns whether a checkpoint is due (every `checkpoint_every` epochs and
// at the last epoch).
bool CloseEpoch(EpochRecord rec, const EpochTimer& timer, Policy& policy,
                const TrainCallbacks& callbacks, const std::string& out_dir, int checkpoint_every,
                int epochs, std::vector<EpochRecord>* history);

// The resumable state of a loop, kept in checkpoint/train_state.json.
struct LoopState {
  int epoch = 0;     // last finished epoch
  int64_t step = 0;  // optimiser steps
  std::vector<EpochRecord> history;
};

// Writes <out_dir>/checkpoint atomically: the policy files, then write_extra(dir) (the loop's
// optimiser state...), then train_state.json {"format", "epoch", "step", `key_name`: key,
// "history"}.
void WriteCheckpoint(const std::string& out_dir, const Policy& policy, const LoopState& state,
                     const std::string& key_name, const nlohmann::json& key,
                     const std::function<void(const std::string& dir)>& write_extra);
// If <out_dir>/checkpoint holds a train_state.json: checks that it was made by a policy with
// `policy`'s name, spec and config and with the same `key` (std::invalid_argument naming both
// otherwise), loads the policy weights, calls read_extra(dir) and returns true with *state set.
// Returns false when there is no checkpoint.
bool ReadCheckpoint(const std::string& out_dir, Policy& policy, const std::string& key_name,
                    const nlohmann::json& key, LoopState* state,
                    const std::function<void(const std::string& dir)>& read_extra);

}  // namespace onedp
