// The batched rollout engine (harness/rollout.h) with a fake policy on PushT: seed order,
// independence from num_envs/workers, batch sizes, observation histories (replayed on a separate
// task), per-episode noise seeds, keys, episode errors, CSV output and interrupts; and the latency
// model (harness/latency.h): parsing, the delay formula, latency none == today, held (sync) and
// skipped (async) steps per chunk, histories under a delay, boundary jumps.
#include "harness/rollout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/collect.h"
#include "harness/latency.h"
#include "harness/rollout_timeline.h"
#include "policies/policy.h"
#include "tasks/task_registry.h"
#include "tasks/transport/transport.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

PolicyObsKey LowDim(const std::string& key, int d) {
  PolicyObsKey k;
  k.key = key;
  k.shape = {d};
  return k;
}

PolicyObsKey ImageKey(const std::string& key, int h, int w) {
  PolicyObsKey k;
  k.key = key;
  k.is_image = true;
  k.shape = {h, w, 3};
  return k;
}

PolicySpec PushTSpec(int to, int ta, bool image = false) {
  PolicySpec s;
  s.obs = {LowDim("agent_pos", 2), LowDim("keypoints", 20)};
  if (image) s.obs.insert(s.obs.begin(), ImageKey("image", 96, 96));
  s.action_dim = 2;
  s.obs_steps = to;
  s.horizon = 16;
  s.action_steps = ta;
  s.crop = 84;
  return s;
}

// Targets the pusher at its latest position plus an offset drawn from the row's noise seed, so
// actions depend on the observation history and on the per-row seed only. Records every call.
class FakePolicy : public Policy {
 public:
  struct Call {
    ObsBatch obs;
    std::vector<uint64_t> seeds;
    ActionChunk chunk;
  };

  explicit FakePolicy(PolicySpec spec) : spec_(std::move(spec)) {}

  std::string Name() const override { return "fake"; }
  const PolicySpec& spec() const override { return spec_; }
  nlohmann::json Config() const override { return nlohmann::json::object(); }
  std::vector<std::string> Samplers() const override { return {"fake:1"}; }
  int Nfe(const SamplerSpec&) const override { return nfe; }
  std::map<std::string, int64_t> ParameterCounts() const override { return {}; }
  void To(const std::string&) override {}
  std::string device() const override { return "cpu"; }

  ActionChunk PredictChunk(const ObsBatch& obs, const SampleOptions& options,
                           PredictTiming*) override {
    ActionChunk c;
    c.batch = obs.batch;
    c.steps = spec_.action_steps;
    c.dim = 2;
    const int to = spec_.obs_steps;
    const std::vector<float>& agent = obs.lowdim.at("agent_pos");
    for (int b = 0; b < obs.batch; ++b) {
      const uint64_t seed = options.seeds.at(b);
      const float x = agent.at((b * to + to - 1) * 2), y = agent.at((b * to + to - 1) * 2 + 1);
      for (int t = 0; t < c.steps; ++t) {
        const float dx = static_cast<float>((seed >> (t % 8 * 8)) % 61) - 30;
        const float dy = static_cast<float>((seed >> (t % 8 * 8 + 4)) % 61) - 30;
        const bool poison = seed == nan_seed;
        c.data.push_back(poison ? std::numeric_limits<float>::quiet_NaN() : x + dx * (t + 1));
        c.data.push_back(y + dy * (t + 1));
      }
    }
    calls.push_back({obs, options.seeds, c});
    return c;
  }

  std::vector<Call> calls;
  uint64_t nan_seed = 0;  // a noise seed whose rows get NaN actions
  int nfe = 1;            // what Nfe() reports (latency profiles turn it into milliseconds)

 private:
  PolicySpec spec_;
};

RolloutOptions Options(int episodes, int num_envs, int workers, int max_steps) {
  RolloutOptions o;
  o.episodes = episodes;
  o.start_seed = 100;
  o.num_envs = num_envs;
  o.workers = workers;
  o.max_steps = max_steps;
  return o;
}

void ExpectSameResults(const RolloutReport& a, const RolloutReport& b) {
  ASSERT_EQ(a.episodes.size(), b.episodes.size());
  for (size_t i = 0; i < a.episodes.size(); ++i) {
    EXPECT_EQ(a.episodes[i].seed, b.episodes[i].seed);
    EXPECT_EQ(a.episodes[i].success, b.episodes[i].success);
    EXPECT_EQ(a.episodes[i].score, b.episodes[i].score) << "episode " << i;
    EXPECT_EQ(a.episodes[i].steps, b.episodes[i].steps);
    EXPECT_EQ(a.episodes[i].error, b.episodes[i].error);
  }
  EXPECT_EQ(a.success_rate, b.success_rate);
  EXPECT_EQ(a.mean_score, b.mean_score);
}

