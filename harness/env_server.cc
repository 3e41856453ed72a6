// `harness env`: answers JSON-line commands (reset, step, get/set state, evaluate) on one of our
// tasks (see env_server.h).
#include "harness/env_server.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/line_server.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

const char* ModeName(ActionMode m) { return m == ActionMode::kDelta ? "delta" : "absolute"; }

ActionMode ParseMode(const std::string& s) {
  if (s == "delta") return ActionMode::kDelta;
  if (s == "absolute" || s == "abs") return ActionMode::kAbsolute;
  throw std::invalid_argument("action mode '" + s + "': valid: delta, absolute");
}

std::string Excerpt(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// The qpos / qvel widths of a joint type.
int QposWidth(int type) { return type == mjJNT_FREE ? 7 : type == mjJNT_BALL ? 4 : 1; }
int DofWidth(int type) { return type == mjJNT_FREE ? 6 : type == mjJNT_BALL ? 3 : 1; }
const char* JointTypeName(int type) {
  switch (type) {
    case mjJNT_FREE: return "free";
    case mjJNT_BALL: return "ball";
    case mjJNT_SLIDE: return "slide";
    default: return "hinge";
  }
}

// The fields a command may carry besides "id" and "cmd".
void CheckFields(const json& req, const std::string& cmd, const std::vector<std::string>& allowed) {
  for (const auto& [name, value] : req.items()) {
    if (name == "id" || name == "cmd") continue;
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == name;
    if (!ok) {
      std::string valid;
      for (const auto& a : allowed) valid += (valid.empty() ? "" : ", ") + a;
      throw std::invalid_argument("unknown field '" + name + "' for cmd \"" + cmd + "\" (valid: " +
                                  (valid.empty() ? "none" : valid) + ")");
    }
  }
}

bool BoolField(const json& req, const char* name, bool fallback) {
  if (!req.contains(name)) return fallback;
  if (!req[name].is_boolean()) {
    throw std::invalid_argument(std::string("\"") + name + "\" must be true or false, got " + Excerpt(req[name]));
  }
  return req[name].get<bool>();
}

std::vector<double> Numbers(const json& v, const std::string& what) {
  if (!v.is_array()) throw std::invalid_argument(what + " must be a list of numbers, got " + Excerpt(v));
  std::vector<double> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) {
      throw std::invalid_argument(what + "[" + std::to_string(i) + "] is not a number: " + Excerpt(v[i]));
    }
    out.push_back(v[i].get<double>());
  }
  return out;
}

}  // namespace

EnvSession::EnvSession(std::unique_ptr<Task> task) : task_(std::move(task)) {}

ojson EnvSession::StateReply() const {
  const Sim& sim = task_->sim();
  const mjModel* m = sim.model();
  const mjData* d = sim.data();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016" PRIx64, sim.StateHash());
  ojson joints = ojson::object();
  for (int j = 0; j < m->njnt; ++j) {
    const char* name = mj_id2name(m, mjOBJ_JOINT, j);
    if (!name || !*name) continue;
    const int w = QposWidth(m->jnt_type[j]);
    const double* q = d->qpos + m->jnt_qposadr[j];
    joints[name] = w == 1 ? ojson(q[0]) : ojson(std::vector<double>(q, q + w));
  }
  ojson r = {{"state", sim.FlatState()}, {"hash", hash},   {"time", d->time},
             {"steps", task_->steps()},  {"joints", joints}};
  if (!task_->episode_error().empty()) r["episode_error"] = task_->episode_error();
  return r;
}

ojson EnvSession::ObsJson(bool render) {
  Observation obs;
  task_->Observe(&obs, render);
  ojson out = ojson::object();
  for (const auto& f : task_->spec().obs) {
    if (f.is_image) {
      const auto it = obs.images.find(f.key);
      if (it == obs.images.end()) continue;
      const Image& img = it->second;
      ojson rows = ojson::array();
      for (int y = 0; y < img.height; ++y) {
        ojson row = ojson::array();
        for (int x = 0; x < img.width; ++x) {
          const uint8_t* p = img.at(y, x);
          row.push_back({p[0], p[1], p[2]});
        }
        rows.push_back(std::move(row));
      }
      out[f.key] = std::move(rows);
    } else {
      const auto it = obs.lowdim.find(f.key);
      if (it != obs.lowdim.end()) out[f.key] = it->second;
    }
  }
  return out;
}

