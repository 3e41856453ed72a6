// The libtorch side of a Policy: what training, checkpoints and distillation need.
//
// Internal to the policies library: include it only from .cc files that need libtorch anyway
// (policies/*.cc, tests of the networks). The harness sees policies through policy.h,
// registry.h and trainer.h, which are torch-free.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "policies/normalizer.h"
#include "policies/policy.h"

namespace onedp {

class TorchPolicy : public Policy {
 public:
  // Parameters the optimiser trains (encoder + denoiser), in a fixed order.
  virtual std::vector<torch::Tensor> TrainableParameters() = 0;
  // The training loss of one batch (the network in training mode: random crops, ...). Every
  // random draw comes from `gen` (a CPU generator), so a batch and a seed give one loss.
  // With train = false the networks run in eval mode (centre crops): validation loss.
  virtual torch::Tensor Loss(const TrainBatch& batch, at::Generator gen, bool train = true) = 0;
  // Called after every optimiser step (EMA update); `step` counts optimiser steps from 0.
  virtual void AfterOptimizerStep(int64_t step) = 0;
  virtual int64_t ema_steps() const = 0;
  virtual void set_ema_steps(int64_t steps) = 0;

  // Weights (model and EMA) to and from an archive.
  virtual void SaveWeights(torch::serialize::OutputArchive& archive) const = 0;
  virtual void LoadWeights(torch::serialize::InputArchive& archive) = 0;

  const Normalizer& normalizer() const { return normalizer_; }
  torch::Device torch_device() const { return device_; }
  std::string device() const override { return device_.str(); }

 protected:
  Normalizer normalizer_;
  torch::Device device_{torch::kCPU};
};

// The torch side of a policy made by the registry; throws std::invalid_argument otherwise.
TorchPolicy& AsTorchPolicy(Policy& policy);

// Writes policy.json and weights.pt of `policy` into the existing directory `dir` (no atomicity:
// callers write into a temporary directory and ReplaceDirectory it into place).
void WritePolicyFiles(const Policy& policy, const std::string& dir);
// Loads weights.pt and the EMA step count of a saved policy into `policy`.
void ReadPolicyWeights(TorchPolicy& policy, const std::string& dir);
// Moves directory `from` to `to`, replacing `to`; the old `to` is deleted only after the move.
void ReplaceDirectory(const std::string& from, const std::string& to);

// Tensors of an ObsBatch, laid out for an ObsEncoder: key -> (B*To, ...) on `device`. Images
// (B, To, h, w, 3) u8 stay raw uint8 pixels (B*To, h, w, 3), which the encoder crops and converts
// to [-1, 1]; on the CPU they view `obs`'s memory, so they are valid only while `obs` lives.
// Low-dim keys become float, normalised with `normalizer`. Throws std::invalid_argument naming a
// missing or mis-sized key.
std::map<std::string, torch::Tensor> ObsTensors(const ObsBatch& obs, const PolicySpec& spec,
                                                const Normalizer& normalizer,
                                                const torch::Device& device);

// Normalised actions (B, H, Da) on `device` from a TrainBatch.
torch::Tensor ActionTensor(const TrainBatch& batch, const PolicySpec& spec,
                           const Normalizer& normalizer, const torch::Device& device);

// Standard normal noise drawn row by row: row b of every Next() comes from its own CPU
// generator seeded with seeds[b] (or seeds[0] + b when one seed is given), so an environment's
// noise does not depend on which other rows share the batch, nor on the device.
class RowNoise {
 public:
  RowNoise(int64_t batch, const std::vector<uint64_t>& seeds);
  // (B, rows, cols) float32 on the CPU.
  torch::Tensor Next(int64_t rows, int64_t cols);

 private:
  std::vector<at::Generator> gens_;
};

// Runs `build` (code that constructs torch modules) with its parameter initialisation drawn from
// a generator seeded with `seed`, leaving the process-wide RNG as it was.
//
// Why this way: libtorch 1.13 modules initialise their parameters from the default CPU generator
// and take no generator argument. So the default CPU generator's state is saved (under its
// mutex), it is seeded with `seed` (exactly what torch::manual_seed did for the CPU, so the
// initial weights are bit-identical to the former `torch::manual_seed(seed); build();`), `build`
// runs, and the saved state is restored (also when `build` throws). The initial weights thus
// depend on `seed` alone, and creating a policy neither depends on nor changes the global RNG
// stream (e.g. torch::rand after torch::manual_seed(123) draws the same with or without a policy
// created in between). CUDA generators are not touched (modules are built on the CPU).
// Seeded initialisations are serialised with each other; another thread drawing from the global
// CPU generator while `build` runs would still interleave with it (the policies never do that:
// every training / sampling draw uses an explicit generator).
// Every policy constructor builds its networks through this function.
void InitWithSeed(uint64_t seed, const std::function<void()>& build);

// nan_to_num(nan 0, +inf 1e5, -inf -1e5) on the gradient of every parameter that has one (DI /
// SiD hygiene before each optimiser step).
void SanitizeGradients(const std::vector<torch::Tensor>& params);

// Parses "cpu", "cuda", "cuda:1"; throws std::invalid_argument if CUDA is asked for and absent.
torch::Device ParseDevice(const std::string& device);

// DP's EMAModel decay after `step` optimiser steps (docs/algorithms.md, DP hyperparameters).
double EmaDecay(int64_t step, double inv_gamma = 1.0, double power = 0.75, double min_value = 0.0,
                double max_value = 0.9999);

}  // namespace onedp
