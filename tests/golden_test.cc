// Golden outputs of every method (issue 17 item 7): a fixed observation batch must give the same
// action chunks (full horizon, raw units) as recorded in testdata/golden_actions.json, for
// dp-ddpm and dp-edm (tiny preset, 3 AdamW steps from a fixed seed, every listed sampler and the
// default one), onedp-s / onedp-d distilled from both teachers and cp from dp-edm (2 student
// steps each). Everything is seeded with explicit generators, one CPU thread. A refactor that
// changes what a policy computes fails here, naming the case and its largest deviation.
//
// After an intended change, regenerate (then review the diff of the JSON file):
//   GOLDEN_UPDATE=1 build/tests/golden_test
// Each test merges its cases into the file (written to a .tmp, then renamed).
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "policies/distill.h"
#include "policies/distill_student.h"
#include "policies/registry.h"
#include "policies/torch_policy.h"
#include "tests/policy_fixtures.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// Same-build, same-machine runs agree bit for bit (1 thread); the tolerance absorbs float noise
// from other CPUs or BLAS kernels.
constexpr double kTolerance = 1e-4;
const std::string kGoldenPath = std::string(BENCH_TESTDATA_DIR) + "/golden_actions.json";

at::Generator Gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// The students' fixture (tests/policy_fixtures.h): an image key (encoder path) and a low-dim key.
PolicySpec Spec() { return fixtures::StudentSpec(); }
Normalizer Norm() { return fixtures::StudentNormalizer(); }
ObsBatch Obs(int batch, int first) { return fixtures::StudentObservations(batch, first); }

// 8 rows from `first`; row i's actions are a ramp whose sign depends on i.
TrainBatch Batch(int first) {
  TrainBatch t;
  t.obs = Obs(8, first);
  for (int i = first; i < first + 8; ++i) {
    for (int k = 0; k < 16; ++k) t.actions.insert(t.actions.end(), {(i % 2 ? -1.0f : 1.0f) * (0.1f * k - 0.8f), 0.05f * (i % 5)});
  }
  return t;
}

// A tiny teacher after 3 AdamW steps (lr 1e-3) on fixed batches: weights and EMA off the init.
std::unique_ptr<Policy> Teacher(const std::string& name) {
  auto p = CreatePolicy(name, Spec(), PresetConfig(name, "tiny"), Norm(), 1);
  TorchPolicy& tp = AsTorchPolicy(*p);
  torch::optim::AdamW opt(tp.TrainableParameters(), torch::optim::AdamWOptions(1e-3));
  for (int step = 0; step < 3; ++step) {
    const torch::Tensor loss = tp.Loss(Batch(8 * step), Gen(100 + step), /*train=*/true);
    opt.zero_grad();
    loss.backward();
    opt.step();
    tp.AfterOptimizerStep(step);
  }
  return p;
}

// The tiny method config with learning rates large enough that 2 steps move the outputs far
// beyond the tolerance (the tiny preset keeps the paper's 1e-6 generator lr and CP's warm-up).
nlohmann::json MethodConfig(const std::string& method) {
  nlohmann::json c = DistillMethodConfig(method, "tiny");
  if (method == "cp") {
    c["lr"] = 1e-3;
    c["warmup_steps"] = 0;
  } else {
    c["lr_generator"] = 1e-4;
    c["lr_score"] = 1e-4;
  }
  return c;
}

ActionChunk Predict(Policy& p, const std::string& sampler) {
  SampleOptions so;
  if (sampler != "default") so.sampler = SamplerSpec::Parse(sampler);
  so.seeds = {7, 8, 9};
  so.full_horizon = true;
  return p.PredictChunk(Obs(3, 40), so);
}

double MaxDiff(const ActionChunk& a, const ActionChunk& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i) m = std::max(m, std::fabs(double(a.data[i]) - b.data[i]));
  return m;
}

class GoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    const char* u = std::getenv("GOLDEN_UPDATE");
    update_ = u != nullptr && std::string(u) == "1";
    if (update_) return;
    std::ifstream in(kGoldenPath);
    ASSERT_TRUE(in.good()) << "missing " << kGoldenPath << " (regenerate: GOLDEN_UPDATE=1 build/tests/golden_test)";
    golden_ = nlohmann::json::parse(in);
  }

  void TearDown() override {
    if (!update_ || written_.empty()) return;
    nlohmann::json all = nlohmann::json::object();
    if (std::ifstream in(kGoldenPath); in.good()) all = nlohmann::json::parse(in, nullptr, false);
    if (!all.is_object()) all = nlohmann::json::object();
    for (const auto& [k, v] : written_.items()) all[k] = v;
    // One case per line: reviewable diffs.
    std::string text = "{\n";
    for (auto it = all.begin(); it != all.end(); ++it) {
      text += "  " + nlohmann::json(it.key()).dump() + ": " + it.value().dump() + (std::next(it) == all.end() ? "\n" : ",\n");
    }
    text += "}\n";
    const std::string tmp = kGoldenPath + ".tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, kGoldenPath);
    std::printf("[ golden   ] GOLDEN_UPDATE=1: wrote %zu cases to %s\n", written_.size(), kGoldenPath.c_str());
  }

  // Compares (or records) the chunk of `policy` under `sampler`, naming the case `prefix/sampler`.
  void Check(const std::string& prefix, Policy& policy, const std::string& sampler) {
    const std::string name = prefix + "/" + sampler;
    const ActionChunk a = Predict(policy, sampler);
    ASSERT_EQ(a.data.size(), static_cast<size_t>(a.batch) * a.steps * a.dim) << name;
    ASSERT_EQ(a.steps, policy.spec().horizon) << name;
    if (update_) {
      std::vector<double> v;
      for (float x : a.data) v.push_back(std::stod(Format(x)));  // shortest text that round-trips
      written_[name] = {{"shape", {a.batch, a.steps, a.dim}}, {"values", v}};
      return;
    }
    ASSERT_TRUE(golden_.contains(name)) << "no golden for case " << name
                                        << " (regenerate: GOLDEN_UPDATE=1 build/tests/golden_test)";
    const auto shape = golden_[name].at("shape").get<std::vector<int>>();
    ASSERT_EQ(shape, (std::vector<int>{a.batch, a.steps, a.dim})) << "case " << name << ": shape";
    const auto want = golden_[name].at("values").get<std::vector<double>>();
    ASSERT_EQ(want.size(), a.data.size()) << name;
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      // The stored text round-trips the float exactly: identical outputs give 0.
      const double d = std::isfinite(a.data[i]) ? std::fabs(double(a.data[i]) - double(float(want[i]))) : INFINITY;
      if (d > worst) worst = d, at = i;
    }
    std::printf("[ golden   ] %-28s max |diff| %.3g\n", name.c_str(), worst);
    EXPECT_LE(worst, kTolerance) << "case " << name << ": largest deviation " << worst << " at (b "
                                 << at / (a.steps * a.dim) << ", t " << at / a.dim % a.steps << ", d " << at % a.dim
                                 << "): got " << a.data[at] << ", golden " << want[at] << " (tolerance " << kTolerance
                                 << ")";
  }

  void CheckAllSamplers(const std::string& prefix, Policy& policy) {
    for (const std::string& s : policy.Samplers()) Check(prefix, policy, s);
    Check(prefix, policy, "default");
  }

  // The student of `method` after 2 steps on a fixed batch; checks that the steps moved it.
  void CheckStudent(Policy& teacher, const std::string& method) {
    auto student = MakeStudent(teacher, method, MethodConfig(method), 3);
    const ActionChunk warm = Predict(*student, "default");
    DistillStudent& ds = AsDistillStudent(*student);
    ds.PrepareTraining(&AsDiffusionTeacher(teacher), 2);
    const TrainBatch batch = Batch(24);
    for (int64_t step = 0; step < 2; ++step) ds.Step(batch, Gen(200 + step), step, false);
    EXPECT_GT(MaxDiff(Predict(*student, "default"), warm), 10 * kTolerance) << method << ": the steps did not move it";
    CheckAllSamplers(method + "<-" + teacher.Name(), *student);
  }

  static std::string Format(float x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", x);
    return buf;
  }

  bool update_ = false;
  nlohmann::json golden_, written_ = nlohmann::json::object();
};

TEST_F(GoldenTest, DpDdpm) {
  auto p = Teacher("dp-ddpm");
  CheckAllSamplers("dp-ddpm", *p);
}

TEST_F(GoldenTest, DpEdm) {
  auto p = Teacher("dp-edm");
  CheckAllSamplers("dp-edm", *p);
}

TEST_F(GoldenTest, OneDpFromDpDdpm) {
  auto t = Teacher("dp-ddpm");
  CheckStudent(*t, "onedp-s");
  CheckStudent(*t, "onedp-d");
}

TEST_F(GoldenTest, OneDpFromDpEdm) {
  auto t = Teacher("dp-edm");
  CheckStudent(*t, "onedp-s");
  CheckStudent(*t, "onedp-d");
}

TEST_F(GoldenTest, CpFromDpEdm) {
  auto t = Teacher("dp-edm");
  CheckStudent(*t, "cp");
}

}  // namespace
}  // namespace onedp
