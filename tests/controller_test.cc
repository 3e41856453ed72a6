// sim/controllers: rotation helpers, the Panda gripper integrator, and OSC_POSE driving the Lift
// task's arm (holding, delta translation/rotation, absolute goals, the abs-action record, torque
// limits, the nullspace projector). Tolerances are stated next to each check with the value
// measured when the test was written (seeds fixed, so every run reproduces those numbers).
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include "sim/controllers.h"
#include "sim/rng.h"
#include "tasks/common/expert_util.h"
#include "tasks/common/panda_robot.h"
#include "tasks/lift/lift.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

// ---- helpers ----------------------------------------------------------------------------------

Eigen::Vector3d RandomAxisAngle(Rng* rng, double max_angle) {
  Eigen::Vector3d axis(rng->Normal(), rng->Normal(), rng->Normal());
  return axis.normalized() * rng->Uniform(0.0, max_angle);
}

double OrthonormalityError(const Eigen::Matrix3d& r) {
  return (r * r.transpose() - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff();
}

// The lift-ph task from the registry, reset with `seed`, and its robot.
struct LiftFixture {
  std::unique_ptr<Task> task;
  LiftTask* lift = nullptr;

  explicit LiftFixture(uint64_t seed) : task(MakeTask("lift-ph")) {
    lift = dynamic_cast<LiftTask*>(task.get());
    if (!lift) throw std::runtime_error("MakeTask(\"lift-ph\") is not a LiftTask");
    task->Reset(seed);
  }
  PandaRobot& robot() { return lift->robot(); }
  // End-effector pose on fresh kinematics. After Task::Step, mjData's site_xpos is the one the
  // last mj_step computed before integrating (one substep old, as in robosuite); mj_forward
  // brings it up to date without changing the state that the next step starts from.
  Eigen::Vector3d EefPos() {
    task->sim().Forward();
    return robot().EefPos();
  }
  Eigen::Matrix3d EefRot() {
    task->sim().Forward();
    return robot().EefRot();
  }
};

std::vector<double> Delta(double x, double y, double z, double rx, double ry, double rz,
                          double gripper) {
  return {x, y, z, rx, ry, rz, gripper};
}

// ---- rotation helpers -------------------------------------------------------------------------

TEST(RotationTest, SixDIsTheFirstTwoRows) {
  // pytorch3d / diffusion_policy convention: rows, not columns. Rz(90 deg) has rows
  // (0, -1, 0), (1, 0, 0), (0, 0, 1).
  const Eigen::Matrix3d rz = AxisAngleToRotation(Eigen::Vector3d(0, 0, M_PI / 2));
  const std::array<double, 6> six = RotationToSixD(rz);
  const std::array<double, 6> expected = {0, -1, 0, 1, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(six[i], expected[i], 1e-15) << i;
}

TEST(RotationTest, SixDRoundTripsRandomRotations) {
  Rng rng(17);
  double worst = 0;
  for (int i = 0; i < 500; ++i) {
    const Eigen::Matrix3d r = AxisAngleToRotation(RandomAxisAngle(&rng, M_PI));
    const std::array<double, 6> six = RotationToSixD(r);
    worst = std::max(worst, (SixDToRotation(six.data()) - r).cwiseAbs().maxCoeff());
  }
  // measured 7.8e-16 (Gram-Schmidt of an already orthonormal pair: rounding only)
  EXPECT_LT(worst, 1e-13);
}

TEST(RotationTest, SixDToRotationOrthonormalisesPerturbedInput) {
  Rng rng(5);
  for (int i = 0; i < 200; ++i) {
    const Eigen::Matrix3d r = AxisAngleToRotation(RandomAxisAngle(&rng, M_PI));
    std::array<double, 6> six = RotationToSixD(r);
    const double scale = rng.Uniform(0.2, 5.0);  // unnormalised rows are allowed
    for (double& v : six) v = scale * (v + rng.Normal(0.0, 0.05));
    const Eigen::Matrix3d out = SixDToRotation(six.data());
    EXPECT_LT(OrthonormalityError(out), 1e-12) << i;
    EXPECT_NEAR(out.determinant(), 1.0, 1e-12) << i;  // proper rotation, not a reflection
    // Row 0 keeps the direction of the first 3-vector (Gram-Schmidt order).
    const Eigen::Vector3d a1(six[0], six[1], six[2]);
    EXPECT_LT((out.row(0).transpose() - a1.normalized()).norm(), 1e-12) << i;
    // Row 1 stays in the plane of the two inputs, on a2's side of row 0.
    const Eigen::Vector3d a2(six[3], six[4], six[5]);
    EXPECT_NEAR(out.row(1).dot(a1.cross(a2).normalized()), 0.0, 1e-12) << i;
    EXPECT_GT(out.row(1).dot(a2), 0.0) << i;
    // 5% noise per entry moves the rotation by at most ~10 deg (measured max 0.19 rad).
    EXPECT_LT(RotationToAxisAngle(out * r.transpose()).norm(), 0.3) << i;
  }
}

TEST(RotationTest, AxisAngleRoundTrip) {
  Rng rng(23);
  double worst = 0;
  for (int i = 0; i < 500; ++i) {
    const Eigen::Vector3d aa = RandomAxisAngle(&rng, M_PI - 1e-3);  // unique below pi
    worst = std::max(worst, (RotationToAxisAngle(AxisAngleToRotation(aa)) - aa).norm());
  }
  EXPECT_LT(worst, 1e-9);  // measured 9.2e-16; Eigen's AngleAxis loses accuracy only near pi
  EXPECT_EQ(AxisAngleToRotation(Eigen::Vector3d::Zero()), Eigen::Matrix3d::Identity());
  EXPECT_LT(RotationToAxisAngle(Eigen::Matrix3d::Identity()).norm(), 1e-15);
  // Right-handed: +90 deg about z maps x to y.
  const Eigen::Vector3d y = AxisAngleToRotation(Eigen::Vector3d(0, 0, M_PI / 2)) * Eigen::Vector3d::UnitX();
  EXPECT_LT((y - Eigen::Vector3d::UnitY()).norm(), 1e-15);
}

TEST(RotationTest, OrientationErrorIsSinAngleTimesAxis) {
  Rng rng(31);
  for (int i = 0; i < 100; ++i) {
    const Eigen::Matrix3d current = AxisAngleToRotation(RandomAxisAngle(&rng, M_PI));
    EXPECT_LT(OrientationError(current, current).norm(), 1e-15) << i;
    // desired = R(axis, angle) * current (world frame): robosuite's error is exactly
    // sin(angle) * axis, pointing from current toward desired.
    const Eigen::Vector3d aa = RandomAxisAngle(&rng, 1.5);
    const Eigen::Matrix3d desired = AxisAngleToRotation(aa) * current;
    const double angle = aa.norm();
    const Eigen::Vector3d expected = std::sin(angle) * aa / angle;
    EXPECT_LT((OrientationError(desired, current) - expected).norm(), 1e-12) << i;  // 4e-16
  }
  // Small angles: the error is the axis-angle itself to second order (0.01 rad: 1.7e-7 off).
  const Eigen::Matrix3d current = AxisAngleToRotation(Eigen::Vector3d(0.3, -0.2, 1.0));
  const Eigen::Vector3d small(0.006, -0.008, 0.0);
  const Eigen::Vector3d err = OrientationError(AxisAngleToRotation(small) * current, current);
  EXPECT_LT((err - small).norm(), 1e-6);
  // Swapping the arguments flips the sign.
  EXPECT_LT((OrientationError(current, AxisAngleToRotation(small) * current) + err).norm(), 1e-12);
}

// ---- gripper integrator -----------------------------------------------------------------------

class GripperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lift_ = std::make_unique<LiftFixture>(0);
    Sim& sim = lift_->task->sim();
    m_ = sim.model();
    d_ = sim.data();
    f1_ = sim.Id(mjOBJ_ACTUATOR, "gripper0_finger_j1");  // ctrlrange [0, 0.04], closes to 0
    f2_ = sim.Id(mjOBJ_ACTUATOR, "gripper0_finger_j2");  // ctrlrange [-0.04, 0], closes to 0
    gripper_ = std::make_unique<GripperIntegrator>(m_, std::array<int, 2>{f1_, f2_});
  }
  void Run(double action, int substeps) {
    for (int i = 0; i < substeps; ++i) gripper_->Substep(d_, action);
  }
  double lo(int a) const { return m_->actuator_ctrlrange[2 * a]; }
  double hi(int a) const { return m_->actuator_ctrlrange[2 * a + 1]; }

  std::unique_ptr<LiftFixture> lift_;
  const mjModel* m_ = nullptr;
  mjData* d_ = nullptr;
  int f1_ = -1, f2_ = -1;
  std::unique_ptr<GripperIntegrator> gripper_;
};

