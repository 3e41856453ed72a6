// Noise schedules of Diffusion Policy (torch-free): the DDPM/DDIM schedule exactly as diffusers
// 0.11.1 computes it for DP's config, the Karras/EDM sigma discretisation, and the EDM
// preconditioning (EDM paper and Consistency Policy's "boundary" variant).
// See docs/algorithms.md, DDPM and DDIM, and EDM.
//
// DdpmSchedule: betas/alphas/alphas_cumprod have num_train_timesteps entries, index k = 0..T-1.
//   Values reproduce diffusers (float32 tensors on the CPU) and are stored as double:
//   beta_k = float32(min(1 - abar(k+1/T)/abar(k/T), 0.999)), alpha_k = float32(1 - beta_k),
//   alphas_cumprod[k] = float32(prod_{i<=k} alpha_i) (torch's CPU cumprod accumulates in double).
// DdimTimesteps(N, T): N values [(N-1)r, ..., r, 0] with r = T / N (diffusers "leading" spacing).
// KarrasSigmas(N, ...): N + 1 values t_0 = sigma_max > ... > t_{N-1} = sigma_min, then 0;
//   N = 1 gives {sigma_max, 0}.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onedp {

struct DdpmSchedule {
  int num_train_timesteps = 100;
  std::vector<double> betas;           // (T)
  std::vector<double> alphas;          // (T) 1 - beta
  std::vector<double> alphas_cumprod;  // (T) abar_k

  // diffusers' cos^2 alpha-bar schedule with betas capped at 0.999 (betas_for_alpha_bar), DP's choice.
  static DdpmSchedule SquaredCosCapV2(int num_train_timesteps = 100);
};

// DDIM inference timesteps, first evaluated first: N = 10 -> 90, 80, ..., 0; N = 1 -> {0}.
// Throws std::invalid_argument unless 1 <= N <= T.
std::vector<int> DdimTimesteps(int num_inference_steps, int num_train_timesteps = 100);

// Karras et al. (2022) sigmas t_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho,
// i = 0..N-1, followed by a trailing 0 (N + 1 values). Throws std::invalid_argument on n < 1 or
// 0 < sigma_min < sigma_max violated.
std::vector<double> KarrasSigmas(int n, double sigma_min, double sigma_max, double rho = 7.0);

// kEdm: the EDM paper's preconditioning, c_noise = ln(sigma) / 4.
// kCpBoundary: Consistency Policy's teacher: c_skip and c_out shifted by sigma_min so that
//   D(x; sigma_min) = x exactly, c_noise = 250 ln(sigma).
enum class EdmPrecond { kEdm, kCpBoundary };

struct EdmConfig {
  double sigma_min = 0.02;  // CP's time_min (EDM's paper default is 0.002)
  double sigma_max = 80;
  double rho = 7;
  double sigma_data = 0.5;
  double p_mean = -1.2;  // training: ln sigma ~ N(p_mean, p_std^2)
  double p_std = 1.2;
  EdmPrecond precond = EdmPrecond::kCpBoundary;
  // Standard deviation of the initial sample: 1 is CP's "reduced initial variance", sigma_max
  // (80) is EDM's x_0 = t_0 N(0, I). The sampler's caller applies it.
  double init_std = 1.0;
  bool clamp_denoised = true;  // clamp D(x; sigma) to [-1, 1] while sampling

  void Validate() const;  // throws std::invalid_argument with the reason
  // Keys: sigma_min, sigma_max, rho, sigma_data, p_mean, p_std, precond ("edm" |
  // "cp_boundary"), init_std, clamp_denoised. FromJson: missing keys keep their defaults,
  // unknown keys and invalid values throw std::invalid_argument.
  nlohmann::json ToJson() const;
  static EdmConfig FromJson(const nlohmann::json& j);
};

std::string EdmPrecondName(EdmPrecond precond);       // "edm" | "cp_boundary"
EdmPrecond ParseEdmPrecond(const std::string& name);  // throws std::invalid_argument

struct EdmScalings {
  double c_skip, c_out, c_in, c_noise;
};

// D(x; sigma) = c_skip x + c_out F(c_in x, c_noise). Throws std::invalid_argument on sigma <= 0.
EdmScalings ComputeEdmScalings(double sigma, const EdmConfig& cfg);

// EDM loss weight lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2.
double EdmLossWeight(double sigma, double sigma_data);

}  // namespace onedp
