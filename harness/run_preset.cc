// Resolving a preset's eval and run sections and the harness-facing parts of the others.

#include "harness/run_preset.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "policies/distill.h"
#include "policies/preset.h"
#include "policies/trainer.h"

namespace onedp {

RunPreset RunPresetFor(const std::string& name_or_path) {
  const Preset& preset = LoadPreset(name_or_path);
  nlohmann::json eval = {{"episodes", 50}, {"episode_block", 25}, {"max_steps", 0}};
  MergeKnownFields(eval, preset.Section("eval"), "eval");
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
  TrainPresetConfig(preset, &p.dp_eval_every);
  p.distill_epochs = DistillPresetConfig(preset, &p.distill_eval_every).epochs;
  p.long_epochs = DistillLongEpochs(preset);
  return p;
}

}  // namespace onedp