TEST_F(GripperTest, StartsHalfOpenAtTheCtrlrangeMidpoint) {
  ASSERT_DOUBLE_EQ(lo(f1_), 0.0);
  ASSERT_DOUBLE_EQ(hi(f1_), 0.04);
  ASSERT_DOUBLE_EQ(lo(f2_), -0.04);
  ASSERT_DOUBLE_EQ(hi(f2_), 0.0);
  d_->ctrl[f1_] = d_->ctrl[f2_] = 123.0;
  gripper_->Reset();
  gripper_->Substep(d_, 0.0);  // writes without integrating
  EXPECT_EQ(gripper_->current(), 0.0);
  EXPECT_NEAR(d_->ctrl[f1_], 0.02, 1e-15);
  EXPECT_NEAR(d_->ctrl[f2_], -0.02, 1e-15);
}

TEST_F(GripperTest, CloseReachesTheClosedEndIn100Substeps) {
  gripper_->Reset();
  Run(+1.0, 99);
  // one substep short: 1% of the half range (0.0002 m) still open on each finger
  EXPECT_NEAR(d_->ctrl[f1_], 0.0002, 1e-12);
  EXPECT_NEAR(d_->ctrl[f2_], -0.0002, 1e-12);
  Run(+1.0, 1);
  EXPECT_NEAR(gripper_->current(), 1.0, 1e-12);
  EXPECT_NEAR(d_->ctrl[f1_], lo(f1_), 1e-12);  // finger 1 closes toward its minimum
  EXPECT_NEAR(d_->ctrl[f2_], hi(f2_), 1e-12);  // finger 2 toward its maximum
  Run(+1.0, 50);  // saturates
  EXPECT_EQ(gripper_->current(), 1.0);
  EXPECT_EQ(d_->ctrl[f1_], lo(f1_));
  EXPECT_EQ(d_->ctrl[f2_], hi(f2_));
}

