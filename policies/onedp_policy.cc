// OneDP-S / OneDP-D (docs/algorithms.md, OneDP): see onedp_policy.h.
#include "policies/onedp_policy.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "policies/diffusion_policy.h"
#include "policies/optimizer_step.h"
#include "policies/policy_info.h"

namespace onedp {
namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void Sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

// The family's network of `nets` with a fixed condition as a LevelModel.
LevelModel NetModel(DpNetsImpl& nets, const torch::Tensor& cond, bool ddpm, const EdmConfig& edm) {
  if (ddpm) {
    return [&nets, cond](const torch::Tensor& x, const torch::Tensor& k) { return nets.unet->forward(x, k, cond); };
  }
  return [&nets, cond, edm](const torch::Tensor& x, const torch::Tensor& sigma) {
    return EdmDenoise([&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
      return nets.unet->forward(x_in, c_noise, cond);
    }, x, sigma, edm);
  };
}

// Throws NonFiniteLoss naming `what` when `loss` is not finite; returns its value.
double FiniteValue(const torch::Tensor& loss, const std::string& what) {
  const double v = loss.item<double>();
  if (!std::isfinite(v)) throw NonFiniteLoss(what + " is " + std::to_string(v));
  return v;
}

class OneDpPolicy final : public OneDpStudent {
 public:
  OneDpPolicy(const std::string& name, const PolicySpec& spec, const nlohmann::json& config,
              const Normalizer& normalizer, uint64_t seed)
      : name_(name), spec_(spec), config_(config) {
    if (name != "onedp-s" && name != "onedp-d") throw std::invalid_argument("unknown OneDP variant '" + name + "'");
    spec_.Validate();
    normalizer_ = normalizer;
    const nlohmann::json& tc = config_.at("teacher");
    family_ = tc.at("family").get<std::string>();
    opts_ = OneDpOptions::FromJson(config_.at("onedp"));
    math_ = std::make_unique<OneDpMath>(
        family_, DdpmSchedule::SquaredCosCapV2(tc.at("ddpm").at("num_train_timesteps").get<int>()),
        EdmConfig::FromJson(tc.at("edm")), opts_);
    edm_ = EdmConfig::FromJson(tc.at("edm"));
    const DpNetOptions no = MakeDpNetOptions(spec_, tc);
    // Parameter initialisation from `seed`, without touching the global RNG (torch_policy.h).
    InitWithSeed(seed, [&] {
      generator_ = DpNets(no.encoder, no.unet);
      if (scored()) score_ = DpNets(no.encoder, no.unet);
      if (opts_.generator_ema > 0) gen_ema_ = DpNets(no.encoder, no.unet);
    });
    if (gen_ema_) {
      CopyModuleInto(*generator_, *gen_ema_);
      for (auto& p : gen_ema_->parameters()) p.set_requires_grad(false);
    }
  }

  std::string Name() const override { return name_; }
  const PolicySpec& spec() const override { return spec_; }
  nlohmann::json Config() const override { return config_; }
  std::vector<std::string> Samplers() const override { return FindPolicyInfo(name_).samplers; }
  int Nfe(const SamplerSpec& s) const override {
    Resolve(s);
    return 1;
  }
  const OneDpMath& math() const override { return *math_; }

  ActionChunk PredictChunk(const ObsBatch& obs, const SampleOptions& options, PredictTiming* timing) override {
    Resolve(options.sampler);
    torch::NoGradGuard no_grad;
    DpNetsImpl& nets = gen_ema_ ? *gen_ema_ : *generator_;
    nets.eval();
    const auto t0 = std::chrono::steady_clock::now();
    const torch::Tensor cond = EncodeObs(*nets.encoder, obs, spec_, normalizer_, device_, c10::nullopt);
    Sync(device_);
    const auto t1 = std::chrono::steady_clock::now();
    RowNoise noise(obs.batch, options.seeds);
    const torch::Tensor a = math_->Generate(NetModel(nets, cond, math_->ddpm(), edm_),
                                            Input(noise.Next(spec_.horizon, spec_.action_dim).to(device_)))
                                .clamp(-1, 1);
    Sync(device_);
    const auto t2 = std::chrono::steady_clock::now();
    if (timing) {
      timing->encode_s = Seconds(t0, t1);
      timing->sample_s = Seconds(t1, t2);
      timing->nfe = 1;
    }
    return ExecutedChunk(a, spec_, normalizer_, options.full_horizon);
  }

