// Resolving a preset's eval and run sections and the harness-facing parts of the others.

#include "harness/run_preset.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "harness/latency.h"
#include "policies/distill.h"
#include "policies/preset.h"
#include "policies/trainer.h"
#include "tasks/task_registry.h"

namespace onedp {

namespace {

DynamicPreset DynamicPresetFor(const nlohmann::json& section, const std::string& where) {
  nlohmann::json d = {{"episodes", 50},      {"episode_block", 25},         {"latency", "v100-paper"},
                      {"exec", {"sync", "async"}}, {"delay_sweep", nlohmann::json::array()},
                      {"sweep_exec", "sync"}, {"sweep_episodes", 0}};
  MergeKnownFields(d, section, "dynamic");
  DynamicPreset p;
  p.enabled = true;
  p.episodes = d.at("episodes").get<int>();
  p.episode_block = d.at("episode_block").get<int>();
  p.latency = d.at("latency").get<std::string>();
  p.exec = d.at("exec").get<std::vector<std::string>>();
  p.delay_sweep = d.at("delay_sweep").get<std::vector<double>>();
  p.sweep_exec = d.at("sweep_exec").get<std::string>();
  p.sweep_episodes = d.at("sweep_episodes").get<int>();
  const std::string at = where + "dynamic.";
  if (p.episodes < 1 || p.episode_block < 1 || p.sweep_episodes < 0) {
    throw std::invalid_argument(at + "episodes and episode_block must be >= 1, sweep_episodes >= 0");
  }
  try {
    const LatencyModel latency = ParseLatency(p.latency);
    if (!latency.deterministic()) throw std::invalid_argument("'" + p.latency + "' is not deterministic");
    if (latency.kind == LatencyModel::Kind::kNone) throw std::invalid_argument("'none' is the eval stage's protocol");
    for (const std::string& e : p.exec) ParseExecMode(e);
    ParseExecMode(p.sweep_exec);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(at + "latency / exec: " + e.what() +
                                " (the stage's items must compute the same numbers on any machine: " + LatencyForms() +
                                " except none and measured)");
  }
  if (p.exec.empty()) throw std::invalid_argument(at + "exec is empty; valid modes: sync, async");
  for (double x : p.delay_sweep) {
    if (!(x >= 0 && x <= 100)) throw std::invalid_argument(at + "delay_sweep: multiples of the chunk length in [0, 100]");
  }
  return p;
}

// eval.every_by_task: every entry checked (a known task; train / distill epochs >= 0), then `task`'s
// applied to the cadences.
void ApplyEveryByTask(const nlohmann::json& by_task, const std::string& task, const std::string& where,
                      RunPreset* p) {
  if (!by_task.is_object()) throw std::invalid_argument(where + "eval.every_by_task must be an object");
  const std::string canonical = task.empty() ? "" : FindTask(task).name;
  for (auto it = by_task.begin(); it != by_task.end(); ++it) {
    const std::string at = "eval.every_by_task." + it.key();
    const TaskEntry* entry = nullptr;
    try {
      entry = &FindTask(it.key());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + at + ": " + e.what());
    }
    nlohmann::json every = {{"train", -1}, {"distill", -1}};
    MergeKnownFields(every, it.value(), at);
    for (const char* loop : {"train", "distill"}) {
      if (it.value().contains(loop) && every.at(loop).get<int>() < 0) {
        throw std::invalid_argument(where + at + "." + loop + " must be >= 0 (epochs between evaluations; 0: none)");
      }
    }
    if (entry->name != canonical) continue;
    if (every.at("train").get<int>() >= 0) p->dp_eval_every = every.at("train").get<int>();
    if (every.at("distill").get<int>() >= 0) p->distill_eval_every = every.at("distill").get<int>();
  }
}

}  // namespace

RunPreset RunPresetFor(const std::string& name_or_path, const std::string& task) {
  const Preset& preset = LoadPreset(name_or_path);
  nlohmann::json eval = {{"episodes", 50}, {"episode_block", 25}, {"max_steps", 0}};
  nlohmann::json eval_section = preset.Section("eval");
  const nlohmann::json by_task = eval_section.value("every_by_task", nlohmann::json::object());
  eval_section.erase("every_by_task");
  MergeKnownFields(eval, eval_section, "eval");
  nlohmann::json run = {{"train_seeds", {0}}, {"collect_episodes", 0}, {"bench_repeats", 5}};
  MergeKnownFields(run, preset.Section("run"), "run");

  RunPreset p;
  p.name = preset.name;
  p.train_seeds = run.at("train_seeds").get<std::vector<uint64_t>>();
  p.episodes = eval.at("episodes").get<int>();
  p.episode_block = eval.at("episode_block").get<int>();
  p.max_steps = eval.at("max_steps").get<int>();
  p.collect_episodes = run.at("collect_episodes").get<int>();
  p.bench_repeats = run.at("bench_repeats").get<int>();
  const std::string where = "preset " + preset.path + ": ";
  if (p.train_seeds.empty()) throw std::invalid_argument(where + "run.train_seeds is empty");
  if (p.episodes < 1 || p.episode_block < 1) throw std::invalid_argument(where + "eval.episodes and eval.episode_block must be >= 1");
  if (p.max_steps < 0 || p.collect_episodes < 0 || p.bench_repeats < 1) {
    throw std::invalid_argument(where + "eval.max_steps and run.collect_episodes must be >= 0, run.bench_repeats >= 1");
  }
  p.obs = preset.json.value("obs", std::string("lowdim"));
  if (preset.json.contains("dynamic")) p.dynamic = DynamicPresetFor(preset.Section("dynamic"), where);
  TrainPresetConfig(preset, &p.dp_eval_every);
  p.distill_epochs = DistillPresetConfig(preset, &p.distill_eval_every).epochs;
  p.long_epochs = DistillLongEpochs(preset);
  ApplyEveryByTask(by_task, task, where, &p);
  return p;
}

}  // namespace onedp
