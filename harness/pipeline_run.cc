// Running a pipeline: executing its items stage by stage, waiting on other shards, then merging.

#include "harness/pipeline.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <ostream>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/collect.h"
#include "harness/pipeline_internal.h"
#include "harness/policy_jobs.h"
#include "harness/progress.h"
#include "harness/rollout.h"
#include "harness/run_info.h"
#include "policies/policy_info.h"
#include "policies/registry.h"
#include "policies/run_log.h"

namespace onedp {

using namespace pipeline_internal;

namespace {

namespace fs = std::filesystem;

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// What a train or distill item passes to the loop: preset, seed, dataset, run directory, device and
// in-training evaluations on the run's test episodes (`eval_every` 0: none).
void FillLoopOptions(const RunPlan& plan, const WorkItem& item, int eval_every, LoopOptions* l) {
  l->preset = plan.options.preset;
  l->seed = item.seed;
  l->dataset = plan.dataset;
  l->out = item.path;
  l->device = plan.options.device;
  l->eval_every = eval_every > 0 ? eval_every : -1;
  l->eval_episodes = plan.options.episodes;
  l->eval_sampler = FindPolicyInfo(item.policy).training_eval_sampler;
  l->workers = plan.options.workers;
  // The eval stage evaluates the final checkpoint with every sampler (the training one included)
  // on the same seeds, and the merge keeps those rows: an in-training evaluation there is redundant.
  l->eval_last_epoch = false;
}

}  // namespace

namespace pipeline_internal {

void MarkDone(const WorkItem& item, nlohmann::json extra) {
  extra["key"] = item.key;
  extra["label"] = item.label;
  WriteJsonAtomic(extra, DoneMarker(item));
}

TrainOptions TrainItemOptions(const RunPlan& plan, const WorkItem& item) {
  TrainOptions t;
  FillLoopOptions(plan, item, plan.preset.dp_eval_every, &t);
  t.task = plan.options.task;
  t.policy = item.policy;
  t.obs = plan.preset.obs;
  return t;
}

DistillOptions DistillItemOptions(const RunPlan& plan, const WorkItem& item) {
  DistillOptions d;
  FillLoopOptions(plan, item, plan.preset.distill_eval_every, &d);
  d.teacher = plan.items[item.source].path;
  d.method = item.policy;
  d.task = plan.options.task;
  d.epochs = item.epochs;
  return d;
}

int EvalBlockOptions(const RunPlan& plan, const WorkItem& item, const Policy& policy, RolloutOptions* ro) {
  const int nfe = policy.Nfe(SamplerSpec::Parse(item.sampler));
  const int table_nfe = FindPolicyInfo(item.policy).Nfe(item.sampler);
  if (nfe != table_nfe) {
    throw std::runtime_error("NFE of " + item.sampler + " is " + std::to_string(nfe) + ", the tables assume " +
                             std::to_string(table_nfe));
  }
  ro->episodes = item.block_count;
  ro->start_seed = 100000 + static_cast<uint64_t>(item.block_start);
  ro->num_envs = item.block_count;  // the batch is part of the item: the same numbers in any shard
  ro->workers = plan.options.workers;
  ro->max_steps = plan.preset.max_steps;
  ro->sample.sampler = SamplerSpec::Parse(item.sampler);
  return nfe;
}

WorkItem EvalBlockItem(const RunPlan& plan, int run_i, const std::string& sampler, int start, int count,
                       Stage stage) {
  const WorkItem& run = plan.items[run_i];
  WorkItem e;
  e.stage = stage;
  e.policy = run.policy;
  e.seed = run.seed;
  e.source = run_i;
  e.sampler = sampler;
  e.block_start = start;
  e.block_count = count;
  e.needs = {run_i};
  e.table = run.table;
  e.method = FindPolicyInfo(run.policy).MethodName(sampler);
  return e;
}

nlohmann::json EvalBlockMarker(const RunPlan& plan, const WorkItem& item, int nfe, const RolloutOptions& ro,
                               const RolloutReport& r, double t0, double cpu0) {
  return {{"nfe", nfe},
          {"epoch", ReadRunProgress(plan.items[item.source].path).epoch},
          {"success", r.success_rate},
          {"score", r.mean_score},
          {"episodes", static_cast<int>(r.episodes.size())},
          {"start_seed", ro.start_seed},
          {"device", plan.options.device},
          {"versions", AllVersions()},
          {"seconds", Now() - t0},
          {"cpu_seconds", ProcessCpuSeconds() - cpu0}};
}

}  // namespace pipeline_internal

namespace {

void RunItem(const RunPlan& plan, const WorkItem& item, std::ostream& log) {
  const RunOptions& o = plan.options;
  const double t0 = Now(), cpu0 = ProcessCpuSeconds();
  switch (item.stage) {
    case Stage::kCollect: {
      CollectOptions c;
      c.task = o.task;
      c.episodes = plan.preset.collect_episodes;
      c.out = item.path;
      c.images = plan.preset.obs == "image";
      c.workers = o.workers;
      if (!fs::path(item.path).parent_path().empty()) fs::create_directories(fs::path(item.path).parent_path());
      const CollectReport r = Collect(c);
      log << "collected " << r.kept << " demonstrations into " << item.path << " (" << r.seconds << " s)\n";
      return;
    }
    case Stage::kTrain: RunTrain(TrainItemOptions(plan, item), log); break;
    case Stage::kDistill: RunDistill(DistillItemOptions(plan, item), log); break;
    case Stage::kEval: {
      const WorkItem& run = plan.items[item.source];
      auto policy = LoadPolicy((fs::path(run.path) / "checkpoint").string(), o.device);
      RolloutOptions ro;
      const int nfe = EvalBlockOptions(plan, item, *policy, &ro);
      Progress progress(item.label, item.block_count);
      const RolloutReport r = RunRollouts(*policy, o.task, ro, [&](int done, int) { progress.Update(done); });
      progress.Finish();
      fs::create_directories(fs::path(item.path).parent_path());
      WriteRolloutCsv(r, item.path);
      MarkDone(item, EvalBlockMarker(plan, item, nfe, ro, r, t0, cpu0));
      return;
    }
    case Stage::kDynamic: RunDynamicItem(plan, item, log); return;
  }
  MarkDone(item, {{"seconds", Now() - t0}, {"versions", AllVersions()}});
}

}  // namespace

RunSummary RunPipeline(const RunOptions& options, std::ostream& out) {
  const RunPlan plan = PlanRun(options);
  const RunOptions& o = plan.options;
  RunSummary summary;
  std::vector<Stage> stages;
  if (o.stage == "all") {
    stages = {Stage::kCollect, Stage::kTrain, Stage::kDistill, Stage::kEval, Stage::kDynamic};
  } else if (o.stage != "merge") {
    for (Stage s : {Stage::kCollect, Stage::kTrain, Stage::kDistill, Stage::kEval, Stage::kDynamic}) {
      if (StageName(s) == o.stage) stages = {s};
    }
  }
  const auto selected = [&plan, &o](const WorkItem& item) {
    return o.only.empty() || item.stage == Stage::kCollect ||
           std::find(o.only.begin(), o.only.end(), RunNameOf(plan, item)) != o.only.end();
  };
  std::vector<int> mine;
  for (Stage s : stages) {
    for (int i : ShardItems(plan, s, o.shard, o.shards)) {
      if (selected(plan.items[i])) mine.push_back(i);
    }
  }
  out << "run " << o.task << " (" << o.preset << "), stage " << o.stage << ", shard " << o.shard << "/" << o.shards
      << ": " << mine.size() << " of " << plan.items.size() << " work items; runs in " << o.work << "/" << o.task
      << "/" << o.preset << ", results in " << plan.results << "\n";
  if (!o.adopt.empty()) AdoptRuns(plan, o.adopt, o.dry_run, out);
  if (o.dry_run) {
    for (int i : mine) {
      out << (ItemDone(plan.items[i]) ? "  done  " : "  to do ") << plan.items[i].label << "  (" << plan.items[i].path
          << ")\n";
    }
    return summary;
  }
  // Another shard's prerequisite is waited for only when this process runs every stage.
  const double wait = o.stage == "all" && o.shards > 1 ? o.wait_seconds : 0;
  Progress progress("run " + o.task + " " + o.preset, static_cast<int64_t>(mine.size()));
  int64_t finished = 0;
  const auto unmet = [&plan](const WorkItem& item) {  // its first prerequisite not done, or -1
    for (int need : item.needs) {
      if (!ItemDone(plan.items[need])) return need;
    }
    return -1;
  };
  // A single stage runs every item whose prerequisites are done and fails at the end naming the
  // others (no item of a stage needs another of the same stage).
  std::vector<std::string> blocked;
  std::set<std::string> blocking_stages;
  std::vector<size_t> pending;  // positions in `mine`
  for (size_t k = 0; k < mine.size(); ++k) {
    const WorkItem& item = plan.items[mine[k]];
    if (ItemDone(item)) {
      ++summary.skipped;
      progress.Update(++finished);
    } else if (const int need = unmet(item); o.stage != "all" && need >= 0) {
      blocked.push_back("'" + item.label + "' (needs '" + plan.items[need].label + "')");
      blocking_stages.insert("--stage " + StageName(plan.items[need].stage));
      progress.Update(++finished);
    } else {
      pending.push_back(k);
    }
  }
  // Stage all: the first item (in grid order) whose prerequisites are done runs next, so a shard
  // works on while another shard computes what one of its items needs; when none is ready it
  // waits, up to `wait` seconds without progress.
  double since = Now();
  std::string waiting_for;
  while (!pending.empty()) {
    const auto next = std::find_if(pending.begin(), pending.end(),
                                   [&](size_t k) { return unmet(plan.items[mine[k]]) < 0; });
    if (next == pending.end()) {
      const WorkItem& need = plan.items[unmet(plan.items[mine[pending.front()]])];
      if (StopRequested()) throw std::runtime_error("interrupted while waiting for " + need.label);
      if (!selected(need)) {
        throw std::runtime_error("'" + need.label + "' is not done and --only leaves it out: add --only " +
                                 RunNameOf(plan, need));
      }
      if (Now() - since >= wait) {
        throw std::runtime_error("'" + need.label + "' is not done (" + DoneMarker(need) +
                                 "): run its stage first (harness run --stage " + StageName(need.stage) + ")");
      }
      if (need.label != waiting_for) {
        out << "waiting for '" << need.label << "' (another shard)\n";
        waiting_for = need.label;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    const size_t k = *next;
    pending.erase(next);
    const WorkItem& item = plan.items[mine[k]];
    out << "[" << k + 1 << "/" << mine.size() << "] " << item.label << "\n";
    RunItem(plan, item, out);
    ++summary.ran;
    since = Now();
    waiting_for.clear();
    if (StopRequested()) throw std::runtime_error("interrupted; rerun the same command to resume");
    progress.Update(++finished);
  }
  progress.Finish();
  out << "ran " << summary.ran << " items, skipped " << summary.skipped << " already done\n";
  if (!blocked.empty()) {
    std::string list, stages_text;
    for (const auto& b : blocked) list += "\n  " + b;
    for (const auto& st : blocking_stages) stages_text += (stages_text.empty() ? "" : ", ") + st;
    throw std::runtime_error(std::to_string(blocked.size()) + " items of stage " + o.stage +
                             " wait for unfinished prerequisites (the others ran); run harness run " + stages_text +
                             " first:" + list);
  }
  if (o.stage == "all" || o.stage == "merge") MergeRun(plan, out);
  return summary;
}

}  // namespace onedp
