// What the viewer shows: tracks. A track is one simulated scene stepping through an episode:
//   LiveTrack    a policy acting on a task, one env step at a time, with the building blocks of
//                harness/rollout (ObsHistory, ChunkNoiseSeed, PredictChunk, StepEpisode), so an
//                episode is the one `harness eval` runs for the same seed and sampler
//   ReplayTrack  recorded states (a `harness eval --record` file or a dataset demo), scrubbable
// Two tracks side by side compare checkpoints, samplers or recordings from the same seed.
//
// The Task lives on the track's TaskThread; model() and data() may be read on the calling (UI)
// thread between calls, never during one (every call is synchronous).
#pragma once

#include <mujoco/mujoco.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/rollout.h"
#include "harness/rollout_timeline.h"
#include "harness/viewer/task_thread.h"
#include "policies/policy.h"
#include "tasks/task.h"

namespace onedp {

// The state of a track at its current frame, for the panels.
struct TrackFrame {
  int step = 0;        // env steps taken to reach this frame
  int num_frames = 0;  // replay: frames in the episode (steps + 1); live: 0
  bool done = false;   // episode over (live) / last frame (replay)
  bool success = false;
  double score = 0;  // Outcome::score now (the task's score metric; success tasks 0/1)
  double reward = 0;
  // The task's sub-goals (TaskInfo::milestones), bit i for sub-goal i: a live episode's reached so
  // far; a replayed frame's holding in its state.
  uint32_t milestones = 0;
  std::string error;  // the episode's error, if any
  // The action that led to this frame (empty at frame 0), and the chunk it came from: H x Da
  // values at horizon indices (NaN where unknown), chunk_pos = that action's horizon index,
  // executed range [exec_begin, exec_end).
  std::vector<double> action;
  std::vector<double> chunk;
  int chunk_pos = -1, exec_begin = 0, exec_end = 0, horizon = 0;
  // Camera images of this frame (the task's observation cameras, native size); the keys the
  // policy reads are listed in policy_images.
  std::map<std::string, Image> images;
  std::vector<std::string> policy_images;
};

class Track {
 public:
  virtual ~Track();
  Track(const Track&) = delete;
  Track& operator=(const Track&) = delete;

  const std::string& label() const { return label_; }
  const TaskSpec& spec() const { return spec_; }
  bool absolute_actions() const { return absolute_; }
  mjModel* model();
  mjData* data();
  const TrackFrame& frame() const { return frame_; }
  // Every action taken so far (live) or recorded (replay), in order.
  const std::vector<std::vector<double>>& actions() const { return actions_; }

  // Goes to the episode's first frame. Call after the UI's GL context exists (first render).
  virtual void Start() = 0;
  // One env step (live) or one frame forward (replay); no-op at the end.
  virtual void Advance() = 0;
  virtual bool live() const = 0;
  // Replay only: jump to a frame (clamped).
  virtual void Seek(int frame) {}
  // Live only: restart with a seed / sampler.
  virtual void Reset(uint64_t seed) {}
  virtual void SetSampler(const std::string& sampler) {}
  virtual std::string sampler() const { return ""; }
  virtual std::vector<std::string> samplers() const { return {}; }
  uint64_t seed() const { return seed_; }
  // Replay of a `harness eval --record` file: held steps, chunk take-overs with skipped actions and
  // the perturbation (nullptr: none recorded, e.g. live or a dataset demo).
  virtual const RolloutTimeline* timeline() const { return nullptr; }

 protected:
  Track(std::string label, const std::string& task, bool absolute);
  // Renders the task's cameras (on the task thread) into frame_.images.
  void ObserveImages(Observation* obs);

  TaskThread thread_;
  std::unique_ptr<Task> task_;  // created, used and destroyed on thread_
  std::string label_;
  TaskSpec spec_;
  bool absolute_ = true;
  uint64_t seed_ = 0;
  TrackFrame frame_;
  std::vector<std::vector<double>> actions_;
};

// A policy acting live. `policy` may be shared between tracks (calls never overlap).
class LiveTrack : public Track {
 public:
  // Throws std::invalid_argument when the policy does not fit the task or the sampler is unknown.
  LiveTrack(std::string label, std::shared_ptr<Policy> policy, const std::string& task,
            const std::string& sampler, uint64_t seed);
  void Start() override { Reset(seed_); }
  void Advance() override;
  bool live() const override { return true; }
  void Reset(uint64_t seed) override;
  void SetSampler(const std::string& sampler) override;
  std::string sampler() const override { return sampler_; }
  std::vector<std::string> samplers() const override { return policy_->Samplers(); }
  const Policy& policy() const { return *policy_; }
  double last_predict_seconds() const { return predict_s_; }

 private:
  std::shared_ptr<Policy> policy_;
  std::string sampler_;
  ObsHistory history_;
  Observation obs_;
  EpisodeResult result_;
  std::vector<double> chunk_;  // current chunk at horizon indices
  int chunk_offset_ = 0, chunk_steps_ = 0, chunk_taken_ = 0, chunk_index_ = 0;
  double predict_s_ = 0;
};

// Recorded states. `states` has one row per frame (flat robomimic states); the optional per-step
// arrays (actions, chunks, ...) have one row per step (frames - 1 or frames rows; a dataset's
// states row t is the state before action t).
struct ReplayData {
  std::string task;
  uint64_t seed = 0;
  bool has_seed = false;
  ArrayF64 states;
  ArrayF64 actions;  // optional
  ArrayF64 chunks;   // optional (N, H, Da)
  std::vector<int> chunk_pos;
  int exec_begin = 0, exec_end = 0;
  std::vector<double> scores, rewards;  // optional, after each step
  std::vector<int> successes;
  bool absolute = true;
  std::vector<std::string> policy_images;
  bool has_timeline = false;  // a recorded rollout's (BuildTimeline)
  RolloutTimeline timeline;
};

class ReplayTrack : public Track {
 public:
  // Throws std::invalid_argument when the states do not fit the task's model.
  ReplayTrack(std::string label, ReplayData data);
  void Start() override { Seek(0); }
  void Advance() override { Seek(frame_.step + 1); }
  bool live() const override { return false; }
  void Seek(int frame) override;
  const RolloutTimeline* timeline() const override { return data_.has_timeline ? &data_.timeline : nullptr; }

 private:
  ReplayData data_;
  Observation obs_;
};

// Loaders: `harness eval --record` files and robomimic-schema dataset demos. Throw
// std::invalid_argument with the reason (missing file, not a recording, unknown demo, ...).
ReplayData LoadRecordedRollout(const std::string& path);
// `task` empty: from the file's env_args.onedp.task. `demo` is the index in demo_<i>.
ReplayData LoadDatasetDemo(const std::string& path, int demo, const std::string& task);

}  // namespace onedp
