// The move / reset perturbations (tasks/perturbation.h) on PushT, Lift, Can and Square: declared names and
// the error for others, parameters fixed by the episode seed whatever the policy does, the
// triggers, skipped (not dropped) when the task is solved, and no penetration of another body.
#include "tasks/perturbation.h"
#include "tasks/transport/transport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tasks/pusht/pusht.h"
#include "tasks/square/square.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

int BlockBody(const Task& t) { return mj_name2id(t.sim().model(), mjOBJ_BODY, "block"); }
int NutBody(const Task& t) { return mj_name2id(t.sim().model(), mjOBJ_BODY, "SquareNut_main"); }

// A move refused at its first increment ("... after 0"): skipped rather than applied.
bool StoppedAtZero(const std::string& detail) {
  const std::string tail = "after 0";
  return detail.size() >= tail.size() && detail.compare(detail.size() - tail.size(), tail.size(), tail) == 0;
}

double Penetration(Task& t, int body) {
  t.sim().Forward();
  return BodyPenetration(t.sim().model(), t.sim().data(), body);
}

TEST(PerturbationTest, TasksDeclareThemAndOthersAreRefused) {
  for (const char* name : {"pusht", "lift-ph", "can-ph", "square-ph", "square-mh"}) {
    EXPECT_EQ(FindTask(name).info.perturbations, (std::vector<std::string>{"move", "reset"})) << name;
  }
  std::unique_ptr<Task> pusht = MakeTask("pusht");
  pusht->Reset(1);
  try {
    pusht->SetPerturbation("spin");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("it declares: move, reset"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pusht->perturbation().status, PerturbationStatus::kNone);
  EXPECT_EQ(FindTask("tool-hang-ph").info.perturbations, (std::vector<std::string>{"reset"}));
  EXPECT_EQ(FindTask("transport-ph").info.perturbations, (std::vector<std::string>{"move"}));
  std::unique_ptr<Task> hang = MakeTask("tool-hang-ph");
  hang->Reset(1);
  try {
    hang->SetPerturbation("move");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("it declares: reset"), std::string::npos) << e.what();
  }
  try {
    CheckPerturbationName("plain", TaskInfo(), "move");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("declares none"), std::string::npos) << e.what();
  }
  // A reset disarms it.
  pusht->SetPerturbation("move");
  ASSERT_NE(pusht->perturber(), nullptr);
  pusht->Reset(2);
  EXPECT_EQ(pusht->perturber(), nullptr);
}

// Drives the pusher toward the block's centre along `via` first (a detour: another "policy"),
// until the move triggers; then holds. Returns the record at the end.
PerturbationRecord RunPushTMove(uint64_t seed, const Eigen::Vector2d& via, std::vector<Eigen::Vector3d>* poses,
                                double* max_penetration) {
  PushTTask t;
  t.SetActionMode(ActionMode::kAbsolute);
  t.Reset(seed);
  t.SetPerturbation("move");
  const int block = BlockBody(t);
  *max_penetration = 0;
  for (int step = 0; step < 80; ++step) {
    const PerturbationRecord r = t.perturbation();
    std::vector<double> action;
    if (r.status == PerturbationStatus::kPending) {
      const Eigen::Vector3d p = t.BlockPose();
      const Eigen::Vector2d cog = p.head<2>() + Eigen::Rotation2Dd(p.z()) * Eigen::Vector2d(0, 45);
      const Eigen::Vector2d target = step < 5 ? via : cog;
      action = {target.x(), target.y()};
    } else {
      action = {t.AgentPos().x(), t.AgentPos().y()};  // the pusher stops
    }
    t.Step(action);
    if (t.perturbation().status != PerturbationStatus::kPending) {
      poses->push_back(t.BlockPose());
      *max_penetration = std::max(*max_penetration, Penetration(t, block));
    }
  }
  return t.perturbation();
}

