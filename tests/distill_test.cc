// Distillation (policies/distill.h): OneDP's warm start and generator step, a 2-D two-mode toy
// for OneDP-S / OneDP-D mode coverage, Consistency Policy's boundary condition and warm start,
// NaN handling and bit-exact resume of the distillation loop. Tiny networks, CPU, fixed seeds.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "policies/consistency_policy.h"
#include "policies/diffusion_policy.h"
#include "policies/distill.h"
#include "policies/onedp_policy.h"
#include "policies/registry.h"
#include "policies/torch_policy.h"
#include "tests/policy_fixtures.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

at::Generator Gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

using fixtures::StudentNormalizer;
using fixtures::StudentSpec;
ObsBatch Observations(int batch, int64_t first) { return fixtures::StudentObservations(batch, first); }

// Sequence i: observations from i, actions = a ramp whose sign depends on i.
class RampSource : public BatchSource {
 public:
  explicit RampSource(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  void Get(const std::vector<int64_t>& idx, TrainBatch* out) const override {
    out->obs = Observations(0, 0);
    out->obs.batch = static_cast<int>(idx.size());
    out->actions.clear();
    for (int64_t i : idx) {
      const ObsBatch one = Observations(1, i);
      auto& img = out->obs.images["wrist_image"];
      img.insert(img.end(), one.images.at("wrist_image").begin(), one.images.at("wrist_image").end());
      auto& st = out->obs.lowdim["state"];
      st.insert(st.end(), one.lowdim.at("state").begin(), one.lowdim.at("state").end());
      for (int t = 0; t < 16; ++t) {
        const float sign = i % 2 == 0 ? 1.0f : -1.0f;
        out->actions.push_back(sign * (0.1f * t - 0.8f));
        out->actions.push_back(0.05f * static_cast<float>(i % 5));
      }
    }
  }

 private:
  int64_t n_;
};

std::unique_ptr<Policy> Teacher(const std::string& name, uint64_t seed = 1) {
  return CreatePolicy(name, StudentSpec(), PresetConfig(name, "tiny"), StudentNormalizer(), seed);
}

class DistillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    dir_ = fs::temp_directory_path() / ("distill_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// ---- OneDP ---------------------------------------------------------------------------------

TEST_F(DistillTest, OneDpWarmStartIsTheTeachersX0EstimateAtTInit) {
  torch::NoGradGuard no_grad;
  const ObsBatch obs = Observations(3, 7);
  const torch::Tensor unit = torch::randn({3, 16, 2}, Gen(11));
  for (const std::string teacher_name : {"dp-ddpm", "dp-edm"}) {
    auto teacher = Teacher(teacher_name);
    DiffusionTeacher& t = AsDiffusionTeacher(*teacher);
    DpNets phi = t.ema_nets();
    phi->eval();
    const torch::Tensor cond = EncodeObs(*phi->encoder, obs, teacher->spec(), t.normalizer(), torch::kCPU, c10::nullopt);
    for (const std::string method : {"onedp-s", "onedp-d"}) {
      auto student = MakeStudent(*teacher, method, DistillMethodConfig(method, "tiny"), 5);
      auto& s = dynamic_cast<OneDpStudent&>(*student);
      const torch::Tensor got = s.GenerateNormalized(obs, unit);
      torch::Tensor want;
      if (teacher_name == "dp-ddpm") {
        const torch::Tensor z = method == "onedp-s" ? unit : torch::zeros_like(unit);
        const double ab = t.schedule().alphas_cumprod[65];
        const torch::Tensor eps = phi->unet->forward(z, torch::full({3}, 65.0), cond);
        want = (z - std::sqrt(1 - ab) * eps) / std::sqrt(ab);
      } else {
        const torch::Tensor z = method == "onedp-s" ? 2.5 * unit : torch::zeros_like(unit);
        want = EdmDenoise([&](const torch::Tensor& x_in, const torch::Tensor& c) { return phi->unet->forward(x_in, c, cond); },
                          z, torch::full({3}, 2.5), t.edm());
      }
      EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5)) << teacher_name << " " << method << ": max diff "
                                                          << (got - want).abs().max().item<double>();
    }
  }
}

