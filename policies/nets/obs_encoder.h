// ObsEncoder: Diffusion Policy's "hybrid" observation encoder (robomimic v0.2.0
// ObservationEncoder with DP's crop randomizer), docs/algorithms.md, Observation encoder.
//
// Per RGB key, a separate VisualCore:
//   crop c x c (train: random offsets floor(U[0,1) * (H - c)) per image, h then w, drawn on the
//   CPU from the given generator; eval: centre crop, offset round-half-even((H - c) / 2) like
//   torchvision) -> backbone -> SpatialSoftmax(num_keypoints) -> Linear(2K, feature_dim) -> ReLU.
// Backbones:
//   "resnet18": torchvision ResNet-18 trunk (conv1 7x7/2, norm, relu, maxpool 3/2, layer1-4; no
//               avgpool/fc), every BatchNorm replaced by GroupNorm(C/16, C). 512 x ceil(c/32)^2.
//   "small":    3 x [Conv2d -> GroupNorm(C/16, C) -> ReLU]: 5x5/4 to 32 channels, 3x3/2 to 64,
//               3x3/1 to 128 (76 -> 19 -> 10 -> 10; 84 -> 21 -> 11 -> 11). For CPU presets:
//               ~20x cheaper than ResNet-18 in batch-64 training, ~1-2 ms per image at batch 1.
// Low-dim keys are appended raw (already normalised), and all features are concatenated in the
// order of `keys` (shape_meta order: images and low-dim interleaved as listed).
//
// Shapes (N = B * To):
//   obs[image key]   (N, h, w, 3) uint8 raw pixels as the dataset and the cameras store them, or
//                    (N, 3, h, w) float in [-1, 1]; uncropped (h, w >= crop). The same crop
//                    offsets and values either way: raw pixels are cropped first and only the crop
//                    window is converted (x / 127.5 - 1), in one pass into one tensor (CropU8).
//   obs[lowdim key]  (N, d) float
//   output           (N, output_dim()), output_dim = sum(feature_dim per image, d per low-dim)
//
// Internal to bench_policies: includes libtorch. All modules are Cloneable (clone() deep-copies).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

#include "policies/policy.h"

namespace onedp {

struct ObsEncoderOptions {
  std::vector<PolicyObsKey> keys;  // from policies/policy.h, shape_meta order
  int crop = 76;
  std::string backbone = "resnet18";  // or "small"
  int num_keypoints = 32;
  int feature_dim = 64;
  void Validate() const;  // throws std::invalid_argument
};

// features (N, C, H, W) -> Conv2d(C, K, 1) -> softmax over H*W per keypoint -> expected
// coordinates with pos_x = linspace(-1, 1, W) (width), pos_y = linspace(-1, 1, H) (height).
// Output (N, 2K) as [kp0_x, kp0_y, kp1_x, kp1_y, ...]. Temperature 1 (a buffer, as robomimic).
class SpatialSoftmaxImpl : public torch::nn::Cloneable<SpatialSoftmaxImpl> {
 public:
  SpatialSoftmaxImpl(int in_channels, int num_keypoints);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& features);
  // The expected coordinates of the keypoint maps (N, K, H, W) -> (N, 2K), without the conv.
  static torch::Tensor Keypoints(const torch::Tensor& maps, const torch::Tensor& temperature);

  torch::nn::Conv2d keypoint_conv{nullptr};
  torch::Tensor temperature;

 private:
  int in_channels_, num_keypoints_;
};
TORCH_MODULE(SpatialSoftmax);

// torchvision BasicBlock with GroupNorm(C/16, C) in place of BatchNorm.
class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  BasicBlockImpl(int in, int out, int stride);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::GroupNorm bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // 1x1 conv + norm when stride != 1 or in != out

 private:
  int in_, out_, stride_;
};
TORCH_MODULE(BasicBlock);

