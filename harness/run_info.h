// Provenance recorded with every dataset and results row.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace onedp {

std::string GitCommit();  // of the build (CMake-time), "unknown" outside a checkout
// {"onedp": version, "git_commit": ..., "mujoco": "2.2.2", "compiler": ...}
nlohmann::json RunVersions();

}  // namespace onedp
