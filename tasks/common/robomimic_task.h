// Shared machinery of the robomimic tasks (Lift, Can, Square, ToolHang, Transport): Panda robots
// under OSC_POSE at 500 Hz physics / 20 Hz control (25 substeps, goal set on the first substep,
// torques every substep), the reset order (robots, then objects, each from its own seeded
// stream), robomimic observation keys and cameras, env_args metadata.
//
// Observations (robomimic keys): <robot>eef_pos (3), <robot>eef_quat (4, xyzw),
// <robot>gripper_qpos (2) for each robot; "object" (task-specific low-dim vector); one RGB image
// "<camera>_image" (H x W x 3, rows top-down) per camera.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tasks/common/panda_robot.h"
#include "tasks/task.h"

namespace onedp {

struct RobomimicTaskConfig {
  std::string name;      // e.g. "lift-ph"
  std::string env_name;  // e.g. "Lift"
  std::string display_name;  // the tables' name without the variant, e.g. "Square"
  std::string variant;   // "ph" / "mh"
  std::string model;     // MJCF path relative to assets/
  std::vector<std::string> cameras = {"agentview", "robot0_eye_in_hand"};
  int image_size = 84;
  int object_dim = 0;
  int max_steps = 400;
  int collect_max_steps = 0;  // TaskSpec::collect_max_steps
  int num_robots = 1;
};

// The facts every robomimic task shares (TaskInfo): success rate; DP's absolute actions
// ("actions_abs", per arm pos 3 "limits", rot6d 6 and gripper 1 "identity"); policy inputs in the
// shape_meta order of DP's configs: image mode the cameras, then per robot eef_pos, eef_quat,
// gripper_qpos; low-dim mode the object vector first, then the same per-robot keys (quaternions
// are not normalised); a free camera on the table and the arm from the front-right.
TaskInfo RobomimicTaskInfo(const RobomimicTaskConfig& config);

class RobomimicTask : public Task {
 public:
  explicit RobomimicTask(const RobomimicTaskConfig& config);

  const TaskSpec& spec() const override { return spec_; }
  void Reset(uint64_t seed) override;
  void Step(const std::vector<double>& action) override;
  void Observe(Observation* obs, bool render = true) override;
  std::vector<double> LastAbsAction() const override;
  // Delta mode: per arm zero motion (6 zeros) and its current gripper command.
  std::vector<double> HoldAction() const override;
  nlohmann::json EnvKwargs() const override;
  nlohmann::json DatasetConventions() const override;
  std::string ModelXml() const override { return model_xml_; }

  PandaRobot& robot(int i = 0) { return *robots_.at(i); }
  const PandaRobot& robot(int i = 0) const { return *robots_.at(i); }

  // robosuite's reach test used by Can/Square success: 1 - tanh(10 |grip_site - p|) < 0.6.
  bool GripperFarFrom(const Eigen::Vector3d& p, int robot_index = 0) const;
  // Whether a finger pad of the robot's gripper touches (a geom of) the top-level body `body`:
  // perturbations leave an object in the fingers alone.
  bool FingersTouch(int body, int robot_index = 0) const;

 protected:
  // Places the task's objects for a new episode (and may resize them); `rng` is seeded from the
  // episode seed on a stream of its own.
  virtual void PlaceObjects(Rng* rng) = 0;
  // The "object" low-dim vector (spec().obs entry of size object_dim).
  virtual std::vector<double> ObjectObs() const = 0;

  // robosuite's object observables for a pose (position p, quaternion q_xyzw, rotation r), 14
  // values: [pos 3, quat 4 (xyzw), pos in the grip-site frame 3, quat in the grip-site frame 4
  // (xyzw, w >= 0)].
  std::vector<double> PoseObs(const Eigen::Vector3d& p, const Eigen::Vector4d& q_xyzw,
                              const Eigen::Matrix3d& r, int robot_index = 0) const;
  // The same for one body, its quaternion as MuJoCo holds it (xquat).
  std::vector<double> BodyPoseObs(int body, int robot_index = 0) const;
  Eigen::Vector3d BodyPos(int body) const;
  Eigen::Vector4d BodyQuatXyzw(int body) const;
  Eigen::Matrix3d BodyRot(int body) const;
  // Sets a free joint's pose (pos + quat wxyz) and zero velocity.
  void SetFreeJoint(int joint, const Eigen::Vector3d& pos, const Eigen::Quaterniond& quat);

  // What every robomimic object task's perturbations share: the object slides when the grip site
  // comes within 10 cm of it in the table plane, 5-10 cm at 0.2 m/s (1 cm per control step, a
  // hand's pace), and may leave at most 2 mm of penetration; a reset comes after a number of steps
  // drawn from [reset_min_step, reset_max_step] (the task's approach phase).
  static PerturbationFacts HandPerturbationFacts(int reset_min_step, int reset_max_step);
  // A perturbed object on free joint `joint` (top-level body `body`): the gripper is robot 0's grip
  // site, and placing it by planar position keeps its height and orientation. The task adds the
  // object's planar position, fresh placement, bounds and blocking rule.
  PerturbationObject FreeJointObject(int body, int joint);

  TaskSpec spec_;
  std::vector<std::unique_ptr<PandaRobot>> robots_;
  std::vector<int> camera_ids_;

 private:
  std::string model_xml_;
};

}  // namespace onedp
