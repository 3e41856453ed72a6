// `harness samples`: roughness and spread of policies' action chunks on dataset observations
// (see sample_stats.h).
#include "harness/sample_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include <Eigen/Dense>

#include "harness/policy_jobs.h"
#include "harness/run_info.h"
#include "harness/sequence_dataset.h"
#include "policies/registry.h"
#include "policies/run_log.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace fs = std::filesystem;

std::vector<double> ChunkRoughnessByDim(const float* chunk, int steps, int dim, const std::vector<double>& scale) {
  std::vector<double> by_dim(dim, 0.0);
  if (steps < 3) return by_dim;
  for (int t = 1; t + 1 < steps; ++t) {
    for (int d = 0; d < dim; ++d) {
      const double dd = (chunk[(t + 1) * dim + d] - 2.0 * chunk[t * dim + d] + chunk[(t - 1) * dim + d]) / scale[d];
      by_dim[d] += dd * dd / static_cast<double>(steps - 2);
    }
  }
  return by_dim;
}

double ChunkRoughness(const float* chunk, int steps, int dim, const std::vector<double>& scale) {
  double sum = 0;
  for (double v : ChunkRoughnessByDim(chunk, steps, dim, scale)) sum += v;
  return dim > 0 ? sum / dim : 0.0;
}

DrawSpread SpreadAcrossDraws(const std::vector<std::vector<double>>& draws) {
  DrawSpread s;
  const int n = static_cast<int>(draws.size());
  if (n < 2) return s;
  const int m = static_cast<int>(draws[0].size());
  Eigen::MatrixXd x(n, m);
  for (int i = 0; i < n; ++i) {
    if (static_cast<int>(draws[i].size()) != m) throw std::invalid_argument("draws of unequal length");
    for (int j = 0; j < m; ++j) x(i, j) = draws[i][j];
  }
  x.rowwise() -= x.colwise().mean();
  // The non-zero eigenvalues of the m x m covariance X^T X / (n - 1) are those of the n x n Gram.
  const Eigen::MatrixXd gram = x * x.transpose() / static_cast<double>(n - 1);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(gram, Eigen::EigenvaluesOnly);
  std::vector<double> l(es.eigenvalues().data(), es.eigenvalues().data() + n);
  for (double& v : l) v = std::max(0.0, v);
  std::sort(l.rbegin(), l.rend());
  double total = 0, sq = 0;
  for (double v : l) {
    total += v;
    sq += v * v;
  }
  // Identical draws (a deterministic policy) leave only rounding: report no spread at all.
  if (total <= 1e-12 * static_cast<double>(m)) return s;
  s.total_var = total / static_cast<double>(m);
  s.top1 = l[0] / total;
  s.top3 = (l[0] + l[1] + (n > 2 ? l[2] : 0)) / total;  // n >= 2 here
  s.eff_rank = total * total / sq;
  return s;
}

double MeanNearestDistance(const std::vector<std::vector<double>>& from, const std::vector<std::vector<double>>& to,
                           bool same) {
  if (from.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    double best = -1;
    for (size_t j = 0; j < to.size(); ++j) {
      if (same && i == j) continue;
      if (to[j].size() != from[i].size()) throw std::invalid_argument("draws of unequal length");
      double d = 0;
      for (size_t e = 0; e < to[j].size(); ++e) d += (from[i][e] - to[j][e]) * (from[i][e] - to[j][e]);
      if (best < 0 || d < best) best = d;
    }
    if (best < 0) return 0;
    sum += best / static_cast<double>(from[i].size());
  }
  return sum / static_cast<double>(from.size());
}

namespace {

struct Entry {
  std::string dir, sampler;
};

// Adds `weight` times a chunk's per-dimension roughness to the row's.
void AddRoughness(SampleStatsRow* r, const float* chunk, int steps, int dim, const std::vector<double>& scale,
                  double weight) {
  const std::vector<double> by_dim = ChunkRoughnessByDim(chunk, steps, dim, scale);
  if (r->roughness_by_dim.empty()) r->roughness_by_dim.assign(dim, 0.0);
  for (int d = 0; d < dim; ++d) r->roughness_by_dim[d] += weight * by_dim[d];
}

// The row's roughness: the mean over dimensions of its per-dimension roughness.
void CloseRoughness(SampleStatsRow* r) {
  r->roughness = 0;
  for (double v : r->roughness_by_dim) r->roughness += v / static_cast<double>(r->roughness_by_dim.size());
}

Entry ParseEntry(const std::string& text) {
  const size_t at = text.rfind('@');
  if (at == std::string::npos) return {text, ""};
  return {text.substr(0, at), text.substr(at + 1)};
}

}  // namespace

