#include "harness/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "harness/collect.h"
#include "harness/policy_jobs.h"
#include "harness/progress.h"
#include "harness/rollout.h"
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

const std::vector<std::string> kStages = {"collect", "train", "distill", "eval", "merge", "all"};

std::string Short(const std::string& key) { return key.substr(0, 8); }

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string StageName(Stage s) {
  switch (s) {
    case Stage::kCollect: return "collect";
    case Stage::kTrain: return "train";
    case Stage::kDistill: return "distill";
    case Stage::kEval: return "eval";
  }
  return "?";
}

// The trained policy whose family the paper's table `table` ("table1") reports.
const PolicyInfo& TableTeacher(const std::string& table) {
  for (const PolicyInfo& p : RegisteredPolicies()) {
    if (!p.distilled() && p.table == table) return p;
  }
  throw std::logic_error("no trained policy reports in " + table);
}

std::string DoneMarker(const WorkItem& item) {
  switch (item.stage) {
    case Stage::kTrain:
    case Stage::kDistill: return (fs::path(item.path) / "done.json").string();
    case Stage::kEval: return item.path + ".json";
    case Stage::kCollect: return item.path;
  }
  return item.path;
}

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string VersionsText(const nlohmann::json& v) {
  std::string s;
  for (const char* k : {"onedp", "mujoco", "torch", "compiler", "cpu"}) {
    if (v.contains(k)) s += (s.empty() ? "" : "; ") + std::string(k) + " " + v.at(k).get<std::string>();
  }
  return s;
}

nlohmann::json AllVersions() {
  nlohmann::json v = RunVersions();
  v["torch"] = TorchVersion();
  return v;
}

// Mean success and score of a per-episode CSV (WriteRolloutCsv's format).
struct EpisodeStats {
  int episodes = 0;
  double success = 0, score = 0;
};
EpisodeStats ReadEpisodes(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read " + path);
  std::string line;
  std::getline(f, line);
  EpisodeStats s;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string seed, success, score;
    std::getline(ss, seed, ',');
    std::getline(ss, success, ',');
    std::getline(ss, score, ',');
    s.success += std::stod(success);
    s.score += std::stod(score);
    ++s.episodes;
  }
  if (s.episodes > 0) {
    s.success /= s.episodes;
    s.score /= s.episodes;
  }
  return s;
}

// Final epoch and summed per-epoch seconds of a run directory's latest checkpoint.
RunProgress ReadRunProgress(const std::string& run_dir) {
  return ReadCheckpointProgress((fs::path(run_dir) / "checkpoint").string());
}

std::string Fixed(double v, int digits) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(digits) << v;
  return o.str();
}

}  // namespace

RunPreset RunPresetFor(const std::string& preset) {
  RunPreset p;
  if (preset == "tiny") {
    p.train_seeds = {0};
    p.episodes = 4;
    p.episode_block = 2;
    p.max_steps = 24;  // three chunks: the plumbing, not the task
    p.collect_episodes = 4;
    p.obs = "lowdim";
    p.dp_eval_every = 0;
    p.distill_eval_every = 1;
    p.cp_long_epochs = 3;
    p.bench_repeats = 1;
  } else if (preset == "cpu") {
    // Sized so that one task's whole run fits in a few hours of the 2-core machine (two shards side
    // by side; the cost per task is in README's run-preset table): one training seed, 50 test
    // episodes, the teachers' 50 epochs, then distillation scaled to the teachers as the paper's is
    // (OneDP 20 and CP 20 / 450 epochs after ~1000 epochs of pre-training): OneDP and CP 5 epochs
    // (10 % of pre-training; a 20-epoch PushT OneDP-S run already had its score at epoch 5,
    // results/distill_cpu/README.md) and CP's long schedule 20 epochs (40 %, the paper's 450 /
    // 1000). Every distillation epoch is evaluated: a one-step policy's 50 episodes are cheap.
    p.train_seeds = {0};
    p.episodes = 50;
    p.episode_block = 25;
    p.obs = "lowdim";
    p.dp_eval_every = 10;
    p.distill_eval_every = 1;
    p.distill_epochs = 5;
    p.cp_long_epochs = 20;
    p.bench_repeats = 5;
  } else if (preset == "paper") {
    p.train_seeds = {0, 1, 2, 3, 4};
    p.episodes = 100;
    p.episode_block = 50;
    p.obs = "image";
    p.dp_eval_every = 50;
    p.distill_eval_every = 2;
    p.cp_long_epochs = 450;
    p.bench_repeats = 20;
  } else {
    throw std::invalid_argument("unknown preset '" + preset + "'; valid: tiny, cpu, paper");
  }
  return p;
}

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
  plan.preset = RunPresetFor(o.preset);
  if (std::find(kStages.begin(), kStages.end(), o.stage) == kStages.end()) {
    throw std::invalid_argument("unknown stage '" + o.stage + "'; valid: " + Join(kStages, ", "));
  }
  if (o.shards < 1 || o.shard < 0 || o.shard >= o.shards) throw std::invalid_argument("bad shard");
  if (o.train_seeds.empty()) o.train_seeds = plan.preset.train_seeds;
  if (o.episodes <= 0) o.episodes = plan.preset.episodes;
  if (o.episode_block <= 0) o.episode_block = std::min(plan.preset.episode_block, o.episodes);
  plan.dataset = o.dataset.empty() ? DefaultDatasetPath(o.task) : o.dataset;
  plan.results = o.results.empty() ? (fs::path("results") / o.task / o.preset).string() : o.results;
  const fs::path root = fs::path(o.work) / o.task / o.preset;
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
                                     {"preset", o.preset},
                                     {"policy", policy},
                                     {"policy_config", PresetConfig(policy, o.preset)},
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
      int eval_every = 0, eval_episodes = 0;
      DistillConfig dc = DistillPresetConfig(job.method, o.preset, &eval_every, &eval_episodes);
      // The run preset's schedule where it sets one, else the distillation preset's.
      const int preset_epochs = job.long_schedule ? plan.preset.cp_long_epochs : plan.preset.distill_epochs;
      const int epochs = preset_epochs > 0 ? preset_epochs : dc.epochs;
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
                                     {"preset", o.preset},
                                     {"method", job.method},
                                     {"method_config", DistillMethodConfig(job.method, o.preset)},
                                     {"epochs", epochs},
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
        WorkItem e;
        e.stage = Stage::kEval;
        e.policy = run.policy;
        e.seed = run.seed;
        e.source = run_i;
        e.sampler = sampler;
        e.block_start = start;
        e.block_count = std::min(o.episode_block, o.episodes - start);
        e.needs = {run_i};
        e.table = run.table;
        e.method = info.MethodName(sampler);
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

