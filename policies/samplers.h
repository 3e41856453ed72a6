// Diffusion samplers and training helpers of Diffusion Policy (libtorch; internal to the
// policies library). See docs/algorithms.md, DDPM and DDIM, and EDM.
//
// Shapes: x is (B, ...) of any trailing shape (e.g. (B, H, Da)), float32, on any device; the
// per-row inputs k (timesteps) and sigma are (B) tensors on x's device. Model callbacks receive
// x-shaped tensors and must return x-shaped tensors. The samplers run the model under whatever
// grad mode the caller set (wrap them in torch::NoGradGuard for inference).
//   EpsModel(x_k, k)         eps_hat, k (B) float32 timesteps (the same value in every row)
//   Denoiser(x, sigma)       D(x; sigma), sigma (B) float32
//   RawNet(c_in x, c_noise)  F, c_noise (B) float32 (EDM preconditioning applied around it)
// NFE counts the model evaluations of one call (written to *nfe when nfe != nullptr).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "policies/noise_schedule.h"

namespace onedp {

using EpsModel = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& k)>;
using Denoiser = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& sigma)>;
using RawNet = std::function<torch::Tensor(const torch::Tensor& x_in, const torch::Tensor& c_noise)>;

// DDPM ancestral sampling as diffusers 0.11.1 (DP's config): timesteps T-1..0 (NFE = T),
// "fixed_small" variance, x0_hat clipped to [-1, 1] (diffusers' clip_sample; `clip_sample` false
// leaves it as the network gives it). x is the initial noise x_T ~ N(0, I) drawn
// by the caller. The per-step noise z is drawn on the CPU from gen and moved to x's device, so
// a seed gives the same numbers on cpu and cuda.
torch::Tensor DdpmSample(const EpsModel& eps, const DdpmSchedule& s, torch::Tensor x,
                         at::Generator gen, int* nfe = nullptr, bool clip_sample = true);

// The same with the per-step noise from a callback: noise(x) returns a tensor of x's shape
// (any device; it is moved to x's device), e.g. per-row generators for per-row seeds. It is
// called once per step with k > 0 (T - 1 times), in step order.
using NoiseFn = std::function<torch::Tensor(const torch::Tensor& like)>;
torch::Tensor DdpmSample(const EpsModel& eps, const DdpmSchedule& s, torch::Tensor x,
                         const NoiseFn& noise, int* nfe = nullptr, bool clip_sample = true);

// DDIM (eta 0, clip_sample, set_alpha_to_one, steps_offset 0) over DdimTimesteps(num_steps):
// NFE = num_steps. num_steps = 1 evaluates k = 0 on pure noise (DP's DDIM-1 failure mode).
torch::Tensor DdimSample(const EpsModel& eps, const DdpmSchedule& s, int num_steps,
                         torch::Tensor x, int* nfe = nullptr, bool clip_sample = true);

// Deterministic Heun (EDM Algorithm 2) over sigmas (decreasing, with the trailing 0, e.g.
// KarrasSigmas): NFE = 2N - 1 for N = sigmas.size() - 1 (a final Euler step to 0). x is the
// starting sample (the caller scales its N(0, I) noise by cfg.init_std). Denoiser outputs are
// clamped to [-1, 1] when cfg.clamp_denoised.
torch::Tensor EdmHeunSample(const Denoiser& d, const std::vector<double>& sigmas,
                            torch::Tensor x, const EdmConfig& cfg, int* nfe = nullptr);

// Preconditioned denoiser D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) with per-row
// sigma (B) > 0 (ComputeEdmScalings as tensor ops); differentiable through f and x.
torch::Tensor EdmDenoise(const RawNet& f, const torch::Tensor& x, const torch::Tensor& sigma,
                         const EdmConfig& cfg);

// Training sigmas: exp(p_mean + p_std n), n ~ N(0, 1) from gen; (batch) float32 on the CPU.
torch::Tensor EdmSampleTrainingSigma(int64_t batch, const EdmConfig& cfg, at::Generator gen);

// lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2, elementwise, same shape/device as sigma.
torch::Tensor EdmLossWeightTensor(const torch::Tensor& sigma, const EdmConfig& cfg);

// DDPM forward diffusion for training: x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps, with k
// (B) int64 in [0, T); x0 and eps of equal shape (B, ...). Result on x0's device and dtype.
torch::Tensor DdpmAddNoise(const DdpmSchedule& s, const torch::Tensor& x0, const torch::Tensor& eps,
                           const torch::Tensor& k);

}  // namespace onedp
