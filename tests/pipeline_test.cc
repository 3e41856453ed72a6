// `harness run`'s work grid, sharding, caching, resume and merge, end to end on the tiny preset.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "harness/latency.h"
#include "harness/pipeline.h"
#include "harness/pipeline_internal.h"
#include "harness/rollout.h"
#include "harness/policy_jobs.h"
#include "harness/run_info.h"
#include "harness/tables.h"
#include "policies/distill.h"
#include "policies/policy_info.h"
#include "policies/preset.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

RunOptions Tiny(const fs::path& root) {
  RunOptions o;
  o.task = "pusht";
  o.preset = "tiny";
  o.work = (root / "runs").string();
  o.results = (root / "results").string();
  o.dataset = (root / "pusht.hdf5").string();
  o.workers = 1;
  return o;
}

std::vector<std::string> Keys(const RunPlan& p) {
  std::vector<std::string> k;
  for (const auto& it : p.items) k.push_back(it.key);
  return k;
}

TEST(PipelinePlan, GridHasEveryStageAndMethod) {
  const RunPlan p = PlanRun(Tiny(fs::temp_directory_path() / "onedp_plan"));
  std::map<Stage, int> per_stage;
  std::set<std::string> methods;
  for (const auto& it : p.items) {
    ++per_stage[it.stage];
    if (it.stage == Stage::kEval) methods.insert(it.method + " " + it.sampler);
  }
  EXPECT_EQ(per_stage[Stage::kCollect], 1);
  EXPECT_EQ(per_stage[Stage::kTrain], 2);    // dp-ddpm, dp-edm x 1 seed
  EXPECT_EQ(per_stage[Stage::kDistill], 6);  // onedp-s/d x 2 teachers, cp, cp long
  // Runs x samplers: ddpm 3 + edm 3 + onedp 4 x 1 + cp 2 x 2 = 14, two blocks of 2 episodes each.
  EXPECT_EQ(per_stage[Stage::kEval], 28);
  EXPECT_EQ(methods.size(), 10u);  // DP (DDPM) x1, DP (DDIM) x2, DP (EDM) x3, CP x2, OneDP-S, OneDP-D
  // Keys are unique and every prerequisite comes earlier.
  const std::vector<std::string> all = Keys(p);
  const std::set<std::string> keys(all.begin(), all.end());
  EXPECT_EQ(keys.size(), p.items.size());
  for (size_t i = 0; i < p.items.size(); ++i) {
    for (int n : p.items[i].needs) EXPECT_LT(n, static_cast<int>(i));
  }
}

// The preset fixes the distillation schedules: cpu scales them to its 50-epoch teachers (OneDP
// and CP 5 epochs, CP long 20); tiny's are its distill section's epochs, with CP long 3.
TEST(PipelinePlan, RunPresetSetsTheDistillationSchedules) {
  auto epochs_of = [](const std::string& preset) {
    RunOptions o = Tiny(fs::temp_directory_path() / "onedp_plan");
    o.preset = preset;
    std::map<std::string, int> by_label;
    for (const auto& it : PlanRun(o).items) {
      if (it.stage == Stage::kDistill) by_label[it.label] = it.epochs;
    }
    return by_label;
  };
  const std::map<std::string, int> cpu = epochs_of("cpu");
  ASSERT_EQ(cpu.size(), 6u);
  EXPECT_EQ(cpu.at("distill onedp-s-from-dp-ddpm seed0"), 5);
  EXPECT_EQ(cpu.at("distill onedp-d-from-dp-edm seed0"), 5);
  EXPECT_EQ(cpu.at("distill cp-from-dp-edm seed0"), 5);
  EXPECT_EQ(cpu.at("distill cp-long-from-dp-edm seed0"), 20);
  const std::map<std::string, int> tiny = epochs_of("tiny");
  int every = 0;
  EXPECT_EQ(tiny.at("distill cp-from-dp-edm seed0"), DistillPresetConfig("tiny", &every).epochs);
  EXPECT_EQ(tiny.at("distill cp-long-from-dp-edm seed0"), 3);
}

TEST(PipelinePlan, ShardsCoverTheGridExactlyOnce) {
  RunOptions o = Tiny(fs::temp_directory_path() / "onedp_plan");
  o.train_seeds = {0, 1, 2};
  const RunPlan p = PlanRun(o);
  for (int n : {1, 2, 3, 5, 7}) {
    std::vector<int> seen(p.items.size(), 0);
    for (Stage s : {Stage::kCollect, Stage::kTrain, Stage::kDistill, Stage::kEval, Stage::kDynamic}) {
      for (int i = 0; i < n; ++i) {
        for (int j : ShardItems(p, s, i, n)) {
          EXPECT_EQ(p.items[j].stage, s);
          ++seen[j];
        }
      }
    }
    for (size_t j = 0; j < seen.size(); ++j) EXPECT_EQ(seen[j], 1) << "item " << j << " with " << n << " shards";
  }
}

TEST(PipelinePlan, KeysFollowTheInputs) {
  const RunOptions base = Tiny(fs::temp_directory_path() / "onedp_plan");
  const auto k0 = Keys(PlanRun(base));
  EXPECT_EQ(Keys(PlanRun(base)), k0);  // deterministic
  // Where the work directory is does not name the work.
  RunOptions moved = base;
  moved.work = "/elsewhere";
  EXPECT_EQ(Keys(PlanRun(moved)), k0);
  // More test episodes: the training runs' evaluations change, so everything does.
  RunOptions eps = base;
  eps.episodes = 6;
  const auto k1 = Keys(PlanRun(eps));
  for (size_t i = 1; i < 9; ++i) EXPECT_NE(k1[i], k0[i]);
  // Another dataset: every run.
  RunOptions data = base;
  data.dataset = "/tmp/other.hdf5";
  const auto k2 = Keys(PlanRun(data));
  for (size_t i = 0; i < 9; ++i) EXPECT_NE(k2[i], k0[i]);
  // Another seed list keeps seed 0's items and adds seed 1's.
  RunOptions seeds = base;
  seeds.train_seeds = {0, 1};
  const auto k3 = Keys(PlanRun(seeds));
  for (const auto& k : k0) EXPECT_NE(std::find(k3.begin(), k3.end(), k), k3.end());
}

TEST(PipelinePlan, BadInputIsRejected) {
  RunOptions o = Tiny(fs::temp_directory_path() / "onedp_plan");
  o.stage = "bake";
  EXPECT_THROW(PlanRun(o), std::invalid_argument);
  o = Tiny(fs::temp_directory_path() / "onedp_plan");
  o.preset = "huge";
  EXPECT_THROW(PlanRun(o), std::invalid_argument);
  int i = 0, n = 0;
  EXPECT_THROW(ParseShard("2/2", &i, &n), std::invalid_argument);
  EXPECT_THROW(ParseShard("1", &i, &n), std::invalid_argument);
  EXPECT_THROW(ParseShard("a/3", &i, &n), std::invalid_argument);
  ParseShard("1/3", &i, &n);
  EXPECT_EQ(i, 1);
  EXPECT_EQ(n, 3);
}

