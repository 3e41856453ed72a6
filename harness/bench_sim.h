// `harness bench sim`: environment steps per second of a task, without rendering and with all
// of its cameras, and the share of time in physics, control and rendering. The expert drives the
// arm (so contacts and grasps are exercised as in data collection), resetting when it succeeds
// or reaches the horizon.
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

namespace onedp {

struct BenchSimOptions {
  std::string task;
  int steps = 2000;  // env steps per configuration
  uint64_t seed = 0;
};

// Runs both configurations on the calling thread, prints a table to `out` and returns the
// numbers as JSON.
nlohmann::json BenchSim(const BenchSimOptions& options, std::ostream& out);

}  // namespace onedp