TEST(PerturbationTest, PushTMoveIsFixedBySeedAndSlidesAway) {
  std::vector<Eigen::Vector3d> a, b;
  double pen_a = 0, pen_b = 0;
  // Two "policies": different detours before the approach.
  const PerturbationRecord ra = RunPushTMove(7, Eigen::Vector2d(100, 100), &a, &pen_a);
  const PerturbationRecord rb = RunPushTMove(7, Eigen::Vector2d(400, 420), &b, &pen_b);
  for (const PerturbationRecord* r : {&ra, &rb}) {
    EXPECT_EQ(r->name, "move");
    EXPECT_NE(r->status, PerturbationStatus::kPending) << r->detail;
    EXPECT_NE(r->status, PerturbationStatus::kActive) << r->detail;
    EXPECT_GE(r->step, 1);
  }
  PushTTask t1, t2, t3;
  t1.Reset(7);
  t1.SetPerturbation("move");
  t2.Reset(7);
  t2.SetPerturbation("reset");
  t3.Reset(8);
  t3.SetPerturbation("move");
  // The seeded parameters depend on the seed only (both perturbations draw all of them).
  EXPECT_EQ(t1.perturber()->direction(), t2.perturber()->direction());
  EXPECT_EQ(t1.perturber()->distance(), t2.perturber()->distance());
  EXPECT_EQ(t1.perturber()->reset_step(), t2.perturber()->reset_step());
  EXPECT_NE(t1.perturber()->distance(), t3.perturber()->distance());
  EXPECT_GE(t1.perturber()->distance(), 60);
  EXPECT_LE(t1.perturber()->distance(), 120);
  EXPECT_LE(pen_a, 1.0);
  EXPECT_LE(pen_b, 1.0);
  // Both policies met the same slide (the drawn distance, when nothing stopped it).
  if (ra.detail.rfind("moved", 0) == 0 && rb.detail.rfind("moved", 0) == 0) {
    EXPECT_EQ(ra.detail, rb.detail);
  }
}

TEST(PerturbationTest, PushTResetComesAtTheSeededStep) {
  for (uint64_t seed : {3, 4, 5}) {
    PushTTask t;
    t.SetActionMode(ActionMode::kAbsolute);
    t.Reset(seed);
    t.SetPerturbation("reset");
    const int at = t.perturber()->reset_step();
    EXPECT_GE(at, 20);
    EXPECT_LE(at, 100);
    const Eigen::Vector3d before = t.BlockPose();
    for (int s = 0; s < at; ++s) {
      EXPECT_EQ(t.perturbation().status, PerturbationStatus::kPending);
      t.Step(t.HoldAction());
    }
    const PerturbationRecord r = t.perturbation();
    EXPECT_EQ(r.status, PerturbationStatus::kApplied) << r.detail;
    EXPECT_EQ(r.step, at);
    EXPECT_NE(t.BlockPose(), before);
    EXPECT_LE(Penetration(t, BlockBody(t)), 1.0);
    // Once only.
    const Eigen::Vector3d placed = t.BlockPose();
    for (int s = 0; s < 5; ++s) t.Step(t.HoldAction());
    EXPECT_EQ(t.BlockPose(), placed);
  }
}

TEST(PerturbationTest, ASolvedTaskIsSkippedNotDropped) {
  PushTTask t;
  t.SetActionMode(ActionMode::kAbsolute);
  t.Reset(3);
  t.SetPerturbation("reset");
  // The block on its goal, the pusher far away: solved.
  t.SetPoses(Eigen::Vector2d(60, 60), PushTTask::GoalPose());
  const int at = t.perturber()->reset_step();
  for (int s = 0; s < at + 2; ++s) t.Step({60, 60});
  const PerturbationRecord r = t.perturbation();
  EXPECT_EQ(r.status, PerturbationStatus::kSkipped);
  EXPECT_EQ(r.step, at);
  EXPECT_EQ(r.detail, "task solved");
  EXPECT_STREQ(PerturbationStatusName(r.status), "skipped");
}