TEST(RolloutTest, SeedOrderAndIndependentOfEnvsAndWorkers) {
  // 20 steps with Ta 8: chunks of 8, 8 and 4 executed steps, 3 PredictChunk calls per episode.
  FakePolicy p1(PushTSpec(2, 8)), p3(PushTSpec(2, 8)), p2(PushTSpec(2, 8));
  std::vector<std::pair<int, int>> progress;
  const RolloutReport r1 = RunRollouts(p1, "pusht", Options(3, 1, 1, 20), [&](int done, int total) {
    progress.push_back({done, total});
  });
  const RolloutReport r3 = RunRollouts(p3, "pusht", Options(3, 3, 3, 20));
  const RolloutReport r2 = RunRollouts(p2, "pusht", Options(3, 2, 2, 20));

  ASSERT_EQ(r1.episodes.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r1.episodes[i].seed, 100u + i);
    EXPECT_EQ(r1.episodes[i].steps, 20);
    EXPECT_EQ(r1.episodes[i].error, "");
    EXPECT_GE(r1.episodes[i].score, 0.0);
    EXPECT_LE(r1.episodes[i].score, 1.0);
  }
  // Different seeds start from different states.
  EXPECT_NE(r1.episodes[0].score, r1.episodes[1].score);
  ExpectSameResults(r1, r3);
  ExpectSameResults(r1, r2);

  EXPECT_EQ(r1.predict_batch, (std::vector<int>{1, 1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(r3.predict_batch, (std::vector<int>{3, 3, 3}));
  EXPECT_EQ(r2.predict_batch, (std::vector<int>{2, 2, 2, 1, 1, 1}));
  EXPECT_EQ(r1.predict_seconds.size(), 9u);
  EXPECT_EQ(progress, (std::vector<std::pair<int, int>>{{1, 3}, {2, 3}, {3, 3}}));
  EXPECT_GT(r1.wall_seconds, 0);

  // Noise seeds: call c of the single-env run is episode c / 3, chunk c % 3; in the 3-env run
  // row b of call c is episode b, chunk c.
  for (int c = 0; c < 9; ++c) {
    EXPECT_EQ(p1.calls[c].seeds, std::vector<uint64_t>{ChunkNoiseSeed(100 + c / 3, c % 3)});
  }
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(p3.calls[c].seeds,
              (std::vector<uint64_t>{ChunkNoiseSeed(100, c), ChunkNoiseSeed(101, c),
                                     ChunkNoiseSeed(102, c)}));
  }
  EXPECT_NE(ChunkNoiseSeed(100, 1), ChunkNoiseSeed(101, 0));
}

// Replays the actions the policy returned on a separate task and checks every history it saw:
// at reset the first observation To times, later the observations after the last To steps.
void CheckHistoriesByReplay(int to, int ta, int max_steps) {
  SCOPED_TRACE("To " + std::to_string(to) + " Ta " + std::to_string(ta));
  FakePolicy p(PushTSpec(to, ta));
  const RolloutReport r = RunRollouts(p, "pusht", Options(2, 1, 1, max_steps));
  std::unique_ptr<Task> task = MakeTask("pusht");
  task->SetActionMode(ActionMode::kAbsolute);
  size_t call = 0;
  for (int e = 0; e < 2; ++e) {
    task->Reset(100 + e);
    Observation obs;
    task->Observe(&obs, false);
    std::vector<Observation> seen(to, obs);  // the expected history, oldest first
    int steps = 0;
    while (steps < max_steps) {
      ASSERT_LT(call, p.calls.size());
      const FakePolicy::Call& c = p.calls[call++];
      ASSERT_EQ(c.obs.batch, 1);
      ASSERT_EQ(c.obs.steps, to);
      for (const char* key : {"agent_pos", "keypoints"}) {
        const std::vector<float>& got = c.obs.lowdim.at(key);
        const size_t d = seen[0].lowdim.at(key).size();
        ASSERT_EQ(got.size(), to * d) << key;
        for (int j = 0; j < to; ++j) {
          for (size_t i = 0; i < d; ++i) {
            ASSERT_EQ(got[j * d + i], static_cast<float>(seen[j].lowdim.at(key)[i]))
                << key << " episode " << e << " call " << call - 1 << " frame " << j;
          }
        }
      }
      for (int t = 0; t < ta && steps < max_steps; ++t, ++steps) {
        const float* a = c.chunk.at(0, t);
        task->Step({a[0], a[1]});
        task->Observe(&obs, false);
        seen.erase(seen.begin());
        seen.push_back(obs);
      }
    }
    EXPECT_EQ(r.episodes[e].steps, max_steps);
  }
  EXPECT_EQ(call, p.calls.size());
}

TEST(RolloutTest, HistoriesMatchAReplay) {
  CheckHistoriesByReplay(2, 8, 20);
  CheckHistoriesByReplay(3, 1, 5);  // Ta < To: frames carry over from earlier chunks
}

TEST(RolloutTest, FirstCallRepeatsTheResetObservation) {
  FakePolicy p(PushTSpec(2, 8));
  RunRollouts(p, "pusht", Options(3, 3, 2, 8));
  ASSERT_EQ(p.calls.size(), 1u);
  const ObsBatch& obs = p.calls[0].obs;
  for (const auto& [key, v] : obs.lowdim) {
    const size_t d = v.size() / (3 * 2);
    for (int b = 0; b < 3; ++b) {
      for (size_t i = 0; i < d; ++i) EXPECT_EQ(v[(b * 2) * d + i], v[(b * 2 + 1) * d + i]) << key;
    }
  }
  // Rows are different episodes.
  EXPECT_NE(obs.lowdim.at("agent_pos")[0], obs.lowdim.at("agent_pos")[4]);
}

TEST(RolloutTest, EachCallGetsExactlyThePolicysKeys) {
  FakePolicy lowdim(PushTSpec(2, 8));
  RunRollouts(lowdim, "pusht", Options(2, 2, 2, 16));
  ASSERT_EQ(lowdim.calls.size(), 2u);
  for (const auto& c : lowdim.calls) {
    EXPECT_EQ(c.obs.lowdim.size(), 2u);  // agent_pos, keypoints; not state
    EXPECT_EQ(c.obs.lowdim.at("agent_pos").size(), 2u * 2 * 2);
    EXPECT_EQ(c.obs.lowdim.at("keypoints").size(), 2u * 2 * 20);
    EXPECT_TRUE(c.obs.images.empty());
  }

  FakePolicy image(PushTSpec(2, 8, /*image=*/true));
  RunRollouts(image, "pusht", Options(2, 2, 2, 16));
  ASSERT_EQ(image.calls.size(), 2u);
  for (const auto& c : image.calls) {
    EXPECT_EQ(c.obs.lowdim.size(), 2u);
    ASSERT_EQ(c.obs.images.size(), 1u);
    const std::vector<uint8_t>& px = c.obs.images.at("image");
    ASSERT_EQ(px.size(), 2u * 2 * 96 * 96 * 3);
    // A rendered picture, not zeros: PushT's background and the T differ.
    EXPECT_NE(std::set<uint8_t>(px.begin(), px.end()).size(), 1u);
  }
  // At reset both frames of a row are the same image; after 8 steps of pushing they differ.
  const size_t frame = 96 * 96 * 3;
  const auto& first = image.calls[0].obs.images.at("image");
  EXPECT_TRUE(std::equal(first.begin(), first.begin() + frame, first.begin() + frame));
  const auto& second = image.calls[1].obs.images.at("image");
  EXPECT_FALSE(std::equal(second.begin(), second.begin() + frame, first.begin()));
}

TEST(RolloutTest, EpisodeErrorEndsOnlyThatEpisode) {
  FakePolicy p(PushTSpec(2, 8));
  p.nan_seed = ChunkNoiseSeed(101, 1);  // episode 101's second chunk
  const RolloutReport r = RunRollouts(p, "pusht", Options(3, 3, 3, 24));
  ASSERT_EQ(r.episodes.size(), 3u);
  EXPECT_EQ(r.episodes[0].error, "");
  EXPECT_EQ(r.episodes[0].steps, 24);
  EXPECT_NE(r.episodes[1].error.find("non-finite"), std::string::npos) << r.episodes[1].error;
  EXPECT_FALSE(r.episodes[1].success);
  EXPECT_EQ(r.episodes[1].steps, 9);
  EXPECT_EQ(r.episodes[2].error, "");
  EXPECT_EQ(r.predict_batch, (std::vector<int>{3, 3, 2}));
}

TEST(RolloutTest, MismatchesAreInvalidArguments) {
  PolicySpec spec = PushTSpec(2, 8);
  spec.obs.push_back(LowDim("robot0_eef_pos", 3));
  FakePolicy missing(spec);
  try {
    RunRollouts(missing, "pusht", Options(1, 1, 1, 8));
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("robot0_eef_pos"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("keypoints"), std::string::npos) << e.what();
  }
  spec = PushTSpec(2, 8);
  spec.obs[1].shape = {18};
  FakePolicy shape(spec);
  EXPECT_THROW(RunRollouts(shape, "pusht", Options(1, 1, 1, 8)), std::invalid_argument);
  spec = PushTSpec(2, 8);
  spec.obs = {LowDim("robot0_eef_pos", 3)};
  spec.action_dim = 7;  // delta-sized actions on a 10-D absolute-mode task
  FakePolicy delta(spec);
  try {
    RunRollouts(delta, "lift-ph", Options(1, 1, 1, 8));
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("action_dim is 7"), std::string::npos) << e.what();
  }
  FakePolicy lift(PushTSpec(2, 8));
  EXPECT_THROW(RunRollouts(lift, "no-such-task", Options(1, 1, 1, 8)), std::invalid_argument);
  EXPECT_THROW(RunRollouts(lift, "pusht", Options(0, 1, 1, 8)), std::invalid_argument);
  EXPECT_TRUE(lift.calls.empty());
}