// The dynamic stage's grid: every run x sampler x condition (each exec mode without and with each
// perturbation the task declares, at the preset's latency) x block, plus the delay sweep; keys
// unique, prerequisites the runs, shards covering it once, and no stage without the preset section.
TEST(PipelinePlan, DynamicItemsFollowThePresetAndTheTask) {
  const fs::path root = fs::temp_directory_path() / "onedp_plan_dynamic";
  const RunPlan p = PlanRun(Tiny(root));
  ASSERT_TRUE(p.preset.dynamic.enabled);
  const DynamicPreset& dp = p.preset.dynamic;
  const std::vector<std::string>& perturbations = FindTask("pusht").info.perturbations;
  ASSERT_EQ(perturbations, (std::vector<std::string>{"move", "reset"}));
  std::map<std::string, int> conditions;  // "latency exec perturbation" or "sweep x exec" -> items
  std::set<std::string> keys, paths;
  int pairs = 0;
  for (const auto& it : p.items) {
    if (it.stage == Stage::kEval && it.block_start == 0) ++pairs;
    if (it.stage != Stage::kDynamic) continue;
    ASSERT_EQ(it.needs.size(), 1u);
    const WorkItem& run = p.items[it.needs[0]];
    EXPECT_TRUE(run.stage == Stage::kTrain || run.stage == Stage::kDistill) << it.label;
    EXPECT_EQ(it.source, it.needs[0]);
    EXPECT_EQ(it.block_count, dp.episode_block);
    EXPECT_EQ(fs::path(it.path).parent_path(), fs::path(run.path) / "dynamic") << it.path;
    keys.insert(it.key);
    paths.insert(it.path);
    const std::string c = it.delay_multiple >= 0 ? "sweep " + std::to_string(it.delay_multiple) + " " + it.exec
                                                 : it.latency + " " + it.exec + " " + it.perturbation;
    ++conditions[c];
  }
  EXPECT_EQ(pairs, 14);  // the eval stage's run x sampler pairs
  // 2 exec modes x (none, move, reset) + 3 sweep points, one block each, per pair.
  ASSERT_EQ(conditions.size(), 9u);
  for (const auto& [c, n] : conditions) EXPECT_EQ(n, pairs) << c;
  EXPECT_EQ(conditions.count("v100-paper async reset"), 1u);
  EXPECT_EQ(conditions.count("v100-paper sync "), 1u);
  EXPECT_EQ(conditions.count("sweep 2.000000 sync"), 1u);
  EXPECT_EQ(keys.size(), static_cast<size_t>(9 * pairs));
  EXPECT_EQ(paths.size(), keys.size());
  // Shards cover the stage exactly once.
  std::multiset<int> covered;
  for (int s = 0; s < 4; ++s) {
    for (int i : ShardItems(p, Stage::kDynamic, s, 4)) covered.insert(i);
  }
  EXPECT_EQ(covered.size(), keys.size());
  EXPECT_EQ(std::set<int>(covered.begin(), covered.end()).size(), keys.size());
  // The keys follow the latency model and the sweep; without the section there is no stage.
  fs::create_directories(root);
  nlohmann::json tiny = LoadPreset("tiny").json;
  // (Each file is named tiny.json, in its own folder: the preset's name enters the runs' keys.)
  const auto write = [&](const nlohmann::json& j, const std::string& name) {
    fs::create_directories(root / name);
    const fs::path f = root / name / "tiny.json";
    std::ofstream(f) << j.dump();
    RunOptions o = Tiny(root);
    o.preset = f.string();
    return o;
  };
  std::set<std::string> same_keys;
  for (const auto& it : PlanRun(write(tiny, "same")).items) {
    if (it.stage == Stage::kDynamic) same_keys.insert(it.key);
  }
  EXPECT_EQ(same_keys, keys);
  nlohmann::json fixed = tiny;
  fixed["dynamic"]["latency"] = "fixed:200";
  std::set<std::string> fixed_keys;
  for (const auto& it : PlanRun(write(fixed, "fixed")).items) {
    if (it.stage == Stage::kDynamic) fixed_keys.insert(it.key);
  }
  std::vector<std::string> common;
  std::set_intersection(keys.begin(), keys.end(), fixed_keys.begin(), fixed_keys.end(), std::back_inserter(common));
  EXPECT_EQ(common.size(), static_cast<size_t>(3 * pairs));  // only the sweep's items stay
  nlohmann::json none = tiny;
  none.erase("dynamic");
  for (const auto& it : PlanRun(write(none, "static")).items) EXPECT_NE(it.stage, Stage::kDynamic) << it.label;
  fs::remove_all(root);
}

// Bad dynamic sections are refused with the valid values named.
TEST(PipelinePlan, BadDynamicPresetIsRejected) {
  const fs::path root = fs::temp_directory_path() / "onedp_plan_dynamic_bad";
  fs::create_directories(root);
  const nlohmann::json tiny = LoadPreset("tiny").json;
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"latency", "measured"}}, "not deterministic"},
      {{{"latency", "none"}}, "eval stage"},
      {{{"latency", "fixed:-3"}}, "fixed:MS"},
      {{{"latency", "a100"}}, "v100-paper"},
      {{{"exec", {"sync", "later"}}}, "sync, async"},
      {{{"episodes", 0}}, "episodes"},
      {{{"delay_sweep", {-1}}}, "delay_sweep"},
      {{{"perturb", "spin"}}, "valid fields in dynamic"},
  };
  int k = 0;
  for (const auto& [patch, expect] : cases) {
    nlohmann::json j = tiny;
    j["dynamic"].update(patch);
    const fs::path f = root / ("bad" + std::to_string(k++) + ".json");
    std::ofstream(f) << j.dump();
    RunOptions o = Tiny(root);
    o.preset = f.string();
    try {
      PlanRun(o);
      ADD_FAILURE() << patch.dump() << ": accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << patch.dump() << ": " << e.what();
    }
  }
  fs::remove_all(root);
}

