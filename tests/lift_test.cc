// Lift: reset distribution, determinism, success predicate, observations, expert success,
// rendering of the cube, bad actions.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tasks/common/operators.h"
#include "tasks/lift/lift.h"
#include "tasks/task_registry.h"
#include "tests/task_test_util.h"

namespace onedp {
namespace {

std::unique_ptr<LiftTask> MakeLift(const std::string& variant = "ph") {
  return std::make_unique<LiftTask>(variant);
}

TEST(LiftTest, RegistryListsBothVariantsAndRejectsUnknown) {
  std::set<std::string> names;
  for (const auto& t : RegisteredTasks()) names.insert(t.name);
  EXPECT_TRUE(names.count("lift-ph"));
  EXPECT_TRUE(names.count("lift-mh"));
  EXPECT_EQ(FindTask("LIFT-PH").name, "lift-ph");  // case-insensitive
  try {
    FindTask("lfit-ph");
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("lift-ph"), std::string::npos) << e.what();
  }
}

TEST(LiftTest, SpecMatchesRobomimic) {
  auto ph = MakeLift("ph");
  auto mh = MakeLift("mh");
  EXPECT_EQ(ph->spec().max_steps, 400);
  EXPECT_EQ(mh->spec().max_steps, 500);
  ExpectRobosuiteControl(*ph, 1);
}

TEST(LiftTest, ResetDrawsFromTheDocumentedRanges) {
  auto task = MakeLift();
  std::set<double> sizes;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    task->Reset(seed);
    const double h = task->cube_half_size();
    EXPECT_GE(h, 0.020);
    EXPECT_LE(h, 0.022);
    sizes.insert(h);
    const Eigen::Vector3d p = task->CubePos();
    EXPECT_LE(std::abs(p.x()), 0.03);
    EXPECT_LE(std::abs(p.y()), 0.03);
    EXPECT_NEAR(p.z(), LiftTask::kTableTopZ + 0.01 + h, 1e-9);
    // mass follows the size at density 1000
    const mjModel* m = task->sim().model();
    const int body = mj_name2id(m, mjOBJ_BODY, "cube");
    EXPECT_NEAR(m->body_mass[body], 1000.0 * std::pow(2 * h, 3), 1e-12);
    // arm joints near init_qpos (noise sigma 0.02)
    for (int j = 0; j < 7; ++j) {
      EXPECT_NEAR(task->sim().data()->qpos[j], PandaRobot::kInitQpos[j], 0.1);
    }
  }
  EXPECT_EQ(sizes.size(), 20u);
}

TEST(LiftTest, SameSeedSameTrajectoryDifferentSeedsDiffer) {
  const OperatorProfile op = OperatorsForVariant("ph").front();
  auto a = MakeLift();
  auto b = MakeLift();
  RunExpert(*a, op, 7, 30);
  RunExpert(*b, op, 7, 30);
  EXPECT_EQ(a->sim().StateHash(), b->sim().StateHash());
  RunExpert(*b, op, 8, 30);
  EXPECT_NE(a->sim().StateHash(), b->sim().StateHash());
  // resetting the same task object again reproduces the first run exactly
  RunExpert(*a, op, 8, 30);
  EXPECT_EQ(a->sim().StateHash(), b->sim().StateHash());
}