TEST(RolloutTest, MilestoneSummaryCountsEpisodesPerSubGoal) {
  RolloutReport r;
  r.episodes.resize(4);
  EXPECT_EQ(MilestoneSummary(r), "");  // the task declares none
  r.milestones = {"lid_off", "hammer_lifted"};
  for (int e = 0; e < 3; ++e) r.episodes[e].milestones = 1u;  // lid_off in three of the four
  EXPECT_EQ(MilestoneSummary(r), "lid_off 3/4, hammer_lifted 0/4");
}

// An episode keeps a sub-goal once reached, though the state later loses it.
TEST(RolloutTest, StepEpisodeKeepsSubGoalsOnceReached) {
  TransportTask task("ph");
  task.SetActionMode(ActionMode::kAbsolute);
  task.Reset(0);
  const Eigen::Vector3d lid = task.LidPos();
  EpisodeResult r;
  Outcome out;
  task.PlaceLid(lid + Eigen::Vector3d(0, 2 * TransportTask::kBinHalf, 0), Eigen::Quaterniond::Identity());
  StepEpisode(task, task.HoldAction(), 10, &r, &out);
  EXPECT_EQ(out.milestones & 1u, 1u);
  task.PlaceLid(lid, Eigen::Quaterniond::Identity());  // back on its bin
  StepEpisode(task, task.HoldAction(), 10, &r, &out);
  EXPECT_EQ(out.milestones & 1u, 0u);
  EXPECT_EQ(r.milestones, 1u);
  EXPECT_EQ(r.steps, 2);
}

