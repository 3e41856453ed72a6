// `harness bench sim`: environment steps per second of a task, without rendering and with all
// of its cameras, and the share of time in physics, control, rendering and choosing the actions.
// The actions come from the task's scripted expert (contacts and grasps exercised as in data
// collection; its planning time is counted apart) or are drawn uniformly within the task's action
// bounds (the env alone, as a random-action benchmark of another simulator measures it). An
// episode resets when it succeeds, fails or reaches the task's horizon.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onedp {

class Rng;
struct TaskSpec;

// One action drawn uniformly within the task's action bounds (TaskSpec::action_low / high;
// [-1, 1] where they are empty), as `--actions random` steps the task.
std::vector<double> RandomAction(const TaskSpec& spec, Rng& rng);

struct BenchSimOptions {
  std::string task;
  int steps = 2000;  // env steps per configuration
  uint64_t seed = 0;
  std::string actions = "expert";  // expert | random (uniform within the task's action bounds)
  std::string json;                // also write the numbers here (empty: don't)
};

// Runs both configurations on the calling thread, prints a table to `out` and returns the
// numbers as JSON. Throws std::invalid_argument for an unknown task or action source.
nlohmann::json BenchSim(const BenchSimOptions& options, std::ostream& out);

}  // namespace onedp
