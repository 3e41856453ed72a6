// The policy jobs: `harness train`, `harness distill` and `harness eval` (run dirs, loops, rollouts).

#include "harness/policy_jobs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <vector>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "harness/collect.h"
#include "harness/latency.h"
#include "harness/progress.h"
#include "harness/rollout.h"
#include "harness/run_info.h"
#include "harness/run_preset.h"
#include "harness/sequence_dataset.h"
#include "harness/episode.h"
#include "policies/distill.h"
#include "policies/preset.h"
#include "policies/registry.h"
#include "policies/run_log.h"
#include "policies/trainer.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

class SequenceBatchSource final : public BatchSource {
 public:
  explicit SequenceBatchSource(const SequenceDataset& d) : d_(d) {}
  int64_t size() const override { return d_.size(); }
  void Get(const std::vector<int64_t>& indices, TrainBatch* out) const override { d_.Get(indices, out); }

 private:
  const SequenceDataset& d_;
};

Normalizer FitNormalizer(const SequenceDataset& data, const PolicySpec& spec) {
  Normalizer n;
  const ArrayF64& a = data.actions();
  n.Fit("action", a.data.data(), a.rows(), static_cast<int>(a.row_size()), spec.action_norm);
  for (const auto& k : spec.obs) {
    if (k.is_image) continue;
    const ArrayF64& v = data.lowdim(k.key);
    n.Fit(k.key, v.data.data(), v.rows(), static_cast<int>(v.row_size()),
          std::vector<std::string>(k.shape[0], k.norm));
  }
  return n;
}

RolloutReport Evaluate(Policy& policy, const std::string& task, const std::string& sampler, int episodes,
                       uint64_t start_seed, int num_envs, int workers, const std::string& label,
                       const std::vector<RolloutObserver*>& observers = {},
                       const LatencyModel& latency = LatencyModel(), ExecMode exec = ExecMode::kSync,
                       const std::string& perturbation = "") {
  RolloutOptions ro;
  ro.observers = observers;
  ro.latency = latency;
  ro.exec = exec;
  ro.perturbation = perturbation;
  ro.episodes = episodes;
  ro.start_seed = start_seed;
  ro.num_envs = num_envs;
  ro.workers = workers;
  if (!sampler.empty()) ro.sample.sampler = SamplerSpec::Parse(sampler);
  ro.sample.full_horizon = !observers.empty();  // recordings keep the discarded part of each chunk
  Progress progress(label, episodes);
  RolloutReport r = RunRollouts(policy, task, ro, [&](int done, int) { progress.Update(done); });
  progress.Finish();
  return r;
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

void CheckDataset(const std::string& dataset, const std::string& task) {
  if (!fs::exists(dataset)) {
    throw std::invalid_argument("dataset " + dataset + " not found; make it with `harness collect --task " + task +
                                " --out " + dataset + "` or pass --dataset");
  }
  EpisodeStoreOptions eo;
  eo.keys = {"actions"};
  const nlohmann::json env = EpisodeStore::Load(dataset, eo).env_args;
  const std::string collected = env.contains("onedp") ? env["onedp"].value("task", std::string()) : std::string();
  if (!collected.empty() && collected != task) {
    throw std::invalid_argument("dataset " + dataset + " holds " + collected + " demonstrations, not " + task);
  }
}

// The command line's loop flags into *loop (a LoopConfig's JSON) and the eval cadence, then the
// --set overrides: "train.<field>=V" into *loop, any other "path=V" into *model.
void ApplyLoopOptions(const LoopOptions& o, nlohmann::json* loop, nlohmann::json* model, int* eval_every,
                      int* eval_episodes) {
  if (o.epochs > 0) (*loop)["epochs"] = o.epochs;
  if (o.batch_size > 0) (*loop)["batch_size"] = o.batch_size;
  if (o.max_batches_per_epoch > 0) (*loop)["max_batches_per_epoch"] = o.max_batches_per_epoch;
  if (o.checkpoint_every > 0) (*loop)["checkpoint_every"] = o.checkpoint_every;
  if (o.eval_every != 0) *eval_every = std::max(0, o.eval_every);
  if (o.eval_episodes > 0) *eval_episodes = o.eval_episodes;
  (*loop)["seed"] = o.seed;
  (*loop)["device"] = o.device;
  for (const std::string& kv : o.overrides) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--set expects path=value, got '" + kv + "'");
    const std::string path = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (path.rfind("train.", 0) == 0) {
      ApplyConfigOverride(*loop, path.substr(6), value, "train.");
    } else {
      ApplyConfigOverride(*model, path, value);
    }
  }
}

