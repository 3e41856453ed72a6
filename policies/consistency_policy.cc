// Consistency Policy distilled from a dp-edm teacher: see consistency_policy.h.
#include "policies/consistency_policy.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "policies/diffusion_policy.h"
#include "policies/optimizer_step.h"
#include "policies/policy_info.h"
#include "policies/trainer.h"

namespace onedp {
namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

torch::Tensor Rows(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return v.to(like.device(), like.scalar_type()).reshape(shape);
}

class ConsistencyPolicy final : public CpStudent {
 public:
  ConsistencyPolicy(const std::string& name, const PolicySpec& spec, const nlohmann::json& config,
                    const Normalizer& normalizer, uint64_t seed)
      : name_(name), spec_(spec), config_(config) {
    spec_.Validate();
    normalizer_ = normalizer;
    const nlohmann::json& tc = config_.at("teacher");
    if (tc.at("family") != "edm") throw std::invalid_argument("cp needs an EDM teacher (dp-edm)");
    edm_ = EdmConfig::FromJson(tc.at("edm"));
    opts_ = CpOptions::FromJson(config_.at("cp"));
    math_ = std::make_unique<CpMath>(edm_, opts_);
    DpNetOptions no = MakeDpNetOptions(spec_, tc);
    no.unet.num_time_inputs = 2;
    no.unet.dropout = opts_.dropout;
    // Parameter initialisation from `seed`, without touching the global RNG (torch_policy.h).
    InitWithSeed(seed, [&] {
      student_ = DpNets(no.encoder, no.unet);
      no.unet.dropout = 0;
      target_ = ConditionalUnet1D(no.unet);
    });
    CopyModuleInto(*student_->unet, *target_);
    for (auto& p : target_->parameters()) p.set_requires_grad(false);
    for (auto& p : student_->encoder->parameters()) p.set_requires_grad(false);  // frozen
    target_->eval();
  }

  std::string Name() const override { return name_; }
  const PolicySpec& spec() const override { return spec_; }
  nlohmann::json Config() const override { return config_; }
  std::vector<std::string> Samplers() const override { return FindPolicyInfo(name_).samplers; }
  int Nfe(const SamplerSpec& s) const override { return Resolve(s); }
  const CpMath& math() const override { return *math_; }

  ActionChunk PredictChunk(const ObsBatch& obs, const SampleOptions& options, PredictTiming* timing) override {
    const int steps = Resolve(options.sampler);
    torch::NoGradGuard no_grad;
    student_->eval();
    const auto t0 = std::chrono::steady_clock::now();
    const torch::Tensor cond = Encode(obs);
    Sync();
    const auto t1 = std::chrono::steady_clock::now();
    RowNoise noise(obs.batch, options.seeds);
    const auto draw = [&](const torch::Tensor&) { return noise.Next(spec_.horizon, spec_.action_dim).to(device_); };
    const torch::Tensor x = math_->Sample(Net(*target_, cond), draw(torch::Tensor()), steps, draw);
    Sync();
    const auto t2 = std::chrono::steady_clock::now();
    if (timing) {
      timing->encode_s = Seconds(t0, t1);
      timing->sample_s = Seconds(t1, t2);
      timing->nfe = steps;
    }
    return ExecutedChunk(x, spec_, normalizer_, options.full_horizon);
  }

  torch::Tensor StudentDenoise(const ObsBatch& obs, const torch::Tensor& x, const torch::Tensor& t,
                               const torch::Tensor& s) override {
    torch::NoGradGuard no_grad;
    student_->eval();
    return math_->Denoise(Net(*student_->unet, Encode(obs)), x.to(device_), t.to(device_), s.to(device_));
  }

  std::map<std::string, int64_t> ParameterCounts() const override {
    return CountParameters(*student_->encoder, *student_->unet);
  }

  void To(const std::string& device) override {
    device_ = ParseDevice(device);
    student_->to(device_);
    target_->to(device_);
  }

  std::vector<torch::Tensor> TrainableParameters() override { return student_->unet->parameters(); }
  torch::Tensor Loss(const TrainBatch&, at::Generator, bool) override {
    throw std::invalid_argument("cp is distilled from a dp-edm teacher: use `harness distill --method cp`");
  }
  void AfterOptimizerStep(int64_t) override {
    CopyModuleInto(*student_->unet, *target_);  // EMA decay 0: the target is the student
    ++ema_steps_;
  }
  int64_t ema_steps() const override { return ema_steps_; }
  void set_ema_steps(int64_t steps) override { ema_steps_ = steps; }

