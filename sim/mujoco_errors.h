// MuJoCo's error and warning reporting, turned into C++ exceptions and per-thread records.
//
// MuJoCo's default mju_user_error prints and calls exit(); a benchmark harness must never lose a
// process that way. InstallMujocoHandlers() (idempotent, thread-safe) routes errors to a
// MujocoError exception and warnings to a thread-local log that callers drain per episode.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace onedp {

class MujocoError : public std::runtime_error {
 public:
  explicit MujocoError(const std::string& what) : std::runtime_error(what) {}
};

// Installs the handlers once per process. Every Sim/LoadModel call does this itself.
void InstallMujocoHandlers();

// Warnings that MuJoCo reported through mju_user_warning on this thread since the last call.
std::vector<std::string> TakeMujocoWarnings();

}  // namespace onedp