namespace {

void MarkDone(const WorkItem& item, nlohmann::json extra) {
  extra["key"] = item.key;
  extra["label"] = item.label;
  WriteJsonAtomic(extra, DoneMarker(item));
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

void RunItem(const RunPlan& plan, const WorkItem& item, std::ostream& log) {
  const RunOptions& o = plan.options;
  const double t0 = Now();
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
      const int nfe = policy->Nfe(SamplerSpec::Parse(item.sampler));
      const int table_nfe = FindPolicyInfo(item.policy).Nfe(item.sampler);
      if (nfe != table_nfe) {
        throw std::runtime_error("NFE of " + item.sampler + " is " + std::to_string(nfe) + ", the tables assume " +
                                 std::to_string(table_nfe));
      }
      RolloutOptions ro;
      ro.episodes = item.block_count;
      ro.start_seed = 100000 + static_cast<uint64_t>(item.block_start);
      ro.num_envs = item.block_count;  // the batch is part of the item: the same numbers in any shard
      ro.workers = o.workers;
      ro.max_steps = plan.preset.max_steps;
      ro.sample.sampler = SamplerSpec::Parse(item.sampler);
      Progress progress(item.label, item.block_count);
      const RolloutReport r = RunRollouts(*policy, o.task, ro, [&](int done, int) { progress.Update(done); });
      progress.Finish();
      fs::create_directories(fs::path(item.path).parent_path());
      WriteRolloutCsv(r, item.path);
      MarkDone(item, {{"nfe", nfe},
                      {"epoch", ReadRunProgress(run.path).epoch},
                      {"success", r.success_rate},
                      {"score", r.mean_score},
                      {"episodes", static_cast<int>(r.episodes.size())},
                      {"start_seed", ro.start_seed},
                      {"device", o.device},
                      {"versions", AllVersions()},
                      {"seconds", Now() - t0}});
      return;
    }
  }
  MarkDone(item, {{"seconds", Now() - t0}, {"versions", AllVersions()}});
}