// (N, 3, c, c) -> (N, 512, ceil(c/32), ceil(c/32)). Names as torchvision (conv1, bn1, layer1..4).
class ResNet18GnImpl : public torch::nn::Cloneable<ResNet18GnImpl> {
 public:
  ResNet18GnImpl() { reset(); }
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  static constexpr int kOutChannels = 512;

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::GroupNorm bn1{nullptr};
  torch::nn::MaxPool2d maxpool{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
};
TORCH_MODULE(ResNet18Gn);

// (N, 3, c, c) -> (N, 128, ceil(c/8), ceil(c/8)): conv 5x5/4 p2 (32), conv 3x3/2 p1 (64),
// conv 3x3/1 p1 (128), each followed by GroupNorm(C/16, C) and ReLU. Parameters under "layers".
class SmallConvNetImpl : public torch::nn::Cloneable<SmallConvNetImpl> {
 public:
  SmallConvNetImpl() { reset(); }
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  static constexpr int kOutChannels = 128;

  torch::nn::Sequential layers{nullptr};
};
TORCH_MODULE(SmallConvNet);

// One camera's network after the crop: backbone -> SpatialSoftmax -> Linear -> ReLU.
// (N, 3, c, c) -> (N, feature_dim).
class VisualCoreImpl : public torch::nn::Cloneable<VisualCoreImpl> {
 public:
  VisualCoreImpl(const std::string& backbone, int num_keypoints, int feature_dim);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  // Exactly one is set, registered as "backbone".
  ResNet18Gn resnet{nullptr};
  SmallConvNet small{nullptr};
  SpatialSoftmax pool{nullptr};
  torch::nn::Linear linear{nullptr};

 private:
  std::string backbone_;
  int num_keypoints_, feature_dim_;
};
TORCH_MODULE(VisualCore);

class ObsEncoderImpl : public torch::nn::Cloneable<ObsEncoderImpl> {
 public:
  explicit ObsEncoderImpl(const ObsEncoderOptions& options);
  void reset() override;

  // obs: key -> tensor with leading dim N (= B*To). Images: uint8 (N, h, w, 3) or float in
  // [-1, 1] (N, 3, h, w), uncropped. Low-dim: (N, d) float, already normalised. Training mode (is_training()): random
  // crop using `gen` (a CPU generator; if empty, the default CPU generator); eval mode: centre
  // crop. Returns (N, output_dim()). Throws std::invalid_argument on missing keys / bad shapes.
  torch::Tensor forward(const std::map<std::string, torch::Tensor>& obs,
                        c10::optional<at::Generator> gen = c10::nullopt);

  int64_t output_dim() const { return output_dim_; }
  const ObsEncoderOptions& options() const { return options_; }

  // Crops (N, C, H, W) to (N, C, crop, crop): random offsets from `gen` when `random`, else
  // the centre. Offsets are drawn on the CPU; the crop runs on the tensor's device.
  static torch::Tensor Crop(const torch::Tensor& images, int crop, bool random,
                            c10::optional<at::Generator> gen);
  // Raw pixels (N, h, w, 3) uint8 -> (N, 3, crop, crop) float in [-1, 1]: equal, bit for bit, to
  // Crop(PixelsToFloat(images.permute({0, 3, 1, 2})), crop, random, gen), drawing the same offsets
  // from `gen`, but it reads only the crop windows and writes one tensor (on the CPU a single
  // pass through a 256-entry table; on other devices index ops on the uint8 tensor).
  static torch::Tensor CropU8(const torch::Tensor& images, int crop, bool random,
                              c10::optional<at::Generator> gen);
  // Raw pixels (any shape, uint8) -> float32 x / 127.5 - 1 (DP's [-1, 1] image range).
  static torch::Tensor PixelsToFloat(const torch::Tensor& pixels);

  torch::nn::ModuleDict obs_nets{nullptr};  // image key -> VisualCore

 private:
  ObsEncoderOptions options_;
  int64_t output_dim_ = 0;
};
TORCH_MODULE(ObsEncoder);

}  // namespace onedp
