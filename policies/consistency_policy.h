// Consistency Policy (Prasad et al. 2024; Aaditya-Prasad/consistency-policy at eed0c46 with the
// July-2024 loss fix), distilled from a dp-edm teacher (docs/algorithms.md, Consistency Policy).
// Internal header (libtorch).
//
//   g(x, t, s) = c_skip(t) x + c_out(t) F(c_in(t) x, c_noise(t), c_noise(s))  (the teacher's
//                preconditioning and c_noise, e.g. CP boundary scaling and 250 ln sigma)
//   G(x, t, s) = (s/t) x + (1 - s/t) g(x, t, s)          CTM jump t -> s; G(x, s, s) = x
//   bins: sigma(i) = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho clamped to
//         [smin, smax], i = 0..N (N = 80)
//   L_ctm: t ~ U{0..N-1}, s ~ U{t..N}, u ~ U{t..s} capped at t + ode_steps_max; x_t = x0 +
//          sigma_t n; x_u = one teacher Heun step (identity where u = t); pred = G_student(x_t,
//          t, s); target = G_target(x_u, u, s) (no grad); Huber(G_target(pred, s, smin),
//          G_target(target, s, smin)) with the gradient flowing through the frozen target net
//          into pred (the fix of commit 3faa563).
//   L_dsm: half the rows sigma = bin formula at xi ~ U[0, 0.7] ("ctm_dsm"), half log-normal;
//          lambda(sigma) Huber(G_student(x0 + sigma n, sigma, smin), x0).
//   Huber: CP's quirk sqrt(d^4 + delta^2) - delta (d the elementwise difference: CP feeds the
//          squared error into a pseudo-Huber), delta = 0.00054 sqrt(H Da) when huber_delta < 0.
//   Target network: EMA with decay 0, i.e. a copy of the student after every step.
//   Samplers: cp:1 x ~ N(0, I), out = clamp(G(x, smax, smin)); cp:3 then for tau in the chain
//          sigmas (bins 27, 54 -> 12.01, 0.885; or the literal 27.0 and 54.0): x = out + tau n,
//          out = clamp(G(x, tau, smin)).
#pragma once

#include <functional>
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

struct CpOptions {
  int bins = 80;
  double sigma_min = 0.02, sigma_max = 80, rho = 7;
  int ode_steps_max = 1;
  double dropout = 0.2;
  double lr = 1e-4;
  std::vector<double> betas = {0.95, 0.999};  // AdamW
  double weight_decay = 1e-6;
  int warmup_steps = 500;
  std::vector<int> chain_bins = {27, 54};
  bool chain_literal_sigmas = false;  // CP's code: 'D' prefix reads 27 and 54 as sigmas
  double huber_delta = -1;            // < 0: 0.00054 sqrt(H * Da)

  void Validate() const;
  nlohmann::json ToJson() const;
  static CpOptions FromJson(const nlohmann::json& j);  // unknown keys throw
};

// The raw two-time network F(x_in, c_noise_t, c_noise_s).
using CtmNet = std::function<torch::Tensor(const torch::Tensor& x_in, const torch::Tensor& c_noise_t,
                                           const torch::Tensor& c_noise_s)>;

class CpMath {
 public:
  CpMath(EdmConfig teacher_edm, CpOptions options);

  double Sigma(int i) const;                          // bin i -> sigma (clamped)
  torch::Tensor Sigmas(const torch::Tensor& i) const;  // (B) long -> (B) float
  // g(x, t, s) and G(x, t, s), t and s (B) sigmas.
  torch::Tensor Denoise(const CtmNet& f, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& s) const;
  torch::Tensor Jump(const CtmNet& f, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& s) const;
  // One Heun step of the teacher's ODE from t to u (rows with u == t unchanged).
  torch::Tensor HeunStep(const Denoiser& teacher, const torch::Tensor& x, const torch::Tensor& t,
                         const torch::Tensor& u) const;
  torch::Tensor Huber(const torch::Tensor& a, const torch::Tensor& b) const;  // elementwise

  struct Losses {
    torch::Tensor ctm, dsm;
  };
  Losses Loss(const CtmNet& student, const CtmNet& target, const Denoiser& teacher, const torch::Tensor& x0,
              at::Generator gen) const;
  // cp:1 (steps 1) or cp:3 (steps 3) from unit noise x; noise(like) draws the chaining noise.
  torch::Tensor Sample(const CtmNet& f, const torch::Tensor& x, int steps, const NoiseFn& noise) const;
  std::vector<double> ChainSigmas() const;

 private:
  torch::Tensor CNoise(const torch::Tensor& sigma) const;

  EdmConfig edm_;
  CpOptions o_;
};

// The "cp" policy. config = {"teacher_policy": "dp-edm", "teacher": <DP config>, "cp": CpOptions}.
class CpStudent : public TorchPolicy, public DistillStudent {
 public:
  virtual const CpMath& math() const = 0;
  // g_student(x, t, s) for observations (eval mode, no grad); x normalised (B, H, Da).
  virtual torch::Tensor StudentDenoise(const ObsBatch& obs, const torch::Tensor& x, const torch::Tensor& t,
                                       const torch::Tensor& s) = 0;
};

std::unique_ptr<TorchPolicy> MakeConsistencyPolicy(const std::string& name, const PolicySpec& spec,
                                                   const nlohmann::json& config, const Normalizer& normalizer,
                                                   uint64_t seed);

}  // namespace onedp