// Waits until the item is done (another shard computes it) or fails after `seconds`.
void WaitFor(const WorkItem& item, double seconds, std::ostream& log) {
  const double t0 = Now();
  bool said = false;
  while (!ItemDone(item)) {
    if (StopRequested()) throw std::runtime_error("interrupted while waiting for " + item.label);
    if (Now() - t0 >= seconds) {
      throw std::runtime_error("'" + item.label + "' is not done (" + DoneMarker(item) +
                               "): run its stage first (harness run --stage " + StageName(item.stage) + ")");
    }
    if (!said) {
      log << "waiting for '" << item.label << "' (another shard)\n";
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// --- adopt -------------------------------------------------------------------------------------

// run.json fields that record how a run went (sizes, times, versions), not what it computed.
const char* const kBookkeepingFields[] = {"versions",
                                          "config_hash",
                                          "train_sequences",
                                          "train_episodes",
                                          "valid_episodes",
                                          "teacher_train_seconds",
                                          "teacher_train_cpu_seconds",
                                          "distill_seconds",
                                          "distill_cpu_seconds",
                                          "distill_eval_seconds"};

// A run.json without what does not change the weights: how it was evaluated while training, where
// its teacher lay, the device, versions and bookkeeping.
nlohmann::json Computation(nlohmann::json run) {
  run.erase("eval");
  run.erase("teacher");
  for (const char* k : kBookkeepingFields) run.erase(k);
  for (const char* loop : {"train_config", "distill_config"}) {
    if (run.contains(loop)) run[loop].erase("device");
  }
  return run;
}

// JSON-pointer paths where two objects differ ("/seed", "/policy_config/unet/down_dims").
std::vector<std::string> DifferingFields(const nlohmann::json& a, const nlohmann::json& b) {
  std::set<std::string> paths;
  for (const auto& op : nlohmann::json::diff(a, b)) {
    std::string path = op.at("path").get<std::string>();
    // An array element's change names the array.
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash + 1 < path.size() &&
        path.find_first_not_of("0123456789", slash + 1) == std::string::npos) {
      path = path.substr(0, slash);
    }
    paths.insert(path);
  }
  return {paths.begin(), paths.end()};
}

int AdoptOne(const RunPlan& plan, const std::string& dir, bool dry_run, std::ostream& out) {
  const fs::path run_json = fs::path(dir) / "run.json";
  if (!fs::exists(run_json)) {
    throw std::invalid_argument("--adopt " + dir + ": no run.json there (not a train or distill run directory)");
  }
  const nlohmann::json src = ReadJson(run_json.string());
  const bool is_train = src.contains("train_config");
  if (!is_train && !src.contains("distill_config")) {
    throw std::invalid_argument("--adopt " + dir + ": its run.json has neither train_config nor distill_config");
  }
  const Stage stage = is_train ? Stage::kTrain : Stage::kDistill;
  const nlohmann::json want = Computation(src);
  std::string closest;
  std::vector<std::string> closest_diff;
  for (const WorkItem& item : plan.items) {
    if (item.stage != stage || item.policy != src.value("policy", std::string())) continue;
    if (!is_train && !ItemDone(plan.items[item.source])) {
      if (closest.empty()) {
        closest = item.label;
        closest_diff = {"its teacher '" + plan.items[item.source].label + "' is not done: adopt or train it first"};
      }
      continue;
    }
    const nlohmann::json expected =
        is_train ? TrainRunIdentity(TrainItemOptions(plan, item)) : DistillRunIdentity(DistillItemOptions(plan, item));
    const std::vector<std::string> diff = DifferingFields(Computation(expected), want);
    if (!diff.empty()) {
      if (closest.empty() || diff.size() < closest_diff.size()) {
        closest = item.label;
        closest_diff = diff;
      }
      continue;
    }
    const std::string loop = is_train ? "train_config" : "distill_config";
    const int epochs = src.at(loop).at("epochs").get<int>();
    const fs::path state = fs::path(dir) / "checkpoint" / "train_state.json";
    const int done_epochs = fs::exists(state) ? ReadJson(state.string()).value("epoch", 0) : 0;
    if (done_epochs < epochs) {
      throw std::invalid_argument("--adopt " + dir + " matches '" + item.label + "' but its checkpoint is at epoch " +
                                  std::to_string(done_epochs) + " of " + std::to_string(epochs) +
                                  ": finish it (rerun its command) or let the pipeline compute the item");
    }
    if (ItemDone(item)) {
      out << "adopt: '" << item.label << "' is already done (" << item.path << "); " << dir << " not needed\n";
      return 0;
    }
    nlohmann::json expected_all = expected;
    expected_all.erase("versions");
    nlohmann::json src_all = src;
    for (const char* k : kBookkeepingFields) src_all.erase(k);
    const std::vector<std::string> ignored = DifferingFields(expected_all, src_all);
    std::string ignored_text;
    for (const auto& f : ignored) ignored_text += (ignored_text.empty() ? "" : ", ") + f;
    out << (dry_run ? "would adopt " : "adopt ") << dir << " as '" << item.label << "' -> " << item.path
        << (ignored.empty() ? std::string() : " (differs only in " + ignored_text + ")") << "\n";
    if (dry_run) return 1;
    if (fs::exists(item.path)) {
      throw std::invalid_argument("--adopt " + dir + ": " + item.path + " already exists (a partial run of '" +
                                  item.label + "'?): delete it to adopt, or let the pipeline finish it");
    }
    // Copied under a temporary name, then renamed: an interrupted copy leaves no half item.
    const fs::path tmp = item.path + ".adopting";
    fs::remove_all(tmp);
    fs::create_directories(fs::path(item.path).parent_path());
    fs::copy(dir, tmp, fs::copy_options::recursive);
    fs::rename(tmp, item.path);
    MarkDone(item, {{"adopted_from", fs::absolute(dir).lexically_normal().string()},
                    {"ignored_differences", ignored},
                    {"seconds", 0.0},
                    {"versions", AllVersions()}});
    return 1;
  }
  if (dry_run && !closest_diff.empty() && closest_diff.front().rfind("its teacher", 0) == 0) {
    out << "would check " << dir << " against '" << closest << "' once its teacher is adopted or trained\n";
    return 0;
  }
  std::string why = closest.empty() ? "no " + StageName(stage) + " item runs policy '" +
                                          src.value("policy", std::string("?")) + "'"
                                    : "the closest, '" + closest + "', differs in:";
  for (const auto& d : closest_diff) why += " " + d;
  throw std::invalid_argument("--adopt " + dir + " matches no work item of this " + plan.options.task + " (" +
                              plan.options.preset + ") grid: " + why);
}

}  // namespace

int AdoptRuns(const RunPlan& plan, const std::vector<std::string>& dirs, bool dry_run, std::ostream& out) {
  // Teachers first: a distillation is matched against its teacher item's run.json.
  std::vector<std::string> ordered;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& d : dirs) {
      const fs::path rj = fs::path(d) / "run.json";
      const bool train = fs::exists(rj) && ReadJson(rj.string()).contains("train_config");
      if ((pass == 0) == train) ordered.push_back(d);
    }
  }
  int adopted = 0;
  for (const auto& d : ordered) adopted += AdoptOne(plan, d, dry_run, out);
  return adopted;
}

