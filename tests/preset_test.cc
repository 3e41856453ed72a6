// Presets as data (policies/preset.h, harness/run_preset.h): every file in presets/ loads, a
// preset file elsewhere works by path, unknown sections and fields are refused with the valid
// ones listed, the cpu budget is the same number of optimiser steps for every dataset size, and
// an epoch of steps_per_epoch batches (policies/run_log.h EpochBatches) covers the data once per
// pass, deterministically.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/run_preset.h"
#include "policies/distill.h"
#include "policies/preset.h"
#include "policies/registry.h"
#include "policies/run_log.h"
#include "policies/trainer.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// Writes `j` as <tmp>/<name>.json and returns the path.
std::string WritePreset(const std::string& name, const nlohmann::json& j) {
  const fs::path dir = fs::temp_directory_path() / "onedp_preset_test";
  fs::create_directories(dir);
  const fs::path p = dir / (name + ".json");
  std::ofstream(p) << j.dump(2);
  return p.string();
}

// The message of the std::invalid_argument `f` throws ("" when it does not throw).
template <typename F>
std::string Error(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Preset, EveryPresetFileLoads) {
  const auto names = PresetNames();
  for (const char* n : {"tiny", "cpu", "cpu-image", "paper"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  for (const auto& n : names) {
    EXPECT_EQ(LoadPreset(n).name, n);
    EXPECT_EQ(RunPresetFor(n).name, n);
  }
}

TEST(Preset, UnknownNameListsTheValidOnes) {
  const std::string e = Error([] { LoadPreset("huge"); });
  EXPECT_NE(e.find("unknown preset 'huge'"), std::string::npos) << e;
  EXPECT_NE(e.find("cpu, cpu-image, paper, tiny"), std::string::npos) << e;
}

TEST(Preset, TheFileSetsTheNetworksLoopsAndMethods) {
  EXPECT_EQ(PresetConfig("dp-ddpm", "cpu").at("unet").at("down_dims"), nlohmann::json({32, 64, 128}));
  // networks_by_policy overrides networks for one policy only.
  EXPECT_EQ(PresetConfig("dp-ddpm", "paper").at("unet").at("down_dims"), nlohmann::json({512, 1024, 2048}));
  EXPECT_EQ(PresetConfig("dp-edm", "paper").at("unet").at("down_dims"), nlohmann::json({256, 512, 1024}));
  int every = 0;
  const TrainConfig t = TrainPresetConfig(LoadPreset("cpu"), &every);
  EXPECT_DOUBLE_EQ(t.lr, 1e-3);
  EXPECT_EQ(every, 10);
  EXPECT_DOUBLE_EQ(DistillMethodConfig("onedp-s", "cpu").at("lr_generator").get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(DistillMethodConfig("onedp-s", "paper").at("lr_generator").get<double>(), 1e-6);
  EXPECT_EQ(DistillLongEpochs(LoadPreset("paper")), 450);
}

// The cpu preset's budgets are optimiser steps: the same for a small and a large dataset.
TEST(Preset, CpuBudgetIsStepsNotPasses) {
  int every = 0;
  const TrainConfig t = TrainPresetConfig(LoadPreset("cpu"), &every);
  const DistillConfig d = DistillPresetConfig("cpu", &every);
  for (int64_t n : {18242, 25000, 90000}) {
    EXPECT_EQ(BatchesPerEpoch(n, t) * t.epochs, 14300) << n;
    EXPECT_EQ(BatchesPerEpoch(n, d) * d.epochs, 1430) << n;
  }
  // Without steps_per_epoch an epoch is one pass: the budget grows with the data.
  TrainConfig pass = t;
  pass.steps_per_epoch = 0;
  EXPECT_EQ(BatchesPerEpoch(18242, pass), 286);
  EXPECT_EQ(BatchesPerEpoch(25000, pass), 391);
}

// cpu-image is cpu with image observations: the same networks, loops, budgets, methods, test
// episodes and grid (so its tables compare with cpu's cell by cell), and no dynamic stage.
TEST(Preset, CpuImageIsCpuWithImages) {
  const Preset& cpu = LoadPreset("cpu");
  const Preset& image = LoadPreset("cpu-image");
  EXPECT_EQ(cpu.json.value("obs", ""), "lowdim");
  EXPECT_EQ(image.json.value("obs", ""), "image");
  for (const char* section : {"networks", "networks_by_policy", "train", "distill", "methods", "eval", "run"}) {
    EXPECT_EQ(image.Section(section), cpu.Section(section)) << section;
  }
  for (const char* policy : {"dp-ddpm", "dp-edm"}) {
    EXPECT_EQ(PresetConfig(policy, "cpu-image"), PresetConfig(policy, "cpu")) << policy;
  }
  const RunPreset r = RunPresetFor("cpu-image");
  EXPECT_EQ(r.obs, "image");
  EXPECT_EQ(r.episodes, 50);
  EXPECT_FALSE(r.dynamic.enabled);
  int every = 0;
  const TrainConfig t = TrainPresetConfig(image, &every);
  EXPECT_EQ(BatchesPerEpoch(18242, t) * t.epochs, 14300);
  EXPECT_DOUBLE_EQ(t.lr, 1e-3);
  EXPECT_EQ(t.warmup_steps, 200);
  const DistillConfig d = DistillPresetConfig("cpu-image", &every);
  EXPECT_EQ(BatchesPerEpoch(18242, d) * d.epochs, 1430);
}

TEST(Preset, AFileByPathAndItsName) {
  nlohmann::json j = LoadPreset("tiny").json;
  j["train"]["epochs"] = 3;
  j["eval"]["episodes"] = 6;
  const std::string path = WritePreset("mine", j);
  EXPECT_EQ(LoadPreset(path).name, "mine");
  const RunPreset p = RunPresetFor(path);
  EXPECT_EQ(p.name, "mine");
  EXPECT_EQ(p.episodes, 6);
  int every = 0;
  EXPECT_EQ(TrainPresetConfig(LoadPreset(path), &every).epochs, 3);
  EXPECT_NE(Error([] { LoadPreset("/nonexistent/dir/x.json"); }).find("not found"), std::string::npos);
}

TEST(Preset, UnknownSectionsAndFieldsAreRefusedWithTheValidOnes) {
  const nlohmann::json base = LoadPreset("tiny").json;
  struct Case {
    std::string name;
    nlohmann::json patch;
    std::string expect;  // in the message
  };
  const std::vector<Case> cases = {
      {"bad_section", {{"trian", nlohmann::json::object()}}, "valid sections:"},
      {"bad_train", {{"train", {{"learning_rate", 1}}}}, "train.learning_rate"},
      {"bad_network", {{"networks", {{"unet", {{"down_dim", {8}}}}}}}, "down_dims"},
      {"bad_method", {{"methods", {{"onedp", {{"lr_gen", 1}}}}}}, "lr_generator"},
      {"bad_method_key", {{"methods", {{"dmd", nlohmann::json::object()}}}}, "onedp"},
      {"bad_policy", {{"networks_by_policy", {{"onedp-s", nlohmann::json::object()}}}}, "dp-ddpm, dp-edm"},
      {"bad_distill", {{"distill", {{"long_epoch", 3}}}}, "long_epochs"},
      {"bad_obs", {{"obs", "depth"}}, "lowdim or image"},
      {"bad_type", {{"train", {{"epochs", "many"}}}}, "train.epochs"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = base;
    j.merge_patch(c.patch);
    const std::string path = WritePreset(c.name, j);
    const std::string e = Error([&] { LoadPreset(path); });
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.name << ": " << e;
  }
  // The harness's own sections are checked when the harness reads them.
  for (const auto& [name, patch, expect] : std::vector<Case>{{"bad_eval", {{"eval", {{"episode", 3}}}}, "episodes"},
                                                              {"bad_run", {{"run", {{"seeds", {1}}}}}, "train_seeds"}}) {
    nlohmann::json j = base;
    j.merge_patch(patch);
    const std::string path = WritePreset(name, j);
    const std::string e = Error([&] { RunPresetFor(path); });
    EXPECT_NE(e.find(expect), std::string::npos) << name << ": " << e;
  }
}

// eval.every_by_task sets the in-training cadence of the named tasks (any spelling the registry
// accepts) and of no other; bad entries name the field, and an unknown task lists the valid ones.
TEST(Preset, EveryByTaskSetsTheNamedTasksCadence) {
  nlohmann::json j = LoadPreset("tiny").json;
  j["train"]["eval_every"] = 1;
  j["distill"]["eval_every"] = 1;
  j["eval"]["every_by_task"] = {{"Transport-PH", {{"distill", 5}}}, {"tool-hang-ph", {{"train", 0}, {"distill", 2}}}};
  const std::string path = WritePreset("by_task", j);
  const RunPreset none = RunPresetFor(path), pusht = RunPresetFor(path, "pusht");
  const RunPreset transport = RunPresetFor(path, "transport-ph"), tool_hang = RunPresetFor(path, "tool-hang-ph");
  for (const RunPreset& p : {none, pusht}) {
    EXPECT_EQ(p.dp_eval_every, 1);
    EXPECT_EQ(p.distill_eval_every, 1);
  }
  EXPECT_EQ(transport.dp_eval_every, 1);
  EXPECT_EQ(transport.distill_eval_every, 5);
  EXPECT_EQ(tool_hang.dp_eval_every, 0);
  EXPECT_EQ(tool_hang.distill_eval_every, 2);
  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {{{"transport-xx", {{"distill", 5}}}}, "eval.every_by_task.transport-xx: "},
      {{{"transport-ph", {{"distill", -1}}}}, "eval.every_by_task.transport-ph.distill must be >= 0"},
      {{{"transport-ph", {{"distil", 5}}}}, "valid fields in eval.every_by_task.transport-ph: distill, train"},
      {{{"transport-ph", {{"distill", "often"}}}}, "eval.every_by_task.transport-ph.distill"},
      {{{"transport-ph", 5}}, "eval.every_by_task.transport-ph must be an object"},
  };
  for (size_t i = 0; i < bad.size(); ++i) {  // one file each: presets are cached by path
    const auto& [entry, expect] = bad[i];
    j["eval"]["every_by_task"] = entry;
    const std::string bad_path = WritePreset("by_task_bad" + std::to_string(i), j);
    const std::string e = Error([&] { RunPresetFor(bad_path, "pusht"); });
    EXPECT_NE(e.find(expect), std::string::npos) << entry.dump() << ": " << e;
  }
  j["eval"]["every_by_task"] = {{"transport-xx", {{"distill", 5}}}};
  EXPECT_NE(Error([&] { RunPresetFor(WritePreset("by_task_unknown", j)); }).find("pusht"), std::string::npos);
}

// An epoch of steps_per_epoch batches: up to one pass it is the pass's first batches (so a preset
// whose steps_per_epoch equals a dataset's pass trains exactly as one pass does); beyond it, it
// continues with fresh permutations, each sample once per pass.
TEST(EpochBatches, ExactStepsOverPassesOfTheData) {
  LoopConfig pass;
  pass.batch_size = 4;
  pass.seed = 7;
  LoopConfig fixed = pass;
  fixed.steps_per_epoch = 3;  // n = 10: 3 batches per pass (4, 4, 2)
  EpochBatches a(10, pass, 2), b(10, fixed, 2);
  ASSERT_EQ(a.size(), 3);
  ASSERT_EQ(b.size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.Batch(i), b.Batch(i));
  LoopConfig longer = pass;
  longer.steps_per_epoch = 7;  // two passes and one batch of a third
  EpochBatches c(10, longer, 2), c2(10, longer, 2);
  ASSERT_EQ(c.size(), 7);
  std::multiset<int64_t> first, second;
  for (int i = 0; i < 7; ++i) {
    const auto batch = c.Batch(i);
    EXPECT_EQ(batch, c2.Batch(i));
    if (i < 3) EXPECT_EQ(batch, a.Batch(i));
    for (int64_t x : batch) (i < 3 ? first : second).insert(x);
    if (i == 5) break;
  }
  for (int64_t x = 0; x < 10; ++x) {
    EXPECT_EQ(first.count(x), 1u) << x;
    EXPECT_EQ(second.count(x), 1u) << x;
  }
  EXPECT_NE(c.Batch(3), c.Batch(0));  // the second pass is another permutation
  EpochBatches other_epoch(10, longer, 3);
  EXPECT_NE(other_epoch.Batch(0), c.Batch(0));
}

}  // namespace
}  // namespace onedp