ojson EnvSession::Answer(const std::string& line) {
  ojson id = nullptr;
  try {
    json req;
    try {
      req = json::parse(line);
    } catch (const json::parse_error& e) {
      throw std::invalid_argument("malformed request line (not JSON): " + JsonParseMessage(e));
    }
    if (!req.is_object()) {
      throw std::invalid_argument("a request is a JSON object {\"id\": ..., \"cmd\": ...}, got " + Excerpt(req));
    }
    if (req.contains("id")) id = ojson(req["id"]);
    if (!req.contains("cmd") || !req["cmd"].is_string()) {
      throw std::invalid_argument(
          "missing \"cmd\" (a string): info, reset, get_state, set_state, set_qpos, step, observe, evaluate, "
          "set_action_mode, ping");
    }
    const std::string cmd = req["cmd"].get<std::string>();
    Sim& sim = task_->sim();
    const mjModel* m = sim.model();
    const TaskSpec& spec = task_->spec();
    const auto reply_with = [&](ojson body) {
      ojson r = {{"id", id}};
      for (auto& [k, v] : body.items()) r[k] = std::move(v);
      return r;
    };

    if (cmd == "ping") {
      CheckFields(req, cmd, {});
      return reply_with({{"pong", true}, {"task", spec.name}});
    }
    if (cmd == "info") {
      CheckFields(req, cmd, {});
      ojson obs = ojson::array();
      for (const auto& f : spec.obs) obs.push_back({{"key", f.key}, {"shape", f.shape}, {"is_image", f.is_image}});
      ojson joints = ojson::array();
      for (int j = 0; j < m->njnt; ++j) {
        const char* name = mj_id2name(m, mjOBJ_JOINT, j);
        joints.push_back({{"name", name ? name : ""},
                          {"type", JointTypeName(m->jnt_type[j])},
                          {"qpos_adr", m->jnt_qposadr[j]},
                          {"qpos_width", QposWidth(m->jnt_type[j])},
                          {"dof_adr", m->jnt_dofadr[j]}});
      }
      const ActionMode mode = task_->action_mode();
      return reply_with({{"task", spec.name},
                         {"env_name", spec.env_name},
                         {"display_name", spec.info.display_name},
                         {"metric", MetricName(spec.info.metric)},
                         {"control_hz", spec.control_hz},
                         {"substeps", spec.substeps},
                         {"timestep", m->opt.timestep},
                         {"max_steps", spec.max_steps},
                         {"action_mode", ModeName(mode)},
                         {"action_dim", mode == ActionMode::kDelta ? spec.action_dim : spec.abs_action_dim},
                         {"delta_action_dim", spec.action_dim},
                         {"abs_action_dim", spec.abs_action_dim},
                         {"action_low", spec.action_low},
                         {"action_high", spec.action_high},
                         {"obs", obs},
                         {"flat_state_size", sim.FlatStateSize()},
                         {"nq", m->nq},
                         {"nv", m->nv},
                         {"joints", joints},
                         {"dataset_conventions", ojson(task_->DatasetConventions())},
                         {"env_kwargs", ojson(task_->EnvKwargs())}});
    }
    if (cmd == "set_action_mode") {
      CheckFields(req, cmd, {"mode"});
      if (!req.contains("mode") || !req["mode"].is_string()) {
        throw std::invalid_argument("set_action_mode needs \"mode\": \"delta\" or \"absolute\"");
      }
      task_->SetActionMode(ParseMode(req["mode"].get<std::string>()));
      const ActionMode mode = task_->action_mode();
      return reply_with({{"action_mode", ModeName(mode)},
                         {"action_dim", mode == ActionMode::kDelta ? spec.action_dim : spec.abs_action_dim}});
    }
    if (cmd == "reset") {
      CheckFields(req, cmd, {"seed", "render"});
      uint64_t seed = 0;
      if (req.contains("seed")) {
        if (!req["seed"].is_number_unsigned()) {
          throw std::invalid_argument("\"seed\" must be a non-negative integer, got " + Excerpt(req["seed"]));
        }
        seed = req["seed"].get<uint64_t>();
      }
      const bool render = BoolField(req, "render", false);
      task_->Reset(seed);
      episode_ = true;
      ojson r = reply_with(StateReply());
      r["obs"] = ObsJson(render);
      r["meta"] = ojson(task_->EpisodeMeta());
      return r;
    }
    if (cmd == "get_state") {
      CheckFields(req, cmd, {});
      return reply_with(StateReply());
    }
    if (cmd == "set_state") {
      CheckFields(req, cmd, {"state"});
      if (!req.contains("state")) {
        throw std::invalid_argument("set_state needs \"state\": the flat state [time, qpos (" + std::to_string(m->nq) +
                                    "), qvel (" + std::to_string(m->nv) + ")]");
      }
      sim.SetFlatState(Numbers(req["state"], "\"state\""));
      return reply_with(StateReply());
    }
    if (cmd == "set_qpos") {
      CheckFields(req, cmd, {"qpos", "zero_vel"});
      if (!req.contains("qpos") || !req["qpos"].is_object() || req["qpos"].empty()) {
        throw std::invalid_argument("set_qpos needs \"qpos\": {\"<joint>\": value(s), ...}");
      }
      const bool zero_vel = BoolField(req, "zero_vel", true);
      // Checked in full before anything changes.
      std::vector<std::pair<int, std::vector<double>>> sets;
      for (const auto& [name, value] : req["qpos"].items()) {
        const int j = sim.Id(mjOBJ_JOINT, name);
        const int w = QposWidth(m->jnt_type[j]);
        std::vector<double> v = value.is_number() ? std::vector<double>{value.get<double>()}
                                                  : Numbers(value, "qpos '" + name + "'");
        if (static_cast<int>(v.size()) != w) {
          throw std::invalid_argument("qpos '" + name + "': a " + JointTypeName(m->jnt_type[j]) + " joint takes " +
                                      std::to_string(w) + " value(s), got " + std::to_string(v.size()));
        }
        sets.emplace_back(j, std::move(v));
      }
      mjData* d = sim.data();
      for (const auto& [j, v] : sets) {
        for (size_t i = 0; i < v.size(); ++i) d->qpos[m->jnt_qposadr[j] + i] = v[i];
        if (zero_vel) {
          for (int i = 0; i < DofWidth(m->jnt_type[j]); ++i) d->qvel[m->jnt_dofadr[j] + i] = 0;
        }
      }
      sim.Forward();
      return reply_with(StateReply());
    }
    if (cmd == "step") {
      CheckFields(req, cmd, {"action", "actions", "render", "states"});
      if (!episode_) throw std::invalid_argument("no episode yet: send {\"cmd\": \"reset\"} first");
      if (req.contains("action") == req.contains("actions")) {
        throw std::invalid_argument("step needs exactly one of \"action\" (a list of numbers) or \"actions\" (a list of them)");
      }
      std::vector<std::vector<double>> actions;
      if (req.contains("action")) {
        actions.push_back(Numbers(req["action"], "\"action\""));
      } else {
        if (!req["actions"].is_array() || req["actions"].empty()) {
          throw std::invalid_argument("\"actions\" must be a non-empty list of actions");
        }
        for (size_t i = 0; i < req["actions"].size(); ++i) {
          actions.push_back(Numbers(req["actions"][i], "\"actions\"[" + std::to_string(i) + "]"));
        }
      }
      const ActionMode mode = task_->action_mode();
      const size_t dim = static_cast<size_t>(mode == ActionMode::kDelta ? spec.action_dim : spec.abs_action_dim);
      for (size_t i = 0; i < actions.size(); ++i) {
        if (actions[i].size() != dim) {
          throw std::invalid_argument("action " + std::to_string(i) + " has " + std::to_string(actions[i].size()) +
                                      " values; " + spec.name + " takes " + std::to_string(dim) + " in " +
                                      ModeName(mode) + " mode");
        }
      }
      const bool render = BoolField(req, "render", false);
      const bool states = BoolField(req, "states", false);
      ojson per_step = ojson::array();
      for (const auto& a : actions) {
        task_->Step(a);
        if (states) per_step.push_back(sim.FlatState());
      }
      ojson r = reply_with(StateReply());
      r["obs"] = ObsJson(render);
      const Outcome o = task_->Evaluate();
      r["success"] = o.success;
      r["score"] = o.score;
      r["reward"] = o.reward;
      if (states) r["states"] = std::move(per_step);
      return r;
    }
    if (cmd == "observe") {
      CheckFields(req, cmd, {"render"});
      return reply_with({{"obs", ObsJson(BoolField(req, "render", false))}});
    }
    if (cmd == "evaluate") {
      CheckFields(req, cmd, {});
      const Outcome o = task_->Evaluate();
      return reply_with(
          {{"success", o.success}, {"score", o.score}, {"reward", o.reward}, {"meta", ojson(task_->EpisodeMeta())}});
    }
    throw std::invalid_argument("unknown cmd \"" + cmd +
                                "\"; valid: info, reset, get_state, set_state, set_qpos, step, observe, evaluate, "
                                "set_action_mode, ping");
  } catch (const std::exception& e) {
    return ojson{{"id", id}, {"error", e.what()}};
  }
}

std::string HandleEnvRequest(EnvSession& session, const std::string& line) {
  return DumpReply(session.Answer(line));
}

int RunEnvServer(const EnvServeOptions& o) {
  const TaskEntry& entry = FindTask(o.task);  // throws listing the valid names
  const ActionMode mode = o.action_mode.empty() ? ActionMode::kDelta : ParseMode(o.action_mode);
  if (!o.socket.empty()) PrepareSocket("env", o.socket);
  EnvSession session(entry.make());
  if (!o.action_mode.empty()) session.task().SetActionMode(mode);
  const TaskSpec& spec = session.task().spec();
  std::fprintf(stderr, "env: task %s (%s), %s actions (%d-D), flat state %d values\n", spec.name.c_str(),
               spec.env_name.c_str(), ModeName(session.task().action_mode()),
               session.task().action_mode() == ActionMode::kDelta ? spec.action_dim : spec.abs_action_dim,
               session.task().sim().FlatStateSize());
  return ServeLines("env", o.socket, [&session](const std::string& line) { return session.Answer(line); });
}

}  // namespace onedp
