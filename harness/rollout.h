// Batched closed-loop evaluation of a Policy on a task (diffusion_policy's env runners).
//
// Episode i (i = 0 .. episodes-1) resets its task with seed start_seed + i. `num_envs`
// environments (one Task each; env e is always stepped by worker thread e % workers, which also
// created it, so GL contexts stay on their thread) take episodes in seed order as they free up.
// Each env keeps the last To observations (at reset: the first observation repeated To times, as
// DP's MultiStepWrapper). One chunk step:
//   1. the histories of all active envs form ONE ObsBatch (rows in env order; keys and shapes
//      from policy.spec().obs: low-dim (B, To, d) float, images (B, To, h, w, 3) uint8), and
//      policy.PredictChunk is called once, with SampleOptions.seeds[b] = ChunkNoiseSeed(episode
//      seed, chunk index) so an episode's noise does not depend on its batch neighbours;
//   2. the workers step their envs through the returned (B, Ta, Da) actions in parallel; an
//      episode ends at its first success, at max_steps, or when the task reports an
//      episode_error() (or throws: the message becomes the episode's error).
// Results therefore depend on num_envs/workers only through floating-point batch effects of the
// policy.
//
// Latency-aware evaluation (RolloutOptions::latency, exec; harness/latency.h): each env runs its
// own chunk clock (ChunkExecutor). A chunk requested at the env's step t becomes available at
// t + d; until then the env keeps stepping with held actions (sync) or the previous chunk's
// (async). Every iteration of the loop above advances each env to its next request step, so the
// envs' requests of one iteration still form one batched PredictChunk call, and with latency
// "none" the loop is exactly the one described above (same calls, same actions). Images are rendered only when the policy has an image key, and only for the frames that
// end up in a history. A stop request (RequestStop(), SIGINT in the CLI) ends the run at the next
// chunk step: RunRollouts then throws std::runtime_error("... interrupted ...").
//
// Optional observers (RolloutObserver: RolloutRecorder writes one HDF5 file per episode,
// RolloutVideo one MP4 per episode) see every reset, chunk and step without changing the run.
// The building blocks of one env's loop (ObsHistory, ChunkNoiseSeed, StepEpisode) are public so
// that the viewer's live mode steps a single env exactly as RunRollouts does.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/episode.h"
#include "harness/latency.h"
#include "policies/policy.h"
#include "sim/renderer.h"
#include "tasks/task.h"