  torch::Tensor GenerateNormalized(const ObsBatch& obs, const torch::Tensor& unit_noise) override {
    torch::NoGradGuard no_grad;
    generator_->eval();
    const torch::Tensor cond = EncodeObs(*generator_->encoder, obs, spec_, normalizer_, device_, c10::nullopt);
    return math_->Generate(NetModel(*generator_, cond, math_->ddpm(), edm_), Input(unit_noise.to(device_)));
  }

  std::map<std::string, int64_t> ParameterCounts() const override {
    std::map<std::string, int64_t> m = CountParameters(*generator_->encoder, *generator_->unet);
    if (score_) m["score_network"] = CountParameters(*score_->encoder, *score_->unet).at("total");
    return m;
  }

  void To(const std::string& device) override {
    device_ = ParseDevice(device);
    for (auto* n : Nets()) n->to(device_);
  }

  std::vector<torch::Tensor> TrainableParameters() override { return generator_->parameters(); }
  torch::Tensor Loss(const TrainBatch&, at::Generator, bool) override {
    throw std::invalid_argument(name_ + " is distilled from a Diffusion Policy: use `harness distill`");
  }
  void AfterOptimizerStep(int64_t) override {
    if (gen_ema_) {
      torch::NoGradGuard no_grad;
      auto src = generator_->parameters();
      auto dst = gen_ema_->parameters();
      for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(opts_.generator_ema).add_(src[i].detach(), 1.0 - opts_.generator_ema);
    }
    ++ema_steps_;
  }
  int64_t ema_steps() const override { return ema_steps_; }
  void set_ema_steps(int64_t steps) override { ema_steps_ = steps; }

  // "model": the generator G_theta; "score": psi (OneDP-S); "ema": the generator EMA (if on).
  void SaveWeights(torch::serialize::OutputArchive& archive) const override {
    WriteModule(archive, "model", *generator_);
    if (score_) WriteModule(archive, "score", *score_);
    if (gen_ema_) WriteModule(archive, "ema", *gen_ema_);
  }
  void LoadWeights(torch::serialize::InputArchive& archive) override {
    ReadModule(archive, "model", *generator_);
    if (score_) ReadModule(archive, "score", *score_);
    if (gen_ema_) ReadModule(archive, "ema", *gen_ema_);
    To(device_.str());
  }

  // ---- DistillStudent ----
  void WarmStart(DiffusionTeacher& teacher) override {
    if (teacher.family() != family_) {
      throw std::invalid_argument("teacher family " + teacher.family() + " != the student's " + family_);
    }
    for (auto* n : Nets()) CopyModuleInto(*teacher.ema_nets(), *n);
  }

  void PrepareTraining(DiffusionTeacher* teacher, int64_t) override {
    teacher_ = teacher;
    const auto adam = [&](double lr) {
      return torch::optim::AdamOptions(lr).betas({opts_.betas.at(0), opts_.betas.at(1)}).eps(opts_.eps).weight_decay(0);
    };
    gen_opt_ = std::make_unique<torch::optim::Adam>(generator_->parameters(), adam(opts_.lr_generator));
    if (score_) score_opt_ = std::make_unique<torch::optim::Adam>(score_->parameters(), adam(opts_.lr_score));
  }