// A task's facts come without constructing it and equal the constructed task's; the policy spec
// built from them is DP's (PushT: image + agent_pos or keypoints; robomimic: cameras or the object
// vector, then per robot eef_pos, eef_quat (not normalised), gripper_qpos).
TEST(TaskInfo, RegistryFactsAndPolicySpecs) {
  const auto keys = [](const PolicySpec& s) {
    std::vector<std::string> v;
    for (const auto& k : s.obs) v.push_back(k.key + ":" + k.norm + (k.is_image ? ":image" : ""));
    return v;
  };
  for (const std::string name : {"pusht", "square-ph", "transport-mh"}) {
    const TaskInfo& info = FindTask(name).info;
    const TaskSpec spec = MakeTask(name)->spec();
    EXPECT_EQ(spec.info.display_name, info.display_name) << name;
    EXPECT_EQ(spec.info.action_key, info.action_key) << name;
    EXPECT_EQ(spec.info.action_norm, info.action_norm) << name;
    EXPECT_EQ(spec.info.perturbations, info.perturbations) << name;
  }
  EXPECT_EQ(FindTask("pusht").info.perturbations, (std::vector<std::string>{"move", "reset"}));
  const TaskInfo& pusht = FindTask("pusht").info;
  EXPECT_EQ(pusht.display_name, "PushT");
  EXPECT_EQ(pusht.metric, TaskMetric::kScore);
  EXPECT_EQ(pusht.metric_label, "score (max coverage reward)");
  EXPECT_EQ(pusht.action_key, "actions");
  EXPECT_EQ(FindTask("square-ph").info.metric, TaskMetric::kSuccessRate);
  EXPECT_EQ(FindTask("square-ph").info.action_key, "actions_abs");
  EXPECT_EQ(FindTask("tool-hang-ph").info.display_name, "ToolHang-ph");

  const TaskSpec p = MakeTask("pusht")->spec();
  EXPECT_EQ(keys(PolicySpecForTask(p, "image")), (std::vector<std::string>{"image:identity:image", "agent_pos:limits"}));
  EXPECT_EQ(keys(PolicySpecForTask(p, "lowdim")), (std::vector<std::string>{"keypoints:limits"}));
  EXPECT_EQ(PolicySpecForTask(p, "lowdim").action_norm, (std::vector<std::string>{"limits", "limits"}));
  EXPECT_EQ(PolicySpecForTask(p, "image").crop, 84);
  EXPECT_THROW(PolicySpecForTask(p, "depth"), std::invalid_argument);

  const TaskSpec sq = MakeTask("square-ph")->spec();
  const std::vector<std::string> robot0 = {"robot0_eef_pos:limits", "robot0_eef_quat:identity",
                                           "robot0_gripper_qpos:limits"};
  std::vector<std::string> want = {"object:limits"};
  want.insert(want.end(), robot0.begin(), robot0.end());
  EXPECT_EQ(keys(PolicySpecForTask(sq, "lowdim")), want);
  want = {"agentview_image:identity:image", "robot0_eye_in_hand_image:identity:image"};
  want.insert(want.end(), robot0.begin(), robot0.end());
  EXPECT_EQ(keys(PolicySpecForTask(sq, "image")), want);
  const PolicySpec sqs = PolicySpecForTask(sq, "image");
  EXPECT_EQ(sqs.crop, 76);
  EXPECT_EQ(sqs.action_dim, 10);
  EXPECT_EQ(sqs.action_norm, (std::vector<std::string>{"limits", "limits", "limits", "identity", "identity",
                                                       "identity", "identity", "identity", "identity", "identity"}));

  const PolicySpec tr = PolicySpecForTask(MakeTask("transport-ph")->spec(), "lowdim");
  want = {"object:limits"};
  want.insert(want.end(), robot0.begin(), robot0.end());
  for (const std::string k : {"robot1_eef_pos:limits", "robot1_eef_quat:identity", "robot1_gripper_qpos:limits"}) {
    want.push_back(k);
  }
  EXPECT_EQ(keys(tr), want);
  EXPECT_EQ(tr.action_dim, 20);
  EXPECT_EQ(tr.action_norm.size(), 20u);
}

// The policies' facts the grid and the tables read (policies/policy_info.h).
TEST(PolicyInfo, SamplersNfeAndNames) {
  EXPECT_EQ(FindPolicyInfo("dp-edm").Nfe("edm:18"), 35);  // Heun: 2N - 1
  EXPECT_EQ(FindPolicyInfo("dp-ddpm").Nfe("ddpm:100"), 100);
  EXPECT_EQ(FindPolicyInfo("dp-ddpm").Nfe("ddim:10"), 10);
  EXPECT_EQ(FindPolicyInfo("onedp-s").Nfe("onestep"), 1);
  EXPECT_EQ(FindPolicyInfo("cp").Nfe("cp:3"), 3);
  EXPECT_THROW(FindPolicyInfo("dp-edm").Nfe("euler:3"), std::invalid_argument);
  EXPECT_THROW(FindPolicyInfo("cp").Nfe("ddim:10"), std::invalid_argument);
  EXPECT_THROW(FindPolicyInfo("dp-xyz"), std::invalid_argument);
  EXPECT_EQ(FindPolicyInfo("dp-ddpm").samplers, (std::vector<std::string>{"ddpm:100", "ddim:10", "ddim:1"}));
  EXPECT_EQ(FindPolicyInfo("dp-edm").samplers, (std::vector<std::string>{"edm:18", "edm:10", "edm:1"}));
  EXPECT_EQ(FindPolicyInfo("cp").samplers, (std::vector<std::string>{"cp:1", "cp:3"}));
  EXPECT_EQ(FindPolicyInfo("onedp-d").samplers, (std::vector<std::string>{"onestep"}));
  EXPECT_EQ(FindPolicyInfo("dp-ddpm").training_eval_sampler, "ddim:10");
  EXPECT_EQ(FindPolicyInfo("dp-edm").training_eval_sampler, "edm:10");
  EXPECT_EQ(FindPolicyInfo("cp").training_eval_sampler, "cp:1");
  EXPECT_EQ(FindPolicyInfo("onedp-s").training_eval_sampler, "onestep");
  EXPECT_EQ(FindPolicyInfo("dp-ddpm").MethodName("ddpm:100"), "DP (DDPM)");
  EXPECT_EQ(FindPolicyInfo("dp-ddpm").MethodName("ddim:1"), "DP (DDIM)");
  EXPECT_EQ(FindPolicyInfo("dp-edm").MethodName("edm:1"), "DP (EDM)");
  EXPECT_EQ(FindPolicyInfo("onedp-s").MethodName("onestep"), "OneDP-S");
  EXPECT_EQ(FindPolicyInfo("onedp-d").MethodName("onestep"), "OneDP-D");
  EXPECT_EQ(FindPolicyInfo("cp").MethodName("cp:3"), "CP");
  EXPECT_EQ(PolicyOfMethod("DP (DDIM)"), &FindPolicyInfo("dp-ddpm"));
  EXPECT_EQ(PolicyOfMethod("nope"), nullptr);
  // The paper's row order.
  const std::vector<std::string> order = {"DP (DDPM)", "DP (DDIM)", "DP (EDM)", "CP", "OneDP-D", "OneDP-S"};
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(MethodRank(order[i]), static_cast<int>(i)) << order[i];
  EXPECT_EQ(MethodRank("something else"), static_cast<int>(order.size()));
  EXPECT_FALSE(FindPolicyInfo("dp-edm").distilled());
  EXPECT_EQ(FindPolicyInfo("cp").teachers, (std::vector<std::string>{"dp-edm"}));
}

std::string Slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A CSV's rows, each as column name -> cell, in file order.
std::vector<std::map<std::string, std::string>> CsvRows(const fs::path& csv) {
  std::ifstream f(csv);
  std::string line;
  std::getline(f, line);
  const std::vector<std::string> header = SplitCsv(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(f, line)) {
    const std::vector<std::string> v = SplitCsv(line);
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < header.size(); ++i) r[header[i]] = i < v.size() ? v[i] : "";
    rows.push_back(r);
  }
  return rows;
}

// The rows that must agree between two runs of the same grid (all fields but provenance that
// names the machine state: identical here anyway, but keep the comparison about numbers).
std::vector<std::string> Numbers(const fs::path& evals) {
  std::vector<std::string> out;
  for (const auto& r : ReadEvalRows(evals.string())) {
    std::ostringstream o;
    o << r.table << '|' << r.method << '|' << r.epochs << '|' << r.nfe << '|' << r.sampler << '|' << r.train_seed
      << '|' << r.epoch << '|' << r.episodes << '|' << r.success << '|' << r.score << '|' << r.config_hash;
    out.push_back(o.str());
  }
  return out;
}

// dynamic.csv's rows by column name, without the timing and provenance columns (which differ
// between runs of the same items).
std::vector<std::map<std::string, std::string>> DynamicRows(const fs::path& csv) {
  std::ifstream f(csv);
  std::string line;
  std::getline(f, line);
  const std::vector<std::string> header = SplitCsv(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(f, line)) {
    const std::vector<std::string> v = SplitCsv(line);
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < header.size() && i < v.size(); ++i) {
      if (header[i].find("seconds") == std::string::npos && header[i] != "git_commit") r[header[i]] = v[i];
    }
    rows.push_back(r);
  }
  return rows;
}

