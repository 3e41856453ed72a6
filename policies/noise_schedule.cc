#include "policies/noise_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace onedp {
namespace {

constexpr double kPi = 3.14159265358979323846;

// diffusers betas_for_alpha_bar's alpha_bar(t) for squaredcos_cap_v2.
double CosineAlphaBar(double t) {
  const double c = std::cos((t + 0.008) / 1.008 * kPi / 2);
  return c * c;
}

}  // namespace

DdpmSchedule DdpmSchedule::SquaredCosCapV2(int num_train_timesteps) {
  if (num_train_timesteps < 1) {
    throw std::invalid_argument("DdpmSchedule: num_train_timesteps must be >= 1, got " +
                                std::to_string(num_train_timesteps));
  }
  DdpmSchedule s;
  s.num_train_timesteps = num_train_timesteps;
  s.betas.resize(num_train_timesteps);
  s.alphas.resize(num_train_timesteps);
  s.alphas_cumprod.resize(num_train_timesteps);
  double cumprod = 1.0;  // torch's CPU cumprod accumulates float32 in double
  for (int i = 0; i < num_train_timesteps; ++i) {
    const double t1 = static_cast<double>(i) / num_train_timesteps;
    const double t2 = static_cast<double>(i + 1) / num_train_timesteps;
    const double beta = std::min(1.0 - CosineAlphaBar(t2) / CosineAlphaBar(t1), 0.999);
    const float beta_f = static_cast<float>(beta);
    const float alpha_f = 1.0f - beta_f;
    cumprod *= static_cast<double>(alpha_f);
    s.betas[i] = beta_f;
    s.alphas[i] = alpha_f;
    s.alphas_cumprod[i] = static_cast<float>(cumprod);
  }
  return s;
}

std::vector<int> DdimTimesteps(int num_inference_steps, int num_train_timesteps) {
  if (num_inference_steps < 1 || num_inference_steps > num_train_timesteps) {
    throw std::invalid_argument("DdimTimesteps: need 1 <= num_inference_steps (" +
                                std::to_string(num_inference_steps) +
                                ") <= num_train_timesteps (" +
                                std::to_string(num_train_timesteps) + ")");
  }
  const int ratio = num_train_timesteps / num_inference_steps;
  std::vector<int> steps(num_inference_steps);
  for (int i = 0; i < num_inference_steps; ++i) steps[i] = (num_inference_steps - 1 - i) * ratio;
  return steps;
}

std::vector<double> KarrasSigmas(int n, double sigma_min, double sigma_max, double rho) {
  if (n < 1) throw std::invalid_argument("KarrasSigmas: n must be >= 1, got " + std::to_string(n));
  if (!(sigma_min > 0 && sigma_min < sigma_max) || !(rho > 0)) {
    throw std::invalid_argument("KarrasSigmas: need 0 < sigma_min < sigma_max and rho > 0 (got " +
                                std::to_string(sigma_min) + ", " + std::to_string(sigma_max) +
                                ", " + std::to_string(rho) + ")");
  }
  std::vector<double> sigmas(n + 1, 0.0);
  if (n == 1) {
    sigmas[0] = sigma_max;  // the formula is 0/0 for N = 1: one Euler step from sigma_max
    return sigmas;
  }
  const double a = std::pow(sigma_max, 1.0 / rho);
  const double b = std::pow(sigma_min, 1.0 / rho);
  for (int i = 0; i < n; ++i) {
    sigmas[i] = std::pow(a + static_cast<double>(i) / (n - 1) * (b - a), rho);
  }
  sigmas[0] = sigma_max;  // exact ends despite pow round-off
  sigmas[n - 1] = sigma_min;
  return sigmas;
}

std::string EdmPrecondName(EdmPrecond precond) {
  return precond == EdmPrecond::kEdm ? "edm" : "cp_boundary";
}

EdmPrecond ParseEdmPrecond(const std::string& name) {
  if (name == "edm") return EdmPrecond::kEdm;
  if (name == "cp_boundary") return EdmPrecond::kCpBoundary;
  throw std::invalid_argument("EdmConfig: unknown precond '" + name +
                              "' (valid values: edm, cp_boundary)");
}

void EdmConfig::Validate() const {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("EdmConfig: " + what);
  };
  if (!(sigma_min > 0)) fail("sigma_min must be > 0");
  if (!(sigma_max > sigma_min)) fail("sigma_max must be > sigma_min");
  if (!(rho > 0)) fail("rho must be > 0");
  if (!(sigma_data > 0)) fail("sigma_data must be > 0");
  if (!(p_std > 0)) fail("p_std must be > 0");
  if (!std::isfinite(p_mean)) fail("p_mean must be finite");
  if (!(init_std > 0)) fail("init_std must be > 0");
}

nlohmann::json EdmConfig::ToJson() const {
  return nlohmann::json{{"sigma_min", sigma_min},   {"sigma_max", sigma_max},
                        {"rho", rho},               {"sigma_data", sigma_data},
                        {"p_mean", p_mean},         {"p_std", p_std},
                        {"precond", EdmPrecondName(precond)},
                        {"init_std", init_std},     {"clamp_denoised", clamp_denoised}};
}

EdmConfig EdmConfig::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("EdmConfig: JSON must be an object");
  EdmConfig c;
  for (const auto& [key, value] : j.items()) {
    try {
      if (key == "sigma_min") {
        c.sigma_min = value.get<double>();
      } else if (key == "sigma_max") {
        c.sigma_max = value.get<double>();
      } else if (key == "rho") {
        c.rho = value.get<double>();
      } else if (key == "sigma_data") {
        c.sigma_data = value.get<double>();
      } else if (key == "p_mean") {
        c.p_mean = value.get<double>();
      } else if (key == "p_std") {
        c.p_std = value.get<double>();
      } else if (key == "precond") {
        c.precond = ParseEdmPrecond(value.get<std::string>());
      } else if (key == "init_std") {
        c.init_std = value.get<double>();
      } else if (key == "clamp_denoised") {
        c.clamp_denoised = value.get<bool>();
      } else {
        throw std::invalid_argument(
            "EdmConfig: unknown key '" + key +
            "' (valid keys: sigma_min, sigma_max, rho, sigma_data, p_mean, p_std, precond, "
            "init_std, clamp_denoised)");
      }
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument("EdmConfig: bad value for '" + key + "': " + e.what());
    }
  }
  c.Validate();
  return c;
}

EdmScalings ComputeEdmScalings(double sigma, const EdmConfig& cfg) {
  if (!(sigma > 0)) {
    throw std::invalid_argument("ComputeEdmScalings: sigma must be > 0, got " +
                                std::to_string(sigma));
  }
  const double sd = cfg.sigma_data;
  const double norm = std::sqrt(sigma * sigma + sd * sd);
  EdmScalings s;
  s.c_in = 1.0 / norm;
  if (cfg.precond == EdmPrecond::kEdm) {
    s.c_skip = sd * sd / (sigma * sigma + sd * sd);
    s.c_out = sigma * sd / norm;
    s.c_noise = std::log(sigma) / 4.0;
  } else {
    const double shifted = sigma - cfg.sigma_min;
    s.c_skip = sd * sd / (shifted * shifted + sd * sd);
    s.c_out = shifted * sd / norm;
    s.c_noise = 250.0 * std::log(sigma);
  }
  return s;
}

double EdmLossWeight(double sigma, double sigma_data) {
  return (sigma * sigma + sigma_data * sigma_data) / ((sigma * sigma_data) * (sigma * sigma_data));
}

}  // namespace onedp
