// The one training loop every policy trained from demonstrations uses (DP-DDPM, DP-EDM, ...).
// Torch-free header.
//
//   for epoch: shuffle (seed, epoch) -> batches of batch_size -> policy loss -> AdamW step with
//   DP's cosine schedule and warm-up -> EMA update; after each epoch: validation loss, the
//   caller's on_epoch hook (rollout evaluation), the log; every checkpoint_every epochs (and at
//   the end) a checkpoint.
//
// Output directory:
//   checkpoint/            the policy (registry.h format) + optimizer.pt + train_state.json,
//                          replaced atomically; a new Train() on the same directory resumes here
//   train_log.csv          one row per epoch: epoch, step, train_loss, valid_loss, lr, seconds,
//                          then the hook's metrics (e.g. success, score, eval_seconds)
// Every random draw of epoch e, batch i comes from a generator seeded with (seed, e, i), so a run
// resumed from a checkpoint follows the same loss trajectory as an uninterrupted one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/policy.h"

namespace onedp {

// The fields every optimisation loop has (training here, distillation in distill.h).
struct LoopConfig {
  int epochs = 100;
  int batch_size = 64;
  int checkpoint_every = 10;          // epochs
  int64_t max_batches_per_epoch = 0;  // 0: the whole dataset each epoch
  // Exactly this many optimiser steps per epoch whatever the dataset's size (0: one pass, above);
  // with it the budget epochs x steps_per_epoch is the same for every task (run_log.h EpochBatches).
  int64_t steps_per_epoch = 0;
  uint64_t seed = 0;
  std::string device = "cpu";

 protected:
  void ValidateLoop(const std::string& what) const;  // throws std::invalid_argument
  void LoopToJson(nlohmann::json* j) const;           // adds these fields
  void LoopFromJson(const nlohmann::json& j);         // reads them (missing: unchanged)
};

struct TrainConfig : LoopConfig {
  double lr = 1e-4;
  double beta1 = 0.95, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-6;
  int warmup_steps = 500;
  int64_t valid_batches = 8;    // validation batches per epoch (0: none)

  void Validate() const;
  nlohmann::json ToJson() const;
  static TrainConfig FromJson(const nlohmann::json& j);
};

struct Preset;
// The training loop of a preset's `train` section (policies/preset.h): TrainConfig's defaults with
// the section's fields; *eval_every = its eval_every (epochs between in-training rollouts, 0:
// none). Throws std::invalid_argument naming an unknown field and listing the valid ones.
TrainConfig TrainPresetConfig(const Preset& preset, int* eval_every);

// Random access to training sequences.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t size() const = 0;
  virtual void Get(const std::vector<int64_t>& indices, TrainBatch* out) const = 0;
};

struct EpochRecord {
  int epoch = 0;  // 1-based
  int64_t step = 0;  // optimiser steps so far
  double train_loss = 0, valid_loss = 0, lr = 0, seconds = 0;
  // Process CPU time of the epoch's batches: unlike `seconds` it does not grow while other jobs
  // hold the cores, so it is the cost to compare on a shared machine (one torch thread: single-core
  // time; more threads: their sum). 0 in histories written before it was recorded.
  double cpu_seconds = 0;
  // Further loss columns (e.g. distillation's score-network loss), logged after valid_loss.
  nlohmann::json losses = nlohmann::json::object();
  nlohmann::json metrics = nlohmann::json::object();  // from on_epoch
};

struct TrainCallbacks {
  // Once, before the first optimiser step of this call: `first_step` steps are already done (a
  // resumed checkpoint's; 0 for a fresh run), so a progress display counts its rate from here.
  std::function<void(int64_t first_step, int64_t total_steps)> on_start;
  // After every optimiser step (for progress display).
  std::function<void(int64_t step, int64_t total_steps, double loss)> on_step;
  // After every epoch, with the policy (its PredictChunk uses the EMA weights); returns metrics
  // to log for this epoch (an object; may be empty).
  std::function<nlohmann::json(int epoch, Policy& policy)> on_epoch;
  // Polled between batches; true stops training at once. The weights then hold part of an
  // epoch, so nothing more is saved: a new Train() resumes from the last checkpoint.
  std::function<bool()> should_stop;
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int resumed_from_epoch = 0;  // 0: a fresh run
  bool stopped = false;        // should_stop ended it early
};

// Trains `policy` (from CreatePolicy) on `train`. If `out_dir`/checkpoint exists, its weights,
// optimiser state and history are loaded first and training continues after its epoch; a
// checkpoint made with another policy config or train config is refused with an error.
TrainResult Train(Policy& policy, const BatchSource& train, const BatchSource* valid,
                  const TrainConfig& config, const std::string& out_dir,
                  const TrainCallbacks& callbacks = {});

// DP's learning-rate schedule (diffusers cosine with warm-up), stepped per batch.
double CosineWarmupLr(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

}  // namespace onedp
