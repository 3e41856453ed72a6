#include "policies/trainer.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "policies/optimizer_step.h"
#include "policies/registry.h"
#include "policies/preset.h"
#include "policies/run_log.h"
#include "policies/torch_policy.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// The parts of a TrainConfig that must match for a resume (the device may change).
nlohmann::json ResumeKey(const TrainConfig& c) {
  nlohmann::json j = c.ToJson();
  j.erase("device");
  return j;
}

}  // namespace

void LoopConfig::ValidateLoop(const std::string& what) const {
  const auto fail = [&](const std::string& why) { throw std::invalid_argument(what + ": " + why); };
  if (epochs < 1) fail("epochs must be >= 1");
  if (batch_size < 1) fail("batch_size must be >= 1");
  if (checkpoint_every < 1) fail("checkpoint_every must be >= 1");
  if (max_batches_per_epoch < 0) fail("max_batches_per_epoch must be >= 0");
  if (steps_per_epoch < 0) fail("steps_per_epoch must be >= 0");
  if (steps_per_epoch > 0 && max_batches_per_epoch > 0) fail("set steps_per_epoch or max_batches_per_epoch, not both");
}

void LoopConfig::LoopToJson(nlohmann::json* j) const {
  (*j)["epochs"] = epochs;
  (*j)["batch_size"] = batch_size;
  (*j)["checkpoint_every"] = checkpoint_every;
  (*j)["max_batches_per_epoch"] = max_batches_per_epoch;
  if (steps_per_epoch > 0) (*j)["steps_per_epoch"] = steps_per_epoch;  // absent: one pass (older runs' keys)
  (*j)["seed"] = seed;
  (*j)["device"] = device;
}

void LoopConfig::LoopFromJson(const nlohmann::json& j) {
  epochs = j.value("epochs", epochs);
  batch_size = j.value("batch_size", batch_size);
  checkpoint_every = j.value("checkpoint_every", checkpoint_every);
  max_batches_per_epoch = j.value("max_batches_per_epoch", max_batches_per_epoch);
  steps_per_epoch = j.value("steps_per_epoch", steps_per_epoch);
  seed = j.value("seed", seed);
  device = j.value("device", device);
}

void TrainConfig::Validate() const {
  ValidateLoop("train config");
  auto fail = [](const std::string& why) { throw std::invalid_argument("train config: " + why); };
  if (!(lr > 0)) fail("lr must be > 0");
  if (warmup_steps < 0) fail("warmup_steps must be >= 0");
  if (valid_batches < 0) fail("valid_batches must be >= 0");
}

nlohmann::json TrainConfig::ToJson() const {
  nlohmann::json j = {{"lr", lr},
                      {"betas", {beta1, beta2}},
                      {"eps", eps},
                      {"weight_decay", weight_decay},
                      {"warmup_steps", warmup_steps},
                      {"valid_batches", valid_batches}};
  LoopToJson(&j);
  return j;
}

TrainConfig TrainConfig::FromJson(const nlohmann::json& j) {
  TrainConfig c;
  c.LoopFromJson(j);
  c.lr = j.value("lr", c.lr);
  if (j.contains("betas")) {
    c.beta1 = j.at("betas").at(0).get<double>();
    c.beta2 = j.at("betas").at(1).get<double>();
  }
  c.eps = j.value("eps", c.eps);
  c.weight_decay = j.value("weight_decay", c.weight_decay);
  c.warmup_steps = j.value("warmup_steps", c.warmup_steps);
  c.valid_batches = j.value("valid_batches", c.valid_batches);
  c.Validate();
  return c;
}

TrainConfig TrainPresetConfig(const Preset& preset, int* eval_every) {
  TrainConfig probe;
  probe.steps_per_epoch = 1;  // so that the field is listed among the valid ones
  nlohmann::json j = probe.ToJson();
  j["steps_per_epoch"] = 0;
  j.erase("seed");
  j.erase("device");
  j["eval_every"] = 0;
  MergeKnownFields(j, preset.Section("train"), "train");
  *eval_every = j.at("eval_every").get<int>();
  if (*eval_every < 0) throw std::invalid_argument("train.eval_every must be >= 0");
  return TrainConfig::FromJson(j);
}

