#include "tasks/common/robomimic_task.h"

#include <chrono>
#include <cmath>

#include "tasks/common/mj_pose.h"

namespace onedp {

TaskInfo RobomimicTaskInfo(const RobomimicTaskConfig& config) {
  TaskInfo info;
  info.display_name = config.display_name + "-" + config.variant;
  info.metric = TaskMetric::kSuccessRate;
  info.metric_label = "success rate";
  info.score_label = "score";
  info.action_key = "actions_abs";
  std::vector<PolicyInput> robots;
  for (int r = 0; r < config.num_robots; ++r) {
    const std::string prefix = "robot" + std::to_string(r) + "_";
    robots.push_back({prefix + "eef_pos", "limits"});
    robots.push_back({prefix + "eef_quat", "identity"});
    robots.push_back({prefix + "gripper_qpos", "limits"});
  }
  std::vector<PolicyInput>& image = info.policy_inputs["image"];
  for (const auto& cam : config.cameras) image.push_back({cam + "_image", "identity"});
  image.insert(image.end(), robots.begin(), robots.end());
  std::vector<PolicyInput>& lowdim = info.policy_inputs["lowdim"];
  lowdim.push_back({"object", "limits"});
  lowdim.insert(lowdim.end(), robots.begin(), robots.end());
  for (int r = 0; r < config.num_robots; ++r) {
    for (int i = 0; i < 10; ++i) info.action_norm.push_back(i < 3 ? "limits" : "identity");
  }
  info.view.camera = "";
  info.view.free_azimuth = 145;
  info.view.free_elevation = -24;
  info.view.free_distance = 1.45;
  info.view.free_lookat[0] = -0.05;
  info.view.free_lookat[1] = 0.0;
  info.view.free_lookat[2] = 0.95;
  info.view.planar_actions = false;
  info.view.marker_radius = 0.008;
  info.view.marker_width = 0.0025;
  return info;
}

RobomimicTask::RobomimicTask(const RobomimicTaskConfig& config) {
  // arms 1.. are renamed copies of the Panda include files, generated in memory
  std::vector<VirtualFile> arm_files;
  for (int r = 1; r < config.num_robots; ++r) {
    for (VirtualFile& f : RenamedPandaFiles(r)) arm_files.push_back(std::move(f));
  }
  sim_ = std::make_unique<Sim>(LoadModel(AssetPath(config.model), &model_xml_, arm_files));
  spec_.name = config.name;
  spec_.env_name = config.env_name;
  spec_.variant = config.variant;
  spec_.info = RobomimicTaskInfo(config);
  spec_.control_hz = 20.0;
  spec_.substeps = static_cast<int>(std::lround(1.0 / (spec_.control_hz * sim_->model()->opt.timestep)));
  spec_.max_steps = config.max_steps;
  spec_.collect_max_steps = config.collect_max_steps;
  spec_.cameras = config.cameras;
  spec_.image_height = spec_.image_width = config.image_size;
  spec_.action_dim = 7 * config.num_robots;
  spec_.abs_action_dim = 10 * config.num_robots;
  for (int r = 0; r < config.num_robots; ++r) {
    const std::string prefix = "robot" + std::to_string(r) + "_";
    robots_.push_back(std::make_unique<PandaRobot>(sim_.get(), prefix, "gripper" + std::to_string(r) + "_"));
    spec_.obs.push_back({prefix + "eef_pos", {3}, false});
    spec_.obs.push_back({prefix + "eef_quat", {4}, false});
    spec_.obs.push_back({prefix + "gripper_qpos", {2}, false});
  }
  spec_.obs.push_back({"object", {config.object_dim}, false});
  for (const auto& cam : spec_.cameras) {
    camera_ids_.push_back(sim_->Id(mjOBJ_CAMERA, cam));  // fails early, listing the cameras
    spec_.obs.push_back({cam + "_image", {config.image_size, config.image_size, 3}, true});
  }
}

void RobomimicTask::Reset(uint64_t seed) {
  BeginEpisode(seed);
  sim_->ResetData();
  Rng robot_rng(seed, /*stream=*/1);
  Rng object_rng(seed, /*stream=*/2);
  for (auto& r : robots_) r->Reset(&robot_rng);
  PlaceObjects(&object_rng);
  sim_->Forward();
  sim_->TakeWarnings();
}

void RobomimicTask::Step(const std::vector<double>& action) {
  if (!ValidateAction(action)) return;
  const mjModel* m = sim_->model();
  mjData* d = sim_->data();
  const int per_robot = action_mode_ == ActionMode::kDelta ? 7 : 10;
  using Clock = std::chrono::steady_clock;
  Clock::duration physics{}, control{};
  for (int s = 0; s < spec_.substeps; ++s) {
    // robosuite's substep: forward, control (goal only on the first substep), step
    const auto t0 = Clock::now();
    mj_step1(m, d);
    const auto t1 = Clock::now();
    for (size_t r = 0; r < robots_.size(); ++r) {
      if (s == 0) robots_[r]->SetAction(action.data() + r * per_robot, action_mode_);
      robots_[r]->Substep();
    }
    const auto t2 = Clock::now();
    mj_step2(m, d);
    physics += (t1 - t0) + (Clock::now() - t2);
    control += t2 - t1;
  }
  profile_.physics_s += std::chrono::duration<double>(physics).count();
  profile_.control_s += std::chrono::duration<double>(control).count();
  ++profile_.steps;
  ++steps_;
  std::vector<std::string> w = sim_->TakeWarnings();
  if (!w.empty()) {
    MarkFailed("physics warning at step " + std::to_string(steps_) + ": " + w.front());
    for (auto& x : w) warnings_.push_back(std::move(x));
  }
  AdvancePerturbation();
}

void RobomimicTask::Observe(Observation* obs, bool render) {
  obs->lowdim.clear();
  for (const auto& r : robots_) r->ObserveProprio(obs);
  obs->lowdim["object"] = ObjectObs();
  if (!render) {
    obs->images.clear();
    return;
  }
  Renderer& ren = renderer();
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < spec_.cameras.size(); ++i) {
    ren.Render(sim_->data(), camera_ids_[i], spec_.image_width, spec_.image_height,
               &obs->images[spec_.cameras[i] + "_image"]);
  }
  profile_.render_s +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  profile_.frames += static_cast<int64_t>(spec_.cameras.size());
}

