#include "harness/viewer/tracks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <utility>

#include "harness/episode.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<double> Row(const ArrayF64& a, int64_t i) {
  return std::vector<double>(a.row(i), a.row(i) + a.row_size());
}

void CheckFile(const std::string& path, const std::string& option) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw std::invalid_argument(option + " " + path + ": no such file");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw std::invalid_argument(option + " " + path + ": is a directory, not a file");
  }
}

}  // namespace

// ---- Track
// ---------------------------------------------------------------------------------------

Track::Track(std::string label, const std::string& task, bool absolute)
    : label_(std::move(label)), absolute_(absolute) {
  FindTask(task);  // unknown names list the valid ones
  thread_.Run([&] {
    task_ = MakeTask(task);
    task_->SetActionMode(absolute ? ActionMode::kAbsolute : ActionMode::kDelta);
    spec_ = task_->spec();
  });
}

Track::~Track() {
  try {
    thread_.Run([&] { task_.reset(); });  // its GL context belongs to that thread
  } catch (...) {
  }
}

mjModel* Track::model() { return task_->sim().model(); }
mjData* Track::data() { return task_->sim().data(); }

void Track::ObserveImages(Observation* obs) {
  task_->Observe(obs, /*render=*/true);
  frame_.images = obs->images;
}

// ---- LiveTrack
// -------------------------------------------------------------------------------------

LiveTrack::LiveTrack(std::string label, std::shared_ptr<Policy> policy, const std::string& task,
                     const std::string& sampler, uint64_t seed)
    : Track(std::move(label), task, /*absolute=*/true),
      policy_(std::move(policy)),
      history_(policy_->spec()) {
  seed_ = seed;
  const PolicySpec& ps = policy_->spec();
  ps.Validate();
  CheckPolicyFitsTask(ps, spec_, absolute_);
  SetSampler(sampler.empty() ? policy_->Samplers().front() : sampler);
  for (const PolicyObsKey& k : ps.obs) {
    if (k.is_image) frame_.policy_images.push_back(k.key);
  }
}

void LiveTrack::SetSampler(const std::string& sampler) {
  const SamplerSpec s = SamplerSpec::Parse(sampler);
  try {
    policy_->Nfe(s);
  } catch (const std::exception& e) {
    std::string valid;
    for (const auto& v : policy_->Samplers()) valid += (valid.empty() ? "" : ", ") + v;
    throw std::invalid_argument("sampler " + sampler + " does not fit policy " + policy_->Name() +
                                " (" + e.what() + "); its samplers: " + valid);
  }
  sampler_ = sampler;
}

void LiveTrack::Reset(uint64_t seed) {
  seed_ = seed;
  const std::vector<std::string> policy_images = frame_.policy_images;
  frame_ = TrackFrame();
  frame_.policy_images = policy_images;
  frame_.horizon = policy_->spec().horizon;
  actions_.clear();
  result_ = EpisodeResult();
  result_.seed = seed;
  chunk_.clear();
  chunk_steps_ = chunk_taken_ = chunk_index_ = 0;
  thread_.Run([&] {
    task_->SetActionMode(ActionMode::kAbsolute);
    task_->Reset(seed);
    ObserveImages(&obs_);
    history_.Push(obs_, /*fill=*/true);
    const Outcome out = task_->Evaluate();
    frame_.success = out.success;
    frame_.score = out.score;
    frame_.reward = out.reward;
    frame_.milestones = out.milestones;
  });
}

