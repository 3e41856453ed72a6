#include "harness/run_info.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <mujoco/mujoco.h>

namespace onedp {

const char* BuildGitCommit();  // generated at build time (cmake/git_commit.cmake)

std::string GitCommit() { return BuildGitCommit(); }

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    std::string name;
    for (char c : line.substr(colon + 1)) {
      if (c == ',' || c == '"' || c == '\t' || c == '\n' || c == '\r') c = ' ';
      if (c == ' ' && (name.empty() || name.back() == ' ')) continue;
      name += c;
    }
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!name.empty()) return name;
  }
  return "unknown";
}

nlohmann::json RunVersions() {
  const int v = mj_version();
  return {{"onedp", BENCH_VERSION},
          {"git_commit", GitCommit()},
          {"mujoco", std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
                         std::to_string(v % 10)},
          {"compiler", __VERSION__},
          {"cpu", CpuModel()}};
}

std::string ConfigHash(const nlohmann::json& config) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : config.dump()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void WriteTextAtomic(const std::string& text, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

void WriteJsonAtomic(const nlohmann::json& j, const std::string& path) { WriteTextAtomic(j.dump(2) + "\n", path); }

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read " + path);
  try {
    nlohmann::json j;
    f >> j;
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(path + ": malformed JSON (" + e.what() + ")");
  }
}

}  // namespace onedp