TEST_F(DistillTest, OneDpDGeneratorStepLowersTheRegressionGapOnAFixedBatch) {
  for (const std::string teacher_name : {"dp-ddpm", "dp-edm"}) {
    auto teacher = Teacher(teacher_name);
    nlohmann::json cfg = DistillMethodConfig("onedp-d", "tiny");
    cfg["lr_generator"] = 1e-4;
    auto student = MakeStudent(*teacher, "onedp-d", cfg, 0);
    DistillStudent& ds = AsDistillStudent(*student);
    ds.PrepareTraining(&AsDiffusionTeacher(*teacher), 10);
    RampSource src(8);
    TrainBatch batch;
    src.Get({0, 1, 2, 3, 4, 5, 6, 7}, &batch);
    // The same random draws (crops, k, eps) twice: the second step's gap is measured after the
    // first update. OneDP-D's gap is a^2 |A - x0_phi(A^k)|^2, a regression residual.
    const double before = ds.Step(batch, Gen(3), 0, false).at("gap");
    const double after = ds.Step(batch, Gen(3), 1, false).at("gap");
    std::printf("[ stats    ] %s onedp-d gap %.6g -> %.6g\n", teacher_name.c_str(), before, after);
    EXPECT_LT(after, before) << teacher_name;
  }
}

// 2-D toy: p(x0) = 0.5 N((-0.5, -0.5), 0.05^2 I) + 0.5 N((0.5, 0.5), 0.05^2 I). A small MLP eps
// model is trained as the DDPM teacher, then OneDP-S and OneDP-D distil it with the same
// OneDpMath the policy uses (networks as callables, no observations).
struct ToyNetImpl : torch::nn::Module {
  ToyNetImpl() {
    in = register_module("in", torch::nn::Linear(2 + 2 * kBands, 128));
    mid = register_module("mid", torch::nn::Linear(128, 128));
    out = register_module("out", torch::nn::Linear(128, 2));
  }
  // x (B, 2), k (B) DDPM timesteps.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& k) {
    const torch::Tensor tt = (k.to(torch::kFloat) / 99.0).reshape({-1, 1});
    const torch::Tensor bands = torch::arange(1, kBands + 1, x.options()).reshape({1, -1}) * M_PI;
    const torch::Tensor h = torch::cat({x, torch::sin(tt * bands), torch::cos(tt * bands)}, 1);
    return out->forward(torch::silu(mid->forward(torch::silu(in->forward(h)))));
  }
  static constexpr int kBands = 4;
  torch::nn::Linear in{nullptr}, mid{nullptr}, out{nullptr};
};
TORCH_MODULE(ToyNet);

torch::Tensor ToyData(int64_t n, at::Generator gen) {
  const torch::Tensor side = (torch::rand({n, 1}, gen) < 0.5).to(torch::kFloat) * 2 - 1;  // -1 or +1
  return 0.5 * side.expand({n, 2}) + 0.05 * torch::randn({n, 2}, gen);
}

LevelModel ToyModel(ToyNet& net) {
  return [net](const torch::Tensor& x, const torch::Tensor& k) mutable { return net->forward(x, k); };
}

struct Coverage {
  double low, high, near;  // shares within 0.2 (per coordinate) of each mode; near = low + high
};

Coverage ModeCoverage(const torch::Tensor& x) {
  const auto within = [&](double m) { return ((x - m).abs() < 0.2).all(1).to(torch::kDouble).mean().item<double>(); };
  Coverage c;
  c.low = within(-0.5);
  c.high = within(0.5);
  c.near = c.low + c.high;
  return c;
}