namespace {

// --- merge -------------------------------------------------------------------------------------

struct RunRows {
  std::vector<EvalRow> rows;
  std::vector<std::string> missing;
};

EvalRow BaseRow(const RunPlan& plan, const WorkItem& run) {
  EvalRow r;
  r.task = plan.options.task;
  r.table = run.table;
  r.train_seed = run.seed;
  return r;
}

// In-training evaluations (eval_epoch<E>.csv) and the eval items' blocks, per run.
RunRows CollectRows(const RunPlan& plan) {
  RunRows out;
  // (table, method, epochs, nfe, seed, epoch) -> row; eval-stage rows replace in-training ones.
  std::map<std::tuple<std::string, std::string, int, int, uint64_t, int>, EvalRow> rows;
  std::map<int, int> run_epochs;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& run = plan.items[i];
    if (run.stage != Stage::kTrain && run.stage != Stage::kDistill) continue;
    const fs::path run_json = fs::path(run.path) / "run.json";
    if (!fs::exists(run_json)) continue;
    const nlohmann::json rj = ReadJson(run_json.string());
    const int epochs = rj.contains("train_config") ? rj.at("train_config").value("epochs", 0)
                                                   : rj.value("distill_config", nlohmann::json::object()).value("epochs", 0);
    run_epochs[i] = epochs;
    const PolicyInfo& info = FindPolicyInfo(run.policy);
    const std::string sampler = info.training_eval_sampler;
    for (const auto& f : fs::directory_iterator(run.path)) {
      const std::string name = f.path().filename().string();
      if (name.rfind("eval_epoch", 0) != 0 || f.path().extension() != ".csv") continue;
      const int epoch = std::stoi(name.substr(10));
      const EpisodeStats s = ReadEpisodes(f.path().string());
      EvalRow r = BaseRow(plan, run);
      r.method = info.MethodName(sampler);
      r.epochs = epochs;
      r.nfe = info.Nfe(sampler);
      r.sampler = sampler;
      r.epoch = epoch;
      r.episodes = s.episodes;
      r.start_seed = 100000;
      r.success = s.success;
      r.score = s.score;
      const nlohmann::json versions = rj.value("versions", nlohmann::json::object());
      r.config_hash = run.key;  // the work item's key: its inputs, wherever it ran
      r.git_commit = versions.value("git_commit", "");
      r.device = plan.options.device;
      for (const char* loop : {"train_config", "distill_config"}) {
        if (rj.contains(loop)) r.device = rj.at(loop).value("device", r.device);
      }
      r.versions = VersionsText(versions);
      rows[{r.table, r.method, r.epochs, r.nfe, r.train_seed, r.epoch}] = r;
    }
  }
  // Eval items, grouped by (run, sampler); a group counts only when all its blocks are done.
  std::map<std::pair<int, std::string>, std::vector<int>> groups;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    if (plan.items[i].stage == Stage::kEval) groups[{plan.items[i].source, plan.items[i].sampler}].push_back(i);
  }
  for (const auto& [group, items] : groups) {
    const WorkItem& run = plan.items[group.first];
    int episodes = 0, epoch = -1;
    double success = 0, score = 0;
    nlohmann::json first;
    bool complete = true;
    for (int i : items) {
      if (!ItemDone(plan.items[i])) {
        complete = false;
        break;
      }
      const nlohmann::json m = ReadJson(DoneMarker(plan.items[i]));
      const EpisodeStats s = ReadEpisodes(plan.items[i].path);
      if (epoch >= 0 && m.at("epoch").get<int>() != epoch) {
        throw std::runtime_error("the blocks of '" + run.label + " " + group.second +
                                 "' evaluated different checkpoints; delete " + fs::path(plan.items[i].path).parent_path().string() +
                                 " and rerun the eval stage");
      }
      epoch = m.at("epoch").get<int>();
      if (first.is_null()) first = m;
      success += s.success * s.episodes;
      score += s.score * s.episodes;
      episodes += s.episodes;
    }
    if (!complete || episodes == 0) {
      out.missing.push_back(run.label + " " + group.second);
      continue;
    }
    EvalRow r = BaseRow(plan, run);
    r.method = FindPolicyInfo(run.policy).MethodName(group.second);
    r.epochs = run_epochs.count(group.first) ? run_epochs.at(group.first) : epoch;
    r.nfe = first.at("nfe").get<int>();
    r.sampler = group.second;
    r.epoch = epoch;
    r.episodes = episodes;
    r.start_seed = 100000;
    r.success = success / episodes;
    r.score = score / episodes;
    r.config_hash = run.key;
    r.git_commit = first.at("versions").value("git_commit", "");
    r.device = first.value("device", "");
    r.versions = VersionsText(first.at("versions"));
    rows[{r.table, r.method, r.epochs, r.nfe, r.train_seed, r.epoch}] = r;
  }
  for (auto& [k, r] : rows) out.rows.push_back(r);
  return out;
}

std::string TableSection(const PaperTable& t, const std::string& title) {
  return "### " + title + "\n\n" + TableMarkdown(t) + "\n";
}