void LiveTrack::Advance() {
  if (frame_.done) return;
  const PolicySpec& ps = policy_->spec();
  thread_.Run([&] {
    try {
      if (chunk_taken_ >= chunk_steps_) {
        ObsBatch batch;
        history_.AppendRow(&batch);
        SampleOptions so;
        so.sampler = SamplerSpec::Parse(sampler_);
        so.seeds = {ChunkNoiseSeed(seed_, chunk_index_)};
        so.full_horizon = true;  // draw the discarded part of the chunk too
        const auto t0 = std::chrono::steady_clock::now();
        const ActionChunk chunk = policy_->PredictChunk(batch, so);
        predict_s_ = Seconds(t0);
        CheckChunk(chunk, 1, *policy_);
        HorizonChunk h = PlaceInHorizon(chunk, 0, ps);
        chunk_ = std::move(h.values);
        chunk_offset_ = h.exec_begin;
        chunk_steps_ = h.exec_end - h.exec_begin;
        chunk_taken_ = 0;
        ++chunk_index_;
      }
      const int d = ps.action_dim;
      const int pos = chunk_offset_ + chunk_taken_;
      std::vector<double> action(chunk_.begin() + static_cast<size_t>(pos) * d,
                                 chunk_.begin() + static_cast<size_t>(pos + 1) * d);
      Outcome out;
      frame_.done = StepEpisode(*task_, action, spec_.max_steps, &result_, &out);
      ++chunk_taken_;
      actions_.push_back(action);
      frame_.step = result_.steps;
      frame_.action = action;
      frame_.chunk = chunk_;
      frame_.chunk_pos = pos;
      frame_.exec_begin = chunk_offset_;
      frame_.exec_end = chunk_offset_ + chunk_steps_;
      frame_.success = out.success;
      frame_.score = out.score;
      frame_.reward = out.reward;
      frame_.milestones = result_.milestones;
      ObserveImages(&obs_);
      if (!frame_.done) history_.Push(obs_, /*fill=*/false);
    } catch (const std::exception& e) {
      if (result_.error.empty()) result_.error = e.what();
      frame_.done = true;
    }
    frame_.error = result_.error;
  });
}

// ---- ReplayTrack
// -------------------------------------------------------------------------------------

ReplayTrack::ReplayTrack(std::string label, ReplayData data)
    : Track(std::move(label), data.task, data.absolute), data_(std::move(data)) {
  seed_ = data_.seed;
  frame_.policy_images = data_.policy_images;
  frame_.num_frames = static_cast<int>(data_.states.rows());
  if (frame_.num_frames < 1) throw std::invalid_argument(label_ + ": no states to replay");
  thread_.Run([&] {
    task_->Reset(data_.seed);  // per-seed model changes (object sizes) before any state is set
    const int64_t want = task_->sim().FlatStateSize();
    if (data_.states.row_size() != want) {
      throw std::invalid_argument(label_ + ": states have " +
                                  std::to_string(data_.states.row_size()) + " values, task " +
                                  spec_.name + " has " + std::to_string(want) +
                                  " (1 + nq + nv): wrong task for this file? (pass --task)");
    }
  });
  for (int64_t t = 0; t < data_.actions.rows(); ++t) actions_.push_back(Row(data_.actions, t));
}

void ReplayTrack::Seek(int frame) {
  frame = std::clamp(frame, 0, frame_.num_frames - 1);
  const int64_t steps = data_.actions.rows();
  frame_.step = frame;
  frame_.done = frame == frame_.num_frames - 1;
  frame_.action.clear();
  frame_.chunk.clear();
  frame_.chunk_pos = -1;
  const int s = frame - 1;  // the step that led here
  if (s >= 0 && s < steps) frame_.action = Row(data_.actions, s);
  if (s >= 0 && s < data_.chunks.rows()) {
    frame_.chunk = Row(data_.chunks, s);
    frame_.horizon = static_cast<int>(data_.chunks.shape[1]);
    frame_.chunk_pos = data_.chunk_pos.at(s);
    frame_.exec_begin = data_.exec_begin;
    frame_.exec_end = data_.exec_end;
  }
  thread_.Run([&] {
    task_->sim().SetFlatState(Row(data_.states, frame));
    ObserveImages(&obs_);
    const Outcome out = task_->Evaluate();
    frame_.success = out.success;
    frame_.score = out.score;
    frame_.reward = out.reward;
    frame_.milestones = out.milestones;
  });
  if (s >= 0 && s < static_cast<int>(data_.scores.size())) {  // what the run itself measured
    frame_.score = data_.scores[s];
    frame_.success = data_.successes.at(s) != 0;
    frame_.reward = data_.rewards.at(s);
  }
}

