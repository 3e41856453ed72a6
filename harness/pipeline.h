// `harness run`, `harness merge` and `harness table`: the benchmark pipeline of one task, from
// demonstrations to the paper's tables. Torch-free header.
//
// The work of a run is a fixed, ordered grid of items in four stages:
//   collect  the dataset, when the file is missing (scripted experts, `harness collect`)
//   train    dp-ddpm and dp-edm per training seed
//   distill  per training seed: onedp-s and onedp-d from both teachers, cp (the preset's 20
//            epochs) and cp at its long schedule from the dp-edm teacher
//   eval     per trained or distilled run x sampler x block of test episodes: the final
//            checkpoint rolled out on test seeds 100000 + [block start, block end)
//   dynamic  (when the preset has a `dynamic` section) per run x sampler x condition x block: the
//            same rollouts under the preset's latency model (each method at its own latency),
//            per execution mode, without and with each perturbation the task declares, and a
//            fixed-delay sweep (d = multiples of the chunk length) (harness/latency.h)
// plus, in the merge, the latency benchmark. Every item is named by a key: the hash of its inputs
// (task, preset, resolved policy / distillation configs, seed, dataset, its prerequisites' keys).
// Its directory or file carries the key, so a changed config field makes new items and never
// touches the old ones; an item whose done marker holds its key is skipped. A killed run resumes
// where it stopped: finished items are skipped, and the item in flight resumes from its last
// checkpoint (train / distill) or reruns (one eval block).
//
// Sharding: `shard i/N` runs the items j of each stage with j mod N = i (the grid does not depend
// on N, so the union of the shards is exactly the unsharded grid and every item computes the same
// numbers wherever it runs). With stage "all", a shard waits for prerequisites another shard is
// still computing. The merge reads every item's outputs and writes, under results/<task>/<preset>:
//   evals.csv        one row per method x sampler x training seed x evaluated checkpoint (tables.h),
//                    with seeds, config hash, git commit, device and library versions
//   table1.{md,csv}, table2.{md,csv}   peak over checkpoints and final checkpoint
//   convergence.{csv,png}              success (PushT: score) vs epoch of OneDP and CP (Figure 4)
//   latency.{md,csv}                   encoder, DDPM-100, DDIM-10, OneDP 1 NFE (Table 5), device named
//   cost.{md,csv}                      per run: wall and CPU time of its optimiser steps, in-training
//                                      evaluations, eval and dynamic blocks, core-hours; the task's total
//   dynamic.{md,csv,png}               the dynamic stage: method x condition (95 % intervals, Avg),
//                                      success vs delay from the sweep, its cost beside the static eval's
//   README.md                          what ran, at what scale, with which command
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "harness/run_preset.h"

