// One optimiser step, shared by the training loop (trainer.cc) and the distillation students
// (onedp_policy.cc, consistency_policy.cc), so that the step is written once.
//
// Internal header (libtorch): included only by policies/*.cc, never by the harness.
// The EMA update is not part of it: it stays in TorchPolicy::AfterOptimizerStep, which every
// caller runs after the step (when its method makes one).
#pragma once

#include <c10/util/Optional.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <vector>

namespace onedp {

struct OptimizerStepOptions {
  // The learning rate of this step, set on every parameter group before stepping; the caller
  // evaluates its schedule (e.g. CosineWarmupLr). nullopt: the optimiser keeps its lr.
  c10::optional<double> lr;
  // SanitizeGradients (nan_to_num) on `params` before stepping: the distillation students' DI /
  // SiD hygiene. Off for DP training.
  bool sanitize = false;
};

// Sets the learning rate of every parameter group of `opt`.
void SetLearningRate(torch::optim::Optimizer& opt, double lr);

// options.lr (when set) -> zero_grad -> loss.backward() -> [sanitize] -> opt.step().
// `params` are the parameters `opt` trains (those sanitised). The caller checks that
// the loss is finite before calling, so that no step ever uses a non-finite loss.
void OptimizerStep(torch::optim::Optimizer& opt, const torch::Tensor& loss, const std::vector<torch::Tensor>& params,
                   const OptimizerStepOptions& options);

}  // namespace onedp
