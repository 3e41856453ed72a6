// Diffusion Policy (Chi et al. 2023) with a DDPM (epsilon) or an EDM (x0, preconditioned) denoiser.
//
//   obs (B, To, ...) -> ObsEncoder -> global_cond (B, To*Do)
//   DDPM family: eps_theta(x_k, k, cond); samplers ddpm:100, ddim:N   (docs/algorithms.md, DDPM)
//   EDM family:  D(x; sigma) = c_skip x + c_out F(c_in x, c_noise, cond); sampler edm:N (Heun,
//                NFE 2N-1)                                              (docs/algorithms.md, EDM)
// Inference always uses the EMA copy of the networks.
#include <chrono>

#include <torch/torch.h>
#include <stdexcept>

#include "policies/diffusion_policy.h"
#include "policies/nets/conditional_unet1d.h"
#include "policies/nets/obs_encoder.h"
#include "policies/noise_schedule.h"
#include "policies/policy_info.h"
#include "policies/samplers.h"
#include "policies/torch_policy.h"

namespace onedp {
namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

class DiffusionPolicy final : public DiffusionTeacher {
 public:
  DiffusionPolicy(const std::string& name, const PolicySpec& spec, const nlohmann::json& config,
                  const Normalizer& normalizer, uint64_t seed)
      : name_(name), spec_(spec), config_(config) {
    spec_.Validate();
    normalizer_ = normalizer;
    family_ = config_.at("family").get<std::string>();
    if (family_ != "ddpm" && family_ != "edm") {
      throw std::invalid_argument("diffusion policy family must be ddpm or edm, got '" + family_ + "'");
    }
    if (!normalizer_.has("action")) throw std::invalid_argument("normaliser has no 'action' key");
    for (const auto& k : spec_.obs) {
      if (!k.is_image && !normalizer_.has(k.key)) {
        throw std::invalid_argument("normaliser has no entry for observation key '" + k.key + "'");
      }
    }
    schedule_ = DdpmSchedule::SquaredCosCapV2(config_.at("ddpm").at("num_train_timesteps").get<int>());
    // diffusers' clip_sample (x0_hat clamped to [-1, 1] at every DDPM / DDIM step). Absent from the
    // presets, so it stays out of their config hashes; a saved policy's config may set it false
    // to sample the network's own distribution (results/onedp_ddpm_gap).
    clip_sample_ = config_.at("ddpm").value("clip_sample", true);
    edm_ = EdmConfig::FromJson(config_.at("edm"));

    const DpNetOptions no = MakeDpNetOptions(spec_, config_);
    // Parameter initialisation from `seed`, without touching the global RNG (torch_policy.h).
    // The EMA copy is built inside too: its (overwritten) initialisation must not draw globally.
    InitWithSeed(seed, [&] {
      model_ = DpNets(no.encoder, no.unet);
      ema_ = DpNets(no.encoder, no.unet);
    });
    if (model_->encoder->output_dim() * spec_.obs_steps != no.unet.global_cond_dim) {
      throw std::logic_error("encoder output " + std::to_string(model_->encoder->output_dim()) +
                             " does not match the U-Net's condition size");
    }
    CopyModuleInto(*model_, *ema_);
    for (auto& p : ema_->parameters()) p.set_requires_grad(false);
    ema_->eval();
  }

  const std::string& family() const override { return family_; }
  const DdpmSchedule& schedule() const override { return schedule_; }
  const EdmConfig& edm() const override { return edm_; }
  DpNets ema_nets() const override { return ema_; }

  std::string Name() const override { return name_; }
  const PolicySpec& spec() const override { return spec_; }
  nlohmann::json Config() const override { return config_; }

  std::vector<std::string> Samplers() const override { return FindPolicyInfo(name_).samplers; }