ToyNet TrainToyTeacher(const DdpmSchedule& sched) {
  torch::manual_seed(0);
  ToyNet net;
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(2e-3));
  at::Generator gen = Gen(21);
  for (int step = 0; step < 1000; ++step) {
    const torch::Tensor x0 = ToyData(256, gen);
    const torch::Tensor k = torch::randint(0, 100, {256}, gen, torch::TensorOptions().dtype(torch::kLong));
    const torch::Tensor eps = torch::randn({256, 2}, gen);
    const torch::Tensor loss = torch::mse_loss(net->forward(DdpmAddNoise(sched, x0, eps, k), k.to(torch::kFloat)), eps);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  net->eval();
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  return net;
}

ToyNet CopyToy(ToyNet& from) {
  ToyNet net;
  CopyModuleInto(*from, *net);
  for (auto& p : net->parameters()) p.set_requires_grad(true);
  return net;
}

TEST(OneDpToyTest, OneDpSKeepsBothModesAndOneDpDCollapses) {
  torch::set_num_threads(1);
  const DdpmSchedule sched = DdpmSchedule::SquaredCosCapV2();
  ToyNet phi = TrainToyTeacher(sched);
  OneDpOptions o;
  const OneDpMath math("ddpm", sched, EdmConfig(), o);
  const LevelModel phi_model = ToyModel(phi);
  const int64_t kBatch = 128, kSteps = 300;
  const auto adam = [](ToyNet& n, double lr) {
    return torch::optim::Adam(n->parameters(), torch::optim::AdamOptions(lr).betas({0.0, 0.999}));
  };
  // Distance of a point (2) to the nearer mode.
  const auto to_mode = [](const torch::Tensor& p) {
    return std::min((p - 0.5).norm().item<double>(), (p + 0.5).norm().item<double>());
  };
  torch::Tensor probe;
  double d_start = 0;
  {
    torch::NoGradGuard no_grad;
    probe = torch::randn({2000, 2}, Gen(99));
    const Coverage w = ModeCoverage(math.Generate(phi_model, probe).clamp(-1, 1));
    d_start = to_mode(math.Generate(phi_model, torch::zeros({1, 2}))[0]);
    std::printf("[ stats    ] warm start        low %.3f high %.3f; z = 0 output %.3f from a mode\n", w.low, w.high,
                d_start);
  }

  // OneDP-S: score network psi, then generator, 1:1.
  ToyNet theta = CopyToy(phi), psi = CopyToy(phi);
  auto opt_g = adam(theta, 3e-4), opt_s = adam(psi, 3e-3);
  const LevelModel theta_model = ToyModel(theta), psi_model = ToyModel(psi);
  at::Generator gen = Gen(5);
  for (int step = 0; step < kSteps; ++step) {
    torch::Tensor a;
    {
      torch::NoGradGuard no_grad;
      a = math.Generate(theta_model, math.ScaleNoise(torch::randn({kBatch, 2}, gen)));
    }
    const torch::Tensor ls = math.ScoreLoss(psi_model, a, gen);
    opt_s.zero_grad();
    ls.backward();
    opt_s.step();
    const torch::Tensor ag = math.Generate(theta_model, math.ScaleNoise(torch::randn({kBatch, 2}, gen)));
    const torch::Tensor lg = math.GeneratorLoss(phi_model, &psi_model, ag, gen).loss;
    opt_g.zero_grad();
    lg.backward();
    opt_g.step();
  }
  Coverage s;
  {
    torch::NoGradGuard no_grad;
    s = ModeCoverage(math.Generate(theta_model, probe).clamp(-1, 1));
  }
  std::printf("[ stats    ] onedp-s           low %.3f high %.3f\n", s.low, s.high);
  EXPECT_GT(s.near, 0.6);
  EXPECT_GT(s.low, 0.2);
  EXPECT_GT(s.high, 0.2);

  // OneDP-D: z = 0, a single deterministic output per observation.
  ToyNet theta_d = CopyToy(phi);
  const LevelModel d_model = ToyModel(theta_d);
  auto opt_d = adam(theta_d, 3e-4);
  for (int step = 0; step < kSteps; ++step) {
    const torch::Tensor ag = math.Generate(d_model, torch::zeros({kBatch, 2}));
    const torch::Tensor lg = math.GeneratorLoss(phi_model, nullptr, ag, gen).loss;
    opt_d.zero_grad();
    lg.backward();
    opt_d.step();
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor d = math.Generate(d_model, torch::zeros({2000, 2}));
  const Coverage dc = ModeCoverage(d.clamp(-1, 1));
  const double dist = to_mode(d[0]);
  std::printf("[ stats    ] onedp-d           low %.3f high %.3f, output (%.3f, %.3f), %.3f from a mode\n", dc.low,
              dc.high, d[0][0].item<double>(), d[0][1].item<double>(), dist);
  // Observed: one point (no noise input), so at most one mode is covered, and it moves from the
  // warm start's in-between point towards a mode (mode seeking).
  EXPECT_LT(d.std(0).max().item<double>(), 1e-6);
  EXPECT_LT(std::min(dc.low, dc.high), 1e-9);
  EXPECT_LT(dist, d_start - 0.05);
}

// ---- Consistency Policy --------------------------------------------------------------------

TEST_F(DistillTest, CpJumpBoundaryConditionAndChainSigmas) {
  const CpMath math{EdmConfig(), CpOptions()};
  const CtmNet f = [](const torch::Tensor& x, const torch::Tensor& ct, const torch::Tensor& cs) {
    return torch::sin(3 * x) + 0.01 * ct.reshape({-1, 1, 1}) - 0.02 * cs.reshape({-1, 1, 1});
  };
  const torch::Tensor x = torch::randn({4, 16, 2}, Gen(1));
  const torch::Tensor s = torch::tensor({0.02f, 0.5f, 12.0f, 80.0f});
  EXPECT_TRUE(torch::allclose(math.Jump(f, x, s, s), x, 0, 1e-6));
  EXPECT_NEAR(math.Sigma(0), 80.0, 1e-9);
  EXPECT_NEAR(math.Sigma(79), 0.02, 1e-9);
  EXPECT_NEAR(math.Sigma(80), 0.02, 1e-9);
  const auto chain = math.ChainSigmas();
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_NEAR(chain[0], 12.01, 0.01);
  EXPECT_NEAR(chain[1], 0.885, 0.001);
  CpOptions literal;
  literal.chain_literal_sigmas = true;
  EXPECT_EQ(CpMath(EdmConfig(), literal).ChainSigmas(), (std::vector<double>{27.0, 54.0}));
}

TEST_F(DistillTest, CpStudentAtInitIsTheTeachersDenoiserForAnyS) {
  auto teacher = Teacher("dp-edm", 4);
  EXPECT_THROW(MakeStudent(*Teacher("dp-ddpm"), "cp", DistillMethodConfig("cp", "tiny"), 0), std::invalid_argument);
  auto student = MakeStudent(*teacher, "cp", DistillMethodConfig("cp", "tiny"), 0);
  auto& cp = dynamic_cast<CpStudent&>(*student);
  DiffusionTeacher& t = AsDiffusionTeacher(*teacher);
  torch::NoGradGuard no_grad;
  DpNets phi = t.ema_nets();
  phi->eval();
  const ObsBatch obs = Observations(3, 2);
  const torch::Tensor cond = EncodeObs(*phi->encoder, obs, teacher->spec(), t.normalizer(), torch::kCPU, c10::nullopt);
  const torch::Tensor x = torch::randn({3, 16, 2}, Gen(8));
  const torch::Tensor sig_t = torch::tensor({0.3f, 4.0f, 60.0f});
  const torch::Tensor want = EdmDenoise(
      [&](const torch::Tensor& x_in, const torch::Tensor& c) { return phi->unet->forward(x_in, c, cond); }, x, sig_t, t.edm());
  for (const float s : {0.02f, 0.25f, 3.0f}) {
    const torch::Tensor got = cp.StudentDenoise(obs, x, sig_t, torch::full({3}, s));
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5)) << "s " << s << ": " << (got - want).abs().max().item<double>();
  }
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("cp:3");
  EXPECT_EQ(student->Nfe(so.sampler), 3);
  EXPECT_EQ(student->Nfe(SamplerSpec::Parse("cp:1")), 1);
  const ActionChunk a = student->PredictChunk(obs, so);
  EXPECT_EQ(a.batch, 3);
  EXPECT_EQ(a.steps, 8);
  EXPECT_THROW(student->Nfe(SamplerSpec::Parse("edm:10")), std::invalid_argument);
}