// The tiny grid's dynamic stage: one row per run x sampler x condition, each method delayed by its
// own NFE's v100-paper latency, the sweep by round(x Ta) steps, and d = 0 the static protocol.
void CheckDynamic(const RunPlan& plan, const std::string& log) {
  const fs::path results(plan.results);
  ASSERT_TRUE(fs::exists(results / "dynamic.csv")) << log;
  const auto rows = DynamicRows(results / "dynamic.csv");
  EXPECT_EQ(rows.size(), 14u * 9u);
  const double hz = MakeTask("pusht")->spec().control_hz;
  const LatencyModel v100 = ParseLatency("v100-paper");
  std::set<std::string> conditions;
  for (const auto& r : rows) {
    conditions.insert(r.at("condition"));
    EXPECT_EQ(r.at("episodes"), "2");
    EXPECT_EQ(r.at("task"), "pusht");
    const double delay = std::stod(r.at("delay_steps"));
    if (r.at("delay_multiple").empty()) {
      EXPECT_EQ(r.at("latency"), "v100-paper");
      EXPECT_EQ(delay, DelaySteps(v100.Milliseconds(std::stoi(r.at("nfe"))), hz)) << r.at("method") << " " << r.at("sampler");
    } else {
      EXPECT_EQ(delay, std::round(std::stod(r.at("delay_multiple")) * std::stoi(r.at("chunk_steps")))) << r.at("condition");
    }
    const int touched = std::stoi(r.at("perturbation_applied")) + std::stoi(r.at("perturbation_skipped"));
    if (r.at("perturbation") == "none") {
      EXPECT_EQ(touched, 0);
    } else {
      EXPECT_LE(touched, 2);
    }
  }
  EXPECT_EQ(conditions.size(), 9u);
  EXPECT_TRUE(conditions.count("v100-paper async move"));
  EXPECT_TRUE(conditions.count("delay 2x sync"));
  // Delay 0 is the static protocol: the first eval block's episodes, bit for bit.
  int compared = 0;
  for (const auto& it : plan.items) {
    if (it.stage != Stage::kDynamic || it.delay_multiple != 0) continue;
    for (const auto& e : plan.items) {
      if (e.stage != Stage::kEval || e.source != it.source || e.sampler != it.sampler || e.block_start != 0) continue;
      const auto cells = [](const std::string& path) {
        std::vector<std::string> out;
        std::ifstream f(path);
        std::string line;
        std::getline(f, line);
        while (std::getline(f, line)) {
          const auto v = SplitCsv(line);
          out.push_back(v.at(0) + "," + v.at(1) + "," + v.at(2) + "," + v.at(3));  // seed, success, score, steps
        }
        return out;
      };
      EXPECT_EQ(cells(it.path), cells(e.path)) << it.label;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 14);
  // The cost per env step: each row's static steps per episode are its eval blocks' mean steps.
  std::map<std::string, std::pair<double, int>> eval_steps;  // run key|sampler -> (steps, episodes)
  for (const auto& e : plan.items) {
    if (e.stage != Stage::kEval) continue;
    std::ifstream f(e.path);
    std::string line;
    std::getline(f, line);
    auto& acc = eval_steps[plan.items[e.source].key + "|" + e.sampler];
    while (std::getline(f, line)) {
      acc.first += std::stod(SplitCsv(line).at(3));
      ++acc.second;
    }
  }
  for (const auto& r : rows) {
    EXPECT_GT(std::stod(r.at("steps_per_episode")), 0) << r.at("condition");
    const auto& acc = eval_steps.at(r.at("config_hash") + "|" + r.at("sampler"));
    EXPECT_NEAR(std::stod(r.at("static_steps_per_episode")), acc.first / acc.second, 0.006) << r.at("sampler");
  }
  const std::string md = Slurp(results / "dynamic.md");
  for (const char* s : {"| sync + move |", "| async + reset |", "Avg", "| 2x |", "### Cost", "dynamic.png",
                        "| ratio per env step (mean, max) |"}) {
    EXPECT_NE(md.find(s), std::string::npos) << s << "\n" << md;
  }
  EXPECT_TRUE(fs::exists(results / "dynamic.png"));
  EXPECT_NE(Slurp(results / "README.md").find("Latency-aware evaluation (dynamic stage)"), std::string::npos);
}

TEST(PipelineRun, TinyEndToEndShardsCacheAndResume) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_e2e";
  fs::remove_all(root);
  fs::create_directories(root);
  std::ostringstream log;

  // Unsharded, all stages.
  RunOptions a = Tiny(root / "a");
  a.dataset = (root / "pusht.hdf5").string();
  const RunSummary first = RunPipeline(a, log);
  const RunPlan plan = PlanRun(a);
  EXPECT_EQ(first.ran, static_cast<int>(plan.items.size()));
  EXPECT_EQ(first.skipped, 0);
  const fs::path evals_a = fs::path(a.results) / "evals.csv";
  ASSERT_TRUE(fs::exists(evals_a)) << log.str();
  const auto rows = ReadEvalRows(evals_a.string());
  std::set<std::string> methods;
  for (const auto& r : rows) {
    methods.insert(r.method);
    EXPECT_FALSE(r.config_hash.empty());
    EXPECT_FALSE(r.git_commit.empty());
    EXPECT_NE(r.versions.find("torch"), std::string::npos);
    // The CPU model too: float results can differ between CPU models.
    EXPECT_NE(r.versions.find("; cpu " + CpuModel()), std::string::npos) << r.versions;
    EXPECT_EQ(r.device, "cpu");
  }
  EXPECT_EQ(methods, (std::set<std::string>{"CP", "DP (DDIM)", "DP (DDPM)", "DP (EDM)", "OneDP-D", "OneDP-S"}));
  for (const char* f : {"table1.md", "table2.md", "table1_peak.csv", "table2_final.csv", "convergence.csv",
                        "latency.md", "latency.csv", "cost.md", "cost.csv", "README.md"}) {
    EXPECT_TRUE(fs::exists(fs::path(a.results) / f)) << f;
  }
  EXPECT_NE(Slurp(fs::path(a.results) / "table2.md").find("CP"), std::string::npos);
  // Cost shares come from CPU time (every run here recorded it), which other jobs do not inflate.
  EXPECT_NE(Slurp(fs::path(a.results) / "cost.md").find("% (cpu)"), std::string::npos);
  EXPECT_EQ(Slurp(fs::path(a.results) / "cost.csv").find(",wall\n"), std::string::npos);
  const auto numbers_a = Numbers(evals_a);
  CheckDynamic(plan, log.str());
  // In-training evaluations stop short of the last epoch: the eval stage rolls out that checkpoint
  // on the same seeds with every sampler, and its rows are the ones kept.
  for (const WorkItem& it : plan.items) {
    if (it.stage != Stage::kDistill) continue;
    EXPECT_TRUE(fs::exists(fs::path(it.path) / "eval_epoch1.csv")) << it.label;
    EXPECT_FALSE(fs::exists(fs::path(it.path) / ("eval_epoch" + std::to_string(it.epochs) + ".csv"))) << it.label;
    EXPECT_EQ(ReadJson((fs::path(it.path) / "run.json").string()).at("eval").value("last_epoch", true), false);
  }
  std::set<std::string> with_final;
  for (const auto& r : rows) {
    if (r.epoch == r.epochs) with_final.insert(r.method);
  }
  EXPECT_EQ(with_final, methods);
  const auto dynamic_a = DynamicRows(fs::path(a.results) / "dynamic.csv");

  // Rerun: everything cached.
  const RunSummary again = RunPipeline(a, log);
  EXPECT_EQ(again.ran, 0);
  EXPECT_EQ(again.skipped, static_cast<int>(plan.items.size()));
  EXPECT_EQ(Numbers(evals_a), numbers_a);

  // Simulated kill: an eval block whose CSV was written but not its marker, and a distillation
  // that stopped before its done marker. Only those two items run again; the numbers are the same.
  int eval_i = -1, distill_i = -1;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    if (plan.items[i].stage == Stage::kEval) eval_i = i;
    if (plan.items[i].stage == Stage::kDistill && distill_i < 0) distill_i = i;
  }
  fs::remove(plan.items[eval_i].path + ".json");
  fs::remove(fs::path(plan.items[distill_i].path) / "done.json");
  const RunSummary resumed = RunPipeline(a, log);
  EXPECT_EQ(resumed.ran, 2);
  EXPECT_EQ(Numbers(evals_a), numbers_a);

  // Sharded, stage by stage (as the Slurm arrays run it), into another work tree: same numbers.
  RunOptions b = Tiny(root / "b");
  b.dataset = a.dataset;
  RunOptions m = b;
  m.stage = "merge";
  for (const std::string stage : {"collect", "train", "distill", "eval", "dynamic"}) {
    for (int i = 0; i < 3; ++i) {
      RunOptions s = b;
      s.stage = stage;
      s.shard = i;
      s.shards = 3;
      RunPipeline(s, log);
    }
    if (stage == "eval") {
      // Before the dynamic stage: no dynamic files, and the README says the stage is not run.
      RunPipeline(m, log);
      EXPECT_FALSE(fs::exists(fs::path(b.results) / "dynamic.csv"));
      EXPECT_FALSE(fs::exists(fs::path(b.results) / "dynamic.md"));
      EXPECT_NE(Slurp(fs::path(b.results) / "README.md").find("Not run: none of its"), std::string::npos);
    }
  }
  RunPipeline(m, log);
  EXPECT_EQ(Numbers(fs::path(b.results) / "evals.csv"), numbers_a);
  EXPECT_EQ(DynamicRows(fs::path(b.results) / "dynamic.csv"), dynamic_a);

  // A fresh machine: the runs are gone, the results (committed) stay. A merge keeps the previous
  // rows, latency table and cost rows of the runs that are not here instead of emptying the tables.
  const std::string latency_b = Slurp(fs::path(b.results) / "latency.md");
  const std::string cost_b = Slurp(fs::path(b.results) / "cost.md");
  ASSERT_FALSE(latency_b.empty());
  fs::remove_all(b.work);
  std::ostringstream fresh_log;
  RunPipeline(m, fresh_log);
  EXPECT_EQ(Numbers(fs::path(b.results) / "evals.csv"), numbers_a) << fresh_log.str();
  EXPECT_EQ(Slurp(fs::path(b.results) / "latency.md"), latency_b);
  EXPECT_EQ(DynamicRows(fs::path(b.results) / "dynamic.csv"), dynamic_a);
  // Cost: every run keeps its line and its share (seconds are re-read from the CSV's one decimal).
  const std::string cost_fresh = Slurp(fs::path(b.results) / "cost.md");
  for (const auto& it : PlanRun(b).items) {
    if (it.stage != Stage::kTrain && it.stage != Stage::kDistill) continue;
    const std::string name = fs::path(it.path).filename().string();
    EXPECT_NE(cost_fresh.find("| " + name + " |"), std::string::npos) << name << "\n" << cost_fresh;
  }
  const auto shares = [](const std::string& md) {
    std::vector<std::string> out;
    for (size_t at = md.find(" % ("); at != std::string::npos; at = md.find(" % (", at + 1)) {
      out.push_back(md.substr(md.rfind("| ", at), at - md.rfind("| ", at)));
    }
    return out;
  };
  EXPECT_EQ(shares(cost_fresh), shares(cost_b));
  EXPECT_EQ(shares(cost_b).size(), 6u);
  const std::string readme_fresh = Slurp(fs::path(b.results) / "README.md");
  EXPECT_NE(readme_fresh.find("evaluation rows come from the previous merge"), std::string::npos) << readme_fresh;
  // ... naming the runs they belong to, and no cell is missing although no run is on the machine.
  EXPECT_NE(readme_fresh.find("train dp-ddpm seed0"), std::string::npos) << readme_fresh;
  EXPECT_NE(readme_fresh.find("every cell has results"), std::string::npos) << readme_fresh;
  EXPECT_NE(fresh_log.str().find("rows kept from the previous merge"), std::string::npos) << fresh_log.str();

  // A stage whose prerequisites are missing says which stage to run first.
  RunOptions c = Tiny(root / "c");
  c.dataset = a.dataset;
  c.stage = "distill";
  try {
    RunPipeline(c, log);
    ADD_FAILURE() << "distill without teachers ran";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--stage train"), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}

// Stage all on one shard of two, with the other shard never started: the shard runs every item it
// can (those whose prerequisites are its own), not only those before the first one it must wait
// for, then gives up after --wait naming the other shard's item.
TEST(PipelineRun, AShardWorksOnWhileAnotherComputesWhatItNeeds) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_shard_order";
  fs::remove_all(root);
  RunOptions o = Tiny(root);
  o.shard = 0;
  o.shards = 2;
  o.wait_seconds = 1;
  std::ostringstream log;
  std::string error;
  try {
    RunPipeline(o, log);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  const RunPlan plan = PlanRun(o);
  int teacher_here = -1, teacher_there = -1;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage == Stage::kTrain) (ItemDone(it) ? teacher_here : teacher_there) = i;
  }
  ASSERT_GE(teacher_here, 0) << log.str();
  ASSERT_GE(teacher_there, 0) << log.str();
  EXPECT_NE(error.find("'" + plan.items[teacher_there].label + "' is not done"), std::string::npos) << error;
  EXPECT_NE(log.str().find("waiting for '" + plan.items[teacher_there].label + "'"), std::string::npos);
  // Every item of this shard that needs nothing from the other one ran, whatever its grid position.
  std::vector<int> here;
  for (Stage st : {Stage::kCollect, Stage::kTrain, Stage::kDistill, Stage::kEval, Stage::kDynamic}) {
    for (int i : ShardItems(plan, st, 0, 2)) here.push_back(i);
  }
  const std::set<int> mine(here.begin(), here.end());
  std::function<bool(int)> needs_there = [&](int i) {  // on an item of the other shard, at any depth
    for (int n : plan.items[i].needs) {
      if (!mine.count(n) || needs_there(n)) return true;
    }
    return false;
  };
  int ran_after_a_wait = 0;
  bool blocked_seen = false;
  for (int i : here) {
    if (needs_there(i)) {
      blocked_seen = true;
      EXPECT_FALSE(ItemDone(plan.items[i])) << plan.items[i].label;
    } else {
      EXPECT_TRUE(ItemDone(plan.items[i])) << plan.items[i].label;
      if (blocked_seen) ++ran_after_a_wait;
    }
  }
  EXPECT_GT(ran_after_a_wait, 0);
  fs::remove_all(root);
}