  int Nfe(const SamplerSpec& s) const override {
    const SamplerSpec r = Resolve(s);
    if (r.family == "ddpm") return schedule_.num_train_timesteps;
    if (r.family == "ddim") return r.steps;
    return 2 * r.steps - 1;  // edm Heun with a final Euler step
  }

  ActionChunk PredictChunk(const ObsBatch& obs, const SampleOptions& options,
                           PredictTiming* timing) override {
    const SamplerSpec s = Resolve(options.sampler);
    torch::NoGradGuard no_grad;
    ema_->eval();
    const auto t0 = std::chrono::steady_clock::now();
    const torch::Tensor cond = Encode(*ema_, obs, c10::nullopt);
    Sync();
    const auto t1 = std::chrono::steady_clock::now();

    const int64_t b = obs.batch;
    RowNoise noise(b, options.seeds);
    const auto draw = [&] { return noise.Next(spec_.horizon, spec_.action_dim).to(device_); };
    torch::Tensor x = draw();
    int nfe = 0;
    if (family_ == "ddpm") {
      const EpsModel eps = [&](const torch::Tensor& xk, const torch::Tensor& k) {
        return ema_->unet->forward(xk, k, cond);
      };
      if (s.family == "ddpm") {
        x = DdpmSample(eps, schedule_, x, [&](const torch::Tensor&) { return draw(); }, &nfe, clip_sample_);
      } else {
        x = DdimSample(eps, schedule_, s.steps, x, &nfe, clip_sample_);
      }
    } else {
      const Denoiser d = [&](const torch::Tensor& xs, const torch::Tensor& sigma) {
        return EdmDenoise(
            [&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
              return ema_->unet->forward(x_in, c_noise, cond);
            },
            xs, sigma, edm_);
      };
      const auto sigmas = KarrasSigmas(s.steps, edm_.sigma_min, edm_.sigma_max, edm_.rho);
      x = EdmHeunSample(d, sigmas, x * edm_.init_std, edm_, &nfe);
    }
    Sync();
    const auto t2 = std::chrono::steady_clock::now();
    if (timing) {
      timing->encode_s = Seconds(t0, t1);
      timing->sample_s = Seconds(t1, t2);
      timing->nfe = nfe;
    }

    return ExecutedChunk(x, spec_, normalizer_, options.full_horizon);
  }

  std::map<std::string, int64_t> ParameterCounts() const override {
    return CountParameters(*model_->encoder, *model_->unet);
  }

  void To(const std::string& device) override {
    device_ = ParseDevice(device);
    model_->to(device_);
    ema_->to(device_);
  }

  std::vector<torch::Tensor> TrainableParameters() override { return model_->parameters(); }

  torch::Tensor Loss(const TrainBatch& batch, at::Generator gen, bool train) override {
    model_->train(train);
    const int64_t b = batch.obs.batch;
    const torch::Tensor cond = Encode(*model_, batch.obs, gen);
    const torch::Tensor x0 = ActionTensor(batch, spec_, normalizer_, device_);
    const torch::Tensor noise = torch::randn(x0.sizes(), gen).to(device_);
    if (family_ == "ddpm") {
      const torch::Tensor k = torch::randint(0, schedule_.num_train_timesteps, {b}, gen,
                                             torch::TensorOptions().dtype(torch::kLong))
                                  .to(device_);
      const torch::Tensor xk = DdpmAddNoise(schedule_, x0, noise, k);
      const torch::Tensor pred = model_->unet->forward(xk, k.to(torch::kFloat32), cond);
      return torch::mse_loss(pred, noise);
    }
    const torch::Tensor sigma = EdmSampleTrainingSigma(b, edm_, gen).to(device_);
    const torch::Tensor xs = x0 + sigma.view({b, 1, 1}) * noise;
    const torch::Tensor d = EdmDenoise(
        [&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
          return model_->unet->forward(x_in, c_noise, cond);
        },
        xs, sigma, edm_);
    const torch::Tensor w = EdmLossWeightTensor(sigma, edm_).view({b, 1, 1});
    return (w * (d - x0).pow(2)).mean();
  }

