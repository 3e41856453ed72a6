// The latency and execution model of latency-aware evaluation: how long a policy call takes in
// simulated time (LatencyModel), how that becomes a delay in control steps (DelaySteps), and what
// the robot does while the chunk is computed (ExecMode). Torch-free; the rollout loop applies it
// (harness/rollout.h ChunkExecutor).
//
// A chunk requested at control step t becomes available at step t + d, d = ceil(latency_s x
// control_hz) (the simulated-delay protocol of real-time chunking). Latency models (--latency):
//   none        d = 0: today's protocol (the simulation pauses while the policy thinks)
//   fixed:MS    MS milliseconds per call (MS >= 0)
//   v100-paper  a device profile: encoder 9 ms + NFE x 6.6 ms per network call (the OneDP paper's
//               Table 5 on a V100, the 67 M U-Net)
//   profile:PATH  a device profile read from a JSON file with "encoder_ms" and "network_ms"
//               (what `harness bench policy --json` writes)
//   measured    the wall time of each PredictChunk call on this machine (a batched call's time for
//               every row in it); results are not deterministic
// A profile's NFE is the policy's for the sampler in use (Policy::Nfe, policy_info's formula).
#pragma once

#include <string>

namespace onedp {

struct LatencyModel {
  enum class Kind { kNone, kFixed, kProfile, kMeasured };
  Kind kind = Kind::kNone;
  std::string text = "none";  // as given on the command line (normalised for none)
  double fixed_ms = 0;        // kFixed
  double encoder_ms = 0, network_ms = 0;  // kProfile

  bool deterministic() const { return kind != Kind::kMeasured; }
  // Milliseconds of one call with `nfe` network evaluations; throws std::logic_error for kMeasured
  // (its latency is only known after the call).
  double Milliseconds(int nfe) const;
};

// Parses a --latency value. Throws std::invalid_argument listing the valid forms for a malformed
// value, a negative time, an unknown profile name or an unreadable / incomplete profile file.
LatencyModel ParseLatency(const std::string& text);
// The valid --latency forms, for help texts and error messages.
std::string LatencyForms();

// d = ceil(latency_ms x control_hz / 1000); a latency that is an exact multiple of the control
// period gives that multiple (a 1e-9 step tolerance absorbs floating-point error).
int DelaySteps(double latency_ms, double control_hz);

// What the robot does while a chunk is computed (--exec):
//   sync   it holds (Task::HoldAction: the last goal, or zero motion) for the d steps, then executes the
//          chunk from its first action; the next chunk is requested when it is used up
//   async  it keeps executing the previous chunk; the new chunk's actions are for the steps from
//          its request on, so its first d actions (already in the past when it arrives) are
//          skipped; the next chunk is requested so that it arrives as the current one runs out
//          (but not before the current one has arrived: one call at a time); when the previous
//          chunk runs out first, the robot holds
// With latency none both are today's evaluation.
enum class ExecMode { kSync, kAsync };
// "sync" / "async"; throws std::invalid_argument listing both otherwise.
ExecMode ParseExecMode(const std::string& text);
const char* ExecModeName(ExecMode mode);

}  // namespace onedp