// The in-training evaluations as run.json records them ("last_epoch" only when it is skipped, so
// runs with the default keep their config hash).
nlohmann::json EvalIdentity(const LoopOptions& o, int eval_every, int eval_episodes) {
  nlohmann::json e = {{"every", eval_every}, {"episodes", eval_episodes}, {"sampler", o.eval_sampler},
                      {"start_seed", 100000}};
  if (!o.eval_last_epoch) e["last_epoch"] = false;
  return e;
}

// The run.json keys of every run (train and distill add their configs).
nlohmann::json RunIdentity(const LoopOptions& o, const std::string& task_name, const TaskSpec& task,
                           const std::string& dataset,
                           const nlohmann::json& obs, const std::string& policy, const PolicySpec& spec,
                           int eval_every, int eval_episodes) {
  return {{"task", task_name},
          {"dataset", fs::absolute(dataset).string()},
          {"obs", obs},
          {"action_key", task.info.action_key},
          {"policy", policy},
          {"preset", o.preset},
          {"seed", o.seed},
          {"spec", spec.ToJson()},
          {"eval", EvalIdentity(o, eval_every, eval_episodes)}};
}

// Creates run_dir and returns its run.json contents: `identity` + config_hash (of the identity
// without identity[loop_key].device) + versions. Refuses a directory that holds a run with
// another hash.
nlohmann::json OpenRunJson(const std::string& run_dir, const nlohmann::json& identity, const std::string& loop_key) {
  nlohmann::json keyed = identity;
  keyed[loop_key].erase("device");
  const std::string hash = ConfigHash(keyed);
  fs::create_directories(run_dir);
  const fs::path run_json = fs::path(run_dir) / "run.json";
  if (fs::exists(run_json)) {
    const nlohmann::json old = ReadJson(run_json);
    if (old.value("config_hash", std::string()) != hash) {
      throw std::invalid_argument(run_dir + " holds a run with another configuration (config hash " +
                                  old.value("config_hash", std::string("?")) + ", this one " + hash +
                                  "); pass another --out or delete it");
    }
  }
  nlohmann::json run = identity;
  run["config_hash"] = hash;
  run["versions"] = RunVersions();
  run["versions"]["torch"] = TorchVersion();
  return run;
}


struct EvalPlan {
  std::string task, run_dir;
  int every = 0, episodes = 0, epochs = 0;
  std::string sampler;
  int workers = 0;
  bool last = true;  // evaluate after the last epoch too
};

// Rolls out `p` on plan.episodes test seeds (100000+), writes <run>/eval_epoch<epoch>.csv and a
// line on `out`; returns the metrics recorded in the history.
nlohmann::json EvaluateEpoch(const EvalPlan& plan, int epoch, Policy& p, std::ostream& out) {
  const double cpu0 = ProcessCpuSeconds();
  RolloutReport r = Evaluate(p, plan.task, plan.sampler, plan.episodes, 100000, 0, plan.workers,
                             "eval epoch " + std::to_string(epoch));
  const double cpu = ProcessCpuSeconds() - cpu0;
  WriteRolloutCsv(r, (fs::path(plan.run_dir) / ("eval_epoch" + std::to_string(epoch) + ".csv")).string());
  char line[160];
  std::snprintf(line, sizeof(line), "epoch %d: success %.3f, score %.3f over %zu episodes (%.1f s)\n", epoch,
                r.success_rate, r.mean_score, r.episodes.size(), r.wall_seconds);
  out << line;
  const std::string reached = MilestoneSummary(r);
  if (!reached.empty()) out << "  sub-goals reached: " << reached << "\n";
  return {{"success", r.success_rate}, {"score", r.mean_score}, {"eval_seconds", r.wall_seconds},
          {"eval_cpu_seconds", cpu}, {"eval_episodes", static_cast<int>(r.episodes.size())}};
}

