#include "policies/nets/conditional_unet1d.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace onedp {
namespace nn = torch::nn;

int ConditionalUnet1DOptions::horizon_multiple() const {
  return down_dims.empty() ? 1 : 1 << (static_cast<int>(down_dims.size()) - 1);
}

void ConditionalUnet1DOptions::Validate() const {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("ConditionalUnet1DOptions: " + what);
  };
  if (input_dim <= 0) fail("input_dim must be > 0, got " + std::to_string(input_dim));
  if (global_cond_dim < 0) fail("global_cond_dim must be >= 0");
  if (step_embed_dim < 4 || step_embed_dim % 2 != 0) {
    fail("step_embed_dim must be even and >= 4, got " + std::to_string(step_embed_dim));
  }
  if (down_dims.empty()) fail("down_dims must not be empty");
  if (kernel_size <= 0 || kernel_size % 2 == 0) {
    fail("kernel_size must be odd and > 0, got " + std::to_string(kernel_size));
  }
  if (n_groups <= 0) fail("n_groups must be > 0");
  for (int d : down_dims) {
    if (d <= 0 || d % n_groups != 0) {
      fail("every down_dims entry must be > 0 and divisible by n_groups (" +
           std::to_string(n_groups) + "), got " + std::to_string(d));
    }
  }
  if (num_time_inputs != 1 && num_time_inputs != 2) {
    fail("num_time_inputs must be 1 or 2, got " + std::to_string(num_time_inputs));
  }
  if (dropout < 0 || dropout >= 1) fail("dropout must be in [0, 1)");
}

torch::Tensor Mish(const torch::Tensor& x) { return x * torch::tanh(torch::softplus(x)); }

// ---------------------------------------------------------------------------------------------
SinusoidalPosEmbImpl::SinusoidalPosEmbImpl(int dim) : dim_(dim) {
  if (dim < 4 || dim % 2 != 0) {
    throw std::invalid_argument("SinusoidalPosEmb: dim must be even and >= 4, got " +
                                std::to_string(dim));
  }
}

torch::Tensor SinusoidalPosEmbImpl::forward(const torch::Tensor& t) {
  const int64_t half = dim_ / 2;
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  auto opts = torch::TensorOptions().dtype(torch::kFloat).device(t.device());
  torch::Tensor freqs = torch::exp(torch::arange(half, opts) * -step);
  torch::Tensor arg = t.to(torch::kFloat).reshape({-1, 1}) * freqs.reshape({1, -1});
  return torch::cat({arg.sin(), arg.cos()}, -1);
}

// ---------------------------------------------------------------------------------------------
Conv1dBlockImpl::Conv1dBlockImpl(int in, int out, int kernel_size, int n_groups)
    : in_(in), out_(out), kernel_size_(kernel_size), n_groups_(n_groups) {
  reset();
}

void Conv1dBlockImpl::reset() {
  block = register_module(
      "block",
      nn::Sequential(
          nn::Conv1d(nn::Conv1dOptions(in_, out_, kernel_size_).padding(kernel_size_ / 2)),
          nn::GroupNorm(nn::GroupNormOptions(n_groups_, out_)), nn::Mish()));
}

torch::Tensor Conv1dBlockImpl::forward(const torch::Tensor& x) { return block->forward(x); }

// ---------------------------------------------------------------------------------------------
ConditionalResidualBlock1DImpl::ConditionalResidualBlock1DImpl(int in, int out, int cond_dim,
                                                               int kernel_size, int n_groups,
                                                               bool cond_predict_scale,
                                                               double dropout)
    : in_(in),
      out_(out),
      cond_dim_(cond_dim),
      kernel_size_(kernel_size),
      n_groups_(n_groups),
      cond_predict_scale_(cond_predict_scale),
      dropout_(dropout) {
  if (dropout < 0 || dropout >= 1) throw std::invalid_argument("dropout must be in [0, 1)");
  reset();
}

torch::Tensor ConditionalResidualBlock1DImpl::Drop(const torch::Tensor& h) {
  if (dropout_ <= 0 || !is_training()) return h;
  if (!dropout_gen_) return torch::dropout(h, dropout_, /*train=*/true);
  const torch::Tensor keep =
      torch::bernoulli(torch::full(h.sizes(), 1.0 - dropout_, torch::kFloat), *dropout_gen_);
  return h * keep.to(h.device(), h.scalar_type()) / (1.0 - dropout_);
}

void ConditionalResidualBlock1DImpl::reset() {
  blocks = register_module("blocks",
                           nn::ModuleList(Conv1dBlock(in_, out_, kernel_size_, n_groups_),
                                          Conv1dBlock(out_, out_, kernel_size_, n_groups_)));
  cond_encoder = register_module(
      "cond_encoder",
      nn::Sequential(nn::Mish(), nn::Linear(cond_dim_, cond_predict_scale_ ? 2 * out_ : out_)));
  if (in_ != out_) {
    residual_conv = register_module("residual_conv", nn::Conv1d(nn::Conv1dOptions(in_, out_, 1)));
  } else {
    residual_conv = nullptr;
  }
}

