// The batched rollout engine (harness/rollout.h) with a fake policy on PushT: seed order,
// independence from num_envs/workers, batch sizes, observation histories (replayed on a separate
// task), per-episode noise seeds, keys, episode errors, CSV output and interrupts.
#include "harness/rollout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/collect.h"
#include "policies/policy.h"
#include "tasks/task_registry.h"

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
  int Nfe(const SamplerSpec&) const override { return 1; }
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

TEST(RolloutTest, CsvHasOneRowPerEpisode) {
  RolloutReport r;
  r.episodes = {{100, true, 1.0, 42, ""}, {101, false, 0.25, 300, "non-finite action, \"x\""}};
  const fs::path dir = fs::temp_directory_path() / ("onedp_rollout_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "eval.csv").string();
  WriteRolloutCsv(r, path);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  std::ifstream f(path);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all,
            "seed,success,score,steps,error\n"
            "100,1,1,42,\n"
            "101,0,0.25,300,\"non-finite action, \"\"x\"\"\"\n");
  fs::remove_all(dir);
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
