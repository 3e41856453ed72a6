// PushT: coverage and reward on constructed poses, reset distribution, quasi-static pushing,
// observations, rendering look, expert determinism and success.
#include <cmath>
#include <limits>
#include <set>

#include <gtest/gtest.h>

#include "tasks/common/operators.h"
#include "tasks/pusht/pusht.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

// The goal pose moved by `d` in the goal's local frame.
Eigen::Vector3d GoalShiftedLocal(double dx, double dy, double dangle = 0) {
  const Eigen::Vector2d t = Eigen::Rotation2Dd(PushTTask::kGoalAngle) * Eigen::Vector2d(dx, dy);
  return {PushTTask::kGoalX + t.x(), PushTTask::kGoalY + t.y(), PushTTask::kGoalAngle + dangle};
}

int RunExpert(PushTTask& task, uint64_t seed, int steps) {
  task.Reset(seed);
  auto expert = task.MakeExpert(OperatorsForVariant("ph").front(), seed);
  for (int t = 0; t < steps; ++t) {
    task.Step(expert->Act());
    if (task.Evaluate().success) return t + 1;
  }
  return steps;
}

TEST(PushTTest, RegisteredWithDiffusionPolicySpec) {
  EXPECT_EQ(FindTask("PushT").name, "pusht");
  PushTTask task;
  const TaskSpec& s = task.spec();
  EXPECT_EQ(s.max_steps, 300);
  EXPECT_EQ(s.substeps, 10);
  EXPECT_DOUBLE_EQ(s.control_hz, 10.0);
  EXPECT_DOUBLE_EQ(task.sim().model()->opt.timestep, 0.01);
  EXPECT_EQ(s.action_dim, 2);
  EXPECT_EQ(s.abs_action_dim, 2);
  ASSERT_EQ(s.action_low.size(), 2u);
  EXPECT_EQ(s.action_low[0], 0.0);
  EXPECT_EQ(s.action_high[1], 512.0);
  EXPECT_EQ(s.variant, "ph");
  EXPECT_EQ(task.sim().model()->opt.gravity[2], 0.0);
}

// Coverage clips the rectangles exactly up to floating-point rounding of the rotated vertices
// (as gym-pusht's shapely coverage, results/peers/pusht.md); 1e-7 leaves room.
constexpr double kAreaTol = 1e-7;

TEST(PushTTest, CoverageExactValues) {
  EXPECT_NEAR(PushTTask::Coverage(PushTTask::GoalPose()), 1.0, kAreaTol);
  // full turns do not matter
  EXPECT_NEAR(PushTTask::Coverage(GoalShiftedLocal(0, 0, 2 * M_PI)), 1.0, kAreaTol);
  // 15 units along the bar: bar overlap 105 x 30, stem 15 x 90 -> 4500 / 6300
  EXPECT_NEAR(PushTTask::Coverage(GoalShiftedLocal(15, 0)), 4500.0 / 6300.0, kAreaTol);
  EXPECT_NEAR(PushTTask::Coverage(GoalShiftedLocal(-15, 0)), 4500.0 / 6300.0, kAreaTol);
  // 15 units along the stem: bar 120 x 15 + bar-in-stem 30 x 15 + stem 30 x 75 -> 4500 / 6300
  EXPECT_NEAR(PushTTask::Coverage(GoalShiftedLocal(0, 15)), 4500.0 / 6300.0, kAreaTol);
  // 5 along the bar: 6300 - 120 x 5
  EXPECT_NEAR(PushTTask::Coverage(GoalShiftedLocal(5, 0)), 5700.0 / 6300.0, kAreaTol);
  // a world-axis translation at angle 0 against a goal at angle 0 would be the same; here the
  // block at angle 0 and the goal at pi/4 only partly overlap, and far away -> 0
  EXPECT_GT(PushTTask::Coverage({256, 256, 0}), 0.0);
  EXPECT_LT(PushTTask::Coverage({256, 256, 0}), 1.0);
  EXPECT_EQ(PushTTask::Coverage({50, 50, 0.3}), 0.0);
  EXPECT_EQ(PushTTask::Coverage({256, 256 + 200, PushTTask::kGoalAngle}), 0.0);
  // the T's area
  EXPECT_DOUBLE_EQ(PushTTask::kTArea, 6300.0);
}

