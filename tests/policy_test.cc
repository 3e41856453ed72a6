// Diffusion Policy behind the Policy interface: shapes, samplers, determinism, checkpoints, the
// training loop's resume, EMA and learning-rate schedules. Tiny networks, CPU, fixed seeds.
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "policies/registry.h"
#include "policies/run_log.h"
#include "policies/torch_policy.h"
#include "policies/trainer.h"
#include "tests/policy_fixtures.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

constexpr int kImage = fixtures::kTinyImage;
using fixtures::TinyNormalizer;
using fixtures::TinySpec;

std::unique_ptr<Policy> TinyPolicy(const std::string& name, uint64_t seed = 0) {
  return CreatePolicy(name, TinySpec(), PresetConfig(name, "tiny"), TinyNormalizer(), seed);
}

// Deterministic synthetic observations/actions: action = f(pos) so the task is learnable.
ObsBatch MakeObs(int batch, int salt) {
  ObsBatch o;
  o.batch = batch;
  o.steps = 2;
  auto& img = o.images["cam_image"];
  img.resize(static_cast<size_t>(batch) * 2 * kImage * kImage * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>((i * 7 + salt * 13) % 251);
  auto& pos = o.lowdim["pos"];
  for (int i = 0; i < batch * 2 * 3; ++i) pos.push_back(static_cast<float>(((i + salt) % 5) * 0.4));
  return o;
}

class SyntheticSource : public BatchSource {
 public:
  explicit SyntheticSource(int n) : n_(n) {}
  int64_t size() const override { return n_; }
  void Get(const std::vector<int64_t>& idx, TrainBatch* out) const override {
    out->obs = MakeObs(static_cast<int>(idx.size()), static_cast<int>(idx.empty() ? 0 : idx[0]));
    out->actions.clear();
    for (int64_t i : idx) {
      for (int t = 0; t < 16; ++t) {
        out->actions.insert(out->actions.end(), {static_cast<float>(i % 3) - 1, 0.1f * t, 0.2f, -0.3f});
      }
    }
  }

 private:
  int n_;
};

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    dir_ = fs::temp_directory_path() / ("policy_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PolicyTest, PredictChunkShapeAndNfe) {
  auto p = TinyPolicy("dp-ddpm");
  EXPECT_EQ(p->Name(), "dp-ddpm");
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("ddim:10");
  so.seeds = {5, 6, 7};
  PredictTiming t;
  const ActionChunk c = p->PredictChunk(MakeObs(3, 0), so, &t);
  EXPECT_EQ(c.batch, 3);
  EXPECT_EQ(c.steps, 8);
  EXPECT_EQ(c.dim, 4);
  ASSERT_EQ(c.data.size(), 3u * 8 * 4);
  for (float v : c.data) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(t.nfe, 10);
  EXPECT_EQ(p->Nfe(SamplerSpec::Parse("ddpm:100")), 100);
  EXPECT_EQ(p->Nfe(SamplerSpec::Parse("ddim:1")), 1);
  auto e = TinyPolicy("dp-edm");
  EXPECT_EQ(e->Nfe(SamplerSpec::Parse("edm:18")), 35);
  EXPECT_EQ(e->Nfe(SamplerSpec::Parse("edm:10")), 19);
  EXPECT_EQ(e->Nfe(SamplerSpec::Parse("edm:1")), 1);
  so.sampler = SamplerSpec::Parse("edm:10");
  e->PredictChunk(MakeObs(3, 0), so, &t);
  EXPECT_EQ(t.nfe, 19);
}

TEST_F(PolicyTest, FullHorizonHoldsTheExecutedStepsInPlace) {
  auto p = TinyPolicy("dp-ddpm");
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("ddim:3");
  so.seeds = {5, 6};
  const ActionChunk executed = p->PredictChunk(MakeObs(2, 0), so);
  so.full_horizon = true;
  const ActionChunk full = p->PredictChunk(MakeObs(2, 0), so);
  const PolicySpec& spec = p->spec();
  ASSERT_EQ(full.steps, spec.horizon);
  ASSERT_EQ(executed.steps, spec.action_steps);
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < executed.steps; ++t) {
      for (int k = 0; k < full.dim; ++k) {
        EXPECT_EQ(full.at(b, spec.obs_steps - 1 + t)[k], executed.at(b, t)[k]) << b << " " << t << " " << k;
      }
    }
  }
}