// Progress with the smoothed loss and ETA, stop requests, and rollouts of the policy every
// plan.every epochs and at the last one (unless !plan.last: then never at the last one), on the
// test seeds 100000+ (eval_epoch<E>.csv).
TrainCallbacks LoopCallbacks(Progress* progress, const EvalPlan& plan, std::ostream& out) {
  TrainCallbacks cb;
  auto smoothed = std::make_shared<double>(0.0);
  // The rate and ETA count from the first step this process computes: a resumed run's earlier
  // steps took no time here.
  cb.on_start = [progress](int64_t first_step, int64_t) { progress->Rebase(first_step); };
  cb.on_step = [progress, smoothed](int64_t step, int64_t, double loss) {
    *smoothed = *smoothed == 0 ? loss : 0.98 * *smoothed + 0.02 * loss;
    char note[64];
    std::snprintf(note, sizeof(note), "loss %.4f", *smoothed);
    progress->Update(step, note);
  };
  cb.should_stop = [] { return StopRequested(); };
  cb.on_epoch = [plan, &out](int epoch, Policy& p) -> nlohmann::json {
    const bool due = plan.every > 0 && (epoch == plan.epochs ? plan.last : epoch % plan.every == 0);
    return due ? EvaluateEpoch(plan, epoch, p, out) : nlohmann::json::object();
  };
  return cb;
}

void FinishLoop(const TrainResult& result, Progress& progress, const std::string& run_dir, std::ostream& out) {
  if (result.stopped) {
    throw std::runtime_error("interrupted; the last checkpoint in " + run_dir +
                             "/checkpoint is kept: run the same command to resume");
  }
  progress.Finish();
  if (result.resumed_from_epoch > 0) out << "resumed from epoch " << result.resumed_from_epoch << "\n";
  if (!result.history.empty()) {
    const EpochRecord& last = result.history.back();
    out << "done: epoch " << last.epoch << ", step " << last.step << ", train loss " << last.train_loss;
    if (!std::isnan(last.valid_loss)) out << ", valid loss " << last.valid_loss;
    out << "; log " << run_dir << "/train_log.csv\n";
  }
}

}  // namespace

void ApplyConfigOverride(nlohmann::json& config, const std::string& path, const std::string& value,
                         const std::string& shown_prefix) {
  nlohmann::json* node = &config;
  std::string prefix = shown_prefix;
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (!node->is_object() || !node->contains(part)) {
      std::string valid;
      if (node->is_object()) {
        for (auto it = node->begin(); it != node->end(); ++it) valid += (valid.empty() ? "" : ", ") + prefix + it.key();
      }
      throw std::invalid_argument("unknown config field '" + shown_prefix + path + "'" +
                                  (valid.empty() ? std::string() : "; valid fields here: " + valid));
    }
    node = &(*node)[part];
    prefix += part + ".";
  }
  nlohmann::json v = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) v = value;
  if (v.type() != node->type() && !(v.is_number() && node->is_number())) {
    throw std::invalid_argument("config field '" + shown_prefix + path + "' is " + node->type_name() + ", got " +
                                value);
  }
  *node = v;
}

namespace {

// A train run's inputs resolved from its options, without loading data or training: what
// RunTrain runs and what its run.json says of itself (`identity`).
struct TrainSetup {
  std::string task_name, run_dir, dataset;
  TaskSpec task;
  PolicySpec spec;
  nlohmann::json config;  // the policy config
  TrainConfig tc;
  int eval_every = 0, eval_episodes = 0;
  nlohmann::json identity;
};

TrainSetup SetUpTrain(const TrainOptions& o) {
  TrainSetup s;
  const TaskEntry& entry = FindTask(o.task);
  s.task_name = entry.name;
  s.task = entry.make()->spec();
  const RunPreset preset = RunPresetFor(o.preset, entry.name);
  const std::string obs = o.obs.empty() ? preset.obs : o.obs;
  s.spec = PolicySpecForTask(s.task, obs);
  s.run_dir = o.out.empty() ? "runs/" + entry.name + "/" + o.policy + "/seed" + std::to_string(o.seed) : o.out;
  s.config = PresetConfig(o.policy, o.preset);
  int preset_every = 0;  // train.eval_every; the task's cadence (eval.every_by_task) is preset.dp_eval_every
  nlohmann::json loop = TrainPresetConfig(LoadPreset(o.preset), &preset_every).ToJson();
  s.eval_every = preset.dp_eval_every;
  s.eval_episodes = preset.episodes;
  ApplyLoopOptions(o, &loop, &s.config, &s.eval_every, &s.eval_episodes);
  s.tc = TrainConfig::FromJson(loop);
  s.dataset = o.dataset.empty() ? DefaultDatasetPath(entry.name) : o.dataset;
  s.identity = RunIdentity(o, entry.name, s.task, s.dataset, obs, o.policy, s.spec, s.eval_every, s.eval_episodes);
  s.identity["policy_config"] = s.config;
  s.identity["train_config"] = s.tc.ToJson();
  return s;
}

}  // namespace

