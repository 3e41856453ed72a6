// ToolHang (robomimic "ToolHang", robosuite ToolHang): insert the hook frame into the stand's mount,
// then hang the ratcheting wrench on the frame's hook. PH only (robomimic has no ToolHang MH).
//
// Model: assets/tool_hang/tool_hang.xml (table 0.8 x 0.8 x 0.05 with its top at z = 0.8; Panda base at
//   (-0.56, 0, 0.912); the FIXED stand (base plate + four 1 mm walls forming a 1.0 cm square mount,
//   15 cm tall, mount axis at (-0.08, 0.045)); the free L-shaped hook frame (rod + hook bar + hook +
//   box grip + insertion tip, density 500); the free wrench (handle, two 8-box rings, box grip,
//   density 2000); cameras sideview and robot0_eye_in_hand, plus agentview (same pose as sideview, 5 cm
//   higher, as robosuite's ToolHang) for videos).
// Reset(seed): arm init_qpos + N(0, 0.02) joint noise (stream 1); then on stream 2, in robosuite's
//   sampler order: frame x ~ U[-0.06, -0.02], y ~ U[-0.26, -0.22], angle a ~ U[-pi/3 - pi/18, -pi/3 + pi/18]
//   (robosuite's "rotation about y" composed with HookFrame.init_quat, which works out to the frame lying
//   flat on the table: body y down, rod (body z) along yaw pi - a, i.e. orientation Rz(-(a + pi/2)) * R0
//   with R0 columns (-1,0,0), (0,0,-1), (0,-1,0)), body z 0.8415 (table + robosuite's z offset + the
//   frame's bounding half height; it drops ~3 cm onto its grip); tool x ~ U[0.02, 0.06],
//   y ~ U[-0.22, -0.18], yaw ~ U[-pi/2 - pi/9 - pi/18, -pi/2 - pi/9 + pi/18], body z 0.841 (table + 0.001 +
//   0.04, robosuite's bottom offset of the unrotated grip; it drops ~2.6 cm). No collision checks (as
//   robosuite: ensure_valid_placement = False).
// Action: 7-D delta (dpos 3, daxis-angle 3, gripper: +1 close / -1 open) or 10-D absolute.
// Observations: robot0_eef_pos (3), robot0_eef_quat (4, xyzw), robot0_gripper_qpos (2),
//   object (44) = robosuite's ToolHang object observables in registration order:
//     [base_pos 3, base_quat 4, base_to_robot0_eef_pos 3, base_to_robot0_eef_quat 4,    (geom stand_base)
//      frame_pos 3, frame_quat 4, frame_to_robot0_eef_pos 3, frame_to_robot0_eef_quat 4, (site frame_intersection_site)
//      tool_pos 3, tool_quat 4, tool_to_robot0_eef_pos 3, tool_to_robot0_eef_quat 4,     (body tool)
//      frame_is_assembled 1, tool_on_frame 1]
//   quats xyzw with w >= 0 (from the rotation matrix, as robosuite's mat2quat); "_to_robot0_eef" is the
//   pose in the grip-site frame: R_eef^T (p - p_eef), q_eef^-1 * q;
//   sideview_image and robot0_eye_in_hand_image (240 x 240 x 3 uint8; policies random-crop 216).
// Success (robosuite ToolHang._check_success) = frame assembled AND tool on frame:
//   frame assembled: (1) stand shaft (stand_base geom -> stand_mount_site) within 10 deg of vertical,
//     (2) |frame_tip_site - stand_base| < 0.05, (3) the rod line (frame_mount_site -> frame_intersection_site)
//     passes between opposite walls: ((w0 - m) x v) . ((w2 - m) x v) < 0 and the same for w1, w3;
//   tool on frame: (1) no contact between a fingerpad and any tool geom, (2) a contact between a
//     tool_hole1_hc_* geom and frame_horizontal_frame, (3) tool_hole1_center within
//     0.0105 - 0.0075/2 = 0.00675 of the hook line (frame_hang_site -> frame_intersection_site),
//     (4) tool_hole1_hc_0 and tool_hole1_hc_4 on opposite sides of that line, (5) the hole centre's
//     projection along the line, divided by its length, in (0.05, 1.0).
//   Reward 1 on success, else 0. Horizon 700.
// Perturbations: reset of the wrench while the robot works on the frame (tool_hang_perturbations.cc).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "tasks/common/robomimic_task.h"

