#include "policies/nets/obs_encoder.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

namespace onedp {
namespace nn = torch::nn;

namespace {

nn::GroupNorm GroupNorm16(int channels) {
  return nn::GroupNorm(nn::GroupNormOptions(channels / 16, channels));
}

nn::Conv2d Conv(int in, int out, int k, int stride, int padding, bool bias) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(padding).bias(bias));
}

// The crop windows' offsets of n images of h x w, as (n) long tensors on the CPU: random
// (robomimic: every top offset first, then every left one, each floor(U[0,1) * (H - c)) in
// float32, from `gen`) or the centre (torchvision center_crop: int(round((H - c) / 2)), Python's
// round-half-to-even). Crop and CropU8 both draw here, so they crop alike.
std::pair<torch::Tensor, torch::Tensor> CropOffsets(int64_t n, int64_t h, int64_t w, int crop, bool random,
                                                    c10::optional<at::Generator> gen) {
  if (!random) {
    const int64_t top = static_cast<int64_t>(std::nearbyint((h - crop) / 2.0));
    const int64_t left = static_cast<int64_t>(std::nearbyint((w - crop) / 2.0));
    return {torch::full({n}, top, torch::kLong), torch::full({n}, left, torch::kLong)};
  }
  if (gen.has_value() && gen->defined() && !gen->device().is_cpu()) {
    throw std::invalid_argument("ObsEncoder::Crop: the crop generator must be a CPU generator");
  }
  auto cpu = torch::TensorOptions().dtype(torch::kFloat).device(torch::kCPU);
  torch::Tensor top = (torch::rand({n}, gen, cpu) * static_cast<float>(h - crop)).to(torch::kLong);
  torch::Tensor left = (torch::rand({n}, gen, cpu) * static_cast<float>(w - crop)).to(torch::kLong);
  return {top, left};
}

void CheckCropFits(int64_t h, int64_t w, int crop) {
  if (h < crop || w < crop) {
    throw std::invalid_argument("ObsEncoder::Crop: image " + std::to_string(h) + "x" + std::to_string(w) +
                                " is smaller than crop " + std::to_string(crop));
  }
}

std::string ShapeString(const std::vector<int>& shape) {
  std::string s = "{";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "}";
}

}  // namespace

void ObsEncoderOptions::Validate() const {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("ObsEncoderOptions: " + what);
  };
  if (keys.empty()) fail("no observation keys");
  if (crop <= 0) fail("crop must be > 0");
  if (backbone != "resnet18" && backbone != "small") {
    fail("backbone must be \"resnet18\" or \"small\", got \"" + backbone + "\"");
  }
  if (num_keypoints <= 0) fail("num_keypoints must be > 0");
  if (feature_dim <= 0) fail("feature_dim must be > 0");
  std::set<std::string> seen;
  for (const PolicyObsKey& k : keys) {
    if (k.key.empty() || k.key.find('.') != std::string::npos) {
      fail("key names must be non-empty and contain no '.', got \"" + k.key + "\"");
    }
    if (!seen.insert(k.key).second) fail("duplicate key \"" + k.key + "\"");
    if (k.is_image) {
      if (k.shape.size() != 3 || k.shape[2] != 3) {
        fail("image key \"" + k.key + "\" must have shape {h, w, 3}, got " + ShapeString(k.shape));
      }
      if (k.shape[0] < crop || k.shape[1] < crop) {
        fail("image key \"" + k.key + "\" " + ShapeString(k.shape) + " is smaller than crop " +
             std::to_string(crop));
      }
    } else if (k.shape.size() != 1 || k.shape[0] <= 0) {
      fail("low-dim key \"" + k.key + "\" must have shape {d}, d > 0, got " +
           ShapeString(k.shape));
    }
  }
}

// ---------------------------------------------------------------------------------------------
SpatialSoftmaxImpl::SpatialSoftmaxImpl(int in_channels, int num_keypoints)
    : in_channels_(in_channels), num_keypoints_(num_keypoints) {
  reset();
}

void SpatialSoftmaxImpl::reset() {
  keypoint_conv = register_module("keypoint_conv",
                                  nn::Conv2d(nn::Conv2dOptions(in_channels_, num_keypoints_, 1)));
  temperature = register_buffer("temperature", torch::ones({1}));
}