torch::Tensor ConditionalResidualBlock1DImpl::forward(const torch::Tensor& x,
                                                      const torch::Tensor& cond) {
  torch::Tensor h = Drop(blocks->at<Conv1dBlockImpl>(0).forward(x));
  torch::Tensor e = cond_encoder->forward(cond);
  if (cond_predict_scale_) {
    e = e.reshape({e.size(0), 2, out_, 1});
    h = e.select(1, 0) * h + e.select(1, 1);
  } else {
    h = h + e.unsqueeze(-1);
  }
  h = blocks->at<Conv1dBlockImpl>(1).forward(h);
  return Drop(h + (residual_conv ? residual_conv->forward(x) : x));
}

// ---------------------------------------------------------------------------------------------
ConditionalUnet1DImpl::ConditionalUnet1DImpl(const ConditionalUnet1DOptions& options)
    : options_(options) {
  options_.Validate();
  reset();
}

void ConditionalUnet1DImpl::reset() {
  const ConditionalUnet1DOptions& o = options_;
  const int dsed = o.step_embed_dim;
  const int cond_dim = o.cond_dim();
  auto rb = [&](int in, int out) {
    return ConditionalResidualBlock1D(in, out, cond_dim, o.kernel_size, o.n_groups,
                                      o.cond_predict_scale, o.dropout);
  };

  diffusion_step_encoder = register_module(
      "diffusion_step_encoder",
      nn::Sequential(SinusoidalPosEmb(dsed), nn::Linear(dsed, 4 * dsed), nn::Mish(),
                     nn::Linear(4 * dsed, dsed)));

  std::vector<int> all_dims = {o.input_dim};
  all_dims.insert(all_dims.end(), o.down_dims.begin(), o.down_dims.end());
  const int levels = static_cast<int>(o.down_dims.size());

  down_modules = nn::ModuleList();
  for (int i = 0; i < levels; ++i) {
    const int in = all_dims[i], out = all_dims[i + 1];
    const bool is_last = i == levels - 1;
    nn::ModuleList level(rb(in, out), rb(out, out));
    if (!is_last) {
      level->push_back(nn::Conv1d(nn::Conv1dOptions(out, out, 3).stride(2).padding(1)));
    } else {
      level->push_back(nn::Identity());
    }
    down_modules->push_back(level);
  }
  down_modules = register_module("down_modules", down_modules);

  const int mid = o.down_dims.back();
  mid_modules = register_module("mid_modules", nn::ModuleList(rb(mid, mid), rb(mid, mid)));

  // Up path over reversed(pairs[1:]): (d_{L-2}, d_{L-1}), ..., (d0, d1). Every level upsamples
  // (DP's is_last test can never be true here).
  up_modules = nn::ModuleList();
  for (int i = levels - 1; i >= 1; --i) {
    const int in = all_dims[i], out = all_dims[i + 1];  // pair (in, out) = (d_{i-1}, d_i)
    up_modules->push_back(nn::ModuleList(
        rb(2 * out, in), rb(in, in),
        nn::ConvTranspose1d(nn::ConvTranspose1dOptions(in, in, 4).stride(2).padding(1))));
  }
  up_modules = register_module("up_modules", up_modules);

  const int d0 = o.down_dims.front();
  final_conv = register_module(
      "final_conv", nn::Sequential(Conv1dBlock(d0, d0, o.kernel_size, o.n_groups),
                                   nn::Conv1d(nn::Conv1dOptions(d0, o.input_dim, 1))));
}

ConditionalResidualBlock1D ConditionalUnet1DImpl::DownBlock(int level, int index) const {
  return ConditionalResidualBlock1D(down_modules->ptr<nn::ModuleListImpl>(level)
                                        ->ptr<ConditionalResidualBlock1DImpl>(index));
}

ConditionalResidualBlock1D ConditionalUnet1DImpl::MidBlock(int index) const {
  return ConditionalResidualBlock1D(mid_modules->ptr<ConditionalResidualBlock1DImpl>(index));
}

ConditionalResidualBlock1D ConditionalUnet1DImpl::UpBlock(int level, int index) const {
  return ConditionalResidualBlock1D(
      up_modules->ptr<nn::ModuleListImpl>(level)->ptr<ConditionalResidualBlock1DImpl>(index));
}

std::vector<ConditionalResidualBlock1D> ConditionalUnet1DImpl::ResidualBlocks() const {
  std::vector<ConditionalResidualBlock1D> out;
  for (int i = 0; i < num_down_levels(); ++i) {
    for (int j = 0; j < 2; ++j) out.push_back(DownBlock(i, j));
  }
  for (int j = 0; j < 2; ++j) out.push_back(MidBlock(j));
  for (int i = 0; i < num_up_levels(); ++i) {
    for (int j = 0; j < 2; ++j) out.push_back(UpBlock(i, j));
  }
  return out;
}

void ConditionalUnet1DImpl::SetDropoutGenerator(c10::optional<at::Generator> gen) {
  for (auto& b : ResidualBlocks()) b->set_dropout_generator(gen);
}