// Tables 1 and 2, peak and final, as Markdown (both in one file) and CSV.
std::string WriteTables(const std::vector<EvalRow>& rows, const std::vector<std::string>& tasks,
                        const std::string& dir, const std::vector<ExpectedLine>& expected = {}) {
  std::string all;
  for (const PolicyInfo& teacher : RegisteredPolicies()) {
    if (teacher.distilled()) continue;
    const std::string& name = teacher.table;
    const PaperTable peak = AssembleTable(rows, name, tasks, Reduce::kPeak, expected);
    const PaperTable final_ = AssembleTable(rows, name, tasks, Reduce::kFinal, expected);
    const std::string md = "## " + teacher.table_title + " (" + teacher.family + " family)\n\n" +
                           TableSection(peak, "Peak over evaluated checkpoints (the paper's protocol)") +
                           TableSection(final_, "Final checkpoint") + "### Beside the paper (peak)\n\n" +
                           ComparisonMarkdown(peak, ReadPublishedTables(DefaultPublishedTablesPath())) + "\n";
    WriteTextAtomic(md, (fs::path(dir) / (name + ".md")).string());
    WriteTextAtomic(TableCsv(peak), (fs::path(dir) / (name + "_peak.csv")).string());
    WriteTextAtomic(TableCsv(final_), (fs::path(dir) / (name + "_final.csv")).string());
    all += md;
  }
  return all;
}

// convergence.csv (OneDP and CP in-training evaluations) and its gnuplot PNG.
std::string WriteConvergence(const RunPlan& plan, const std::vector<EvalRow>& rows, std::ostream& log) {
  std::map<std::string, std::map<int, std::vector<double>>> series;  // "method (table, epochs)" -> epoch -> metric
  std::ostringstream csv;
  csv << "task,table,method,epochs,sampler,train_seed,epoch,episodes,metric\n";
  for (const auto& r : rows) {
    const PolicyInfo* policy = PolicyOfMethod(r.method);
    if (policy && !policy->distilled()) continue;  // the teachers' rows
    csv << r.task << ',' << r.table << ',' << r.method << ',' << r.epochs << ',' << r.sampler << ',' << r.train_seed
        << ',' << r.epoch << ',' << r.episodes << ',' << Fixed(RowMetric(r), 6) << '\n';
    const std::string teacher = TableTeacher(r.table).family + " teacher";
    series[r.method + " " + r.sampler + ", " + teacher + ", " + std::to_string(r.epochs) + " ep"][r.epoch].push_back(
        RowMetric(r));
  }
  const fs::path dir(plan.results);
  WriteTextAtomic(csv.str(), (dir / "convergence.csv").string());
  if (series.empty()) return "";
  // gnuplot: one line per series, the mean over training seeds.
  const fs::path dat = dir / "convergence.dat.tmp", gp = dir / "convergence.gp.tmp";
  {
    std::ofstream d(dat);
    for (const auto& [name, pts] : series) {
      d << "\"" << name << "\"\n";
      for (const auto& [epoch, v] : pts) {
        double m = 0;
        for (double x : v) m += x;
        d << epoch << ' ' << m / v.size() << '\n';
      }
      d << "\n\n";
    }
  }
  const TaskInfo& task = FindTask(plan.options.task).info;
  const std::string png = (dir / "convergence.png").string();
  {
    std::ofstream g(gp);
    g << "set terminal pngcairo size 900,560 font 'sans,10'\n"
      << "set output '" << png << ".tmp'\n"
      << "set title 'Convergence of distillation on " << task.display_name << " (" << plan.options.preset
      << " preset, " << plan.options.episodes << " test episodes)'\n"
      << "set xlabel 'distillation epoch'\nset ylabel '" << MetricName(task.metric) << "'\n"
      << "set yrange [0:1.05]\nset key bottom right\nset grid\n"
      << "plot for [i=0:" << series.size() - 1 << "] '" << dat.string()
      << "' index i using 1:2 with linespoints lw 2 title columnheader(1)\n";
  }
  const std::string cmd = "gnuplot '" + gp.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  fs::remove(dat);
  fs::remove(gp);
  if (rc != 0 || !fs::exists(png + ".tmp")) {
    log << "warning: gnuplot failed (exit " << rc << "); convergence.png not written\n";
    return "";
  }
  fs::rename(png + ".tmp", png);
  return png;
}

std::string ReadText(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The rows of a CSV written by a previous merge, keyed by the value of `key_column`, each a map from
// column name to cell (columns by header, so files written before a column was added still read).
std::map<std::string, std::map<std::string, std::string>> PreviousCsv(const fs::path& path,
                                                                       const std::string& key_column) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::ifstream f(path);
  std::string line;
  if (!std::getline(f, line)) return out;
  const std::vector<std::string> header = SplitCsv(line);
  while (std::getline(f, line)) {
    const std::vector<std::string> cells = SplitCsv(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    if (row.count(key_column)) out[row.at(key_column)] = row;
  }
  return out;
}

// Whether a train / distill item's run directory is on this machine (a fresh machine has only the
// committed results of earlier merges).
bool RunHere(const WorkItem& item) { return fs::exists(fs::path(item.path) / "run.json"); }

// Rows of the previous merge (<results>/evals.csv, e.g. committed from a machine whose runs/ is gone)
// for runs of this grid that are not on this machine are kept, so that a partial rerun completes a
// table instead of replacing it; a run that is here is read from its own outputs. Returns how many
// rows; `runs` gets the labels of the runs they belong to.
int CarryOverRows(const RunPlan& plan, RunRows* rr, std::set<std::string>* runs) {
  const fs::path previous = fs::path(plan.results) / "evals.csv";
  if (!fs::exists(previous)) return 0;
  std::map<std::string, int> absent;  // run item key -> index, for runs not on this machine
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if ((it.stage == Stage::kTrain || it.stage == Stage::kDistill) && !RunHere(it)) absent[it.key] = i;
  }
  using Key = std::tuple<std::string, std::string, int, int, uint64_t, int>;
  const auto key_of = [](const EvalRow& r) { return Key{r.table, r.method, r.epochs, r.nfe, r.train_seed, r.epoch}; };
  std::map<Key, EvalRow> rows;
  for (const EvalRow& r : rr->rows) rows[key_of(r)] = r;
  int carried = 0;
  for (const EvalRow& r : ReadEvalRows(previous.string())) {
    const auto run = absent.find(r.config_hash);
    if (run == absent.end() || rows.count(key_of(r))) continue;
    rows[key_of(r)] = r;
    ++carried;
    runs->insert(plan.items[run->second].label);
    const std::string label = plan.items[run->second].label + " " + r.sampler;
    rr->missing.erase(std::remove(rr->missing.begin(), rr->missing.end(), label), rr->missing.end());
  }
  rr->rows.clear();
  for (auto& [k, r] : rows) rr->rows.push_back(r);
  return carried;
}

