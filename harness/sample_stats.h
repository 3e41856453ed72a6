// `harness samples`: what a policy's action chunks look like on dataset observations, beside the
// dataset's own chunks. For W observation windows of a run's dataset (a seeded choice from the
// train split) and D noise draws per window (draw d of window w uses the same seed for every
// policy, so policies see the same z), each policy@sampler predicts its whole chunk (H steps);
// actions are measured in units of half the dataset's range per dimension (so every dimension
// counts alike, as the policies' limits normaliser sees them):
//   roughness   mean over chunks, t in [1, H-2] and dims of (a[t+1] - 2 a[t] + a[t-1])^2
//               (the dataset row: the same for the windows' recorded chunks); also per dimension,
//               in a second Markdown table with the dataset's half range of each dimension
//   mse_data    mean squared distance of a sample to its window's recorded chunk
//   total_var   per window, the trace of the covariance across the D draws divided by H * Da
//               (0 for a deterministic policy), averaged over windows
//   top1, top3  the share of that variance in the largest 1 / 3 eigenvalues of the covariance
//   eff_rank    its participation ratio (sum l)^2 / sum l^2
//   to_ref      per window, the mean over this policy's draws of the squared distance (per
//               element) to the nearest draw of the reference (the first --policy): are its samples
//               where the reference's are? (the reference's own row: to its nearest other draw)
//   from_ref    the same from each reference draw to this policy's nearest draw: does it cover
//               the reference's samples?
// Torch-free: policies are used through policies/policy.h.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace onedp {

struct SampleStatsOptions {
  // "DIR[@SAMPLER]": a run directory or saved policy directory, and a sampler (default: the
  // policy's first). The dataset and task are the first entry's run.json's.
  std::vector<std::string> policies;
  int windows = 32;
  int draws = 16;
  uint64_t seed = 0;
  int batch = 256;  // rows per PredictChunk call
  std::string device = "cpu";
  std::string out;  // CSV; a Markdown table is written beside it (.md)
};

// Mean squared second difference of one chunk (steps x dim, row-major), each dim divided by
// scale[d]; 0 when steps < 3.
double ChunkRoughness(const float* chunk, int steps, int dim, const std::vector<double>& scale);
// The same per action dimension (dim values; their mean is ChunkRoughness).
std::vector<double> ChunkRoughnessByDim(const float* chunk, int steps, int dim, const std::vector<double>& scale);

struct DrawSpread {
  double total_var = 0;  // trace of the covariance / elements
  double top1 = 0, top3 = 0, eff_rank = 0;
};
// Spread of `draws` (each a flattened, already scaled sample of equal length) around their mean.
DrawSpread SpreadAcrossDraws(const std::vector<std::vector<double>>& draws);

// Mean over `from` of the squared distance per element to the nearest member of `to`; with
// `same` (from and to are one set) a draw's own copy is skipped. 0 when `to` has no candidate.
double MeanNearestDistance(const std::vector<std::vector<double>>& from, const std::vector<std::vector<double>>& to,
                           bool same);

struct SampleStatsRow {
  std::string label, policy, sampler;
  double roughness = 0, mse_data = 0;
  double to_ref = 0, from_ref = 0;
  std::vector<double> roughness_by_dim;  // per action dimension
  std::vector<double> half_range;        // the dataset row only: the scale of each dimension
  DrawSpread spread;
};
std::vector<SampleStatsRow> ComputeSampleStats(const SampleStatsOptions& options);

// Runs ComputeSampleStats, writes the CSV and Markdown, prints the table; returns 0. Throws
// std::invalid_argument for bad options.
int RunSampleStats(const SampleStatsOptions& options, std::ostream& out);

}  // namespace onedp
