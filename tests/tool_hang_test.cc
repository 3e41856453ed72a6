// ToolHang: spec numbers, reset distribution, each of the eight success tests on constructed states,
// observations, expert determinism.
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tasks/common/operators.h"
#include "tasks/task_registry.h"
#include "tasks/tool_hang/tool_hang.h"
#include "tasks/tool_hang/tool_hang_expert.h"
#include "tests/task_test_util.h"

namespace onedp {
namespace {

constexpr double kBarYaw = 3.0 * M_PI / 4.0;  // any yaw works; this is the expert's

// The first contact between the frame and a robot0 arm or gripper geom, or nullptr.
const mjContact* ArmContactWithFrame(const ToolHangTask& task) {
  const mjModel* m = task.sim().model();
  const mjData* d = task.sim().data();
  const int frame = mj_name2id(m, mjOBJ_BODY, "frame");
  for (int i = 0; i < d->ncon; ++i) {
    const int b1 = m->geom_bodyid[d->contact[i].geom1], b2 = m->geom_bodyid[d->contact[i].geom2];
    const int other = b1 == frame ? b2 : b2 == frame ? b1 : -1;
    const std::string on = other >= 0 ? mj_id2name(m, mjOBJ_BODY, other) : "";
    if (on.rfind("robot0", 0) == 0 || on.rfind("gripper0", 0) == 0) return &d->contact[i];
  }
  return nullptr;
}

Eigen::Matrix3d FrameUprightRot() {
  const Eigen::Vector3d bar(std::cos(kBarYaw), std::sin(kBarYaw), 0.0);
  Eigen::Matrix3d r;
  r.col(0) = -bar;
  r.col(2) = Eigen::Vector3d::UnitZ();
  r.col(1) = r.col(2).cross(r.col(0));
  return r;
}

// A state that passes all eight tests: the frame upright in the mount with its tip 0.5 mm above the
// base plate, the wrench hanging from the hook bar (hole 1 around it, plane perpendicular to it, the
// ring's top box pressing 0.2 mm into the bar top), `u` = hole position along the bar as a fraction of
// the hook length from the free end. The robot base is moved 0.6 m back so the arm touches nothing.
struct HungState {
  explicit HungState(ToolHangTask& task, double u = 0.35, double lift = 0.0, double side = 0.0)
      : task(task) {
    task.Reset(0);
    mjModel* m = task.sim().model();
    const int base = mj_name2id(m, mjOBJ_BODY, "robot0_base");
    m->body_pos[3 * base] -= 0.6;
    const Eigen::Matrix3d rf = FrameUprightRot();
    const Eigen::Vector3d tip(ToolHangTask::kMountX, ToolHangTask::kMountY, ToolHangTask::kBaseTopZ + 0.0005);
    task.PlaceFrame(tip - rf * Eigen::Vector3d(ToolHangTask::kRodX, 0, -0.13445), Eigen::Quaterniond(rf));
    PlaceToolOnBar(u, lift, side);
  }
  ~HungState() {
    mjModel* m = task.sim().model();
    const int base = mj_name2id(m, mjOBJ_BODY, "robot0_base");
    m->body_pos[3 * base] += 0.6;
  }
  void PlaceToolOnBar(double u, double lift, double side) {
    const Eigen::Vector3d hang = task.SitePos(task.site_id("frame_hang_site"));
    const Eigen::Vector3d inter = task.SitePos(task.site_id("frame_intersection_site"));
    const Eigen::Vector3d along = (inter - hang).normalized();
    Eigen::Matrix3d rt;
    rt.col(0) = -Eigen::Vector3d::UnitZ();  // hole 1 (tool -x) up
    rt.col(2) = -along;
    rt.col(1) = rt.col(2).cross(rt.col(0));
    const Eigen::Vector3d perp = Eigen::Vector3d::UnitZ().cross(along);
    // ring inner top face (0.0097 above the hole centre) 0.2 mm into the bar top (0.00375 above its axis)
    const Eigen::Vector3d hole = hang + u * (inter - hang).norm() * along +
                                 Eigen::Vector3d(0, 0, 0.00375 - 0.0002 - 0.0097003 + lift) + side * perp;
    task.PlaceTool(hole - rt * Eigen::Vector3d(-ToolHangTask::kHole1Offset, 0, 0), Eigen::Quaterniond(rt));
  }
  ToolHangTask& task;
};

// Rigidly moves frame and tool by (rot about `pivot`, then + shift), and the fixed stand too when
// `with_stand`; runs mj_forward.
void MoveRigidly(ToolHangTask& task, const Eigen::Matrix3d& rot, const Eigen::Vector3d& pivot,
                 const Eigen::Vector3d& shift, bool with_stand) {
  const Eigen::Vector3d fp = task.FramePos(), tp = task.ToolPos();
  const Eigen::Matrix3d fr = task.FrameRot(), tr = task.ToolRot();
  if (with_stand) {
    mjModel* m = task.sim().model();
    const int stand = mj_name2id(m, mjOBJ_BODY, "stand");
    Eigen::Map<Eigen::Vector3d> sp(m->body_pos + 3 * stand);
    sp = pivot + rot * (Eigen::Vector3d(sp) - pivot) + shift;
    Eigen::Quaterniond sq(m->body_quat[4 * stand], m->body_quat[4 * stand + 1], m->body_quat[4 * stand + 2],
                          m->body_quat[4 * stand + 3]);
    sq = Eigen::Quaterniond(rot) * sq;
    m->body_quat[4 * stand] = sq.w();
    m->body_quat[4 * stand + 1] = sq.x();
    m->body_quat[4 * stand + 2] = sq.y();
    m->body_quat[4 * stand + 3] = sq.z();
  }
  task.PlaceFrame(pivot + rot * (fp - pivot) + shift, Eigen::Quaterniond(rot * fr));
  task.PlaceTool(pivot + rot * (tp - pivot) + shift, Eigen::Quaterniond(rot * tr));
}

std::string Describe(const ToolHangChecks& c) {
  std::string s = "frame ";
  for (bool b : c.frame) s += b ? '1' : '0';
  s += " tool ";
  for (bool b : c.tool) s += b ? '1' : '0';
  return s;
}

// Expects exactly the tests in `failing` (indices 0-2 frame, 3-7 tool) to fail, and success false
// unless nothing fails.
void ExpectOnlyFailing(const ToolHangTask& task, std::set<int> failing) {
  const ToolHangChecks c = task.Checks();
  for (int i = 0; i < 8; ++i) {
    const bool pass = i < 3 ? c.frame[i] : c.tool[i - 3];
    EXPECT_EQ(pass, failing.count(i) == 0) << "check " << i << ": " << Describe(c);
  }
  EXPECT_EQ(task.Evaluate().success, failing.empty()) << Describe(c);
  EXPECT_EQ(task.Evaluate().reward, failing.empty() ? 1.0 : 0.0);
}

TEST(ToolHangTest, RegisteredWithTheRobomimicSpec) {
  std::set<std::string> names;
  for (const auto& t : RegisteredTasks()) names.insert(t.name);
  EXPECT_TRUE(names.count("tool-hang-ph"));
  EXPECT_FALSE(names.count("tool-hang-mh"));  // robomimic has no ToolHang MH
  auto task = MakeTask("tool-hang-ph");
  const TaskSpec& s = task->spec();
  EXPECT_EQ(s.env_name, "ToolHang");
  EXPECT_EQ(s.max_steps, 700);
  ExpectRobosuiteControl(*task, 1);
  EXPECT_EQ(s.cameras, (std::vector<std::string>{"sideview", "robot0_eye_in_hand"}));
  EXPECT_EQ(s.image_height, 240);
  EXPECT_EQ(s.image_width, 240);
  EXPECT_THROW(ToolHangTask("mh"), std::invalid_argument);
}

TEST(ToolHangTest, GeometryMatchesTheSpec) {
  ToolHangTask task;
  task.Reset(0);
  const mjModel* m = task.sim().model();
  const mjData* d = task.sim().data();
  auto geom = [&](const char* n) { return mj_name2id(m, mjOBJ_GEOM, n); };
  auto size = [&](const char* n, int i) { return m->geom_size[3 * geom(n) + i]; };
  EXPECT_NEAR(d->site_xpos[3 * mj_name2id(m, mjOBJ_SITE, "table_top") + 2], 0.8, 1e-12);
  // stand: 12 x 14 cm base, 16 cm tall, mount 1.2 cm wide (outside) with 1 mm walls at (0, 0.045)
  const int base = geom("stand_base");
  EXPECT_NEAR(2 * size("stand_base", 0), 0.12, 1e-12);
  EXPECT_NEAR(2 * size("stand_base", 1), 0.14, 1e-12);
  EXPECT_NEAR(d->geom_xpos[3 * base + 2] - size("stand_base", 2), 0.801, 1e-12);
  const int w1 = geom("stand_wall1"), w3 = geom("stand_wall3");
  EXPECT_NEAR(d->geom_xpos[3 * w3] - d->geom_xpos[3 * w1] + 2 * size("stand_wall1", 0), 0.012, 1e-12);
  EXPECT_NEAR(d->geom_xpos[3 * w3] - d->geom_xpos[3 * w1] - 2 * size("stand_wall1", 0), 0.010, 1e-12);
  EXPECT_NEAR(0.5 * (d->geom_xpos[3 * w1] + d->geom_xpos[3 * w3]), ToolHangTask::kMountX, 1e-12);
  EXPECT_NEAR(d->geom_xpos[3 * w1 + 2] + size("stand_wall1", 2), ToolHangTask::kWallTopZ, 1e-12);
  EXPECT_NEAR(d->geom_xpos[3 * base + 2] + size("stand_base", 2), ToolHangTask::kBaseTopZ, 1e-12);
  // frame: 9.5 cm bar, 18 cm tall, 0.75 cm thick, 1.2 cm hook, grip (0.0127, 0.03175)
  EXPECT_NEAR(2 * size("frame_horizontal_frame", 0), 0.095, 1e-12);
  EXPECT_NEAR(2 * size("frame_horizontal_frame", 1), 0.0075, 1e-12);
  EXPECT_NEAR(2 * size("frame_vertical_frame", 2) + 0.0075, 0.18, 1e-12);
  EXPECT_NEAR(2 * size("frame_hook_frame", 2), 0.012, 1e-12);
  EXPECT_NEAR(size("frame_grip_frame", 0), 0.0127, 1e-12);
  EXPECT_NEAR(size("frame_grip_frame", 2), 0.03175, 1e-12);
  // tool: handle, ring 1 (8 boxes: inner flats at inner radius cos(pi/8)), grip radius
  EXPECT_NEAR(size("tool_handle", 0), 0.0825, 1e-12);
  EXPECT_NEAR(size("tool_handle", 1), 0.00875, 1e-12);
  EXPECT_NEAR(size("tool_handle", 2), 0.0016, 1e-12);
  // grip: robosuite's box grip (R, R, H) = (0.015, 0.015, 0.04), its long side along the handle (x)
  EXPECT_EQ(m->geom_type[geom("tool_grip")], mjGEOM_BOX);
  EXPECT_NEAR(size("tool_grip", 0), 0.04, 1e-12);
  EXPECT_NEAR(size("tool_grip", 1), 0.015, 1e-12);
  EXPECT_NEAR(size("tool_grip", 2), 0.015, 1e-12);
  EXPECT_NEAR(size("tool_hole1_hc_0", 2), 0.0035, 1e-12);
  const int hc4 = geom("tool_hole1_hc_4");
  EXPECT_NEAR(m->geom_pos[3 * hc4] - size("tool_hole1_hc_4", 0), 0.0105 * std::cos(M_PI / 8), 1e-6);
  EXPECT_NEAR(m->geom_pos[3 * hc4] + size("tool_hole1_hc_4", 0), 0.0175 * std::cos(M_PI / 8), 1e-6);
  EXPECT_EQ(m->geom_condim[hc4], 4);
  EXPECT_NEAR(m->geom_friction[3 * hc4], 0.95, 1e-12);
}

TEST(ToolHangTest, ResetDrawsFromTheDocumentedRanges) {
  ToolHangTask task;
  std::set<double> xs;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    task.Reset(seed);
    const Eigen::Vector3d fp = task.FramePos();
    const Eigen::Matrix3d fr = task.FrameRot();
    EXPECT_GE(fp.x(), -0.06);
    EXPECT_LE(fp.x(), -0.02);
    EXPECT_GE(fp.y(), -0.26);
    EXPECT_LE(fp.y(), -0.22);
    EXPECT_NEAR(fp.z(), 0.8415, 1e-9);
    // lying flat: body y straight down, rod (body z) horizontal at yaw pi - a, a in -pi/3 +- pi/18
    EXPECT_NEAR(fr(2, 1), -1.0, 1e-9);
    EXPECT_NEAR(fr(2, 2), 0.0, 1e-9);
    const double rod_yaw = std::atan2(fr(1, 2), fr(0, 2)) + 2 * M_PI;  // in (pi, 2 pi)
    EXPECT_GE(rod_yaw, 4 * M_PI / 3 - M_PI / 18 - 1e-9);
    EXPECT_LE(rod_yaw, 4 * M_PI / 3 + M_PI / 18 + 1e-9);
    const Eigen::Vector3d tp = task.ToolPos();
    const Eigen::Matrix3d tr = task.ToolRot();
    EXPECT_GE(tp.x(), 0.02);
    EXPECT_LE(tp.x(), 0.06);
    EXPECT_GE(tp.y(), -0.22);
    EXPECT_LE(tp.y(), -0.18);
    EXPECT_NEAR(tp.z(), 0.841, 1e-9);
    EXPECT_NEAR(tr(2, 2), 1.0, 1e-9);  // pure yaw
    const double yaw = std::atan2(tr(1, 0), tr(0, 0));
    EXPECT_GE(yaw, -M_PI / 2 - M_PI / 9 - M_PI / 18 - 1e-9);
    EXPECT_LE(yaw, -M_PI / 2 - M_PI / 9 + M_PI / 18 + 1e-9);
    xs.insert(fp.x());
    EXPECT_FALSE(task.Evaluate().success);
    EXPECT_FALSE(task.Checks().FrameAssembled());
  }
  EXPECT_EQ(xs.size(), 20u);
}

TEST(ToolHangTest, ConstructedHungStatePassesEveryCheck) {
  ToolHangTask task;
  HungState s(task);
  ExpectOnlyFailing(task, {});
  Observation obs;
  task.Observe(&obs, false);
  EXPECT_DOUBLE_EQ(obs.lowdim.at("object")[42], 1.0);  // frame_is_assembled
  EXPECT_DOUBLE_EQ(obs.lowdim.at("object")[43], 1.0);  // tool_on_frame
}

TEST(ToolHangTest, StandTiltedPastTenDegreesFailsOnlyUpright) {
  ToolHangTask task;
  HungState s(task);
  const mjData* d = task.sim().data();
  const int base = mj_name2id(task.sim().model(), mjOBJ_GEOM, "stand_base");
  const Eigen::Vector3d pivot(d->geom_xpos[3 * base], d->geom_xpos[3 * base + 1], d->geom_xpos[3 * base + 2]);
  const Eigen::Matrix3d tilt9 = Eigen::AngleAxisd(9.5 * M_PI / 180, Eigen::Vector3d::UnitX()).toRotationMatrix();
  MoveRigidly(task, tilt9, pivot, Eigen::Vector3d::Zero(), true);
  ExpectOnlyFailing(task, {});
  const Eigen::Matrix3d tilt1 = Eigen::AngleAxisd(1.0 * M_PI / 180, Eigen::Vector3d::UnitX()).toRotationMatrix();
  MoveRigidly(task, tilt1, pivot, Eigen::Vector3d::Zero(), true);  // 10.5 degrees in all
  ExpectOnlyFailing(task, {0});
  // restore the model's stand
  MoveRigidly(task, (tilt1 * tilt9).transpose(), pivot, Eigen::Vector3d::Zero(), true);
  ExpectOnlyFailing(task, {});
}

TEST(ToolHangTest, FrameNotPushedDownFailsOnlyTipDistance) {
  ToolHangTask task;
  HungState s(task);
  // |tip - base centre| < 0.05 with the mount 0.045 off the base centre: the tip may be at most
  // sqrt(0.05^2 - 0.045^2) = 0.0218 above the base plate's centre (0.0168 above its top)
  MoveRigidly(task, Eigen::Matrix3d::Identity(), Eigen::Vector3d::Zero(), Eigen::Vector3d(0, 0, 0.0155), false);
  ExpectOnlyFailing(task, {});
  MoveRigidly(task, Eigen::Matrix3d::Identity(), Eigen::Vector3d::Zero(), Eigen::Vector3d(0, 0, 0.0025), false);
  ExpectOnlyFailing(task, {1});
}

TEST(ToolHangTest, RodOutsideTheWallsFailsOnlyBetweenWalls) {
  ToolHangTask task;
  HungState s(task);
  // 1.5 cm toward the base centre (-y): outside the mount, tip still within 5 cm of the base centre
  MoveRigidly(task, Eigen::Matrix3d::Identity(), Eigen::Vector3d::Zero(), Eigen::Vector3d(0, -0.015, 0), false);
  ExpectOnlyFailing(task, {2});
  MoveRigidly(task, Eigen::Matrix3d::Identity(), Eigen::Vector3d::Zero(), Eigen::Vector3d(0.012, 0.015, 0), false);
  ExpectOnlyFailing(task, {2});  // beside the +x wall
}

TEST(ToolHangTest, FingerpadTouchingTheToolFailsOnlyNoRobotContact) {
  ToolHangTask task;
  HungState s(task);
  ExpectOnlyFailing(task, {});
  // a fingerpad-tool contact, added to the contact list the predicate reads
  mjData* d = task.sim().data();
  const mjModel* m = task.sim().model();
  ASSERT_GT(d->ncon, 0);
  ASSERT_LT(d->ncon, m->nconmax);
  for (int pad = 0; pad < 2; ++pad) {
    d->contact[d->ncon] = d->contact[0];
    d->contact[d->ncon].geom1 = task.robot().pad_geoms()[pad];
    d->contact[d->ncon].geom2 = mj_name2id(m, mjOBJ_GEOM, "tool_grip");
    ++d->ncon;
    ExpectOnlyFailing(task, {3});
    --d->ncon;
  }
  ExpectOnlyFailing(task, {});
}

TEST(ToolHangTest, RingNotTouchingTheBarFailsOnlyContact) {
  ToolHangTask task;
  HungState s(task, 0.35, /*lift=*/0.0006);
  ExpectOnlyFailing(task, {4});
}

TEST(ToolHangTest, RingOffTheHookLineFailsOnlyDistance) {
  ToolHangTask task;
  // 3 mm sideways: the centre is sqrt(0.00615^2 + 0.003^2) = 0.00684 > 0.00675 from the line
  HungState s(task, 0.35, 0.0, 0.003);
  ExpectOnlyFailing(task, {5});
  s.PlaceToolOnBar(0.35, 0.0, 0.0025);  // 0.00664: inside
  ExpectOnlyFailing(task, {});
}

TEST(ToolHangTest, RingNotAroundTheBarFailsOnlyStraddle) {
  ToolHangTask task;
  HungState s(task);
  // the ring lying flat in the bar's plane, 3 mm below the bar axis: centre close to the line and
  // touching the bar, but hc_0 and hc_4 both on the line's lower side
  const Eigen::Vector3d hang = task.SitePos(task.site_id("frame_hang_site"));
  const Eigen::Vector3d inter = task.SitePos(task.site_id("frame_intersection_site"));
  const Eigen::Vector3d along = (inter - hang).normalized();
  Eigen::Matrix3d rt;
  rt.col(0) = along;
  rt.col(2) = Eigen::Vector3d::UnitZ();
  rt.col(1) = rt.col(2).cross(rt.col(0));
  const Eigen::Vector3d hole = hang + 0.35 * (inter - hang).norm() * along - Eigen::Vector3d(0, 0, 0.003);
  task.PlaceTool(hole - rt * Eigen::Vector3d(-ToolHangTask::kHole1Offset, 0, 0), Eigen::Quaterniond(rt));
  ExpectOnlyFailing(task, {6});
}

TEST(ToolHangTest, RingNotFarEnoughAlongTheHookFailsOnlyInsertion) {
  ToolHangTask task;
  {
    HungState s(task, 0.04);
    ExpectOnlyFailing(task, {7});
  }
  {
    HungState s(task, 0.06);
    ExpectOnlyFailing(task, {});
  }
  {
    HungState s(task, 1.01);  // past the rod
    ExpectOnlyFailing(task, {7});
  }
}

TEST(ToolHangTest, ObservationKeysAndShapes) {
  ToolHangTask task;
  task.Reset(1);
  for (int t = 0; t < 3; ++t) task.Step({0.2, 0.1, -0.1, 0.05, 0.0, 0.1, -1});
  Observation obs;
  task.Observe(&obs, /*render=*/false);
  EXPECT_EQ(obs.lowdim.at("robot0_eef_pos").size(), 3u);
  EXPECT_EQ(obs.lowdim.at("robot0_eef_quat").size(), 4u);
  EXPECT_EQ(obs.lowdim.at("robot0_gripper_qpos").size(), 2u);
  const auto& o = obs.lowdim.at("object");
  ASSERT_EQ(o.size(), 44u);
  const mjModel* m = task.sim().model();
  const mjData* d = task.sim().data();
  const int base = mj_name2id(m, mjOBJ_GEOM, "stand_base");
  const int inter = task.site_id("frame_intersection_site");
  for (int i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(o[i], d->geom_xpos[3 * base + i]);
    EXPECT_DOUBLE_EQ(o[14 + i], d->site_xpos[3 * inter + i]);
    EXPECT_DOUBLE_EQ(o[28 + i], task.ToolPos()[i]);
  }
  // quats are unit, xyzw with w >= 0; relative poses are in the grip-site frame
  const Eigen::Vector3d eef = task.robot().EefPos();
  const Eigen::Matrix3d reef = task.robot().EefRot();
  for (int k = 0; k < 3; ++k) {
    const int b = 14 * k;
    const Eigen::Quaterniond q(o[b + 6], o[b + 3], o[b + 4], o[b + 5]);
    EXPECT_NEAR(q.norm(), 1.0, 1e-9);
    EXPECT_GE(o[b + 6], 0.0);
    const Eigen::Vector3d p(o[b], o[b + 1], o[b + 2]);
    const Eigen::Vector3d rel = reef.transpose() * (p - eef);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(o[b + 7 + i], rel[i], 1e-12);
    const Eigen::Quaterniond rq(o[b + 13], o[b + 10], o[b + 11], o[b + 12]);
    EXPECT_LT((rq.toRotationMatrix() - reef.transpose() * q.toRotationMatrix()).norm(), 1e-9);
  }
  EXPECT_LT((Eigen::Quaterniond(o[34], o[31], o[32], o[33]).toRotationMatrix() - task.ToolRot()).norm(), 1e-9);
  EXPECT_DOUBLE_EQ(o[42], 0.0);
  EXPECT_DOUBLE_EQ(o[43], 0.0);
  std::set<std::string> keys;
  for (const auto& f : task.spec().obs) {
    keys.insert(f.key);
    if (f.key == "object") {
      EXPECT_EQ(f.shape, std::vector<int>{44});
    }
    if (f.is_image) {
      EXPECT_EQ(f.shape, (std::vector<int>{240, 240, 3}));
    }
  }
  for (const auto& k : {"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object", "sideview_image",
                        "robot0_eye_in_hand_image"}) {
    EXPECT_TRUE(keys.count(k)) << k;
  }
  EXPECT_EQ(keys.size(), 6u);
}

TEST(ToolHangTest, ExpertSameSeedSameStateDifferentSeedsDiffer) {
  const OperatorProfile op = OperatorsForVariant("ph").front();
  ToolHangTask a, b;
  RunExpert(a, op, 7, 80);
  RunExpert(b, op, 7, 80);
  EXPECT_EQ(a.sim().StateHash(), b.sim().StateHash());
  RunExpert(b, op, 8, 80);
  EXPECT_NE(a.sim().StateHash(), b.sim().StateHash());
  RunExpert(a, op, 8, 80);  // the same task object again reproduces it exactly
  EXPECT_EQ(a.sim().StateHash(), b.sim().StateHash());
}

// The expert's first part: the frame ends up assembled (all three tests) and released.
TEST(ToolHangTest, ExpertInsertsTheFrame) {
  const OperatorProfile op = OperatorsForVariant("ph").front();
  ToolHangTask task;
  for (uint64_t seed : {0, 1}) {
    task.Reset(seed);
    ToolHangExpert expert(&task, op, seed);
    int t = 0;
    for (; t < task.spec().max_steps && !expert.frame_done(); ++t) task.Step(expert.Act());
    EXPECT_TRUE(expert.frame_done()) << "seed " << seed << " stopped in " << expert.Phase();
    EXPECT_LT(t, 550) << "seed " << seed;
    EXPECT_TRUE(task.Checks().FrameAssembled()) << "seed " << seed << ": " << Describe(task.Checks());
    EXPECT_TRUE(task.episode_error().empty()) << task.episode_error();
  }
}

// The whole task: frame inserted, then the wrench threaded over the hook and hung, within the horizon.
TEST(ToolHangTest, ExpertHangsTheWrench) {
  const OperatorProfile op = OperatorsForVariant("ph").front();
  ToolHangTask task;
  for (uint64_t seed : {0, 2}) {
    const int steps = RunExpert(task, op, seed, task.spec().max_steps);
    EXPECT_TRUE(task.Evaluate().success) << "seed " << seed << ": " << Describe(task.Checks());
    EXPECT_LT(steps, task.spec().max_steps) << "seed " << seed;
  }
}

// Sub-goals: none after a reset; the constructed hung state has all four (lifted: both objects are
// far above their rest heights on the stand).
TEST(ToolHangTest, SubGoalBitsFollowTheState) {
  ToolHangTask task;
  ASSERT_EQ(task.spec().info.milestones,
            (std::vector<std::string>{"frame_lifted", "frame_assembled", "tool_lifted", "tool_on_frame"}));
  task.Reset(0);
  EXPECT_EQ(task.Evaluate().milestones, 0u);
  HungState s(task);
  EXPECT_EQ(task.Evaluate().milestones, 15u);
}

// The expert reaches the sub-goals in their declared order.
TEST(ToolHangTest, ExpertReachesTheSubGoalsInOrder) {
  ToolHangTask task;
  const std::vector<int> first = FirstMilestoneSteps(task, OperatorsForVariant("ph").front(), 0, task.spec().max_steps);
  ASSERT_EQ(first.size(), 4u);
  for (size_t m = 0; m < first.size(); ++m) EXPECT_GT(first[m], 0) << task.spec().info.milestones[m];
  for (size_t m = 1; m < first.size(); ++m) EXPECT_LE(first[m - 1], first[m]) << task.spec().info.milestones[m];
}

// robosuite 1.5.1's solver options (elliptic friction cone, impratio 20) are ToolHang's own: set in
// tool_hang.xml after the shared scene include, which keeps its 2 ms Euler step; the other robosuite
// tasks keep MuJoCo's defaults (pyramidal, impratio 1).
TEST(ToolHangTest, ModelUsesRobosuiteSolverOptions) {
  ToolHangTask task;
  const mjOption& o = task.sim().model()->opt;
  EXPECT_EQ(o.cone, mjCONE_ELLIPTIC);
  EXPECT_EQ(o.impratio, 20.0);
  EXPECT_EQ(o.timestep, 0.002);
  EXPECT_EQ(o.integrator, mjINT_EULER);
  std::unique_ptr<Task> lift = MakeTask("lift-ph");
  EXPECT_EQ(lift->sim().model()->opt.cone, mjCONE_PYRAMIDAL);
  EXPECT_EQ(lift->sim().model()->opt.impratio, 1.0);
}

// On its way from the released frame to the wrench the hand passes above the frame: under robosuite's
// options a hand dragged across the bar turns the frame in the stand instead of sliding off it (seed 8
// turned it until the forearm rested on the hook and the wrench grasp never converged). No arm or
// gripper geom touches the frame from its release until the wrench is lifted.
TEST(ToolHangTest, ExpertLeavesTheReleasedFrameAlone) {
  const OperatorProfile op = OperatorsForVariant("ph").front();
  ToolHangTask task;
  const uint64_t seed = 8;
  task.Reset(seed);
  ToolHangExpert expert(&task, op, seed);
  int touches = 0, t = 0;
  for (; t < task.spec().max_steps && expert.stage() <= 12; ++t) {  // 12: tool_lift
    task.Step(expert.Act());
    if (expert.frame_done() && ArmContactWithFrame(task) != nullptr) ++touches;
  }
  EXPECT_GT(expert.stage(), 12) << "stopped in " << expert.Phase() << " at step " << t;
  EXPECT_EQ(touches, 0);
  EXPECT_TRUE(task.Checks().FrameAssembled()) << Describe(task.Checks());
}

}  // namespace
}  // namespace onedp