// latency.{md,csv}: the paper's latency table (BenchmarkLatencyTable: encoder, DDPM-100, DDIM-10 and
// OneDP (1 NFE) of the first seed's OneDP-S from the DDPM teacher); without
// that run on this machine, the previous merge's table.
std::string WriteLatency(const RunPlan& plan, std::ostream& log) {
  const LatencyTableInfo& lat = BenchmarkLatencyTable();
  const PolicyInfo& student_info = FindPolicyInfo(lat.student);
  const PolicyInfo& teacher_info = FindPolicyInfo(lat.teacher);
  const WorkItem* student = nullptr;
  for (const auto& it : plan.items) {
    if (it.stage == Stage::kDistill && it.policy == lat.student && plan.items[it.source].policy == lat.teacher &&
        ItemDone(it)) {
      student = &it;
      break;
    }
  }
  if (!student) {
    const std::string which =
        student_info.MethodName(student_info.samplers.front()) + " (" + teacher_info.family + " teacher)";
    const fs::path previous = fs::path(plan.results) / "latency.md";
    if (fs::exists(previous)) {
      log << "latency: no " << which << " run on this machine; the previous merge's table is kept\n";
      return ReadText(previous);
    }
    log << "latency: no finished " << which << " run yet\n";
    return "";
  }
  BenchPolicyOptions b;
  b.ckpt = student->path;
  b.device = plan.options.device;
  b.repeats = plan.preset.bench_repeats;
  b.samplers = lat.samplers;
  const LatencyReport rep = BenchPolicy(b);
  double first = 0, one = 0;
  std::ostringstream md, csv;
  csv << "task,policy,sampler,nfe,encoder_ms,sampling_ms,total_ms,hz,device\n";
  md << "Batch-1 latency on " << plan.options.device << " (median of " << rep.repeats << " calls after a warm-up; "
     << rep.parameters << " parameters, encoder " << rep.encoder_parameters << "):\n\n"
     << "| Method | NFE | encoder ms | sampling ms | total ms | Hz |\n|---|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rep.rows) {
    const std::string name =
        r.policy == lat.student ? lat.student_label : FindPolicyInfo(r.policy).MethodName(r.sampler) + " " + r.sampler;
    md << "| " << name << " | " << r.nfe << " | " << Fixed(r.encode_ms, 2) << " | " << Fixed(r.sample_ms, 2) << " | "
       << Fixed(r.total_ms(), 2) << " | " << Fixed(r.hz(), 1) << " |\n";
    csv << plan.options.task << ',' << r.policy << ',' << r.sampler << ',' << r.nfe << ',' << Fixed(r.encode_ms, 4)
        << ',' << Fixed(r.sample_ms, 4) << ',' << Fixed(r.total_ms(), 4) << ',' << Fixed(r.hz(), 3) << ','
        << plan.options.device << '\n';
    if (r.sampler == lat.samplers.front()) first = r.total_ms();
    if (r.policy == lat.student) one = r.total_ms();
  }
  if (first > 0 && one > 0) md << "\n" << lat.ratio_label << " latency ratio: " << Fixed(first / one, 1) << "x\n";
  WriteTextAtomic(md.str(), (fs::path(plan.results) / "latency.md").string());
  WriteTextAtomic(csv.str(), (fs::path(plan.results) / "latency.csv").string());
  return md.str();
}