  std::map<std::string, double> Step(const TrainBatch& batch, at::Generator gen, int64_t step, bool poison) override {
    if (!teacher_ || !gen_opt_) throw std::logic_error("OneDP Step before PrepareTraining");
    const int64_t b = batch.obs.batch;
    const bool ddpm = math_->ddpm();
    const auto unit = [&] { return torch::randn({b, spec_.horizon, spec_.action_dim}, gen).to(device_); };
    const auto encode = [&](DpNetsImpl& nets, c10::optional<at::Generator> g) {
      return EncodeObs(*nets.encoder, batch.obs, spec_, normalizer_, device_, g);
    };
    const double nan = poison ? std::numeric_limits<double>::quiet_NaN() : 0.0;
    std::map<std::string, double> out;

    // (a) OneDP-S: the generator score network psi learns the generator's samples.
    if (score_) {
      torch::Tensor a;
      {
        torch::NoGradGuard no_grad;
        generator_->train();
        a = math_->Generate(NetModel(*generator_, encode(*generator_, gen), ddpm, edm_), Input(unit()));
      }
      score_->train();
      const torch::Tensor cond_psi = encode(*score_, gen);
      const torch::Tensor loss = math_->ScoreLoss(NetModel(*score_, cond_psi, ddpm, edm_), a, gen) + nan;
      out["score_loss"] = FiniteValue(loss, "the score-network loss");
      OptimizerStep(*score_opt_, loss, score_->parameters(), SanitizedStep());
      // Score-network-only steps (warm-up, or between generator steps): the generator is unchanged.
      if (!math_->GeneratorSteps(step)) return out;
    }

    // (b) generator step against the frozen teacher phi (and psi in eval mode).
    generator_->train();
    const torch::Tensor z = Input(unit());
    const torch::Tensor a = math_->Generate(NetModel(*generator_, encode(*generator_, gen), ddpm, edm_), z);
    DpNets phi = teacher_->ema_nets();
    phi->eval();
    torch::Tensor cond_phi, cond_psi;
    {
      torch::NoGradGuard no_grad;
      cond_phi = encode(*phi, c10::nullopt);
      if (score_) {
        score_->eval();
        cond_psi = encode(*score_, c10::nullopt);
      }
    }
    const LevelModel phi_model = NetModel(*phi, cond_phi, ddpm, edm_);
    LevelModel psi_model;
    if (score_) psi_model = NetModel(*score_, cond_psi, ddpm, edm_);
    const OneDpMath::GeneratorTerms terms = math_->GeneratorLoss(phi_model, score_ ? &psi_model : nullptr, a, gen);
    const torch::Tensor loss = terms.loss + nan;
    out["loss"] = FiniteValue(loss, "the generator loss");
    out["gap"] = terms.gap.item<double>();
    OptimizerStep(*gen_opt_, loss, generator_->parameters(), SanitizedStep());
    AfterOptimizerStep(step);  // the generator EMA
    return out;
  }

  double lr() const override { return opts_.lr_generator; }
  void SaveOptimizers(torch::serialize::OutputArchive& archive) override {
    torch::serialize::OutputArchive g;
    gen_opt_->save(g);
    archive.write("generator", g);
    if (score_opt_) {
      torch::serialize::OutputArchive s;
      score_opt_->save(s);
      archive.write("score", s);
    }
  }
  void LoadOptimizers(torch::serialize::InputArchive& archive) override {
    torch::serialize::InputArchive g;
    archive.read("generator", g);
    gen_opt_->load(g);
    if (score_opt_) {
      torch::serialize::InputArchive s;
      archive.read("score", s);
      score_opt_->load(s);
    }
  }

 private:
  bool scored() const { return name_ == "onedp-s"; }
  // Both OneDP optimisers: constant lr (set at PrepareTraining), sanitised gradients, no clipping.
  static OptimizerStepOptions SanitizedStep() {
    OptimizerStepOptions o;
    o.sanitize = true;
    return o;
  }
  // The generator input for unit noise: scaled by the family, zero for OneDP-D.
  torch::Tensor Input(const torch::Tensor& unit) const {
    return scored() ? math_->ScaleNoise(unit) : torch::zeros_like(unit);
  }
  void Resolve(const SamplerSpec& s) const {
    if (s.family.empty() || (s.family == "onestep" && s.steps <= 1)) return;
    throw std::invalid_argument("policy " + name_ + " cannot sample with '" + s.ToString() + "'; valid: onestep");
  }
  std::vector<DpNetsImpl*> Nets() {
    std::vector<DpNetsImpl*> v = {generator_.get()};
    if (score_) v.push_back(score_.get());
    if (gen_ema_) v.push_back(gen_ema_.get());
    return v;
  }
  std::string name_;
  PolicySpec spec_;
  nlohmann::json config_;
  std::string family_;
  OneDpOptions opts_;
  EdmConfig edm_;
  std::unique_ptr<OneDpMath> math_;
  DpNets generator_{nullptr}, score_{nullptr}, gen_ema_{nullptr};
  DiffusionTeacher* teacher_ = nullptr;
  std::unique_ptr<torch::optim::Adam> gen_opt_, score_opt_;
  int64_t ema_steps_ = 0;
};

}  // namespace