// Golden values: the expert's trajectory on seed 0 with this build's physics. Regenerate with
// ONEDP_REGENERATE_GOLDEN=1 after an intended change to the model, controller or expert.
TEST(LiftTest, GoldenExpertTrajectory) {
  const std::string path = std::string(BENCH_TESTDATA_DIR) + "/lift_golden.json";
  const OperatorProfile op = OperatorsForVariant("ph").front();
  auto task = MakeLift();
  const int steps = RunExpert(*task, op, 0, 25);
  const auto state = task->sim().FlatState();
  const Eigen::Vector3d eef = task->robot().EefPos();
  nlohmann::json now = {{"seed", 0},
                        {"steps", steps},
                        {"cube_half_size", task->cube_half_size()},
                        {"eef_pos", {eef.x(), eef.y(), eef.z()}},
                        {"qpos", std::vector<double>(state.begin() + 1,
                                                     state.begin() + 1 + task->sim().model()->nq)}};
  if (std::getenv("ONEDP_REGENERATE_GOLDEN")) {
    std::ofstream(path) << now.dump(2) << "\n";
    GTEST_SKIP() << "regenerated " << path;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing " << path << " (run with ONEDP_REGENERATE_GOLDEN=1)";
  const nlohmann::json golden = nlohmann::json::parse(in);
  EXPECT_EQ(golden["steps"].get<int>(), steps);
  EXPECT_NEAR(golden["cube_half_size"].get<double>(), task->cube_half_size(), 1e-15);
  // Contact dynamics amplify rounding differences between builds; positions agree to 1e-6 m
  // on the same architecture and MuJoCo version.
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(golden["eef_pos"][i].get<double>(), eef[i], 1e-6);
  const auto qpos = golden["qpos"].get<std::vector<double>>();
  ASSERT_EQ(qpos.size(), static_cast<size_t>(task->sim().model()->nq));
  for (size_t i = 0; i < qpos.size(); ++i) EXPECT_NEAR(qpos[i], state[1 + i], 1e-6) << "qpos " << i;
}

TEST(LiftTest, SuccessPredicateAtTheHeightBound) {
  auto task = MakeLift();
  task->Reset(3);
  Sim& sim = task->sim();
  const mjModel* m = sim.model();
  const int adr = m->jnt_qposadr[mj_name2id(m, mjOBJ_JOINT, "cube_joint")];
  auto set_z = [&](double z) {
    SimState s = sim.GetState();
    s.qpos[adr + 2] = z;
    sim.SetState(s);
  };
  set_z(0.84 + 1e-4);
  EXPECT_TRUE(task->Evaluate().success);
  EXPECT_DOUBLE_EQ(task->Evaluate().reward, 1.0);
  set_z(0.84 - 1e-4);
  EXPECT_FALSE(task->Evaluate().success);
  EXPECT_DOUBLE_EQ(task->Evaluate().reward, 0.0);
}

TEST(LiftTest, ObservationKeysAndShapes) {
  auto task = MakeLift();
  task->Reset(1);
  Observation obs;
  task->Observe(&obs, /*render=*/false);
  ASSERT_EQ(obs.lowdim.at("robot0_eef_pos").size(), 3u);
  ASSERT_EQ(obs.lowdim.at("robot0_eef_quat").size(), 4u);
  ASSERT_EQ(obs.lowdim.at("robot0_gripper_qpos").size(), 2u);
  ASSERT_EQ(obs.lowdim.at("object").size(), 10u);
  // object = [cube_pos, cube_quat xyzw, eef - cube]
  const auto& o = obs.lowdim.at("object");
  const auto& eef = obs.lowdim.at("robot0_eef_pos");
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(o[7 + i], eef[i] - o[i], 1e-12);
  const double qn = o[3] * o[3] + o[4] * o[4] + o[5] * o[5] + o[6] * o[6];
  EXPECT_NEAR(qn, 1.0, 1e-9);
  const double yaw_w = o[6];  // cube is upright: rotation about z only, so x = y = 0
  EXPECT_NEAR(o[3], 0.0, 1e-6);
  EXPECT_NEAR(o[4], 0.0, 1e-6);
  EXPECT_LE(std::abs(yaw_w), 1.0);
  const auto& q = obs.lowdim.at("robot0_eef_quat");
  EXPECT_NEAR(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3], 1.0, 1e-9);
  EXPECT_GE(q[3], 0.0);  // canonical hemisphere
  const auto& g = obs.lowdim.at("robot0_gripper_qpos");
  EXPECT_NEAR(g[0], PandaRobot::kInitFinger, 1e-9);
  EXPECT_NEAR(g[1], -PandaRobot::kInitFinger, 1e-9);
  EXPECT_TRUE(obs.images.empty());
  // spec lists the same keys
  std::set<std::string> keys;
  for (const auto& f : task->spec().obs) keys.insert(f.key);
  for (const auto& k : {"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object",
                        "agentview_image", "robot0_eye_in_hand_image"}) {
    EXPECT_TRUE(keys.count(k)) << k;
  }
}