// ---- loaders
// ---------------------------------------------------------------------------------------

ReplayData LoadRecordedRollout(const std::string& path) {
  CheckFile(path, "--rollout");
  RecordedRollout r;
  try {
    r = ReadRecordedRollout(path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(e.what());
  }
  ReplayData d;
  d.timeline = BuildTimeline(r);
  d.has_timeline = true;
  d.task = r.meta.at("task").get<std::string>();
  d.seed = r.meta.at("seed").get<uint64_t>();
  d.has_seed = true;
  d.states = std::move(r.states);
  d.actions = std::move(r.actions);
  d.chunks = std::move(r.chunks);
  d.chunk_pos = std::move(r.chunk_pos);
  const int to = r.meta.value("obs_steps", 2), ta = r.meta.value("action_steps", 8);
  d.exec_begin = to - 1;
  d.exec_end = to - 1 + ta;
  d.scores = std::move(r.scores);
  d.rewards = std::move(r.rewards);
  d.successes = std::move(r.successes);
  d.absolute = r.meta.value("action_mode", std::string("absolute")) == "absolute";
  if (r.meta.contains("policy_images")) {
    d.policy_images = r.meta.at("policy_images").get<std::vector<std::string>>();
  }
  return d;
}

ReplayData LoadDatasetDemo(const std::string& path, int demo, const std::string& task) {
  CheckFile(path, "--dataset");
  EpisodeStore store;
  try {
    EpisodeStoreOptions o;
    o.keys = {"states", "actions"};
    try {
      store = EpisodeStore::Load(path, o);
    } catch (const std::runtime_error&) {
      o.keys = {"states"};
      store = EpisodeStore::Load(path, o);
    }
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("--dataset: ") + e.what());
  }
  const std::string name = "demo_" + std::to_string(demo);
  const auto it = std::find(store.demo_names.begin(), store.demo_names.end(), name);
  if (it == store.demo_names.end()) {
    throw std::invalid_argument("--demo " + std::to_string(demo) + ": " + path + " has no " + name +
                                " (it has " + std::to_string(store.num_episodes()) + " demos" +
                                (store.demo_names.empty() ? std::string()
                                                          : ": " + store.demo_names.front() +
                                                                " .. " + store.demo_names.back()) +
                                ")");
  }
  const int64_t i = it - store.demo_names.begin();
  const int64_t begin = i == 0 ? 0 : store.episode_ends[i - 1], end = store.episode_ends[i];
  ReplayData d;
  d.task = task;
  if (d.task.empty()) {
    const nlohmann::json& args = store.env_args;
    if (args.is_object() && args.contains("onedp") && args["onedp"].contains("task")) {
      d.task = args["onedp"]["task"].get<std::string>();
    } else {
      throw std::invalid_argument("--dataset " + path +
                                  ": the file does not name a task of this benchmark (env_args " +
                                  "has no onedp.task" +
                                  (args.is_object() && args.contains("env_name")
                                       ? ", env_name " + args["env_name"].get<std::string>()
                                       : std::string()) +
                                  "): pass --task");
    }
  }
  const nlohmann::json& meta = store.ep_meta.at(i);
  if (meta.is_object() && meta.contains("seed")) {
    d.seed = meta["seed"].get<uint64_t>();
    d.has_seed = true;
  }
  const ArrayF64& states = store.f64.at("states");
  d.states.shape = {end - begin, states.row_size()};
  d.states.data.assign(states.row(begin), states.row(begin) + (end - begin) * states.row_size());
  if (store.f64.count("actions")) {
    const ArrayF64& a = store.f64.at("actions");
    d.actions.shape = {end - begin, a.row_size()};
    d.actions.data.assign(a.row(begin), a.row(begin) + (end - begin) * a.row_size());
  }
  d.absolute = false;  // robomimic datasets hold delta actions
  const nlohmann::json& args = store.env_args;
  if (args.is_object() && args.contains("onedp") &&
      args["onedp"].value("kind", std::string()) == "recorded_rollout") {
    d.absolute = true;
  }
  return d;
}

}  // namespace onedp