double CosineWarmupLr(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  // diffusers get_cosine_schedule_with_warmup (num_cycles 0.5), evaluated at `step`.
  if (step < warmup_steps) return base_lr * static_cast<double>(step) / std::max<int64_t>(1, warmup_steps);
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  return base_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

TrainResult Train(Policy& policy, const BatchSource& train, const BatchSource* valid,
                  const TrainConfig& config, const std::string& out_dir,
                  const TrainCallbacks& callbacks) {
  config.Validate();
  TorchPolicy& tp = AsTorchPolicy(policy);
  tp.To(config.device);
  const int64_t n = train.size();
  if (n <= 0) throw std::invalid_argument("training set is empty");
  const int64_t batches = BatchesPerEpoch(n, config);
  const int64_t total_steps = batches * config.epochs;

  auto params = tp.TrainableParameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(config.lr)
                                      .betas({config.beta1, config.beta2})
                                      .eps(config.eps)
                                      .weight_decay(config.weight_decay));

  fs::create_directories(out_dir);
  TrainResult result;
  LoopState state;
  if (ReadCheckpoint(out_dir, policy, "train_config", ResumeKey(config), &state, [&](const std::string& dir) {
        torch::serialize::InputArchive oa;
        oa.load_from((fs::path(dir) / "optimizer.pt").string(), tp.torch_device());
        opt.load(oa);
      })) {
    result.history = state.history;
    result.resumed_from_epoch = state.epoch;
  }
  int64_t step = state.step;
  if (callbacks.on_start) callbacks.on_start(step, total_steps);

  const auto save_checkpoint = [&](int epoch) {
    WriteCheckpoint(out_dir, policy, {epoch, step, result.history}, "train_config", ResumeKey(config),
                    [&](const std::string& dir) {
                      torch::serialize::OutputArchive oa;
                      opt.save(oa);
                      oa.save_to((fs::path(dir) / "optimizer.pt").string());
                    });
  };

  for (int epoch = result.resumed_from_epoch + 1; epoch <= config.epochs; ++epoch) {
    const EpochTimer timer;
    EpochBatches epoch_batches(n, config, epoch);
    double loss_sum = 0;
    int64_t loss_count = 0;
    double lr = config.lr;
    for (int64_t i = 0; i < batches; ++i) {
      if (callbacks.should_stop && callbacks.should_stop()) {
        result.stopped = true;
        break;
      }
      TrainBatch batch;
      train.Get(epoch_batches.Batch(i), &batch);
      auto gen = at::detail::createCPUGenerator(BatchSeed(config.seed, epoch, i));
      lr = CosineWarmupLr(config.lr, step, config.warmup_steps, total_steps);
      torch::Tensor loss = tp.Loss(batch, gen, /*train=*/true);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw std::runtime_error("training loss became " + std::to_string(value) + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(i));
      }
      OptimizerStepOptions so;
      so.lr = lr;  // DP: no gradient sanitising or clipping
      OptimizerStep(opt, loss, params, so);
      tp.AfterOptimizerStep(step);
      ++step;
      loss_sum += value;
      ++loss_count;
      if (callbacks.on_step) callbacks.on_step(step, total_steps, value);
    }
    if (result.stopped) break;

    EpochRecord rec;
    rec.epoch = epoch;
    rec.step = step;
    rec.train_loss = loss_sum / std::max<int64_t>(1, loss_count);
    rec.lr = lr;
    rec.valid_loss = std::nan("");
    if (valid && valid->size() > 0 && config.valid_batches > 0) {
      torch::NoGradGuard no_grad;
      double sum = 0;
      int64_t count = 0;
      const int64_t vn = valid->size();
      for (int64_t j = 0; j < config.valid_batches && j * config.batch_size < vn; ++j) {
        std::vector<int64_t> idx;
        for (int64_t k = j * config.batch_size; k < std::min(vn, (j + 1) * config.batch_size); ++k) idx.push_back(k);
        TrainBatch batch;
        valid->Get(idx, &batch);
        auto gen = at::detail::createCPUGenerator(StreamSeed(config.seed, 2, static_cast<uint64_t>(j)));
        sum += tp.Loss(batch, gen, /*train=*/false).item<double>();
        ++count;
      }
      rec.valid_loss = sum / std::max<int64_t>(1, count);
    }
    if (CloseEpoch(rec, timer, policy, callbacks, out_dir, config.checkpoint_every, config.epochs, &result.history)) {
      save_checkpoint(epoch);
    }
  }
  return result;
}

}  // namespace onedp