// --only keeps the named runs with their eval and dynamic blocks (and the dataset); an unknown name
// lists the valid ones; a selected item whose prerequisite is left out and not done stops the run
// naming the run to add, before anything is computed.
TEST(PipelineRun, OnlyKeepsTheNamedRunsAndTheirBlocks) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_only";
  fs::remove_all(root);
  RunOptions o = Tiny(root);
  o.only = {"dp-edm-seed0", "cp-long-from-dp-edm-seed0"};
  o.dry_run = true;
  std::ostringstream log;
  RunPipeline(o, log);
  const RunPlan plan = PlanRun(o);
  int listed = 0, expected = 0;
  for (const WorkItem& it : plan.items) {
    const std::string run = pipeline_internal::RunNameOf(plan, it);
    const bool kept = it.stage == Stage::kCollect || run == "dp-edm-seed0" || run == "cp-long-from-dp-edm-seed0";
    const bool in_log = log.str().find(" " + it.label + "  (") != std::string::npos;
    EXPECT_EQ(in_log, kept) << it.label;
    expected += kept;
    listed += in_log;
  }
  EXPECT_EQ(listed, expected);
  EXPECT_GT(expected, 3);  // the dataset, two runs and their blocks

  RunOptions bad = Tiny(root);
  bad.only = {"dp-edm"};
  try {
    PlanRun(bad);
    ADD_FAILURE() << "an unknown run was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("valid: dp-ddpm-seed0, dp-edm-seed0"), std::string::npos) << e.what();
  }

  fs::create_directories(root);
  std::ofstream(o.dataset) << "";  // the dataset item counts as done: nothing is collected
  RunOptions student = Tiny(root);
  student.only = {"onedp-d-from-dp-edm-seed0"};
  try {
    RunPipeline(student, log);
    ADD_FAILURE() << "a distillation ran without its teacher";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--only leaves it out: add --only dp-edm-seed0"), std::string::npos)
        << e.what();
  }
  fs::remove_all(root);
}

