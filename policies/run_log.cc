#include "policies/run_log.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include <time.h>

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

nlohmann::json NullableDouble(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

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

std::set<std::string> Keys(const std::vector<EpochRecord>& history, nlohmann::json EpochRecord::*field) {
  std::set<std::string> keys;
  for (const auto& r : history) {
    const nlohmann::json& m = r.*field;
    for (auto it = m.begin(); it != m.end(); ++it) keys.insert(it.key());
  }
  return keys;
}

}  // namespace

uint64_t StreamSeed(uint64_t seed, uint64_t a, uint64_t b) { return Mix(Mix(Mix(seed) ^ a) ^ b); }

uint64_t BatchSeed(uint64_t seed, int epoch, int64_t batch) {
  return StreamSeed(seed, static_cast<uint64_t>(epoch) << 20, static_cast<uint64_t>(batch));
}

double ProcessCpuSeconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

bool CloseEpoch(EpochRecord rec, const EpochTimer& timer, Policy& policy,
                const TrainCallbacks& callbacks, const std::string& out_dir, int checkpoint_every,
                int epochs, std::vector<EpochRecord>* history) {
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - timer.wall0).count();
  rec.cpu_seconds = ProcessCpuSeconds() - timer.cpu0;
  if (callbacks.on_epoch) {
    nlohmann::json m = callbacks.on_epoch(rec.epoch, policy);
    if (m.is_object()) rec.metrics = m;
  }
  history->push_back(rec);
  WriteTrainLog(*history, (fs::path(out_dir) / "train_log.csv").string());
  return rec.epoch % checkpoint_every == 0 || rec.epoch == epochs;
}

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

int64_t BatchesPerEpoch(int64_t n, const LoopConfig& config) {
  if (config.steps_per_epoch > 0) return config.steps_per_epoch;
  int64_t batches = (n + config.batch_size - 1) / config.batch_size;
  if (config.max_batches_per_epoch > 0) batches = std::min(batches, config.max_batches_per_epoch);
  return batches;
}

EpochBatches::EpochBatches(int64_t n, const LoopConfig& config, int epoch)
    : n_(n),
      batches_(BatchesPerEpoch(n, config)),
      per_pass_((n + config.batch_size - 1) / config.batch_size),
      batch_size_(config.batch_size),
      seed_(config.seed),
      epoch_(epoch) {}

std::vector<int64_t> EpochBatches::Batch(int64_t i) {
  const int64_t pass = i / per_pass_, j = i % per_pass_;
  if (pass != pass_) {
    perm_ = Permutation(n_, StreamSeed(seed_, 1 + static_cast<uint64_t>(pass), static_cast<uint64_t>(epoch_)));
    pass_ = pass;
  }
  const int64_t begin = j * batch_size_;
  const int64_t end = std::min(n_, begin + batch_size_);
  return std::vector<int64_t>(perm_.begin() + begin, perm_.begin() + end);
}

nlohmann::json HistoryToJson(const std::vector<EpochRecord>& history) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : history) {
    a.push_back({{"epoch", r.epoch},
                 {"step", r.step},
                 {"train_loss", NullableDouble(r.train_loss)},
                 {"valid_loss", NullableDouble(r.valid_loss)},
                 {"losses", r.losses},
                 {"lr", r.lr},
                 {"seconds", r.seconds},
                 {"cpu_seconds", r.cpu_seconds},
                 {"metrics", r.metrics}});
  }
  return a;
}

std::vector<EpochRecord> HistoryFromJson(const nlohmann::json& j) {
  std::vector<EpochRecord> history;
  for (const auto& e : j) {
    EpochRecord r;
    r.epoch = e.at("epoch").get<int>();
    r.step = e.at("step").get<int64_t>();
    r.train_loss = e.at("train_loss").is_null() ? std::nan("") : e.at("train_loss").get<double>();
    r.valid_loss = e.at("valid_loss").is_null() ? std::nan("") : e.at("valid_loss").get<double>();
    r.losses = e.value("losses", nlohmann::json::object());
    r.lr = e.at("lr").get<double>();
    r.seconds = e.at("seconds").get<double>();
    r.cpu_seconds = e.value("cpu_seconds", 0.0);
    r.metrics = e.at("metrics");
    history.push_back(r);
  }
  return history;
}

