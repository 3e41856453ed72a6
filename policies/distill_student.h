// What the distillation loop (distill.cc) needs of a student policy beyond TorchPolicy.
// Internal header (libtorch).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/serialize/archive.h>
#include <nlohmann/json.hpp>

#include "policies/diffusion_policy.h"
#include "policies/policy.h"

namespace onedp {

// Thrown by DistillStudent::Step when a loss is not finite, before any optimiser step uses it.
class NonFiniteLoss : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DistillStudent {
 public:
  virtual ~DistillStudent() = default;

  // Copies the teacher's EMA networks into the student (the warm start of a fresh run).
  virtual void WarmStart(DiffusionTeacher& teacher) = 0;
  // Sets the frozen teacher the steps query (not owned; must outlive the steps) and builds the
  // optimisers for a run of `total_steps` steps (call after To(device) and any weight loading).
  virtual void PrepareTraining(DiffusionTeacher* teacher, int64_t total_steps) = 0;
  // One distillation iteration on a batch (observations; CP also uses the actions), every
  // random draw from `gen`. Returns the losses to log: "loss" (the main one) and others.
  // `step` counts iterations from 0. With poison (a test hook) the losses are made NaN.
  // Throws NonFiniteLoss before stepping when a loss is not finite.
  virtual std::map<std::string, double> Step(const TrainBatch& batch, at::Generator gen, int64_t step,
                                             bool poison) = 0;
  // The learning rate of the last step (the generator's for OneDP).
  virtual double lr() const = 0;
  // Optimiser states (resume).
  virtual void SaveOptimizers(torch::serialize::OutputArchive& archive) = 0;
  virtual void LoadOptimizers(torch::serialize::InputArchive& archive) = 0;
};

// A student's method options from JSON: missing fields keep their defaults, unknown fields throw
// std::invalid_argument naming `what`, then Options::Validate(). Needs Options' to_json /
// from_json (e.g. NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT) and ToJson().
template <typename Options>
Options OptionsFromJson(const nlohmann::json& j, const std::string& what) {
  const nlohmann::json known = Options().ToJson();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.contains(it.key())) throw std::invalid_argument(what + ": unknown field '" + it.key() + "'");
  }
  const Options o = j.get<Options>();
  o.Validate();
  return o;
}

// The student side of a policy from CreatePolicy; throws std::invalid_argument otherwise.
DistillStudent& AsDistillStudent(Policy& policy);

}  // namespace onedp
