// Transport (robomimic "Transport", robosuite TwoArmTransport with robots ["Panda", "Panda"],
// env_configuration "single-arm-opposed"): two arms facing each other across two tables. robot0
// takes the lid off the start bin and lifts the hammer out of it, hands the hammer over above the
// gap between the tables; robot1 puts it in the target bin and moves the trash cube from the target
// bin to the trash bin.
//
// Model: assets/transport/transport.xml (tables 0.8 x 0.3 x 0.05 with their tops at z 0.8, centred
//   at y -0.45 (table0) and +0.45 (table1); robot0 base at (0, -0.81, 0.912) rotated +pi/2 (facing
//   +y), robot1 at (0, +0.81, 0.912) rotated -pi/2 (its arm is a renamed copy of assets/panda made
//   in memory, see RenamedPandaFiles); three free 0.3 x 0.3 x 0.15 bins (density 10000) with the
//   body origin at the base plate's centre; the free lid (0.3 x 0.3 x 0.01 plate + handle 0.02 x
//   0.08 x 0.03, long along y); the free hammer "payload" (handle capsule r 0.015 spanning body z
//   -0.1..0.1, friction 4; head box half (2.5h, h, h) at body z +0.1); the free trash cube (half
//   0.02); cameras shouldercamera0, shouldercamera1, robot0/1_eye_in_hand, plus agentview,
//   frontview and birdview for videos).
// Reset(seed): each arm init_qpos + N(0, 0.02) joint noise (stream 1, robot0 then robot1); then on
//   stream 2: the hammer head half size h ~ U[0.015, 0.018] (robosuite draws it when building the
//   model), then robosuite's sequential sampler order start_bin, lid, payload, target_bin, trash,
//   trash_bin, each x, y, angle (all +-0.005 m around its centre): start_bin at (0.2, -0.45),
//   target_bin at (-0.2, 0.45), trash_bin at (0.2, 0.45), bins at rest on the table (yaw 0); the
//   lid on the start bin's rim; the hammer in the start bin as robosuite 1.5.1 effectively places
//   it (PayloadStartRot: its angle a ~ U[pi/2 - pi/6, pi/2 + pi/6], then a discarded draw and the
//   head-side flip, as robosuite's sampler evaluates HammerObject.init_quat twice): handle level,
//   head toward yaw +a or -a, its lowest point 1 mm above the base plate (it drops and settles);
//   the trash in the target bin, 1 mm above the base plate, yaw ~ U[-0.3 pi, 0.3 pi].
//   (The lid's, hammer's and trash's x/y draws are overridden by their bin's, as in robosuite.)
// Action: 14-D delta (robot0 then robot1, each dpos 3, daxis-angle 3, gripper: +1 close / -1 open)
//   or 20-D absolute (10 per arm).
// Observations: robot0_eef_pos (3), robot0_eef_quat (4, xyzw), robot0_gripper_qpos (2), the same
//   for robot1, object (41) = robosuite TwoArmTransport's object observables in registration order:
//     [payload_pos 3, payload_quat 4, trash_pos 3, trash_quat 4, lid_handle_pos 3,
//      lid_handle_quat 4, target_bin_pos 3, trash_bin_pos 3, payload_in_target_bin 1,
//      trash_in_trash_bin 1, gripper0_to_payload 3, gripper0_to_lid_handle 3,
//      gripper1_to_payload 3, gripper1_to_trash 3]
//   (payload / trash: body pose; lid handle: the handle geom's pose; bins: the base geom position;
//   quats xyzw with w >= 0; "gripperI_to_X" = X's position - robotI's grip site, world frame);
//   shouldercamera0_image, robot0_eye_in_hand_image, shouldercamera1_image,
//   robot1_eye_in_hand_image (84 x 84 x 3 uint8).
// Success (robosuite TransportGroup): a contact between a hammer geom and target_bin_base AND a
//   contact between the trash and trash_bin_base. Reward 1 on success, else 0. Horizon 700 for
//   both variants (diffusion_policy's max_steps); MH demonstrations are collected with robomimic's
//   MH horizon, 1100 (TaskSpec::collect_max_steps).
// Perturbations: move of the trash cube in the target bin as robot1 reaches for it
//   (transport_perturbations.cc).
#pragma once

#include <memory>
#include <string>

#include "tasks/common/robomimic_task.h"