TEST(RolloutTest, CsvHasOneRowPerEpisode) {
  RolloutReport r;
  const auto episode = [](uint64_t seed, bool success, double score, int steps, const std::string& error) {
    EpisodeResult e;
    e.seed = seed;
    e.success = success;
    e.score = score;
    e.steps = steps;
    e.error = error;
    return e;
  };
  r.episodes = {episode(100, true, 1.0, 42, ""), episode(101, false, 0.25, 300, "non-finite action, \"x\"")};
  r.episodes[0].delay_steps = 2;
  r.episodes[0].chunks = 5;
  r.episodes[0].held_steps = 10;
  r.episodes[0].skipped_actions = 0;
  r.episodes[0].boundary_jump = 12.5;
  r.episodes[0].perturbation = "skipped";
  r.episodes[0].perturbation_step = 7;
  r.episodes[0].perturbation_detail = "task solved";
  r.milestones = {"lid_off", "trash_in_trash_bin", "hammer_lifted"};
  r.episodes[0].milestones = 0b101;
  const fs::path dir = fs::temp_directory_path() / ("onedp_rollout_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "eval.csv").string();
  WriteRolloutCsv(r, path);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  std::ifstream f(path);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all,
            "seed,success,score,steps,error,delay_steps,chunks,held_steps,skipped_actions,"
            "boundary_jump,deterministic,perturbation,perturbation_step,perturbation_detail,milestones\n"
            "100,1,1,42,,2,5,10,0,12.5,1,skipped,7,task solved,lid_off;hammer_lifted\n"
            "101,0,0.25,300,\"non-finite action, \"\"x\"\"\",0,0,0,0,,1,none,-1,,\n");
  r.deterministic = false;  // measured latency
  WriteRolloutCsv(r, path);
  std::ifstream g(path);
  std::string line;
  std::getline(g, line);
  std::getline(g, line);
  EXPECT_NE(line.find(",12.5,0,skipped,"), std::string::npos) << line;
  fs::remove_all(dir);
}

// ---- latency-aware evaluation -------------------------------------------------------------------

TEST(LatencyTest, DelayIsTheCeilingOfLatencyTimesRate) {
  EXPECT_EQ(DelaySteps(0, 20), 0);
  EXPECT_EQ(DelaySteps(669, 20), 14);  // DDPM-100 on the paper's V100 at the robomimic rate
  EXPECT_EQ(DelaySteps(75, 20), 2);    // DDIM-10
  EXPECT_EQ(DelaySteps(16, 20), 1);    // OneDP
  EXPECT_EQ(DelaySteps(50, 20), 1);    // exactly one control period
  EXPECT_EQ(DelaySteps(50.001, 20), 2);
  EXPECT_EQ(DelaySteps(100, 10), 1);   // PushT's 10 Hz
  EXPECT_EQ(DelaySteps(300, 10), 3);
  EXPECT_EQ(DelaySteps(0.001, 10), 1);
  EXPECT_THROW(DelaySteps(-1, 10), std::invalid_argument);
  const LatencyModel v100 = ParseLatency("v100-paper");
  EXPECT_NEAR(v100.Milliseconds(100), 669, 1e-9);
  EXPECT_NEAR(v100.Milliseconds(10), 75, 1e-9);
  EXPECT_NEAR(v100.Milliseconds(1), 15.6, 1e-9);
  EXPECT_EQ(ParseLatency("fixed:250").Milliseconds(100), 250);
  EXPECT_EQ(ParseLatency("none").Milliseconds(100), 0);
}