TEST(PerturbationTest, PushTMoveNeverPushesTheBlockIntoAWallOrThePusher) {
  // The block near a wall, the pusher on its other side (within the trigger radius, not touching),
  // held still: half of the seeded directions head for the wall.
  int stopped = 0;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    PushTTask t;
    t.SetActionMode(ActionMode::kAbsolute);
    t.Reset(seed);
    t.SetPerturbation("move");
    // Angle 0, origin (130, 95): the bar spans x 70..190, y 95..125, the CoG is at (130, 140);
    // the pusher at (200, 140) is 70 from the CoG and clear of the bar's corner (190, 125).
    t.SetPoses(Eigen::Vector2d(200, 140), Eigen::Vector3d(130, 95, 0));
    ASSERT_LE(Penetration(t, BlockBody(t)), 1e-9);
    for (int s = 0; s < 20; ++s) {
      t.Step({200, 140});
      EXPECT_LE(Penetration(t, BlockBody(t)), 1.0) << "seed " << seed << " step " << s;
    }
    const PerturbationRecord r = t.perturbation();
    // Applied, or skipped when the very first increment was refused (at 0).
    EXPECT_EQ(r.status, !StoppedAtZero(r.detail) ? PerturbationStatus::kApplied
                                                                      : PerturbationStatus::kSkipped)
        << r.detail;
    if (r.detail.find("stopped") != std::string::npos || r.detail.find("blocked") != std::string::npos) ++stopped;
  }
  EXPECT_GT(stopped, 0);  // some headed for the wall and were stopped
}

TEST(PerturbationTest, SquareMoveAndResetKeepTheNutOutOfTableAndPegs) {
  int moved = 0, blocked = 0;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    SquareTask t("ph");
    t.SetActionMode(ActionMode::kAbsolute);
    t.Reset(seed);
    for (int s = 0; s < 10; ++s) t.Step(t.HoldAction());  // the nut settles on the table
    // The nut next to the square peg, the gripper 8 cm from it on the far side, 15 cm up.
    const Eigen::Vector3d nut = t.NutPos();
    const Eigen::Vector2d at(SquareTask::kPegX - 0.09, SquareTask::kPegY);
    const double* q = t.sim().data()->qpos + t.sim().model()->jnt_qposadr[t.nut_joint()];
    const Eigen::Quaterniond quat(q[3], q[4], q[5], q[6]);
    mjData* d = t.sim().data();
    mjtNum* nq = d->qpos + t.sim().model()->jnt_qposadr[t.nut_joint()];
    nq[0] = at.x();
    nq[1] = at.y();
    nq[2] = nut.z();
    t.sim().Forward();
    const int body = NutBody(t);
    if (Penetration(t, body) > 0.002) continue;  // this yaw touches the peg already
    t.SetPerturbation("move");
    std::vector<double> hold = t.HoldAction();
    hold[0] = at.x() - 0.08;
    hold[1] = at.y();
    hold[2] = SquareTask::kTableTopZ + 0.15;
    for (int s = 0; s < 60; ++s) {
      t.Step(hold);
      EXPECT_LE(Penetration(t, body), 0.002) << "seed " << seed << " step " << s;
      if (!t.episode_error().empty()) break;
    }
    const PerturbationRecord r = t.perturbation();
    EXPECT_EQ(r.status, !StoppedAtZero(r.detail) ? PerturbationStatus::kApplied
                                                                      : PerturbationStatus::kSkipped)
        << "seed " << seed << ": " << r.detail;
    if (r.detail.rfind("moved", 0) == 0) ++moved;
    if (r.detail.find("blocked") != std::string::npos) ++blocked;
    // Away from the gripper: the nut's x grew.
    EXPECT_GT(t.NutPos().x(), at.x() - 1e-9) << r.detail;
  }
  EXPECT_GT(moved + blocked, 0);

  SquareTask t("ph");
  t.SetActionMode(ActionMode::kAbsolute);
  t.Reset(11);
  t.SetPerturbation("reset");
  const int at = t.perturber()->reset_step();
  EXPECT_GE(at, 30);
  EXPECT_LE(at, 100);
  for (int s = 0; s < at; ++s) t.Step(t.HoldAction());
  const PerturbationRecord r = t.perturbation();
  EXPECT_EQ(r.status, PerturbationStatus::kApplied) << r.detail;
  const Eigen::Vector3d p = t.NutPos();
  EXPECT_GE(p.x(), -0.115 - 1e-9);
  EXPECT_LE(p.x(), -0.11 + 1e-9);
  EXPECT_GE(p.y(), 0.11 - 1e-9);
  EXPECT_LE(p.y(), 0.225 + 1e-9);
  EXPECT_LE(Penetration(t, NutBody(t)), 0.002);
}