namespace onedp {

struct EpisodeResult;

// Per-episode hooks of RunRollouts. For one episode the calls come in order (OnReset, OnChunk and
// OnStep as it runs, OnEpisodeEnd once, right after its last step), all on the worker thread that
// owns the episode's Task (so they may render with it); calls for different episodes may run
// concurrently on different threads. Only episodes for which Wants() is true are observed (an
// episode whose reset fails is not). An exception from an observer fails the episode.
class RolloutObserver {
 public:
  virtual ~RolloutObserver() = default;
  virtual bool Wants(int episode) const { return true; }
  // After Reset(seed) and the first Observe().
  virtual void OnReset(int episode, uint64_t seed, Task& task) {}
  // A new chunk for this episode: row `row` of `chunk` (chunk.steps actions of chunk.dim). Called
  // before the first step that executes one of its actions (with a latency: when it takes over,
  // not when it is requested; a chunk none of whose actions run is not passed).
  virtual void OnChunk(int episode, const ActionChunk& chunk, int row) {}
  // Right before each OnStep: which action of the chunk last passed to OnChunk the step executes,
  // counted from its first executed action (PlaceInHorizon's exec_begin), or -1 when the robot
  // holds (latency-aware evaluation).
  virtual void OnStepSource(int episode, int exec_index) {}
  // After each env step: the action applied, the outcome after it, and the task (state after).
  virtual void OnStep(int episode, Task& task, const std::vector<double>& action,
                      const Outcome& outcome) {}
  // The episode is over; `result` is final.
  virtual void OnEpisodeEnd(int episode, Task& task, const EpisodeResult& result) {}
};

struct RolloutOptions {
  int episodes = 50;
  uint64_t start_seed = 100000;  // DP's test_start_seed
  int num_envs = 0;              // 0: min(episodes, 28)
  int workers = 0;               // env-stepping threads; 0: hardware concurrency (<= num_envs)
  SampleOptions sample;          // sampler; seeds are overwritten per call (ChunkNoiseSeed)
  int max_steps = 0;             // 0: the task's horizon (TaskSpec::max_steps)
  bool absolute_actions = true;  // robomimic abs actions (ActionMode::kAbsolute); tasks with one action form ignore it
  LatencyModel latency;          // default none: the simulation pauses while the policy thinks
  ExecMode exec = ExecMode::kSync;
  // A perturbation the task declares (TaskInfo::perturbations: "move", "reset"), armed in every
  // episode after its reset (Task::SetPerturbation); empty: none.
  std::string perturbation;
  std::vector<RolloutObserver*> observers;  // not owned; see RolloutObserver
};

struct EpisodeResult {
  uint64_t seed = 0;
  bool success = false;
  double score = 0;   // max over the rollout of Outcome::score (after each step)
  int steps = 0;      // env steps taken
  std::string error;  // empty unless the episode failed (non-finite action, physics, exception)
  // The chunk clock (ChunkExecutor); with latency none: delay 0, held 0, skipped 0.
  double delay_steps = 0;   // d of the episode's chunks (their mean when the latency is measured)
  int chunks = 0;           // chunks requested (policy calls for this episode)
  int held_steps = 0;       // steps that executed the task's hold action
  int skipped_actions = 0;  // chunk actions skipped because they were already in the past
  // Mean L2 jump of the commanded position (the first 3 action dims; 2 for planar tasks) between
  // consecutive executed actions from different chunks; NaN when there was no such pair or the
  // actions are not absolute.
  double boundary_jump = std::numeric_limits<double>::quiet_NaN();
  // The episode's perturbation (Task::perturbation()): its status ("none", "not_triggered",
  // "applied", "skipped"), the step it was applied or skipped at (-1: neither) and the detail.
  std::string perturbation = "none";
  int perturbation_step = -1;
  std::string perturbation_detail;
  uint32_t milestones = 0;  // OR over the rollout of Outcome::milestones: the sub-goals reached
};

struct RolloutReport {
  std::vector<EpisodeResult> episodes;  // in seed order
  double success_rate = 0;
  double mean_score = 0;
  std::vector<std::string> milestones;  // the task's sub-goals (TaskInfo::milestones)
  std::vector<double> predict_seconds;  // wall time of every PredictChunk call
  std::vector<int> predict_batch;       // batch size of each call
  double wall_seconds = 0;
  std::string latency = "none";  // LatencyModel::text
  ExecMode exec = ExecMode::kSync;
  std::string perturbation;      // RolloutOptions::perturbation
  bool deterministic = true;     // false for measured latency (results depend on this machine)
};

// Noise seed of chunk `chunk` (0, 1, ...) of the episode with seed `episode_seed`.
uint64_t ChunkNoiseSeed(uint64_t episode_seed, int chunk);

// ---- the building blocks of one env's loop ------------------------------------------------------

// One env's chunk clock under a latency and execution model (harness/latency.h): when the env
// requests a chunk, which action each env step executes (a chunk row or the task's hold action,
// Task::HoldAction), and the episode's counts. Chunks are numbered 0, 1, ... in request order; a
// chunk's rows are the actions it has for execution (today's policies: Ta of them). In sync mode
// row j runs at (availability + j); in async mode at (request + j), so the rows whose step passed
// before the chunk arrived are skipped, and the newest available chunk is always the one in force.
// RunRollouts drives one per env; a single-env loop drives it the same way:
//   Reset();
//   loop { if (RequestDue()) AddChunk(...);  Slot s = Next();  step with Action(s) or the hold
//          action;  if (s.observe) push the observation;  Advance(); }
class ChunkExecutor {
 public:
  // `position_dims`: leading action dims whose jump at chunk boundaries is measured (0: none).
  ChunkExecutor(ExecMode mode, int obs_steps, int position_dims);
  void Reset();  // a new episode: step 0, first request due now
  int step() const { return step_; }
  bool RequestDue() const { return step_ == next_request_; }
  int next_request() const { return next_request_; }
  // The chunk requested at this step (RequestDue() must hold): `n` rows of `dim` values, available
  // `delay` >= 0 steps from now. Sets the next request: sync when this chunk is used up
  // (now + delay + n); async so that the next chunk arrives as this one runs out, but not before
  // this one has arrived (max(now + delay, now + n - delay); with a measured latency this chunk's
  // delay stands in for the next one's). Throws std::logic_error when no request is due.
  void AddChunk(const float* rows, int n, int dim, int delay);
  struct Slot {
    int chunk = -1;         // the chunk whose row runs now; -1: hold
    int row = -1;           // that row
    bool takes_over = false;  // the chunk's first executed row
    // The observation after this step is one of the last To before the next request (only those
    // enter the history, so images are rendered only for them).
    bool observe = false;
  };
  // The current step's source, and its counts (held, skipped rows, boundary jump). Call once per
  // step, then Advance().
  Slot Next();
  const double* Action(const Slot& slot) const;  // the slot's row (slot.chunk >= 0)
  void Advance() { ++step_; }