namespace onedp {

// The eight tests of ToolHang's success predicate, each true when passing.
struct ToolHangChecks {
  std::array<bool, 3> frame{};  // upright, tip near base, rod between walls
  std::array<bool, 5> tool{};   // no pad contact, hole-hook contact, near line, straddles, inserted
  bool FrameAssembled() const { return frame[0] && frame[1] && frame[2]; }
  bool ToolOnFrame() const { return tool[0] && tool[1] && tool[2] && tool[3] && tool[4]; }
  // Sub-goals before success (TaskInfo::milestones): the frame's / tool's body origin is more
  // than ToolHangTask::kLiftedHeight above where the reset leaves it lying on the table.
  bool frame_lifted = false;
  bool tool_lifted = false;
  bool Success() const { return FrameAssembled() && ToolOnFrame(); }
  // Bits in the order of ToolHangTask::Info's milestones.
  uint32_t Milestones() const;
};

class ToolHangTask : public RobomimicTask {
 public:
  static constexpr double kTableTopZ = 0.8;
  static constexpr double kMountX = -0.08, kMountY = 0.045;  // mount axis (stand at (-0.08, 0))
  static constexpr double kBaseTopZ = 0.811;                   // stand base plate top
  static constexpr double kWallTopZ = 0.961;                   // mount wall tops
  static constexpr double kFrameThickness = 0.0075;
  static constexpr double kHole1Inner = 0.0105;
  static constexpr double kHole1Offset = 0.0935328;  // hole 1 centre along the tool's -x
  static constexpr double kGripLocation = 0.0525;    // frame grip centre along the rod (body z)
  static constexpr double kRodX = 0.04375;           // rod axis in the frame's body x
  // Body-origin heights of the frame and the tool lying on the table after a reset: table +
  // z_offset + bounding half height, z_offset = (t - H)/2 + 0.001 + base_thickness/2 + grip half
  // length - (CH + 2 * cone height) = -0.0993, half height (H + 2 (CH + 2 * cone height))/2 =
  // 0.1408; the tool: table + 0.001 + 0.04 (the grip's unrotated half height is the composite's
  // bottom offset).
  static constexpr double kFrameRestZ = kTableTopZ + (-0.0993) + 0.1408;
  static constexpr double kToolRestZ = kTableTopZ + 0.001 + 0.04;
  static constexpr double kLiftedHeight = 0.05;  // "lifted" sub-goals: this far above the rest height

  explicit ToolHangTask(const std::string& variant = "ph");
  // The task's facts (TaskInfo) without constructing it.
  static TaskInfo Info(const std::string& variant);

  Outcome Evaluate() const override;
  std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) override;
  nlohmann::json EpisodeMeta() const override;

  // Every test of the success predicate on the current mjData (positions and d->contact).
  ToolHangChecks Checks() const;

  // Poses (world). Frame body frame: rod along +z, hook bar along -x from the rod top.
  Eigen::Vector3d FramePos() const { return BodyPos(frame_body_); }
  Eigen::Matrix3d FrameRot() const { return BodyRot(frame_body_); }
  Eigen::Vector3d ToolPos() const { return BodyPos(tool_body_); }
  Eigen::Matrix3d ToolRot() const { return BodyRot(tool_body_); }
  Eigen::Vector3d SitePos(int site) const;
  int site_id(const std::string& name) const { return sim_->Id(mjOBJ_SITE, name); }
  int frame_joint() const { return frame_joint_; }
  int tool_joint() const { return tool_joint_; }

  // Test / expert helpers: set a free object's pose (zero velocity) and run mj_forward.
  void PlaceFrame(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q);
  void PlaceTool(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q);

 protected:
  void PlaceObjects(Rng* rng) override;
  std::vector<double> ObjectObs() const override;
  // reset of the wrench (tasks/tool_hang/tool_hang_perturbations.cc: the facts).
  std::unique_ptr<Perturber> MakePerturber(const std::string& name) override;

 private:
  // The wrench's reset draw (x, y, yaw), in robosuite's sampler order, and placing it there at rest.
  static Eigen::Vector3d DrawTool(Rng* rng);
  void PlaceToolAt(const Eigen::Vector3d& xy_yaw);
  // PoseObs of a pose read from MuJoCo's arrays, its quaternion from the rotation (w >= 0).
  std::vector<double> ArrayPoseObs(const mjtNum* pos, const mjtNum* mat) const;

  int frame_body_, tool_body_, frame_joint_, tool_joint_;
  int stand_base_geom_, frame_bar_geom_;
  int stand_mount_site_, frame_hang_site_, frame_mount_site_, frame_intersection_site_, frame_tip_site_;
  int tool_hole1_site_;
  std::array<int, 4> walls_{};
  std::array<int, 8> hole1_geoms_{};
  // drawn at reset (episode metadata)
  Eigen::Vector3d frame_init_ = Eigen::Vector3d::Zero();  // x, y, angle
  Eigen::Vector3d tool_init_ = Eigen::Vector3d::Zero();   // x, y, yaw
};

}  // namespace onedp