// ---- The loop: NaN, resume, save/load ----------------------------------------------------

DistillConfig TinyLoop(const std::string& method) {
  int every = 0;
  DistillConfig c = DistillPresetConfig("tiny", &every);
  c.method = method;
  c.seed = 3;
  return c;
}

TEST_F(DistillTest, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  for (const std::string method : {"onedp-s", "cp"}) {
    auto teacher = Teacher(method == "cp" ? "dp-edm" : "dp-ddpm");
    RampSource src(40);
    DistillConfig c = TinyLoop(method);
    c.nan_at_step = 4;  // epoch 2, batch 1 (3 batches per epoch)
    const std::string out = (dir_ / method).string();
    try {
      Distill(*teacher, DistillMethodConfig(method, "tiny"), src, c, out);
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("non-finite loss at epoch 2 batch 1"), std::string::npos) << what;
      EXPECT_NE(what.find("last good checkpoint in " + out + "/checkpoint is kept"), std::string::npos) << what;
    }
    nlohmann::json state;
    std::ifstream(dir_ / method / "checkpoint" / "train_state.json") >> state;
    EXPECT_EQ(state.at("epoch"), 1) << method;
    auto loaded = LoadPolicy((dir_ / method / "checkpoint").string());
    EXPECT_EQ(loaded->Name(), method);
    SampleOptions so;
    const ActionChunk a = loaded->PredictChunk(Observations(2, 0), so);
    for (float v : a.data) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST_F(DistillTest, ResumedRunFollowsTheUninterruptedOne) {
  for (const std::string method : {"onedp-s", "onedp-d", "cp"}) {
    auto teacher = Teacher(method == "onedp-d" ? "dp-edm" : (method == "cp" ? "dp-edm" : "dp-ddpm"));
    RampSource src(40);
    const DistillConfig c = TinyLoop(method);
    const nlohmann::json mc = DistillMethodConfig(method, "tiny");
    std::unique_ptr<Policy> full, resumed;
    const TrainResult a = Distill(*teacher, mc, src, c, (dir_ / (method + "_full")).string(), {}, &full);
    ASSERT_EQ(a.history.size(), 2u);

    TrainCallbacks cb;
    int64_t steps = 0;
    cb.on_step = [&](int64_t s, int64_t, double) { steps = s; };
    cb.should_stop = [&] { return steps >= 3; };
    const std::string split = (dir_ / (method + "_split")).string();
    const TrainResult b1 = Distill(*teacher, mc, src, c, split, cb);
    EXPECT_TRUE(b1.stopped);
    ASSERT_EQ(b1.history.size(), 1u);
    // The resumed loop announces the steps its checkpoint held before its first step.
    TrainCallbacks resume_cb;
    int64_t first_step = -1;
    resume_cb.on_start = [&](int64_t s, int64_t) { first_step = s; };
    resume_cb.on_step = [&](int64_t, int64_t, double) { EXPECT_EQ(first_step, a.history[0].step) << method; };
    const TrainResult b2 = Distill(*teacher, mc, src, c, split, resume_cb, &resumed);
    EXPECT_EQ(b2.resumed_from_epoch, 1);
    EXPECT_EQ(first_step, a.history[0].step) << method;
    ASSERT_EQ(b2.history.size(), 2u);
    for (size_t e = 0; e < 2; ++e) {
      EXPECT_DOUBLE_EQ(b2.history[e].train_loss, a.history[e].train_loss) << method << " epoch " << e + 1;
      EXPECT_EQ(b2.history[e].losses, a.history[e].losses) << method;
    }
    SampleOptions so;
    so.seeds = {4};
    EXPECT_EQ(full->PredictChunk(Observations(2, 1), so).data, resumed->PredictChunk(Observations(2, 1), so).data)
        << method;
    std::ifstream log(split + "/train_log.csv");
    std::string header;
    std::getline(log, header);
    EXPECT_EQ(header.rfind("epoch,step,train_loss,valid_loss,", 0), 0u) << header;
    EXPECT_NE(header.find(",lr,seconds"), std::string::npos) << header;
    // Another loop config in the same directory is refused.
    DistillConfig other = c;
    other.batch_size = 4;
    EXPECT_THROW(Distill(*teacher, mc, src, other, split), std::invalid_argument);
    // The saved student loads by name and samples like the one in memory.
    auto loaded = LoadPolicy(split + "/checkpoint");
    EXPECT_EQ(loaded->PredictChunk(Observations(2, 1), so).data, resumed->PredictChunk(Observations(2, 1), so).data);
  }
}

TEST(DistillNamesTest, MethodsAndTeachers) {
  EXPECT_EQ(DistillMethods(), (std::vector<std::string>{"onedp-s", "onedp-d", "cp"}));
  try {
    CheckDistillMethod("onedp", "dp-ddpm");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("onedp-s, onedp-d, cp"), std::string::npos);
  }
  EXPECT_THROW(CheckDistillMethod("cp", "dp-ddpm"), std::invalid_argument);
  EXPECT_THROW(CheckDistillMethod("onedp-s", "cp"), std::invalid_argument);
  EXPECT_NO_THROW(CheckDistillMethod("onedp-d", "dp-edm"));
  EXPECT_THROW(PresetConfig("onedp-s", "tiny"), std::invalid_argument);
}

