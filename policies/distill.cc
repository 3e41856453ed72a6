// The distillation loop (see distill.h). Its per-batch work is the student's Step; the loop
// bookkeeping (seeds, permutation, log, checkpoints) comes from run_log.h, shared with trainer.cc.
#include "policies/distill.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "policies/consistency_policy.h"
#include "policies/diffusion_policy.h"
#include "policies/distill_student.h"
#include "policies/onedp_policy.h"
#include "policies/policy_info.h"
#include "policies/registry.h"
#include "policies/run_log.h"
#include "policies/torch_policy.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

std::string MethodKey(const std::string& method) { return FindPolicyInfo(method).config_key; }


bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The facts of a distillation method; throws std::invalid_argument listing the valid methods.
const PolicyInfo& DistillMethodInfo(const std::string& method) {
  const auto methods = DistillMethods();
  if (!Contains(methods, method)) {
    throw std::invalid_argument("unknown distillation method '" + method + "'. Valid values: " + JoinNames(methods, ", "));
  }
  return FindPolicyInfo(method);
}

// The parts of a DistillConfig that must match for a resume.
nlohmann::json ResumeKey(const DistillConfig& c) {
  nlohmann::json j = c.ToJson();
  j.erase("device");
  j.erase("nan_at_step");
  return j;
}

}  // namespace

void DistillConfig::Validate() const {
  ValidateLoop("distill config");
  DistillMethodInfo(method);
}

nlohmann::json DistillConfig::ToJson() const {
  nlohmann::json j = {{"method", method}, {"nan_at_step", nan_at_step}};
  LoopToJson(&j);
  return j;
}

DistillConfig DistillConfig::FromJson(const nlohmann::json& j) {
  DistillConfig c;
  c.LoopFromJson(j);
  c.method = j.value("method", c.method);
  c.nan_at_step = j.value("nan_at_step", c.nan_at_step);
  c.Validate();
  return c;
}

std::vector<std::string> DistillMethods() {
  std::vector<std::string> methods;
  for (const auto& p : RegisteredPolicies()) {
    if (p.distilled()) methods.push_back(p.name);
  }
  return methods;
}

void CheckDistillMethod(const std::string& method, const std::string& teacher_policy) {
  const PolicyInfo& m = DistillMethodInfo(method);
  std::vector<std::string> teachers;  // every policy some method distils, in the registry's order
  std::vector<std::string> students;  // the methods that distil teacher_policy
  for (const auto& p : RegisteredPolicies()) {
    if (Contains(p.teachers, teacher_policy)) students.push_back(p.name);
    for (const auto& t : p.teachers) {
      if (!Contains(teachers, t)) teachers.push_back(t);
    }
  }
  if (!Contains(teachers, teacher_policy)) {
    throw std::invalid_argument("the teacher must be a Diffusion Policy (" + JoinNames(teachers, " or ") + "), got " +
                                teacher_policy);
  }
  if (!Contains(m.teachers, teacher_policy)) {
    std::vector<std::string> families;
    for (const auto& t : m.teachers) families.push_back(FindPolicyInfo(t).family);
    throw std::invalid_argument(method + " distils " + JoinNames(families, "/") + " teachers (" +
                                JoinNames(m.teachers, " or ") + "); the teacher is " + teacher_policy + ". Use " +
                                JoinNames(students, " or ") + " for it");
  }
}

nlohmann::json DistillMethodConfig(const std::string& method, const Preset& preset) {
  const PolicyInfo& info = DistillMethodInfo(method);
  nlohmann::json c = method == "cp" ? CpOptions().ToJson() : OneDpOptions().ToJson();
  const nlohmann::json methods = preset.Section("methods");
  if (methods.contains(info.config_key)) MergeKnownFields(c, methods.at(info.config_key), "methods." + info.config_key);
  return c;
}

nlohmann::json DistillMethodConfig(const std::string& method, const std::string& preset) {
  DistillMethodInfo(method);  // an unknown method lists the valid ones before the preset is read
  return DistillMethodConfig(method, LoadPreset(preset));
}

namespace {

// The distill section with the loop's fields and the two the harness reads.
nlohmann::json DistillSection(const Preset& preset) {
  DistillConfig probe;
  probe.steps_per_epoch = 1;  // so that the field is listed among the valid ones
  nlohmann::json j = probe.ToJson();
  j["steps_per_epoch"] = 0;
  for (const char* k : {"seed", "device", "method", "nan_at_step"}) j.erase(k);
  j["eval_every"] = 0;
  j["long_epochs"] = 0;
  MergeKnownFields(j, preset.Section("distill"), "distill");
  return j;
}

}  // namespace

DistillConfig DistillPresetConfig(const Preset& preset, int* eval_every) {
  nlohmann::json j = DistillSection(preset);
  *eval_every = j.at("eval_every").get<int>();
  if (*eval_every < 0) throw std::invalid_argument("distill.eval_every must be >= 0");
  if (j.at("long_epochs").get<int>() < 0) throw std::invalid_argument("distill.long_epochs must be >= 0");
  j.erase("eval_every");
  j.erase("long_epochs");
  return DistillConfig::FromJson(j);
}

