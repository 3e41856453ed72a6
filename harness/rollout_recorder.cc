// Recorded rollouts: the HDF5 file format (write/read) and the RolloutRecorder observer.

#include "harness/rollout.h"

#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace onedp {

namespace {

ArrayF64 Rows(const ArrayF64& a, int64_t begin, int64_t end) {
  ArrayF64 out;
  out.shape = a.shape;
  out.shape[0] = end - begin;
  const int64_t n = a.row_size();
  out.data.assign(a.data.begin() + begin * n, a.data.begin() + end * n);
  return out;
}

ArrayF64 Column(const std::vector<double>& v) {
  ArrayF64 out;
  out.shape = {static_cast<int64_t>(v.size()), 1};
  out.data = v;
  return out;
}

// HDF5 here is the serial build: one writer at a time in the process.
std::mutex& Hdf5Mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void WriteRecordedRollout(const RecordedRollout& r, const std::string& path,
                          const nlohmann::json& env_args) {
  const int64_t n = r.num_steps();
  if (n < 1) throw std::runtime_error("recorded rollout " + path + ": no steps");
  if (r.states.rows() != n + 1 || r.chunks.rows() != n ||
      static_cast<int64_t>(r.chunk_pos.size()) != n ||
      static_cast<int64_t>(r.rewards.size()) != n || static_cast<int64_t>(r.scores.size()) != n ||
      static_cast<int64_t>(r.successes.size()) != n) {
    throw std::runtime_error("recorded rollout " + path + ": inconsistent lengths (" +
                             std::to_string(n) + " actions, " + std::to_string(r.states.rows()) +
                             " states, " + std::to_string(r.chunks.rows()) + " chunks)");
  }
  if (!r.meta.contains("task") || !r.meta.contains("seed")) {
    throw std::runtime_error("recorded rollout " + path + ": meta needs \"task\" and \"seed\"");
  }
  EpisodeRecord ep;
  ep.num_samples = n;
  ep.actions = r.actions;
  ep.states = Rows(r.states, 0, n);
  ep.rewards = r.rewards;
  ep.dones.resize(n);
  std::vector<double> success(n), pos(n);
  for (int64_t t = 0; t < n; ++t) {
    ep.dones[t] = r.successes[t] ? 1 : 0;
    success[t] = r.successes[t] ? 1.0 : 0.0;
    pos[t] = r.chunk_pos[t];
  }
  ep.next_obs["flat_state"] = Rows(r.states, 1, n + 1);
  ep.next_obs["score"] = Column(r.scores);
  ep.next_obs["success"] = Column(success);
  ep.obs["action_chunk"] = r.chunks;
  ep.obs["chunk_pos"] = Column(pos);
  ep.ep_meta = r.meta;
  nlohmann::json args = env_args.is_object() ? env_args : nlohmann::json::object();
  args["onedp"]["task"] = r.meta.at("task");
  args["onedp"]["kind"] = "recorded_rollout";
  args["onedp"]["format"] = 1;
  std::lock_guard<std::mutex> lock(Hdf5Mutex());
  DatasetWriter writer(path, /*overwrite=*/true);
  writer.Append(ep);
  writer.Finish(args, {});
}

RecordedRollout ReadRecordedRollout(const std::string& path) {
  EpisodeStore store;
  {
    std::lock_guard<std::mutex> lock(Hdf5Mutex());
    store = EpisodeStore::Load(path);
  }
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error("recorded rollout " + path + ": " + why +
                             " (write one with `harness eval --record DIR`)");
  };
  if (store.num_episodes() != 1) {
    fail("expected one demo, found " + std::to_string(store.num_episodes()));
  }
  for (const char* key : {"states", "actions", "rewards", "next_obs/flat_state", "next_obs/score",
                          "next_obs/success", "obs/action_chunk", "obs/chunk_pos"}) {
    if (!store.f64.count(key)) fail(std::string("no dataset ") + key + " (not a recorded rollout)");
  }
  RecordedRollout r;
  r.meta = store.ep_meta.at(0);
  if (!r.meta.is_object() || !r.meta.contains("task") || !r.meta.contains("seed")) {
    fail("ep_meta has no task/seed");
  }
  const ArrayF64& states = store.f64.at("states");
  const ArrayF64& next = store.f64.at("next_obs/flat_state");
  const int64_t n = states.rows();
  if (n < 1 || next.rows() != n || next.row_size() != states.row_size()) fail("bad state arrays");
  r.states.shape = {n + 1, states.row_size()};
  r.states.data = states.data;
  r.states.data.insert(r.states.data.end(), next.row(n - 1), next.row(n - 1) + next.row_size());
  r.actions = store.f64.at("actions");
  r.chunks = store.f64.at("obs/action_chunk");
  r.rewards = store.f64.at("rewards").data;
  r.scores = store.f64.at("next_obs/score").data;
  for (double v : store.f64.at("next_obs/success").data) r.successes.push_back(v != 0 ? 1 : 0);
  for (double v : store.f64.at("obs/chunk_pos").data) r.chunk_pos.push_back(static_cast<int>(v));
  if (r.actions.rows() != n || r.chunks.rows() != n || static_cast<int64_t>(r.scores.size()) != n ||
      static_cast<int64_t>(r.chunk_pos.size()) != n) {
    fail("datasets of different lengths");
  }
  return r;
}

