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

#include "policies/registry.h"
#include "policies/torch_policy.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

constexpr int kStateFormat = 1;

// SplitMix64 finaliser: decorrelates seeds built from small integers.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
uint64_t StreamSeed(uint64_t seed, uint64_t a, uint64_t b) { return Mix(Mix(Mix(seed) ^ a) ^ b); }

// Fisher-Yates with our own index draws (std::shuffle's algorithm is implementation-defined).
std::vector<int64_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

nlohmann::json RecordToJson(const EpochRecord& r) {
  return {{"epoch", r.epoch},   {"step", r.step}, {"train_loss", r.train_loss},
          {"valid_loss", std::isnan(r.valid_loss) ? nlohmann::json(nullptr) : nlohmann::json(r.valid_loss)},
          {"lr", r.lr},         {"seconds", r.seconds}, {"metrics", r.metrics}};
}

EpochRecord RecordFromJson(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch").get<int>();
  r.step = j.at("step").get<int64_t>();
  r.train_loss = j.at("train_loss").get<double>();
  r.valid_loss = j.at("valid_loss").is_null() ? std::nan("") : j.at("valid_loss").get<double>();
  r.lr = j.at("lr").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.metrics = j.at("metrics");
  return r;
}

std::string CsvValue(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  std::ostringstream s;
  s.precision(8);
  if (v.is_number_float()) {
    s << v.get<double>();
  } else {
    s << v.dump();
  }
  return s.str();
}

void WriteLog(const std::vector<EpochRecord>& history, const fs::path& path) {
  std::set<std::string> metric_keys;
  for (const auto& r : history) {
    for (auto it = r.metrics.begin(); it != r.metrics.end(); ++it) metric_keys.insert(it.key());
  }
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp);
    f << "epoch,step,train_loss,valid_loss,lr,seconds";
    for (const auto& k : metric_keys) f << "," << k;
    f << "\n";
    for (const auto& r : history) {
      f << r.epoch << "," << r.step << "," << CsvValue(r.train_loss) << ","
        << (std::isnan(r.valid_loss) ? "" : CsvValue(r.valid_loss)) << "," << CsvValue(r.lr) << ","
        << CsvValue(r.seconds);
      for (const auto& k : metric_keys) f << "," << (r.metrics.contains(k) ? CsvValue(r.metrics.at(k)) : "");
      f << "\n";
    }
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

// The parts of a TrainConfig that must match for a resume (the device may change).
nlohmann::json ResumeKey(const TrainConfig& c) {
  nlohmann::json j = c.ToJson();
  j.erase("device");
  return j;
}

}  // namespace

void TrainConfig::Validate() const {
  auto fail = [](const std::string& why) { throw std::invalid_argument("train config: " + why); };
  if (epochs < 1) fail("epochs must be >= 1");
  if (batch_size < 1) fail("batch_size must be >= 1");
  if (!(lr > 0)) fail("lr must be > 0");
  if (warmup_steps < 0) fail("warmup_steps must be >= 0");
  if (checkpoint_every < 1) fail("checkpoint_every must be >= 1");
  if (max_batches_per_epoch < 0 || valid_batches < 0) fail("batch counts must be >= 0");
}

nlohmann::json TrainConfig::ToJson() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"betas", {beta1, beta2}},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"warmup_steps", warmup_steps},
          {"checkpoint_every", checkpoint_every},
          {"max_batches_per_epoch", max_batches_per_epoch},
          {"valid_batches", valid_batches},
          {"seed", seed},
          {"device", device}};
}