void BlockTimes::Add(double wall, double cpu) {
  ++count;
  seconds += wall;
  if (cpu >= 0) {
    cpu_seconds += cpu;
  } else {
    ++without_cpu;
    wall_only_seconds += wall;
  }
}

void BlockTimes::Add(const BlockTimes& other) {
  count += other.count;
  without_cpu += other.without_cpu;
  seconds += other.seconds;
  cpu_seconds += other.cpu_seconds;
  wall_only_seconds += other.wall_only_seconds;
}

RunProgress ReadCheckpointProgress(const std::string& checkpoint_dir) {
  RunProgress p;
  const fs::path state = fs::path(checkpoint_dir) / "train_state.json";
  if (!fs::exists(state)) return p;
  const nlohmann::json j = ReadJson(state);
  p.epoch = j.value("epoch", 0);
  for (const auto& r : j.at("history")) {
    p.seconds += r.value("seconds", 0.0);
    p.cpu_seconds += r.value("cpu_seconds", 0.0);
    const nlohmann::json m = r.value("metrics", nlohmann::json::object());
    if (m.contains("eval_seconds")) p.evals.Add(m.at("eval_seconds").get<double>(), m.value("eval_cpu_seconds", -1.0));
  }
  return p;
}

nlohmann::json TrainRunIdentity(const TrainOptions& options) { return SetUpTrain(options).identity; }

int RunTrain(const TrainOptions& o, std::ostream& out) {
  const TrainSetup s = SetUpTrain(o);
  const std::string& run_dir = s.run_dir;
  const TrainConfig& tc = s.tc;
  CheckDataset(s.dataset, s.task_name);

  const SequenceDataset train = SequenceDataset::Load(SequenceOptions(s.dataset, "train", s.task.info, s.spec));
  std::unique_ptr<SequenceDataset> valid;
  try {
    valid = std::make_unique<SequenceDataset>(SequenceDataset::Load(SequenceOptions(s.dataset, "valid", s.task.info, s.spec)));
  } catch (const std::invalid_argument&) {
    valid.reset();  // the file has no valid mask: no validation loss
  }
  const Normalizer normalizer = FitNormalizer(train, s.spec);

  nlohmann::json run = OpenRunJson(run_dir, s.identity, "train_config");
  run["train_sequences"] = train.size();
  run["train_episodes"] = train.num_episodes();
  run["valid_episodes"] = valid ? valid->num_episodes() : 0;
  WriteJsonAtomic(run, fs::path(run_dir) / "run.json");

  auto policy = CreatePolicy(o.policy, s.spec, s.config, normalizer, o.seed);
  const auto counts = policy->ParameterCounts();
  out << "train " << o.policy << " (" << o.preset << ") on " << s.task_name << " [" << s.identity.at("obs").get<std::string>()
      << "]: " << train.num_episodes() << " episodes, " << train.size() << " sequences; parameters "
      << counts.at("total") << " (encoder " << counts.at("encoder") << ", unet " << counts.at("unet")
      << "); device " << o.device << "; run " << run_dir << "\n";

  Progress progress("train " + s.task_name + " " + o.policy,
                    BatchesPerEpoch(train.size(), tc) * tc.epochs);
  const TrainCallbacks cb = LoopCallbacks(&progress, {s.task_name, run_dir, s.eval_every, s.eval_episodes, tc.epochs,
                                                      o.eval_sampler, o.workers, o.eval_last_epoch}, out);
  const SequenceBatchSource train_source(train);
  std::unique_ptr<SequenceBatchSource> valid_source;
  if (valid) valid_source = std::make_unique<SequenceBatchSource>(*valid);
  const TrainResult result = Train(*policy, train_source, valid_source.get(), tc, run_dir, cb);
  FinishLoop(result, progress, run_dir, out);
  return 0;
}