  void AfterOptimizerStep(int64_t step) override {
    torch::NoGradGuard no_grad;
    const auto& e = config_.at("ema");
    const double decay = EmaDecay(ema_steps_, e.at("inv_gamma").get<double>(), e.at("power").get<double>(),
                                  0.0, e.at("max_value").get<double>());
    auto src = model_->parameters();
    auto dst = ema_->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(decay).add_(src[i].detach(), 1.0 - decay);
    auto sb = model_->buffers();
    auto db = ema_->buffers();
    for (size_t i = 0; i < sb.size(); ++i) db[i].copy_(sb[i]);
    ++ema_steps_;
  }
  int64_t ema_steps() const override { return ema_steps_; }
  void set_ema_steps(int64_t steps) override { ema_steps_ = steps; }

  void SaveWeights(torch::serialize::OutputArchive& archive) const override {
    WriteModule(archive, "model", *model_);
    WriteModule(archive, "ema", *ema_);
  }
  void LoadWeights(torch::serialize::InputArchive& archive) override {
    ReadModule(archive, "model", *model_);
    ReadModule(archive, "ema", *ema_);
    model_->to(device_);
    ema_->to(device_);
    for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  }

 private:
  SamplerSpec Resolve(const SamplerSpec& asked) const {
    SamplerSpec s = asked.family.empty() ? SamplerSpec::Parse(Samplers().front()) : asked;
    const bool ddpm_family = family_ == "ddpm";
    const auto valid = [&] {
      std::string v;
      for (const auto& n : Samplers()) v += (v.empty() ? "" : ", ") + n;
      return v + (ddpm_family ? " (ddim:N for any N dividing " + std::to_string(schedule_.num_train_timesteps) + ")"
                              : " (edm:N for any N >= 1)");
    };
    if (ddpm_family && s.family == "ddpm") {
      if (s.steps == 0) s.steps = schedule_.num_train_timesteps;
      if (s.steps != schedule_.num_train_timesteps) {
        throw std::invalid_argument("ddpm samples with all " + std::to_string(schedule_.num_train_timesteps) +
                                    " steps (diffusers 0.11 semantics); use ddim:N for fewer. Valid: " + valid());
      }
      return s;
    }
    if (ddpm_family && s.family == "ddim") {
      if (s.steps == 0) s.steps = 10;
      if (s.steps > schedule_.num_train_timesteps) throw std::invalid_argument("ddim steps too large; valid: " + valid());
      return s;
    }
    if (!ddpm_family && s.family == "edm") {
      if (s.steps == 0) s.steps = 18;
      return s;
    }
    throw std::invalid_argument("policy " + name_ + " cannot sample with '" + asked.ToString() + "'; valid: " + valid());
  }

  torch::Tensor Encode(DpNetsImpl& nets, const ObsBatch& obs, c10::optional<at::Generator> gen) const {
    return EncodeObs(*nets.encoder, obs, spec_, normalizer_, device_, gen);
  }

  void Sync() const {
    if (device_.is_cuda()) torch::cuda::synchronize();
  }

  std::string name_;
  PolicySpec spec_;
  nlohmann::json config_;
  std::string family_;
  DdpmSchedule schedule_;
  bool clip_sample_ = true;
  EdmConfig edm_;
  DpNets model_{nullptr}, ema_{nullptr};
  int64_t ema_steps_ = 0;
};

}  // namespace