struct RolloutRecorder::Episode {
  RecordedRollout rollout;
  std::vector<std::vector<double>> states, actions;
  std::vector<double> chunk;  // (H, Da) of the current chunk, NaN where not returned
  int offset = 0;             // horizon index of the current chunk's first executed action
  int pos = 0;                // the current chunk's action the next step executes; -1: a hold
  nlohmann::json env_args;
};

RolloutRecorder::RolloutRecorder(std::string dir, const PolicySpec& spec, nlohmann::json meta,
                                 int max_episodes)
    : dir_(std::move(dir)), spec_(spec), meta_(std::move(meta)), max_episodes_(max_episodes) {
  if (dir_.empty()) throw std::invalid_argument("--record: empty directory");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
}

RolloutRecorder::~RolloutRecorder() = default;

bool RolloutRecorder::Wants(int episode) const {
  return max_episodes_ < 0 || episode < max_episodes_;
}

RolloutRecorder::Episode& RolloutRecorder::Get(int episode) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = episodes_[episode];
  if (!e) e = std::make_unique<Episode>();
  return *e;
}

void RolloutRecorder::OnReset(int episode, uint64_t seed, Task& task) {
  Episode& e = Get(episode);
  e = Episode();
  e.rollout.meta = meta_;
  e.rollout.meta["task"] = task.spec().name;
  e.rollout.meta["seed"] = seed;
  e.rollout.meta["obs_steps"] = spec_.obs_steps;
  e.rollout.meta["action_steps"] = spec_.action_steps;
  e.rollout.meta["horizon"] = spec_.horizon;
  nlohmann::json images = nlohmann::json::array();
  for (const PolicyObsKey& k : spec_.obs) {
    if (k.is_image) images.push_back(k.key);
  }
  e.rollout.meta["policy_images"] = images;
  e.rollout.meta["action_mode"] =
      task.action_mode() == ActionMode::kAbsolute ? "absolute" : "delta";
  e.states.push_back(task.sim().FlatState());
  e.env_args = {{"env_name", task.spec().env_name}, {"type", 1}, {"env_kwargs", task.EnvKwargs()}};
}

void RolloutRecorder::OnChunk(int episode, const ActionChunk& chunk, int row) {
  Episode& e = Get(episode);
  HorizonChunk h = PlaceInHorizon(chunk, row, spec_);
  e.chunk = std::move(h.values);
  e.offset = h.exec_begin;
  e.pos = 0;
}

void RolloutRecorder::OnStepSource(int episode, int exec_index) { Get(episode).pos = exec_index; }

void RolloutRecorder::OnStep(int episode, Task& task, const std::vector<double>& action,
                             const Outcome& outcome) {
  Episode& e = Get(episode);
  RecordedRollout& r = e.rollout;
  e.actions.push_back(action);
  e.states.push_back(task.sim().FlatState());
  if (e.chunk.empty()) {  // a hold before the first chunk arrived: nothing planned yet
    e.chunk.assign(static_cast<size_t>(spec_.horizon) * action.size(),
                   std::numeric_limits<double>::quiet_NaN());
  }
  r.chunks.data.insert(r.chunks.data.end(), e.chunk.begin(), e.chunk.end());
  // A held step has chunk_pos -1 (no action of the chunk runs).
  r.chunk_pos.push_back(e.pos < 0 ? -1 : e.offset + e.pos);
  if (e.pos >= 0) ++e.pos;
  r.rewards.push_back(outcome.reward);
  r.scores.push_back(outcome.score);
  r.successes.push_back(outcome.success ? 1 : 0);
}

void RolloutRecorder::OnEpisodeEnd(int episode, Task& task, const EpisodeResult& result) {
  std::unique_ptr<Episode> owned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = episodes_.find(episode);
    if (it == episodes_.end()) return;
    owned = std::move(it->second);
    episodes_.erase(it);
  }
  Episode& e = *owned;
  RecordedRollout& r = e.rollout;
  const int64_t n = static_cast<int64_t>(e.actions.size());
  if (n == 0) return;  // nothing happened (the first step threw)
  const int64_t s = static_cast<int64_t>(e.states.front().size());
  const int64_t d = static_cast<int64_t>(e.actions.front().size());
  r.states.shape = {n + 1, s};
  for (const auto& st : e.states) r.states.data.insert(r.states.data.end(), st.begin(), st.end());
  r.actions.shape = {n, d};
  for (const auto& a : e.actions) r.actions.data.insert(r.actions.data.end(), a.begin(), a.end());
  r.chunks.shape = {n, spec_.horizon, d};
  r.meta["success"] = result.success;
  r.meta["score"] = result.score;
  r.meta["steps"] = result.steps;
  r.meta["error"] = result.error;
  // The chunk clock and the perturbation (the viewer's timeline, harness/rollout_timeline.h).
  r.meta["delay_steps"] = result.delay_steps;
  r.meta["held_steps"] = result.held_steps;
  r.meta["skipped_actions"] = result.skipped_actions;
  r.meta["perturbation"] = result.perturbation;
  r.meta["perturbation_name"] = task.perturbation().name;
  r.meta["perturbation_step"] = result.perturbation_step;
  r.meta["perturbation_detail"] = result.perturbation_detail;
  const std::string path =
      (std::filesystem::path(dir_) / ("episode_" + std::to_string(result.seed) + ".hdf5")).string();
  WriteRecordedRollout(r, path, e.env_args);
  std::lock_guard<std::mutex> lock(mu_);
  written_.push_back(path);
}

std::vector<std::string> RolloutRecorder::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

}  // namespace onedp