TEST(PushTTest, RewardClippingAndSuccessThreshold) {
  EXPECT_DOUBLE_EQ(PushTTask::RewardFromCoverage(1.0), 1.0);
  EXPECT_DOUBLE_EQ(PushTTask::RewardFromCoverage(0.97), 1.0);
  EXPECT_DOUBLE_EQ(PushTTask::RewardFromCoverage(0.475), 0.5);
  EXPECT_DOUBLE_EQ(PushTTask::RewardFromCoverage(0.0), 0.0);
  EXPECT_DOUBLE_EQ(PushTTask::RewardFromCoverage(-0.1), 0.0);

  PushTTask task;
  task.Reset(0);
  // 2 units off: 1 - 240/6300 = 0.962 > 0.95 -> success, reward 1
  task.SetPoses({40, 40}, GoalShiftedLocal(2, 0));
  Outcome o = task.Evaluate();
  EXPECT_TRUE(o.success);
  EXPECT_DOUBLE_EQ(o.reward, 1.0);
  EXPECT_DOUBLE_EQ(o.score, 1.0);
  // 3 units off: 1 - 360/6300 = 0.943 -> no success, reward 0.943 / 0.95
  task.SetPoses({40, 40}, GoalShiftedLocal(3, 0));
  o = task.Evaluate();
  EXPECT_FALSE(o.success);
  EXPECT_NEAR(o.reward, (1.0 - 360.0 / 6300.0) / 0.95, kAreaTol);
  task.SetPoses({40, 40}, {100, 100, 0});
  EXPECT_DOUBLE_EQ(task.Evaluate().reward, 0.0);
}

TEST(PushTTest, ResetDrawsFromTheOriginalDistribution) {
  PushTTask task;
  std::set<std::pair<double, double>> agents;
  int outside_pi = 0;
  int overlapping = 0;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    task.Reset(seed);
    const nlohmann::json meta = task.EpisodeMeta();
    const double ax = meta["reset_agent_pos"][0], ay = meta["reset_agent_pos"][1];
    const double bx = meta["reset_block"][0], by = meta["reset_block"][1];
    const double angle = meta["reset_block"][2];
    for (double v : {ax, ay}) {
      EXPECT_GE(v, 50);
      EXPECT_LE(v, 449);
      EXPECT_EQ(v, std::floor(v));
    }
    for (double v : {bx, by}) {
      EXPECT_GE(v, 100);
      EXPECT_LE(v, 399);
      EXPECT_EQ(v, std::floor(v));
    }
    if (std::abs(angle) > M_PI) ++outside_pi;
    agents.insert({ax, ay});
    // legacy set-state: the centre of gravity sits at (x, y) + (0, 45)
    const Eigen::Vector3d pose = task.BlockPose();
    const Eigen::Vector2d cog =
        pose.head<2>() + Eigen::Rotation2Dd(pose.z()) * Eigen::Vector2d(0, 45);
    const Eigen::Vector2d pusher = task.AgentPos();
    // Every start state is exactly the drawn one, also when the pusher is drawn inside the T
    // (as in the original, whose reset step moves nothing).
    if (task.sim().data()->ncon > 0) ++overlapping;  // the pusher drawn inside the T
    EXPECT_NEAR(cog.x(), bx, 1e-9);
    EXPECT_NEAR(cog.y(), by + 45, 1e-9);
    EXPECT_NEAR(pose.z(), angle, 1e-12);
    EXPECT_NEAR(pusher.x(), ax, 1e-12);
    EXPECT_NEAR(pusher.y(), ay, 1e-12);
    EXPECT_EQ(task.LastAbsAction(), std::vector<double>({ax, ay}));
  }
  EXPECT_GT(agents.size(), 55u);
  EXPECT_GT(overlapping, 0);  // these seeds include such draws
  // randn * 2 pi - pi: a Gaussian of std 2 pi, so most draws fall outside [-pi, pi]
  EXPECT_GT(outside_pi, 20);
}