namespace {

// A distillation run's inputs resolved from its options and the teacher's policy.json, without
// loading data or training (see TrainSetup).
struct DistillSetup {
  std::string task_name, run_dir, dataset, method_key;
  TaskSpec task;
  PolicySpec spec;
  fs::path teacher_dir;
  std::string teacher_policy;
  nlohmann::json method;  // {method_key: the method's config}
  DistillConfig dc;
  int eval_every = 0, eval_episodes = 0;
  nlohmann::json identity;
};

DistillSetup SetUpDistill(const DistillOptions& o) {
  DistillSetup s;
  const ResolvedCkpt teacher_ck = ResolveCkpt(o.teacher, "--teacher");
  s.teacher_dir = teacher_ck.policy_dir;
  const nlohmann::json tj = ReadPolicyJson(teacher_ck.policy_dir.string());
  s.teacher_policy = tj.at("name").get<std::string>();
  CheckDistillMethod(o.method, s.teacher_policy);
  const nlohmann::json& trun = teacher_ck.run;
  std::string task_name = o.task;
  if (task_name.empty()) {
    if (trun.is_null()) throw std::invalid_argument("no run.json next to teacher " + o.teacher + ": pass --task");
    task_name = trun.at("task").get<std::string>();
  }
  const TaskEntry& entry = FindTask(task_name);
  s.task_name = entry.name;
  s.task = entry.make()->spec();
  s.spec = PolicySpec::FromJson(tj.at("spec"));
  const uint64_t teacher_seed = trun.is_null() ? 0 : trun.value("seed", uint64_t{0});
  s.run_dir = o.out.empty() ? "runs/" + entry.name + "/" + o.method + "/seed" + std::to_string(o.seed) + "-from-" +
                                  s.teacher_policy + "-seed" + std::to_string(teacher_seed)
                            : o.out;

  const RunPreset preset = RunPresetFor(o.preset, entry.name);
  int preset_every = 0;  // distill.eval_every; the task's cadence is preset.distill_eval_every
  nlohmann::json loop = DistillPresetConfig(LoadPreset(o.preset), &preset_every).ToJson();
  s.eval_every = preset.distill_eval_every;
  loop["method"] = o.method;
  s.eval_episodes = preset.episodes;
  s.method_key = FindPolicyInfo(o.method).config_key;
  s.method = {{s.method_key, DistillMethodConfig(o.method, o.preset)}};
  ApplyLoopOptions(o, &loop, &s.method, &s.eval_every, &s.eval_episodes);
  s.dc = DistillConfig::FromJson(loop);

  s.dataset = o.dataset;
  if (s.dataset.empty()) s.dataset = trun.is_null() ? DefaultDatasetPath(entry.name) : trun.at("dataset").get<std::string>();

  s.identity = RunIdentity(o, entry.name, s.task, s.dataset, trun.is_null() ? nlohmann::json(nullptr) : trun.at("obs"),
                           o.method, s.spec, s.eval_every, s.eval_episodes);
  s.identity["method"] = o.method;
  s.identity["teacher"] = fs::absolute(teacher_ck.policy_dir).string();
  s.identity["teacher_policy"] = s.teacher_policy;
  s.identity["teacher_config_hash"] =
      trun.is_null() ? ConfigHash(tj.at("config")) : trun.value("config_hash", std::string());
  s.identity["method_config"] = s.method.at(s.method_key);
  s.identity["distill_config"] = s.dc.ToJson();
  return s;
}

}  // namespace

nlohmann::json DistillRunIdentity(const DistillOptions& options) { return SetUpDistill(options).identity; }

