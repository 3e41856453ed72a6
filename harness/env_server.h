// `harness env`: one of our tasks driven over JSON lines, so that a Python script can run it beside
// the original implementation (gym-pusht, robosuite) from the same states with the same actions.
// Transport as `harness serve` (harness/line_server.h): stdin / stdout or --socket PATH.
//
// Every request is {"id": <any JSON, echoed>, "cmd": "<command>", ...}; every reply echoes "id".
//   info                      the task's spec: obs keys and shapes, action mode and dimension,
//                             action bounds, control rate, horizon, metric, the flat state's size,
//                             the model's named joints (type, qpos / dof address, width), the
//                             dataset conventions and env kwargs
//   reset {seed, render}      Task::Reset(seed) (seed default 0); state reply + "obs" + "meta"
//   get_state                 state reply
//   set_state {state}         the robomimic flat state [time, qpos, qvel] (Sim::SetFlatState)
//   set_qpos {qpos, zero_vel} named joints' positions: {"<joint>": number (slide, hinge) or array
//                             (ball 4, free 7)}; their velocities zeroed unless zero_vel is false;
//                             then mj_forward. Places objects without knowing the task.
//   step {action | actions, render, states}
//                             one action (a list of numbers) or several (a list of lists), in the
//                             current action mode; the reply: state reply + "obs" after the last
//                             step + evaluate's fields; "states": true adds the flat state after
//                             each step
//   observe {render}          "obs": low-dim keys always, image keys ((h, w, 3) integers) when
//                             render is true
//   evaluate                  "success", "score", "reward" (Task::Evaluate) and "meta"
//                             (Task::EpisodeMeta)
//   set_action_mode {mode}    "delta" or "absolute"
//   ping
// State reply: "state" (flat, doubles printed to read back exactly), "hash" (Sim::StateHash as 16
// hex digits), "time", "steps" (env steps this episode), "joints" ({name: qpos value(s)}) and
// "episode_error" when the episode has failed (a non-finite action, unstable physics).
// A problem (not JSON, unknown command or field, wrong action size, step before reset, unknown
// joint) gets {"id": ..., "error": "..."} and the server goes on.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tasks/task.h"

namespace onedp {

// A task and its episode, answering requests (see above).
class EnvSession {
 public:
  explicit EnvSession(std::unique_ptr<Task> task);
  // One request line -> one reply. Never throws: every problem becomes an error reply.
  nlohmann::ordered_json Answer(const std::string& line);
  Task& task() { return *task_; }

 private:
  nlohmann::ordered_json StateReply() const;
  nlohmann::ordered_json ObsJson(bool render);

  std::unique_ptr<Task> task_;
  bool episode_ = false;  // a reset has happened
};

// One request line -> one reply line (no newline), as the server sends it.
std::string HandleEnvRequest(EnvSession& session, const std::string& line);

struct EnvServeOptions {
  std::string task;         // registry name
  std::string action_mode;  // "delta" | "absolute"; empty: the task's default
  std::string socket;       // Unix domain socket path; empty: stdin / stdout
};

// Builds the task and serves until EOF (0) or a stop request (130). Throws std::invalid_argument
// for bad options (unknown task: the names are listed; bad action mode; socket path in use).
int RunEnvServer(const EnvServeOptions& options);

}  // namespace onedp
