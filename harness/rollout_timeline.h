// The delay and perturbation timeline of a recorded rollout (RecordedRollout, harness/rollout.h):
// which steps held, where a chunk took over and how many of its actions it skipped because they
// were already in the past, and when the perturbation fired. GUI-free: the viewer draws it.
#pragma once

#include <string>
#include <vector>

#include "harness/rollout.h"

namespace onedp {

struct TimelineStep {
  bool held = false;        // the robot held (latency-aware evaluation: the chunk was not ready)
  bool takes_over = false;  // the first executed action of a new chunk
  int skipped = 0;          // takes_over: the chunk's actions skipped before it (async execution)
};

struct RolloutTimeline {
  std::vector<TimelineStep> steps;  // one per recorded step
  int held = 0, skipped = 0, chunks = 0;  // totals (chunks: those that took over)
  // The episode's perturbation as recorded (meta "perturbation", "perturbation_step",
  // "perturbation_detail"): status "none" when there was none or the file predates them.
  std::string perturbation = "none", perturbation_name, perturbation_detail;
  int perturbation_step = -1;  // env steps taken when it fired (a move: started); -1: never
  // A one-line summary: "held 28 steps, 3 chunks, 12 actions skipped; perturbation move applied at
  // step 17 (moved 0.08)".
  std::string Summary() const;
};

// From the recording's chunk_pos (-1: held), the chunks (a new chunk is a step whose predicted
// chunk differs from the previous executed step's), the first executed horizon index of a chunk
// (To - 1) and the meta's perturbation fields.
RolloutTimeline BuildTimeline(const RecordedRollout& rollout);

}  // namespace onedp