void WriteTrainLog(const std::vector<EpochRecord>& history, const std::string& path) {
  const std::set<std::string> loss_keys = Keys(history, &EpochRecord::losses);
  const std::set<std::string> metric_keys = Keys(history, &EpochRecord::metrics);
  const auto cell = [](const nlohmann::json& m, const std::string& k) {
    return m.contains(k) ? CsvValue(m.at(k)) : std::string();
  };
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << "epoch,step,train_loss,valid_loss";
    for (const auto& k : loss_keys) f << "," << k;
    f << ",lr,seconds,cpu_seconds";
    for (const auto& k : metric_keys) f << "," << k;
    f << "\n";
    for (const auto& r : history) {
      f << r.epoch << "," << r.step << "," << CsvValue(NullableDouble(r.train_loss)) << "," << CsvValue(NullableDouble(r.valid_loss));
      for (const auto& k : loss_keys) f << "," << cell(r.losses, k);
      f << "," << CsvValue(r.lr) << "," << CsvValue(r.seconds) << "," << CsvValue(r.cpu_seconds);
      for (const auto& k : metric_keys) f << "," << cell(r.metrics, k);
      f << "\n";
    }
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  fs::rename(tmp, path);
}

void WriteCheckpoint(const std::string& out_dir, const Policy& policy, const LoopState& state,
                     const std::string& key_name, const nlohmann::json& key,
                     const std::function<void(const std::string& dir)>& write_extra) {
  const fs::path out(out_dir);
  const fs::path tmp = out / "checkpoint.tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  WritePolicyFiles(policy, tmp.string());
  if (write_extra) write_extra(tmp.string());
  const nlohmann::json j = {{"format", kStateFormat}, {"epoch", state.epoch}, {"step", state.step},
                            {key_name, key},          {"history", HistoryToJson(state.history)}};
  {
    std::ofstream f(tmp / "train_state.json");
    f << j.dump(1) << "\n";
    if (!f) throw std::runtime_error("cannot write " + (tmp / "train_state.json").string());
  }
  ReplaceDirectory(tmp.string(), (out / "checkpoint").string());
}

bool ReadCheckpoint(const std::string& out_dir, Policy& policy, const std::string& key_name,
                    const nlohmann::json& key, LoopState* state,
                    const std::function<void(const std::string& dir)>& read_extra) {
  const fs::path ckpt = fs::path(out_dir) / "checkpoint";
  if (!fs::exists(ckpt / "train_state.json")) return false;
  nlohmann::json j;
  std::ifstream(ckpt / "train_state.json") >> j;
  if (j.value("format", 0) != kStateFormat) throw std::runtime_error("unsupported train_state.json format");
  const nlohmann::json saved = ReadPolicyJson(ckpt.string());
  if (saved.at("name") != policy.Name() || saved.at("config") != policy.Config() ||
      saved.at("spec") != policy.spec().ToJson()) {
    throw std::invalid_argument("the checkpoint in " + ckpt.string() +
                                " was made by a different policy or network config; choose another "
                                "output directory or delete it");
  }
  if (j.at(key_name) != key) {
    throw std::invalid_argument("the checkpoint in " + ckpt.string() + " was made with " + key_name + " " +
                                j.at(key_name).dump() + "; this run asks for " + key.dump() +
                                ". Choose another output directory.");
  }
  ReadPolicyWeights(AsTorchPolicy(policy), ckpt.string());
  if (read_extra) read_extra(ckpt.string());
  state->epoch = j.at("epoch").get<int>();
  state->step = j.at("step").get<int64_t>();
  state->history = HistoryFromJson(j.at("history"));
  return true;
}

}  // namespace onedp
