#include "harness/policy_jobs.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "harness/collect.h"
#include "harness/progress.h"
#include "harness/rollout.h"
#include "harness/run_info.h"
#include "harness/sequence_dataset.h"
#include "policies/registry.h"
#include "policies/trainer.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

bool IsPushT(const TaskSpec& t) { return t.env_name == "PushT"; }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// DP paper Table 7 crops: 84 -> 76, 96 -> 84, 240 -> 216.
int CropFor(int image_size) {
  if (image_size == 84) return 76;
  if (image_size == 96) return 84;
  if (image_size == 240) return 216;
  return static_cast<int>(image_size * 0.9);
}

void WriteJsonAtomic(const nlohmann::json& j, const fs::path& path) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read " + path.string());
  nlohmann::json j;
  f >> j;
  return j;
}

TrainConfig PresetTrainConfig(const std::string& preset, int* eval_every, int* eval_episodes) {
  TrainConfig c;
  if (preset == "tiny") {
    c.epochs = 2;
    c.batch_size = 8;
    c.max_batches_per_epoch = 3;
    c.warmup_steps = 2;
    c.checkpoint_every = 1;
    c.valid_batches = 1;
    *eval_every = 0;
    *eval_episodes = 2;
  } else if (preset == "cpu") {
    c.epochs = 60;
    c.checkpoint_every = 5;
    *eval_every = 10;
    *eval_episodes = 20;
  } else if (preset == "paper") {
    c.epochs = 1000;  // OneDP's DP pre-training
    c.checkpoint_every = 50;
    *eval_every = 50;
    *eval_episodes = 50;
  } else {
    PresetConfig("dp-ddpm", preset);  // throws, listing the valid presets
  }
  return c;
}

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

// The saved policy directory and run.json (if any) behind a --ckpt argument.
struct ResolvedCkpt {
  fs::path policy_dir;
  nlohmann::json run;  // null when the policy has no run.json next to it
};

ResolvedCkpt ResolveCkpt(const std::string& ckpt) {
  ResolvedCkpt r;
  const fs::path p(ckpt);
  if (fs::exists(p / "policy.json")) {
    r.policy_dir = p;
    if (fs::exists(p.parent_path() / "run.json")) r.run = ReadJson(p.parent_path() / "run.json");
  } else if (fs::exists(p / "checkpoint" / "policy.json")) {
    r.policy_dir = p / "checkpoint";
    if (fs::exists(p / "run.json")) r.run = ReadJson(p / "run.json");
  } else {
    throw std::invalid_argument("--ckpt " + ckpt +
                                ": neither a run directory (with checkpoint/) nor a saved policy (with policy.json)");
  }
  return r;
}