DistillConfig DistillPresetConfig(const std::string& preset, int* eval_every) {
  return DistillPresetConfig(LoadPreset(preset), eval_every);
}

int DistillLongEpochs(const Preset& preset) { return DistillSection(preset).at("long_epochs").get<int>(); }

std::unique_ptr<Policy> MakeStudent(Policy& teacher, const std::string& method, const nlohmann::json& method_config,
                                    uint64_t seed) {
  CheckDistillMethod(method, teacher.Name());
  DiffusionTeacher& t = AsDiffusionTeacher(teacher);
  const nlohmann::json config = {{"teacher_policy", teacher.Name()},
                                 {"teacher", teacher.Config()},
                                 {MethodKey(method), method_config}};
  auto student = CreatePolicy(method, teacher.spec(), config, t.normalizer(), seed);
  student->To(teacher.device());
  AsDistillStudent(*student).WarmStart(t);
  return student;
}

TrainResult Distill(Policy& teacher, const nlohmann::json& method_config, const BatchSource& data,
                    const DistillConfig& config, const std::string& out_dir, const TrainCallbacks& callbacks,
                    std::unique_ptr<Policy>* student_out) {
  config.Validate();
  CheckDistillMethod(config.method, teacher.Name());
  DiffusionTeacher& t = AsDiffusionTeacher(teacher);
  teacher.To(config.device);
  auto student = MakeStudent(teacher, config.method, method_config, config.seed);
  student->To(config.device);
  DistillStudent& ds = AsDistillStudent(*student);
  const int64_t n = data.size();
  if (n <= 0) throw std::invalid_argument("the distillation data set is empty");
  const int64_t batches = BatchesPerEpoch(n, config);
  const int64_t total_steps = batches * config.epochs;
  ds.PrepareTraining(&t, total_steps);

  fs::create_directories(out_dir);
  const nlohmann::json key = ResumeKey(config);
  TrainResult result;
  LoopState state;
  if (ReadCheckpoint(out_dir, *student, "distill_config", key, &state, [&](const std::string& dir) {
        torch::serialize::InputArchive a;
        a.load_from((fs::path(dir) / "optimizer.pt").string(), AsTorchPolicy(*student).torch_device());
        ds.LoadOptimizers(a);
      })) {
    result.history = state.history;
    result.resumed_from_epoch = state.epoch;
  }
  int64_t step = state.step;
  const fs::path ckpt = fs::path(out_dir) / "checkpoint";
  if (callbacks.on_start) callbacks.on_start(step, total_steps);

  for (int epoch = result.resumed_from_epoch + 1; epoch <= config.epochs; ++epoch) {
    const EpochTimer timer;
    EpochBatches epoch_batches(n, config, epoch);
    // Per-key sums and counts: a OneDP-S step that trains only its score network reports no "loss".
    std::map<std::string, double> sums;
    std::map<std::string, int64_t> counts;
    for (int64_t i = 0; i < batches && !result.stopped; ++i) {
      if (callbacks.should_stop && callbacks.should_stop()) {
        result.stopped = true;
        break;
      }
      TrainBatch batch;
      data.Get(epoch_batches.Batch(i), &batch);
      std::map<std::string, double> losses;
      try {
        losses = ds.Step(batch, at::detail::createCPUGenerator(BatchSeed(config.seed, epoch, i)), step,
                         step == config.nan_at_step);
      } catch (const NonFiniteLoss& e) {
        throw std::runtime_error("non-finite loss at epoch " + std::to_string(epoch) + " batch " + std::to_string(i) +
                                 " (" + e.what() + "); the last good checkpoint in " + ckpt.string() +
                                 " is kept");
      }
      ++step;
      for (const auto& [k, v] : losses) {
        sums[k] += v;
        ++counts[k];
      }
      if (callbacks.on_step) {
        const auto main = losses.count("loss") ? losses.find("loss") : losses.begin();
        callbacks.on_step(step, total_steps, main == losses.end() ? std::nan("") : main->second);
      }
    }
    if (result.stopped) break;

    EpochRecord rec;
    rec.epoch = epoch;
    rec.step = step;
    rec.valid_loss = std::nan("");
    rec.train_loss = std::nan("");  // no generator step in this epoch (score-network warm-up)
    rec.lr = ds.lr();
    for (const auto& [k, v] : sums) {
      const double mean = v / static_cast<double>(counts.at(k));
      if (k == "loss") {
        rec.train_loss = mean;
      } else {
        rec.losses[k] = mean;
      }
    }
    if (CloseEpoch(rec, timer, *student, callbacks, out_dir, config.checkpoint_every, config.epochs, &result.history)) {
      WriteCheckpoint(out_dir, *student, {epoch, step, result.history}, "distill_config", key,
                      [&](const std::string& dir) {
                        torch::serialize::OutputArchive a;
                        ds.SaveOptimizers(a);
                        a.save_to((fs::path(dir) / "optimizer.pt").string());
                      });
    }
  }
  if (student_out) *student_out = std::move(student);
  return result;
}

DistillStudent& AsDistillStudent(Policy& policy) {
  auto* s = dynamic_cast<DistillStudent*>(&policy);
  if (!s) throw std::invalid_argument("policy " + policy.Name() + " is not a distillation student");
  return *s;
}

}  // namespace onedp