// Lift, Can and Square through the Task interface: the gripper held 8 cm (in the table plane) from
// the object, 15 cm above it, until the move is over; then a reset at its seeded step. Nothing is
// ever left inside the table, a bin wall, a peg or the gripper.
TEST(PerturbationTest, RobomimicMoveAndResetNeverPenetrate) {
  const std::vector<std::pair<std::string, std::string>> tasks = {
      {"lift-ph", "cube"}, {"can-ph", "can"}, {"square-ph", "SquareNut_main"}};
  for (const auto& [name, object] : tasks) {
    for (uint64_t seed = 0; seed < 3; ++seed) {
      SCOPED_TRACE(name + " seed " + std::to_string(seed));
      std::unique_ptr<Task> t = MakeTask(name);
      t->SetActionMode(ActionMode::kAbsolute);
      t->Reset(seed);
      const int body = mj_name2id(t->sim().model(), mjOBJ_BODY, object.c_str());
      const Eigen::Vector3d start(t->sim().data()->xpos + 3 * body);
      std::vector<double> hold = t->HoldAction();
      hold[0] = start.x() - 0.08;
      hold[1] = start.y();
      hold[2] = start.z() + 0.15;
      // The object settles and the gripper gets there before the perturbation is armed (armed
      // mid-episode here, so its first check sees the gripper in place: the move heads for +x).
      for (int s = 0; s < 40; ++s) t->Step(hold);
      ASSERT_EQ(t->perturbation().status, PerturbationStatus::kNone);
      t->SetPerturbation("move");
      for (int s = 0; s < 60 && t->episode_error().empty(); ++s) {
        t->Step(hold);
        EXPECT_LE(Penetration(*t, body), 0.002) << "step " << s;
      }
      PerturbationRecord r = t->perturbation();
      EXPECT_TRUE(r.status == PerturbationStatus::kApplied || r.status == PerturbationStatus::kSkipped) << r.detail;
      EXPECT_GT(Eigen::Vector3d(t->sim().data()->xpos + 3 * body).x(), start.x() - 1e-3) << r.detail;  // away

      t->Reset(seed);
      t->SetPerturbation("reset");
      const int at = t->perturber()->reset_step();
      for (int s = 0; s < at; ++s) {
        t->Step(t->HoldAction());
        // (The first steps are the object's drop of Reset itself.)
        if (s >= 10) {
          EXPECT_LE(Penetration(*t, body), 0.002) << "step " << s;
        }
      }
      r = t->perturbation();
      EXPECT_EQ(r.status, PerturbationStatus::kApplied) << r.detail;
      EXPECT_EQ(r.step, at);
      EXPECT_LE(Penetration(*t, body), 0.002);
    }
  }
}

