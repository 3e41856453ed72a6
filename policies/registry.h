// Creating, saving and loading policies by name. Torch-free header.
//
// Registered policies (one explicit list in policy_info.cc, built here by name):
//   dp-ddpm  Diffusion Policy, epsilon-prediction DDPM (samplers ddpm:100, ddim:N)
//   dp-edm   Diffusion Policy, EDM-preconditioned x0 denoiser (sampler edm:N, Heun)
//   onedp-s  OneDP-S (sampler onestep), distilled from dp-ddpm or dp-edm (policies/distill.h)
//   onedp-d  OneDP-D (sampler onestep), likewise
//   cp       Consistency Policy (samplers cp:1, cp:3), distilled from dp-edm
// Students have no presets (PresetConfig throws): their config holds the teacher's.
// Presets (policies/preset.h, presets/*.json) size the networks: "tiny" (seconds; tests), "cpu"
// (a 2-core machine), "paper" (the paper's networks; GPU machines).
//
// A saved policy is a directory:
//   policy.json   {"format": 1, "name", "spec", "config", "normalizer", "ema_steps"}
//   weights.pt    libtorch archive: "model" and "ema" sub-archives (OneDP: "model" = generator,
//                 "score" = psi for onedp-s, "ema" when generator_ema > 0; CP: "model" =
//                 encoder + student U-Net, "target")
// written to <dir>.tmp and renamed into place.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/normalizer.h"
#include "policies/policy.h"
#include "policies/policy_info.h"
#include "policies/preset.h"

namespace onedp {

// The policies' names and facts: RegisteredPolicies() in policies/policy_info.h.

// The network configuration of `policy` under a preset (a name or path, policies/preset.h): DP's
// defaults with the preset's `networks` and `networks_by_policy.<policy>` fields merged in.
// Throws std::invalid_argument listing the valid names. The result may be edited before
// CreatePolicy.
nlohmann::json PresetConfig(const std::string& policy, const std::string& preset);
nlohmann::json PresetConfig(const std::string& policy, const Preset& preset);
// Throws std::invalid_argument unless every section the policies read (networks,
// networks_by_policy, train, distill, methods) holds only known fields (LoadPreset calls it).
void CheckPresetSections(const Preset& preset);

// The config of trained policy `policy` on the networks of `config` (another trained policy's),
// e.g. to time one architecture with every trained policy's samplers.
nlohmann::json ConfigWithNetworksOf(const std::string& policy, const nlohmann::json& config);

// A freshly initialised policy (weights from `seed`) on the CPU.
std::unique_ptr<Policy> CreatePolicy(const std::string& name, const PolicySpec& spec,
                                     const nlohmann::json& config, const Normalizer& normalizer,
                                     uint64_t seed);

// Writes `policy` to `dir` atomically (replacing an existing policy there).
void SavePolicy(const Policy& policy, const std::string& dir);
// Loads a policy saved by SavePolicy onto `device` ("cpu", "cuda", "cuda:1").
std::unique_ptr<Policy> LoadPolicy(const std::string& dir, const std::string& device = "cpu");
// policy.json of a saved policy (name, spec, config, normaliser) without loading weights.
nlohmann::json ReadPolicyJson(const std::string& dir);

// The libtorch version the policies library was built with ("1.13.0").
std::string TorchVersion();

}  // namespace onedp