// Runs trained by hand (`harness train` / `distill`) with the grid's inputs are taken as its items:
// copied, marked done with where they came from, and not recomputed; other runs are refused.
TEST(PipelineRun, AdoptsMatchingRunsAndRefusesOthers) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_adopt";
  fs::remove_all(root);
  fs::create_directories(root);
  std::ostringstream log;
  RunOptions a = Tiny(root / "grid");
  a.stage = "collect";
  RunPipeline(a, log);

  TrainOptions t;
  t.task = "pusht";
  t.policy = "dp-ddpm";
  t.preset = "tiny";
  t.obs = "lowdim";  // the tiny grid's
  t.dataset = a.dataset;
  t.workers = 1;
  t.eval_every = -1;
  t.eval_episodes = 3;  // differs from the grid's 4 (no evaluation runs): does not change the weights
  t.out = (root / "manual" / "ddpm").string();
  RunTrain(t, log);
  TrainOptions other = t;
  other.seed = 7;
  other.eval_every = -1;
  other.out = (root / "manual" / "ddpm-seed7").string();
  RunTrain(other, log);
  DistillOptions d;
  d.teacher = t.out;
  d.method = "onedp-d";
  d.preset = "tiny";
  d.workers = 1;
  d.eval_every = -1;
  d.out = (root / "manual" / "onedp-d").string();
  RunDistill(d, log);

  const RunPlan plan = PlanRun(a);
  // A run of another seed matches nothing; the message names the differing field.
  try {
    AdoptRuns(plan, {other.out}, false, log);
    ADD_FAILURE() << "a seed-7 run was adopted into a seed-0 grid";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("/seed"), std::string::npos) << e.what();
  }
  // Dry run: nothing copied.
  EXPECT_EQ(AdoptRuns(plan, {t.out}, true, log), 1);
  // The distillation is listed first: teachers are still taken first.
  EXPECT_EQ(AdoptRuns(plan, {d.out, t.out}, false, log), 2) << log.str();
  const WorkItem* teacher = nullptr;
  const WorkItem* student = nullptr;
  for (const auto& it : plan.items) {
    if (it.stage == Stage::kTrain && it.policy == "dp-ddpm") teacher = &it;
    if (it.stage == Stage::kDistill && it.policy == "onedp-d" && plan.items[it.source].policy == "dp-ddpm") student = &it;
  }
  ASSERT_TRUE(teacher && student);
  ASSERT_TRUE(ItemDone(*teacher));
  ASSERT_TRUE(ItemDone(*student));
  EXPECT_EQ(Slurp(fs::path(teacher->path) / "checkpoint" / "weights.pt"), Slurp(fs::path(t.out) / "checkpoint" / "weights.pt"));
  const std::string marker = Slurp(fs::path(teacher->path) / "done.json");
  EXPECT_NE(marker.find("adopted_from"), std::string::npos);
  EXPECT_NE(marker.find("/eval"), std::string::npos) << marker;  // the ignored difference is recorded
  EXPECT_TRUE(fs::exists(t.out + "/run.json"));                  // the source is left in place
  // Adopting again is a no-op; the train stage now trains only DP-EDM.
  EXPECT_EQ(AdoptRuns(plan, {t.out}, false, log), 0);
  RunOptions train = a;
  train.stage = "train";
  const RunSummary s = RunPipeline(train, log);
  EXPECT_EQ(s.ran, 1);
  EXPECT_EQ(s.skipped, 1);
  fs::remove_all(root);
}