TEST(PushTTest, BlockIsQuasiStaticAndPusherKinematic) {
  PushTTask task;
  task.Reset(1);
  const Eigen::Vector3d block(256, 256, 0.3);
  task.SetPoses({60, 60}, block);
  // pusher moves far from the block: the block does not move at all
  task.Step({120, 80});
  EXPECT_EQ(task.BlockPose(), block);
  const mjData* d = task.sim().data();
  const PushTLayout& l = task.layout();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(d->qvel[l.block_dof + i], 0.0, 1e-12);
  // the pusher follows the PD law exactly (no contact): simulate it by hand
  {
    Eigen::Vector2d p(60, 60), v(0, 0);
    const PlanarPdController pd;
    for (int s = 0; s < 10; ++s) {
      v = pd.Update(p, v, {120, 80}, 0.01);
      p += v * 0.01;
    }
    EXPECT_NEAR(task.AgentPos().x(), p.x(), 1e-9);
    EXPECT_NEAR(task.AgentPos().y(), p.y(), 1e-9);
  }

  // push the block's bar bottom (local y = 0) through the centre of gravity: it translates along
  // the inward normal by about the depth, does not turn, and stops when the pusher stops
  task.SetPoses({256, 256 - 15 - 10}, {256, 256, 0});
  for (int t = 0; t < 8; ++t) task.Step({256, 256 - 15 + 20});  // 20 units past first contact
  const Eigen::Vector3d pushed = task.BlockPose();
  EXPECT_NEAR(pushed.x(), 256, 1e-6);
  EXPECT_NEAR(pushed.z(), 0, 1e-6);
  EXPECT_GT(pushed.y(), 256 + 17);
  EXPECT_LT(pushed.y(), 256 + 23);
  // the pusher is not pushed back: it reached its target
  EXPECT_NEAR(task.AgentPos().y(), 256 - 15 + 20, 0.5);
  // hold still: the block keeps no velocity
  task.Step({256, 256 - 15 + 20});
  task.Step({256, 256 - 15 + 20});
  const Eigen::Vector3d held = task.BlockPose();
  task.Step({256, 100});  // pull away: frictionless, no adhesion
  EXPECT_NEAR((task.BlockPose() - held).norm(), 0.0, 0.05);
  EXPECT_TRUE(task.episode_error().empty()) << task.episode_error();
}

TEST(PushTTest, ObservationKeysShapesAndFlatState) {
  PushTTask task;
  task.Reset(5);
  task.Step({300, 300});
  Observation obs;
  task.Observe(&obs, /*render=*/false);
  ASSERT_EQ(obs.lowdim.count("agent_pos"), 1u);
  ASSERT_EQ(obs.lowdim.count("keypoints"), 1u);
  ASSERT_EQ(obs.lowdim.count("state"), 1u);
  EXPECT_TRUE(obs.images.empty());
  const auto& agent = obs.lowdim["agent_pos"];
  const auto& kp = obs.lowdim["keypoints"];
  const auto& state = obs.lowdim["state"];
  ASSERT_EQ(agent.size(), 2u);
  ASSERT_EQ(kp.size(), 20u);
  ASSERT_EQ(state.size(), 5u);
  EXPECT_EQ(kp[18], agent[0]);
  EXPECT_EQ(kp[19], agent[1]);
  const auto k = PushTTask::Keypoints(task.BlockPose());
  for (int i = 0; i < 9; ++i) {
    EXPECT_DOUBLE_EQ(kp[2 * i], k[i].x());
    EXPECT_DOUBLE_EQ(kp[2 * i + 1], k[i].y());
  }
  EXPECT_GE(state[4], 0.0);
  EXPECT_LT(state[4], 2 * M_PI);
  // keypoints at the goal pose are the goal's: all inside the world, distinct
  const auto g = PushTTask::Keypoints(PushTTask::GoalPose());
  for (int i = 0; i < 9; ++i) {
    for (int j = i + 1; j < 9; ++j) EXPECT_GT((g[i] - g[j]).norm(), 5.0);
  }
  // spec lists every key
  std::set<std::string> keys;
  for (const auto& f : task.spec().obs) keys.insert(f.key);
  EXPECT_EQ(keys, (std::set<std::string>{"agent_pos", "keypoints", "state", "image"}));
  // states = [time, agent xy, block x y angle, qvel 5]
  const std::vector<double> flat = task.sim().FlatState();
  ASSERT_EQ(flat.size(), 11u);
  EXPECT_EQ(flat[1], agent[0]);
  EXPECT_EQ(flat[2], agent[1]);
  EXPECT_EQ(flat[3], task.BlockPose().x());
  EXPECT_EQ(flat[4], task.BlockPose().y());
  EXPECT_EQ(flat[5], task.BlockPose().z());
  EXPECT_EQ(task.LastAbsAction(), std::vector<double>({300, 300}));
}