namespace onedp {

struct TransportChecks {
  bool payload_in_target_bin = false;
  bool trash_in_trash_bin = false;
  // Sub-goals before success (TaskInfo::milestones): the lid's centre is off the start bin's
  // footprint; the hammer's body origin (handle centre) is above the start bin's rim.
  bool lid_off = false;
  bool payload_lifted = false;
  bool Success() const { return payload_in_target_bin && trash_in_trash_bin; }
  // Bits in the order of TransportTask::Info's milestones.
  uint32_t Milestones() const;
};

class TransportTask : public RobomimicTask {
 public:
  static constexpr double kTableTopZ = 0.8;
  static constexpr double kTableY = 0.45;           // table1 centre; table0 at -kTableY
  static constexpr double kBinX = 0.2;              // start and trash bins at +x, target bin at -x
  static constexpr double kBinHalf = 0.15;          // outer half width of a bin
  static constexpr double kBinInnerHalf = 0.14;     // inner half width (walls 0.01)
  static constexpr double kBinBaseHalfZ = 0.005;    // base plate half thickness
  static constexpr double kBinRim = 0.145;          // rim height above the bin's body origin
  static constexpr double kHandleHalfLength = 0.1;  // hammer handle, along body z
  static constexpr double kHandleRadius = 0.015;
  static constexpr double kTrashHalf = 0.02;
  static constexpr double kLidHandleZ = 0.02;       // lid handle centre above the lid plate centre

  explicit TransportTask(const std::string& variant);
  // The task's facts (TaskInfo) without constructing it.
  static TaskInfo Info(const std::string& variant);

  Outcome Evaluate() const override;
  std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) override;
  nlohmann::json EpisodeMeta() const override;
  nlohmann::json EnvKwargs() const override;

  // Both contact tests of the success predicate on the current mjData (d->contact).
  TransportChecks Checks() const;

  // Poses (world). Payload body frame: handle along +z (head end), head long along x (robosuite's).
  Eigen::Vector3d PayloadPos() const { return BodyPos(payload_body_); }
  Eigen::Matrix3d PayloadRot() const { return BodyRot(payload_body_); }
  Eigen::Vector3d TrashPos() const { return BodyPos(trash_body_); }
  Eigen::Matrix3d TrashRot() const { return BodyRot(trash_body_); }
  Eigen::Vector3d LidPos() const { return BodyPos(lid_body_); }
  Eigen::Matrix3d LidRot() const { return BodyRot(lid_body_); }
  Eigen::Vector3d LidHandlePos() const;
  Eigen::Vector3d StartBinPos() const { return GeomPos(start_bin_base_); }
  Eigen::Vector3d TargetBinPos() const { return GeomPos(target_bin_base_); }
  Eigen::Vector3d TrashBinPos() const { return GeomPos(trash_bin_base_); }
  double head_half_size() const { return head_half_; }

  // The hammer's start orientation robosuite 1.5.1's reset produces from its drawn angle (about y,
  // pi/2 +- pi/6) and HammerObject.init_quat's flip (head_side +1 for its first value, -1 for the
  // second); the derivation is in transport.cc.
  static Eigen::Matrix3d PayloadStartRot(double angle, int head_side);

  // Test / expert helpers: set a free object's pose (zero velocity) and run mj_forward.
  void PlacePayload(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q);
  void PlaceTrash(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q);
  void PlaceLid(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q);

 protected:
  // move of the trash cube (tasks/transport/transport_perturbations.cc: the facts).
  std::unique_ptr<Perturber> MakePerturber(const std::string& name) override;
  void PlaceObjects(Rng* rng) override;
  std::vector<double> ObjectObs() const override;

 private:
  Eigen::Vector3d GeomPos(int geom) const;
  void SetHeadHalfSize(double h);

  int payload_body_, head_body_, trash_body_, lid_body_;
  int payload_joint_, trash_joint_, lid_joint_, start_bin_joint_, target_bin_joint_, trash_bin_joint_;
  int head_geom_, lid_handle_geom_, start_bin_base_, target_bin_base_, trash_bin_base_;
  double head_half_ = 0.0165;
  // drawn at reset (episode metadata): bins' x, y; hammer angle and head side; trash yaw
  Eigen::Vector2d start_bin_xy_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d target_bin_xy_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d trash_bin_xy_ = Eigen::Vector2d::Zero();
  double payload_angle_ = 0, trash_yaw_ = 0;
  int payload_head_side_ = 1;
};

}  // namespace onedp