// cost.{md,csv} on a fixture of done markers with fixed times (no training): each run's steps,
// in-training evaluations, eval and dynamic blocks, core-hours and the task's total row, with wall
// time standing in for blocks recorded before CPU time was; then the same table from the previous
// merge's rows once the runs are gone.
TEST(PipelineMerge, CostTotalsOnAFixture) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_cost";
  fs::remove_all(root);
  const RunPlan plan = PlanRun(Tiny(root));
  fs::create_directories(plan.results);
  const auto write = [](const fs::path& path, const nlohmann::json& j) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << j.dump(1) << "\n";
  };
  // A done run: its marker and a checkpoint history of (wall, CPU, metrics) per epoch.
  const auto run = [&](const WorkItem& it, const std::vector<std::tuple<double, double, nlohmann::json>>& epochs) {
    nlohmann::json history = nlohmann::json::array();
    for (size_t e = 0; e < epochs.size(); ++e) {
      history.push_back({{"epoch", e + 1}, {"step", 3 * (e + 1)}, {"seconds", std::get<0>(epochs[e])},
                         {"cpu_seconds", std::get<1>(epochs[e])}, {"metrics", std::get<2>(epochs[e])}});
    }
    write(fs::path(it.path) / "checkpoint" / "train_state.json", {{"epoch", epochs.size()}, {"history", history}});
    write(fs::path(it.path) / "done.json", {{"key", it.key}, {"label", it.label}});
  };
  // A done eval / dynamic block; cpu < 0: a marker from before CPU time was recorded.
  const auto block = [&](const WorkItem& it, double wall, double cpu, const std::string& key) {
    nlohmann::json m = {{"key", key}, {"label", it.label}, {"seconds", wall}};
    if (cpu >= 0) m["cpu_seconds"] = cpu;
    write(pipeline_internal::DoneMarker(it), m);
  };
  int ddpm = -1, student = -1;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage == Stage::kTrain && it.policy == "dp-ddpm") ddpm = i;
    if (it.stage == Stage::kDistill && it.policy == "onedp-d" && it.source == ddpm) student = i;
  }
  ASSERT_GE(ddpm, 0);
  ASSERT_GE(student, 0);
  // DP-DDPM: 2 x (3600 s wall, 2880 s CPU), one in-training evaluation of 1080 s wall (no CPU).
  run(plan.items[ddpm], {{3600, 2880, nlohmann::json::object()}, {3600, 2880, {{"eval_seconds", 1080}}}});
  // OneDP-D from it: 2 x (1440, 1080), each epoch evaluated in 360 s wall, 540 s CPU.
  const nlohmann::json ev = {{"eval_seconds", 360}, {"eval_cpu_seconds", 540}};
  run(plan.items[student], {{1440, 1080, ev}, {1440, 1080, ev}});
  std::vector<int> ddpm_evals, student_evals, student_dynamic;
  int ddpm_dynamic = 0;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage == Stage::kEval && it.source == ddpm) ddpm_evals.push_back(i);
    if (it.stage == Stage::kEval && it.source == student) student_evals.push_back(i);
    if (it.stage == Stage::kDynamic && it.source == student) student_dynamic.push_back(i);
    if (it.stage == Stage::kDynamic && it.source == ddpm) ++ddpm_dynamic;
  }
  ASSERT_GE(ddpm_evals.size(), 3u);
  ASSERT_FALSE(student_evals.empty());
  ASSERT_FALSE(student_dynamic.empty());
  block(plan.items[ddpm_evals[0]], 432, -1, plan.items[ddpm_evals[0]].key);  // wall only
  block(plan.items[ddpm_evals[1]], 288, 504, plan.items[ddpm_evals[1]].key);
  block(plan.items[ddpm_evals[2]], 999, 999, "another-config");  // another item's marker: not counted
  block(plan.items[student_evals[0]], 180, 324, plan.items[student_evals[0]].key);
  block(plan.items[student_dynamic[0]], 216, 252, plan.items[student_dynamic[0]].key);

  const std::string md = pipeline_internal::WriteCost(plan);
  const auto csv_rows = CsvRows(fs::path(plan.results) / "cost.csv");
  ASSERT_EQ(csv_rows.size(), 3u) << md;  // the two done runs, then the total
  // The existing columns keep their meaning.
  const auto& d = csv_rows.at(0);
  EXPECT_EQ(d.at("run"), fs::path(plan.items[ddpm].path).filename().string());
  EXPECT_EQ(d.at("seconds"), "7200.0");
  EXPECT_EQ(d.at("cpu_seconds"), "5760.0");
  const auto& s = csv_rows.at(1);
  EXPECT_EQ(s.at("teacher_cpu_seconds"), "5760.0");
  EXPECT_EQ(s.at("fraction_of_teacher"), "0.3750");
  EXPECT_EQ(s.at("fraction_basis"), "cpu");
  // Per run: DP-DDPM 5760 + 1080 (wall) + 288 wall + 504 CPU, i.e. 432 + 504 = 936 for its blocks.
  EXPECT_EQ(d.at("training_evals"), "1");
  EXPECT_EQ(d.at("training_eval_cpu_seconds"), "");
  EXPECT_EQ(d.at("eval_blocks"), "2");
  EXPECT_EQ(d.at("eval_blocks_planned"), std::to_string(ddpm_evals.size()));
  EXPECT_EQ(d.at("eval_seconds"), "720.0");
  EXPECT_EQ(d.at("eval_cpu_seconds"), "");
  EXPECT_EQ(d.at("eval_core_seconds"), "936.0");
  EXPECT_EQ(d.at("dynamic_blocks"), "0");
  EXPECT_EQ(d.at("dynamic_blocks_planned"), std::to_string(ddpm_dynamic));
  EXPECT_EQ(d.at("core_hours"), "2.1600");  // (5760 + 1080 + 936) / 3600
  // OneDP-D: 2160 + 1080 + 324 + 252.
  EXPECT_EQ(s.at("training_eval_cpu_seconds"), "1080.0");
  EXPECT_EQ(s.at("eval_cpu_seconds"), "324.0");
  EXPECT_EQ(s.at("dynamic_blocks"), "1");
  EXPECT_EQ(s.at("dynamic_cpu_seconds"), "252.0");
  EXPECT_EQ(s.at("core_hours"), "1.0600");
  // The task: 5760 + 2160 + 2160 + 1260 + 252 = 11592 s.
  const auto& t = csv_rows.at(2);
  EXPECT_EQ(t.at("run"), "total");
  EXPECT_EQ(t.at("seconds"), "10080.0");
  EXPECT_EQ(t.at("cpu_seconds"), "7920.0");
  EXPECT_EQ(t.at("training_eval_core_seconds"), "2160.0");
  EXPECT_EQ(t.at("eval_blocks"), "3");
  EXPECT_EQ(t.at("eval_core_seconds"), "1260.0");
  EXPECT_EQ(t.at("dynamic_core_seconds"), "252.0");
  EXPECT_EQ(t.at("core_hours"), "3.2200");
  for (const char* text : {"| **total** | | 10080 | 7920 |", "| 3.22 |\n", "| Core-h |", "\nColumns: ",
                           "Task total: pre-training 5760 s + distillation 2160 s + in-training evaluations 2160 s "
                           "(part wall time) + evaluation blocks 1260 s (part wall time) + dynamic blocks 252 s = "
                           "3.22 core-hours",
                           "wall time stands in for it"}) {
    EXPECT_NE(md.find(text), std::string::npos) << text << "\n" << md;
  }
  // The wall-only blocks show CPU "-": DP-DDPM's row has "-" under both in-training and eval CPU.
  EXPECT_NE(md.find("| 1 | 1080 | - | 2/" + std::to_string(ddpm_evals.size()) + " | 720 | - |"), std::string::npos)
      << md;

  // A fresh machine: the runs are gone; the previous merge's rows give the same table.
  fs::remove_all(fs::path(plan.options.work));
  EXPECT_EQ(pipeline_internal::WriteCost(plan), md);
  fs::remove_all(root);
}

