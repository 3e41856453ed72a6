#include "tasks/transport/transport.h"

#include <algorithm>
#include <cmath>

#include "tasks/common/mj_pose.h"
#include "tasks/transport/transport_expert.h"

namespace onedp {
namespace {

RobomimicTaskConfig TransportConfig(const std::string& variant) {
  RobomimicTaskConfig c;
  c.name = "transport-" + variant;
  c.env_name = "TwoArmTransport";
  c.display_name = "Transport";
  c.variant = variant;
  c.model = "transport/transport.xml";
  c.cameras = {"shouldercamera0", "robot0_eye_in_hand", "shouldercamera1", "robot1_eye_in_hand"};
  c.image_size = 84;
  c.object_dim = 41;
  c.max_steps = 700;  // diffusion_policy's max_steps for both variants (docs/tasks.md)
  // MH demonstrations get robomimic's MH horizon: the scripted "worse" operators do not finish
  // within DP's 700 steps and the "okay" ones often fail, so the MH set could not hold their share
  // of demos (measured: README, reproduction notes). Policies are still evaluated at 700.
  c.collect_max_steps = variant == "mh" ? 1100 : 0;
  c.num_robots = 2;
  return c;
}

// robosuite's mat2quat as xyzw with w >= 0.
void AppendQuat(const Eigen::Matrix3d& r, std::vector<double>* out) {
  const Eigen::Quaterniond q = CanonicalQuat(r);
  out->insert(out->end(), {q.x(), q.y(), q.z(), q.w()});
}

void Append(const Eigen::Vector3d& v, std::vector<double>* out) { out->insert(out->end(), {v[0], v[1], v[2]}); }

}  // namespace

TaskInfo TransportTask::Info(const std::string& variant) {
  TaskInfo info = RobomimicTaskInfo(TransportConfig(variant));
  info.perturbations = {"move"};  // transport_perturbations.cc
  // A demonstration: arm 0 takes the lid off while arm 1 moves the trash from the target bin to the
  // trash bin (the two arms work at once, so either can come first), then arm 0 lifts the hammer out
  // of the start bin and hands it over and arm 1 drops it into the target bin
  // (TransportChecks::Milestones sets the bits in this order).
  info.milestones = {"lid_off", "trash_in_trash_bin", "hammer_lifted", "hammer_in_target_bin"};
  return info;
}

TransportTask::TransportTask(const std::string& variant) : RobomimicTask(TransportConfig(variant)) {
  if (variant != "ph" && variant != "mh") {
    throw std::invalid_argument("transport has the variants 'ph' and 'mh', got '" + variant + "'");
  }
  payload_body_ = sim_->Id(mjOBJ_BODY, "payload");
  head_body_ = sim_->Id(mjOBJ_BODY, "payload_head");
  trash_body_ = sim_->Id(mjOBJ_BODY, "trash");
  spec_.info = Info(variant);  // with its perturbations
  lid_body_ = sim_->Id(mjOBJ_BODY, "lid");
  payload_joint_ = sim_->Id(mjOBJ_JOINT, "payload_joint0");
  trash_joint_ = sim_->Id(mjOBJ_JOINT, "trash_joint0");
  lid_joint_ = sim_->Id(mjOBJ_JOINT, "lid_joint0");
  start_bin_joint_ = sim_->Id(mjOBJ_JOINT, "start_bin_joint0");
  target_bin_joint_ = sim_->Id(mjOBJ_JOINT, "target_bin_joint0");
  trash_bin_joint_ = sim_->Id(mjOBJ_JOINT, "trash_bin_joint0");
  head_geom_ = sim_->Id(mjOBJ_GEOM, "payload_head");
  lid_handle_geom_ = sim_->Id(mjOBJ_GEOM, "lid_handle");
  start_bin_base_ = sim_->Id(mjOBJ_GEOM, "start_bin_base");
  target_bin_base_ = sim_->Id(mjOBJ_GEOM, "target_bin_base");
  trash_bin_base_ = sim_->Id(mjOBJ_GEOM, "trash_bin_base");
}

Eigen::Vector3d TransportTask::GeomPos(int geom) const { return Vec3At(sim_->data()->geom_xpos + 3 * geom); }

Eigen::Vector3d TransportTask::LidHandlePos() const { return GeomPos(lid_handle_geom_); }

void TransportTask::SetHeadHalfSize(double h) {
  mjModel* m = sim_->model();
  head_half_ = h;
  const double half[3] = {2.5 * h, h, h};  // long along body x (assets/transport/transport.xml)
  for (int i = 0; i < 3; ++i) m->geom_size[3 * head_geom_ + i] = half[i];
  m->geom_rbound[head_geom_] = std::sqrt(half[0] * half[0] + half[1] * half[1] + half[2] * half[2]);
  // head density 150 * 1.5 (HammerObject's head_density_ratio); solid box inertia about its centre
  const double mass = 225.0 * 8.0 * half[0] * half[1] * half[2];
  m->body_mass[head_body_] = mass;
  m->body_inertia[3 * head_body_ + 0] = mass * (half[1] * half[1] + half[2] * half[2]) / 3.0;
  m->body_inertia[3 * head_body_ + 1] = mass * (half[0] * half[0] + half[2] * half[2]) / 3.0;
  m->body_inertia[3 * head_body_ + 2] = mass * (half[0] * half[0] + half[1] * half[1]) / 3.0;
  // mj_setConst recomputes the derived constants; it evaluates the model at qpos0 in the data it
  // is given, so keep the current state around it (as LiftTask).
  const SimState state = sim_->GetState();
  mj_setConst(m, sim_->data());
  sim_->SetState(state);
}

void TransportTask::PlaceObjects(Rng* rng) {
  SetHeadHalfSize(rng->Uniform(0.015, 0.018));
  // robosuite's sequential sampler: start_bin, lid, payload, target_bin, trash, trash_bin; each
  // object draws x, y and its angle (the lid, payload and trash x/y are then replaced by their bin's).
  const double tol = 0.005;
  auto draw_xy = [&](double x_centre, double y_centre) {
    const double x = rng->Uniform(x_centre - tol, x_centre + tol);
    const double y = rng->Uniform(y_centre - tol, y_centre + tol);
    return Eigen::Vector2d(x, y);
  };
  start_bin_xy_ = draw_xy(kBinX, -kTableY);
  rng->Uniform(0.0, 0.0);  // start bin angle (range 0)
  draw_xy(0.0, -kTableY);  // lid x, y (replaced)
  rng->Uniform(0.0, 0.0);  // lid angle
  draw_xy(0.0, -kTableY);  // payload x, y (replaced)
  payload_angle_ = rng->Uniform(M_PI / 2 - M_PI / 6, M_PI / 2 + M_PI / 6);
  // HammerObject.init_quat draws on every evaluation; robosuite's sampler evaluates it twice (a
  // presence test, then the product), so the second draw picks the head's side (its flip).
  rng->Uniform();
  payload_head_side_ = rng->Uniform() >= 0.5 ? 1 : -1;
  target_bin_xy_ = draw_xy(-kBinX, kTableY);
  rng->Uniform(0.0, 0.0);
  draw_xy(0.0, kTableY);  // trash x, y (replaced)
  trash_yaw_ = rng->Uniform(-0.3 * M_PI, 0.3 * M_PI);
  trash_bin_xy_ = draw_xy(kBinX, kTableY);
  rng->Uniform(0.0, 0.0);

  const double bin_z = kTableTopZ + 0.001 + kBinBaseHalfZ;  // bin body origin (base plate centre)
  const double base_top = bin_z + kBinBaseHalfZ;
  const Eigen::Quaterniond identity = Eigen::Quaterniond::Identity();
  SetFreeJoint(start_bin_joint_, Eigen::Vector3d(start_bin_xy_.x(), start_bin_xy_.y(), bin_z), identity);
  SetFreeJoint(target_bin_joint_, Eigen::Vector3d(target_bin_xy_.x(), target_bin_xy_.y(), bin_z), identity);
  SetFreeJoint(trash_bin_joint_, Eigen::Vector3d(trash_bin_xy_.x(), trash_bin_xy_.y(), bin_z), identity);
  // lid plate centre on the rim: bin bottom + 0.15 + 0.001 + half thickness
  SetFreeJoint(lid_joint_, Eigen::Vector3d(start_bin_xy_.x(), start_bin_xy_.y(), kTableTopZ + 0.001 + 0.15 + 0.001 + 0.005),
               identity);
  // hammer: robosuite's effective orientation (PayloadStartRot); lowest point 1 mm above the base plate
  const Eigen::Matrix3d r = PayloadStartRot(payload_angle_, payload_head_side_);
  const Eigen::Quaterniond q_payload(r);
  double low = 0;
  for (double s : {-1.0, 1.0}) {  // handle capsule ends
    low = std::min(low, (r * Eigen::Vector3d(0, 0, s * (kHandleHalfLength - kHandleRadius))).z() - kHandleRadius);
  }
  for (int c = 0; c < 8; ++c) {  // head box corners
    const Eigen::Vector3d corner((c & 1 ? 1 : -1) * 2.5 * head_half_, (c & 2 ? 1 : -1) * head_half_,
                                 kHandleHalfLength + (c & 4 ? 1 : -1) * head_half_);
    low = std::min(low, (r * corner).z());
  }
  SetFreeJoint(payload_joint_, Eigen::Vector3d(start_bin_xy_.x(), start_bin_xy_.y(), base_top + 0.001 - low), q_payload);
  SetFreeJoint(trash_joint_, Eigen::Vector3d(target_bin_xy_.x(), target_bin_xy_.y(), base_top + 0.001 + kTrashHalf),
               Eigen::Quaterniond(Eigen::AngleAxisd(trash_yaw_, Eigen::Vector3d::UnitZ())));
}

Eigen::Matrix3d TransportTask::PayloadStartRot(double angle, int head_side) {
  // robosuite's UniformRandomSampler returns q_s = (cos(a/2), 0, sin(a/2), 0) in (w, x, y, z) for a
  // turn by a about y, and multiplies it by HammerObject.init_quat, which is (0.5, -0.5, 0.5, -0.5) or
  // (-0.5, -0.5, -0.5, -0.5) in (x, y, z, w), with quat_multiply, whose formula is the Hamilton
  // product of (x, y, z, w) quaternions; the result goes into the free joint as (w, x, y, z). Read
  // as (x, y, z, w), q_s is the pure quaternion (c, 0, s, 0) = a half turn about (cos(a/2), 0,
  // sin(a/2)), and the product, with its four components read as (w, x, y, z), is
  // Rz(a - pi/2) * [half turn about (0, 1, 1)/sqrt 2] for the first flip value and
  // Rz(pi/2 - a) * [half turn about (0, -1, 1)/sqrt 2] for the second. In words: the handle (body z)
  // lies level with the head toward yaw +a (first flip value, head_side +1: toward +y) or -a (second,
  // head_side -1: toward -y); the head's thin axis (body y) points up (+1) or down (-1); body x =
  // body y x body z (the face side, toward -x +- pi/6 either way). The handle's yaw is uniform over
  // pi/2 +- pi/6 or its mirror image -(pi/2 +- pi/6); no draw tilts it.
  const double s = head_side;
  Eigen::Matrix3d r;
  r.col(2) = Eigen::Vector3d(std::cos(angle), s * std::sin(angle), 0.0);
  r.col(1) = Eigen::Vector3d(0.0, 0.0, s);
  r.col(0) = r.col(1).cross(r.col(2));
  return r;
}

void TransportTask::PlacePayload(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q) {
  SetFreeJoint(payload_joint_, pos, q.normalized());
  sim_->Forward();
}

void TransportTask::PlaceTrash(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q) {
  SetFreeJoint(trash_joint_, pos, q.normalized());
  sim_->Forward();
}

void TransportTask::PlaceLid(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q) {
  SetFreeJoint(lid_joint_, pos, q.normalized());
  sim_->Forward();
}

std::vector<double> TransportTask::ObjectObs() const {
  const mjData* d = sim_->data();
  std::vector<double> out;
  out.reserve(41);
  const Eigen::Vector3d payload = PayloadPos(), trash = TrashPos(), handle = LidHandlePos();
  Append(payload, &out);
  AppendQuat(PayloadRot(), &out);
  Append(trash, &out);
  AppendQuat(TrashRot(), &out);
  Append(handle, &out);
  AppendQuat(Mat3At(d->geom_xmat + 9 * lid_handle_geom_), &out);
  Append(TargetBinPos(), &out);
  Append(TrashBinPos(), &out);
  const TransportChecks c = Checks();
  out.push_back(c.payload_in_target_bin ? 1.0 : 0.0);
  out.push_back(c.trash_in_trash_bin ? 1.0 : 0.0);
  const Eigen::Vector3d g0 = robots_[0]->EefPos(), g1 = robots_[1]->EefPos();
  Append(payload - g0, &out);
  Append(handle - g0, &out);
  Append(payload - g1, &out);
  Append(trash - g1, &out);
  return out;
}

TransportChecks TransportTask::Checks() const {
  const mjModel* m = sim_->model();
  const mjData* d = sim_->data();
  TransportChecks c;
  auto is_payload = [&](int g) { return m->body_rootid[m->geom_bodyid[g]] == payload_body_; };
  auto is_trash = [&](int g) { return m->geom_bodyid[g] == trash_body_; };
  for (int i = 0; i < d->ncon; ++i) {
    const int g1 = d->contact[i].geom1, g2 = d->contact[i].geom2;
    if ((g1 == target_bin_base_ && is_payload(g2)) || (g2 == target_bin_base_ && is_payload(g1))) {
      c.payload_in_target_bin = true;
    }
    if ((g1 == trash_bin_base_ && is_trash(g2)) || (g2 == trash_bin_base_ && is_trash(g1))) {
      c.trash_in_trash_bin = true;
    }
  }
  const Eigen::Vector3d lid_offset = LidPos() - StartBinPos();
  c.lid_off = std::abs(lid_offset.x()) > kBinHalf || std::abs(lid_offset.y()) > kBinHalf;
  // The bin's rim is kBinRim above its body origin, the base plate's centre (StartBinPos).
  c.payload_lifted = PayloadPos().z() > StartBinPos().z() + kBinRim;
  return c;
}

uint32_t TransportChecks::Milestones() const {
  return (lid_off ? 1u : 0u) | (trash_in_trash_bin ? 2u : 0u) | (payload_lifted ? 4u : 0u) |
         (payload_in_target_bin ? 8u : 0u);
}

Outcome TransportTask::Evaluate() const {
  Outcome o;
  const TransportChecks c = Checks();
  o.success = episode_error().empty() && c.Success();
  o.reward = o.success ? 1.0 : 0.0;
  o.score = o.reward;
  o.milestones = c.Milestones();
  return o;
}

nlohmann::json TransportTask::EpisodeMeta() const {
  return {{"payload_head_half_size", head_half_},
          {"start_bin_xy", {start_bin_xy_.x(), start_bin_xy_.y()}},
          {"target_bin_xy", {target_bin_xy_.x(), target_bin_xy_.y()}},
          {"trash_bin_xy", {trash_bin_xy_.x(), trash_bin_xy_.y()}},
          {"payload_angle", payload_angle_},
          {"payload_head_side", payload_head_side_},
          {"trash_yaw", trash_yaw_}};
}

nlohmann::json TransportTask::EnvKwargs() const {
  nlohmann::json kw = RobomimicTask::EnvKwargs();
  kw["env_configuration"] = "single-arm-opposed";
  return kw;
}

std::unique_ptr<Expert> TransportTask::MakeExpert(const OperatorProfile& op, uint64_t seed) {
  return std::make_unique<TransportExpert>(this, op, seed);
}

}  // namespace onedp
