// `harness bench train`: the wall time of one training step of DP, or one distillation step, on
// networks with fresh weights and synthetic batches of the policy's shapes (no dataset needed), and
// the fresh-weight policies `bench policy` times without a trained run.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "harness/policy_jobs.h"
#include "harness/run_info.h"
#include "harness/run_preset.h"
#include "policies/distill.h"
#include "policies/normalizer.h"
#include "policies/preset.h"
#include "policies/registry.h"
#include "policies/run_log.h"
#include "policies/trainer.h"
#include "sim/rng.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// A fixed pool of random training windows in the policy's shapes: images uniform 0..255, low-dim
// values and actions uniform in [-1, 1] (the identity normaliser's range). Index i gives window
// i mod pool size, so batches cost a copy, as a loaded dataset's do.
class SyntheticSource : public BatchSource {
 public:
  SyntheticSource(const PolicySpec& spec, int pool, uint64_t seed) : spec_(spec), pool_(pool) {
    Rng rng(seed, /*stream=*/0x7472);
    for (const auto& k : spec.obs) {
      int64_t n = static_cast<int64_t>(pool) * spec.obs_steps;
      for (int d : k.shape) n *= d;
      if (k.is_image) {
        auto& v = images_[k.key];
        v.resize(n);
        for (auto& x : v) x = static_cast<uint8_t>(rng.UniformInt(0, 256));
      } else {
        auto& v = lowdim_[k.key];
        v.resize(n);
        for (auto& x : v) x = static_cast<float>(rng.Uniform(-1, 1));
      }
    }
    actions_.resize(static_cast<size_t>(pool) * spec.horizon * spec.action_dim);
    for (auto& x : actions_) x = static_cast<float>(rng.Uniform(-1, 1));
  }
  int64_t size() const override { return pool_; }
  void Get(const std::vector<int64_t>& indices, TrainBatch* out) const override {
    const int b = static_cast<int>(indices.size());
    out->obs.batch = b;
    out->obs.steps = spec_.obs_steps;
    const auto gather = [&](const auto& src, auto& dst) {
      const size_t row = src.size() / pool_;
      dst.resize(row * b);
      for (int i = 0; i < b; ++i) {
        const size_t j = static_cast<size_t>(indices[i] % pool_);
        std::copy(src.begin() + j * row, src.begin() + (j + 1) * row, dst.begin() + i * row);
      }
    };
    for (const auto& [key, v] : images_) gather(v, out->obs.images[key]);
    for (const auto& [key, v] : lowdim_) gather(v, out->obs.lowdim[key]);
    gather(actions_, out->actions);
  }

 private:
  PolicySpec spec_;
  int pool_;
  std::map<std::string, std::vector<uint8_t>> images_;
  std::map<std::string, std::vector<float>> lowdim_;
  std::vector<float> actions_;
};

PolicySpec BenchSpec(const BenchNetOptions& o) {
  const std::string obs = o.obs.empty() ? RunPresetFor(o.preset).obs : o.obs;
  return PolicySpecForTask(MakeTask(o.task)->spec(), obs);
}

struct Stats {
  double min = 0, median = 0, max = 0, mean = 0;
};

Stats Summarise(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  for (double x : v) s.mean += x / v.size();
  return s;
}

}  // namespace

std::unique_ptr<Policy> FreshPolicyForBench(const BenchNetOptions& o) {
  if (o.task.empty()) throw std::invalid_argument("a benchmark without a trained run needs --task");
  const PolicySpec spec = BenchSpec(o);
  nlohmann::json config = PresetConfig(o.policy, o.preset);
  for (const std::string& kv : o.overrides) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--set expects path=value, got '" + kv + "'");
    ApplyConfigOverride(config, kv.substr(0, eq), kv.substr(eq + 1));
  }
  Normalizer normalizer;
  normalizer.SetIdentity("action", spec.action_dim);
  for (const auto& k : spec.obs) {
    if (!k.is_image) normalizer.SetIdentity(k.key, k.shape.at(0));
  }
  return CreatePolicy(o.policy, spec, config, normalizer, o.seed);
}