// The sub-goal table on a fixture: Transport's DP-DDPM with one sampler's blocks written with the
// milestones column and another's in the format before it; then the same table on a fresh machine.
TEST(PipelineMerge, MilestonesCountSubGoalsPerRunAndSampler) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_milestones";
  fs::remove_all(root);
  RunOptions o = Tiny(root);
  std::ostringstream log;
  EXPECT_EQ(pipeline_internal::WriteMilestones(PlanRun(o), log), "");  // PushT declares none
  o.task = "transport-ph";
  const RunPlan plan = PlanRun(o);
  const std::vector<std::string> names = FindTask(o.task).info.milestones;
  ASSERT_EQ(names.size(), 4u);
  int ddpm = -1;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    if (plan.items[i].stage == Stage::kTrain && plan.items[i].policy == "dp-ddpm") ddpm = i;
  }
  ASSERT_GE(ddpm, 0);
  std::map<std::string, std::vector<int>> blocks;  // sampler -> eval items of DP-DDPM
  std::vector<std::string> samplers;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage != Stage::kEval || it.source != ddpm) continue;
    if (!blocks.count(it.sampler)) samplers.push_back(it.sampler);
    blocks[it.sampler].push_back(i);
  }
  ASSERT_GE(samplers.size(), 2u);
  fs::create_directories(plan.items[ddpm].path);
  std::ofstream(fs::path(plan.items[ddpm].path) / "run.json") << "{}\n";  // the run is on this machine
  // First sampler: per block, episode e reached sub-goals 0..(e % 3) - 1 and success on e % 5 == 4.
  int episodes = 0, reached[4] = {0, 0, 0, 0}, successes = 0;
  for (int i : blocks.at(samplers[0])) {
    const WorkItem& it = plan.items[i];
    RolloutReport r;
    r.milestones = names;
    for (int e = 0; e < it.block_count; ++e) {
      EpisodeResult ep;
      ep.seed = 100000 + it.block_start + e;
      ep.success = e % 5 == 4;
      for (int m = 0; m < e % 3; ++m) ep.milestones |= 1u << m;
      if (ep.success) ep.milestones = 15u;
      for (int m = 0; m < 4; ++m) reached[m] += (ep.milestones >> m) & 1u;
      successes += ep.success;
      ++episodes;
      r.episodes.push_back(ep);
    }
    fs::create_directories(fs::path(it.path).parent_path());
    WriteRolloutCsv(r, it.path);
    std::ofstream(pipeline_internal::DoneMarker(it))
        << nlohmann::json({{"key", it.key}, {"epoch", 7}, {"versions", {{"git_commit", "abc"}}}}).dump() << "\n";
  }
  // Second sampler: a block CSV without the milestones column (written before sub-goals were recorded).
  for (int i : blocks.at(samplers[1])) {
    const WorkItem& it = plan.items[i];
    fs::create_directories(fs::path(it.path).parent_path());
    std::ofstream(it.path) << "seed,success,score,steps,error\n100000,0,0,700,\n";
    std::ofstream(pipeline_internal::DoneMarker(it))
        << nlohmann::json({{"key", it.key}, {"epoch", 7}, {"versions", {{"git_commit", "abc"}}}}).dump() << "\n";
  }
  const std::string md = pipeline_internal::WriteMilestones(plan, log);
  const auto rows = CsvRows(fs::path(plan.results) / "milestones.csv");
  ASSERT_EQ(rows.size(), 1u) << md;
  const auto& row = rows.at(0);
  EXPECT_EQ(row.at("sampler"), samplers[0]);
  EXPECT_EQ(row.at("method"), FindPolicyInfo("dp-ddpm").MethodName(samplers[0]));
  EXPECT_EQ(row.at("epoch"), "7");
  EXPECT_EQ(row.at("episodes"), std::to_string(episodes));
  EXPECT_EQ(row.at("successes"), std::to_string(successes));
  EXPECT_EQ(row.at("config_hash"), plan.items[ddpm].key);
  for (int m = 0; m < 4; ++m) EXPECT_EQ(row.at(names[m]), std::to_string(reached[m])) << names[m];
  EXPECT_GT(reached[0], reached[2]);  // the fixture tells the sub-goals apart
  const auto [lo, hi] = WilsonInterval(static_cast<double>(reached[0]) / episodes, episodes);
  const std::string cell = pipeline_internal::Fixed(static_cast<double>(reached[0]) / episodes, 2) + " [" +
                           pipeline_internal::Fixed(lo, 2) + ", " + pipeline_internal::Fixed(hi, 2) + "]";
  EXPECT_EQ(row.at("run"), "dp-ddpm-seed0");
  EXPECT_NE(md.find("| " + row.at("method") + " | dp-ddpm-seed0 | " + samplers[0] + " | " + std::to_string(episodes) +
                    " | " + cell + " |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("1 run x sampler groups have no row"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(fs::path(plan.results) / "milestones.md"));

  // A fresh machine: the run is gone; the previous merge's row stays.
  fs::remove_all(fs::path(plan.options.work));
  const std::string again = pipeline_internal::WriteMilestones(plan, log);
  EXPECT_EQ(CsvRows(fs::path(plan.results) / "milestones.csv"), rows);
  EXPECT_NE(again.find("1 rows come from the previous merge"), std::string::npos) << again;
  fs::remove_all(root);
}

// One OneDP-S (20 epochs) row of `task` with `score`, written as <dir>/evals.csv.
void WriteOneEvalRow(const fs::path& dir, const std::string& task, double score) {
  fs::create_directories(dir);
  EvalRow r;
  r.task = task;
  r.table = "table1";
  r.method = "OneDP-S";
  r.epochs = 20;
  r.nfe = 1;
  r.sampler = "onestep";
  r.epoch = 20;
  r.episodes = 50;
  r.score = score;
  r.config_hash = "h";
  r.git_commit = "g";
  r.device = "cpu";
  r.versions = "v";
  WriteEvalRows({r}, (dir / "evals.csv").string());
}

TEST(PipelineTables, SixColumnTableMarksMissingTasks) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_tables";
  fs::remove_all(root);
  WriteOneEvalRow(root / "cpu" / "pusht" / "cpu", "pusht", 0.75);
  TableOptions t;
  t.tasks = {"pusht", "square-ph"};
  t.results = (root / "cpu").string();
  t.out = (root / "out").string();
  std::ostringstream out;
  RunTables(t, out);
  const std::string md = Slurp(root / "out" / "table1.md");
  EXPECT_NE(md.find("0.750"), std::string::npos) << md;
  EXPECT_NE(md.find("| - |"), std::string::npos) << md;
  EXPECT_NE(out.str().find("no results for square-ph"), std::string::npos);
  t.tasks = {"pusht", "nope"};
  EXPECT_THROW(RunTables(t, out), std::invalid_argument);
  fs::remove_all(root);
}

TEST(PipelineTables, SeveralPresetsSitSideBySide) {
  const fs::path root = fs::temp_directory_path() / "onedp_pipeline_tables_presets";
  fs::remove_all(root);
  WriteOneEvalRow(root / "pusht" / "cpu", "pusht", 0.75);
  WriteOneEvalRow(root / "pusht" / "cpu-image", "pusht", 0.5);
  TableOptions t;
  t.tasks = {"pusht"};
  t.presets = {"cpu", "cpu-image"};
  t.results = root.string();
  std::ostringstream out;
  RunTables(t, out);  // default output: <results>/cpu+cpu-image
  const std::string md = Slurp(root / "cpu+cpu-image" / "table1.md");
  // one Avg per preset, never one across presets
  EXPECT_NE(md.find("| PushT (cpu) | PushT (cpu-image) | Avg (cpu) | Avg (cpu-image) |"), std::string::npos) << md;
  // each column its own row's score with its Wilson interval over 50 episodes (by hand: [0.615, 0.849],
  // [0.366, 0.634]), and each beside the paper's PushT number (OneDP-S, 1 NFE)
  EXPECT_NE(md.find("| 0.750 [0.62, 0.85] | 0.500 [0.37, 0.63] | 0.750 | 0.500 |"), std::string::npos) << md;
  EXPECT_NE(md.find("0.750 / "), std::string::npos) << md;
  EXPECT_NE(md.find("0.500 / "), std::string::npos) << md;
  const std::string csv = Slurp(root / "cpu+cpu-image" / "table1_peak.csv");
  EXPECT_NE(csv.find("pusht@cpu_mean"), std::string::npos) << csv;
  EXPECT_NE(csv.find("pusht@cpu-image_mean"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",avg@cpu,avg_tasks@cpu,avg@cpu-image,avg_tasks@cpu-image\n"), std::string::npos) << csv;
  t.presets = {"cpu", "nope"};
  EXPECT_THROW(RunTables(t, out), std::invalid_argument);
  fs::remove_all(root);
}

}  // namespace
}  // namespace onedp
