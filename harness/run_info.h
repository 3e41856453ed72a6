// Provenance recorded with every dataset and results row.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace onedp {

std::string GitCommit();  // of the build, "-dirty" if it had uncommitted changes; "unknown" outside git
// {"onedp": version, "git_commit": ..., "mujoco": "2.2.2", "compiler": ..., "cpu": CpuModel()}
nlohmann::json RunVersions();
// The CPU's model name (/proc/cpuinfo), commas removed so that it fits a CSV field; "unknown" where
// there is none. Float results can differ between CPU models (per-CPU BLAS and libm kernels), so
// results rows record it.
std::string CpuModel();
// 16 hex digits (FNV-1a 64) of the JSON text: names a configuration in results rows.
std::string ConfigHash(const nlohmann::json& config);

// Files written to `<path>.tmp`, then renamed (throws std::runtime_error); JSON read (throws
// std::invalid_argument naming the file when it is missing or malformed).
void WriteTextAtomic(const std::string& text, const std::string& path);
void WriteJsonAtomic(const nlohmann::json& j, const std::string& path);
nlohmann::json ReadJson(const std::string& path);

}  // namespace onedp
