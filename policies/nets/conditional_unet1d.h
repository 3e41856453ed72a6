// ConditionalUnet1D: Diffusion Policy's temporal U-Net (diffusion_policy conditional_unet1d.py),
// exactly as docs/algorithms.md (ConditionalUnet1D) describes it, including its quirks (only
// len(down_dims)-1 up levels, both of which upsample; the first skip h0 is never used).
//
// Shapes: B = batch, T = horizon (divisible by 2^(len(down_dims)-1), i.e. 4 for three levels),
// Da = input_dim, G = global_cond_dim, dsed = step_embed_dim.
//   x            (B, T, Da)   float
//   timesteps    (B) float    (a 0-d or 1-element tensor broadcasts to B); DDPM: k in 0..99,
//                             EDM/CP: c_noise (e.g. 250 ln sigma)
//   global_cond  (B, G)       (may be undefined when G == 0)
//   output       (B, T, Da)
// FiLM cond = [emb(t) (dsed), (emb(s) (dsed) when num_time_inputs == 2), global_cond (G)].
//
// Parameter names follow the Python module tree (diffusion_step_encoder.1.weight,
// down_modules.0.0.blocks.0.block.0.weight, mid_modules.*, up_modules.*, final_conv.*), so a state
// dict converted from a DP checkpoint maps one to one. All modules are Cloneable (clone() = deep
// copy with fresh storage), which the distillation code uses to copy a teacher.
//
// Internal to bench_policies: includes libtorch.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <c10/util/Optional.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

namespace onedp {

struct ConditionalUnet1DOptions {
  int input_dim = 0;        // Da
  int global_cond_dim = 0;  // To * Do
  int step_embed_dim = 128;
  std::vector<int> down_dims = {256, 512, 1024};
  int kernel_size = 5;
  int n_groups = 8;
  bool cond_predict_scale = true;
  // 2 for Consistency Policy's (t, s): cond = [emb(t), emb(s), global_cond], shared step encoder.
  int num_time_inputs = 1;
  // Dropout probability inside every ConditionalResidualBlock1D (Consistency Policy's student:
  // 0.2). 0 (DP) adds nothing; dropout has no parameters, so names and counts do not change.
  double dropout = 0.0;

  int cond_dim() const { return num_time_inputs * step_embed_dim + global_cond_dim; }
  // Horizon T must be a multiple of this (2^(len(down_dims)-1)).
  int horizon_multiple() const;
  void Validate() const;  // throws std::invalid_argument
};

// Mish(x) = x * tanh(softplus(x)).
torch::Tensor Mish(const torch::Tensor& x);

// (B) timesteps -> (B, dim) embedding: [sin(t f_0..f_{h-1}), cos(t f_0..f_{h-1})],
// f_i = exp(-i ln(10000) / (h - 1)), h = dim / 2.
class SinusoidalPosEmbImpl : public torch::nn::Cloneable<SinusoidalPosEmbImpl> {
 public:
  explicit SinusoidalPosEmbImpl(int dim);
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& t);

 private:
  int dim_;
};
TORCH_MODULE(SinusoidalPosEmb);

// Conv1d(in, out, k, padding k/2) -> GroupNorm(n_groups, out) -> Mish.  (B, in, T) -> (B, out, T).
class Conv1dBlockImpl : public torch::nn::Cloneable<Conv1dBlockImpl> {
 public:
  Conv1dBlockImpl(int in, int out, int kernel_size, int n_groups);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Sequential block{nullptr};  // 0: Conv1d, 1: GroupNorm, 2: Mish

 private:
  int in_, out_, kernel_size_, n_groups_;
};
TORCH_MODULE(Conv1dBlock);

