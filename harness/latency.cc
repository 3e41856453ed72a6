// Parsing of the latency models and execution modes, and the delay in control steps.

#include "harness/latency.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace onedp {
namespace {

struct DeviceProfile {
  double encoder_ms, network_ms;
};

// Built-in device profiles by name. v100-paper: the OneDP paper's Table 5 (V100): the encoder
// 9 ms and 6.6 ms per call of the 67 M U-Net (DDPM-100 669 ms, DDIM-10 75 ms, OneDP 16 ms).
const std::map<std::string, DeviceProfile>& Profiles() {
  static const std::map<std::string, DeviceProfile> profiles = {{"v100-paper", {9.0, 6.6}}};
  return profiles;
}

[[noreturn]] void Bad(const std::string& text, const std::string& why) {
  throw std::invalid_argument("--latency '" + text + "': " + why + "; valid forms: " +
                              LatencyForms());
}

// A finite number >= 0 spelled entirely by `s`.
bool ParseNonNegative(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v) || v < 0) return false;
  *out = v;
  return true;
}

double ProfileField(const nlohmann::json& j, const char* key, const std::string& text) {
  if (!j.contains(key) || !j.at(key).is_number()) Bad(text, std::string("the profile has no number '") + key + "'");
  const double v = j.at(key).get<double>();
  if (!std::isfinite(v) || v < 0) Bad(text, std::string("the profile's '") + key + "' is negative or not finite");
  return v;
}

}  // namespace

std::string LatencyForms() {
  std::string named;
  for (const auto& [name, p] : Profiles()) named += (named.empty() ? "" : ", ") + name;
  return "none, fixed:MS (milliseconds >= 0), " + named +
         " (built-in device profiles), profile:PATH (a JSON with encoder_ms and network_ms, as "
         "`harness bench policy --json` writes), measured";
}

double LatencyModel::Milliseconds(int nfe) const {
  switch (kind) {
    case Kind::kNone: return 0;
    case Kind::kFixed: return fixed_ms;
    case Kind::kProfile: return encoder_ms + nfe * network_ms;
    case Kind::kMeasured: break;
  }
  throw std::logic_error("latency " + text + " is measured per call");
}

LatencyModel ParseLatency(const std::string& text) {
  LatencyModel m;
  m.text = text;
  if (text == "none" || text.empty()) {
    m.text = "none";
    return m;
  }
  if (text == "measured") {
    m.kind = LatencyModel::Kind::kMeasured;
    return m;
  }
  if (text.rfind("fixed:", 0) == 0) {
    if (!ParseNonNegative(text.substr(6), &m.fixed_ms)) Bad(text, "MS must be a number of milliseconds >= 0");
    m.kind = LatencyModel::Kind::kFixed;
    return m;
  }
  if (text.rfind("profile:", 0) == 0) {
    const std::string path = text.substr(8);
    if (path.empty()) Bad(text, "no profile file given");
    std::ifstream f(path);
    if (!f) Bad(text, "cannot read " + path);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(f);
    } catch (const std::exception& e) {
      Bad(text, path + " is not JSON (" + e.what() + ")");
    }
    if (!j.is_object()) Bad(text, path + " is not a JSON object");
    m.encoder_ms = ProfileField(j, "encoder_ms", text);
    m.network_ms = ProfileField(j, "network_ms", text);
    m.kind = LatencyModel::Kind::kProfile;
    return m;
  }
  const auto it = Profiles().find(text);
  if (it == Profiles().end()) Bad(text, "not a latency model or device profile");
  m.kind = LatencyModel::Kind::kProfile;
  m.encoder_ms = it->second.encoder_ms;
  m.network_ms = it->second.network_ms;
  return m;
}

int DelaySteps(double latency_ms, double control_hz) {
  if (!(latency_ms >= 0) || !std::isfinite(latency_ms) || !(control_hz > 0)) {
    throw std::invalid_argument("DelaySteps: latency " + std::to_string(latency_ms) + " ms at " +
                                std::to_string(control_hz) + " Hz");
  }
  return static_cast<int>(std::ceil(latency_ms * control_hz / 1000.0 - 1e-9));
}

ExecMode ParseExecMode(const std::string& text) {
  if (text == "sync") return ExecMode::kSync;
  if (text == "async") return ExecMode::kAsync;
  throw std::invalid_argument("--exec '" + text + "': valid modes: sync, async");
}

const char* ExecModeName(ExecMode mode) { return mode == ExecMode::kSync ? "sync" : "async"; }

}  // namespace onedp