torch::Tensor SpatialSoftmaxImpl::Keypoints(const torch::Tensor& maps,
                                            const torch::Tensor& temperature) {
  if (maps.dim() != 4) {
    throw std::invalid_argument("SpatialSoftmax: maps must be (N, K, H, W), got " +
                                c10::str(maps.sizes()));
  }
  const int64_t n = maps.size(0), k = maps.size(1), h = maps.size(2), w = maps.size(3);
  auto opts = maps.options();
  // meshgrid "xy": pos_x varies along the width, pos_y along the height; flattened row-major.
  torch::Tensor pos_x = torch::linspace(-1.0, 1.0, w, opts).reshape({1, w}).expand({h, w});
  torch::Tensor pos_y = torch::linspace(-1.0, 1.0, h, opts).reshape({h, 1}).expand({h, w});
  torch::Tensor p = torch::softmax(maps.reshape({n * k, h * w}) / temperature, -1);
  torch::Tensor ex = (p * pos_x.reshape({1, h * w})).sum(-1, /*keepdim=*/true);
  torch::Tensor ey = (p * pos_y.reshape({1, h * w})).sum(-1, /*keepdim=*/true);
  return torch::cat({ex, ey}, -1).reshape({n, 2 * k});
}

torch::Tensor SpatialSoftmaxImpl::forward(const torch::Tensor& features) {
  return Keypoints(keypoint_conv->forward(features), temperature);
}

// ---------------------------------------------------------------------------------------------
BasicBlockImpl::BasicBlockImpl(int in, int out, int stride) : in_(in), out_(out), stride_(stride) {
  reset();
}

void BasicBlockImpl::reset() {
  conv1 = register_module("conv1", Conv(in_, out_, 3, stride_, 1, false));
  bn1 = register_module("bn1", GroupNorm16(out_));
  conv2 = register_module("conv2", Conv(out_, out_, 3, 1, 1, false));
  bn2 = register_module("bn2", GroupNorm16(out_));
  if (stride_ != 1 || in_ != out_) {
    downsample = register_module(
        "downsample", nn::Sequential(Conv(in_, out_, 1, stride_, 0, false), GroupNorm16(out_)));
  } else {
    downsample = nullptr;
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(bn1->forward(conv1->forward(x)));
  h = bn2->forward(conv2->forward(h));
  return torch::relu(h + (downsample ? downsample->forward(x) : x));
}

// ---------------------------------------------------------------------------------------------
void ResNet18GnImpl::reset() {
  conv1 = register_module("conv1", Conv(3, 64, 7, 2, 3, false));
  bn1 = register_module("bn1", GroupNorm16(64));
  maxpool = register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  auto layer = [](int in, int out, int stride) {
    return nn::Sequential(BasicBlock(in, out, stride), BasicBlock(out, out, 1));
  };
  layer1 = register_module("layer1", layer(64, 64, 1));
  layer2 = register_module("layer2", layer(64, 128, 2));
  layer3 = register_module("layer3", layer(128, 256, 2));
  layer4 = register_module("layer4", layer(256, 512, 2));
}

torch::Tensor ResNet18GnImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = maxpool->forward(torch::relu(bn1->forward(conv1->forward(x))));
  return layer4->forward(layer3->forward(layer2->forward(layer1->forward(h))));
}

// ---------------------------------------------------------------------------------------------
void SmallConvNetImpl::reset() {
  // A 5x5 stride-4 stem, then 3x3 stride 2 and 3x3 stride 1: 76 -> 19 -> 10 -> 10.
  struct Layer {
    int out, kernel, stride;
  };
  nn::Sequential seq;
  int in = 3;
  for (const Layer& l : {Layer{32, 5, 4}, Layer{64, 3, 2}, Layer{128, 3, 1}}) {
    seq->push_back(Conv(in, l.out, l.kernel, l.stride, l.kernel / 2, true));
    seq->push_back(GroupNorm16(l.out));
    seq->push_back(nn::ReLU());
    in = l.out;
  }
  layers = register_module("layers", seq);
}

torch::Tensor SmallConvNetImpl::forward(const torch::Tensor& x) { return layers->forward(x); }

// ---------------------------------------------------------------------------------------------
VisualCoreImpl::VisualCoreImpl(const std::string& backbone, int num_keypoints, int feature_dim)
    : backbone_(backbone), num_keypoints_(num_keypoints), feature_dim_(feature_dim) {
  reset();
}

