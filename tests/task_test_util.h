// Helpers shared by the task tests.
#pragma once

#include <cstdint>

#include <Eigen/Core>

#include "tasks/common/operators.h"
#include "tasks/task.h"

namespace onedp {

// Resets `task` with `seed`, runs the expert acting as `op` for up to `steps` steps, stops at the
// first success; returns the number of steps taken.
inline int RunExpert(Task& task, const OperatorProfile& op, uint64_t seed, int steps) {
  task.Reset(seed);
  auto expert = task.MakeExpert(op, seed);
  for (int t = 0; t < steps; ++t) {
    task.Step(expert->Act());
    if (task.Evaluate().success) return t + 1;
  }
  return steps;
}

// Runs the expert as RunExpert does and returns, per sub-goal of the task (TaskInfo::milestones),
// the first step after which Outcome::milestones had its bit set (-1: never).
inline std::vector<int> FirstMilestoneSteps(Task& task, const OperatorProfile& op, uint64_t seed, int steps) {
  task.Reset(seed);
  auto expert = task.MakeExpert(op, seed);
  std::vector<int> first(task.spec().info.milestones.size(), -1);
  for (int t = 0; t < steps; ++t) {
    task.Step(expert->Act());
    const Outcome o = task.Evaluate();
    for (size_t m = 0; m < first.size(); ++m) {
      if (first[m] < 0 && ((o.milestones >> m) & 1u)) first[m] = t + 1;
    }
    if (o.success) break;
  }
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
