// Reading a recorded rollout's delay and perturbation timeline (held steps, chunk take-overs with
// their skipped actions, the perturbation's step) for the viewer.

#include "harness/rollout_timeline.h"

#include <cmath>
#include <sstream>

namespace onedp {
namespace {

// Whether the chunks recorded for steps a and b differ (NaN equals NaN: steps the policy did not return).
bool ChunksDiffer(const ArrayF64& chunks, int64_t a, int64_t b) {
  if (chunks.shape.size() != 3) return false;
  const int64_t size = chunks.shape[1] * chunks.shape[2];
  const double* x = chunks.data.data() + a * size;
  const double* y = chunks.data.data() + b * size;
  for (int64_t i = 0; i < size; ++i) {
    if (std::isnan(x[i]) != std::isnan(y[i])) return true;
    if (!std::isnan(x[i]) && x[i] != y[i]) return true;
  }
  return false;
}

}  // namespace

RolloutTimeline BuildTimeline(const RecordedRollout& r) {
  RolloutTimeline t;
  const int exec_begin = r.meta.value("obs_steps", 2) - 1;
  const int64_t n = static_cast<int64_t>(r.chunk_pos.size());
  t.steps.resize(n);
  int64_t last = -1;  // the last executed step
  for (int64_t s = 0; s < n; ++s) {
    TimelineStep& step = t.steps[s];
    const int pos = r.chunk_pos[s];
    if (pos < 0) {
      step.held = true;
      ++t.held;
      continue;
    }
    // A new chunk: the first executed step, a different predicted chunk, or a position that does not
    // follow the previous executed step's.
    const bool fresh = last < 0 || ChunksDiffer(r.chunks, s, last) || pos != r.chunk_pos[last] + 1;
    if (fresh) {
      step.takes_over = true;
      step.skipped = pos > exec_begin ? pos - exec_begin : 0;
      t.skipped += step.skipped;
      ++t.chunks;
    }
    last = s;
  }
  t.perturbation = r.meta.value("perturbation", std::string("none"));
  t.perturbation_name = r.meta.value("perturbation_name", std::string());
  t.perturbation_step = r.meta.value("perturbation_step", -1);
  t.perturbation_detail = r.meta.value("perturbation_detail", std::string());
  return t;
}

std::string RolloutTimeline::Summary() const {
  std::ostringstream o;
  o << "held " << held << " steps, " << chunks << " chunks, " << skipped << " actions skipped";
  if (perturbation != "none") {
    o << "; perturbation " << perturbation_name << " " << perturbation;
    if (perturbation_step >= 0) o << " at step " << perturbation_step;
    if (!perturbation_detail.empty()) o << " (" << perturbation_detail << ")";
  }
  return o.str();
}

}  // namespace onedp