// The generator lr: the paper's 1e-6 at the paper preset, 1e-5 for the cpu preset's short runs;
// the score network's 2e-5 at both.
TEST(DistillNamesTest, PresetLearningRates) {
  for (const std::string method : {"onedp-s", "onedp-d"}) {
    EXPECT_DOUBLE_EQ(DistillMethodConfig(method, "paper").at("lr_generator").get<double>(), 1e-6);
    EXPECT_DOUBLE_EQ(DistillMethodConfig(method, "cpu").at("lr_generator").get<double>(), 1e-5);
    EXPECT_DOUBLE_EQ(DistillMethodConfig(method, "cpu").at("lr_score").get<double>(), 2e-5);
  }
}

// ---- OneDP study options (noise scale, level sampling, score-network schedule) -------------

TEST(OneDpOptionsTest, RejectsBadStudyOptionsNamingTheValidValues) {
  OneDpOptions o;
  o.level_sampling = "loguniform";
  try {
    o.Validate();
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("uniform, edm-lognormal"), std::string::npos) << e.what();
  }
  o = OneDpOptions();
  o.noise_scale = -0.5;
  EXPECT_THROW(o.Validate(), std::invalid_argument);
  o = OneDpOptions();
  o.score_steps_per_generator_step = 0;
  EXPECT_THROW(o.Validate(), std::invalid_argument);
  o = OneDpOptions();
  o.score_warmup_steps = -1;
  EXPECT_THROW(o.Validate(), std::invalid_argument);
  // The defaults are the paper's and round-trip through JSON.
  const OneDpOptions d = OneDpOptions::FromJson(OneDpOptions().ToJson());
  EXPECT_EQ(d.noise_scale, 1.0);
  EXPECT_EQ(d.level_sampling, "uniform");
  EXPECT_EQ(d.score_warmup_steps, 0);
  EXPECT_EQ(d.score_steps_per_generator_step, 1);
  EXPECT_FALSE(d.clip_x0);
}