// cost.{md,csv}: optimisation wall time and process CPU time of each run, distillations also as a
// share of the teacher's. On a shared machine the wall time grows with the other jobs; the CPU time
// does not, so the share is taken from CPU time when both runs recorded it.
std::string WriteCost(const RunPlan& plan) {
  std::ostringstream md, csv;
  csv << "task,run,policy,train_seed,epochs,seconds,cpu_seconds,teacher_seconds,teacher_cpu_seconds,"
         "fraction_of_teacher,fraction_basis\n";
  md << "| Run | Epochs | Wall s | CPU s | Teacher wall s | Teacher CPU s | Share of pre-training |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n";
  const auto cell = [](double v) { return v > 0 ? Fixed(v, 0) : std::string("-"); };
  // Runs not on this machine keep the previous merge's row (see CarryOverRows).
  const auto previous = PreviousCsv(fs::path(plan.results) / "cost.csv", "run");
  const auto number = [](const std::map<std::string, std::string>& row, const char* column) {
    const auto c = row.find(column);
    return c == row.end() || c->second.empty() ? 0.0 : std::stod(c->second);
  };
  for (const auto& it : plan.items) {
    if (it.stage != Stage::kTrain && it.stage != Stage::kDistill) continue;
    RunProgress p, t;
    std::string carried_fraction, carried_basis;  // the previous merge's share, kept as written
    const auto prev = previous.find(fs::path(it.path).filename().string());
    if (ItemDone(it)) {
      p = ReadRunProgress(it.path);
      t = it.source >= 0 ? ReadRunProgress(plan.items[it.source].path) : RunProgress{};
    } else if (!RunHere(it) && prev != previous.end()) {
      p.epoch = static_cast<int>(number(prev->second, "epochs"));
      p.seconds = number(prev->second, "seconds");
      p.cpu_seconds = number(prev->second, "cpu_seconds");
      t.seconds = number(prev->second, "teacher_seconds");
      t.cpu_seconds = number(prev->second, "teacher_cpu_seconds");
      const auto f = prev->second.find("fraction_of_teacher");
      if (f != prev->second.end() && !f->second.empty()) {
        carried_fraction = f->second;
        const auto b = prev->second.find("fraction_basis");
        carried_basis = b != prev->second.end() && !b->second.empty() ? b->second : "wall";
      }
    } else {
      continue;
    }
    const bool by_cpu = p.cpu_seconds > 0 && t.cpu_seconds > 0;
    const double mine = by_cpu ? p.cpu_seconds : p.seconds, teacher = by_cpu ? t.cpu_seconds : t.seconds;
    std::string fraction = teacher > 0 ? Fixed(mine / teacher, 4) : "";
    std::string basis = teacher > 0 ? (by_cpu ? "cpu" : "wall") : "";
    if (!carried_fraction.empty()) {
      fraction = carried_fraction;
      basis = carried_basis;
    }
    const std::string name = fs::path(it.path).filename().string();
    csv << plan.options.task << ',' << name << ',' << it.policy << ',' << it.seed << ',' << p.epoch << ','
        << Fixed(p.seconds, 1) << ',' << Fixed(p.cpu_seconds, 1) << ',' << Fixed(t.seconds, 1) << ','
        << Fixed(t.cpu_seconds, 1) << ',' << fraction << ',' << basis << '\n';
    md << "| " << name << " | " << p.epoch << " | " << cell(p.seconds) << " | " << cell(p.cpu_seconds) << " | "
       << cell(t.seconds) << " | " << cell(t.cpu_seconds) << " | "
       << (fraction.empty() ? "-" : Fixed(100 * std::stod(fraction), 1) + " % (" + basis + ")") << " |\n";
  }
  WriteTextAtomic(md.str(), (fs::path(plan.results) / "cost.md").string());
  WriteTextAtomic(csv.str(), (fs::path(plan.results) / "cost.csv").string());
  return md.str();
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

}  // namespace