namespace onedp {

struct RunOptions {
  std::string task;
  std::string preset = "cpu";  // a preset name or file (policies/preset.h, harness/run_preset.h)
  std::string work = "runs";  // run directories: <work>/<task>/<preset name>/...
  std::string results;        // default results/<task>/<preset>
  std::string dataset;        // default data/<task>.hdf5 (collected when missing)
  std::vector<uint64_t> train_seeds;  // empty: the preset's
  int episodes = 0;                   // 0: the preset's
  int episode_block = 0;              // 0: the preset's
  std::string stage = "all";          // collect | train | distill | eval | dynamic | merge | all
  int shard = 0, shards = 1;
  std::string device = "cpu";
  int workers = 0;               // env threads of evaluations (0: one per core)
  double wait_seconds = 86400;   // stage "all" with shards: how long to wait for another shard
  bool dry_run = false;          // print this shard's items and whether each is done; run nothing
  // Existing train / distill run directories (e.g. from `harness train`) to take as this grid's
  // items instead of recomputing them: each must match an item's computation (see AdoptRuns).
  std::vector<std::string> adopt;
  // Only these runs, named as their directories without the key ("dp-edm-seed0",
  // "cp-long-from-dp-edm-seed0"), with their eval and dynamic blocks (and the dataset); empty: every
  // run. A selected item whose prerequisite is left out and not done is an error.
  std::vector<std::string> only;
};

// Parses "i/N" (0 <= i < N); throws std::invalid_argument.
void ParseShard(const std::string& text, int* shard, int* shards);

enum class Stage { kCollect, kTrain, kDistill, kEval, kDynamic };

struct WorkItem {
  Stage stage = Stage::kTrain;
  std::string label;  // "train dp-ddpm seed0", "eval onedp-s-from-dp-ddpm seed0 onestep 0-25"
  std::string key;    // 16 hex digits
  std::string path;   // run directory (train, distill), per-episode CSV (eval, dynamic), dataset (collect)
  std::vector<int> needs;  // indices of prerequisite items
  // train: policy; distill: method (onedp-s | onedp-d | cp) and teacher item; eval: run item
  std::string policy;
  int source = -1;
  uint64_t seed = 0;
  int epochs = 0;     // distill: the schedule's epochs (0: preset's)
  std::string sampler;
  int block_start = 0, block_count = 0;
  // dynamic: the condition (a --latency value, exec mode, perturbation or empty); a sweep item has
  // delay_multiple >= 0 (d = round(delay_multiple x Ta) steps) and no latency.
  std::string latency, exec, perturbation;
  double delay_multiple = -1;
  // For the tables: which table and row a run feeds.
  std::string table, method;
};

struct RunPlan {
  RunOptions options;  // with the preset's defaults filled in
  RunPreset preset;
  std::string dataset, results;
  std::vector<WorkItem> items;  // stage order; within a stage a fixed order
};

// The work grid (no side effects). Throws std::invalid_argument for unknown tasks / presets /
// stages, a bad shard or a non-positive block.
RunPlan PlanRun(const RunOptions& options);
// Indices of the items of `stage` that belong to shard i of N.
std::vector<int> ShardItems(const RunPlan& plan, Stage stage, int shard, int shards);
// Whether an item's done marker holds its key.
bool ItemDone(const WorkItem& item);

// Takes existing run directories as work items. A directory is adopted by the train / distill item
// whose computation it repeats: the same run.json inputs (task, dataset, preset, seed, spec,
// policy / method and loop configs; distill: the same teacher config hash as the item's teacher)
// and a finished checkpoint. Fields that do not change the weights (in-training evaluation
// cadence, device, teacher path, versions) may differ; they are listed in the item's done marker
// with `adopted_from`. The directory is copied into the item's (the source is left as it is).
// Distillations need their teacher item done first (adopted or trained); train directories are
// taken first. Already-done items are skipped. Throws std::invalid_argument when a directory
// matches no item, naming the closest item's differing fields. Returns the number adopted
// (`dry_run`: that would be).
int AdoptRuns(const RunPlan& plan, const std::vector<std::string>& dirs, bool dry_run, std::ostream& out);

struct RunSummary {
  int ran = 0, skipped = 0;
};

// Runs the stages of options.stage for its shard, then (stage all or merge) the merge. A single
// stage runs every item whose prerequisites are done, then throws std::runtime_error naming the
// items left waiting and the stages to run first; stage all waits for other shards instead.
// Progress on stderr, a summary on `out`.
RunSummary RunPipeline(const RunOptions& options, std::ostream& out);
// The merge alone: evals.csv, tables, convergence, latency, cost and dynamic from the items' outputs.
// Items without outputs leave their cells missing ("-") and are listed on `out`.
void MergeRun(const RunPlan& plan, std::ostream& out);

// `harness table`: the six-column tables from several tasks' evals.csv
// (<results>/<task>/<preset>/evals.csv), written to <out>/table{1,2}_{peak,final}.{md,csv}.
struct TableOptions {
  std::vector<std::string> tasks;
  // Several presets put each task's results of each side by side (columns "task@preset");
  // the paper's column of a task is compared with each of them.
  std::vector<std::string> presets = {"cpu"};
  std::string results = "results";
  std::string out;  // default <results>/<presets joined by '+'>
};
void RunTables(const TableOptions& options, std::ostream& out);

}  // namespace onedp