void VisualCoreImpl::reset() {
  int channels = 0;
  resnet = nullptr;
  small = nullptr;
  if (backbone_ == "resnet18") {
    resnet = register_module("backbone", ResNet18Gn());
    channels = ResNet18GnImpl::kOutChannels;
  } else if (backbone_ == "small") {
    small = register_module("backbone", SmallConvNet());
    channels = SmallConvNetImpl::kOutChannels;
  } else {
    throw std::invalid_argument("VisualCore: unknown backbone \"" + backbone_ + "\"");
  }
  pool = register_module("pool", SpatialSoftmax(channels, num_keypoints_));
  linear = register_module("linear", nn::Linear(2 * num_keypoints_, feature_dim_));
}

torch::Tensor VisualCoreImpl::forward(const torch::Tensor& x) {
  torch::Tensor f = resnet ? resnet->forward(x) : small->forward(x);
  return torch::relu(linear->forward(pool->forward(f)));
}

// ---------------------------------------------------------------------------------------------
ObsEncoderImpl::ObsEncoderImpl(const ObsEncoderOptions& options) : options_(options) {
  options_.Validate();
  reset();
}

void ObsEncoderImpl::reset() {
  obs_nets = nn::ModuleDict();
  output_dim_ = 0;
  for (const PolicyObsKey& k : options_.keys) {
    if (k.is_image) {
      VisualCore core(options_.backbone, options_.num_keypoints, options_.feature_dim);
      obs_nets->update(std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>>{
          {k.key, core.ptr()}});
      output_dim_ += options_.feature_dim;
    } else {
      output_dim_ += k.shape[0];
    }
  }
  obs_nets = register_module("obs_nets", obs_nets);
}

torch::Tensor ObsEncoderImpl::Crop(const torch::Tensor& images, int crop, bool random,
                                   c10::optional<at::Generator> gen) {
  if (images.dim() != 4) {
    throw std::invalid_argument("ObsEncoder::Crop: images must be (N, C, H, W), got " +
                                c10::str(images.sizes()));
  }
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  CheckCropFits(h, w, crop);
  if (!random) {
    const auto [top, left] = CropOffsets(1, h, w, crop, false, c10::nullopt);
    return images.narrow(2, top.item<int64_t>(), crop).narrow(3, left.item<int64_t>(), crop);
  }
  const auto [top, left] = CropOffsets(n, h, w, crop, true, gen);
  auto long_dev = torch::TensorOptions().dtype(torch::kLong).device(images.device());
  torch::Tensor ar = torch::arange(crop, long_dev);
  torch::Tensor rows = top.to(images.device()).reshape({n, 1}) + ar.reshape({1, crop});
  torch::Tensor cols = left.to(images.device()).reshape({n, 1}) + ar.reshape({1, crop});
  torch::Tensor out = images.gather(2, rows.reshape({n, 1, crop, 1}).expand({n, c, crop, w}));
  return out.gather(3, cols.reshape({n, 1, 1, crop}).expand({n, c, crop, crop}));
}

torch::Tensor ObsEncoderImpl::PixelsToFloat(const torch::Tensor& pixels) {
  if (pixels.scalar_type() != torch::kUInt8) {
    throw std::invalid_argument("ObsEncoder::PixelsToFloat: pixels must be uint8");
  }
  return pixels.to(torch::kFloat32).div_(127.5).sub_(1.0);
}