  // "model": encoder + student U-Net, "target": the target U-Net.
  void SaveWeights(torch::serialize::OutputArchive& archive) const override {
    WriteModule(archive, "model", *student_);
    WriteModule(archive, "target", *target_);
  }
  void LoadWeights(torch::serialize::InputArchive& archive) override {
    ReadModule(archive, "model", *student_);
    ReadModule(archive, "target", *target_);
    To(device_.str());
  }

  // ---- DistillStudent ----
  void WarmStart(DiffusionTeacher& teacher) override {
    if (teacher.family() != "edm") throw std::invalid_argument("cp needs a dp-edm teacher");
    torch::NoGradGuard no_grad;
    DpNets t = teacher.ema_nets();
    CopyModuleInto(*t->encoder, *student_->encoder);
    // Same parameter names; every FiLM Linear weight gets zero columns for emb(s): [W_t | 0 | W_obs].
    const int dsed = t->unet->options().step_embed_dim;
    auto dst = student_->unet->named_parameters();
    for (const auto& p : t->unet->named_parameters()) {
      torch::Tensor& d = dst[p.key()];
      const torch::Tensor& w = p.value();
      if (w.sizes() == d.sizes()) {
        d.copy_(w);
      } else if (w.dim() == 2 && d.size(1) == w.size(1) + dsed) {
        d.copy_(torch::cat({w.slice(1, 0, dsed), torch::zeros({w.size(0), dsed}, w.options()), w.slice(1, dsed)}, 1));
      } else {
        throw std::logic_error("CP warm start: unexpected shape of " + p.key());
      }
    }
    CopyModuleInto(*student_->unet, *target_);
  }

  void PrepareTraining(DiffusionTeacher* teacher, int64_t total_steps) override {
    teacher_ = teacher;
    total_steps_ = total_steps;
    opt_ = std::make_unique<torch::optim::AdamW>(
        student_->unet->parameters(),
        torch::optim::AdamWOptions(opts_.lr).betas({opts_.betas.at(0), opts_.betas.at(1)}).weight_decay(opts_.weight_decay));
  }

  std::map<std::string, double> Step(const TrainBatch& batch, at::Generator gen, int64_t step, bool poison) override {
    if (!teacher_ || !opt_) throw std::logic_error("CP Step before PrepareTraining");
    lr_ = CosineWarmupLr(opts_.lr, step, opts_.warmup_steps, total_steps_);
    torch::Tensor cond;
    {
      torch::NoGradGuard no_grad;
      cond = Encode(batch.obs);  // the frozen encoder, shared by student, target and teacher
    }
    const torch::Tensor x0 = ActionTensor(batch, spec_, normalizer_, device_);
    DpNets phi = teacher_->ema_nets();
    phi->eval();
    const Denoiser teacher = [&](const torch::Tensor& x, const torch::Tensor& sigma) {
      return EdmDenoise([&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
        return phi->unet->forward(x_in, c_noise, cond);
      }, x, sigma, edm_);
    };
    student_->unet->train();
    student_->unet->SetDropoutGenerator(gen);
    const CpMath::Losses l = math_->Loss(Net(*student_->unet, cond), Net(*target_, cond), teacher, x0, gen);
    student_->unet->SetDropoutGenerator(c10::nullopt);
    const torch::Tensor loss = l.ctm + l.dsm + (poison ? std::numeric_limits<double>::quiet_NaN() : 0.0);
    const double v = loss.item<double>();
    if (!std::isfinite(v)) throw NonFiniteLoss("the CP loss is " + std::to_string(v));
    OptimizerStepOptions so;
    so.lr = lr_;
    so.sanitize = true;
    OptimizerStep(*opt_, loss, student_->unet->parameters(), so);
    AfterOptimizerStep(step);  // the target copy
    return {{"loss", v}, {"ctm_loss", l.ctm.item<double>()}, {"dsm_loss", l.dsm.item<double>()}};
  }

  double lr() const override { return lr_; }
  void SaveOptimizers(torch::serialize::OutputArchive& archive) override { opt_->save(archive); }
  void LoadOptimizers(torch::serialize::InputArchive& archive) override { opt_->load(archive); }

 private:
  int Resolve(const SamplerSpec& s) const {
    if (s.family.empty()) return 1;
    if (s.family == "cp" && (s.steps == 0 || s.steps == 1)) return 1;
    if (s.family == "cp" && s.steps == static_cast<int>(opts_.chain_bins.size()) + 1) return s.steps;
    throw std::invalid_argument("policy " + name_ + " cannot sample with '" + s.ToString() + "'; valid: cp:1, cp:3");
  }
  torch::Tensor Encode(const ObsBatch& obs) {
    student_->encoder->eval();
    return EncodeObs(*student_->encoder, obs, spec_, normalizer_, device_, c10::nullopt);
  }
  static CtmNet Net(ConditionalUnet1DImpl& unet, const torch::Tensor& cond) {
    return [&unet, cond](const torch::Tensor& x_in, const torch::Tensor& ct, const torch::Tensor& cs) {
      return unet.forward2(x_in, ct, cs, cond);
    };
  }
  void Sync() const {
    if (device_.is_cuda()) torch::cuda::synchronize();
  }