// clip_x0: the teacher's x0 reading enters OneDP-D's gradient clamped to [-1, 1]. With a teacher
// whose eps is 0 the DDPM x0 reading is x_k / a_k, far outside [-1, 1] for a sample at 5.
TEST(OneDpOptionsTest, ClipX0ClampsTheTeachersReadingInTheGradient) {
  const DdpmSchedule sched = DdpmSchedule::SquaredCosCapV2(100);
  const LevelModel zero = [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); };
  const torch::Tensor a_sample = torch::full({4, 2}, 5.0);
  OneDpOptions o;
  o.k_min = o.k_max = 50;
  const OneDpMath plain("ddpm", sched, EdmConfig(), o);
  o.clip_x0 = true;
  const OneDpMath clipped("ddpm", sched, EdmConfig(), o);
  // Same generator draws: g = a (A - x0_phi); x0_phi = (a 5 + s eps) / a unclamped, 1 clamped.
  const auto gap = [&](const OneDpMath& m) { return m.GeneratorLoss(zero, nullptr, a_sample, Gen(4)).gap.item<double>(); };
  const double ab = sched.alphas_cumprod[50];
  EXPECT_NEAR(gap(clipped), ab * 16.0, 1e-4);  // (a (5 - 1))^2
  EXPECT_GT(std::abs(gap(plain) - gap(clipped)), 0.1);
}

