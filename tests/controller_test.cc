// MEASUREMENT DRAFT
#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include "sim/controllers.h"
#include "tasks/common/expert_util.h"
#include "tasks/lift/lift.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

struct Lift {
  std::unique_ptr<Task> task;
  LiftTask* lift;
  explicit Lift(uint64_t seed) : task(MakeTask("lift-ph")) {
    lift = dynamic_cast<LiftTask*>(task.get());
    task->Reset(seed);
  }
  PandaRobot& robot() { return lift->robot(); }
};

std::vector<double> A(double x, double y, double z, double rx, double ry, double rz, double g) {
  return {x, y, z, rx, ry, rz, g};
}

TEST(Measure, Hold) {
  for (uint64_t seed : {0, 1, 2, 3, 4, 5}) {
    Lift l(seed);
    Eigen::Vector3d p0 = l.robot().EefPos();
    Eigen::Matrix3d r0 = l.robot().EefRot();
    double worst = 0, worstang = 0;
    for (int t = 0; t < 40; ++t) {
      l.task->Step(A(0, 0, 0, 0, 0, 0, 0));
      l.task->sim().Forward();
      worst = std::max(worst, (l.robot().EefPos() - p0).norm());
      worstang = std::max(worstang, RotationToAxisAngle(l.robot().EefRot() * r0.transpose()).norm());
    }
    std::printf("hold seed %lu: max drift %.5f m, final %.5f, ang %.5f rad err '%s'\n", seed, worst,
                (l.robot().EefPos() - p0).norm(), worstang, l.task->episode_error().c_str());
  }
}

TEST(Measure, Translate) {
  for (uint64_t seed : {0, 1, 2, 3}) {
    for (int axis : {0, 2}) {
      for (double sgn : {0.5, -0.5}) {
        Lift l(seed);
        Eigen::Vector3d p0 = l.robot().EefPos();
        std::vector<double> a = A(0, 0, 0, 0, 0, 0, -1);
        a[axis] = sgn;
        for (int t = 0; t < 10; ++t) l.task->Step(a);
        l.task->sim().Forward();
        Eigen::Vector3d d = l.robot().EefPos() - p0;
        std::printf("seed %lu axis %d a %.1f: d = %.5f %.5f %.5f  expected %.5f ratio %.3f\n", seed,
                    axis, sgn, d[0], d[1], d[2], 10 * sgn * kMetresPerUnitAction,
                    d[axis] / (10 * sgn * kMetresPerUnitAction));
      }
    }
  }
}

TEST(Measure, Absolute) {
  for (uint64_t seed : {0, 1, 2, 3}) {
    Lift l(seed);
    l.task->SetActionMode(ActionMode::kAbsolute);
    Eigen::Vector3d p0 = l.robot().EefPos();
    Eigen::Matrix3d r0 = l.robot().EefRot();
    Eigen::Vector3d target = p0 + Eigen::Vector3d(0.02, -0.02, 0.02 * std::sqrt(2.0));
    auto six = RotationToSixD(r0);
    std::vector<double> a = {target[0], target[1], target[2], six[0], six[1], six[2], six[3], six[4], six[5], -1};
    for (int t = 0; t < 40; ++t) {
      l.task->Step(a);
      l.task->sim().Forward();
      if (t % 5 == 4)
        std::printf("seed %lu t %d err %.5f ang %.5f\n", seed, t + 1, (l.robot().EefPos() - target).norm(),
                    RotationToAxisAngle(l.robot().EefRot() * r0.transpose()).norm());
    }
  }
}

TEST(Measure, Yaw) {
  for (uint64_t seed : {0, 1}) {
    for (double s : {0.5, -0.5}) {
      Lift l(seed);
      Eigen::Matrix3d r0 = l.robot().EefRot();
      Eigen::Vector3d p0 = l.robot().EefPos();
      for (int t = 0; t < 5; ++t) l.task->Step(A(0, 0, 0, 0, 0, s, 0));
      l.task->sim().Forward();
      Eigen::Vector3d aa = RotationToAxisAngle(l.robot().EefRot() * r0.transpose());
      std::printf("yaw seed %lu a %.1f: world aa %.4f %.4f %.4f  expected z %.4f, pos drift %.4f\n", seed, s,
                  aa[0], aa[1], aa[2], 5 * 0.5 * s, (l.robot().EefPos() - p0).norm());
    }
  }
}

TEST(Measure, AbsAction) {
  Lift l(3);
  for (int t = 0; t < 4; ++t) {
    Eigen::Vector3d stale = l.robot().EefPos();
    l.task->sim().Forward();
    Eigen::Vector3d fresh = l.robot().EefPos();
    std::vector<double> a = A(0.3, -0.7, 0.2, 0.1, 0.2, -0.3, 1);
    l.task->Step(a);
    auto abs = l.task->LastAbsAction();
    Eigen::Vector3d goal(abs[0], abs[1], abs[2]);
    Eigen::Vector3d expect = fresh + 0.05 * Eigen::Vector3d(a[0], a[1], a[2]);
    Eigen::Vector3d expect_stale = stale + 0.05 * Eigen::Vector3d(a[0], a[1], a[2]);
    std::printf("t %d: |goal-fresh expect| %.3g  |goal - stale expect| %.3g  grip %.1f\n", t, (goal - expect).norm(),
                (goal - expect_stale).norm(), abs[9]);
  }
}

TEST(Measure, Torques) {
  Lift l(0);
  const mjModel* m = l.task->sim().model();
  const mjData* d = l.task->sim().data();
  int sat = 0;
  double worst = 0;
  for (int t = 0; t < 20; ++t) {
    double s = (t / 2) % 2 ? -1 : 1;
    l.task->Step(A(s, -s, s, s, -s, s, s));
    for (int j = 1; j <= 7; ++j) {
      int a = mj_name2id(m, mjOBJ_ACTUATOR, ("robot0_torq_j" + std::to_string(j)).c_str());
      double lim = m->actuator_ctrlrange[2 * a + 1];
      worst = std::max(worst, std::abs(d->ctrl[a]) / lim);
      sat += std::abs(d->ctrl[a]) == lim;
    }
  }
  std::printf("torques: worst |ctrl|/limit %.4f, saturated %d, err '%s'\n", worst, sat, l.task->episode_error().c_str());
}

}  // namespace
}  // namespace onedp
