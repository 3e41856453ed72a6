// Helpers shared by the task tests.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Core>
#include <gtest/gtest.h>

#include "tasks/common/operators.h"
#include "tasks/task.h"

namespace onedp {

// robosuite's control timing (500 Hz physics, 20 Hz control: 25 substeps) and OSC_POSE action sizes
// for `arms` arms (a delta action of 7 and an absolute one of 10 per arm).
inline void ExpectRobosuiteControl(const Task& task, int arms) {
  const TaskSpec& s = task.spec();
  EXPECT_EQ(s.substeps, 25);
  EXPECT_DOUBLE_EQ(s.control_hz, 20.0);
  EXPECT_DOUBLE_EQ(task.sim().model()->opt.timestep, 0.002);
  EXPECT_EQ(s.action_dim, 7 * arms);
  EXPECT_EQ(s.abs_action_dim, 10 * arms);
}

// Resets `task` with `seed`, runs the expert acting as `op` for up to `steps` steps, stops at the
// first success; returns the number of steps taken. `on_step` (optional) sees each step's number
// (1, 2, ...) and the task's Outcome after it.
inline int RunExpert(Task& task, const OperatorProfile& op, uint64_t seed, int steps,
                     const std::function<void(int step, const Outcome&)>& on_step = {}) {
  task.Reset(seed);
  auto expert = task.MakeExpert(op, seed);
  for (int t = 0; t < steps; ++t) {
    task.Step(expert->Act());
    const Outcome o = task.Evaluate();
    if (on_step) on_step(t + 1, o);
    if (o.success) return t + 1;
  }
  return steps;
}

// Runs the expert with RunExpert and returns, per sub-goal of the task (TaskInfo::milestones),
// the first step after which Outcome::milestones had its bit set (-1: never).
inline std::vector<int> FirstMilestoneSteps(Task& task, const OperatorProfile& op, uint64_t seed, int steps) {
  std::vector<int> first(task.spec().info.milestones.size(), -1);
  RunExpert(task, op, seed, steps, [&](int step, const Outcome& o) {
    for (size_t m = 0; m < first.size(); ++m) {
      if (first[m] < 0 && ((o.milestones >> m) & 1u)) first[m] = step;
    }
  });
  return first;
}

// Moves free joint `joint` to `pos` with identity orientation, at rest; runs mj_forward.
inline void SetFreeJointPos(Sim& sim, int joint, const Eigen::Vector3d& pos) {
  const int adr = sim.model()->jnt_qposadr[joint];
  SimState s = sim.GetState();
  for (int i = 0; i < 3; ++i) s.qpos[adr + i] = pos[i];
  s.qpos[adr + 3] = 1;
  s.qpos[adr + 4] = s.qpos[adr + 5] = s.qpos[adr + 6] = 0;
  const int dof = sim.model()->jnt_dofadr[joint];
  for (int i = 0; i < 6; ++i) s.qvel[dof + i] = 0;
  sim.SetState(s);
}

}  // namespace onedp
