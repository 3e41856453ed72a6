#include "tasks/task_registry.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "tasks/lift/lift.h"

namespace onedp {

const std::vector<TaskEntry>& RegisteredTasks() {
  static const std::vector<TaskEntry> tasks = {
      {"lift-ph", "robomimic Lift, proficient-human expert (200 demos), horizon 400",
       [] { return std::make_unique<LiftTask>("ph"); }},
      {"lift-mh", "robomimic Lift, six mixed-skill operators (300 demos), horizon 500",
       [] { return std::make_unique<LiftTask>("mh"); }},
  };
  return tasks;
}

const TaskEntry& FindTask(const std::string& name) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  const std::string key = lower(name);
  std::string valid;
  for (const TaskEntry& t : RegisteredTasks()) {
    if (t.name == key) return t;
    valid += (valid.empty() ? "" : ", ") + t.name;
  }
  throw std::invalid_argument("unknown task '" + name + "'; valid tasks: " + valid);
}

std::unique_ptr<Task> MakeTask(const std::string& name) { return FindTask(name).make(); }

}  // namespace onedp