namespace onedp {
namespace {

// Survey (not run by default; --gtest_also_run_disabled_tests): runs the expert on seeds
// [TH_SEED0, TH_SEED0 + TH_SEEDS) for the 700-step horizon and prints, per seed, the step each stage
// was entered, the outcome and, at the end, how many episodes reached each stage and succeeded.
// TH_DEBUG2: the frame's tip, rod axis and bar heading per step from frame_orient to frame_release;
// TH_DEBUG: the wrench's hole along the hook line from tool_orient on; TH_DEBUG3: every step on which
// the arm touches the frame after its release.
TEST(ToolHangSurvey, DISABLED_ExpertStages) {
  const OperatorProfile op = OperatorsForVariant("ph").front();
  const char* n_env = std::getenv("TH_SEEDS");
  const char* s_env = std::getenv("TH_SEED0");
  const int n = n_env ? std::atoi(n_env) : 10;
  const int s0 = s_env ? std::atoi(s_env) : 0;
  const char* t_env = std::getenv("TH_STEPS");  // horizon override, to see where a slow episode ends
  ToolHangTask task;
  const int horizon = t_env ? std::atoi(t_env) : task.spec().max_steps;
  std::vector<int> reached(17, 0);
  int successes = 0;
  for (int seed = s0; seed < s0 + n; ++seed) {
    task.Reset(seed);
    ToolHangExpert expert(&task, op, seed);
    std::vector<int> entered(17, -1);
    entered[expert.stage()] = 0;
    int t = 0;
    bool ok = false;
    for (; t < horizon; ++t) {
      task.Step(expert.Act());
      if (entered[expert.stage()] < 0) entered[expert.stage()] = t + 1;
      if (std::getenv("TH_DEBUG2") && expert.stage() >= 4 && expert.stage() <= 7) {
        const Eigen::Matrix3d fr = task.FrameRot();
        const Eigen::Vector3d tip = task.SitePos(task.site_id("frame_tip_site"));
        std::printf("  t %d %s tip %.4f %.4f %.4f rod %.3f %.3f %.3f bar %.3f %.3f eef %.3f %.3f %.3f fingers %.4f\n",
                    t + 1, expert.Phase().c_str(), tip.x(), tip.y(), tip.z(), fr(0, 2), fr(1, 2), fr(2, 2),
                    -fr(0, 0), -fr(1, 0), task.robot().EefPos().x(), task.robot().EefPos().y(),
                    task.robot().EefPos().z(), task.robot().GripperQpos()[0]);
      }
      if (std::getenv("TH_DEBUG") && expert.stage() >= 13) {
        const Eigen::Vector3d hang = task.SitePos(task.site_id("frame_hang_site"));
        const Eigen::Vector3d along = (task.SitePos(task.site_id("frame_intersection_site")) - hang).normalized();
        const Eigen::Vector3d h = task.SitePos(task.site_id("tool_hole1_center")) - hang;
        const Eigen::Matrix3d tr = task.ToolRot();
        std::printf("  t %d %s u %.4f z %.4f lat %.4f toolz.along %.3f fingers %.4f\n", t + 1, expert.Phase().c_str(),
                    h.dot(along), h.z(), h.dot(Eigen::Vector3d::UnitZ().cross(along)), tr.col(2).dot(along),
                    task.robot().GripperQpos()[0]);
      }
      if (std::getenv("TH_DEBUG3") && expert.stage() >= 8) {  // the arm touching the released frame
        if (const mjContact* c = ArmContactWithFrame(task)) {
          const mjModel* m = task.sim().model();
          std::printf("  t %d %s arm-frame %s/%s dist %.4f at %.3f %.3f %.3f eef %.3f %.3f %.3f\n", t + 1,
                      expert.Phase().c_str(), mj_id2name(m, mjOBJ_GEOM, c->geom1), mj_id2name(m, mjOBJ_GEOM, c->geom2),
                      c->dist, c->pos[0], c->pos[1], c->pos[2], task.robot().EefPos().x(), task.robot().EefPos().y(),
                      task.robot().EefPos().z());
        }
      }
      if (task.Evaluate().success) {
        ok = true;
        break;
      }
    }
    successes += ok;
    std::string line = "seed " + std::to_string(seed) + (ok ? " OK  " : " FAIL") + " t " + std::to_string(t) +
                       " end " + expert.Phase() + " " + Describe(task.Checks()) + " |";
    for (int i = 0; i < 17; ++i) {
      if (entered[i] >= 0) {
        ++reached[i];
        line += " " + std::to_string(i) + ":" + std::to_string(entered[i]);
      }
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  std::string r = "reached:";
  for (int i = 0; i < 17; ++i) r += " " + std::to_string(i) + ":" + std::to_string(reached[i]);
  std::printf("%s\nsuccess %d / %d\n", r.c_str(), successes, n);
}

}  // namespace
}  // namespace onedp
