// Diffusion Policy (DDPM or EDM denoiser) behind the TorchPolicy interface. Internal header.
#pragma once

#include <memory>
#include <string>

#include "policies/torch_policy.h"

namespace onedp {

// `config` as registry.cc's presets write it: {"family": "ddpm"|"edm", "unet": {...},
// "encoder": {...}, "ddpm": {...}, "edm": {...}, "ema": {...}}. `seed` initialises the weights.
std::unique_ptr<TorchPolicy> MakeDiffusionPolicy(const std::string& name, const PolicySpec& spec,
                                                 const nlohmann::json& config,
                                                 const Normalizer& normalizer, uint64_t seed);

}  // namespace onedp