std::vector<SampleStatsRow> ComputeSampleStats(const SampleStatsOptions& o) {
  if (o.policies.empty()) throw std::invalid_argument("--policy: name at least one run or policy directory");
  if (o.windows < 1) throw std::invalid_argument("--windows must be >= 1");
  if (o.draws < 1) throw std::invalid_argument("--draws must be >= 1");
  if (o.batch < 1) throw std::invalid_argument("--batch must be >= 1");
  const ResolvedCkpt first = ResolveCkpt(ParseEntry(o.policies.front()).dir, "--policy");
  if (first.run.is_null()) {
    throw std::invalid_argument("--policy " + o.policies.front() + ": the first entry needs a run.json (its dataset)");
  }
  const std::string task_name = first.run.at("task").get<std::string>();
  const std::string dataset = first.run.at("dataset").get<std::string>();
  const PolicySpec spec = PolicySpec::FromJson(ReadPolicyJson(first.policy_dir.string()).at("spec"));
  const SequenceDataset data = SequenceDataset::Load(SequenceOptions(dataset, "train", FindTask(task_name).info, spec));

  // Half the dataset's range per action dimension.
  const ArrayF64& acts = data.actions();
  const int da = static_cast<int>(acts.row_size());
  std::vector<double> scale(da, 1.0);
  for (int d = 0; d < da; ++d) {
    double lo = 1e300, hi = -1e300;
    for (int64_t r = 0; r < acts.rows(); ++r) {
      lo = std::min(lo, acts.data[r * da + d]);
      hi = std::max(hi, acts.data[r * da + d]);
    }
    if (hi - lo > 1e-8) scale[d] = 0.5 * (hi - lo);
  }

  const std::vector<int64_t> perm = Permutation(data.size(), StreamSeed(o.seed, 11, 0));
  const int w = static_cast<int>(std::min<int64_t>(o.windows, data.size()));
  const int h = spec.horizon;
  std::vector<int64_t> rows;  // window of each row: w0 x draws, w1 x draws, ...
  std::vector<uint64_t> seeds;
  for (int i = 0; i < w; ++i) {
    for (int d = 0; d < o.draws; ++d) {
      rows.push_back(perm[i]);
      seeds.push_back(StreamSeed(o.seed, 13, static_cast<uint64_t>(i) * o.draws + d));
    }
  }
  TrainBatch windows;
  std::vector<int64_t> window_ids(perm.begin(), perm.begin() + w);
  data.Get(window_ids, &windows);

  std::vector<SampleStatsRow> out;
  std::vector<std::vector<std::vector<double>>> reference;  // [window][draw] of the first policy
  {
    SampleStatsRow r;
    r.label = "dataset";
    r.policy = "dataset";
    r.half_range = scale;
    for (int i = 0; i < w; ++i) AddRoughness(&r, windows.actions.data() + i * h * da, h, da, scale, 1.0 / w);
    CloseRoughness(&r);
    out.push_back(r);
  }
  for (const std::string& text : o.policies) {
    const Entry e = ParseEntry(text);
    const ResolvedCkpt ck = ResolveCkpt(e.dir, "--policy");
    auto policy = LoadPolicy(ck.policy_dir.string(), o.device);
    if (policy->spec().horizon != h || policy->spec().action_dim != da) {
      throw std::invalid_argument("--policy " + text + ": its chunks do not match the first policy's dataset");
    }
    SampleStatsRow r;
    r.label = text;
    r.policy = policy->Name();
    r.sampler = e.sampler.empty() ? policy->Samplers().front() : e.sampler;
    SampleOptions so;
    so.sampler = SamplerSpec::Parse(r.sampler);
    so.full_horizon = true;
    std::vector<float> samples;  // (rows, H, Da)
    for (size_t b = 0; b < rows.size(); b += static_cast<size_t>(o.batch)) {
      const size_t e_ = std::min(rows.size(), b + static_cast<size_t>(o.batch));
      TrainBatch batch;
      data.Get(std::vector<int64_t>(rows.begin() + b, rows.begin() + e_), &batch);
      so.seeds.assign(seeds.begin() + b, seeds.begin() + e_);
      const ActionChunk c = policy->PredictChunk(batch.obs, so);
      if (c.steps != h || c.dim != da) throw std::logic_error("a full-horizon chunk has the wrong shape");
      samples.insert(samples.end(), c.data.begin(), c.data.end());
    }
    const size_t chunk = static_cast<size_t>(h) * da;
    double mse = 0;
    DrawSpread spread;
    for (int i = 0; i < w; ++i) {
      std::vector<std::vector<double>> draws;
      for (int d = 0; d < o.draws; ++d) {
        const float* a = samples.data() + (static_cast<size_t>(i) * o.draws + d) * chunk;
        const float* ref = windows.actions.data() + static_cast<size_t>(i) * chunk;
        AddRoughness(&r, a, h, da, scale, 1.0 / (static_cast<double>(w) * o.draws));
        std::vector<double> flat(chunk);
        for (size_t j = 0; j < chunk; ++j) {
          flat[j] = a[j] / scale[j % da];
          const double diff = (a[j] - ref[j]) / scale[j % da];
          mse += diff * diff / static_cast<double>(chunk);
        }
        draws.push_back(std::move(flat));
      }
      const bool is_ref = reference.size() < static_cast<size_t>(w);
      if (is_ref) reference.push_back(draws);
      r.to_ref += MeanNearestDistance(draws, reference[i], is_ref) / w;
      r.from_ref += MeanNearestDistance(reference[i], draws, is_ref) / w;
      const DrawSpread s = SpreadAcrossDraws(draws);
      spread.total_var += s.total_var / w;
      spread.top1 += s.top1 / w;
      spread.top3 += s.top3 / w;
      spread.eff_rank += s.eff_rank / w;
    }
    CloseRoughness(&r);
    r.mse_data = mse / (static_cast<double>(w) * o.draws);
    r.spread = spread;
    out.push_back(r);
  }
  return out;
}