int RunDistill(const DistillOptions& o, std::ostream& out) {
  const DistillSetup s = SetUpDistill(o);
  const std::string& run_dir = s.run_dir;
  const std::string& teacher_policy = s.teacher_policy;
  const DistillConfig& dc = s.dc;
  CheckDataset(s.dataset, s.task_name);
  const SequenceDataset train = SequenceDataset::Load(SequenceOptions(s.dataset, "train", s.task.info, s.spec));

  nlohmann::json run = OpenRunJson(run_dir, s.identity, "distill_config");
  run["train_sequences"] = train.size();
  const RunProgress teacher_progress = ReadCheckpointProgress(s.teacher_dir.string());
  run["teacher_train_seconds"] = teacher_progress.seconds;
  run["teacher_train_cpu_seconds"] = teacher_progress.cpu_seconds;
  WriteJsonAtomic(run, fs::path(run_dir) / "run.json");

  auto teacher = LoadPolicy(s.teacher_dir.string(), o.device);
  out << "distill " << teacher_policy << " -> " << o.method << " (" << o.preset << ") on " << s.task_name << ": "
      << train.size() << " sequences; teacher " << s.teacher_dir.string() << "; device " << o.device
      << "; run " << run_dir << "\n";
  Progress progress("distill " + s.task_name + " " + o.method,
                    BatchesPerEpoch(train.size(), dc) * dc.epochs);
  const TrainCallbacks cb = LoopCallbacks(&progress, {s.task_name, run_dir, s.eval_every, s.eval_episodes, dc.epochs,
                                                      o.eval_sampler, o.workers, o.eval_last_epoch}, out);
  const SequenceBatchSource source(train);
  const fs::path warm_dir = fs::path(run_dir) / "warm_start";
  if (o.eval_warm_start && !(fs::exists(warm_dir / "policy.json") && fs::exists(fs::path(run_dir) / "eval_epoch0.csv"))) {
    // The student before its first step: saved as <run>/warm_start (a policy directory) and rolled
    // out like an epoch (eval_epoch0.csv), so a curve can start at the teacher's one-step reading.
    auto warm = MakeStudent(*teacher, o.method, s.method.at(s.method_key), dc.seed);
    SavePolicy(*warm, warm_dir.string());
    if (s.eval_episodes > 0) {
      EvaluateEpoch({s.task_name, run_dir, 1, s.eval_episodes, 0, o.eval_sampler, o.workers}, 0, *warm, out);
    }
  }
  const TrainResult result = Distill(*teacher, s.method.at(s.method_key), source, dc, run_dir, cb);
  FinishLoop(result, progress, run_dir, out);
  // Cost relative to the teacher's pre-training: both sums of per-epoch seconds (batches only).
  double seconds = 0, cpu_seconds = 0, eval_seconds = 0;
  for (const auto& r : result.history) {
    seconds += r.seconds;
    cpu_seconds += r.cpu_seconds;
    eval_seconds += r.metrics.value("eval_seconds", 0.0);
  }
  run["distill_seconds"] = seconds;
  run["distill_cpu_seconds"] = cpu_seconds;
  run["distill_eval_seconds"] = eval_seconds;
  WriteJsonAtomic(run, fs::path(run_dir) / "run.json");
  out << "distillation took " << seconds << " s of optimisation (teacher pre-training: "
      << run["teacher_train_seconds"].get<double>() << " s)\n";
  return 0;
}

