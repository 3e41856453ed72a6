#include "policies/samplers.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace onedp {
namespace {

// (B) -> (B, 1, ..., 1) so that a per-row value broadcasts over x's trailing dims.
torch::Tensor PerRow(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return v.reshape(shape);
}

void CheckBatch(const torch::Tensor& x, const char* who) {
  if (!x.defined() || x.dim() < 1 || x.size(0) < 1) {
    throw std::invalid_argument(std::string(who) + ": x must be a (B, ...) tensor with B >= 1");
  }
}

void CheckModelOutput(const torch::Tensor& out, const torch::Tensor& x, const char* who) {
  if (!out.defined() || out.sizes() != x.sizes()) {
    throw std::runtime_error(std::string(who) + ": the model returned shape " +
                             (out.defined() ? c10::str(out.sizes()) : std::string("undefined")) +
                             ", expected " + c10::str(x.sizes()));
  }
}

void CheckSchedule(const DdpmSchedule& s, const char* who) {
  const size_t t = static_cast<size_t>(s.num_train_timesteps);
  if (s.num_train_timesteps < 1 || s.alphas_cumprod.size() != t || s.betas.size() != t ||
      s.alphas.size() != t) {
    throw std::invalid_argument(std::string(who) + ": inconsistent DdpmSchedule (T = " +
                                std::to_string(s.num_train_timesteps) + ")");
  }
}

}  // namespace

torch::Tensor DdpmSample(const EpsModel& eps, const DdpmSchedule& s, torch::Tensor x,
                         at::Generator gen, int* nfe, bool clip_sample) {
  const NoiseFn noise = [&gen](const torch::Tensor& like) {
    return torch::randn(like.sizes(), gen, torch::TensorOptions().dtype(like.scalar_type()));
  };
  return DdpmSample(eps, s, std::move(x), noise, nfe, clip_sample);
}

torch::Tensor DdpmSample(const EpsModel& eps, const DdpmSchedule& s, torch::Tensor x,
                         const NoiseFn& noise, int* nfe, bool clip_sample) {
  CheckBatch(x, "DdpmSample");
  CheckSchedule(s, "DdpmSample");
  const int64_t batch = x.size(0);
  int evals = 0;
  for (int t = s.num_train_timesteps - 1; t >= 0; --t) {
    const torch::Tensor k = torch::full({batch}, static_cast<double>(t), x.options());
    const torch::Tensor eps_hat = eps(x, k);
    CheckModelOutput(eps_hat, x, "DdpmSample");
    ++evals;
    const double abar = s.alphas_cumprod[t];
    const double abar_prev = t > 0 ? s.alphas_cumprod[t - 1] : 1.0;
    const double beta_prod = 1.0 - abar;
    const double beta_prod_prev = 1.0 - abar_prev;
    torch::Tensor x0_hat = (x - std::sqrt(beta_prod) * eps_hat) / std::sqrt(abar);
    if (clip_sample) x0_hat = x0_hat.clamp(-1.0, 1.0);
    const double c_x0 = std::sqrt(abar_prev) * s.betas[t] / beta_prod;
    const double c_xt = std::sqrt(s.alphas[t]) * beta_prod_prev / beta_prod;
    torch::Tensor next = c_x0 * x0_hat + c_xt * x;
    if (t > 0) {
      const double var = std::max(beta_prod_prev / beta_prod * s.betas[t], 1e-20);
      const torch::Tensor z = noise(x).to(x.device(), x.scalar_type());
      if (z.sizes() != x.sizes()) {
        throw std::runtime_error("DdpmSample: the noise callback returned shape " +
                                 c10::str(z.sizes()) + ", expected " + c10::str(x.sizes()));
      }
      next = next + std::sqrt(var) * z;
    }
    x = next;
  }
  if (nfe != nullptr) *nfe = evals;
  return x;
}

torch::Tensor DdimSample(const EpsModel& eps, const DdpmSchedule& s, int num_steps,
                         torch::Tensor x, int* nfe, bool clip_sample) {
  CheckBatch(x, "DdimSample");
  CheckSchedule(s, "DdimSample");
  const std::vector<int> timesteps = DdimTimesteps(num_steps, s.num_train_timesteps);
  const int ratio = s.num_train_timesteps / num_steps;
  const int64_t batch = x.size(0);
  int evals = 0;
  for (int t : timesteps) {
    const torch::Tensor k = torch::full({batch}, static_cast<double>(t), x.options());
    const torch::Tensor eps_hat = eps(x, k);
    CheckModelOutput(eps_hat, x, "DdimSample");
    ++evals;
    const int prev = t - ratio;
    const double abar = s.alphas_cumprod[t];
    const double abar_prev = prev >= 0 ? s.alphas_cumprod[prev] : 1.0;  // set_alpha_to_one
    torch::Tensor x0_hat = (x - std::sqrt(1.0 - abar) * eps_hat) / std::sqrt(abar);
    if (clip_sample) x0_hat = x0_hat.clamp(-1.0, 1.0);
    // use_clipped_model_output = False: the direction uses the model's eps as is.
    x = std::sqrt(abar_prev) * x0_hat + std::sqrt(1.0 - abar_prev) * eps_hat;
  }
  if (nfe != nullptr) *nfe = evals;
  return x;
}