// ToolHang's reset re-places the wrench at its seeded step (the same step for every policy) while
// the robot holds still, drawn as at reset, never inside the table, the frame or the stand.
TEST(PerturbationTest, ToolHangResetReplacesTheWrench) {
  for (uint64_t seed = 0; seed < 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::unique_ptr<Task> t = MakeTask("tool-hang-ph"), u = MakeTask("tool-hang-ph");
    t->SetActionMode(ActionMode::kAbsolute);
    t->Reset(seed);
    u->Reset(seed);
    t->SetPerturbation("reset");
    u->SetPerturbation("reset");
    const int at = t->perturber()->reset_step();
    EXPECT_EQ(at, u->perturber()->reset_step());
    EXPECT_GE(at, 60);
    EXPECT_LE(at, 200);
    const int tool = mj_name2id(t->sim().model(), mjOBJ_BODY, "tool");
    Eigen::Vector3d before = Eigen::Vector3d::Zero();  // the wrench before the reset step
    for (int s = 0; s < at; ++s) {
      before = Eigen::Vector3d(t->sim().data()->xpos + 3 * tool);
      t->Step(t->HoldAction());
    }
    const PerturbationRecord r = t->perturbation();
    ASSERT_EQ(r.status, PerturbationStatus::kApplied) << r.detail;
    EXPECT_EQ(r.step, at);
    EXPECT_LE(Penetration(*t, tool), 0.002);
    const Eigen::Vector3d after(t->sim().data()->xpos + 3 * tool);
    EXPECT_GT((after - before).head<2>().norm(), 1e-4);  // a fresh draw, not the same place
    // The wrench is placed as at reset, 2.6 cm above the table, and drops (its impact, like Reset's
    // own drop, is not a placement: checked once it has landed).
    for (int s = 0; s < 30; ++s) {
      t->Step(t->HoldAction());
      if (s >= 10) {
        EXPECT_LE(Penetration(*t, tool), 0.002) << "after the reset, step " << s;
      }
    }
  }
}

// Transport's move: robot1's gripper held 8 cm from the trash cube and 15 cm above it; the cube
// slides away inside the target bin (never into its walls or base), with the same seeded
// parameters for every policy.
TEST(PerturbationTest, TransportMoveSlidesTheTrashInsideItsBin) {
  for (uint64_t seed = 0; seed < 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::unique_ptr<Task> t = MakeTask("transport-ph"), u = MakeTask("transport-ph");
    t->SetActionMode(ActionMode::kAbsolute);
    t->Reset(seed);
    u->Reset(seed);
    const int trash = mj_name2id(t->sim().model(), mjOBJ_BODY, "trash");
    const Eigen::Vector3d start(t->sim().data()->xpos + 3 * trash);
    std::vector<double> hold = t->HoldAction();
    ASSERT_EQ(hold.size(), 20u);  // two arms, 10 absolute values each
    hold[10] = start.x() - 0.08;
    hold[11] = start.y();
    hold[12] = start.z() + 0.15;
    for (int s = 0; s < 60; ++s) t->Step(hold);
    ASSERT_EQ(t->perturbation().status, PerturbationStatus::kNone);
    t->SetPerturbation("move");
    u->SetPerturbation("move");
    EXPECT_EQ(t->perturber()->direction(), u->perturber()->direction());
    EXPECT_EQ(t->perturber()->distance(), u->perturber()->distance());
    for (int s = 0; s < 60 && t->episode_error().empty(); ++s) {
      t->Step(hold);
      EXPECT_LE(Penetration(*t, trash), 0.002) << "step " << s;
    }
    const PerturbationRecord r = t->perturbation();
    ASSERT_EQ(r.status, PerturbationStatus::kApplied) << r.detail;
    const Eigen::Vector3d end(t->sim().data()->xpos + 3 * trash);
    EXPECT_GT(end.x(), start.x() - 1e-3) << r.detail;  // away from the gripper
    EXPECT_GT((end - start).head<2>().norm(), 0.01) << r.detail;
    const auto& tt = static_cast<const TransportTask&>(*t);
    EXPECT_LE((end.head<2>() - tt.TargetBinPos().head<2>()).cwiseAbs().maxCoeff(),
              TransportTask::kBinInnerHalf - TransportTask::kTrashHalf + 1e-6);
  }
}

}  // namespace
}  // namespace onedp