  int chunks() const { return chunks_requested_; }
  int held_steps() const { return held_; }
  int skipped_actions() const { return skipped_; }
  double mean_delay() const;     // 0 before the first chunk
  double boundary_jump() const;  // NaN when no boundary was crossed
  // Copies the counts into r's chunk-clock fields.
  void Fill(EpisodeResult* r) const;

 private:
  struct Chunk {
    int index = 0, request = 0, available = 0, start = 0, rows = 0;
    bool took_over = false;
    std::vector<double> values;  // rows x dim
  };
  ExecMode mode_;
  int obs_steps_, position_dims_, dim_ = 0;
  int step_ = 0, next_request_ = 0;
  std::deque<Chunk> pending_;  // the chunk in force (if any) and those requested after it
  int chunks_requested_ = 0, held_ = 0, skipped_ = 0;
  double delay_sum_ = 0;
  int last_chunk_ = -1;        // chunk of the last executed row
  std::vector<double> last_pos_;
  double jump_sum_ = 0;
  int jumps_ = 0;
};

// True when the policy consumes a camera image (then observations must be rendered).
bool PolicyUsesImages(const PolicySpec& spec);

// Throws std::invalid_argument unless every policy key is an observation of the task with the
// same kind and shape, and the action dims agree (`absolute`: ActionMode::kAbsolute).
void CheckPolicyFitsTask(const PolicySpec& policy, const TaskSpec& task, bool absolute);

// Throws std::runtime_error unless `chunk` is (batch, >= 1, spec.action_dim) with matching data.
void CheckChunk(const ActionChunk& chunk, int batch, const Policy& policy);

// Row `row` of a PredictChunk result placed at its horizon indices: H x Da values, NaN where the
// policy returned nothing, and the horizon indices [exec_begin, exec_end) of the actions that are
// executed. Today's policies return only horizon steps [To-1, To-1+Ta) (DP's convention: the
// chunk's rows are exactly the executed actions); a chunk of H or more rows is taken as the full
// horizon, of which [To-1, To-1+Ta) is executed and the rest discarded.
struct HorizonChunk {
  std::vector<double> values;  // H x Da
  int exec_begin = 0, exec_end = 0;
  int first_row = 0;           // chunk row of horizon index exec_begin
};
HorizonChunk PlaceInHorizon(const ActionChunk& chunk, int row, const PolicySpec& spec);

// The last To observations of one env per policy key, oldest first (DP's MultiStepWrapper).
class ObsHistory {
 public:
  explicit ObsHistory(const PolicySpec& spec) : spec_(&spec) {}
  // Appends `obs` (keeping To frames); `fill` replaces the history by To copies of it (reset).
  // Throws std::runtime_error when a policy key is missing or has the wrong shape.
  void Push(const Observation& obs, bool fill);
  // Appends this history as the next row of `batch` (batch->steps is set to To).
  void AppendRow(ObsBatch* batch) const;