// ---- OneDpOptions ----
void OneDpOptions::Validate() const {
  const auto fail = [](const std::string& why) { throw std::invalid_argument("onedp config: " + why); };
  if (t_init < 0 || t_init > 99) fail("t_init must be in [0, 99]");
  if (!(sigma_init > 0)) fail("sigma_init must be > 0");
  if (k_min < 0 || k_max < k_min || k_max > 99) fail("need 0 <= k_min <= k_max <= 99");
  if (!(lr_generator > 0) || !(lr_score > 0)) fail("learning rates must be > 0");
  if (generator_ema < 0 || generator_ema >= 1) fail("generator_ema must be in [0, 1)");
  if (betas.size() != 2) fail("betas must be [beta1, beta2]");
  if (!(noise_scale >= 0) || !std::isfinite(noise_scale)) fail("noise_scale must be >= 0");
  if (level_sampling != "uniform" && level_sampling != "edm-lognormal") {
    fail("unknown level_sampling '" + level_sampling + "'; valid: uniform, edm-lognormal");
  }
  if (score_warmup_steps < 0) fail("score_warmup_steps must be >= 0");
  if (score_steps_per_generator_step < 1) fail("score_steps_per_generator_step must be >= 1");
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OneDpOptions, t_init, sigma_init, k_min, k_max, dmd_normalization,
                                                lr_generator, lr_score, betas, eps, generator_ema, noise_scale,
                                                level_sampling, score_warmup_steps,
                                                score_steps_per_generator_step, clip_x0)

nlohmann::json OneDpOptions::ToJson() const { return *this; }

OneDpOptions OneDpOptions::FromJson(const nlohmann::json& j) {
  return OptionsFromJson<OneDpOptions>(j, "onedp config");
}

// ---- OneDpMath ----
OneDpMath::OneDpMath(std::string family, DdpmSchedule schedule, EdmConfig edm, OneDpOptions options)
    : family_(std::move(family)), schedule_(std::move(schedule)), edm_(edm), o_(options) {
  if (family_ != "ddpm" && family_ != "edm") throw std::invalid_argument("OneDP family must be ddpm or edm");
  o_.Validate();
  if (ddpm() && o_.k_max >= schedule_.num_train_timesteps) throw std::invalid_argument("k_max beyond the schedule");
  if (ddpm()) {
    std::vector<double> log_sigma;  // sigma_k = sqrt((1 - abar_k) / abar_k)
    for (int i = o_.k_min; i <= o_.k_max; ++i) {
      const double ab = schedule_.alphas_cumprod.at(i);
      log_sigma.push_back(0.5 * std::log((1 - ab) / ab));
    }
    log_sigma_k_ = torch::tensor(log_sigma, torch::kDouble);
  }
}

torch::Tensor OneDpMath::PerRow(const torch::Tensor& v, const torch::Tensor& like) const {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return v.to(like.device(), like.scalar_type()).reshape(shape);
}

torch::Tensor OneDpMath::ScaleNoise(const torch::Tensor& unit_noise) const {
  return ddpm() ? unit_noise * o_.noise_scale : unit_noise * (o_.sigma_init * o_.noise_scale);
}

bool OneDpMath::GeneratorSteps(int64_t step) const {
  if (step < o_.score_warmup_steps) return false;
  const int64_t k = o_.score_steps_per_generator_step;
  return (step - o_.score_warmup_steps) % k == k - 1;
}

torch::Tensor OneDpMath::Generate(const LevelModel& model, const torch::Tensor& z) const {
  const int64_t b = z.size(0);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(z.device());
  if (!ddpm()) return model(z, torch::full({b}, o_.sigma_init, opts));
  const double ab = schedule_.alphas_cumprod.at(o_.t_init);
  const torch::Tensor eps = model(z, torch::full({b}, static_cast<double>(o_.t_init), opts));
  return (z - std::sqrt(1.0 - ab) * eps) / std::sqrt(ab);
}