TEST(LatencyTest, ParsesTheValidFormsAndListsThemOnErrors) {
  EXPECT_EQ(ParseLatency("none").kind, LatencyModel::Kind::kNone);
  EXPECT_EQ(ParseLatency("fixed:0").kind, LatencyModel::Kind::kFixed);
  EXPECT_EQ(ParseLatency("fixed:12.5").fixed_ms, 12.5);
  EXPECT_TRUE(ParseLatency("v100-paper").deterministic());
  EXPECT_FALSE(ParseLatency("measured").deterministic());
  const fs::path dir = fs::temp_directory_path() / ("onedp_latency_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string good = (dir / "here.json").string(), bad = (dir / "bad.json").string();
  std::ofstream(good) << R"({"encoder_ms": 2.5, "network_ms": 0.5, "device": "cpu", "rows": []})";
  std::ofstream(bad) << R"({"encoder_ms": 2.5})";
  const LatencyModel here = ParseLatency("profile:" + good);
  EXPECT_EQ(here.kind, LatencyModel::Kind::kProfile);
  EXPECT_EQ(here.Milliseconds(10), 7.5);
  for (const std::string& text : {std::string("fixed:-3"), std::string("fixed:"), std::string("fixed:1ms"),
                                  std::string("fixed:nan"), std::string("a100"), std::string("profile:"),
                                  "profile:" + (dir / "missing.json").string(), "profile:" + bad,
                                  std::string("Measured")}) {
    try {
      ParseLatency(text);
      ADD_FAILURE() << text << ": no exception";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("'" + text + "'"), std::string::npos) << what;
      for (const char* form : {"none", "fixed:MS", "v100-paper", "profile:PATH", "measured"}) {
        EXPECT_NE(what.find(form), std::string::npos) << what;
      }
    }
  }
  EXPECT_EQ(ParseExecMode("sync"), ExecMode::kSync);
  EXPECT_EQ(ParseExecMode("async"), ExecMode::kAsync);
  try {
    ParseExecMode("later");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("sync, async"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// Records each step's action and source (chunk row or -1) per episode, and the reset pusher.
class SourceLog : public RolloutObserver {
 public:
  struct Episode {
    std::vector<std::vector<double>> actions;
    std::vector<int> rows;
    int chunks = 0;  // OnChunk calls
    std::vector<double> reset_agent;
  };
  void OnReset(int episode, uint64_t, Task& task) override {
    Observation o;
    task.Observe(&o, false);
    std::lock_guard<std::mutex> lock(mu);
    episodes[episode] = Episode();
    episodes[episode].reset_agent = o.lowdim.at("agent_pos");
  }
  void OnChunk(int episode, const ActionChunk&, int) override {
    std::lock_guard<std::mutex> lock(mu);
    ++episodes[episode].chunks;
  }
  void OnStepSource(int episode, int row) override {
    std::lock_guard<std::mutex> lock(mu);
    episodes[episode].rows.push_back(row);
  }
  void OnStep(int episode, Task&, const std::vector<double>& action, const Outcome&) override {
    std::lock_guard<std::mutex> lock(mu);
    episodes[episode].actions.push_back(action);
  }
  std::mutex mu;
  std::map<int, Episode> episodes;
};

RolloutOptions LatencyOptions(const std::string& latency, ExecMode exec, int max_steps,
                              std::vector<RolloutObserver*> observers = {}) {
  RolloutOptions o = Options(3, 2, 2, max_steps);
  o.latency = ParseLatency(latency);
  o.exec = exec;
  o.observers = std::move(observers);
  return o;
}

void ExpectSameClock(const RolloutReport& a, const RolloutReport& b) {
  ExpectSameResults(a, b);
  for (size_t i = 0; i < a.episodes.size() && i < b.episodes.size(); ++i) {
    EXPECT_EQ(a.episodes[i].delay_steps, b.episodes[i].delay_steps);
    EXPECT_EQ(a.episodes[i].chunks, b.episodes[i].chunks);
    EXPECT_EQ(a.episodes[i].held_steps, b.episodes[i].held_steps);
    EXPECT_EQ(a.episodes[i].skipped_actions, b.episodes[i].skipped_actions);
    const double ja = a.episodes[i].boundary_jump, jb = b.episodes[i].boundary_jump;
    EXPECT_TRUE(ja == jb || (std::isnan(ja) && std::isnan(jb))) << ja << " " << jb;
  }
}

TEST(LatencyTest, NoLatencyIsTodaysEvaluationInBothModes) {
  // 20 steps, Ta 8: three calls per episode as in SeedOrderAndIndependentOfEnvsAndWorkers.
  FakePolicy today(PushTSpec(2, 8)), sync(PushTSpec(2, 8)), async(PushTSpec(2, 8)),
      zero(PushTSpec(2, 8));
  const RolloutReport r0 = RunRollouts(today, "pusht", Options(3, 2, 2, 20));
  const RolloutReport r1 = RunRollouts(sync, "pusht", LatencyOptions("none", ExecMode::kSync, 20));
  const RolloutReport r2 = RunRollouts(async, "pusht", LatencyOptions("none", ExecMode::kAsync, 20));
  const RolloutReport r3 = RunRollouts(zero, "pusht", LatencyOptions("fixed:0", ExecMode::kAsync, 20));
  ExpectSameClock(r0, r1);
  ExpectSameClock(r0, r2);
  ExpectSameClock(r0, r3);
  for (const RolloutReport* r : {&r0, &r1, &r2, &r3}) {
    EXPECT_EQ(r->predict_batch, (std::vector<int>{2, 2, 2, 1, 1, 1}));
    EXPECT_TRUE(r->deterministic);
    for (const EpisodeResult& e : r->episodes) {
      EXPECT_EQ(e.delay_steps, 0);
      EXPECT_EQ(e.chunks, 3);
      EXPECT_EQ(e.held_steps, 0);
      EXPECT_EQ(e.skipped_actions, 0);
      EXPECT_TRUE(std::isfinite(e.boundary_jump));
    }
  }
  for (const FakePolicy* p : {&sync, &async, &zero}) {
    ASSERT_EQ(p->calls.size(), today.calls.size());
    for (size_t c = 0; c < today.calls.size(); ++c) {
      EXPECT_EQ(p->calls[c].seeds, today.calls[c].seeds);
      EXPECT_EQ(p->calls[c].obs.lowdim, today.calls[c].obs.lowdim) << "call " << c;
    }
  }
}

// The chunk the policy returned for (episode seed, chunk k), as doubles per row.
std::vector<std::vector<double>> ChunkRows(const FakePolicy& p, uint64_t seed, int k) {
  const uint64_t want = ChunkNoiseSeed(seed, k);
  for (const FakePolicy::Call& c : p.calls) {
    for (size_t b = 0; b < c.seeds.size(); ++b) {
      if (c.seeds[b] != want) continue;
      std::vector<std::vector<double>> rows;
      for (int t = 0; t < c.chunk.steps; ++t) {
        const float* a = c.chunk.at(static_cast<int>(b), t);
        rows.push_back({a[0], a[1]});
      }
      return rows;
    }
  }
  ADD_FAILURE() << "no chunk " << k << " for seed " << seed;
  return {};
}

// The history row the call for (seed, chunk k) saw, against a replay of the executed actions:
// the observations of states r-To+1 .. r (state 0 repeated before the start).
void CheckHistoryAtRequest(const FakePolicy& p, uint64_t seed, int k, int request, int to,
                           const std::vector<std::vector<double>>& actions) {
  const uint64_t want = ChunkNoiseSeed(seed, k);
  std::unique_ptr<Task> task = MakeTask("pusht");
  task->SetActionMode(ActionMode::kAbsolute);
  task->Reset(seed);
  std::vector<Observation> states(1);
  task->Observe(&states[0], false);
  for (int t = 0; t < request; ++t) {
    task->Step(actions.at(t));
    states.emplace_back();
    task->Observe(&states.back(), false);
  }
  for (const FakePolicy::Call& c : p.calls) {
    for (size_t b = 0; b < c.seeds.size(); ++b) {
      if (c.seeds[b] != want) continue;
      const std::vector<float>& got = c.obs.lowdim.at("keypoints");
      for (int j = 0; j < to; ++j) {
        const Observation& o = states[std::max(0, request - to + 1 + j)];
        for (int i = 0; i < 20; ++i) {
          ASSERT_EQ(got[(b * to + j) * 20 + i], static_cast<float>(o.lowdim.at("keypoints")[i]))
              << "seed " << seed << " chunk " << k << " frame " << j;
        }
      }
      return;
    }
  }
  ADD_FAILURE() << "no call for chunk " << k << " of seed " << seed;
}

// Checks every step of every episode against `expect(t)` = (chunk, row) or (-1, -1) for a hold,
// the held actions (the previous action; the reset pusher position before the first), the
// histories at each request, and the counts.
void CheckSchedule(const FakePolicy& p, SourceLog& log, const RolloutReport& r, int max_steps,
                   const std::vector<int>& requests,
                   const std::function<std::pair<int, int>(int)>& expect, int held, int skipped,
                   int delay) {
  ASSERT_EQ(r.episodes.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    SCOPED_TRACE("episode " + std::to_string(e));
    const uint64_t seed = 100 + e;
    const SourceLog::Episode& ep = log.episodes.at(e);
    ASSERT_EQ(static_cast<int>(ep.actions.size()), max_steps);
    ASSERT_EQ(static_cast<int>(ep.rows.size()), max_steps);
    int jumps = 0, last_chunk = -1;
    double jump_sum = 0;
    std::vector<double> last;
    for (int t = 0; t < max_steps; ++t) {
      const auto [k, row] = expect(t);
      EXPECT_EQ(ep.rows[t], row) << "step " << t;
      if (k < 0) {
        const std::vector<double>& held_action = t == 0 ? ep.reset_agent : ep.actions[t - 1];
        EXPECT_EQ(ep.actions[t], held_action) << "step " << t;
        continue;
      }
      const std::vector<double> a = ChunkRows(p, seed, k).at(row);
      EXPECT_EQ(ep.actions[t], a) << "step " << t;
      if (last_chunk >= 0 && last_chunk != k) {
        jump_sum += std::hypot(a[0] - last[0], a[1] - last[1]);
        ++jumps;
      }
      last = a;
      last_chunk = k;
    }
    for (size_t k = 0; k < requests.size(); ++k) {
      CheckHistoryAtRequest(p, seed, static_cast<int>(k), requests[k], 2, ep.actions);
    }
    const EpisodeResult& res = r.episodes[e];
    EXPECT_EQ(res.steps, max_steps);
    EXPECT_EQ(res.chunks, static_cast<int>(requests.size()));
    EXPECT_EQ(res.held_steps, held);
    EXPECT_EQ(res.skipped_actions, skipped);
    EXPECT_EQ(res.delay_steps, delay);
    ASSERT_GT(jumps, 0);
    EXPECT_NEAR(res.boundary_jump, jump_sum / jumps, 1e-9);
  }
}

TEST(LatencyTest, SyncHoldsDStepsPerChunk) {
  // 200 ms at PushT's 10 Hz: d = 2. Ta 8: chunk k requested at 10k, held 10k..10k+1, rows 0..7 at
  // 10k+2..10k+9. 30 steps: 3 chunks, 6 held steps, nothing skipped.
  FakePolicy p(PushTSpec(2, 8));
  SourceLog log;
  const RolloutReport r =
      RunRollouts(p, "pusht", LatencyOptions("fixed:200", ExecMode::kSync, 30, {&log}));
  CheckSchedule(p, log, r, 30, {0, 10, 20}, [](int t) {
    const int k = t / 10, j = t % 10;
    return j < 2 ? std::make_pair(-1, -1) : std::make_pair(k, j - 2);
  }, /*held=*/6, /*skipped=*/0, /*delay=*/2);
  EXPECT_EQ(r.predict_batch, (std::vector<int>{2, 2, 2, 1, 1, 1}));  // still batched
}

TEST(LatencyTest, AsyncSkipsTheFirstDActionsOfEachChunk) {
  // d = 2, Ta 8: chunk k requested at 6k (arrives at 6k + 2, as chunk k-1 runs out), rows 2..7 at
  // 6k+2..6k+7; only the two steps before the first chunk are held. 30 steps: requests at 0, 6,
  // 12, 18, 24; each of the 5 chunks skips 2 actions.
  FakePolicy p(PushTSpec(2, 8));
  SourceLog log;
  const RolloutReport r =
      RunRollouts(p, "pusht", LatencyOptions("fixed:200", ExecMode::kAsync, 30, {&log}));
  CheckSchedule(p, log, r, 30, {0, 6, 12, 18, 24}, [](int t) {
    if (t < 2) return std::make_pair(-1, -1);
    const int k = (t - 2) / 6;
    return std::make_pair(k, t - 6 * k);
  }, /*held=*/2, /*skipped=*/10, /*delay=*/2);
  for (const auto& [e, ep] : log.episodes) EXPECT_EQ(ep.chunks, 5);  // observers saw each chunk once
}

TEST(LatencyTest, AsyncHoldsWhenThePreviousChunkRunsOut) {
  // d = 5 > Ta / 2: one call at a time, so chunk k is requested when chunk k-1 arrives (5k) and
  // arrives at 5k + 5; it runs rows 5..7 at 5k+5..5k+7, then the robot holds 2 steps. 30 steps:
  // requests 0, 5, ..., 25 (6 chunks); held 5 + 5 x 2 = 15; skipped 5 per chunk that arrived (5).
  FakePolicy p(PushTSpec(2, 8));
  SourceLog log;
  const RolloutReport r =
      RunRollouts(p, "pusht", LatencyOptions("fixed:450", ExecMode::kAsync, 30, {&log}));
  CheckSchedule(p, log, r, 30, {0, 5, 10, 15, 20, 25}, [](int t) {
    if (t < 5) return std::make_pair(-1, -1);
    const int k = (t - 5) / 5, row = t - 5 * k;
    return row < 8 ? std::make_pair(k, row) : std::make_pair(-1, -1);
  }, /*held=*/15, /*skipped=*/25, /*delay=*/5);
}

TEST(LatencyTest, ProfileDelayUsesThePolicysNfe) {
  // v100-paper: 9 ms + NFE x 6.6 ms. NFE 100: 669 ms, d = 7 at 10 Hz; NFE 1: 15.6 ms, d = 1.
  FakePolicy slow(PushTSpec(2, 8)), fast(PushTSpec(2, 8));
  slow.nfe = 100;
  const RolloutReport rs = RunRollouts(slow, "pusht", LatencyOptions("v100-paper", ExecMode::kSync, 30));
  const RolloutReport rf = RunRollouts(fast, "pusht", LatencyOptions("v100-paper", ExecMode::kSync, 30));
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(rs.episodes[e].delay_steps, 7);
    EXPECT_EQ(rs.episodes[e].chunks, 2);      // requests at 0 and 15
    EXPECT_EQ(rs.episodes[e].held_steps, 14);  // 0..6 and 15..21
    EXPECT_EQ(rf.episodes[e].delay_steps, 1);
    EXPECT_EQ(rf.episodes[e].held_steps, 4);  // requests at 0, 9, 18, 27
  }
  EXPECT_EQ(rs.latency, "v100-paper");
  EXPECT_TRUE(rs.deterministic);
}

TEST(LatencyTest, MeasuredLatencyIsMarkedNonDeterministic) {
  FakePolicy p(PushTSpec(2, 8));
  const RolloutReport r = RunRollouts(p, "pusht", LatencyOptions("measured", ExecMode::kAsync, 20));
  EXPECT_FALSE(r.deterministic);
  for (const EpisodeResult& e : r.episodes) {
    EXPECT_GE(e.delay_steps, 1);  // any positive wall time is at least one step
    EXPECT_EQ(e.steps, 20);
  }
}

TEST(LatencyTest, RecordingsMarkHeldSteps) {
  // Sync, d = 2, Ta 8, To 2: per chunk two held steps (chunk_pos -1), then horizon positions
  // 1..8 (the chunk's rows start at horizon index To - 1).
  FakePolicy p(PushTSpec(2, 8));
  const fs::path dir = fs::temp_directory_path() / ("onedp_latency_rec_" + std::to_string(::getpid()));
  RolloutRecorder recorder(dir.string(), p.spec(), nlohmann::json::object());
  RunRollouts(p, "pusht", LatencyOptions("fixed:200", ExecMode::kSync, 20, {&recorder}));
  ASSERT_EQ(recorder.written().size(), 3u);
  const RecordedRollout rec = ReadRecordedRollout((dir / "episode_100.hdf5").string());
  std::vector<int> want;
  for (int t = 0; t < 20; ++t) want.push_back(t % 10 < 2 ? -1 : t % 10 - 1);
  EXPECT_EQ(rec.chunk_pos, want);
  ASSERT_EQ(rec.num_steps(), 20);
  fs::remove_all(dir);
}

// The viewer's timeline (harness/rollout_timeline.h) of an async recording with a perturbation: its
// held steps, skipped actions and chunks are the episode's counts, and the perturbation's step and
// status are the episode's.
TEST(LatencyTest, TimelineShowsHeldSkippedAndThePerturbation) {
  FakePolicy p(PushTSpec(2, 8));
  const fs::path dir = fs::temp_directory_path() / ("onedp_latency_timeline_" + std::to_string(::getpid()));
  RolloutRecorder recorder(dir.string(), p.spec(), nlohmann::json::object());
  RolloutOptions o = LatencyOptions("fixed:300", ExecMode::kAsync, 60, {&recorder});
  o.perturbation = "reset";
  const RolloutReport r = RunRollouts(p, "pusht", o);
  ASSERT_EQ(recorder.written().size(), r.episodes.size());
  int with_skips = 0;
  for (const EpisodeResult& e : r.episodes) {
    SCOPED_TRACE("seed " + std::to_string(e.seed));
    const RecordedRollout rec = ReadRecordedRollout((dir / ("episode_" + std::to_string(e.seed) + ".hdf5")).string());
    const RolloutTimeline tl = BuildTimeline(rec);
    ASSERT_EQ(tl.steps.size(), static_cast<size_t>(e.steps));
    EXPECT_EQ(tl.held, e.held_steps);
    EXPECT_EQ(tl.skipped, e.skipped_actions);
    EXPECT_GT(e.skipped_actions, 0);  // d = 3 of Ta = 8: each later chunk skips 3
    with_skips += e.skipped_actions > 0;
    EXPECT_LE(tl.chunks, e.chunks);
    EXPECT_GT(tl.chunks, 1);
    int held = 0;
    for (const TimelineStep& s : tl.steps) held += s.held;
    EXPECT_EQ(held, e.held_steps);
    EXPECT_EQ(tl.perturbation, e.perturbation);
    EXPECT_EQ(tl.perturbation_name, "reset");
    EXPECT_EQ(tl.perturbation_step, e.perturbation_step);
    EXPECT_NE(tl.Summary().find("perturbation reset " + e.perturbation), std::string::npos) << tl.Summary();
  }
  EXPECT_EQ(with_skips, static_cast<int>(r.episodes.size()));
  // A recording without a latency: no held step, no skipped action, no perturbation.
  FakePolicy q(PushTSpec(2, 8));
  RolloutRecorder plain((dir / "plain").string(), q.spec(), nlohmann::json::object());
  RunRollouts(q, "pusht", LatencyOptions("none", ExecMode::kSync, 20, {&plain}));
  const RolloutTimeline none = BuildTimeline(ReadRecordedRollout((dir / "plain" / "episode_100.hdf5").string()));
  EXPECT_EQ(none.held, 0);
  EXPECT_EQ(none.skipped, 0);
  EXPECT_EQ(none.chunks, 3);  // 20 steps of 8-action chunks
  EXPECT_EQ(none.perturbation, "none");
  fs::remove_all(dir);
}

TEST(LatencyTest, PerturbationsAreArmedPerEpisodeAndReported) {
  // reset on PushT: every episode's block is re-placed at its seeded step (20..100), whatever the
  // batch neighbours; an undeclared name is refused before any call.
  FakePolicy p1(PushTSpec(2, 8)), p2(PushTSpec(2, 8));
  RolloutOptions o = LatencyOptions("fixed:100", ExecMode::kAsync, 120);
  o.perturbation = "reset";
  const RolloutReport r1 = RunRollouts(p1, "pusht", o);
  o.num_envs = 1;
  o.workers = 1;
  const RolloutReport r2 = RunRollouts(p2, "pusht", o);
  ExpectSameClock(r1, r2);
  for (size_t i = 0; i < r1.episodes.size(); ++i) {
    const EpisodeResult& e = r1.episodes[i];
    EXPECT_TRUE(e.perturbation == "applied" || e.perturbation == "skipped") << e.perturbation;
    EXPECT_GE(e.perturbation_step, 20);
    EXPECT_LE(e.perturbation_step, 100);
    EXPECT_EQ(e.perturbation_step, r2.episodes[i].perturbation_step);
    EXPECT_EQ(e.perturbation_detail, r2.episodes[i].perturbation_detail);
  }
  FakePolicy p3(PushTSpec(2, 8));
  o.perturbation = "spin";
  try {
    RunRollouts(p3, "pusht", o);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("move, reset"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(p3.calls.empty());
}

TEST(LatencyTest, HoldActionKeepsTheCommand) {
  // Absolute mode: the last goal (after reset, the reset pose); delta mode: zero motion with the
  // gripper command unchanged.
  std::unique_ptr<Task> lift = MakeTask("lift-ph");
  lift->SetActionMode(ActionMode::kDelta);
  lift->Reset(3);
  EXPECT_EQ(lift->HoldAction(), (std::vector<double>{0, 0, 0, 0, 0, 0, 0}));
  lift->Step({0.1, 0, 0, 0, 0, 0, 1});
  EXPECT_EQ(lift->HoldAction(), (std::vector<double>{0, 0, 0, 0, 0, 0, 1}));
  lift->SetActionMode(ActionMode::kAbsolute);
  lift->Reset(3);
  const std::vector<double> hold = lift->HoldAction();
  ASSERT_EQ(hold.size(), 10u);
  Observation o;
  lift->Observe(&o, false);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(hold[i], o.lowdim.at("robot0_eef_pos")[i], 1e-9);
  std::unique_ptr<Task> pusht = MakeTask("pusht");
  pusht->SetActionMode(ActionMode::kDelta);  // PushT's two action forms are the same
  pusht->Reset(3);
  pusht->Step({200, 210});
  EXPECT_EQ(pusht->HoldAction(), (std::vector<double>{200, 210}));
}

TEST(RolloutDeathTest, StopRequestEndsTheRun) {
  // RequestStop() is process-wide and permanent: run it in a child process.
  EXPECT_EXIT(
      {
        RequestStop();
        FakePolicy p(PushTSpec(2, 8));
        try {
          RunRollouts(p, "pusht", Options(2, 2, 2, 16));
        } catch (const std::runtime_error& e) {
          if (std::string(e.what()).find("interrupted") != std::string::npos && p.calls.empty()) {
            std::exit(3);
          }
        }
        std::exit(1);
      },
      ::testing::ExitedWithCode(3), "");
}

}  // namespace
}  // namespace onedp
