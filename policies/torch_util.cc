// Tensor conversions shared by every torch policy (see torch_policy.h).
#include <ATen/CPUGeneratorImpl.h>

#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <stdexcept>

#include "policies/torch_policy.h"

namespace onedp {
namespace {

int64_t Product(const std::vector<int>& shape) {
  int64_t n = 1;
  for (int s : shape) n *= s;
  return n;
}

}  // namespace

TorchPolicy& AsTorchPolicy(Policy& policy) {
  auto* t = dynamic_cast<TorchPolicy*>(&policy);
  if (!t) throw std::invalid_argument("policy " + policy.Name() + " is not a libtorch policy");
  return *t;
}

std::map<std::string, torch::Tensor> ObsTensors(const ObsBatch& obs, const PolicySpec& spec,
                                                const Normalizer& normalizer,
                                                const torch::Device& device) {
  const int64_t b = obs.batch, to = obs.steps;
  if (b <= 0) throw std::invalid_argument("observation batch is empty");
  if (to != spec.obs_steps) {
    throw std::invalid_argument("observation history has " + std::to_string(to) +
                                " steps; the policy needs To = " + std::to_string(spec.obs_steps));
  }
  std::map<std::string, torch::Tensor> out;
  for (const auto& key : spec.obs) {
    const int64_t per_frame = Product(key.shape);
    const int64_t expected = b * to * per_frame;
    if (key.is_image) {
      auto it = obs.images.find(key.key);
      if (it == obs.images.end()) throw std::invalid_argument("observation batch lacks image key '" + key.key + "'");
      if (static_cast<int64_t>(it->second.size()) != expected) {
        throw std::invalid_argument("image key '" + key.key + "' has " + std::to_string(it->second.size()) +
                                    " values, expected " + std::to_string(expected));
      }
      // The raw pixels, uncopied on the CPU: the encoder crops them and converts only the crop
      // windows (ObsEncoder::CropU8). from_blob does not own the memory (see the header).
      auto t = torch::from_blob(const_cast<uint8_t*>(it->second.data()),
                                {b * to, key.shape[0], key.shape[1], 3}, torch::kUInt8);
      out[key.key] = t.to(device);
    } else {
      auto it = obs.lowdim.find(key.key);
      if (it == obs.lowdim.end()) throw std::invalid_argument("observation batch lacks key '" + key.key + "'");
      if (static_cast<int64_t>(it->second.size()) != expected) {
        throw std::invalid_argument("key '" + key.key + "' has " + std::to_string(it->second.size()) +
                                    " values, expected " + std::to_string(expected));
      }
      std::vector<float> v = it->second;
      normalizer.Normalize(key.key, v.data(), static_cast<int64_t>(v.size()));
      out[key.key] = torch::from_blob(v.data(), {b * to, per_frame}, torch::kFloat32).clone().to(device);
    }
  }
  return out;
}

torch::Tensor ActionTensor(const TrainBatch& batch, const PolicySpec& spec,
                           const Normalizer& normalizer, const torch::Device& device) {
  const int64_t b = batch.obs.batch;
  const int64_t expected = b * spec.horizon * spec.action_dim;
  if (static_cast<int64_t>(batch.actions.size()) != expected) {
    throw std::invalid_argument("training batch has " + std::to_string(batch.actions.size()) +
                                " action values, expected B*H*Da = " + std::to_string(expected));
  }
  std::vector<float> v = batch.actions;
  normalizer.Normalize("action", v.data(), static_cast<int64_t>(v.size()));
  return torch::from_blob(v.data(), {b, spec.horizon, spec.action_dim}, torch::kFloat32).clone().to(device);
}

RowNoise::RowNoise(int64_t batch, const std::vector<uint64_t>& seeds) {
  if (seeds.empty()) throw std::invalid_argument("no noise seeds given");
  if (seeds.size() != 1 && static_cast<int64_t>(seeds.size()) != batch) {
    throw std::invalid_argument("got " + std::to_string(seeds.size()) + " noise seeds for a batch of " +
                                std::to_string(batch));
  }
  for (int64_t i = 0; i < batch; ++i) {
    const uint64_t seed = seeds.size() == 1 ? seeds[0] + static_cast<uint64_t>(i) : seeds[i];
    gens_.push_back(at::detail::createCPUGenerator(seed));
  }
}

torch::Tensor RowNoise::Next(int64_t rows, int64_t cols) {
  std::vector<torch::Tensor> parts;
  parts.reserve(gens_.size());
  for (auto& gen : gens_) parts.push_back(torch::randn({rows, cols}, gen));
  return torch::stack(parts);
}

void InitWithSeed(uint64_t seed, const std::function<void()>& build) {
  // One seeded initialisation at a time: two concurrent ones would share the default generator.
  static std::mutex init_mutex;
  std::lock_guard<std::mutex> init_lock(init_mutex);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor saved;
  {
    // The generator's own mutex guards get_state / set_current_seed; it must not be held while
    // `build` runs (every random op on the default generator locks it itself).
    std::lock_guard<std::mutex> lock(gen.mutex());
    saved = gen.get_state();
    gen.set_current_seed(seed);
  }
  const auto restore = [&] {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(saved);
  };
  try {
    build();
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

void SanitizeGradients(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    if (p.grad().defined()) p.mutable_grad().nan_to_num_(0.0, 1e5, -1e5);
  }
}

torch::Device ParseDevice(const std::string& device) {
  torch::Device d(torch::kCPU);
  try {
    d = torch::Device(device);
  } catch (const std::exception&) {
    throw std::invalid_argument("unknown device '" + device + "' (valid: cpu, cuda, cuda:<index>)");
  }
  if (d.is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("device '" + device + "' asked for, but this libtorch build sees no CUDA device");
  }
  if (!d.is_cpu() && !d.is_cuda()) {
    throw std::invalid_argument("unsupported device '" + device + "' (valid: cpu, cuda, cuda:<index>)");
  }
  return d;
}

double EmaDecay(int64_t step, double inv_gamma, double power, double min_value, double max_value) {
  // diffusion_policy EMAModel.get_decay with update_after_step = 0: n' = step - 1.
  const double n = static_cast<double>(step - 1);
  if (n <= 0) return 0.0;
  const double decay = 1.0 - std::pow(1.0 + n / inv_gamma, -power);
  return std::max(min_value, std::min(decay, max_value));
}

}  // namespace onedp