void MergeRun(const RunPlan& plan, std::ostream& out) {
  fs::create_directories(plan.results);
  RunRows rr = CollectRows(plan);
  std::set<std::string> carried_runs;
  const int carried = CarryOverRows(plan, &rr, &carried_runs);
  WriteEvalRows(rr.rows, (fs::path(plan.results) / "evals.csv").string());
  // Every line the grid evaluates is shown, with missing cells until its results exist.
  std::vector<ExpectedLine> expected;
  std::map<int, int> epochs_of;
  for (const auto& it : plan.items) {
    if (it.stage != Stage::kEval) continue;
    if (!epochs_of.count(it.source)) {
      const WorkItem& run = plan.items[it.source];
      epochs_of[it.source] = run.stage == Stage::kTrain
                                 ? TrainRunIdentity(TrainItemOptions(plan, run)).at("train_config").at("epochs").get<int>()
                                 : run.epochs;
    }
    expected.push_back({it.table, it.method, epochs_of.at(it.source), FindPolicyInfo(it.policy).Nfe(it.sampler)});
  }
  const std::string tables = WriteTables(rr.rows, {plan.options.task}, plan.results, expected);
  const std::string png = WriteConvergence(plan, rr.rows, out);
  const std::string latency = WriteLatency(plan, out);
  const std::string cost = WriteCost(plan);
  int done = 0;
  for (const auto& it : plan.items) done += ItemDone(it);
  const RunOptions& o = plan.options;
  std::ostringstream readme;
  readme << "# " << FindTask(o.task).info.display_name << ", `" << o.preset << "` preset\n\n"
         << "Written by `harness run --task " << o.task << " --preset " << o.preset << "` (merge at " << UtcNow()
         << ", build " << GitCommit() << ", device " << o.device << ", CPU " << CpuModel() << ").\n\n"
         << "Scale: " << o.train_seeds.size() << " training seed(s), " << o.episodes
         << " test episodes (seeds 100000-" << 100000 + o.episodes - 1 << ") per method and sampler; the paper uses "
         << "5 training seeds x 100 episodes, image observations and ~1000-epoch pre-training. " << done << " of "
         << plan.items.size() << " work items are done" << (carried > 0 ? " on the machine of this merge" : "");
  readme << (rr.missing.empty() ? "; every cell has results" : "; cells without results are marked -") << ".\n\n";
  if (carried > 0) {
    readme << carried << " evaluation rows come from the previous merge of this grid: their runs are not on the "
           << "machine of this merge (their config_hash and git commit say where they came from). Runs: "
           << Join({carried_runs.begin(), carried_runs.end()}, ", ") << ".\n\n";
  }
  readme << tables;
  if (!png.empty()) readme << "## Convergence (Figure 4)\n\n![convergence](convergence.png)\n\n";
  if (!latency.empty()) readme << "## Latency (Table 5)\n\n" << latency << "\n";
  std::ostringstream adopted;
  for (const auto& it : plan.items) {
    if (!ItemDone(it) || (it.stage != Stage::kTrain && it.stage != Stage::kDistill)) continue;
    const nlohmann::json m = ReadJson(DoneMarker(it));
    if (!m.contains("adopted_from")) continue;
    adopted << "- " << it.label << ": `" << m.at("adopted_from").get<std::string>() << "`";
    std::string ignored;
    for (const auto& f : m.value("ignored_differences", nlohmann::json::array())) {
      ignored += (ignored.empty() ? "" : ", ") + f.get<std::string>();
    }
    adopted << (ignored.empty() ? std::string() : " (differs in " + ignored + ")") << "\n";
  }
  if (!adopted.str().empty()) {
    readme << "## Adopted runs\n\nThese items were not recomputed: `--adopt` took existing run directories whose "
           << "inputs match the items' (the fields listed do not change the weights; an in-training evaluation "
           << "cadence that differs shows in the convergence rows' episode counts).\n\n"
           << adopted.str() << "\n";
  }
  readme << "## Cost\n\n" << cost << "\nFiles: evals.csv (one row per method x sampler x training seed x checkpoint, "
         << "with seeds, config hash, git commit, device, versions), table{1,2}.md and _peak/_final.csv, "
         << "convergence.csv, latency.csv, cost.csv.\n";
  WriteTextAtomic(readme.str(), (fs::path(plan.results) / "README.md").string());
  out << "merged " << rr.rows.size() << " evaluation rows into " << plan.results << " (" << done << "/"
      << plan.items.size() << " items done";
  if (carried > 0) out << "; " << carried << " rows kept from the previous merge";
  out << ")\n";
  for (const auto& m : rr.missing) out << "  missing: " << m << "\n";
}

RunSummary RunPipeline(const RunOptions& options, std::ostream& out) {
  const RunPlan plan = PlanRun(options);
  const RunOptions& o = plan.options;
  RunSummary summary;
  std::vector<Stage> stages;
  if (o.stage == "all") {
    stages = {Stage::kCollect, Stage::kTrain, Stage::kDistill, Stage::kEval};
  } else if (o.stage != "merge") {
    for (Stage s : {Stage::kCollect, Stage::kTrain, Stage::kDistill, Stage::kEval}) {
      if (StageName(s) == o.stage) stages = {s};
    }
  }
  std::vector<int> mine;
  for (Stage s : stages) {
    const auto v = ShardItems(plan, s, o.shard, o.shards);
    mine.insert(mine.end(), v.begin(), v.end());
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
  // A single stage runs every item whose prerequisites are done and fails at the end naming the
  // others (stage all waits for them instead, or fails at once).
  std::vector<std::string> blocked;
  std::set<std::string> blocking_stages;
  for (size_t k = 0; k < mine.size(); ++k) {
    const WorkItem& item = plan.items[mine[k]];
    if (ItemDone(item)) {
      ++summary.skipped;
    } else {
      bool ready = true;
      for (int need : item.needs) {
        if (o.stage != "all" && !ItemDone(plan.items[need])) {
          blocked.push_back("'" + item.label + "' (needs '" + plan.items[need].label + "')");
          blocking_stages.insert("--stage " + StageName(plan.items[need].stage));
          ready = false;
          break;
        }
        WaitFor(plan.items[need], wait, out);
      }
      if (ready) {
        out << "[" << k + 1 << "/" << mine.size() << "] " << item.label << "\n";
        RunItem(plan, item, out);
        ++summary.ran;
      }
    }
    if (StopRequested()) throw std::runtime_error("interrupted; rerun the same command to resume");
    progress.Update(static_cast<int64_t>(k + 1));
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

void RunTables(const TableOptions& options, std::ostream& out) {
  if (options.tasks.empty()) throw std::invalid_argument("--tasks is empty");
  RunPresetFor(options.preset);  // validates the name
  std::vector<EvalRow> rows;
  for (const auto& t : options.tasks) {
    FindTask(t);  // unknown names list the valid ones
    const fs::path f = fs::path(options.results) / t / options.preset / "evals.csv";
    if (!fs::exists(f)) {
      out << "no results for " << t << " (" << f.string() << "): its column is marked -\n";
      continue;
    }
    const auto r = ReadEvalRows(f.string());
    rows.insert(rows.end(), r.begin(), r.end());
  }
  const std::string dir = options.out.empty() ? (fs::path(options.results) / options.preset).string() : options.out;
  fs::create_directories(dir);
  out << WriteTables(rows, options.tasks, dir);
  out << "wrote " << dir << "/table{1,2}.md and table{1,2}_{peak,final}.csv\n";
}

}  // namespace onedp
