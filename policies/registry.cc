#include "policies/registry.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "policies/consistency_policy.h"
#include "policies/distill.h"
#include "policies/diffusion_policy.h"
#include "policies/onedp_policy.h"
#include "policies/noise_schedule.h"
#include "policies/torch_policy.h"
#include "policies/trainer.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

constexpr int kFormat = 1;


void CheckPolicyName(const std::string& name) { FindPolicyInfo(name); }  // throws, listing the valid names

// The Diffusion Policy family ("family" of the config) a trained policy samples with.
std::string DpFamily(const std::string& policy) { return policy == "dp-edm" ? "edm" : "ddpm"; }

}  // namespace

nlohmann::json PresetConfig(const std::string& policy, const Preset& preset) {
  if (FindPolicyInfo(policy).distilled()) {
    throw std::invalid_argument(policy + " is distilled from a trained Diffusion Policy, not trained from "
                                "demonstrations: use `harness distill --teacher RUN --method " + policy + "`");
  }
  // Diffusion Policy's own defaults; a preset's networks sections override them.
  nlohmann::json c;
  c["family"] = DpFamily(policy);
  c["ddpm"] = {{"num_train_timesteps", 100}};
  // EDM teacher as CP trains it (boundary scaling, sigma_min 0.02, c_noise 250 ln sigma), but
  // sampling starts from N(0, sigma_max^2) as in EDM: CP's "reduced initial variance" N(0, 1)
  // collapses multimodal action distributions onto one mode (tests/sampler_test.cc).
  EdmConfig edm;
  edm.init_std = edm.sigma_max;
  c["edm"] = edm.ToJson();
  c["ema"] = {{"inv_gamma", 1.0}, {"power", 0.75}, {"max_value", 0.9999}};
  c["unet"] = {{"kernel_size", 5}, {"n_groups", 8}, {"down_dims", {256, 512, 1024}}, {"step_embed_dim", 128}};
  c["encoder"] = {{"backbone", "resnet18"}, {"num_keypoints", 32}, {"feature_dim", 64}};
  MergeKnownFields(c, preset.Section("networks"), "networks");
  const nlohmann::json by_policy = preset.Section("networks_by_policy");
  if (by_policy.contains(policy)) MergeKnownFields(c, by_policy.at(policy), "networks_by_policy." + policy);
  return c;
}

nlohmann::json PresetConfig(const std::string& policy, const std::string& preset) {
  return PresetConfig(policy, LoadPreset(preset));
}

void CheckPresetSections(const Preset& preset) {
  std::vector<std::string> trained;
  for (const PolicyInfo& p : RegisteredPolicies()) {
    if (!p.distilled()) trained.push_back(p.name);
  }
  const nlohmann::json by_policy = preset.Section("networks_by_policy");
  for (auto it = by_policy.begin(); it != by_policy.end(); ++it) {
    if (std::find(trained.begin(), trained.end(), it.key()) == trained.end()) {
      throw std::invalid_argument("networks_by_policy: '" + it.key() + "' is not a trained policy; valid: " +
                                  JoinNames(trained));
    }
  }
  for (const std::string& policy : trained) PresetConfig(policy, preset);
  int eval_every = 0;
  TrainPresetConfig(preset, &eval_every);
  DistillPresetConfig(preset, &eval_every);
  DistillLongEpochs(preset);
  const nlohmann::json methods = preset.Section("methods");
  std::vector<std::string> keys;
  for (const std::string& m : DistillMethods()) {
    const std::string& key = FindPolicyInfo(m).config_key;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    DistillMethodConfig(m, preset);
  }
  for (auto it = methods.begin(); it != methods.end(); ++it) {
    if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
      throw std::invalid_argument("methods: unknown method config '" + it.key() + "'; valid: " + JoinNames(keys));
    }
  }
}

nlohmann::json ConfigWithNetworksOf(const std::string& policy, const nlohmann::json& config) {
  if (FindPolicyInfo(policy).distilled()) throw std::invalid_argument(policy + " is not a trained policy");
  nlohmann::json c = config;
  c["family"] = DpFamily(policy);
  return c;
}

std::unique_ptr<Policy> CreatePolicy(const std::string& name, const PolicySpec& spec,
                                     const nlohmann::json& config, const Normalizer& normalizer,
                                     uint64_t seed) {
  CheckPolicyName(name);
  if (name == "onedp-s" || name == "onedp-d") return MakeOneDpPolicy(name, spec, config, normalizer, seed);
  if (name == "cp") return MakeConsistencyPolicy(name, spec, config, normalizer, seed);
  return MakeDiffusionPolicy(name, spec, config, normalizer, seed);
}

void WritePolicyFiles(const Policy& policy, const std::string& dir) {
  auto& t = AsTorchPolicy(const_cast<Policy&>(policy));
  const fs::path d(dir);
  nlohmann::json j = {{"format", kFormat},
                      {"name", policy.Name()},
                      {"spec", policy.spec().ToJson()},
                      {"config", policy.Config()},
                      {"normalizer", t.normalizer().ToJson()},
                      {"ema_steps", t.ema_steps()}};
  {
    std::ofstream f(d / "policy.json");
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + (d / "policy.json").string());
  }
  torch::serialize::OutputArchive archive;
  t.SaveWeights(archive);
  archive.save_to((d / "weights.pt").string());
}

void ReplaceDirectory(const std::string& from, const std::string& to) {
  const fs::path old = to + ".old";
  fs::remove_all(old);
  if (fs::exists(to)) fs::rename(to, old);
  fs::rename(from, to);
  fs::remove_all(old);
}

void SavePolicy(const Policy& policy, const std::string& dir) {
  const std::string tmp = dir + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  WritePolicyFiles(policy, tmp);
  ReplaceDirectory(tmp, dir);
}

void ReadPolicyWeights(TorchPolicy& policy, const std::string& dir) {
  const nlohmann::json j = ReadPolicyJson(dir);
  torch::serialize::InputArchive archive;
  archive.load_from((fs::path(dir) / "weights.pt").string(), policy.torch_device());
  policy.LoadWeights(archive);
  policy.set_ema_steps(j.value("ema_steps", int64_t{0}));
}

nlohmann::json ReadPolicyJson(const std::string& dir) {
  const fs::path p = fs::path(dir) / "policy.json";
  std::ifstream f(p);
  if (!f) throw std::invalid_argument("no saved policy at '" + dir + "' (missing " + p.string() + ")");
  nlohmann::json j;
  try {
    f >> j;
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot parse " + p.string() + ": " + e.what());
  }
  if (j.value("format", 0) != kFormat) {
    throw std::runtime_error(p.string() + ": unsupported format " + std::to_string(j.value("format", 0)));
  }
  return j;
}

std::unique_ptr<Policy> LoadPolicy(const std::string& dir, const std::string& device) {
  const nlohmann::json j = ReadPolicyJson(dir);
  const std::string name = j.at("name").get<std::string>();
  auto policy = CreatePolicy(name, PolicySpec::FromJson(j.at("spec")), j.at("config"),
                             Normalizer::FromJson(j.at("normalizer")), /*seed=*/0);
  policy->To(device);
  ReadPolicyWeights(AsTorchPolicy(*policy), dir);
  return policy;
}

std::string TorchVersion() { return TORCH_VERSION; }

}  // namespace onedp