TEST_F(GripperTest, OpenToClosedTakes200Substeps) {
  gripper_->Reset();
  Run(-1.0, 150);  // -1 opens; clipped at fully open
  EXPECT_EQ(gripper_->current(), -1.0);
  EXPECT_NEAR(d_->ctrl[f1_], hi(f1_), 1e-12);
  EXPECT_NEAR(d_->ctrl[f2_], lo(f2_), 1e-12);
  Run(+1.0, 199);
  EXPECT_NEAR(gripper_->current(), 0.99, 1e-12);
  EXPECT_GT(d_->ctrl[f1_], 1e-4);
  Run(+1.0, 1);
  EXPECT_NEAR(gripper_->current(), 1.0, 1e-12);
  EXPECT_NEAR(d_->ctrl[f1_], 0.0, 1e-12);
  EXPECT_NEAR(d_->ctrl[f2_], 0.0, 1e-12);
}

TEST_F(GripperTest, OnlyTheSignOfTheActionCounts) {
  gripper_->Reset();
  Run(0.001, 10);  // a tiny positive action integrates at the full rate
  EXPECT_NEAR(gripper_->current(), 0.10, 1e-12);
  Run(-0.5, 4);
  EXPECT_NEAR(gripper_->current(), 0.06, 1e-12);
  Run(0.0, 25);  // zero holds
  EXPECT_NEAR(gripper_->current(), 0.06, 1e-12);
  EXPECT_NEAR(d_->ctrl[f1_], 0.02 - 0.02 * 0.06, 1e-12);
  EXPECT_NEAR(d_->ctrl[f2_], -0.02 + 0.02 * 0.06, 1e-12);
}

// ---- OSC_POSE on the Lift arm -----------------------------------------------------------------

TEST(OscTest, ZeroActionHoldsThePose) {
  // Gravity and bias compensation (qfrc_bias) must hold the arm still. Measured over 40 steps
  // (2 s) on seeds 0-5: at most 6.6e-13 m and 1.1e-12 rad (the arm starts at rest in its
  // posture q0 and the fingers close symmetrically). For scale, with zero arm torques the end
  // effector sags 8 mm in a single step. Bounds: 0.1 mm and 1 mrad.
  for (uint64_t seed : {0u, 3u}) {
    LiftFixture lift(seed);
    const Eigen::Vector3d p0 = lift.EefPos();
    const Eigen::Matrix3d r0 = lift.EefRot();
    double drift = 0, turn = 0;
    for (int t = 0; t < 40; ++t) {
      lift.task->Step(Delta(0, 0, 0, 0, 0, 0, 0));
      drift = std::max(drift, (lift.EefPos() - p0).norm());
      turn = std::max(turn, RotationToAxisAngle(lift.EefRot() * r0.transpose()).norm());
    }
    EXPECT_LT(drift, 1e-4) << "seed " << seed;
    EXPECT_LT(turn, 1e-3) << "seed " << seed;
    EXPECT_TRUE(lift.task->episode_error().empty()) << lift.task->episode_error();
  }
}