torch::Tensor EdmHeunSample(const Denoiser& d, const std::vector<double>& sigmas,
                            torch::Tensor x, const EdmConfig& cfg, int* nfe) {
  CheckBatch(x, "EdmHeunSample");
  if (sigmas.size() < 2 || sigmas.back() != 0.0) {
    throw std::invalid_argument("EdmHeunSample: sigmas need >= 2 values ending with 0");
  }
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    if (!(sigmas[i] > 0) || !(sigmas[i] > sigmas[i + 1])) {
      throw std::invalid_argument("EdmHeunSample: sigmas must be positive and strictly "
                                  "decreasing to the trailing 0 (index " +
                                  std::to_string(i) + ")");
    }
  }
  const int64_t batch = x.size(0);
  int evals = 0;
  auto denoise = [&](const torch::Tensor& xi, double sigma) {
    torch::Tensor out = d(xi, torch::full({batch}, sigma, xi.options()));
    CheckModelOutput(out, xi, "EdmHeunSample");
    ++evals;
    return cfg.clamp_denoised ? out.clamp(-1.0, 1.0) : out;
  };
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    const double t_cur = sigmas[i];
    const double t_next = sigmas[i + 1];
    const torch::Tensor d_cur = (x - denoise(x, t_cur)) / t_cur;
    torch::Tensor x_next = x + (t_next - t_cur) * d_cur;
    if (t_next > 0) {  // second-order correction, except for the last step to sigma = 0
      const torch::Tensor d_prime = (x_next - denoise(x_next, t_next)) / t_next;
      x_next = x + (t_next - t_cur) * 0.5 * (d_cur + d_prime);
    }
    x = x_next;
  }
  if (nfe != nullptr) *nfe = evals;
  return x;
}

torch::Tensor EdmDenoise(const RawNet& f, const torch::Tensor& x, const torch::Tensor& sigma,
                         const EdmConfig& cfg) {
  CheckBatch(x, "EdmDenoise");
  if (sigma.dim() != 1 || sigma.size(0) != x.size(0)) {
    throw std::invalid_argument("EdmDenoise: sigma must be (B) with B = " +
                                std::to_string(x.size(0)) + ", got " + c10::str(sigma.sizes()));
  }
  const torch::Tensor sig = sigma.to(x.options());
  const double sd = cfg.sigma_data;
  const torch::Tensor norm = (sig * sig + sd * sd).sqrt();
  const torch::Tensor c_in = 1.0 / norm;
  torch::Tensor c_skip, c_out, c_noise;
  if (cfg.precond == EdmPrecond::kEdm) {
    c_skip = (sd * sd) / (sig * sig + sd * sd);
    c_out = sig * sd / norm;
    c_noise = sig.log() / 4.0;
  } else {
    const torch::Tensor shifted = sig - cfg.sigma_min;
    c_skip = (sd * sd) / (shifted * shifted + sd * sd);
    c_out = shifted * sd / norm;
    c_noise = 250.0 * sig.log();
  }
  const torch::Tensor x_in = PerRow(c_in, x) * x;
  const torch::Tensor out = f(x_in, c_noise);
  CheckModelOutput(out, x, "EdmDenoise");
  return PerRow(c_skip, x) * x + PerRow(c_out, x) * out;
}

torch::Tensor EdmSampleTrainingSigma(int64_t batch, const EdmConfig& cfg, at::Generator gen) {
  if (batch < 1) throw std::invalid_argument("EdmSampleTrainingSigma: batch must be >= 1");
  const torch::Tensor n = torch::randn({batch}, gen, torch::TensorOptions().dtype(torch::kFloat));
  return (cfg.p_mean + cfg.p_std * n).exp();
}

torch::Tensor EdmLossWeightTensor(const torch::Tensor& sigma, const EdmConfig& cfg) {
  const double sd = cfg.sigma_data;
  return (sigma * sigma + sd * sd) / (sigma * sd).pow(2);
}

torch::Tensor DdpmAddNoise(const DdpmSchedule& s, const torch::Tensor& x0, const torch::Tensor& eps,
                           const torch::Tensor& k) {
  CheckBatch(x0, "DdpmAddNoise");
  CheckSchedule(s, "DdpmAddNoise");
  if (eps.sizes() != x0.sizes()) {
    throw std::invalid_argument("DdpmAddNoise: eps " + c10::str(eps.sizes()) +
                                " must match x0 " + c10::str(x0.sizes()));
  }
  if (k.dim() != 1 || k.size(0) != x0.size(0)) {
    throw std::invalid_argument("DdpmAddNoise: k must be (B) with B = " +
                                std::to_string(x0.size(0)) + ", got " + c10::str(k.sizes()));
  }
  const torch::Tensor kk = k.to(x0.device(), torch::kLong);
  const int64_t k_min = kk.min().item<int64_t>();
  const int64_t k_max = kk.max().item<int64_t>();
  if (k_min < 0 || k_max >= s.num_train_timesteps) {
    throw std::invalid_argument("DdpmAddNoise: timesteps must lie in [0, " +
                                std::to_string(s.num_train_timesteps) + "), got [" +
                                std::to_string(k_min) + ", " + std::to_string(k_max) + "]");
  }
  const torch::Tensor abar =
      torch::tensor(s.alphas_cumprod, torch::TensorOptions().dtype(torch::kDouble))
          .to(x0.device(), x0.scalar_type())
          .index_select(0, kk);
  return PerRow(abar.sqrt(), x0) * x0 + PerRow((1.0 - abar).sqrt(), x0) * eps;
}

}  // namespace onedp
