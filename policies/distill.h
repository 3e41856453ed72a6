// Distillation of a trained Diffusion Policy into a one-step or few-step student: OneDP-S,
// OneDP-D (docs/algorithms.md, OneDP) and Consistency Policy (docs/algorithms.md, Consistency Policy). Torch-free header.
//
//   teacher (dp-ddpm | dp-edm, frozen, EMA weights, eval mode)
//   student = CreatePolicy(method, teacher spec, {"teacher_policy", "teacher": teacher config,
//             "onedp" | "cp": method config}, teacher normaliser), warm-started from the teacher
//   for epoch: (seed, epoch) permutation -> batches -> student Step (OneDP-S: score-net step then
//   generator step; OneDP-D: generator step; CP: one AdamW step of L_ctm + L_dsm) -> the log;
//   every checkpoint_every epochs (and at the end) a checkpoint.
// The loop shares run_log.h with trainer.cc: the same train_log.csv (train_loss = the main loss,
// the other losses as extra columns), checkpoint/ (+ optimizer.pt with every optimiser state and
// the OneDP score network in weights.pt) and per-(seed, epoch, batch) random streams, so a
// resumed run follows the uninterrupted one exactly. A non-finite loss stops the run with
// std::runtime_error before any weight is updated with it; the last checkpoint stays as it was.
//
// Methods: onedp-s, onedp-d (teacher dp-ddpm or dp-edm), cp (teacher dp-edm).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/policy.h"
#include "policies/preset.h"
#include "policies/trainer.h"

namespace onedp {

struct DistillConfig : LoopConfig {
  DistillConfig() {
    epochs = 20;
    checkpoint_every = 5;
  }
  std::string method = "onedp-s";
  // Test hook: the losses of this 0-based step are made NaN (-1: never). Not part of the
  // resume key.
  int64_t nan_at_step = -1;

  void Validate() const;  // throws std::invalid_argument
  nlohmann::json ToJson() const;
  static DistillConfig FromJson(const nlohmann::json& j);
};

std::vector<std::string> DistillMethods();  // the distilled policies: onedp-s, onedp-d, cp
// Throws std::invalid_argument listing the valid methods, or when `teacher_policy` (a registry
// name) is not among the method's teachers (PolicyInfo::teachers).
void CheckDistillMethod(const std::string& method, const std::string& teacher_policy);

// The method's config (OneDP: t_init, sigma_init, k_min, k_max, dmd_normalization, lr_generator,
// lr_score, betas, eps, generator_ema, ...; CP: bins, sigma_min/max, rho, ode_steps_max, dropout,
// lr, betas, weight_decay, warmup_steps, ...): its defaults with the preset's
// methods.<config_key> fields (policies/preset.h; a name or path).
nlohmann::json DistillMethodConfig(const std::string& method, const std::string& preset);
nlohmann::json DistillMethodConfig(const std::string& method, const Preset& preset);
// The distillation loop of a preset's `distill` section: DistillConfig's defaults with its loop
// fields; *eval_every = its eval_every (0: none).
DistillConfig DistillPresetConfig(const Preset& preset, int* eval_every);
DistillConfig DistillPresetConfig(const std::string& preset, int* eval_every);
// The epochs of the benchmark's long-schedule distillations under the preset (distill.long_epochs;
// 0 when the preset has none).
int DistillLongEpochs(const Preset& preset);

// A fresh student of `method` for `teacher` (a dp-* policy), warm-started from its EMA networks.
std::unique_ptr<Policy> MakeStudent(Policy& teacher, const std::string& method, const nlohmann::json& method_config,
                                    uint64_t seed);

// Distils `teacher` into a new student on the observations (CP: and actions) of `data`,
// writing out_dir/{checkpoint, train_log.csv}; resumes from out_dir/checkpoint when present
// (refusing one made with another student or loop config). The student ends in *student when
// given. callbacks.on_epoch receives the student.
TrainResult Distill(Policy& teacher, const nlohmann::json& method_config, const BatchSource& data,
                    const DistillConfig& config, const std::string& out_dir, const TrainCallbacks& callbacks = {},
                    std::unique_ptr<Policy>* student = nullptr);

}  // namespace onedp
