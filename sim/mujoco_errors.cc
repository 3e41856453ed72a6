#include "sim/mujoco_errors.h"

#include <mutex>

#include <mujoco/mujoco.h>

namespace onedp {
namespace {

thread_local std::vector<std::string> t_warnings;

void ThrowingErrorHandler(const char* msg) { throw MujocoError(std::string("MuJoCo error: ") + msg); }

void RecordingWarningHandler(const char* msg) {
  if (t_warnings.size() < 64) t_warnings.emplace_back(msg);
}

}  // namespace

void InstallMujocoHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    mju_user_error = ThrowingErrorHandler;
    mju_user_warning = RecordingWarningHandler;
  });
}

std::vector<std::string> TakeMujocoWarnings() {
  std::vector<std::string> out;
  out.swap(t_warnings);
  return out;
}

}  // namespace onedp