// x (B, in, T), cond (B, cond_dim) -> (B, out, T):
//   h = blocks[0](x); e = cond_encoder(cond); h = scale * h + bias (scale = e[:, :out],
//   bias = e[:, out:]) or h + e without cond_predict_scale; h = blocks[1](h); return h + R(x).
// With dropout p > 0 (CP's student) and in training mode: h = drop(blocks[0](x)) before FiLM and
// out = drop(h + R(x)). The masks are drawn on the CPU from the generator set with
// set_dropout_generator (torch's default generator when none is set).
class ConditionalResidualBlock1DImpl
    : public torch::nn::Cloneable<ConditionalResidualBlock1DImpl> {
 public:
  ConditionalResidualBlock1DImpl(int in, int out, int cond_dim, int kernel_size, int n_groups,
                                 bool cond_predict_scale, double dropout = 0.0);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cond);
  void set_dropout_generator(c10::optional<at::Generator> gen) { dropout_gen_ = std::move(gen); }

  int in_channels() const { return in_; }
  int out_channels() const { return out_; }

  torch::nn::ModuleList blocks{nullptr};       // two Conv1dBlocks
  torch::nn::Sequential cond_encoder{nullptr};  // 0: Mish, 1: Linear(cond_dim, 2*out or out)
  torch::nn::Conv1d residual_conv{nullptr};     // 1x1, only when in != out

 private:
  torch::Tensor Drop(const torch::Tensor& h);

  int in_, out_, cond_dim_, kernel_size_, n_groups_;
  bool cond_predict_scale_;
  double dropout_;
  c10::optional<at::Generator> dropout_gen_;
};
TORCH_MODULE(ConditionalResidualBlock1D);

class ConditionalUnet1DImpl : public torch::nn::Cloneable<ConditionalUnet1DImpl> {
 public:
  explicit ConditionalUnet1DImpl(const ConditionalUnet1DOptions& options);
  void reset() override;

  // x (B, T, Da), timesteps (B) (0-d / 1-element broadcasts), global_cond (B, G). -> (B, T, Da).
  // Requires num_time_inputs == 1.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& timesteps,
                        const torch::Tensor& global_cond);
  // num_time_inputs == 2 only: t and s both go through the shared step encoder.
  torch::Tensor forward2(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& s,
                         const torch::Tensor& global_cond);

  const ConditionalUnet1DOptions& options() const { return options_; }

  // Typed views of the registered residual blocks (for tests and weight surgery such as CP's
  // warm start). index 0 = RB(in -> out), 1 = RB(out -> out); up levels in up order.
  // (Looked up in the containers, never cached: clone() replaces container contents.)
  int num_down_levels() const { return static_cast<int>(down_modules->size()); }
  int num_up_levels() const { return static_cast<int>(up_modules->size()); }
  ConditionalResidualBlock1D DownBlock(int level, int index) const;
  ConditionalResidualBlock1D MidBlock(int index) const;
  ConditionalResidualBlock1D UpBlock(int level, int index) const;
  // All residual blocks (down, mid, up order), e.g. to edit every FiLM cond_encoder.
  std::vector<ConditionalResidualBlock1D> ResidualBlocks() const;
  // The generator of every block's dropout masks (options().dropout > 0 only).
  void SetDropoutGenerator(c10::optional<at::Generator> gen);

  torch::nn::Sequential diffusion_step_encoder{nullptr};  // 0: PosEmb, 1: Linear, 2: Mish, 3: Linear
  torch::nn::ModuleList down_modules{nullptr};  // per level: [RB, RB, Conv1d s2 | Identity]
  torch::nn::ModuleList mid_modules{nullptr};   // [RB, RB]
  torch::nn::ModuleList up_modules{nullptr};    // per level: [RB, RB, ConvTranspose1d]
  torch::nn::Sequential final_conv{nullptr};    // 0: Conv1dBlock(d0, d0), 1: Conv1d(d0, Da, 1)

 private:
  torch::Tensor Run(const torch::Tensor& x, const std::vector<torch::Tensor>& times,
                    const torch::Tensor& global_cond);

  ConditionalUnet1DOptions options_;
};
TORCH_MODULE(ConditionalUnet1D);

}  // namespace onedp