  std::string name_;
  PolicySpec spec_;
  nlohmann::json config_;
  EdmConfig edm_;
  CpOptions opts_;
  std::unique_ptr<CpMath> math_;
  DpNets student_{nullptr};
  ConditionalUnet1D target_{nullptr};
  DiffusionTeacher* teacher_ = nullptr;
  std::unique_ptr<torch::optim::AdamW> opt_;
  int64_t total_steps_ = 1;
  double lr_ = 0;
  int64_t ema_steps_ = 0;
};

}  // namespace

// ---- CpOptions ----
void CpOptions::Validate() const {
  const auto fail = [](const std::string& why) { throw std::invalid_argument("cp config: " + why); };
  if (bins < 2) fail("bins must be >= 2");
  if (!(sigma_min > 0) || !(sigma_max > sigma_min)) fail("need 0 < sigma_min < sigma_max");
  if (ode_steps_max < 1) fail("ode_steps_max must be >= 1");
  if (dropout < 0 || dropout >= 1) fail("dropout must be in [0, 1)");
  if (!(lr > 0) || warmup_steps < 0) fail("lr must be > 0 and warmup_steps >= 0");
  if (betas.size() != 2) fail("betas must be [beta1, beta2]");
  for (int b : chain_bins) {
    if (b < 0 || b > bins) fail("chain_bins must be bin indices in [0, bins]");
  }
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CpOptions, bins, sigma_min, sigma_max, rho, ode_steps_max, dropout, lr,
                                                betas, weight_decay, warmup_steps, chain_bins, chain_literal_sigmas,
                                                huber_delta)

nlohmann::json CpOptions::ToJson() const { return *this; }

CpOptions CpOptions::FromJson(const nlohmann::json& j) { return OptionsFromJson<CpOptions>(j, "cp config"); }

// ---- CpMath ----
CpMath::CpMath(EdmConfig teacher_edm, CpOptions options) : edm_(teacher_edm), o_(std::move(options)) {
  o_.Validate();
}

double CpMath::Sigma(int i) const {
  const double a = std::pow(o_.sigma_max, 1.0 / o_.rho), b = std::pow(o_.sigma_min, 1.0 / o_.rho);
  const double s = std::pow(a + static_cast<double>(i) / (o_.bins - 1) * (b - a), o_.rho);
  return std::min(o_.sigma_max, std::max(o_.sigma_min, s));
}

torch::Tensor CpMath::Sigmas(const torch::Tensor& i) const {
  const double a = std::pow(o_.sigma_max, 1.0 / o_.rho), b = std::pow(o_.sigma_min, 1.0 / o_.rho);
  const torch::Tensor f = i.to(torch::kDouble) / (o_.bins - 1);
  return (a + f * (b - a)).clamp_min(0).pow(o_.rho).clamp(o_.sigma_min, o_.sigma_max).to(torch::kFloat);
}

torch::Tensor CpMath::CNoise(const torch::Tensor& sigma) const {
  return edm_.precond == EdmPrecond::kEdm ? sigma.log() / 4.0 : 250.0 * sigma.log();
}

torch::Tensor CpMath::Denoise(const CtmNet& f, const torch::Tensor& x, const torch::Tensor& t,
                              const torch::Tensor& s) const {
  const torch::Tensor cs = CNoise(s.to(x.device(), torch::kFloat));
  return EdmDenoise([&](const torch::Tensor& x_in, const torch::Tensor& ct) { return f(x_in, ct, cs); }, x,
                    t.to(x.device(), torch::kFloat), edm_);
}

torch::Tensor CpMath::Jump(const CtmNet& f, const torch::Tensor& x, const torch::Tensor& t,
                           const torch::Tensor& s) const {
  const torch::Tensor r = Rows(s.to(torch::kFloat) / t.to(torch::kFloat), x);
  return r * x + (1 - r) * Denoise(f, x, t, s);
}

torch::Tensor CpMath::HeunStep(const Denoiser& teacher, const torch::Tensor& x, const torch::Tensor& t,
                               const torch::Tensor& u) const {
  const torch::Tensor tr = Rows(t, x), ur = Rows(u, x);
  const torch::Tensor d = (x - teacher(x, t)) / tr;
  const torch::Tensor x1 = x + (ur - tr) * d;
  const torch::Tensor d1 = (x1 - teacher(x1, u)) / ur;
  const torch::Tensor xu = x + (ur - tr) * (d + d1) / 2;
  return torch::where(Rows((u == t).to(torch::kFloat), x) > 0.5, x, xu);
}

