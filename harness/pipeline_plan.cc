// Planning a pipeline run: presets, the work grid and its keys, shards, done markers.

#include "harness/pipeline.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "harness/pipeline_internal.h"
#include "harness/policy_jobs.h"
#include "harness/run_info.h"
#include "harness/tables.h"
#include "policies/distill.h"
#include "policies/policy_info.h"
#include "policies/registry.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// Bump when the meaning of a stage changes without any config field changing.
constexpr int kRecipe = 1;

const std::vector<std::string> kStages = {"collect", "train", "distill", "eval", "dynamic", "merge", "all"};

std::string Short(const std::string& key) { return key.substr(0, 8); }

// The cells of a CSV line, with RFC 4180 quotes (WriteRolloutCsv quotes errors and details).
std::vector<std::string> SplitQuoted(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace

namespace pipeline_internal {

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string Fixed(double v, int digits) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(digits) << v;
  return o.str();
}

bool EpisodeCsv::Has(const std::string& column) const {
  return std::find(header.begin(), header.end(), column) != header.end();
}

EpisodeCsv ReadEpisodeCsv(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  EpisodeCsv csv;
  std::string line;
  std::getline(f, line);
  csv.header = SplitQuoted(line);
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> v = SplitQuoted(line);
    if (v.size() < csv.header.size()) throw std::runtime_error(path + ": short line '" + line + "'");
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < csv.header.size(); ++i) row[csv.header[i]] = v[i];
    csv.rows.push_back(std::move(row));
  }
  return csv;
}

std::vector<std::map<std::string, std::string>> CsvRowsByHeader(const std::string& path) {
  std::vector<std::map<std::string, std::string>> out;
  std::ifstream f(path);
  std::string line;
  if (!std::getline(f, line)) return out;
  const std::vector<std::string> header = SplitCsv(line);
  while (std::getline(f, line)) {
    const std::vector<std::string> cells = SplitCsv(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    out.push_back(std::move(row));
  }
  return out;
}

std::string StageName(Stage s) {
  switch (s) {
    case Stage::kCollect: return "collect";
    case Stage::kTrain: return "train";
    case Stage::kDistill: return "distill";
    case Stage::kEval: return "eval";
    case Stage::kDynamic: return "dynamic";
  }
  return "?";
}

std::string RunNameOf(const RunPlan& plan, const WorkItem& item) {
  if (item.stage == Stage::kCollect) return "";
  const WorkItem& run = item.stage == Stage::kEval || item.stage == Stage::kDynamic ? plan.items[item.source] : item;
  const std::string dir = fs::path(run.path).filename().string();
  return dir.substr(0, dir.size() - Short(run.key).size() - 1);  // drop "-<key8>"
}

std::string DoneMarker(const WorkItem& item) {
  switch (item.stage) {
    case Stage::kTrain:
    case Stage::kDistill: return (fs::path(item.path) / "done.json").string();
    case Stage::kEval:
    case Stage::kDynamic: return item.path + ".json";
    case Stage::kCollect: return item.path;
  }
  return item.path;
}

nlohmann::json AllVersions() {
  nlohmann::json v = RunVersions();
  v["torch"] = TorchVersion();
  return v;
}

// Final epoch and summed per-epoch seconds of a run directory's latest checkpoint.
RunProgress ReadRunProgress(const std::string& run_dir) {
  return ReadCheckpointProgress((fs::path(run_dir) / "checkpoint").string());
}

}  // namespace pipeline_internal

using namespace pipeline_internal;

namespace {

// A loop config as it enters an item's key: what changes the computation (not seed, device or the
// method, which the key holds elsewhere, nor the NaN test hook).
nlohmann::json LoopKey(nlohmann::json loop) {
  for (const char* k : {"seed", "device", "method", "nan_at_step"}) loop.erase(k);
  return loop;
}

}  // namespace