// Moves with a constant delta for 10 steps and checks the travel against the steady-state rate
// kMetresPerUnitAction (0.0132 m per unit action): 10 * 0.5 * 0.0132 = 0.066 m, +-35%.
void CheckConstantTranslation(uint64_t seed, int axis, double a) {
  LiftFixture lift(seed);
  const Eigen::Vector3d p0 = lift.EefPos();
  std::vector<double> action = Delta(0, 0, 0, 0, 0, 0, -1);
  action[axis] = a;
  for (int t = 0; t < 10; ++t) lift.task->Step(action);
  const Eigen::Vector3d d = lift.EefPos() - p0;
  const double expected = 10 * a * kMetresPerUnitAction;
  // Measured (seeds 0-3): 0.81-0.90 of `expected`: the first steps start from rest, then the
  // per-step travel settles at 0.0066 m for a = 0.5 (0.0132 m per unit action).
  EXPECT_GT(d[axis] / expected, 0.65) << "axis " << axis << " d = " << d.transpose();
  EXPECT_LT(d[axis] / expected, 1.35) << "axis " << axis << " d = " << d.transpose();
  // Off-axis drift. Measured: up to 6.8 mm (12% of the travel) in the x-z plane, 1.4 mm in y:
  // with uncouple_pos_ori (robosuite's default, as in the datasets) the position and
  // orientation loops disturb each other, so the path bends a little.
  for (int k = 0; k < 3; ++k) {
    if (k == axis) continue;
    EXPECT_LT(std::abs(d[k]), 0.2 * std::abs(d[axis])) << "axis " << axis << " drift on " << k;
  }
  EXPECT_LT(std::abs(d[1]), 0.004) << "y drift, axis " << axis;  // 4 mm
  EXPECT_TRUE(lift.task->episode_error().empty()) << lift.task->episode_error();
}

TEST(OscTest, ConstantDeltaPlusXMovesAlongX) { CheckConstantTranslation(0, 0, +0.5); }
TEST(OscTest, ConstantDeltaMinusZMovesDown) { CheckConstantTranslation(0, 2, -0.5); }
TEST(OscTest, ConstantDeltaOtherSeedAndSigns) {
  CheckConstantTranslation(2, 0, -0.5);
  CheckConstantTranslation(2, 2, +0.5);
}

TEST(OscTest, AbsoluteGoalConverges) {
  LiftFixture lift(1);
  lift.task->SetActionMode(ActionMode::kAbsolute);
  const Eigen::Vector3d p0 = lift.EefPos();
  const Eigen::Matrix3d r0 = lift.EefRot();
  const Eigen::Vector3d target = p0 + Eigen::Vector3d(0.02, -0.02, 0.02 * std::sqrt(2.0));  // 4 cm
  const std::array<double, 6> six = RotationToSixD(r0);
  const std::vector<double> action = {target[0], target[1], target[2], six[0], six[1], six[2],
                                      six[3],    six[4],    six[5],    -1.0};
  std::vector<double> error(41, 0.0);
  double turn = 0;
  for (int t = 1; t <= 40; ++t) {
    lift.task->Step(action);
    error[t] = (lift.EefPos() - target).norm();
    turn = std::max(turn, RotationToAxisAngle(lift.EefRot() * r0.transpose()).norm());
  }
  // Measured (seeds 0-3): 14-15 mm after 5 steps, 1.1-1.8 mm after 10 (a small overshoot to
  // 3.6 mm at 15), 0.07-0.19 mm after 40; orientation off by at most 0.018 rad on the way.
  EXPECT_LT(error[5], 0.025);
  EXPECT_GT(error[5], 0.005);  // it takes time: the goal is not teleported to
  EXPECT_LT(error[10], 0.005);
  EXPECT_LT(error[40], 0.001);  // 1 mm (the brief's 5 mm with margin to spare)
  for (int t = 20; t <= 40; ++t) EXPECT_LT(error[t], 0.004) << "step " << t;
  EXPECT_LT(turn, 0.05);
  EXPECT_TRUE(lift.task->episode_error().empty()) << lift.task->episode_error();
}