 private:
  const PolicySpec* spec_;
  std::map<std::string, std::vector<std::vector<float>>> lowdim_;
  std::map<std::string, std::vector<std::vector<uint8_t>>> images_;
};

// One env step: applies `action`, then updates `r` (steps, max score, milestones, success, error) and
// `outcome`. Returns true when the episode is over: first success, an episode error, or
// `max_steps` steps. Exceptions from the task propagate.
bool StepEpisode(Task& task, const std::vector<double>& action, int max_steps, EpisodeResult* r,
                 Outcome* outcome);

// Throws std::invalid_argument for bad options, an unknown task, or a policy whose spec does not
// fit the task (missing observation key, shape or action-dim mismatch); std::runtime_error when a
// task cannot be created, the policy returns a malformed chunk, or the run is interrupted.
// `progress(done, total)` is called on the calling thread after each finished episode.
RolloutReport RunRollouts(Policy& policy, const std::string& task_name,
                          const RolloutOptions& options,
                          const std::function<void(int done, int total)>& progress = {});

// "lid_off 12/50, hammer_lifted 3/50": the episodes that reached each of the task's sub-goals; ""
// when the task declares none.
std::string MilestoneSummary(const RolloutReport& report);

// Writes one row per episode (seed, success, score, steps, error, then the chunk clock's
// delay_steps, chunks, held_steps, skipped_actions, boundary_jump (empty when undefined) and
// deterministic: 0 when the latency was measured on this machine; then perturbation,
// perturbation_step, perturbation_detail, and milestones: the names of the sub-goals the episode
// reached, joined by ';') to `<path>.tmp`, then renames it to `path`. Throws std::runtime_error on
// I/O errors.
void WriteRolloutCsv(const RolloutReport& report, const std::string& path);

// ---- recorded rollouts -------------------------------------------------------------------------

// One recorded episode: per-step full state, actions, predicted chunks and rewards (no images:
// a viewer re-renders them from the states). N = steps taken.
struct RecordedRollout {
  // task, seed, policy, sampler, ckpt, obs_steps, action_steps, horizon, action_mode, success,
  // score, steps, error (free-form JSON; "task" and "seed" are required to replay)
  nlohmann::json meta = nlohmann::json::object();
  ArrayF64 states;   // (N+1, 1+nq+nv) robomimic flat states: before each step, then the final one
  ArrayF64 actions;  // (N, Da) actions as sent to Task::Step
  // (N, H, Da): the chunk predicted for the call that produced step t's action, placed at its
  // horizon indices; steps the policy did not return (PredictChunk gives only the executed
  // [To-1, To-1+Ta)) are NaN.
  ArrayF64 chunks;
  std::vector<int> chunk_pos;     // (N) horizon index of step t's action in chunks[t]; -1: held
  std::vector<double> rewards;    // (N) Outcome::reward after step t
  std::vector<double> scores;     // (N) Outcome::score after step t
  std::vector<int> successes;     // (N) Outcome::success after step t

