// The explicit list of benchmark tasks (one place, no static self-registration).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace onedp {

struct TaskEntry {
  std::string name;         // e.g. "lift-ph"
  std::string description;  // one line
  TaskInfo info;            // what the harness knows of the task without constructing it
  std::function<std::unique_ptr<Task>()> make;
};

const std::vector<TaskEntry>& RegisteredTasks();
// Case-insensitive lookup; throws std::invalid_argument listing the valid names.
const TaskEntry& FindTask(const std::string& name);
// Case-insensitive lookup; nullptr for an unknown name.
const TaskEntry* FindTaskOrNull(const std::string& name);
std::unique_ptr<Task> MakeTask(const std::string& name);
// Throws std::invalid_argument unless `name` is empty or one of the perturbations `info` declares
// (the message lists them, or says that task `task` declares none).
void CheckPerturbationName(const std::string& task, const TaskInfo& info, const std::string& name);

}  // namespace onedp