RolloutReport Evaluate(Policy& policy, const std::string& task, const std::string& sampler, int episodes,
                       uint64_t start_seed, int num_envs, int workers, const std::string& label) {
  RolloutOptions ro;
  ro.episodes = episodes;
  ro.start_seed = start_seed;
  ro.num_envs = num_envs;
  ro.workers = workers;
  if (!sampler.empty()) ro.sample.sampler = SamplerSpec::Parse(sampler);
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

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

PolicySpec PolicySpecForTask(const TaskSpec& task, const std::string& obs_mode) {
  if (obs_mode != "image" && obs_mode != "lowdim") {
    throw std::invalid_argument("unknown obs mode '" + obs_mode + "'. Valid values: image, lowdim");
  }
  PolicySpec s;
  const auto find = [&](const std::string& key) -> const FeatureSpec& {
    for (const auto& f : task.obs) {
      if (f.key == key) return f;
    }
    throw std::invalid_argument("task " + task.name + " has no observation '" + key + "'");
  };
  const auto lowdim = [&](const std::string& key, const std::string& norm) {
    const FeatureSpec& f = find(key);
    s.obs.push_back({f.key, false, f.shape, norm});
  };
  const auto image = [&](const std::string& key) {
    const FeatureSpec& f = find(key);
    s.obs.push_back({f.key, true, f.shape, "identity"});
  };
  s.crop = CropFor(task.image_height);
  if (IsPushT(task)) {
    // DP's PushT: image + agent_pos, or the 20-D keypoints (9 block points + agent).
    if (obs_mode == "image") {
      image("image");
      lowdim("agent_pos", "limits");
    } else {
      lowdim("keypoints", "limits");
    }
    s.action_dim = task.abs_action_dim;
    s.action_norm.assign(s.action_dim, "limits");
    return s;
  }
  // robomimic: shape_meta order of DP's image configs (cameras, then per robot eef_pos, eef_quat,
  // gripper_qpos); low-dim configs put the object vector first. Quaternions are not normalised.
  if (obs_mode == "image") {
    for (const auto& cam : task.cameras) image(cam + "_image");
  } else {
    lowdim("object", "limits");
  }
  for (const auto& f : task.obs) {
    if (EndsWith(f.key, "eef_pos") || EndsWith(f.key, "gripper_qpos")) lowdim(f.key, "limits");
    if (EndsWith(f.key, "eef_quat")) lowdim(f.key, "identity");
  }
  // Abs actions per arm: pos 3 (limits), rot6d 6 and gripper 1 (identity).
  s.action_dim = task.abs_action_dim;
  for (int arm = 0; arm < task.abs_action_dim / 10; ++arm) {
    for (int i = 0; i < 10; ++i) s.action_norm.push_back(i < 3 ? "limits" : "identity");
  }
  return s;
}

std::string ActionKeyForTask(const TaskSpec& task) { return IsPushT(task) ? "actions" : "actions_abs"; }

std::string DefaultDatasetPath(const std::string& task_name) {
  std::string n = task_name;
  std::replace(n.begin(), n.end(), '-', '_');
  return "data/" + n + ".hdf5";
}

int RunTrain(const TrainOptions& o, std::ostream& out) {
  const TaskEntry& entry = FindTask(o.task);
  const TaskSpec task = entry.make()->spec();
  const PolicySpec spec = PolicySpecForTask(task, o.obs);
  const std::string run_dir =
      o.out.empty() ? "runs/" + entry.name + "/" + o.policy + "/seed" + std::to_string(o.seed) : o.out;

  nlohmann::json config = PresetConfig(o.policy, o.preset);
  int eval_every = 0, eval_episodes = 0;
  TrainConfig tc = PresetTrainConfig(o.preset, &eval_every, &eval_episodes);
  if (o.epochs > 0) tc.epochs = o.epochs;
  if (o.batch_size > 0) tc.batch_size = o.batch_size;
  if (o.max_batches_per_epoch > 0) tc.max_batches_per_epoch = o.max_batches_per_epoch;
  if (o.checkpoint_every > 0) tc.checkpoint_every = o.checkpoint_every;
  if (o.eval_every != 0) eval_every = std::max(0, o.eval_every);
  if (o.eval_episodes > 0) eval_episodes = o.eval_episodes;
  tc.seed = o.seed;
  tc.device = o.device;
  tc.Validate();
  const std::string dataset = o.dataset.empty() ? DefaultDatasetPath(entry.name) : o.dataset;
  if (!fs::exists(dataset)) {
    throw std::invalid_argument("dataset " + dataset + " not found; make it with `harness collect --task " +
                                entry.name + " --out " + dataset + "` or pass --dataset");
  }

  SequenceDatasetOptions so;
  so.path = dataset;
  so.filter_key = "train";
  so.action_key = ActionKeyForTask(task);
  so.obs_steps = spec.obs_steps;
  so.horizon = spec.horizon;
  so.action_steps = spec.action_steps;
  so.keys = spec.obs;
  const SequenceDataset train = SequenceDataset::Load(so);
  std::unique_ptr<SequenceDataset> valid;
  so.filter_key = "valid";
  try {
    valid = std::make_unique<SequenceDataset>(SequenceDataset::Load(so));
  } catch (const std::invalid_argument&) {
    valid.reset();  // the file has no valid mask: no validation loss
  }
  const Normalizer normalizer = FitNormalizer(train, spec);

  const nlohmann::json identity = {{"task", entry.name},
                                   {"dataset", fs::absolute(dataset).string()},
                                   {"obs", o.obs},
                                   {"action_key", so.action_key},
                                   {"policy", o.policy},
                                   {"preset", o.preset},
                                   {"seed", o.seed},
                                   {"policy_config", config},
                                   {"spec", spec.ToJson()},
                                   {"train_config", tc.ToJson()},
                                   {"eval", {{"every", eval_every}, {"episodes", eval_episodes},
                                             {"sampler", o.eval_sampler}, {"start_seed", 100000}}}};
  nlohmann::json keyed = identity;
  keyed["train_config"].erase("device");
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
  run["train_sequences"] = train.size();
  run["train_episodes"] = train.num_episodes();
  run["valid_episodes"] = valid ? valid->num_episodes() : 0;
  WriteJsonAtomic(run, run_json);

  auto policy = CreatePolicy(o.policy, spec, config, normalizer, o.seed);
  const auto counts = policy->ParameterCounts();
  out << "train " << o.policy << " (" << o.preset << ") on " << entry.name << " [" << o.obs << "]: "
      << train.num_episodes() << " episodes, " << train.size() << " sequences; parameters "
      << counts.at("total") << " (encoder " << counts.at("encoder") << ", unet " << counts.at("unet")
      << "); device " << o.device << "; run " << run_dir << "\n";

  int64_t batches = (train.size() + tc.batch_size - 1) / tc.batch_size;
  if (tc.max_batches_per_epoch > 0) batches = std::min(batches, tc.max_batches_per_epoch);
  Progress progress("train " + entry.name + " " + o.policy, batches * tc.epochs);
  TrainCallbacks cb;
  double smoothed = 0;
  cb.on_step = [&](int64_t step, int64_t, double loss) {
    smoothed = smoothed == 0 ? loss : 0.98 * smoothed + 0.02 * loss;
    char note[64];
    std::snprintf(note, sizeof(note), "loss %.4f", smoothed);
    progress.Update(step, note);
  };
  cb.should_stop = [] { return StopRequested(); };
  cb.on_epoch = [&](int epoch, Policy& p) -> nlohmann::json {
    const bool due = eval_every > 0 && (epoch % eval_every == 0 || epoch == tc.epochs);
    if (!due) return nlohmann::json::object();
    RolloutReport r = Evaluate(p, entry.name, o.eval_sampler, eval_episodes, 100000, 0, o.workers,
                               "eval epoch " + std::to_string(epoch));
    WriteRolloutCsv(r, (fs::path(run_dir) / ("eval_epoch" + std::to_string(epoch) + ".csv")).string());
    char line[160];
    std::snprintf(line, sizeof(line), "epoch %d: success %.3f, score %.3f over %zu episodes (%.1f s)\n",
                  epoch, r.success_rate, r.mean_score, r.episodes.size(), r.wall_seconds);
    out << line;
    return {{"success", r.success_rate}, {"score", r.mean_score}, {"eval_seconds", r.wall_seconds},
            {"eval_episodes", static_cast<int>(r.episodes.size())}};
  };
  const SequenceBatchSource train_source(train);
  std::unique_ptr<SequenceBatchSource> valid_source;
  if (valid) valid_source = std::make_unique<SequenceBatchSource>(*valid);
  const TrainResult result = Train(*policy, train_source, valid_source.get(), tc, run_dir, cb);
  if (result.stopped) {
    throw std::runtime_error("interrupted; the last checkpoint in " + run_dir +
                             "/checkpoint is kept: run the same command to resume");
  }
  progress.Finish();
  if (result.resumed_from_epoch > 0) out << "resumed from epoch " << result.resumed_from_epoch << "\n";
  if (!result.history.empty()) {
    const EpochRecord& last = result.history.back();
    out << "done: epoch " << last.epoch << ", step " << last.step << ", train loss " << last.train_loss
        << ", valid loss " << last.valid_loss << "; log " << run_dir << "/train_log.csv\n";
  }
  return 0;
}

int RunEval(const EvalOptions& o, std::ostream& out) {
  const ResolvedCkpt ck = ResolveCkpt(o.ckpt);
  std::string task = o.task;
  if (task.empty()) {
    if (ck.run.is_null()) throw std::invalid_argument("no run.json next to " + o.ckpt + ": pass --task");
    task = ck.run.at("task").get<std::string>();
  }
  FindTask(task);  // unknown names list the valid ones
  auto policy = LoadPolicy(ck.policy_dir.string(), o.device);
  const std::string sampler = o.sampler.empty() ? policy->Samplers().front() : o.sampler;
  const int nfe = policy->Nfe(SamplerSpec::Parse(sampler));
  RolloutReport r = Evaluate(*policy, task, sampler, o.episodes, o.start_seed, o.num_envs, o.workers,
                             "eval " + task + " " + sampler);
  std::string csv = o.out;
  if (csv.empty()) {
    std::string s = sampler;
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
  return 0;
}

int RunBenchPolicy(const BenchPolicyOptions& o, std::ostream& out) {
  const ResolvedCkpt ck = ResolveCkpt(o.ckpt);
  const nlohmann::json pj = ReadPolicyJson(ck.policy_dir.string());
  const PolicySpec spec = PolicySpec::FromJson(pj.at("spec"));
  // The trained policy, plus the same networks in the other family (random weights: latency does
  // not depend on weights) so DDPM, DDIM and EDM are timed on one architecture in one run.
  std::vector<std::unique_ptr<Policy>> policies;
  policies.push_back(LoadPolicy(ck.policy_dir.string(), o.device));
  {
    nlohmann::json other = pj.at("config");
    const bool ddpm = other.at("family") == "ddpm";
    other["family"] = ddpm ? "edm" : "ddpm";
    auto p = CreatePolicy(ddpm ? "dp-edm" : "dp-ddpm", spec, other, Normalizer::FromJson(pj.at("normalizer")), 0);
    p->To(o.device);
    policies.push_back(std::move(p));
  }
  // One observation history (batch 1): mid-grey images, zero low-dim values.
  ObsBatch obs;
  obs.batch = 1;
  obs.steps = spec.obs_steps;
  for (const auto& k : spec.obs) {
    int64_t n = spec.obs_steps;
    for (int d : k.shape) n *= d;
    if (k.is_image) {
      obs.images[k.key].assign(n, 128);
    } else {
      obs.lowdim[k.key].assign(n, 0.0f);
    }
  }
  struct Row {
    std::string label;
    int nfe;
    double encode_ms, sample_ms;
  };
  std::vector<Row> rows;
  const auto time_sampler = [&](Policy& p, const std::string& sampler, const std::string& label) {
    SampleOptions so;
    so.sampler = SamplerSpec::Parse(sampler);
    PredictTiming t;
    p.PredictChunk(obs, so, &t);  // warm-up
    std::vector<double> enc, smp;
    for (int i = 0; i < o.repeats; ++i) {
      so.seeds = {static_cast<uint64_t>(i)};
      p.PredictChunk(obs, so, &t);
      enc.push_back(t.encode_s);
      smp.push_back(t.sample_s);
    }
    rows.push_back({label, t.nfe, 1e3 * Median(enc), 1e3 * Median(smp)});
  };
  std::vector<std::pair<int, std::string>> plan;  // (policy index, sampler)
  if (!o.samplers.empty()) {
    for (const auto& s : o.samplers) {
      const std::string fam = SamplerSpec::Parse(s).family;
      plan.push_back({(fam == "edm") == (policies[0]->Samplers().front().rfind("edm", 0) == 0) ? 0 : 1, s});
    }
  } else {
    for (size_t i = 0; i < policies.size(); ++i) {
      for (const auto& s : policies[i]->Samplers()) plan.push_back({static_cast<int>(i), s});
    }
  }
  Progress progress("bench policy", static_cast<int64_t>(plan.size()));
  for (size_t i = 0; i < plan.size(); ++i) {
    Policy& p = *policies[plan[i].first];
    time_sampler(p, plan[i].second, p.Name() + " " + plan[i].second);
    progress.Update(static_cast<int64_t>(i + 1));
  }
  progress.Finish();
  const auto counts = policies[0]->ParameterCounts();
  out << "policy " << pj.at("name").get<std::string>() << " (" << o.ckpt << "), parameters " << counts.at("total")
      << " (encoder " << counts.at("encoder") << ", unet " << counts.at("unet") << "), device " << o.device
      << ", batch 1, median of " << o.repeats << " calls\n\n";
  out << "| sampler | NFE | encoder ms | sampling ms | ms per NFE | total ms | Hz |\n";
  out << "|---|---:|---:|---:|---:|---:|---:|\n";
  out << std::fixed;
  for (const auto& r : rows) {
    const double total = r.encode_ms + r.sample_ms;
    out << "| " << r.label << " | " << r.nfe << " | " << std::setprecision(2) << r.encode_ms << " | "
        << r.sample_ms << " | " << r.sample_ms / std::max(1, r.nfe) << " | " << total << " | "
        << std::setprecision(1) << 1e3 / total << " |\n";
  }
  out << std::defaultfloat;
  return 0;
}

}  // namespace onedp