int RunEval(const EvalOptions& o, std::ostream& out) {
  const LatencyModel latency = ParseLatency(o.latency);  // bad values list the valid forms
  const ExecMode exec = ParseExecMode(o.exec);
  // A perturbation the task does not declare is refused before anything is loaded.
  if (!o.task.empty()) CheckPerturbationName(FindTask(o.task).name, FindTask(o.task).info, o.perturb);
  const ResolvedCkpt ck = ResolveCkpt(o.ckpt);
  std::string task = o.task;
  if (task.empty()) {
    if (ck.run.is_null()) throw std::invalid_argument("no run.json next to " + o.ckpt + ": pass --task");
    task = ck.run.at("task").get<std::string>();
  }
  CheckPerturbationName(task, FindTask(task).info, o.perturb);  // unknown task names list the valid ones
  auto policy = LoadPolicy(ck.policy_dir.string(), o.device);
  const std::string sampler = o.sampler.empty() ? policy->Samplers().front() : o.sampler;
  const int nfe = policy->Nfe(SamplerSpec::Parse(sampler));
  std::vector<RolloutObserver*> observers;
  std::unique_ptr<RolloutRecorder> recorder;
  std::unique_ptr<RolloutVideo> video;
  if (!o.record.empty()) {
    const nlohmann::json meta = {{"policy", policy->Name()},
                                 {"sampler", sampler},
                                 {"ckpt", o.ckpt},
                                 {"device", o.device},
                                 {"start_seed", o.start_seed},
                                 {"latency", latency.text},
                                 {"exec", ExecModeName(exec)},
                                 {"perturbation", o.perturb}};
    recorder = std::make_unique<RolloutRecorder>(o.record, policy->spec(), meta, o.record_episodes);
    observers.push_back(recorder.get());
  }
  if (!o.video.empty()) {
    if (o.video_episodes < 1) throw std::invalid_argument("--video-episodes must be >= 1");
    video = std::make_unique<RolloutVideo>(o.video, o.video_episodes, o.video_size);
    observers.push_back(video.get());
  }
  RolloutReport r = Evaluate(*policy, task, sampler, o.episodes, o.start_seed, o.num_envs, o.workers,
                             "eval " + task + " " + sampler, observers, latency, exec, o.perturb);
  std::string csv = o.out;
  if (csv.empty()) {
    std::string s = sampler;
    if (latency.kind != LatencyModel::Kind::kNone) {  // e.g. eval_ddim_10_v100-paper_async_seed0.csv
      const std::string l = latency.kind == LatencyModel::Kind::kProfile && latency.text.rfind("profile:", 0) == 0
                                ? "profile-" + fs::path(latency.text.substr(8)).stem().string()
                                : latency.text;
      s += "_" + l + "_" + ExecModeName(exec);
    }
    if (!o.perturb.empty()) s += "_" + o.perturb;
    std::replace(s.begin(), s.end(), ':', '_');
    const fs::path base = ck.run.is_null() ? ck.policy_dir : ck.policy_dir.parent_path();
    csv = (base / ("eval_" + s + "_seed" + std::to_string(o.start_seed) + ".csv")).string();
  }
  WriteRolloutCsv(r, csv);
  std::vector<double> per_call = r.predict_seconds;
  out << "task " << task << ", policy " << policy->Name() << ", sampler " << sampler << " (NFE " << nfe
      << "), " << r.episodes.size() << " episodes from seed " << o.start_seed << ": success "
      << r.success_rate << ", mean score " << r.mean_score << "; PredictChunk mean "
      << 1e3 * Mean(per_call) << " ms over " << per_call.size() << " calls; " << r.wall_seconds
      << " s; wrote " << csv << "\n";
  if (!r.milestones.empty()) out << "sub-goals reached: " << MilestoneSummary(r) << "\n";
  {  // the chunk clock, summed over episodes (per-episode values in the CSV)
    double delay = 0, chunks = 0, held = 0, skipped = 0, jump = 0;
    int jumps = 0;
    for (const EpisodeResult& e : r.episodes) {
      delay += e.delay_steps;
      chunks += e.chunks;
      held += e.held_steps;
      skipped += e.skipped_actions;
      if (std::isfinite(e.boundary_jump)) {
        jump += e.boundary_jump;
        ++jumps;
      }
    }
    const double n = static_cast<double>(r.episodes.size());
    out << "latency " << latency.text << ", exec " << ExecModeName(exec) << ": delay " << delay / n
        << " control steps, per episode " << chunks / n << " chunks, " << held / n << " held steps, "
        << skipped / n << " skipped actions; chunk-boundary jump of the commanded position "
        << (jumps > 0 ? std::to_string(jump / jumps) : std::string("-")) << " (mean over " << jumps
        << " episodes)\n";
    if (!o.perturb.empty()) {
      std::map<std::string, int> status;
      for (const EpisodeResult& e : r.episodes) ++status[e.perturbation];
      out << "perturbation " << o.perturb << ":";
      for (const auto& [s, k] : status) out << " " << s << " " << k;
      out << " (of " << r.episodes.size() << " episodes)\n";
    }
    if (!r.deterministic) {
      out << "NOT DETERMINISTIC: the delays are this machine's measured PredictChunk wall times (a batched "
             "call's for each of its rows; --envs 1 for batch-1 latency)\n";
    }
  }
  if (recorder) out << "recorded " << recorder->written().size() << " episodes in " << o.record << "\n";
  if (video) out << "wrote " << video->written().size() << " videos in " << o.video << "\n";
  return 0;
}

}  // namespace onedp