TEST(OscTest, YawDeltaRotatesAboutWorldZ) {
  for (double yaw : {+0.5, -0.5}) {
    LiftFixture lift(0);
    const Eigen::Matrix3d r0 = lift.EefRot();
    const Eigen::Vector3d p0 = lift.EefPos();
    for (int t = 0; t < 5; ++t) lift.task->Step(Delta(0, 0, 0, 0, 0, yaw, 0));
    // The rotation actually made, in the world frame (R = dR * R0).
    const Eigen::Vector3d turned = RotationToAxisAngle(lift.EefRot() * r0.transpose());
    // Measured: z = +-0.233 rad after 5 steps (each step's goal is 0.25 rad ahead of the current
    // pose), |x|, |y| <= 0.006 rad.
    EXPECT_GT(turned.z() * yaw, 0.0) << "wrong direction: " << turned.transpose();
    EXPECT_GT(std::abs(turned.z()), 0.15) << turned.transpose();
    EXPECT_LT(std::abs(turned.z()), 0.5) << turned.transpose();
    EXPECT_LT(std::abs(turned.x()), 0.03) << turned.transpose();
    EXPECT_LT(std::abs(turned.y()), 0.03) << turned.transpose();
    // Position is held only loosely while turning (uncoupled position / orientation loops):
    // measured 28 mm of drift. 5 cm catches a runaway.
    EXPECT_LT((lift.EefPos() - p0).norm(), 0.05);
  }
}

TEST(OscTest, LastAbsActionIsTheDeltaGoal) {
  LiftFixture lift(3);
  const std::vector<std::vector<double>> actions = {
      Delta(0.3, -0.7, 0.2, 0.1, 0.2, -0.3, 1), Delta(-1, 0.5, 0.9, -0.4, 0, 0.6, -1),
      Delta(2.0, 0, -3.0, 0, 0, 0, 0.2)};  // out of range: clipped to +-1 by the controller
  for (int t = 0; t < 6; ++t) {
    const std::vector<double>& a = actions[t % actions.size()];
    const Eigen::Vector3d before = lift.EefPos();  // fresh kinematics, what mj_step1 sees
    const Eigen::Matrix3d rot_before = lift.EefRot();
    lift.task->Step(a);
    const std::vector<double> abs = lift.task->LastAbsAction();
    ASSERT_EQ(abs.size(), 10u);
    // goal = eef_before + 0.05 * clip(a[0:3]): measured exactly equal (0.0).
    for (int i = 0; i < 3; ++i) {
      const double clipped = std::max(-1.0, std::min(1.0, a[i]));
      EXPECT_NEAR(abs[i], before[i] + 0.05 * clipped, 1e-9) << "step " << t << " axis " << i;
    }
    // Rotation: R(0.5 a[3:6]) * R_before, decoded from rot6d to an orthonormal matrix.
    const Eigen::Matrix3d goal_rot = SixDToRotation(abs.data() + 3);
    EXPECT_LT(OrthonormalityError(goal_rot), 1e-12);
    const Eigen::Vector3d aa(0.5 * a[3], 0.5 * a[4], 0.5 * a[5]);
    EXPECT_LT((goal_rot - AxisAngleToRotation(aa) * rot_before).cwiseAbs().maxCoeff(), 1e-9)
        << "step " << t;
    EXPECT_EQ(abs[9], a[6]);  // the gripper action passes through
  }
  // The stale pose (read straight after Step) would be off by about a substep of motion,
  // 0.2-0.3 mm here; the check above resolves 1e-9, so it is sensitive to which one is used.
}

TEST(OscTest, TorquesStayWithinTheActuatorRange) {
  LiftFixture lift(0);
  Sim& sim = lift.task->sim();
  const mjModel* m = sim.model();
  const mjData* d = sim.data();
  std::vector<int> arm;
  for (int j = 1; j <= 7; ++j) arm.push_back(sim.Id(mjOBJ_ACTUATOR, "robot0_torq_j" + std::to_string(j)));
  int saturated = 0;
  for (int t = 0; t < 20; ++t) {
    const double s = (t / 2) % 2 ? -1.0 : 1.0;  // flip every two steps: large goal errors
    lift.task->Step(Delta(s, -s, s, s, -s, s, s));
    for (int a : arm) {
      const double lo = m->actuator_ctrlrange[2 * a], hi = m->actuator_ctrlrange[2 * a + 1];
      EXPECT_GE(d->ctrl[a], lo) << "actuator " << a << " step " << t;
      EXPECT_LE(d->ctrl[a], hi) << "actuator " << a << " step " << t;
      saturated += d->ctrl[a] == lo || d->ctrl[a] == hi;
    }
  }
  // The extreme actions do demand more than the limits (measured: 41 of 140 readings clipped),
  // so the clipping, not a mild command, keeps the torques in range.
  EXPECT_GT(saturated, 5);
  EXPECT_TRUE(lift.task->episode_error().empty()) << lift.task->episode_error();
}

