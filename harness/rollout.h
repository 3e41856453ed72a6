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
// policy. Images are rendered only when the policy has an image key, and only for the frames that
// end up in a history. A stop request (RequestStop(), SIGINT in the CLI) ends the run at the next
// chunk step: RunRollouts then throws std::runtime_error("... interrupted ...").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "policies/policy.h"

namespace onedp {

struct RolloutOptions {
  int episodes = 50;
  uint64_t start_seed = 100000;  // DP's test_start_seed
  int num_envs = 0;              // 0: min(episodes, 28)
  int workers = 0;               // env-stepping threads; 0: hardware concurrency (<= num_envs)
  SampleOptions sample;          // sampler; seeds are overwritten per call (ChunkNoiseSeed)
  int max_steps = 0;             // 0: the task's horizon (TaskSpec::max_steps)
  bool absolute_actions = true;  // robomimic abs actions (ActionMode::kAbsolute); PushT ignores it
};

struct EpisodeResult {
  uint64_t seed = 0;
  bool success = false;
  double score = 0;   // max over the rollout of Outcome::score (after each step)
  int steps = 0;      // env steps taken
  std::string error;  // empty unless the episode failed (non-finite action, physics, exception)
};

struct RolloutReport {
  std::vector<EpisodeResult> episodes;  // in seed order
  double success_rate = 0;
  double mean_score = 0;
  std::vector<double> predict_seconds;  // wall time of every PredictChunk call
  std::vector<int> predict_batch;       // batch size of each call
  double wall_seconds = 0;
};

// Noise seed of chunk `chunk` (0, 1, ...) of the episode with seed `episode_seed`.
uint64_t ChunkNoiseSeed(uint64_t episode_seed, int chunk);

// Throws std::invalid_argument for bad options, an unknown task, or a policy whose spec does not
// fit the task (missing observation key, shape or action-dim mismatch); std::runtime_error when a
// task cannot be created, the policy returns a malformed chunk, or the run is interrupted.
// `progress(done, total)` is called on the calling thread after each finished episode.
RolloutReport RunRollouts(Policy& policy, const std::string& task_name,
                          const RolloutOptions& options,
                          const std::function<void(int done, int total)>& progress = {});

// Writes one row per episode (seed, success, score, steps, error) to `<path>.tmp`, then renames
// it to `path`. Throws std::runtime_error on I/O errors.
void WriteRolloutCsv(const RolloutReport& report, const std::string& path);

}  // namespace onedp
