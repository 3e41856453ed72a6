#include "harness/run_info.h"

#include <mujoco/mujoco.h>

namespace onedp {

const char* BuildGitCommit();  // generated at build time (cmake/git_commit.cmake)

std::string GitCommit() { return BuildGitCommit(); }

nlohmann::json RunVersions() {
  const int v = mj_version();
  return {{"onedp", BENCH_VERSION},
          {"git_commit", GitCommit()},
          {"mujoco", std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
                         std::to_string(v % 10)},
          {"compiler", __VERSION__}};
}

}  // namespace onedp
