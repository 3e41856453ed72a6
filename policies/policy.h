// The Policy interface: what the harness (rollouts, training, benchmarks) sees of a policy.
//
// This header and everything it exchanges are free of libtorch on purpose: the harness and the
// tests that only step policies never compile <torch/torch.h> (each such file costs ~25 s).
// Tensors live in policies/*.cc behind this interface.
//
// Shapes (row-major, float32 unless noted), B = batch, To = obs steps, H = horizon, Da = action dim:
//   ObsBatch.lowdim[key]   (B, To, d)            raw (unnormalised) values
//   ObsBatch.images[key]   (B, To, h, w, 3) u8   uncropped camera images
//   TrainBatch.actions     (B, H, Da)            raw actions (dataset units)
//   PredictChunk(...)      (B, Ta, Da)           raw actions to execute: horizon steps
//                                                [To-1, To-1+Ta) of the sampled chunk (DP convention)
//
//   obs:    |o0 o1|                     (To = 2)
//   chunk:  |a0 a1 a2 ... a15|          (H = 16)
//   run:       |a1 ... a8|              (Ta = 8)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onedp {

// One observation key the policy consumes, in shape_meta order (the order of the encoder's
// features: images and low-dim keys interleaved exactly as listed).
struct PolicyObsKey {
  std::string key;         // dataset / task observation key, e.g. "agentview_image", "agent_pos"
  bool is_image = false;
  std::vector<int> shape;  // image: {h, w, 3}; low-dim: {d}
  // Low-dim normalisation: "limits" (to [-1, 1] over the dataset's range) or "identity".
  std::string norm = "limits";
};

// What the policy is built for: the data contract between a task's dataset and the policy.
struct PolicySpec {
  std::vector<PolicyObsKey> obs;
  int action_dim = 0;
  // Per action dim: "limits" or "identity" (robomimic abs actions: pos limits, rot6d and gripper
  // identity; PushT: all limits). Empty means all "limits".
  std::vector<std::string> action_norm;
  int obs_steps = 2;     // To
  int horizon = 16;      // H (divisible by 4 for the U-Net)
  int action_steps = 8;  // Ta
  int crop = 76;         // side of the (centre / random) image crop in pixels (76 of 84, 84 of 96)

  void Validate() const;  // throws std::invalid_argument with the reason
  nlohmann::json ToJson() const;
  static PolicySpec FromJson(const nlohmann::json& j);
};

// A batch of observation histories.
struct ObsBatch {
  int batch = 0;
  int steps = 0;  // To
  std::map<std::string, std::vector<float>> lowdim;
  std::map<std::string, std::vector<uint8_t>> images;
};

// A training batch: observation histories and the action chunks that follow them.
struct TrainBatch {
  ObsBatch obs;
  std::vector<float> actions;  // (B, H, Da), raw
};

// Unnormalised actions, (batch, steps, dim) row-major.
struct ActionChunk {
  int batch = 0, steps = 0, dim = 0;
  std::vector<float> data;
  const float* at(int b, int t) const { return data.data() + (static_cast<size_t>(b) * steps + t) * dim; }
};

// How to sample: "ddpm:100", "ddim:10", "ddim:1", "edm:18", "edm:10", "edm:1", "onestep",
// "cp:1", "cp:3" ... A policy lists the samplers it accepts in Samplers().
struct SamplerSpec {
  std::string family;  // ddpm | ddim | edm | ...
  int steps = 0;       // 0: the family's default

  static SamplerSpec Parse(const std::string& text);  // throws std::invalid_argument
  std::string ToString() const;
};

struct SampleOptions {
  SamplerSpec sampler;  // empty family: the policy's default sampler
  // Initial noise seed per batch row (row b uses seeds[b]); one value is used for every row
  // (offset by b). Sampling is deterministic given the seeds.
  std::vector<uint64_t> seeds = {0};
  // Return the whole predicted horizon (H steps; the executed ones are [To-1, To-1+Ta)) instead of
  // only the executed steps: for viewers and recordings that show what a chunk planned.
  bool full_horizon = false;
};

// Timings of one PredictChunk call, filled when requested (for the latency benchmark).
struct PredictTiming {
  double encode_s = 0;  // observation normalisation + encoder
  double sample_s = 0;  // the sampler's network evaluations
  int nfe = 0;          // network function evaluations used
};

class Policy {
 public:
  virtual ~Policy() = default;

  // Registry name, e.g. "dp-ddpm".
  virtual std::string Name() const = 0;
  virtual const PolicySpec& spec() const = 0;
  // Resolved configuration (network sizes, scheduler, ...), saved with checkpoints.
  virtual nlohmann::json Config() const = 0;

  // Samplers this policy accepts, e.g. {"ddpm:100", "ddim:10", "ddim:1"}; the first is the default.
  virtual std::vector<std::string> Samplers() const = 0;
  // Network function evaluations for a sampler (the encoder not counted).
  virtual int Nfe(const SamplerSpec& sampler) const = 0;

  // Samples action chunks for a batch of observation histories. Uses the EMA weights when the
  // policy has them. Throws std::invalid_argument on shape mismatches or unknown samplers.
  virtual ActionChunk PredictChunk(const ObsBatch& obs, const SampleOptions& options,
                                   PredictTiming* timing = nullptr) = 0;

  // Number of trainable parameters, total and per part ("encoder", "unet", ...).
  virtual std::map<std::string, int64_t> ParameterCounts() const = 0;

  // "cpu" or "cuda[:i]". Throws if the device is not available.
  virtual void To(const std::string& device) = 0;
  virtual std::string device() const = 0;
};

}  // namespace onedp