void ParseShard(const std::string& text, int* shard, int* shards) {
  const size_t slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("");
    size_t used_i = 0, used_n = 0;
    const int i = std::stoi(text.substr(0, slash), &used_i);
    const int n = std::stoi(text.substr(slash + 1), &used_n);
    if (used_i != slash || used_n != text.size() - slash - 1 || n < 1 || i < 0 || i >= n) {
      throw std::invalid_argument("");
    }
    *shard = i;
    *shards = n;
  } catch (const std::logic_error&) {
    throw std::invalid_argument("--shard expects i/N with 0 <= i < N, got '" + text + "'");
  }
}

RunPlan PlanRun(const RunOptions& options) {
  RunPlan plan;
  plan.options = options;
  RunOptions& o = plan.options;
  const TaskEntry& entry = FindTask(o.task);  // unknown names list the valid ones
  o.task = entry.name;
  plan.preset = RunPresetFor(o.preset, o.task);
  if (std::find(kStages.begin(), kStages.end(), o.stage) == kStages.end()) {
    throw std::invalid_argument("unknown stage '" + o.stage + "'; valid: " + Join(kStages, ", "));
  }
  if (o.shards < 1 || o.shard < 0 || o.shard >= o.shards) throw std::invalid_argument("bad shard");
  if (o.train_seeds.empty()) o.train_seeds = plan.preset.train_seeds;
  if (o.episodes <= 0) o.episodes = plan.preset.episodes;
  if (o.episode_block <= 0) o.episode_block = std::min(plan.preset.episode_block, o.episodes);
  plan.dataset = o.dataset.empty() ? DefaultDatasetPath(o.task) : o.dataset;
  plan.results = o.results.empty() ? (fs::path("results") / o.task / plan.preset.name).string() : o.results;
  const fs::path root = fs::path(o.work) / o.task / plan.preset.name;
  const std::string dataset_abs = fs::absolute(plan.dataset).lexically_normal().string();

  auto add = [&plan](WorkItem item, const nlohmann::json& inputs) {
    item.key = ConfigHash(inputs);
    plan.items.push_back(std::move(item));
    return static_cast<int>(plan.items.size()) - 1;
  };

  WorkItem collect;
  collect.stage = Stage::kCollect;
  collect.label = "collect " + o.task;
  collect.path = plan.dataset;
  const int collect_i = add(collect, {{"stage", "collect"}, {"task", o.task}, {"dataset", dataset_abs}});

  int unused_every = 0;
  const TrainConfig train_loop = TrainPresetConfig(LoadPreset(o.preset), &unused_every);
  const DistillConfig distill_loop = DistillPresetConfig(LoadPreset(o.preset), &unused_every);

  // train: every trained (not distilled) policy, per training seed.
  std::map<std::pair<std::string, uint64_t>, int> teachers;
  for (uint64_t seed : o.train_seeds) {
    for (const PolicyInfo& info : RegisteredPolicies()) {
      if (info.distilled()) continue;
      const std::string& policy = info.name;
      WorkItem t;
      t.stage = Stage::kTrain;
      t.policy = policy;
      t.seed = seed;
      t.needs = {collect_i};
      t.table = info.table;
      const nlohmann::json inputs = {{"recipe", kRecipe},
                                     {"stage", "train"},
                                     {"task", o.task},
                                     {"preset", plan.preset.name},
                                     {"policy", policy},
                                     {"policy_config", PresetConfig(policy, o.preset)},
                                     {"train_config", LoopKey(train_loop.ToJson())},
                                     {"obs", plan.preset.obs},
                                     {"seed", seed},
                                     {"dataset", dataset_abs},
                                     {"eval", {{"every", plan.preset.dp_eval_every},
                                               {"episodes", o.episodes},
                                               {"sampler", info.training_eval_sampler}}}};
      t.key = ConfigHash(inputs);
      t.label = "train " + policy + " seed" + std::to_string(seed);
      t.path = (root / (policy + "-seed" + std::to_string(seed) + "-" + Short(t.key))).string();
      teachers[{policy, seed}] = add(t, inputs);
    }
  }

  // distill: the benchmark's distillations (policies/policy_info.h), per training seed.
  std::vector<int> runs;
  for (uint64_t seed : o.train_seeds) {
    for (const PolicyInfo& info : RegisteredPolicies()) {
      if (!info.distilled()) runs.push_back(teachers.at({info.name, seed}));
    }
  }
  for (uint64_t seed : o.train_seeds) {
    for (const Distillation& job : BenchmarkDistillations()) {
      const int epochs = job.long_schedule ? plan.preset.long_epochs : plan.preset.distill_epochs;
      if (epochs < 1) {
        throw std::invalid_argument("preset " + plan.preset.name + " sets no distill.long_epochs for the " +
                                    job.method + " long schedule");
      }
      DistillConfig dc = distill_loop;
      dc.method = job.method;
      dc.epochs = epochs;
      const int teacher_i = teachers.at({job.teacher, seed});
      WorkItem d;
      d.stage = Stage::kDistill;
      d.policy = job.method;
      d.seed = seed;
      d.source = teacher_i;
      d.epochs = epochs;
      d.needs = {teacher_i};
      d.table = FindPolicyInfo(job.teacher).table;
      const nlohmann::json inputs = {{"recipe", kRecipe},
                                     {"stage", "distill"},
                                     {"task", o.task},
                                     {"preset", plan.preset.name},
                                     {"method", job.method},
                                     {"method_config", DistillMethodConfig(job.method, o.preset)},
                                     {"distill_config", LoopKey(dc.ToJson())},
                                     {"seed", seed},
                                     {"teacher", plan.items[teacher_i].key},
                                     {"eval", {{"every", plan.preset.distill_eval_every},
                                               {"episodes", o.episodes},
                                               {"sampler", FindPolicyInfo(job.method).training_eval_sampler}}}};
      d.key = ConfigHash(inputs);
      const std::string name = job.method + (job.long_schedule ? "-long" : "") + "-from-" + job.teacher;
      d.label = "distill " + name + " seed" + std::to_string(seed);
      d.path = (root / (name + "-seed" + std::to_string(seed) + "-" + Short(d.key))).string();
      runs.push_back(add(d, inputs));
    }
  }

  // eval: every run x sampler x episode block, on the final checkpoint.
  for (int run_i : runs) {
    const WorkItem run = plan.items[run_i];
    const PolicyInfo& info = FindPolicyInfo(run.policy);
    for (const std::string& sampler : info.samplers) {
      for (int start = 0; start < o.episodes; start += o.episode_block) {
        WorkItem e = EvalBlockItem(plan, run_i, sampler, start, std::min(o.episode_block, o.episodes - start),
                                   Stage::kEval);
        const nlohmann::json inputs = {{"recipe", kRecipe}, {"stage", "eval"},        {"run", run.key},
                                       {"sampler", sampler},  {"start", 100000 + start}, {"count", e.block_count},
                                       {"max_steps", plan.preset.max_steps}};
        std::string s = sampler;
        std::replace(s.begin(), s.end(), ':', '_');
        e.label = "eval " + fs::path(run.path).filename().string() + " " + sampler + " " + std::to_string(start) +
                  "-" + std::to_string(start + e.block_count);
        e.key = ConfigHash(inputs);
        e.path = (fs::path(run.path) / "evals" /
                  (s + "_" + std::to_string(100000 + start) + "_" + std::to_string(e.block_count) + ".csv"))
                     .string();
        add(e, inputs);
      }
    }
  }
  PlanDynamic(&plan, runs, kRecipe);
  if (!o.only.empty()) {
    std::vector<std::string> names;
    for (int run_i : runs) names.push_back(RunNameOf(plan, plan.items[run_i]));
    for (const std::string& name : o.only) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        throw std::invalid_argument("--only: no run '" + name + "' in this grid; valid: " + Join(names, ", "));
      }
    }
  }
  return plan;
}

std::vector<int> ShardItems(const RunPlan& plan, Stage stage, int shard, int shards) {
  std::vector<int> out;
  int j = 0;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    if (plan.items[i].stage != stage) continue;
    if (j % shards == shard) out.push_back(i);
    ++j;
  }
  return out;
}

bool ItemDone(const WorkItem& item) {
  const std::string marker = DoneMarker(item);
  if (!fs::exists(marker)) return false;
  if (item.stage == Stage::kCollect) return true;
  try {
    return ReadJson(marker).value("key", std::string()) == item.key;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

}  // namespace onedp