OneDpMath::Levels OneDpMath::SampleLevels(int64_t batch, at::Generator gen, const torch::Device& device) const {
  Levels l;
  if (ddpm()) {
    torch::Tensor k;
    if (o_.level_sampling == "edm-lognormal") {
      // The k in [k_min, k_max] nearest in log sigma.
      const torch::Tensor ls = EdmSampleTrainingSigma(batch, edm_, gen).to(torch::kDouble).log();
      k = (ls.unsqueeze(1) - log_sigma_k_.unsqueeze(0)).abs().argmin(1) + o_.k_min;
    } else {
      k = torch::randint(o_.k_min, o_.k_max + 1, {batch}, gen, torch::TensorOptions().dtype(torch::kLong));
    }
    const torch::Tensor ab = torch::tensor(schedule_.alphas_cumprod, torch::kDouble).index_select(0, k);
    l.level = k.to(torch::kFloat);
    l.a = ab.sqrt().to(torch::kFloat);
    l.s = (1 - ab).sqrt().to(torch::kFloat);
  } else {
    const torch::Tensor sigma = EdmSampleTrainingSigma(batch, edm_, gen);
    l.level = sigma;
    l.a = torch::ones_like(sigma);
    l.s = sigma;
  }
  l.level = l.level.to(device);
  l.a = l.a.to(device);
  l.s = l.s.to(device);
  return l;
}

torch::Tensor OneDpMath::X0(const torch::Tensor& pred, const torch::Tensor& x, const Levels& l) const {
  if (!ddpm()) return pred;
  return (x - PerRow(l.s, x) * pred) / PerRow(l.a, x);
}

torch::Tensor OneDpMath::ScoreLoss(const LevelModel& psi, const torch::Tensor& a_sample, at::Generator gen) const {
  const torch::Tensor a0 = a_sample.detach();
  const Levels l = SampleLevels(a0.size(0), gen, a0.device());
  const torch::Tensor eps = torch::randn(a0.sizes(), gen).to(a0.device());
  const torch::Tensor xl = PerRow(l.a, a0) * a0 + PerRow(l.s, a0) * eps;
  const torch::Tensor pred = psi(xl, l.level);
  if (ddpm()) return torch::mse_loss(pred, eps);
  return (PerRow(EdmLossWeightTensor(l.s, edm_), a0) * (pred - a0).pow(2)).mean();
}

OneDpMath::GeneratorTerms OneDpMath::GeneratorLoss(const LevelModel& phi, const LevelModel* psi,
                                                   const torch::Tensor& a_sample, at::Generator gen) const {
  const int64_t b = a_sample.size(0);
  const Levels l = SampleLevels(b, gen, a_sample.device());
  const torch::Tensor eps = torch::randn(a_sample.sizes(), gen).to(a_sample.device());
  const torch::Tensor a = PerRow(l.a, a_sample);
  const torch::Tensor xl = a * a_sample + PerRow(l.s, a_sample) * eps;
  torch::Tensor g;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor xd = xl.detach();
    const auto x0 = [&](const LevelModel& m) {
      const torch::Tensor v = X0(m(xd, l.level), xd, l);
      return o_.clip_x0 ? v.clamp(-1.0, 1.0) : v;
    };
    const torch::Tensor x0_phi = x0(phi);
    if (psi) {
      g = a * (x0(*psi) - x0_phi);
    } else {
      g = a * (a_sample.detach() - x0_phi);
    }
    if (o_.dmd_normalization) {
      std::vector<int64_t> dims;
      for (int64_t d = 1; d < a_sample.dim(); ++d) dims.push_back(d);
      g = g / (a_sample.detach() - x0_phi).abs().mean(dims, /*keepdim=*/true).clamp_min(1e-8);
    }
  }
  GeneratorTerms t;
  t.loss = (g * xl).sum() / static_cast<double>(b);
  t.gap = g.pow(2).mean();
  return t;
}

std::unique_ptr<TorchPolicy> MakeOneDpPolicy(const std::string& name, const PolicySpec& spec,
                                             const nlohmann::json& config, const Normalizer& normalizer,
                                             uint64_t seed) {
  return std::make_unique<OneDpPolicy>(name, spec, config, normalizer, seed);
}

}  // namespace onedp
