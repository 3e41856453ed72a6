// The one optimiser step: see optimizer_step.h.
#include "policies/optimizer_step.h"

#include "policies/torch_policy.h"

namespace onedp {

void SetLearningRate(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

void OptimizerStep(torch::optim::Optimizer& opt, const torch::Tensor& loss, const std::vector<torch::Tensor>& params,
                   const OptimizerStepOptions& options) {
  if (options.lr) SetLearningRate(opt, *options.lr);
  opt.zero_grad();
  loss.backward();
  if (options.sanitize) SanitizeGradients(params);
  opt.step();
}

}  // namespace onedp