  int64_t num_steps() const { return actions.rows(); }
};

// File layout: a robomimic-schema HDF5 with one demo (so `viewer --dataset` reads it too):
//   /data/demo_0  attrs num_samples N, ep_meta (= meta), model_file ""; datasets
//     states (N,S) [states 0..N-1], actions (N,Da), rewards (N,), dones (N,) (1 at success),
//     next_obs/flat_state (N,S) [states 1..N], next_obs/score (N,1), next_obs/success (N,1),
//     obs/action_chunk (N,H,Da), obs/chunk_pos (N,1)
//   /data attrs total, env_args {"env_name", "type", "env_kwargs", "onedp": {"task",
//     "kind": "recorded_rollout", "format": 1}}
// Written to <path>.tmp and renamed. Throws std::runtime_error on I/O or shape errors.
void WriteRecordedRollout(const RecordedRollout& rollout, const std::string& path,
                          const nlohmann::json& env_args = nlohmann::json::object());
// Throws std::runtime_error naming the file and what is wrong (missing, not a recorded rollout).
RecordedRollout ReadRecordedRollout(const std::string& path);

// Records episodes into `dir`/episode_<seed>.hdf5 (the directory is created).
class RolloutRecorder : public RolloutObserver {
 public:
  // `meta` (policy, sampler, ckpt, ...) is copied into every episode's meta; `max_episodes` < 0:
  // all episodes.
  RolloutRecorder(std::string dir, const PolicySpec& spec, nlohmann::json meta,
                  int max_episodes = -1);
  ~RolloutRecorder() override;
  bool Wants(int episode) const override;
  void OnReset(int episode, uint64_t seed, Task& task) override;
  void OnChunk(int episode, const ActionChunk& chunk, int row) override;
  void OnStepSource(int episode, int exec_index) override;
  void OnStep(int episode, Task& task, const std::vector<double>& action,
              const Outcome& outcome) override;
  void OnEpisodeEnd(int episode, Task& task, const EpisodeResult& result) override;
  std::vector<std::string> written() const;  // files written so far, in episode-end order

 private:
  struct Episode;
  Episode& Get(int episode);
  std::string dir_;
  PolicySpec spec_;
  nlohmann::json meta_;
  int max_episodes_;
  mutable std::mutex mu_;
  std::map<int, std::unique_ptr<Episode>> episodes_;
  std::vector<std::string> written_;
};

// MP4 (OpenCV VideoWriter, codec mp4v) of same-sized RGB frames; Close() (or the destructor)
// finishes the file. Throws std::runtime_error when the file cannot be opened or a frame has the
// wrong size.
class Mp4Writer {
 public:
  Mp4Writer(const std::string& path, int width, int height, double fps);
  ~Mp4Writer();
  Mp4Writer(const Mp4Writer&) = delete;
  Mp4Writer& operator=(const Mp4Writer&) = delete;
  void Add(const Image& frame);
  // Top-down RGB rows, `stride` bytes apart (>= 3 * width).
  void Add(const uint8_t* rgb, size_t stride);
  void Close();
  int frames() const { return frames_; }
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  int width_, height_, frames_ = 0;
};

// Headless videos of the first `max_episodes` episodes: `dir`/episode_<seed>.mp4, one frame per
// env step (plus the initial state) from the task's first camera at `size` x `size`, at the task's
// control rate.
class RolloutVideo : public RolloutObserver {
 public:
  RolloutVideo(std::string dir, int max_episodes, int size = 256);
  ~RolloutVideo() override;
  bool Wants(int episode) const override { return episode < max_episodes_; }
  void OnReset(int episode, uint64_t seed, Task& task) override;
  void OnStep(int episode, Task& task, const std::vector<double>& action,
              const Outcome& outcome) override;
  void OnEpisodeEnd(int episode, Task& task, const EpisodeResult& result) override;
  std::vector<std::string> written() const;

 private:
  struct Episode;
  std::string dir_;
  int max_episodes_, size_;
  mutable std::mutex mu_;
  std::map<int, std::unique_ptr<Episode>> episodes_;
  std::vector<std::string> written_;
};

}  // namespace onedp
