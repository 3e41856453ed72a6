#include "tasks/task.h"
#include "tasks/task_registry.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace onedp {

const char* MetricName(TaskMetric metric) {
  switch (metric) {
    case TaskMetric::kSuccessRate: return "success rate";
    case TaskMetric::kScore: return "score";
  }
  return "?";
}

std::vector<std::string> Task::TakeWarnings() {
  for (auto& w : sim_->TakeWarnings()) warnings_.push_back(std::move(w));
  std::vector<std::string> out;
  out.swap(warnings_);
  return out;
}

std::vector<double> Task::HoldAction() const {
  if (action_mode_ == ActionMode::kAbsolute || spec().action_dim == spec().abs_action_dim) {
    return LastAbsAction();
  }
  throw std::logic_error(spec().name + " has no hold action for delta actions");
}

Renderer& Task::renderer() {
  if (!renderer_) {
    RenderOptions options;
    options.max_width = std::max(spec().image_width, 128);
    options.max_height = std::max(spec().image_height, 128);
    renderer_ = std::make_unique<Renderer>(sim_->model(), options);
  }
  return *renderer_;
}

bool Task::ValidateAction(const std::vector<double>& action) {
  const int expected = action_mode_ == ActionMode::kDelta ? spec().action_dim : spec().abs_action_dim;
  if (static_cast<int>(action.size()) != expected) {
    throw std::invalid_argument(spec().name + ": action has " + std::to_string(action.size()) +
                                " values, expected " + std::to_string(expected) + " (" +
                                (action_mode_ == ActionMode::kDelta ? "delta" : "absolute") +
                                " mode)");
  }
  for (size_t i = 0; i < action.size(); ++i) {
    if (!std::isfinite(action[i])) {
      std::ostringstream os;
      os << "non-finite action[" << i << "] = " << action[i] << " at step " << steps_;
      MarkFailed(os.str());
      return false;
    }
  }
  return true;
}

void CheckPerturbationName(const std::string& task, const TaskInfo& info, const std::string& name) {
  if (name.empty()) return;
  const std::vector<std::string>& declared = info.perturbations;
  if (std::find(declared.begin(), declared.end(), name) == declared.end()) {
    std::string valid;
    for (const auto& p : declared) valid += (valid.empty() ? "" : ", ") + p;
    throw std::invalid_argument("task " + task + " has no perturbation '" + name + "' (" +
                                (valid.empty() ? "it declares none" : "it declares: " + valid) + ")");
  }
}

void Task::SetPerturbation(const std::string& name) {
  perturber_.reset();
  if (name.empty()) return;
  CheckPerturbationName(spec().name, spec().info, name);
  perturber_ = MakePerturber(name);
}

PerturbationRecord Task::perturbation() const {
  return perturber_ ? perturber_->record() : PerturbationRecord();
}

std::unique_ptr<Perturber> Task::MakePerturber(const std::string& name) {
  throw std::logic_error("task " + spec().name + " declares perturbation '" + name +
                         "' but does not make it");
}

void Task::AdvancePerturbation() {
  if (perturber_ && episode_error_.empty()) perturber_->AfterStep(steps_);
}

void Task::BeginEpisode(uint64_t seed) {
  perturber_.reset();
  seed_ = seed;
  steps_ = 0;
  episode_error_.clear();
  warnings_.clear();
  sim_->TakeWarnings();
}

}  // namespace onedp