TrainConfig TrainConfig::FromJson(const nlohmann::json& j) {
  TrainConfig c;
  c.epochs = j.value("epochs", c.epochs);
  c.batch_size = j.value("batch_size", c.batch_size);
  c.lr = j.value("lr", c.lr);
  if (j.contains("betas")) {
    c.beta1 = j.at("betas").at(0).get<double>();
    c.beta2 = j.at("betas").at(1).get<double>();
  }
  c.eps = j.value("eps", c.eps);
  c.weight_decay = j.value("weight_decay", c.weight_decay);
  c.warmup_steps = j.value("warmup_steps", c.warmup_steps);
  c.checkpoint_every = j.value("checkpoint_every", c.checkpoint_every);
  c.max_batches_per_epoch = j.value("max_batches_per_epoch", c.max_batches_per_epoch);
  c.valid_batches = j.value("valid_batches", c.valid_batches);
  c.seed = j.value("seed", c.seed);
  c.device = j.value("device", c.device);
  c.Validate();
  return c;
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
  int64_t batches = (n + config.batch_size - 1) / config.batch_size;
  if (config.max_batches_per_epoch > 0) batches = std::min(batches, config.max_batches_per_epoch);
  const int64_t total_steps = batches * config.epochs;

  auto params = tp.TrainableParameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(config.lr)
                                      .betas({config.beta1, config.beta2})
                                      .eps(config.eps)
                                      .weight_decay(config.weight_decay));

  const fs::path out(out_dir);
  const fs::path ckpt = out / "checkpoint";
  fs::create_directories(out);
  TrainResult result;
  int64_t step = 0;
  if (fs::exists(ckpt / "train_state.json")) {
    nlohmann::json state;
    std::ifstream(ckpt / "train_state.json") >> state;
    if (state.value("format", 0) != kStateFormat) throw std::runtime_error("unsupported train_state.json format");
    const nlohmann::json saved = ReadPolicyJson(ckpt.string());
    if (saved.at("name") != policy.Name() || saved.at("config") != policy.Config() ||
        saved.at("spec") != policy.spec().ToJson()) {
      throw std::invalid_argument("the checkpoint in " + ckpt.string() +
                                  " was made by a different policy or network config; choose another "
                                  "output directory or delete it");
    }
    if (state.at("train_config") != ResumeKey(config)) {
      throw std::invalid_argument("the checkpoint in " + ckpt.string() + " was made with train config " +
                                  state.at("train_config").dump() + "; this run asks for " +
                                  ResumeKey(config).dump() + ". Choose another output directory.");
    }
    ReadPolicyWeights(tp, ckpt.string());
    torch::serialize::InputArchive oa;
    oa.load_from((ckpt / "optimizer.pt").string(), tp.torch_device());
    opt.load(oa);
    for (const auto& r : state.at("history")) result.history.push_back(RecordFromJson(r));
    result.resumed_from_epoch = state.at("epoch").get<int>();
    step = state.at("step").get<int64_t>();
  }

  const auto save_checkpoint = [&](int epoch) {
    const fs::path tmp = out / "checkpoint.tmp";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    WritePolicyFiles(policy, tmp.string());
    torch::serialize::OutputArchive oa;
    opt.save(oa);
    oa.save_to((tmp / "optimizer.pt").string());
    nlohmann::json hist = nlohmann::json::array();
    for (const auto& r : result.history) hist.push_back(RecordToJson(r));
    nlohmann::json state = {{"format", kStateFormat}, {"epoch", epoch}, {"step", step},
                            {"train_config", ResumeKey(config)}, {"history", hist}};
    {
      std::ofstream f(tmp / "train_state.json");
      f << state.dump(1) << "\n";
      if (!f) throw std::runtime_error("cannot write " + (tmp / "train_state.json").string());
    }
    ReplaceDirectory(tmp.string(), ckpt.string());
  };

  for (int epoch = result.resumed_from_epoch + 1; epoch <= config.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto perm = Permutation(n, StreamSeed(config.seed, 1, static_cast<uint64_t>(epoch)));
    double loss_sum = 0;
    int64_t loss_count = 0;
    double lr = config.lr;
    for (int64_t i = 0; i < batches; ++i) {
      if (callbacks.should_stop && callbacks.should_stop()) {
        result.stopped = true;
        break;
      }
      const int64_t begin = i * config.batch_size;
      const int64_t end = std::min(n, begin + config.batch_size);
      std::vector<int64_t> idx(perm.begin() + begin, perm.begin() + end);
      TrainBatch batch;
      train.Get(idx, &batch);
      auto gen = at::detail::createCPUGenerator(
          StreamSeed(config.seed, static_cast<uint64_t>(epoch) << 20, static_cast<uint64_t>(i)));
      lr = CosineWarmupLr(config.lr, step, config.warmup_steps, total_steps);
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      torch::Tensor loss = tp.Loss(batch, gen, /*train=*/true);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw std::runtime_error("training loss became " + std::to_string(value) + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(i));
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
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
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (callbacks.on_epoch) {
      nlohmann::json m = callbacks.on_epoch(epoch, policy);
      if (m.is_object()) rec.metrics = m;
    }
    result.history.push_back(rec);
    WriteLog(result.history, out / "train_log.csv");
    if (epoch % config.checkpoint_every == 0 || epoch == config.epochs) {
      save_checkpoint(epoch);
    }
  }
  return result;
}

}  // namespace onedp
