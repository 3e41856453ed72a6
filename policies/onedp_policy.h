// OneDP (Wang et al. 2024): a one-step generator distilled from a Diffusion Policy by
// diffusion-score distillation (docs/algorithms.md, OneDP). Internal header (libtorch).
//
// Notation per family (per row, "level" l): DDPM k ~ U{k_min..k_max}, a = sqrt(abar_k),
// s = sqrt(1 - abar_k), the network predicts eps; EDM ln sigma ~ N(p_mean, p_std^2), a = 1,
// s = sigma, the network is the preconditioned denoiser D. x0(x_l) is the network's x0 reading:
// (x_l - s eps)/a (DDPM) or D (EDM).
//   generator  A = x0_theta(z at t_init) : DDPM (z - s_65 U(z, 65))/a_65, z ~ N(0, I);
//                                          EDM D_theta(z; 2.5), z = 2.5 N(0, I); z = 0 for OneDP-D
//   diffuse    A^l = a A + s eps
//   OneDP-S    g = a (x0_psi(A^l) - x0_phi(A^l))   (= s_k (e_phi - e_psi) for DDPM, D_psi - D_phi
//                                                    for EDM: w(k) = s_k^2)
//   OneDP-D    g = a (A - x0_phi(A^l))              (= s_k (e_phi - eps), A - D_phi(A + sigma eps))
//   L_theta = sum(g * A^l) / B with g detached; dL/dA = a g.
//   L_psi   DDPM mean ||eps_psi(A^l, k) - eps||^2; EDM mean lambda(sigma) ||D_psi - A||^2, A detached.
// dmd_normalization divides g per row by mean |A - x0_phi(A^l)| (DMD/DMD2), off by default;
// clip_x0 clamps x0_phi and x0_psi to [-1, 1] first, off by default.
//
// The same OneDpMath functions drive the policy and the 2-D toy test (models as callables).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "policies/distill_student.h"
#include "policies/noise_schedule.h"
#include "policies/samplers.h"
#include "policies/torch_policy.h"

namespace onedp {

struct OneDpOptions {
  int t_init = 65;          // DDPM generator timestep
  double sigma_init = 2.5;  // EDM generator sigma (and the scale of z)
  int k_min = 2, k_max = 95;  // DDPM diffusion range (inclusive)
  bool dmd_normalization = false;
  double lr_generator = 1e-6, lr_score = 2e-5;
  std::vector<double> betas = {0.0, 0.999};  // Adam, both optimisers
  double eps = 1e-8;
  double generator_ema = 0.0;  // EMA decay of the generator used for inference; 0: off
  // Options for studying the DDPM student (results/onedp_ddpm_gap); the defaults are the paper's.
  // noise_scale (gamma): the generator input is gamma z (DDPM) or gamma sigma_init z (EDM), in
  // training and at inference; OneDP-D's input stays 0.
  double noise_scale = 1.0;
  // How the diffusion level of both losses is drawn: "uniform" (DDPM k ~ U{k_min..k_max}; EDM its
  // log-normal) or "edm-lognormal" (DDPM: ln sigma ~ N(p_mean, p_std^2) of the teacher's EDM block,
  // mapped to the k in [k_min, k_max] whose sigma_k = sqrt((1 - abar_k) / abar_k) is nearest in log).
  std::string level_sampling = "uniform";
  // OneDP-S: the first score_warmup_steps steps train only the score network (the generator is
  // frozen at its warm start); afterwards the generator steps on every
  // score_steps_per_generator_step-th step and the score network on every step.
  int score_warmup_steps = 0;
  int score_steps_per_generator_step = 1;
  // Clamp the teacher's and the score network's x0 readings to [-1, 1] in the generator gradient,
  // as DP's samplers clamp them at every step (diffusers' clip_sample; EDM's clamp_denoised), so
  // the student is distilled towards the denoiser the teacher's sampler actually uses.
  bool clip_x0 = false;

  void Validate() const;  // throws std::invalid_argument
  nlohmann::json ToJson() const;
  static OneDpOptions FromJson(const nlohmann::json& j);  // unknown keys throw
};

// A network of one family at a noise level: eps_hat(x_k, k) (DDPM, k float) or D(x; sigma).
using LevelModel = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& level)>;

class OneDpMath {
 public:
  // family "ddpm" (uses `schedule`) or "edm" (uses `edm`).
  OneDpMath(std::string family, DdpmSchedule schedule, EdmConfig edm, OneDpOptions options);

  bool ddpm() const { return family_ == "ddpm"; }
  // The generator input for unit noise: noise_scale z (DDPM) or noise_scale sigma_init z (EDM).
  // OneDP-D's callers pass zeros instead (deterministic).
  torch::Tensor ScaleNoise(const torch::Tensor& unit_noise) const;
  // A = x0 reading of `model` at (z, t_init) or D(z; sigma_init). Differentiable.
  torch::Tensor Generate(const LevelModel& model, const torch::Tensor& z) const;

  struct Levels {
    torch::Tensor level;  // (B) float: k or sigma (model input)
    torch::Tensor a, s;   // (B) float
  };
  Levels SampleLevels(int64_t batch, at::Generator gen, const torch::Device& device) const;
  // Whether the generator takes a step at 0-based loop step `step` (OneDP-S schedule options).
  bool GeneratorSteps(int64_t step) const;
  const OneDpOptions& options() const { return o_; }
  // The x0 reading of a model prediction at x_l.
  torch::Tensor X0(const torch::Tensor& pred, const torch::Tensor& x, const Levels& l) const;

  // L_psi on a detached generator sample A; gradient reaches `psi` only.
  torch::Tensor ScoreLoss(const LevelModel& psi, const torch::Tensor& a_sample, at::Generator gen) const;

  struct GeneratorTerms {
    torch::Tensor loss;  // sum(g * A^l) / B, differentiable through A
    torch::Tensor gap;   // mean over rows of sum(g^2) / elements (detached): the size of the gradient
  };
  // L_theta; `psi` null selects OneDP-D. phi and psi run under no_grad.
  GeneratorTerms GeneratorLoss(const LevelModel& phi, const LevelModel* psi, const torch::Tensor& a_sample,
                               at::Generator gen) const;

 private:
  torch::Tensor PerRow(const torch::Tensor& v, const torch::Tensor& like) const;

  std::string family_;
  DdpmSchedule schedule_;
  EdmConfig edm_;
  OneDpOptions o_;
  torch::Tensor log_sigma_k_;  // DDPM: ln sigma_k for k in [k_min, k_max] (level_sampling edm-lognormal)
};

// The OneDP policy ("onedp-s" / "onedp-d"). config = {"teacher_policy": "dp-ddpm"|"dp-edm",
// "teacher": <the teacher's DP config>, "onedp": OneDpOptions}. Sampler "onestep" (NFE 1):
// A = G_theta(z, O) clamped to [-1, 1], unnormalised, steps [To-1, To-1+Ta) executed.
class OneDpStudent : public TorchPolicy, public DistillStudent {
 public:
  // A_theta for observations and unit noise z (B, H, Da) (scaled by the family, zeroed for -D),
  // normalised and unclamped, eval mode, no grad, from the generator (not its EMA).
  virtual torch::Tensor GenerateNormalized(const ObsBatch& obs, const torch::Tensor& unit_noise) = 0;
  virtual const OneDpMath& math() const = 0;
};

std::unique_ptr<TorchPolicy> MakeOneDpPolicy(const std::string& name, const PolicySpec& spec,
                                             const nlohmann::json& config, const Normalizer& normalizer,
                                             uint64_t seed);

}  // namespace onedp