torch::Tensor ObsEncoderImpl::CropU8(const torch::Tensor& images, int crop, bool random,
                                     c10::optional<at::Generator> gen) {
  if (images.dim() != 4 || images.size(3) != 3 || images.scalar_type() != torch::kUInt8) {
    throw std::invalid_argument("ObsEncoder::CropU8: images must be uint8 (N, H, W, 3), got " +
                                std::string(c10::toString(images.scalar_type())) + " " + c10::str(images.sizes()));
  }
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2);
  CheckCropFits(h, w, crop);
  const auto [top, left] = CropOffsets(n, h, w, crop, random, gen);
  if (!images.device().is_cpu()) {
    // Index ops on the device's uint8 tensor, then the conversion of the windows only.
    auto long_dev = torch::TensorOptions().dtype(torch::kLong).device(images.device());
    torch::Tensor ar = torch::arange(crop, long_dev);
    torch::Tensor rows = top.to(images.device()).reshape({n, 1}) + ar.reshape({1, crop});
    torch::Tensor cols = left.to(images.device()).reshape({n, 1}) + ar.reshape({1, crop});
    torch::Tensor out = images.gather(1, rows.reshape({n, crop, 1, 1}).expand({n, crop, w, 3}));
    out = out.gather(2, cols.reshape({n, 1, crop, 1}).expand({n, crop, crop, 3}));
    return PixelsToFloat(out.permute({0, 3, 1, 2})).contiguous();
  }
  // The table holds PixelsToFloat of every byte value, so each output element is the value the
  // float path computes for its pixel.
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    const torch::Tensor v = PixelsToFloat(torch::arange(256, torch::kUInt8)).contiguous();
    std::copy_n(v.data_ptr<float>(), 256, t.begin());
    return t;
  }();
  const float* lut = table.data();
  const torch::Tensor src = images.contiguous();
  const uint8_t* in = src.data_ptr<uint8_t>();
  const int64_t* tops = top.data_ptr<int64_t>();
  const int64_t* lefts = left.data_ptr<int64_t>();
  torch::Tensor out = torch::empty({n, 3, crop, crop}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const uint8_t* image = in + k * h * w * 3;
      for (int64_t ch = 0; ch < 3; ++ch) {
        float* plane = dst + (k * 3 + ch) * crop * crop;
        for (int64_t i = 0; i < crop; ++i) {
          const uint8_t* row = image + ((tops[k] + i) * w + lefts[k]) * 3 + ch;
          float* o = plane + i * crop;
          for (int64_t j = 0; j < crop; ++j) o[j] = lut[row[3 * j]];
        }
      }
    }
  });
  return out;
}

torch::Tensor ObsEncoderImpl::forward(const std::map<std::string, torch::Tensor>& obs,
                                      c10::optional<at::Generator> gen) {
  std::vector<torch::Tensor> features;
  int64_t n = -1;
  for (const PolicyObsKey& k : options_.keys) {
    auto it = obs.find(k.key);
    if (it == obs.end()) {
      std::string expected;
      for (const PolicyObsKey& e : options_.keys) expected += (expected.empty() ? "" : ", ") + e.key;
      std::string given;
      for (const auto& kv : obs) given += (given.empty() ? "" : ", ") + kv.first;
      throw std::invalid_argument("ObsEncoder: missing observation key \"" + k.key +
                                  "\" (expected keys: " + expected + "; given: " + given + ")");
    }
    const torch::Tensor& x = it->second;
    const bool raw = x.defined() && k.is_image && x.scalar_type() == torch::kUInt8;
    if (!x.defined() || !(x.is_floating_point() || raw)) {
      throw std::invalid_argument("ObsEncoder: \"" + k.key + "\" must be a float tensor" +
                                  (k.is_image ? " or uint8 pixels" : ""));
    }
    if (n < 0) n = x.size(0);
    if (x.dim() == 0 || x.size(0) != n) {
      throw std::invalid_argument("ObsEncoder: \"" + k.key + "\" has leading dim " +
                                  (x.dim() ? std::to_string(x.size(0)) : std::string("none")) +
                                  ", other keys have " + std::to_string(n));
    }
    if (raw) {
      if (x.dim() != 4 || x.size(1) != k.shape[0] || x.size(2) != k.shape[1] || x.size(3) != 3) {
        throw std::invalid_argument("ObsEncoder: uint8 image \"" + k.key + "\" must be (N, " +
                                    std::to_string(k.shape[0]) + ", " + std::to_string(k.shape[1]) +
                                    ", 3), got " + c10::str(x.sizes()));
      }
      torch::Tensor cropped = CropU8(x, options_.crop, is_training(), gen);
      features.push_back(obs_nets->at<VisualCoreImpl>(k.key).forward(cropped));
    } else if (k.is_image) {
      if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != k.shape[0] || x.size(3) != k.shape[1]) {
        throw std::invalid_argument("ObsEncoder: image \"" + k.key + "\" must be (N, 3, " +
                                    std::to_string(k.shape[0]) + ", " +
                                    std::to_string(k.shape[1]) + "), got " +
                                    c10::str(x.sizes()));
      }
      torch::Tensor cropped = Crop(x, options_.crop, is_training(), gen);
      // Looked up each call (clone() replaces the ModuleDict's contents).
      features.push_back(obs_nets->at<VisualCoreImpl>(k.key).forward(cropped));
    } else {
      if (x.dim() != 2 || x.size(1) != k.shape[0]) {
        throw std::invalid_argument("ObsEncoder: low-dim \"" + k.key + "\" must be (N, " +
                                    std::to_string(k.shape[0]) + "), got " + c10::str(x.sizes()));
      }
      features.push_back(x);
    }
  }
  return torch::cat(features, -1);
}

}  // namespace onedp