TEST_F(PolicyTest, UnknownSamplerListsValidOnes) {
  auto p = TinyPolicy("dp-ddpm");
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("edm:10");
  try {
    p->PredictChunk(MakeObs(1, 0), so);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ddim:10"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SamplerSpec::Parse("ddim:x"), std::invalid_argument);
  EXPECT_THROW(PresetConfig("dp-ddpm", "huge"), std::invalid_argument);
  EXPECT_THROW(TinyPolicy("dp-nope"), std::invalid_argument);
}

TEST_F(PolicyTest, MissingObservationKeyIsAnError) {
  auto p = TinyPolicy("dp-ddpm");
  ObsBatch o = MakeObs(1, 0);
  o.lowdim.erase("pos");
  SampleOptions so;
  EXPECT_THROW(p->PredictChunk(o, so), std::invalid_argument);
}

TEST_F(PolicyTest, NoiseOfARowDoesNotDependOnTheBatch) {
  auto p = TinyPolicy("dp-ddpm");
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("ddpm:100");
  ObsBatch three = MakeObs(3, 0);
  so.seeds = {11, 12, 13};
  const ActionChunk a = p->PredictChunk(three, so);
  // Row 1 alone (same observation, same seed).
  ObsBatch one;
  one.batch = 1;
  one.steps = 2;
  const size_t img = 2 * kImage * kImage * 3;
  one.images["cam_image"].assign(three.images["cam_image"].begin() + img, three.images["cam_image"].begin() + 2 * img);
  one.lowdim["pos"].assign(three.lowdim["pos"].begin() + 6, three.lowdim["pos"].begin() + 12);
  so.seeds = {12};
  const ActionChunk b = p->PredictChunk(one, so);
  for (int t = 0; t < 8; ++t) {
    for (int d = 0; d < 4; ++d) EXPECT_NEAR(a.at(1, t)[d], b.at(0, t)[d], 1e-4);
  }
  // Same seeds, same numbers; other seeds, other numbers.
  so.seeds = {12};
  EXPECT_EQ(p->PredictChunk(one, so).data, b.data);
  so.seeds = {99};
  EXPECT_NE(p->PredictChunk(one, so).data, b.data);
}

TEST_F(PolicyTest, SaveLoadGivesIdenticalOutputs) {
  for (const std::string name : {"dp-ddpm", "dp-edm"}) {
    auto p = TinyPolicy(name, 3);
    // Move the EMA weights away from the initial copy so that the test sees them saved.
    SyntheticSource src(16);
    TrainConfig tc;
    tc.epochs = 1;
    tc.batch_size = 4;
    tc.max_batches_per_epoch = 2;
    tc.warmup_steps = 1;
    tc.valid_batches = 0;
    Train(*p, src, nullptr, tc, (dir_ / (name + "_run")).string());
    SavePolicy(*p, (dir_ / name).string());
    auto q = LoadPolicy((dir_ / name).string());
    EXPECT_EQ(q->Name(), name);
    EXPECT_EQ(q->Config(), p->Config());
    SampleOptions so;
    so.seeds = {4, 5};
    EXPECT_EQ(p->PredictChunk(MakeObs(2, 1), so).data, q->PredictChunk(MakeObs(2, 1), so).data) << name;
    EXPECT_EQ(AsTorchPolicy(*q).ema_steps(), 2);
  }
  EXPECT_THROW(LoadPolicy((dir_ / "absent").string()), std::invalid_argument);
}

TEST_F(PolicyTest, ResumeFollowsTheUninterruptedLossTrajectory) {
  SyntheticSource train(24), valid(8);
  TrainConfig tc;
  tc.epochs = 3;
  tc.batch_size = 8;
  tc.warmup_steps = 2;
  tc.checkpoint_every = 1;
  tc.valid_batches = 1;
  tc.seed = 7;

  auto full = TinyPolicy("dp-ddpm", 1);
  const TrainResult a = Train(*full, train, &valid, tc, (dir_ / "full").string());
  ASSERT_EQ(a.history.size(), 3u);
  EXPECT_EQ(a.history.back().step, 9);

  // Stop right after epoch 1 (its checkpoint is written), then resume in a fresh policy object.
  auto first = TinyPolicy("dp-ddpm", 1);
  TrainCallbacks cb;
  int64_t steps = 0;
  std::vector<int64_t> starts;  // on_start's first_step, then -1 at the first on_step after it
  cb.on_start = [&](int64_t s, int64_t total) {
    EXPECT_EQ(total, 9);
    starts.push_back(s);
  };
  cb.on_step = [&](int64_t s, int64_t, double) {
    if (starts.empty() || starts.back() >= 0) starts.push_back(-1);
    steps = s;
  };
  cb.should_stop = [&] { return steps >= 3; };
  const TrainResult b1 = Train(*first, train, &valid, tc, (dir_ / "split").string(), cb);
  EXPECT_TRUE(b1.stopped);
  ASSERT_EQ(b1.history.size(), 1u);
  auto second = TinyPolicy("dp-ddpm", 1);
  TrainCallbacks resume_cb;
  resume_cb.on_start = cb.on_start;
  resume_cb.on_step = [&](int64_t s, int64_t, double) {
    if (starts.back() >= 0) starts.push_back(-1);
    EXPECT_GT(s, 3);
  };
  const TrainResult b2 = Train(*second, train, &valid, tc, (dir_ / "split").string(), resume_cb);
  EXPECT_EQ(b2.resumed_from_epoch, 1);
  // Progress rates count from on_start: before any step, with the steps a checkpoint already held
  // (0 fresh, epoch 1's 3 resumed).
  EXPECT_EQ(starts, (std::vector<int64_t>{0, -1, 3, -1}));
  ASSERT_EQ(b2.history.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_DOUBLE_EQ(b2.history[e].train_loss, a.history[e].train_loss) << "epoch " << e + 1;
    EXPECT_DOUBLE_EQ(b2.history[e].valid_loss, a.history[e].valid_loss) << "epoch " << e + 1;
  }
  SampleOptions so;
  so.seeds = {1};
  EXPECT_EQ(full->PredictChunk(MakeObs(1, 0), so).data, second->PredictChunk(MakeObs(1, 0), so).data);
  EXPECT_TRUE(fs::exists(dir_ / "full" / "train_log.csv"));

  // A different train config in the same directory is refused, not silently mixed.
  TrainConfig other = tc;
  other.lr = 3e-4;
  auto third = TinyPolicy("dp-ddpm", 1);
  EXPECT_THROW(Train(*third, train, &valid, other, (dir_ / "split").string()), std::invalid_argument);
}

TEST_F(PolicyTest, TrainingLowersTheLoss) {
  SyntheticSource train(32);
  TrainConfig tc;
  tc.epochs = 40;
  tc.batch_size = 16;
  tc.lr = 3e-3;
  tc.warmup_steps = 2;
  tc.checkpoint_every = 100;
  tc.valid_batches = 0;
  auto p = TinyPolicy("dp-ddpm", 2);
  const TrainResult r = Train(*p, train, nullptr, tc, (dir_ / "run").string());
  ASSERT_EQ(r.history.size(), 40u);
  EXPECT_LT(r.history.back().train_loss, 0.7 * r.history.front().train_loss)
      << r.history.front().train_loss << " -> " << r.history.back().train_loss;
  // Every epoch records the CPU time of its batches next to the wall time, and the checkpoint's
  // history keeps it.
  double cpu = 0;
  for (const auto& e : r.history) cpu += e.cpu_seconds;
  EXPECT_GT(cpu, 0.0);
  const std::vector<EpochRecord> back = HistoryFromJson(HistoryToJson(r.history));
  ASSERT_EQ(back.size(), r.history.size());
  EXPECT_EQ(back.back().cpu_seconds, r.history.back().cpu_seconds);
  std::ifstream log(dir_ / "run" / "train_log.csv");
  std::string header;
  std::getline(log, header);
  EXPECT_NE(header.find(",lr,seconds,cpu_seconds"), std::string::npos) << header;
}

TEST(EmaDecayTest, MatchesDiffusionPolicyEmaModel) {
  EXPECT_EQ(EmaDecay(0), 0.0);
  EXPECT_EQ(EmaDecay(1), 0.0);
  EXPECT_NEAR(EmaDecay(2), 1.0 - std::pow(2.0, -0.75), 1e-12);
  EXPECT_NEAR(EmaDecay(10001), 1.0 - std::pow(10001.0, -0.75), 1e-12);  // ~0.999
  EXPECT_EQ(EmaDecay(100000000), 0.9999);
}

TEST(CosineWarmupLrTest, WarmupThenCosine) {
  EXPECT_EQ(CosineWarmupLr(1e-4, 0, 500, 10500), 0.0);
  EXPECT_NEAR(CosineWarmupLr(1e-4, 250, 500, 10500), 5e-5, 1e-15);
  EXPECT_NEAR(CosineWarmupLr(1e-4, 500, 500, 10500), 1e-4, 1e-15);
  EXPECT_NEAR(CosineWarmupLr(1e-4, 5500, 500, 10500), 5e-5, 1e-12);
  EXPECT_NEAR(CosineWarmupLr(1e-4, 10500, 500, 10500), 0.0, 1e-15);
}

}  // namespace
}  // namespace onedp
