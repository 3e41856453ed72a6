// Diffusion Policy (DDPM or EDM denoiser) behind the TorchPolicy interface, and what the
// distilled students (OneDP, Consistency Policy) reuse of it: the encoder + U-Net unit, its
// construction from a DP config, observation encoding, the executed-chunk read-out, and a view
// of a trained DP as a frozen teacher. Internal header (libtorch).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "policies/nets/conditional_unet1d.h"
#include "policies/nets/obs_encoder.h"
#include "policies/noise_schedule.h"
#include "policies/torch_policy.h"

namespace onedp {

// Encoder + denoiser, the unit that is trained, EMA-averaged, saved and copied into students.
struct DpNetsImpl : torch::nn::Module {
  DpNetsImpl(const ObsEncoderOptions& eo, const ConditionalUnet1DOptions& uo) {
    encoder = register_module("encoder", ObsEncoder(eo));
    unet = register_module("unet", ConditionalUnet1D(uo));
  }
  ObsEncoder encoder{nullptr};
  ConditionalUnet1D unet{nullptr};
};
TORCH_MODULE(DpNets);

struct DpNetOptions {
  ObsEncoderOptions encoder;
  ConditionalUnet1DOptions unet;
};
// The networks a DP config ({"unet": ..., "encoder": ...}) describes for `spec`.
DpNetOptions MakeDpNetOptions(const PolicySpec& spec, const nlohmann::json& config);
// `module` as the sub-archive `key` of a weights archive, and back.
void WriteModule(torch::serialize::OutputArchive& archive, const std::string& key, const torch::nn::Module& module);
void ReadModule(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module);
// {"encoder", "unet", "total"} parameter counts of an encoder + U-Net pair.
std::map<std::string, int64_t> CountParameters(const torch::nn::Module& encoder, const torch::nn::Module& unet);
// Copies parameters and buffers (same architecture, registration order) without autograd.
void CopyModuleInto(torch::nn::Module& from, torch::nn::Module& to);
// Encoder features of an observation batch: (B, To * Do). `gen` draws the random crops in
// training mode; with c10::nullopt (eval) the crops are centred.
torch::Tensor EncodeObs(ObsEncoderImpl& encoder, const ObsBatch& obs, const PolicySpec& spec,
                        const Normalizer& normalizer, const torch::Device& device,
                        c10::optional<at::Generator> gen);
// The executed steps [To-1, To-1+Ta) of normalised chunks x (B, H, Da), unnormalised; with
// `full_horizon` all H steps.
ActionChunk ExecutedChunk(const torch::Tensor& x, const PolicySpec& spec, const Normalizer& normalizer,
                          bool full_horizon = false);

// A trained Diffusion Policy seen as a distillation teacher.
class DiffusionTeacher : public TorchPolicy {
 public:
  virtual const std::string& family() const = 0;  // "ddpm" | "edm"
  virtual const DdpmSchedule& schedule() const = 0;
  virtual const EdmConfig& edm() const = 0;
  // The EMA networks (what the policy samples with): eps_phi / D_phi and E_phi.
  virtual DpNets ema_nets() const = 0;
};
// Throws std::invalid_argument when `policy` is not a Diffusion Policy.
DiffusionTeacher& AsDiffusionTeacher(Policy& policy);

// `config` as registry.cc's presets write it: {"family": "ddpm"|"edm", "unet": {...},
// "encoder": {...}, "ddpm": {...}, "edm": {...}, "ema": {...}}. `seed` initialises the weights.
std::unique_ptr<TorchPolicy> MakeDiffusionPolicy(const std::string& name, const PolicySpec& spec,
                                                 const nlohmann::json& config,
                                                 const Normalizer& normalizer, uint64_t seed);

}  // namespace onedp