torch::Tensor CpMath::Huber(const torch::Tensor& a, const torch::Tensor& b) const {
  double delta = o_.huber_delta;
  if (delta < 0) delta = 0.00054 * std::sqrt(static_cast<double>(a.numel() / a.size(0)));
  const torch::Tensor se = (a - b).pow(2);
  return (se.pow(2) + delta * delta).sqrt() - delta;
}

CpMath::Losses CpMath::Loss(const CtmNet& student, const CtmNet& target, const Denoiser& teacher,
                            const torch::Tensor& x0, at::Generator gen) const {
  const int64_t b = x0.size(0);
  const auto dev = x0.device();
  const auto lopt = torch::TensorOptions().dtype(torch::kLong);
  // Indices t < bins, s in [t, bins], u in [t, s] capped at t + ode_steps_max.
  const torch::Tensor ti = torch::randint(0, o_.bins, {b}, gen, lopt);
  const torch::Tensor si = ti + (torch::rand({b}, gen) * (o_.bins + 1 - ti).to(torch::kFloat)).floor().to(torch::kLong);
  torch::Tensor ui = ti + (torch::rand({b}, gen) * (si - ti + 1).to(torch::kFloat)).floor().to(torch::kLong);
  ui = torch::minimum(ui, ti + o_.ode_steps_max);
  const torch::Tensor t = Sigmas(ti).to(dev), s = Sigmas(si).to(dev), u = Sigmas(ui).to(dev);
  const torch::Tensor smin = torch::full({b}, o_.sigma_min, torch::TensorOptions().dtype(torch::kFloat).device(dev));
  const torch::Tensor n = torch::randn(x0.sizes(), gen).to(dev);
  const torch::Tensor xt = x0 + Rows(t, x0) * n;
  torch::Tensor target_min;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor xu = HeunStep(teacher, xt, t, u);
    target_min = Jump(target, Jump(target, xu, u, s), s, smin);
  }
  const torch::Tensor pred = Jump(student, xt, t, s);
  Losses l;
  l.ctm = Huber(Jump(target, pred, s, smin), target_min).mean();

  // DSM: the first half "ctm_dsm" sigmas (xi ~ U[0, 0.7] on the bin formula), the rest log-normal.
  const int64_t half = b / 2;
  const double a = std::pow(o_.sigma_max, 1.0 / o_.rho), c = std::pow(o_.sigma_min, 1.0 / o_.rho);
  const torch::Tensor xi = 0.7 * torch::rand({half}, gen);
  const torch::Tensor s1 = (a + xi.to(torch::kDouble) * (c - a)).pow(o_.rho).to(torch::kFloat);
  const torch::Tensor s2 = EdmSampleTrainingSigma(b - half, edm_, gen);
  const torch::Tensor sigma = torch::cat({s1, s2}).to(dev);
  const torch::Tensor n2 = torch::randn(x0.sizes(), gen).to(dev);
  const torch::Tensor p2 = Jump(student, x0 + Rows(sigma, x0) * n2, sigma, smin);
  l.dsm = (Rows(EdmLossWeightTensor(sigma, edm_), x0) * Huber(p2, x0)).mean();
  return l;
}

std::vector<double> CpMath::ChainSigmas() const {
  std::vector<double> v;
  for (int b : o_.chain_bins) v.push_back(o_.chain_literal_sigmas ? static_cast<double>(b) : Sigma(b));
  return v;
}

torch::Tensor CpMath::Sample(const CtmNet& f, const torch::Tensor& x, int steps, const NoiseFn& noise) const {
  const int64_t b = x.size(0);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(x.device());
  const torch::Tensor smin = torch::full({b}, o_.sigma_min, opts);
  torch::Tensor out = Jump(f, x, torch::full({b}, o_.sigma_max, opts), smin).clamp(-1, 1);
  const std::vector<double> chain = ChainSigmas();
  for (int i = 0; i + 1 < steps && i < static_cast<int>(chain.size()); ++i) {
    const torch::Tensor xi = out + chain[i] * noise(out).to(x.device());
    out = Jump(f, xi, torch::full({b}, chain[i], opts), smin).clamp(-1, 1);
  }
  return out;
}

std::unique_ptr<TorchPolicy> MakeConsistencyPolicy(const std::string& name, const PolicySpec& spec,
                                                   const nlohmann::json& config, const Normalizer& normalizer,
                                                   uint64_t seed) {
  return std::make_unique<ConsistencyPolicy>(name, spec, config, normalizer, seed);
}

}  // namespace onedp
