#include "tasks/task_registry.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "tasks/can/can.h"
#include "tasks/lift/lift.h"
#include "tasks/pusht/pusht.h"
#include "tasks/square/square.h"
#include "tasks/tool_hang/tool_hang.h"
#include "tasks/transport/transport.h"

namespace onedp {

const std::vector<TaskEntry>& RegisteredTasks() {
  static const std::vector<TaskEntry> tasks = {
      {"lift-ph", "robomimic Lift, proficient-human expert (200 demos), horizon 400",
       LiftTask::Info("ph"), [] { return std::make_unique<LiftTask>("ph"); }},
      {"lift-mh", "robomimic Lift, six mixed-skill operators (300 demos), horizon 500",
       LiftTask::Info("mh"), [] { return std::make_unique<LiftTask>("mh"); }},
      {"pusht", "diffusion_policy PushT (native MuJoCo), planner expert (200 demos), horizon 300",
       PushTTask::Info(), [] { return std::make_unique<PushTTask>(); }},
      {"can-ph", "robomimic Can (PickPlaceCan), proficient-human expert (200 demos), horizon 400",
       CanTask::Info("ph"), [] { return std::make_unique<CanTask>("ph"); }},
      {"can-mh", "robomimic Can (PickPlaceCan), six mixed-skill operators (300 demos), horizon 500",
       CanTask::Info("mh"), [] { return std::make_unique<CanTask>("mh"); }},
      {"square-ph", "robomimic Square (NutAssemblySquare), proficient-human expert (200 demos), horizon 400",
       SquareTask::Info("ph"), [] { return std::make_unique<SquareTask>("ph"); }},
      {"square-mh", "robomimic Square (NutAssemblySquare), six mixed-skill operators (300 demos), horizon 500",
       SquareTask::Info("mh"), [] { return std::make_unique<SquareTask>("mh"); }},
      {"tool-hang-ph", "robomimic ToolHang, proficient-human expert (200 demos), horizon 700",
       ToolHangTask::Info("ph"), [] { return std::make_unique<ToolHangTask>("ph"); }},
      {"transport-ph", "robomimic Transport (TwoArmTransport), proficient-human two-arm expert (200 demos), horizon 700",
       TransportTask::Info("ph"), [] { return std::make_unique<TransportTask>("ph"); }},
      {"transport-mh", "robomimic Transport (TwoArmTransport), six mixed-skill operators (300 demos), horizon 700",
       TransportTask::Info("mh"), [] { return std::make_unique<TransportTask>("mh"); }},
  };
  return tasks;
}

const TaskEntry* FindTaskOrNull(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const TaskEntry& t : RegisteredTasks()) {
    if (t.name == key) return &t;
  }
  return nullptr;
}

const TaskEntry& FindTask(const std::string& name) {
  if (const TaskEntry* t = FindTaskOrNull(name)) return *t;
  std::string valid;
  for (const TaskEntry& t : RegisteredTasks()) valid += (valid.empty() ? "" : ", ") + t.name;
  throw std::invalid_argument("unknown task '" + name + "'; valid tasks: " + valid);
}

std::unique_ptr<Task> MakeTask(const std::string& name) { return FindTask(name).make(); }

}  // namespace onedp