int RunBenchTrain(const BenchTrainOptions& o, std::ostream& out) {
  if (o.steps < 1 || o.warmup < 1) throw std::invalid_argument("bench train: --steps and --warmup must be >= 1");
  std::unique_ptr<Policy> dp = FreshPolicyForBench(o.net);
  const PolicySpec& spec = dp->spec();
  const Preset& preset = LoadPreset(o.net.preset);
  const SyntheticSource source(spec, 256, o.net.seed);
  const fs::path dir = fs::temp_directory_path() /
                       ("onedp_bench_train_" + std::to_string(::getpid()) + "_" +
                        std::to_string(Clock::now().time_since_epoch().count()));
  std::vector<Clock::time_point> stamps;
  std::vector<double> cpu_stamps;  // process CPU seconds: on a busy machine, the step's own cost
  TrainCallbacks cb;
  cb.on_step = [&](int64_t, int64_t, double) {
    stamps.push_back(Clock::now());
    cpu_stamps.push_back(ProcessCpuSeconds());
  };
  const int total = o.warmup + o.steps;
  int batch = 0;
  std::map<std::string, int64_t> counts = dp->ParameterCounts();
  std::map<std::string, int64_t> student_counts;
  const auto t0 = Clock::now();
  try {
    if (o.method.empty()) {
      int eval_every = 0;
      TrainConfig tc = TrainPresetConfig(preset, &eval_every);
      tc.epochs = 1;
      tc.steps_per_epoch = total;
      tc.max_batches_per_epoch = 0;
      tc.checkpoint_every = 1;
      tc.valid_batches = 0;
      tc.seed = o.net.seed;
      if (o.batch_size > 0) tc.batch_size = o.batch_size;
      batch = tc.batch_size;
      Train(*dp, source, nullptr, tc, dir.string(), cb);
      if (!o.save.empty()) SavePolicy(*dp, o.save);
    } else {
      CheckDistillMethod(o.method, o.net.policy);
      int eval_every = 0;
      DistillConfig dc = DistillPresetConfig(preset, &eval_every);
      dc.method = o.method;
      dc.epochs = 1;
      dc.steps_per_epoch = total;
      dc.max_batches_per_epoch = 0;
      dc.checkpoint_every = 1;
      dc.seed = o.net.seed;
      if (o.batch_size > 0) dc.batch_size = o.batch_size;
      batch = dc.batch_size;
      std::unique_ptr<Policy> student;
      // Every timed step a full one: OneDP-S's score network and generator both step each time.
      nlohmann::json mc = DistillMethodConfig(o.method, preset);
      if (mc.contains("score_warmup_steps")) mc["score_warmup_steps"] = 0;
      if (mc.contains("score_steps_per_generator_step")) mc["score_steps_per_generator_step"] = 1;
      Distill(*dp, mc, source, dc, dir.string(), cb, &student);
      if (student) student_counts = student->ParameterCounts();
      if (student && !o.save.empty()) SavePolicy(*student, o.save);
    }
  } catch (...) {
    fs::remove_all(dir);
    throw;
  }
  fs::remove_all(dir);
  if (static_cast<int>(stamps.size()) != total) {
    throw std::runtime_error("bench train: expected " + std::to_string(total) + " steps, saw " +
                             std::to_string(stamps.size()));
  }
  std::vector<double> ms, cpu_ms;
  for (int i = o.warmup; i < total; ++i) {
    ms.push_back(1e3 * std::chrono::duration<double>(stamps[i] - stamps[i - 1]).count());
    cpu_ms.push_back(1e3 * (cpu_stamps[i] - cpu_stamps[i - 1]));
  }
  const Stats s = Summarise(ms);
  const Stats c = Summarise(cpu_ms);
  const std::string what = o.method.empty() ? o.net.policy + " training" : o.method + " distillation from " + o.net.policy;
  out << "bench train: " << what << " on " << o.net.task << " (preset " << o.net.preset << "), batch " << batch
      << ", parameters " << counts.at("total") << " (encoder " << counts.at("encoder") << ", unet "
      << counts.at("unet") << ")";
  if (!student_counts.empty()) out << ", student " << student_counts.at("total");
  out << "; " << o.steps << " steps after " << o.warmup << " warm-up\n" << std::fixed << std::setprecision(2)
      << "ms per step: min " << s.min << ", median " << s.median << ", max " << s.max << ", mean " << s.mean
      << "; process CPU ms per step: median " << c.median << std::defaultfloat << "\n";
  if (!o.json.empty()) {
    nlohmann::json j = {{"task", o.net.task},
                        {"preset", o.net.preset},
                        {"policy", o.net.policy},
                        {"method", o.method},
                        {"spec", spec.ToJson()},
                        {"overrides", o.net.overrides},
                        {"batch", batch},
                        {"warmup", o.warmup},
                        {"step_ms", ms},
                        {"min_ms", s.min},
                        {"median_ms", s.median},
                        {"max_ms", s.max},
                        {"mean_ms", s.mean},
                        {"cpu_step_ms", cpu_ms},
                        {"cpu_median_ms", c.median},
                        {"wall_s", std::chrono::duration<double>(Clock::now() - t0).count()},
                        {"parameters", counts},
                        {"student_parameters", student_counts},
                        {"versions", RunVersions()}};
    WriteJsonAtomic(j, o.json);
    out << "wrote " << o.json << "\n";
  }
  return 0;
}

}  // namespace onedp
