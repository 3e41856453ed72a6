#include "tasks/tool_hang/tool_hang_expert.h"

#include <algorithm>
#include <cmath>

#include "sim/controllers.h"
#include "tasks/common/expert_util.h"
#include "tasks/tool_hang/tool_hang.h"

namespace onedp {
namespace {

// Direction of the assembled hook bar (rod -> free end): +y. The rod's 0.75 cm square must line up with
// the 1 cm square mount (it jams beyond ~19 deg), so the bar is along x or y. With the grasps used
// (frame: fingers along the frame's body x, hand along its body y; wrench: hand along -tool z) the
// frame's hand then points +x (reached with the wrist flipped, joint 5 near -2.8: the rod hangs
// plumb from the fingers anyway) and the wrench's hand points -y (comfortable, joint 5 near -1.1).
// A bar along -x (free end toward the robot) makes the frame easy and the wrench's forward-pointing
// hand unreachable at the bar's height; +x and -y point a hand back at the robot.
constexpr double kBarYaw = M_PI / 2;
// Tip height above the wall tops before inserting.
constexpr double kAboveWalls = 0.04;
// Keeping clear of the assembled frame on the way to the wrench: the hand stays at least at kClearZ while
// its grip site is within kClearRadius (horizontally) of the mount axis. The bar's axis is 0.2207 above
// the tip (z 1.032 with the tip on the base plate), the hook's top 0.2364 (1.047), and the bar with its
// hook reaches 0.091 from the rod axis; the open hand is ~0.1 wide across its fingers. Under robosuite's
// solver options (elliptic cone, impratio 20; assets/README.md "ToolHang") a hand dragged across the bar
// no longer slides off it: it turns the frame in the stand until the hook lies over the wrench, where
// the forearm then rests on it and the grasp never converges.
constexpr double kClearZ = 1.10;
constexpr double kClearRadius = 0.17;
// Threading path of the hole-1 centre over the hook (metres / radians): u along the bar from its
// free end toward the rod, z above the bar axis, pitch of the wrench plane about its handle (ring top
// leaning toward the rod). The bar + hook profile (0.75 x 1.95 cm) is 0.1 mm taller than the ring's hole
// (1.94 cm across flats): straight on, it cannot pass. Pitched 55 deg the ring's top slab clears the
// hook top while its bottom slab is still in front of the free end; the ring then drops at u 2-6 mm and
// is straightened to 20 deg as it slides on along the bar (feasible corridors computed from the box
// geometry).
struct PathPoint {
  double u, z, pitch;
};
constexpr double kDeg = M_PI / 180.0;
constexpr PathPoint kPath[] = {
    {-0.035, 0.060, 55 * kDeg}, {-0.035, 0.014, 55 * kDeg}, {0.0035, 0.014, 55 * kDeg},
    {0.004, 0.0025, 55 * kDeg}, {0.006, 0.0020, 50 * kDeg}, {0.007, 0.0012, 45 * kDeg},
    {0.008, 0.0003, 40 * kDeg}, {0.009, 0.0, 35 * kDeg},    {0.014, 0.0, 25 * kDeg},
    {0.030, 0.0, 20 * kDeg},
};
constexpr int kPathN = sizeof(kPath) / sizeof(kPath[0]);

double SegLen(int i) { return std::hypot(kPath[i + 1].u - kPath[i].u, kPath[i + 1].z - kPath[i].z); }

double PathLength() {
  double l = 0;
  for (int i = 0; i + 1 < kPathN; ++i) l += SegLen(i);
  return l;
}

// The path point at arc length s (in the (u, z) plane), pitch interpolated.
PathPoint PathAt(double s) {
  for (int i = 0; i + 1 < kPathN; ++i) {
    const double l = SegLen(i);
    if (s <= l || i + 2 == kPathN) {
      const double f = std::clamp(s / l, 0.0, 1.0);
      const PathPoint& a = kPath[i];
      const PathPoint& b = kPath[i + 1];
      return {a.u + f * (b.u - a.u), a.z + f * (b.z - a.z), a.pitch + f * (b.pitch - a.pitch)};
    }
    s -= l;
  }
  return kPath[kPathN - 1];
}

Eigen::Vector3d Site(const ToolHangTask& t, int id) { return t.SitePos(id); }

// Hand pose that brings a held object from its current pose (po, ro) to (pt, rt), keeping the grasp.
void HandFor(const PandaRobot& robot, const Eigen::Vector3d& po, const Eigen::Matrix3d& ro,
             const Eigen::Vector3d& pt, const Eigen::Matrix3d& rt, Eigen::Vector3d* ph, Eigen::Matrix3d* rh) {
  const Eigen::Matrix3d delta = rt * ro.transpose();
  *rh = delta * robot.EefRot();
  *ph = pt + delta * (robot.EefPos() - po);
}

double RotErr(const Eigen::Matrix3d& a, const Eigen::Matrix3d& b) {
  return RotationToAxisAngle(a * b.transpose()).norm();
}

}  // namespace

ToolHangExpert::ToolHangExpert(ToolHangTask* task, const OperatorProfile& op, uint64_t seed)
    : task_(task), op_(op, seed) {}

std::string ToolHangExpert::Phase() const {
  switch (stage_) {
    case Stage::kFrameApproach: return "frame_approach";
    case Stage::kFrameDescend: return "frame_descend";
    case Stage::kFrameClose: return "frame_close";
    case Stage::kFrameLift: return "frame_lift";
    case Stage::kFrameOrient: return "frame_orient";
    case Stage::kFrameAlign: return "frame_align";
    case Stage::kFrameInsert: return "frame_insert";
    case Stage::kFrameRelease: return "frame_release";
    case Stage::kToolUnflip: return "tool_unflip";
    case Stage::kToolApproach: return "tool_approach";
    case Stage::kToolDescend: return "tool_descend";
    case Stage::kToolClose: return "tool_close";
    case Stage::kToolLift: return "tool_lift";
    case Stage::kToolOrient: return "tool_orient";
    case Stage::kToolThread: return "tool_thread";
    case Stage::kToolRelease: return "tool_release";
    case Stage::kDone: return "done";
  }
  return "?";
}

void ToolHangExpert::Go(Stage next) {
  stage_ = next;
  stage_steps_ = 0;
}

std::vector<double> ToolHangExpert::Act() {
  const ToolHangTask& t = *task_;
  const PandaRobot& robot = t.robot();
  const Eigen::Vector3d eef = robot.EefPos();
  const Eigen::Matrix3d eef_rot = robot.EefRot();
  const double speed = op_.cruise_speed();
  ++stage_steps_;

  Eigen::Vector3d target = eef;
  Eigen::Matrix3d target_rot = eef_rot;
  double gripper = -1.0;
  double move_speed = speed;
  double rot_speed = 0.6;

  const Eigen::Vector3d frame_pos = t.FramePos();
  const Eigen::Matrix3d frame_rot = t.FrameRot();
  const Eigen::Vector3d tool_pos = t.ToolPos();
  const Eigen::Matrix3d tool_rot = t.ToolRot();
  const Eigen::Vector3d grip = Site(t, t.site_id("frame_grip_site"));
  const Eigen::Vector3d tip = Site(t, t.site_id("frame_tip_site"));
  const Eigen::Vector3d mount(ToolHangTask::kMountX, ToolHangTask::kMountY, ToolHangTask::kWallTopZ);

  // assembled frame orientation: rod up, hook bar (body -x) along kBarYaw
  const Eigen::Vector3d bar(std::cos(kBarYaw), std::sin(kBarYaw), 0.0);
  Eigen::Matrix3d frame_goal_rot;
  frame_goal_rot.col(0) = -bar;
  frame_goal_rot.col(2) = Eigen::Vector3d::UnitZ();
  frame_goal_rot.col(1) = frame_goal_rot.col(2).cross(frame_goal_rot.col(0));
  const Eigen::Vector3d tip_local(ToolHangTask::kRodX, 0.0, -0.13445);
  // frame body position that puts the tip at `tip_goal` with the goal orientation
  auto frame_origin_for_tip = [&](const Eigen::Vector3d& tip_goal) { return tip_goal - frame_goal_rot * tip_local; };
  // the hand orientation that holds the frame at frame_goal_rot with the nominal grasp (fingers along
  // the frame's body x, hand axis along its body y)
  Eigen::Matrix3d hand_goal_rot;
  hand_goal_rot.col(0) = frame_goal_rot.col(0);
  hand_goal_rot.col(1) = -frame_goal_rot.col(2);
  hand_goal_rot.col(2) = frame_goal_rot.col(1);
  bool shaky = true;  // the operator's noise applies (not while lining up the insertion)

  switch (stage_) {
    // ------------------------------------------------------------------ frame
    case Stage::kFrameApproach: {
      const Eigen::Vector3d bx = frame_rot.col(0);
      grasp_yaw_ = std::atan2(bx.y(), bx.x());
      target_rot = TopDownRotation(grasp_yaw_);
      target = grip + Eigen::Vector3d(0, 0, 0.08);
      if ((target - eef).norm() < 0.01 && RotErr(target_rot, eef_rot) < 0.1) Go(Stage::kFrameDescend);
      break;
    }
    case Stage::kFrameDescend: {
      target_rot = TopDownRotation(grasp_yaw_);
      target = grip;
      move_speed = 0.8 * speed;
      if ((target - eef).norm() < 0.004 && RotErr(target_rot, eef_rot) < 0.08) Go(Stage::kFrameClose);
      break;
    }
    case Stage::kFrameClose: {
      gripper = 1.0;
      target_rot = TopDownRotation(grasp_yaw_);
      target = grip;
      if (FingersSettled(robot, stage_steps_, &last_finger_)) Go(Stage::kFrameLift);
      break;
    }
    case Stage::kFrameLift: {
      gripper = 1.0;
      target_rot = TopDownRotation(grasp_yaw_);
      target = Eigen::Vector3d(eef.x(), eef.y(), 1.12);
      if (eef.z() > 1.06) Go(Stage::kFrameOrient);
      break;
    }
    case Stage::kFrameOrient:
    case Stage::kFrameAlign: {
      gripper = 1.0;
      const Eigen::Vector3d tip_goal = mount + Eigen::Vector3d(0, 0, kAboveWalls);
      const double xy_err = (tip - tip_goal).head<2>().norm();
      const double tip_speed = (tip - last_tip_).norm();
      last_tip_ = tip;
      rot_speed = 0.5;
      if (stage_ == Stage::kFrameOrient) {
        // Turn the hand to the NOMINAL grasp's goal orientation (as if the frame sat in the fingers as
        // grasped), slowly. The frame swings in the fingers about their closing axis (it creeps under
        // gravity while lying and while upright); feeding that measured swing back into the hand target
        // during this ~130 deg turn pushed the wrist into the branch where joint 6 runs into its upper
        // limit (joint 5 must go to its lower limit instead): 11 of seeds 0-99 stalled there. The position
        // is computed for the nominal grasp too; frame_align then corrects the tip's measured position.
        const Eigen::Matrix3d nominal_frame_rot = eef_rot * hand_goal_rot.transpose() * frame_goal_rot;
        HandFor(robot, frame_pos, nominal_frame_rot, frame_origin_for_tip(tip_goal), frame_goal_rot, &target,
                &target_rot);
        rot_speed = 0.3;
        // A frame hanging a few degrees off the nominal grasp in the fingers (robosuite's options hold it
        // where it swung to rather than letting it creep) can keep both errors above these bounds for
        // most of the horizon; after 120 steps looser bounds do, frame_align corrects the tip's position.
        const double frame_rot_err = RotErr(frame_goal_rot, frame_rot);
        const bool close = xy_err < 0.01 && frame_rot_err < 0.1;
        const bool close_enough = stage_steps_ > 120 && xy_err < 0.03 && frame_rot_err < 0.2;
        if (close || close_enough) {
          hold_pos_ = eef;
          Go(Stage::kFrameAlign);
        }
      } else {
        // The frame can swing in the fingers about the closing axis (a pendulum hanging from the pads):
        // hold the hand at the nominal grasp orientation and move it only by the tip's position error,
        // gently, so the swing dies out instead of being chased.
        // integral action on a fixed hand target: the wrist works near joint 5's limit here, so the
        // hand does not go exactly where it is told; the target keeps moving until the tip does
        target_rot = hand_goal_rot;
        hold_pos_ += 0.3 * (tip_goal - tip);
        target = hold_pos_;
        move_speed = 0.3 * speed;
        shaky = false;
        if (xy_err < 0.002 && tip_speed < 0.0005 && std::abs(tip.z() - tip_goal.z()) < 0.01) {
          insert_z_ = tip.z();
          Go(Stage::kFrameInsert);
        }
      }
      break;
    }
    case Stage::kFrameInsert: {
      gripper = 1.0;
      move_speed = 0.5 * speed;
      rot_speed = 0.3;
      insert_z_ = std::max(ToolHangTask::kBaseTopZ, insert_z_ - 0.004);
      // line up the part of the rod that is entering the mount: the tip above the walls; once it is 1 cm
      // inside them (the walls now hold the rod's lower end), the rod's middle between its bottom (mount
      // site) and the held grip, which stands the rod upright. Under robosuite's options (elliptic cone,
      // impratio 20) a rod 2-4 deg off plumb wedges between the walls instead of sliding down them; lining
      // up the rod bottom alone left the grip (14 cm above it) off the axis by that tilt, and the frame
      // jammed above the base plate.
      const Eigen::Vector3d rod_bottom = Site(t, t.site_id("frame_mount_site"));
      const Eigen::Vector3d held = Site(t, t.site_id("frame_grip_site"));
      const Eigen::Vector3d probe =
          tip.z() > ToolHangTask::kWallTopZ - 0.01 ? tip : Eigen::Vector3d(0.5 * (rod_bottom + held));
      const Eigen::Vector2d xy_err = mount.head<2>() - probe.head<2>();
      target_rot = hand_goal_rot;
      hold_pos_.x() += 0.3 * xy_err.x();
      hold_pos_.y() += 0.3 * xy_err.y();
      hold_pos_.z() = eef.z() + std::max(-0.01, insert_z_ - tip.z());
      target = hold_pos_;
      shaky = false;
      // deep enough for the success test (tip within 5 cm of the base plate's centre, i.e. at most
      // ~1.7 cm above its top) with a margin
      if (tip.z() < ToolHangTask::kBaseTopZ + 0.013 && t.Checks().FrameAssembled()) Go(Stage::kFrameRelease);
      if (stage_steps_ > 120) Go(Stage::kFrameOrient);  // jammed: lift back out and line up again
      break;
    }
    case Stage::kFrameRelease: {
      gripper = -1.0;
      if (stage_steps_ == 1) {
        hold_pos_ = eef;
        hold_rot_ = eef_rot;
      }
      target_rot = hold_rot_;
      // open in place, then back off along the hand axis and rise
      target = hold_pos_;
      if (stage_steps_ > 8) target = hold_pos_ - 0.10 * hold_rot_.col(2) + Eigen::Vector3d(0, 0, 0.05);
      if (stage_steps_ > 18) {
        frame_done_ = true;
        Go(Stage::kToolUnflip);
      }
      break;
    }
    case Stage::kToolUnflip: {
      // The frame's forward-pointing hand has the wrist flipped (joint 5 near -2.8); straight back to
      // top-down it stalls on joint 6. Unflip through a hand pointing -y (fingers along -x, yaw pi),
      // which the wrist reaches from both sides; tool_approach then tilts it down to top-down. Above the
      // hook's height (kClearZ), so that the fingers do not sweep the bar on the way to the wrench.
      rot_speed = 0.8;
      target = Eigen::Vector3d(-0.1, 0.2, kClearZ);
      target_rot.col(0) = -Eigen::Vector3d::UnitX();
      target_rot.col(2) = -Eigen::Vector3d::UnitY();
      target_rot.col(1) = target_rot.col(2).cross(target_rot.col(0));
      if (RotErr(target_rot, eef_rot) < 0.25 && (target - eef).norm() < 0.05) Go(Stage::kToolApproach);
      break;
    }
    // ------------------------------------------------------------------ tool
    case Stage::kToolApproach: {
      if (stage_steps_ == 1) {
        // fingers across the handle, hand x = -tool y (hand z = -tool z): of the two symmetric grasps
        // the one whose yaw is near the unflipped hand's (pi), so the wrist hardly turns
        const Eigen::Vector3d ty = -tool_rot.col(1);
        grasp_yaw_ = std::atan2(ty.y(), ty.x());
      }
      // turn the wrist toward the grasp yaw the negative way (from the unflip's yaw pi; the positive
      // way round runs joint 7 into its lower limit)
      const double cur = YawOf(eef_rot);
      double rem = std::remainder(grasp_yaw_ - cur, 2.0 * M_PI);
      if (rem > 0.5) rem -= 2.0 * M_PI;
      target_rot = TopDownRotation(cur + std::max(-1.0, rem));
      rot_speed = 1.0;
      target = tool_pos + Eigen::Vector3d(0, 0, 0.08);
      // over the assembled frame: stay above it
      if ((eef - mount).head<2>().norm() < kClearRadius) target.z() = std::max(target.z(), kClearZ);
      // the transit from the unflip pose to the wrench is long: full speed until close (as tool_orient's
      // carry); this gives the threading stage ~40 more steps within the horizon
      if ((target - eef).norm() > 0.05) move_speed = 1.0;
      if ((target - eef).norm() < 0.01 && RotErr(target_rot, eef_rot) < 0.1) Go(Stage::kToolDescend);
      break;
    }
    case Stage::kToolDescend: {
      target_rot = TopDownRotation(grasp_yaw_);
      target = tool_pos;
      move_speed = 0.8 * speed;
      if ((target - eef).norm() < 0.004 && RotErr(target_rot, eef_rot) < 0.08) Go(Stage::kToolClose);
      break;
    }
    case Stage::kToolClose: {
      gripper = 1.0;
      target_rot = TopDownRotation(grasp_yaw_);
      target = tool_pos;
      if (FingersSettled(robot, stage_steps_, &last_finger_)) Go(Stage::kToolLift);
      break;
    }
    case Stage::kToolLift: {
      gripper = 1.0;
      target_rot = TopDownRotation(grasp_yaw_);
      target = Eigen::Vector3d(eef.x(), eef.y(), 1.12);
      if (eef.z() > 0.90) {
        path_s_ = SegLen(0);  // straight to the path's second point, from above
        Go(Stage::kToolOrient);
      }
      break;
    }
    case Stage::kToolOrient:
    case Stage::kToolThread: {
      gripper = 1.0;
      // measured hook line: from the free end (hang site) toward the rod (intersection site)
      const Eigen::Vector3d hang = Site(t, t.site_id("frame_hang_site"));
      const Eigen::Vector3d inter = Site(t, t.site_id("frame_intersection_site"));
      const Eigen::Vector3d along = (inter - hang).normalized();  // free end -> rod
      const Eigen::Vector3d lateral = Eigen::Vector3d::UnitZ().cross(along).normalized();
      // where along the threading path (see kPath) the hole is commanded to be
      const PathPoint p = PathAt(path_s_);
      // wrench goal: plane perpendicular to the bar pitched by p.pitch about the handle axis (ring top
      // leaning toward the rod), handle horizontal pointing away from the robot (tool x = lateral); the
      // hand holds it with the fingers closing along the ring's plane (hand x = -tool y)
      const Eigen::Vector3d up = std::sin(p.pitch) * along + std::cos(p.pitch) * Eigen::Vector3d::UnitZ();
      Eigen::Matrix3d tool_goal;
      tool_goal.col(0) = lateral;
      tool_goal.col(1) = -up;
      tool_goal.col(2) = lateral.cross(-up);
      const Eigen::Vector3d hole = Site(t, t.site_id("tool_hole1_center"));
      Eigen::Vector3d hole_goal = hang + p.u * along + Eigen::Vector3d(0, 0, p.z);
      // carried in from the rod side over the frame: 5 cm above the path start until over it
      if (stage_ == Stage::kToolOrient && (hole - hole_goal).head<2>().norm() > 0.008) {
        hole_goal.z() += 0.05;
      }
      const Eigen::Vector3d tool_origin_goal = hole_goal + ToolHangTask::kHole1Offset * lateral;
      // hand pose that puts the wrench there given the MEASURED grasp (the box grip holds it rigidly),
      // plus an integrated correction of the hole position (the arm sags under the load)
      HandFor(robot, tool_pos, tool_rot, tool_origin_goal, tool_goal, &target, &target_rot);
      const double hole_err = (hole - hole_goal).norm();
      if (hole_err < 0.01) hole_corr_ += 0.05 * (hole_goal - hole);
      target += hole_corr_;
      rot_speed = 0.5;
      const double rot_err = RotErr(tool_goal, tool_rot);
      if (stage_ == Stage::kToolOrient) {
        // 1. turn the wrench in place, high; 2. carry it (high) over the start of the path
        stall_steps_ = 0;
        if (stage_steps_ == 1) {
          hold_pos_ = Eigen::Vector3d(eef.x(), eef.y(), 1.12);
          hole_corr_.setZero();
          carried_ = false;
        }
        if (rot_err > 0.8 && !carried_) {
          target = hold_pos_;  // the first part of the turn in place
          rot_speed = 0.6;
        } else {
          carried_ = true;
          if ((hole - hole_goal).norm() > 0.05) move_speed = 1.0;
        }
        if (hole_err < 0.003 && rot_err < 0.08) Go(Stage::kToolThread);
      } else {
        // advance along the path only while the hole follows it; slowly near the hook
        const bool near_hook = p.u > -0.003 && p.u < 0.009;
        move_speed = near_hook ? 0.4 * speed : speed;
        rot_speed = 0.8;
        shaky = false;  // as while inserting the frame: the operator's noise is off while threading
        if (hole_err < (near_hook ? 0.0015 : 0.004) && rot_err < (near_hook ? 0.1 : 0.25)) {
          path_s_ = std::min(path_s_ + (near_hook ? 0.0015 : 0.003), PathLength());
          stall_steps_ = 0;
        } else {
          ++stall_steps_;
        }
        // the ring around the bar past the hook: release at the path's end, or where it got stuck
        const Eigen::Vector3d h = hole - hang;
        const bool on_bar = h.dot(along) > 0.012 && std::abs(h.z()) < 0.005 && std::abs(h.dot(lateral)) < 0.004;
        if ((path_s_ >= PathLength() && hole_err < 0.003) || (on_bar && stall_steps_ > 20)) {
          Go(Stage::kToolRelease);
        }
        if (stage_steps_ > 200) {
          path_s_ = SegLen(0);
          ++retries_;
          Go(Stage::kToolOrient);
        }
      }
      break;
    }
    case Stage::kToolRelease: {
      gripper = -1.0;
      if (stage_steps_ == 1) {
        hold_pos_ = eef;
        hold_rot_ = eef_rot;
      }
      target_rot = hold_rot_;
      target = hold_pos_;
      if (stage_steps_ > 8) target = hold_pos_ - 0.08 * hold_rot_.col(2);
      if (stage_steps_ > 30) Go(Stage::kDone);
      break;
    }
    case Stage::kDone: {
      gripper = -1.0;
      target = eef;
      target_rot = eef_rot;
      break;
    }
  }

  std::array<double, 6> arm = ServoToward(robot, target, target_rot, move_speed, rot_speed);
  if (shaky) {
    op_.Shape(arm.data());
  } else {
    std::array<double, 6> quiet = arm;
    op_.Shape(quiet.data());  // keep the operator's random stream in step
  }
  return {arm[0], arm[1], arm[2], arm[3], arm[4], arm[5], gripper};
}

}  // namespace onedp