std::vector<double> RobomimicTask::LastAbsAction() const {
  std::vector<double> out;
  for (const auto& r : robots_) {
    auto a = r->AbsAction();
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

std::vector<double> RobomimicTask::HoldAction() const {
  if (action_mode_ == ActionMode::kAbsolute) return LastAbsAction();
  std::vector<double> out;
  for (const auto& r : robots_) {
    const std::vector<double> arm = {0, 0, 0, 0, 0, 0, r->gripper_action()};
    out.insert(out.end(), arm.begin(), arm.end());
  }
  return out;
}

nlohmann::json RobomimicTask::EnvKwargs() const {
  const OscConfig& osc = robots_.front()->osc().config();
  nlohmann::json controller = {
      {"type", "OSC_POSE"},
      {"input_max", 1},
      {"input_min", -1},
      {"output_max", {osc.output_max[0], osc.output_max[1], osc.output_max[2], osc.output_max[3],
                      osc.output_max[4], osc.output_max[5]}},
      {"output_min", {-osc.output_max[0], -osc.output_max[1], -osc.output_max[2],
                      -osc.output_max[3], -osc.output_max[4], -osc.output_max[5]}},
      {"kp", osc.kp},
      {"damping_ratio", osc.damping_ratio},
      {"impedance_mode", "fixed"},
      {"kp_limits", {0, 300}},
      {"damping_ratio_limits", {0, 10}},
      {"position_limits", nullptr},
      {"orientation_limits", nullptr},
      {"uncouple_pos_ori", true},
      {"control_delta", action_mode_ == ActionMode::kDelta},
      {"interpolation", nullptr},
      {"ramp_ratio", 0.2},
      {"nullspace_kp", osc.nullspace_kp},
  };
  std::vector<int> sizes(spec_.cameras.size(), spec_.image_height);
  nlohmann::json robots = nlohmann::json::array();
  for (size_t i = 0; i < robots_.size(); ++i) robots.push_back("Panda");
  return {
      {"has_renderer", false},
      {"has_offscreen_renderer", true},
      {"ignore_done", true},
      {"use_object_obs", true},
      {"use_camera_obs", true},
      {"control_freq", spec_.control_hz},
      {"controller_configs", controller},
      {"robots", robots},
      {"camera_names", spec_.cameras},
      {"camera_heights", sizes},
      {"camera_widths", sizes},
      {"camera_depths", false},
      {"reward_shaping", false},
  };
}

nlohmann::json RobomimicTask::DatasetConventions() const {
  return {{"env_type", 1},  // robomimic EnvType.ROBOSUITE_TYPE: env_kwargs use robosuite's names
          {"actions", "delta 7-D per arm: dpos*0.05 m, daxis-angle*0.5 rad (world frame), gripper (+1 close)"},
          {"actions_abs", "10-D per arm: world pos 3, rotation-6d (first two rows) 6, gripper 1"},
          {"states", "[time, qpos, qvel]"}};
}

bool RobomimicTask::FingersTouch(int body, int robot_index) const {
  const mjModel* m = sim_->model();
  const mjData* d = sim_->data();
  const auto& pads = robots_.at(robot_index)->pad_geoms();
  for (int i = 0; i < d->ncon; ++i) {
    const mjContact& c = d->contact[i];
    const bool pad = c.geom1 == pads[0] || c.geom1 == pads[1] || c.geom2 == pads[0] || c.geom2 == pads[1];
    const bool object = m->body_rootid[m->geom_bodyid[c.geom1]] == body ||
                        m->body_rootid[m->geom_bodyid[c.geom2]] == body;
    if (pad && object) return true;
  }
  return false;
}

bool RobomimicTask::GripperFarFrom(const Eigen::Vector3d& p, int robot_index) const {
  const double dist = (robots_.at(robot_index)->EefPos() - p).norm();
  return 1.0 - std::tanh(10.0 * dist) < 0.6;
}

std::vector<double> RobomimicTask::PoseObs(const Eigen::Vector3d& p, const Eigen::Vector4d& q_xyzw,
                                           const Eigen::Matrix3d& r, int robot_index) const {
  const PandaRobot& robot = *robots_.at(robot_index);
  const Eigen::Matrix3d eef_rot = robot.EefRot();
  const Eigen::Vector3d rel_p = eef_rot.transpose() * (p - robot.EefPos());
  const Eigen::Quaterniond rel_q = CanonicalQuat(eef_rot.transpose() * r);
  return {p[0],     p[1],     p[2],     q_xyzw[0], q_xyzw[1], q_xyzw[2], q_xyzw[3],
          rel_p[0], rel_p[1], rel_p[2], rel_q.x(), rel_q.y(), rel_q.z(), rel_q.w()};
}

std::vector<double> RobomimicTask::BodyPoseObs(int body, int robot_index) const {
  return PoseObs(BodyPos(body), BodyQuatXyzw(body), BodyRot(body), robot_index);
}

Eigen::Vector3d RobomimicTask::BodyPos(int body) const { return Vec3At(sim_->data()->xpos + 3 * body); }

Eigen::Matrix3d RobomimicTask::BodyRot(int body) const { return Mat3At(sim_->data()->xmat + 9 * body); }

Eigen::Vector4d RobomimicTask::BodyQuatXyzw(int body) const {
  const mjtNum* q = sim_->data()->xquat + 4 * body;
  return Eigen::Vector4d(q[1], q[2], q[3], q[0]);
}

void RobomimicTask::SetFreeJoint(int joint, const Eigen::Vector3d& pos, const Eigen::Quaterniond& quat) {
  const mjModel* m = sim_->model();
  mjData* d = sim_->data();
  mjtNum* q = d->qpos + m->jnt_qposadr[joint];
  q[0] = pos[0];
  q[1] = pos[1];
  q[2] = pos[2];
  q[3] = quat.w();
  q[4] = quat.x();
  q[5] = quat.y();
  q[6] = quat.z();
  mjtNum* v = d->qvel + m->jnt_dofadr[joint];
  for (int i = 0; i < 6; ++i) v[i] = 0;
}

PerturbationFacts RobomimicTask::HandPerturbationFacts(int reset_min_step, int reset_max_step) {
  PerturbationFacts f;
  f.trigger_radius = 0.10;
  f.min_distance = 0.05;
  f.max_distance = 0.10;
  f.speed = 0.2;
  f.reset_min_step = reset_min_step;
  f.reset_max_step = reset_max_step;
  f.penetration_tol = 0.002;
  return f;
}

PerturbationObject RobomimicTask::FreeJointObject(int body, int joint) {
  PerturbationObject o;
  o.body = body;
  o.gripper_xy = [this] { return Eigen::Vector2d(robot().EefPos().head<2>()); };
  o.place_xy = [this, joint](const Eigen::Vector2d& xy) {
    const double* q = sim_->data()->qpos + sim_->model()->jnt_qposadr[joint];
    SetFreeJoint(joint, Eigen::Vector3d(xy.x(), xy.y(), q[2]), Eigen::Quaterniond(q[3], q[4], q[5], q[6]));
  };
  return o;
}

}  // namespace onedp