TEST(OneDpOptionsTest, NoiseScaleMultipliesTheGeneratorInput) {
  OneDpOptions o;
  o.noise_scale = 0.25;
  const torch::Tensor z = torch::ones({2, 3});
  const OneDpMath ddpm("ddpm", DdpmSchedule::SquaredCosCapV2(100), EdmConfig(), o);
  const OneDpMath edm("edm", DdpmSchedule::SquaredCosCapV2(100), EdmConfig(), o);
  EXPECT_FLOAT_EQ(ddpm.ScaleNoise(z).max().item<float>(), 0.25f);
  EXPECT_FLOAT_EQ(edm.ScaleNoise(z).max().item<float>(), 0.625f);  // 0.25 * sigma_init 2.5
}

TEST(OneDpOptionsTest, GeneratorStepScheduleAfterTheScoreWarmUp) {
  OneDpOptions o;
  o.score_warmup_steps = 3;
  o.score_steps_per_generator_step = 2;
  const OneDpMath m("ddpm", DdpmSchedule::SquaredCosCapV2(100), EdmConfig(), o);
  std::string steps;
  for (int64_t i = 0; i < 10; ++i) steps += m.GeneratorSteps(i) ? 'G' : '.';
  EXPECT_EQ(steps, "....G.G.G.");
  const OneDpMath d("ddpm", DdpmSchedule::SquaredCosCapV2(100), EdmConfig(), OneDpOptions());
  for (int64_t i = 0; i < 5; ++i) EXPECT_TRUE(d.GeneratorSteps(i));
}

// DDPM levels drawn so that sigma_k = sqrt((1 - abar_k) / abar_k) follows EDM's training
// log-normal (ln sigma ~ N(-1.2, 1.2^2)): the median sigma lands near exp(-1.2) and far more of the
// weight sits below sigma 0.1 than with k ~ U{2..95}.
TEST(OneDpOptionsTest, LogNormalLevelSamplingFollowsEdmsSigmaDistribution) {
  const DdpmSchedule sched = DdpmSchedule::SquaredCosCapV2(100);
  const auto sigmas = [&](const std::string& sampling) {
    OneDpOptions o;
    o.level_sampling = sampling;
    const OneDpMath m("ddpm", sched, EdmConfig(), o);
    const OneDpMath::Levels l = m.SampleLevels(20000, Gen(5), torch::kCPU);
    EXPECT_GE(l.level.min().item<float>(), 2.0f);
    EXPECT_LE(l.level.max().item<float>(), 95.0f);
    return std::get<0>((l.s / l.a).sort());  // sigma_k of each row, sorted
  };
  const torch::Tensor uni = sigmas("uniform"), logn = sigmas("edm-lognormal");
  const auto below = [](const torch::Tensor& s, double v) { return (s < v).to(torch::kDouble).mean().item<double>(); };
  const double median = logn[10000].item<double>();
  std::printf("[ stats    ] median sigma %.3f; below 0.1: uniform %.3f, edm-lognormal %.3f\n", median,
              below(uni, 0.1), below(logn, 0.1));
  EXPECT_NEAR(std::log(median), -1.2, 0.15);
  EXPECT_LT(below(uni, 0.1), 0.10);
  EXPECT_GT(below(logn, 0.1), 0.15);
}