TEST(OscTest, NullspaceTorqueDoesNotAccelerateTheEndEffector) {
  // robosuite: nullspace_matrix N = I - Jbar J with Jbar = M^-1 J^T Lambda, and the posture
  // torque is N^T M (kn (q0 - q) - kdn qd) = (I - J^T Jbar^T) M (...). N^T is the dynamically
  // consistent projector: J M^-1 N^T tau0 = 0, so the posture pull cannot disturb the end
  // effector. Set the goal to the current pose at rest, away from the posture q0: the only
  // torque beyond qfrc_bias is the projected posture term, and it must produce no task-space
  // acceleration through the arm's own mass matrix.
  LiftFixture lift(0);
  Sim& sim = lift.task->sim();
  const mjModel* m = sim.model();
  mjData* d = sim.data();
  std::vector<int> joints, actuators;
  for (int j = 1; j <= 7; ++j) {
    joints.push_back(sim.Id(mjOBJ_JOINT, "robot0_joint" + std::to_string(j)));
    actuators.push_back(sim.Id(mjOBJ_ACTUATOR, "robot0_torq_j" + std::to_string(j)));
  }
  const int site = sim.Id(mjOBJ_SITE, "gripper0_grip_site");
  OscPoseController osc(m, joints, site, actuators);
  sim.Forward();
  osc.Reset(d);  // q0 = the reset posture

  const double offset[7] = {0.12, -0.08, 0.15, 0.10, -0.12, 0.08, 0.15};  // rad
  for (int i = 0; i < 7; ++i) {
    d->qpos[m->jnt_qposadr[joints[i]]] += offset[i];
    d->qvel[m->jnt_dofadr[joints[i]]] = 0.0;
  }
  sim.Forward();
  osc.SetGoalAbsolute(osc.EePos(d), osc.EeRot(d));
  osc.ComputeTorques(d);

  const int nv = m->nv;
  std::vector<mjtNum> jacp(3 * nv), jacr(3 * nv), full(nv * nv);
  mj_jacSite(m, d, jacp.data(), jacr.data(), site);
  mj_fullM(m, full.data(), d->qM);
  Eigen::Matrix<double, 6, 7> jac;
  Eigen::Matrix<double, 7, 7> mass;
  Eigen::Matrix<double, 7, 1> tau_null, offset_vec;
  for (int c = 0; c < 7; ++c) {
    const int dc = m->jnt_dofadr[joints[c]];
    for (int r = 0; r < 3; ++r) {
      jac(r, c) = jacp[r * nv + dc];
      jac(3 + r, c) = jacr[r * nv + dc];
    }
    for (int r = 0; r < 7; ++r) mass(r, c) = full[m->jnt_dofadr[joints[r]] * nv + dc];
    const double limit = m->actuator_ctrlrange[2 * actuators[c] + 1];
    ASSERT_LT(std::abs(d->ctrl[actuators[c]]), limit) << "clipped: the test needs unclipped torques";
    tau_null[c] = d->ctrl[actuators[c]] - d->qfrc_bias[dc];
    offset_vec[c] = offset[c];
  }
  // Scale: the unprojected posture torque M kn (q0 - q) would accelerate the task by
  // J kn (q0 - q).
  const double unprojected = (jac * (10.0 * -offset_vec)).norm();
  const Eigen::Matrix<double, 6, 1> task_acc = jac * mass.llt().solve(tau_null);
  ASSERT_GT(tau_null.norm(), 0.1) << "no posture torque: the test would be vacuous";
  // Measured with robosuite's N^T: 2.3e-14 against a scale of 4.07. With N (its transpose, what
  // sim/controllers.cc computed when this test was written): 0.94, 23% of the scale; over a
  // 21 cm absolute move that leak leaves 1-4 mm / 2-8 mrad of steady-state error instead of
  // 0.24 mm / 1.3 mrad.
  EXPECT_LT(task_acc.norm(), 1e-6 * unprojected)
      << "task acceleration " << task_acc.transpose() << " (unprojected scale " << unprojected
      << ", torque " << tau_null.transpose() << ")";
}

}  // namespace
}  // namespace onedp