int RunSampleStats(const SampleStatsOptions& o, std::ostream& out) {
  if (o.out.empty()) throw std::invalid_argument("--out: name the CSV to write");
  const std::vector<SampleStatsRow> rows = ComputeSampleStats(o);
  std::ostringstream csv, md;
  csv << "label,policy,sampler,windows,draws,seed,roughness,mse_data,total_var,top1,top3,eff_rank,to_ref,from_ref\n";
  md << "| policy@sampler | roughness | mse to data | total var | top-1 | top-3 | eff. rank | to ref | from ref |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  char line[512];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof(line), "%s,%s,%s,%d,%d,%llu,%.6g,%.6g,%.6g,%.4f,%.4f,%.3f,%.6g,%.6g\n",
                  r.label.c_str(), r.policy.c_str(), r.sampler.c_str(), o.windows,
                  r.policy == "dataset" ? 1 : o.draws, static_cast<unsigned long long>(o.seed), r.roughness,
                  r.mse_data, r.spread.total_var, r.spread.top1, r.spread.top3, r.spread.eff_rank, r.to_ref,
                  r.from_ref);
    csv << line;
    std::snprintf(line, sizeof(line), "| %s | %.4g | %.4g | %.4g | %.3f | %.3f | %.2f | %.4g | %.4g |\n",
                  r.label.c_str(), r.roughness, r.mse_data, r.spread.total_var, r.spread.top1, r.spread.top3,
                  r.spread.eff_rank, r.to_ref, r.from_ref);
    md << line;
  }
  // Roughness per action dimension (columns), with the dataset's half range of each.
  const SampleStatsRow& data_row = rows.front();
  md << "\nRoughness per action dimension (units of the dataset's half range, shown in the first row):\n\n| policy@sampler |";
  for (size_t d = 0; d < data_row.half_range.size(); ++d) md << " d" << d << " |";
  md << "\n|---|";
  for (size_t d = 0; d < data_row.half_range.size(); ++d) md << "---:|";
  md << "\n| (half range) |";
  for (double v : data_row.half_range) {
    std::snprintf(line, sizeof(line), " %.3g |", v);
    md << line;
  }
  md << "\n";
  for (const auto& r : rows) {
    md << "| " << r.label << " |";
    for (double v : r.roughness_by_dim) {
      std::snprintf(line, sizeof(line), " %.3g |", v);
      md << line;
    }
    md << "\n";
  }
  if (fs::path(o.out).has_parent_path()) fs::create_directories(fs::path(o.out).parent_path());
  WriteTextAtomic(csv.str(), o.out);
  WriteTextAtomic(md.str(), fs::path(o.out).replace_extension(".md").string());
  out << md.str() << "wrote " << o.out << "\n";
  return 0;
}

}  // namespace onedp