namespace {

// (B) float timesteps on x's device; a 0-d or 1-element tensor broadcasts to B.
torch::Tensor BroadcastTime(const torch::Tensor& t, int64_t batch, const torch::Device& device,
                            const char* name) {
  if (!t.defined()) throw std::invalid_argument(std::string("ConditionalUnet1D: ") + name +
                                                " is undefined");
  torch::Tensor flat = t.to(device, torch::kFloat).reshape({-1});
  if (flat.numel() == 1) return flat.expand({batch});
  if (t.dim() != 1 || flat.numel() != batch) {
    throw std::invalid_argument(std::string("ConditionalUnet1D: ") + name +
                                " must be 0-d, 1 element or (B=" + std::to_string(batch) +
                                "), got " + std::to_string(flat.numel()) + " elements with " +
                                std::to_string(t.dim()) + " dims");
  }
  return flat;
}

}  // namespace

torch::Tensor ConditionalUnet1DImpl::forward(const torch::Tensor& x, const torch::Tensor& timesteps,
                                             const torch::Tensor& global_cond) {
  if (options_.num_time_inputs != 1) {
    throw std::invalid_argument(
        "ConditionalUnet1D::forward: this net has num_time_inputs == 2; call forward2(x, t, s, "
        "global_cond)");
  }
  return Run(x, {timesteps}, global_cond);
}

torch::Tensor ConditionalUnet1DImpl::forward2(const torch::Tensor& x, const torch::Tensor& t,
                                              const torch::Tensor& s,
                                              const torch::Tensor& global_cond) {
  if (options_.num_time_inputs != 2) {
    throw std::invalid_argument(
        "ConditionalUnet1D::forward2: this net has num_time_inputs == 1; call forward(x, t, "
        "global_cond)");
  }
  return Run(x, {t, s}, global_cond);
}

torch::Tensor ConditionalUnet1DImpl::Run(const torch::Tensor& x,
                                         const std::vector<torch::Tensor>& times,
                                         const torch::Tensor& global_cond) {
  const ConditionalUnet1DOptions& o = options_;
  if (!x.defined() || x.dim() != 3 || x.size(2) != o.input_dim) {
    throw std::invalid_argument("ConditionalUnet1D: x must be (B, T, " +
                                std::to_string(o.input_dim) + "), got " +
                                (x.defined() ? c10::str(x.sizes()) : std::string("undefined")));
  }
  const int64_t batch = x.size(0), horizon = x.size(1);
  if (horizon % o.horizon_multiple() != 0) {
    throw std::invalid_argument("ConditionalUnet1D: horizon T = " + std::to_string(horizon) +
                                " must be divisible by " + std::to_string(o.horizon_multiple()));
  }

  std::vector<torch::Tensor> cond_parts;
  for (size_t i = 0; i < times.size(); ++i) {
    torch::Tensor t = BroadcastTime(times[i], batch, x.device(), i == 0 ? "t" : "s");
    cond_parts.push_back(diffusion_step_encoder->forward(t));
  }
  if (o.global_cond_dim > 0) {
    if (!global_cond.defined() || global_cond.dim() != 2 || global_cond.size(0) != batch ||
        global_cond.size(1) != o.global_cond_dim) {
      throw std::invalid_argument(
          "ConditionalUnet1D: global_cond must be (B=" + std::to_string(batch) + ", " +
          std::to_string(o.global_cond_dim) + "), got " +
          (global_cond.defined() ? c10::str(global_cond.sizes()) : std::string("undefined")));
    }
    cond_parts.push_back(global_cond.to(cond_parts[0].dtype()));
  }
  const torch::Tensor cond = torch::cat(cond_parts, -1);

  using RB = ConditionalResidualBlock1DImpl;
  torch::Tensor h = x.transpose(1, 2);  // (B, Da, T)
  std::vector<torch::Tensor> skips;
  const size_t levels = down_modules->size();
  for (size_t i = 0; i < levels; ++i) {
    auto& level = down_modules->at<nn::ModuleListImpl>(i);
    h = level.at<RB>(0).forward(h, cond);
    h = level.at<RB>(1).forward(h, cond);
    skips.push_back(h);
    if (i + 1 < levels) h = level.at<nn::Conv1dImpl>(2).forward(h);  // last level: Identity
  }
  for (size_t i = 0; i < mid_modules->size(); ++i) h = mid_modules->at<RB>(i).forward(h, cond);
  for (size_t i = 0; i < up_modules->size(); ++i) {
    auto& level = up_modules->at<nn::ModuleListImpl>(i);
    h = torch::cat({h, skips.back()}, 1);  // h0 (skips[0]) is never popped: DP's quirk
    skips.pop_back();
    h = level.at<RB>(0).forward(h, cond);
    h = level.at<RB>(1).forward(h, cond);
    h = level.at<nn::ConvTranspose1dImpl>(2).forward(h);  // both up levels upsample
  }
  h = final_conv->forward(h);
  return h.transpose(1, 2);
}

}  // namespace onedp