TEST(LiftTest, ProficientExpertSucceedsOnFixedSeeds) {
  auto task = MakeLift("ph");
  const OperatorProfile op = OperatorsForVariant("ph").front();
  for (uint64_t seed : {0, 1, 2, 3, 4, 5}) {
    const int steps = RunExpert(*task, op, seed, task->spec().max_steps);
    EXPECT_TRUE(task->Evaluate().success) << "seed " << seed;
    EXPECT_LT(steps, 150) << "seed " << seed;
    EXPECT_TRUE(task->episode_error().empty()) << task->episode_error();
  }
}

TEST(LiftTest, EveryMultiHumanOperatorCanSucceed) {
  auto task = MakeLift("mh");
  const auto ops = OperatorsForVariant("mh");
  ASSERT_EQ(ops.size(), 6u);
  std::map<std::string, int> per_quality;
  for (const auto& op : ops) {
    ++per_quality[op.quality];
    bool any = false;
    for (uint64_t seed = 0; seed < 4 && !any; ++seed) {
      RunExpert(*task, op, 100 + seed, task->spec().max_steps);
      any = task->Evaluate().success;
    }
    EXPECT_TRUE(any) << op.name << " never succeeded on 4 seeds";
  }
  EXPECT_EQ(per_quality["worse"], 2);
  EXPECT_EQ(per_quality["okay"], 2);
  EXPECT_EQ(per_quality["better"], 2);
}

TEST(LiftTest, NonFiniteActionMarksTheEpisodeFailed) {
  auto task = MakeLift();
  task->Reset(0);
  const uint64_t before = task->sim().StateHash();
  task->Step({0, 0, NAN, 0, 0, 0, 0});
  EXPECT_FALSE(task->episode_error().empty());
  EXPECT_NE(task->episode_error().find("non-finite"), std::string::npos);
  EXPECT_EQ(task->sim().StateHash(), before);  // not applied
  // even a lifted cube does not count once the episode has failed
  EXPECT_FALSE(task->Evaluate().success);
  task->Reset(0);
  EXPECT_TRUE(task->episode_error().empty());
  EXPECT_THROW(task->Step({0, 0, 0}), std::invalid_argument);  // wrong size is a caller bug
}

TEST(LiftTest, AgentviewShowsTheRedCube) {
  auto task = MakeLift();
  task->Reset(0);
  Observation obs;
  task->Observe(&obs, /*render=*/true);
  const Image& img = obs.images.at("agentview_image");
  ASSERT_EQ(img.height, 84);
  ASSERT_EQ(img.width, 84);
  int red = 0;
  double mean = 0, mean_sq = 0;
  double red_row = 0;
  for (int r = 0; r < img.height; ++r) {
    for (int c = 0; c < img.width; ++c) {
      const uint8_t* p = img.at(r, c);
      if (p[0] > 120 && p[0] > p[1] + 60 && p[0] > p[2] + 60) {
        ++red;
        red_row += r;
      }
      const double v = (p[0] + p[1] + p[2]) / 3.0;
      mean += v;
      mean_sq += v * v;
    }
  }
  const double n = img.height * img.width;
  mean /= n;
  EXPECT_GT(mean_sq / n - mean * mean, 100.0) << "image is nearly uniform";
  EXPECT_GT(red, 8) << "cube not visible in agentview";
  // The camera looks down at the table: the cube (on the table, below the gripper) is in the
  // lower half of a top-down image.
  EXPECT_GT(red_row / std::max(red, 1), img.height / 2.0);
  const Image& hand = obs.images.at("robot0_eye_in_hand_image");
  int hand_red = 0;
  for (int r = 0; r < hand.height; ++r) {
    for (int c = 0; c < hand.width; ++c) {
      const uint8_t* p = hand.at(r, c);
      hand_red += p[0] > 120 && p[0] > p[1] + 60 && p[0] > p[2] + 60;
    }
  }
  EXPECT_GT(hand_red, 8) << "cube not visible from the wrist camera";
}

}  // namespace
}  // namespace onedp