// With a score-network warm-up, the first steps leave the generator exactly at its warm start
// while the score network moves; the first step after it moves the generator.
TEST_F(DistillTest, ScoreWarmUpStepsTrainOnlyTheScoreNetwork) {
  auto teacher = Teacher("dp-ddpm");
  nlohmann::json cfg = DistillMethodConfig("onedp-s", "tiny");
  cfg["score_warmup_steps"] = 2;
  auto student = MakeStudent(*teacher, "onedp-s", cfg, 0);
  DistillStudent& ds = AsDistillStudent(*student);
  ds.PrepareTraining(&AsDiffusionTeacher(*teacher), 10);
  RampSource src(8);
  TrainBatch batch;
  src.Get({0, 1, 2, 3, 4, 5, 6, 7}, &batch);
  auto& s = dynamic_cast<OneDpStudent&>(*student);
  const torch::Tensor unit = torch::randn({8, 16, 2}, Gen(9));
  const torch::Tensor a0 = s.GenerateNormalized(batch.obs, unit);
  for (int64_t step = 0; step < 2; ++step) {
    const auto losses = ds.Step(batch, Gen(20 + step), step, false);
    EXPECT_EQ(losses.count("loss"), 0u) << "step " << step;
    EXPECT_EQ(losses.count("score_loss"), 1u);
  }
  EXPECT_TRUE(torch::equal(s.GenerateNormalized(batch.obs, unit), a0));
  const auto losses = ds.Step(batch, Gen(22), 2, false);
  EXPECT_EQ(losses.count("loss"), 1u);
  EXPECT_FALSE(torch::equal(s.GenerateNormalized(batch.obs, unit), a0));
}

// Creating a policy (teacher or student) neither depends on nor changes the global RNG: every
// constructor initialises its networks through InitWithSeed (torch_policy.h), which seeds the
// default CPU generator from the policy seed and restores its state afterwards.
TEST(InitWithSeedTest, CreatingPoliciesLeavesTheGlobalRngUntouched) {
  torch::manual_seed(123);
  const torch::Tensor u = torch::rand({8});
  const torch::Tensor n = torch::randn({3});  // the generator's cached normal sample too
  torch::manual_seed(123);
  for (const std::string teacher_name : {"dp-ddpm", "dp-edm"}) {
    auto teacher = Teacher(teacher_name);
    for (const std::string method : {"onedp-s", "onedp-d"}) {
      MakeStudent(*teacher, method, DistillMethodConfig(method, "tiny"), 4);
    }
    if (teacher_name == "dp-edm") MakeStudent(*teacher, "cp", DistillMethodConfig("cp", "tiny"), 4);
  }
  EXPECT_TRUE(torch::equal(torch::rand({8}), u));
  EXPECT_TRUE(torch::equal(torch::randn({3}), n));

  // The initial weights depend on the policy seed alone, not on the global RNG state.
  torch::manual_seed(7);
  auto a = Teacher("dp-ddpm", 3);
  torch::manual_seed(8);
  (void)torch::rand({5});
  auto b = Teacher("dp-ddpm", 3);
  const auto pa = AsTorchPolicy(*a).TrainableParameters(), pb = AsTorchPolicy(*b).TrainableParameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

}  // namespace
}  // namespace onedp
