// `harness train`, `harness distill`, `harness eval` and `harness bench policy`: the jobs that bind
// a task's dataset and environments to a policy. Torch-free header (the policies library holds
// the tensors). A distillation run directory has the same layout (see DistillOptions).
//
// A training run directory (default runs/<task>/<policy>/seed<S>):
//   run.json         task, dataset, obs mode, action key, policy, preset, seeds, the resolved
//                    policy and train configs, their hash, versions and git commit
//   checkpoint/      the latest checkpoint (policy + optimiser + history); training resumes here
//   train_log.csv    per epoch: losses, lr, seconds and, every eval_every epochs, the rollout
//                    success / score of the EMA policy (the convergence curve)
//   eval_epoch<E>.csv  per-episode results of those rollouts
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/sequence_dataset.h"
#include "policies/policy.h"
#include "tasks/task.h"

namespace onedp {

// The policy's data contract on `task`: the inputs the task lists for `obs_mode` ("image":
// cameras + proprioception, DP's hybrid image policy; "lowdim": object state + proprioception)
// with their shapes, the task's action normalisation and DP's crop for its image size. The actions
// a policy trains on are the dataset's task.info.action_key.
PolicySpec PolicySpecForTask(const TaskSpec& task, const std::string& obs_mode);
// data/<task with '-' as '_'>.hdf5, where `harness collect` examples write.
std::string DefaultDatasetPath(const std::string& task_name);

// The saved policy directory and run.json (if any) behind a --ckpt argument: a run directory (its
// checkpoint/) or a saved policy directory (run.json read from its parent when there is one).
// Throws std::invalid_argument naming `option` otherwise.
struct ResolvedCkpt {
  std::filesystem::path policy_dir;
  nlohmann::json run;  // null when the policy has no run.json next to it
};
ResolvedCkpt ResolveCkpt(const std::string& ckpt, const std::string& option = "--ckpt");
// The training windows of `dataset` (split `filter`) for a policy with `spec` on `task`.
SequenceDatasetOptions SequenceOptions(const std::string& dataset, const std::string& filter, const TaskInfo& task,
                                       const PolicySpec& spec);

// What `harness train` and `harness distill` share on the command line.
struct LoopOptions {
  std::string preset = "cpu";
  uint64_t seed = 0;
  std::string dataset;  // train: default DefaultDatasetPath(task); distill: the teacher run's
  std::string out;      // the run directory (defaults below)
  std::string device = "cpu";
  // Overrides of the preset (0 / empty: the preset's value).
  int epochs = 0;
  int batch_size = 0;
  int64_t max_batches_per_epoch = 0;
  int checkpoint_every = 0;
  int eval_every = 0;        // epochs between rollout evaluations; < 0 disables them
  int eval_episodes = 0;
  // Also evaluate after the last epoch when it is not a multiple of eval_every. `harness run` turns
  // it off: its eval stage rolls out the final checkpoint with every sampler on the same test
  // seeds, and those rows replace the in-training row of that checkpoint.
  bool eval_last_epoch = true;
  std::string eval_sampler;  // default: the policy's default sampler
  int workers = 0;           // env threads for evaluation rollouts
  // "path=value" overrides applied after the preset: "train.lr=3e-4" sets a field of the loop
  // config (TrainConfig / DistillConfig), any other path a field of the policy config
  // ("unet.down_dims=[32,64,128]"; distill: "onedp.lr_generator=1e-5", "cp.dropout=0.1"). The
  // value is parsed as JSON (a bare word is a string); the path must name an existing field.
  std::vector<std::string> overrides;
};

// Run directory default runs/<task>/<policy>/seed<seed>.
struct TrainOptions : LoopOptions {
  std::string task;
  std::string policy = "dp-ddpm";
  std::string obs;  // image | lowdim; empty: the preset's (cpu: lowdim, otherwise image)
};

// `harness distill`: a trained dp-* run (or saved policy) distilled into onedp-s, onedp-d or cp.
// Run directory (default runs/<task>/<method>/seed<S>-from-<teacher policy>-seed<T>, T the
// teacher's training seed): run.json (task, dataset, teacher dir, teacher policy and config hash,
// method config, distill config, config hash, versions, teacher_train_seconds and, when done,
// distill_seconds: cost relative to the teacher's pre-training), checkpoint/, train_log.csv
// (train_loss = the generator / CP loss; score_loss, gap, ctm_loss, dsm_loss columns; rollout
// success every eval_every epochs), eval_epoch<E>.csv.
struct DistillOptions : LoopOptions {
  std::string teacher;  // a training run directory or a saved policy directory
  std::string method = "onedp-s";
  std::string task;     // default: the teacher run's
  // Save the warm-started student as <run>/warm_start and evaluate it (eval_epoch0.csv) before
  // the first step. Changes no weights, so it is not part of the run's identity.
  bool eval_warm_start = false;
};

// Applies one "a.b.c=value" override to `config`; throws std::invalid_argument naming the valid
// fields when the path does not exist.
// `shown_prefix` is prepended to field names in messages (e.g. "train.").
void ApplyConfigOverride(nlohmann::json& config, const std::string& path, const std::string& value,
                         const std::string& shown_prefix = "");

struct EvalOptions {
  std::string ckpt;  // a run directory or a saved policy directory
  std::string task;  // default: the run's task
  std::string sampler;
  int episodes = 100;
  uint64_t start_seed = 100000;
  int num_envs = 0;
  int workers = 0;
  std::string device = "cpu";
  std::string out;  // per-episode CSV (default <run>/eval_<sampler>.csv)
  // Latency-aware evaluation (harness/latency.h): a --latency model and an --exec mode.
  std::string latency = "none";
  std::string exec = "sync";
  std::string perturb;  // a perturbation the task declares ("move", "reset"); empty: none
  // Recorded rollouts (harness/rollout.h RecordedRollout, for `viewer --rollout`):
  // <record>/episode_<seed>.hdf5 for every episode (the first record_episodes if >= 0).
  std::string record;
  int record_episodes = -1;
  // Headless MP4s of the first video_episodes episodes: <video>/episode_<seed>.mp4.
  std::string video;
  int video_episodes = 5;
  int video_size = 256;
};

// Networks with fresh (random) weights for the benchmarks that need no trained run: a policy of
// the preset's networks on the task's observations (identity normalisation), with overrides.
// Speed does not depend on the weights.
struct BenchNetOptions {
  std::string task;
  std::string preset = "cpu";
  std::string policy = "dp-ddpm";
  std::string obs;                     // image | lowdim; empty: the preset's
  std::vector<std::string> overrides;  // "path=value" on the policy config (as LoopOptions)
  uint64_t seed = 0;
};
std::unique_ptr<Policy> FreshPolicyForBench(const BenchNetOptions& options);

struct BenchPolicyOptions {
  std::string ckpt;  // a trained run or saved policy; empty: `net` (fresh weights)
  BenchNetOptions net;
  std::string device = "cpu";
  int repeats = 5;  // timed calls per configuration (after one warm-up call)
  std::vector<std::string> samplers;  // default: the policy's samplers
  // Also write the table as JSON here, with the device profile a latency-aware evaluation reads
  // (`--latency profile:PATH`): encoder_ms and network_ms (see RunBenchPolicy).
  std::string json;
};

// Batch-1 latency of a policy's samplers (median of `repeats` calls after a warm-up).
struct LatencyRow {
  std::string label;    // "<policy> <sampler>"
  std::string policy, sampler;
  int nfe = 0;
  double encode_ms = 0, sample_ms = 0;
  double total_ms() const { return encode_ms + sample_ms; }
  double hz() const { return 1e3 / total_ms(); }
};
struct LatencyReport {
  std::string policy, device;
  int repeats = 0;
  int64_t parameters = 0, encoder_parameters = 0, unet_parameters = 0;
  std::vector<LatencyRow> rows;
};
LatencyReport BenchPolicy(const BenchPolicyOptions& options);

// `harness bench train`: wall time of one optimiser step (forward, backward, AdamW, EMA) of a DP
// with fresh weights on synthetic batches of the policy's shapes, or with `method` one step of a
// distillation (onedp-s, onedp-d, cp) from such a DP as teacher. `warmup` steps are run first and
// not timed; the step times go to `out` and, with `json`, to a file.
struct BenchTrainOptions {
  BenchNetOptions net;
  std::string method;  // empty: DP training; onedp-s | onedp-d | cp: distillation
  int batch_size = 0;  // 0: the preset's
  int steps = 10;
  int warmup = 2;
  std::string json;
  std::string save;  // also save the trained policy (the student with --method) here, for `eval --ckpt`
};
int RunBenchTrain(const BenchTrainOptions& options, std::ostream& out);

// Each returns 0; throws std::invalid_argument for bad input, std::runtime_error otherwise.
// Progress goes to stderr, the summary to `out`.
// What the run.json of a train / distill run with these options says of its inputs (task, dataset,
// preset, seed, spec, resolved policy / method and loop configs, eval cadence; distill: teacher
// dir, policy and config hash), without loading data or training. `harness run --adopt` compares
// it with an existing run's. Throws as RunTrain / RunDistill do for bad options.
// Wall and process CPU time of a set of timed blocks of work (evaluations), each block's CPU time
// where it recorded one (blocks written before CPU time was recorded have wall time only).
struct BlockTimes {
  int count = 0;
  int without_cpu = 0;             // blocks that recorded wall time only
  double seconds = 0;              // wall, all blocks
  double cpu_seconds = 0;          // CPU, the blocks that recorded it
  double wall_only_seconds = 0;    // wall, the blocks that did not
  // One block: `cpu` < 0 when it recorded no CPU time.
  void Add(double wall, double cpu);
  void Add(const BlockTimes& other);
  bool AllCpu() const { return without_cpu == 0; }
  // CPU time, with wall time standing in for the blocks that recorded none.
  double CoreSeconds() const { return cpu_seconds + wall_only_seconds; }
};

// Last finished epoch and summed per-epoch wall / CPU seconds of a checkpoint directory's
// train_state.json (zeros when there is none; cpu_seconds 0 for histories from before it was
// recorded): the optimiser steps only. `evals` are its in-training evaluations (the epochs whose
// metrics hold eval_seconds, and eval_cpu_seconds where recorded).
struct RunProgress {
  int epoch = 0;
  double seconds = 0, cpu_seconds = 0;
  BlockTimes evals;
};
RunProgress ReadCheckpointProgress(const std::string& checkpoint_dir);

nlohmann::json TrainRunIdentity(const TrainOptions& options);
nlohmann::json DistillRunIdentity(const DistillOptions& options);
int RunTrain(const TrainOptions& options, std::ostream& out);
int RunDistill(const DistillOptions& options, std::ostream& out);
int RunEval(const EvalOptions& options, std::ostream& out);
int RunBenchPolicy(const BenchPolicyOptions& options, std::ostream& out);

}  // namespace onedp
