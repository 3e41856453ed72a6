// Presets: every setting of one benchmark scale in one JSON file, presets/<name>.json. Torch-free
// header.
//
// `harness train`, `harness distill` and `harness run` read the same file; a user adds a scale by
// adding a file (or passes `--preset path/to/mine.json`). Sections (each optional; an absent field
// keeps the default of the type that owns it):
//   description  one line for people
//   obs          "lowdim" | "image": the observation mode policies are trained on
//   networks     fields of a trained policy's config (unet, encoder, ...; registry.h PresetConfig)
//   networks_by_policy  {policy: fields}: merged over `networks` for that policy only
//   train        TrainConfig fields (trainer.h) + eval_every (epochs between in-training rollouts)
//   distill      DistillConfig loop fields (distill.h) + eval_every + long_epochs (the epochs of
//                the benchmark's long-schedule distillations, policy_info.h Distillation)
//   methods      {config_key: fields}: a distillation method's config over its defaults
//                ("onedp": OneDpOptions, "cp": CpOptions)
//   eval         episodes, episode_block, max_steps: the test rollouts (harness/pipeline.h)
//   run          train_seeds, collect_episodes, bench_repeats: the rest of `harness run`'s grid
//   dynamic      the latency-aware stage of `harness run` (harness/run_preset.h); absent: no stage
// A field the owning type does not have is rejected with the valid ones listed, when the preset
// is loaded by the part that owns the section (the policies check networks, train, distill and
// methods on load; the harness checks eval, run and dynamic).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onedp {

struct Preset {
  std::string name;  // the file's stem: "cpu" for presets/cpu.json, "mine" for path/to/mine.json
  std::string path;  // the file read
  nlohmann::json json;
  // A section of the file; an empty object when absent.
  nlohmann::json Section(const std::string& key) const;
};

// Where preset names are looked up: $ONEDP_PRESETS_DIR, else the repository's presets/.
std::string PresetsDir();
// The presets in PresetsDir(), by name, sorted.
std::vector<std::string> PresetNames();
// Throws std::invalid_argument listing the valid presets unless `preset` names or points to one.
void CheckPresetName(const std::string& preset);

// The preset `name_or_path` names (a bare name: PresetsDir()/<name>.json; anything with a '/' or
// ending in ".json": that file). Read and validated once per process, then shared. Throws
// std::invalid_argument for an unknown name (listing the valid ones), an unreadable or malformed
// file, or an unknown section or field.
const Preset& LoadPreset(const std::string& name_or_path);

// Merges `patch` into `base` field by field (objects recursively, other values replaced); every
// field of `patch` must exist in `base` with a compatible type, else std::invalid_argument names
// it as `where`.<field> and lists the valid fields there.
void MergeKnownFields(nlohmann::json& base, const nlohmann::json& patch, const std::string& where);

}  // namespace onedp