TEST(PushTTest, BadActions) {
  PushTTask task;
  task.Reset(2);
  EXPECT_THROW(task.Step({1.0, 2.0, 3.0}), std::invalid_argument);
  task.Step({std::numeric_limits<double>::quiet_NaN(), 3.0});
  EXPECT_FALSE(task.episode_error().empty());
  EXPECT_FALSE(task.Evaluate().success);
  task.Reset(2);
  EXPECT_TRUE(task.episode_error().empty());
}

bool Near(const uint8_t* p, int r, int g, int b, int tol = 12) {
  return std::abs(p[0] - r) <= tol && std::abs(p[1] - g) <= tol && std::abs(p[2] - b) <= tol;
}

TEST(PushTTest, ImageShowsGoalBlockAndPusherInDiffusionPolicyColours) {
  PushTTask task;
  task.Reset(0);
  task.SetPoses({400, 400}, {100, 100, 0});
  Observation obs;
  task.Observe(&obs, /*render=*/true);
  ASSERT_EQ(obs.images.count("image"), 1u);
  const Image& img = obs.images.at("image");
  ASSERT_EQ(img.height, 96);
  ASSERT_EQ(img.width, 96);
  auto px = [&](double x, double y) {  // PushT coordinates -> pixel (DP: y down)
    return img.at(static_cast<int>(y * 96 / 512), static_cast<int>(x * 96 / 512));
  };
  auto show = [](const uint8_t* p) {
    return std::to_string(p[0]) + "," + std::to_string(p[1]) + "," + std::to_string(p[2]);
  };
  // goal: stem middle (local (0, 75) at (256, 256, pi/4)) is LightGreen
  const Eigen::Vector2d goal_stem =
      Eigen::Vector2d(256, 256) + Eigen::Rotation2Dd(M_PI / 4) * Eigen::Vector2d(0, 75);
  EXPECT_TRUE(Near(px(goal_stem.x(), goal_stem.y()), 144, 238, 144)) << show(px(goal_stem.x(), goal_stem.y()));
  // block: bar centre (100, 115) and stem middle (100, 175) are LightSlateGray x 1.2
  EXPECT_TRUE(Near(px(100, 115), 142, 163, 183)) << show(px(100, 115));
  EXPECT_TRUE(Near(px(100, 175), 142, 163, 183)) << show(px(100, 175));
  // pusher at (400, 400): RoyalBlue family (inner disc x 1.2)
  const uint8_t* p = px(400, 400);
  EXPECT_GT(p[2], 200) << show(p);
  EXPECT_LT(p[0], 100) << show(p);
  // background white, top-left of the world empty
  EXPECT_TRUE(Near(px(450, 100), 255, 255, 255, 3)) << show(px(450, 100));
  EXPECT_TRUE(Near(px(256, 470), 255, 255, 255, 3)) << show(px(256, 470));
}

TEST(PushTTest, ExpertIsDeterministicPerSeedAndSeedsDiffer) {
  PushTTask a, b;
  RunExpert(a, 7, 25);
  RunExpert(b, 7, 25);
  EXPECT_EQ(a.sim().StateHash(), b.sim().StateHash());
  RunExpert(b, 8, 25);
  EXPECT_NE(a.sim().StateHash(), b.sim().StateHash());
  RunExpert(a, 8, 25);  // the same task object reproduces another run exactly
  EXPECT_EQ(a.sim().StateHash(), b.sim().StateHash());
}

TEST(PushTTest, ExpertPushesTheTHome) {
  PushTTask task;
  for (uint64_t seed : {0, 1}) {
    const int steps = RunExpert(task, seed, 300);
    EXPECT_TRUE(task.Evaluate().success) << "seed " << seed << " coverage "
                                         << PushTTask::Coverage(task.BlockPose());
    EXPECT_LT(steps, 300);
    EXPECT_TRUE(task.episode_error().empty()) << task.episode_error();
  }
}

}  // namespace
}  // namespace onedp
