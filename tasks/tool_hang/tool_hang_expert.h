// Scripted ToolHang expert (privileged: reads the frame, tool and stand poses). Two parts.
//
// The assembled hook bar is made to point +y (kBarYaw in the .cc): the rod's 0.75 cm square only enters
// the 1 cm square mount lined up with the walls (it jams beyond ~19 deg), so the bar is along x or y;
// with the grasps below, +y is the only choice where both hands can reach (the frame's hand points +x
// with the wrist flipped, joint 5 near -2.8; the wrench's hand points -y, joint 5 near -1.1).
//
// Frame (insert it into the stand's mount) -- works:
//   frame_approach  above the frame's grip (a box on the rod), top-down, fingers closing along the
//                   frame's body x (the grip's width in the plane of the lying L)
//   frame_descend   to the grip;  frame_close  until the fingers stop;  frame_lift  straight up
//   frame_orient    carry the frame to its insertion pose (rod vertical, tip 4 cm above the mount), slowly
//                   turning the hand to the orientation the NOMINAL grasp needs (not chasing the frame's
//                   measured swing in the fingers: that sent the wrist into joint 6's upper limit), the
//                   position from the frame's measured pose
//   frame_align     hold the hand at the NOMINAL grasp orientation and move it by the tip's xy error only,
//                   integrated into a fixed hand target (the frame swings in the fingers like a pendulum:
//                   chasing it with the wrist makes it worse; the wrist works near joint 5's limit), until
//                   the tip is over the mount and still
//   frame_insert    down, xy on the tip above the walls and on the rod's middle (between its bottom and
//                   the grip) once the tip is inside them, which stands the rod upright (a tilted rod
//                   wedges between the walls under the elliptic cone), until the frame-assembled test
//                   passes with the tip < 1.3 cm above the base plate
//   frame_release   open, back off along the hand axis, rise
// Tool (hang the wrench on the hook):
//   tool_unflip     to a hand pointing -y (fingers along -x), above the hook: straight from the flipped
//                   frame pose to top-down the wrist stalls on joint 6
//   tool_approach   tilt down to top-down and turn (the negative way) to hand x = -tool y, above the
//                   wrench's box grip (at full speed until close), staying above the frame's height
//                   while over it (a hand dragged across the bar turns the frame in the stand)
//   tool_descend / tool_close / tool_lift: top-down grasp of the grip, fingers across the handle
//   tool_orient     turn the wrench (mostly in place) to the threading pose (handle horizontal pointing
//                   +x, hand pointing -y and down), carry it 5 cm above the start of the threading path
//                   and lower it there; the hand target is computed from the MEASURED wrench pose (the
//                   box grip holds it rigidly) plus a slowly integrated hole-position correction
//   tool_thread     follow kPath (.cc): the ring pitched 55 deg (top leaning toward the rod) passes over
//                   the hook, drops behind it and is straightened to 20 deg while sliding on (the
//                   bar + hook profile is 0.1 mm taller than the hole, as in robosuite: straight on it
//                   cannot pass); the path only advances while the hole follows it
//   tool_release    open and back off; the wrench swings down and hangs from hole 1 (retry from
//                   tool_orient on a threading timeout)
// Deterministic given (seed, operator); the PH operator's noise applies except while lining up and
// inserting the frame and while threading the wrench (its random stream still advances there).
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "tasks/common/operators.h"

namespace onedp {

class ToolHangTask;

class ToolHangExpert : public Expert {
 public:
  ToolHangExpert(ToolHangTask* task, const OperatorProfile& op, uint64_t seed);
  std::vector<double> Act() override;
  std::string Phase() const override;

  // Stage index (for tests and stage statistics): 0 frame_approach ... see Phase().
  int stage() const { return static_cast<int>(stage_); }
  bool frame_done() const { return frame_done_; }

 private:
  enum class Stage {
    kFrameApproach,
    kFrameDescend,
    kFrameClose,
    kFrameLift,
    kFrameOrient,
    kFrameAlign,
    kFrameInsert,
    kFrameRelease,
    kToolUnflip,
    kToolApproach,
    kToolDescend,
    kToolClose,
    kToolLift,
    kToolOrient,
    kToolThread,
    kToolRelease,
    kDone,
  };
  void Go(Stage next);

  ToolHangTask* task_;
  OperatorBehaviour op_;
  Stage stage_ = Stage::kFrameApproach;
  int stage_steps_ = 0;
  bool frame_done_ = false;
  bool carried_ = false;  // the wrench has been turned and is being carried to the bar
  double last_finger_ = 0;
  double grasp_yaw_ = 0;
  double insert_z_ = 0;   // commanded tip height while inserting
  double path_s_ = 0;    // arc length along the threading path (kPath in the .cc)
  int retries_ = 0;
  int stall_steps_ = 0;  // steps since the threading path last advanced
  Eigen::Vector3d hole_corr_ = Eigen::Vector3d::Zero();  // integrated hole position correction
  Eigen::Vector3d last_tip_ = Eigen::Vector3d::Zero();
  Eigen::Vector3d hold_pos_ = Eigen::Vector3d::Zero();
  Eigen::Matrix3d hold_rot_ = Eigen::Matrix3d::Identity();
};

}  // namespace onedp