DpNetOptions MakeDpNetOptions(const PolicySpec& spec, const nlohmann::json& config) {
  DpNetOptions no;
  ObsEncoderOptions& eo = no.encoder;
  eo.keys = spec.obs;
  eo.crop = spec.crop;
  const auto& enc = config.at("encoder");
  eo.backbone = enc.at("backbone").get<std::string>();
  eo.num_keypoints = enc.at("num_keypoints").get<int>();
  eo.feature_dim = enc.at("feature_dim").get<int>();
  ConditionalUnet1DOptions& uo = no.unet;
  const auto& un = config.at("unet");
  uo.input_dim = spec.action_dim;
  uo.step_embed_dim = un.at("step_embed_dim").get<int>();
  uo.down_dims = un.at("down_dims").get<std::vector<int>>();
  uo.kernel_size = un.at("kernel_size").get<int>();
  uo.n_groups = un.at("n_groups").get<int>();
  uo.cond_predict_scale = true;
  // The encoder's output size (feature_dim per camera + the low-dim sizes) fixes the U-Net's
  // condition size; DpNets' users check it against the built encoder.
  int obs_dim = 0;
  for (const auto& k : spec.obs) obs_dim += k.is_image ? eo.feature_dim : k.shape[0];
  uo.global_cond_dim = spec.obs_steps * obs_dim;
  return no;
}

std::map<std::string, int64_t> CountParameters(const torch::nn::Module& encoder, const torch::nn::Module& unet) {
  const auto count = [](const std::vector<torch::Tensor>& ps) {
    int64_t n = 0;
    for (const auto& p : ps) n += p.numel();
    return n;
  };
  const int64_t enc = count(encoder.parameters()), net = count(unet.parameters());
  return {{"encoder", enc}, {"unet", net}, {"total", enc + net}};
}

void WriteModule(torch::serialize::OutputArchive& archive, const std::string& key, const torch::nn::Module& module) {
  torch::serialize::OutputArchive a;
  module.save(a);
  archive.write(key, a);
}

void ReadModule(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module) {
  torch::serialize::InputArchive a;
  archive.read(key, a);
  module.load(a);
}

void CopyModuleInto(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto src = from.parameters();
  auto dst = to.parameters();
  if (src.size() != dst.size()) throw std::logic_error("CopyModuleInto: different architectures");
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  auto sb = from.buffers();
  auto db = to.buffers();
  for (size_t i = 0; i < sb.size(); ++i) db[i].copy_(sb[i]);
}

torch::Tensor EncodeObs(ObsEncoderImpl& encoder, const ObsBatch& obs, const PolicySpec& spec,
                        const Normalizer& normalizer, const torch::Device& device,
                        c10::optional<at::Generator> gen) {
  const auto tensors = ObsTensors(obs, spec, normalizer, device);
  return encoder.forward(tensors, gen).reshape({obs.batch, -1});  // (B*To, Do) -> (B, To*Do)
}

ActionChunk ExecutedChunk(const torch::Tensor& x, const PolicySpec& spec, const Normalizer& normalizer,
                          bool full_horizon) {
  const torch::Tensor a = (full_horizon ? x : x.slice(1, spec.obs_steps - 1, spec.obs_steps - 1 + spec.action_steps))
                              .to(torch::kCPU, torch::kFloat32)
                              .contiguous();
  ActionChunk out;
  out.batch = static_cast<int>(x.size(0));
  out.steps = static_cast<int>(a.size(1));
  out.dim = spec.action_dim;
  out.data.assign(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
  normalizer.Unnormalize("action", out.data.data(), static_cast<int64_t>(out.data.size()));
  return out;
}

DiffusionTeacher& AsDiffusionTeacher(Policy& policy) {
  auto* t = dynamic_cast<DiffusionTeacher*>(&policy);
  if (!t) throw std::invalid_argument("policy " + policy.Name() + " is not a Diffusion Policy (dp-ddpm or dp-edm)");
  return *t;
}

std::unique_ptr<TorchPolicy> MakeDiffusionPolicy(const std::string& name, const PolicySpec& spec,
                                                 const nlohmann::json& config,
                                                 const Normalizer& normalizer, uint64_t seed) {
  return std::make_unique<DiffusionPolicy>(name, spec, config, normalizer, seed);
}

}  // namespace onedp
