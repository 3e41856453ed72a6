#include "policies/policy.h"

#include <cctype>
#include <stdexcept>

namespace onedp {

void PolicySpec::Validate() const {
  auto fail = [](const std::string& why) { throw std::invalid_argument("policy spec: " + why); };
  if (action_dim <= 0) fail("action_dim must be positive");
  if (obs_steps < 1) fail("obs_steps (To) must be >= 1");
  if (horizon < 4 || horizon % 4 != 0) fail("horizon must be a positive multiple of 4 (U-Net down/up sampling)");
  if (action_steps < 1 || obs_steps - 1 + action_steps > horizon) {
    fail("need 1 <= action_steps and obs_steps - 1 + action_steps <= horizon (got To " +
         std::to_string(obs_steps) + ", Ta " + std::to_string(action_steps) + ", H " +
         std::to_string(horizon) + ")");
  }
  if (!action_norm.empty() && static_cast<int>(action_norm.size()) != action_dim) {
    fail("action_norm has " + std::to_string(action_norm.size()) + " entries for " +
         std::to_string(action_dim) + " action dims");
  }
  for (const auto& r : action_norm) {
    if (r != "limits" && r != "identity") fail("action_norm entries are limits|identity, got '" + r + "'");
  }
  if (obs.empty()) fail("no observation keys");
  for (const auto& k : obs) {
    if (k.is_image) {
      if (k.shape.size() != 3 || k.shape[2] != 3) fail("image key " + k.key + " needs shape {h, w, 3}");
      if (crop < 8 || crop > k.shape[0] || crop > k.shape[1]) {
        fail("crop " + std::to_string(crop) + " does not fit image key " + k.key);
      }
    } else {
      if (k.shape.size() != 1 || k.shape[0] <= 0) fail("low-dim key " + k.key + " needs shape {d}");
      if (k.norm != "limits" && k.norm != "identity") fail("key " + k.key + ": norm is limits|identity");
    }
  }
}

nlohmann::json PolicySpec::ToJson() const {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : obs) {
    keys.push_back({{"key", k.key}, {"is_image", k.is_image}, {"shape", k.shape}, {"norm", k.norm}});
  }
  return {{"obs", keys},           {"action_dim", action_dim}, {"action_norm", action_norm},
          {"obs_steps", obs_steps}, {"horizon", horizon},       {"action_steps", action_steps},
          {"crop", crop}};
}

PolicySpec PolicySpec::FromJson(const nlohmann::json& j) {
  PolicySpec s;
  for (const auto& k : j.at("obs")) {
    PolicyObsKey key;
    key.key = k.at("key").get<std::string>();
    key.is_image = k.at("is_image").get<bool>();
    key.shape = k.at("shape").get<std::vector<int>>();
    key.norm = k.value("norm", std::string("limits"));
    s.obs.push_back(key);
  }
  s.action_dim = j.at("action_dim").get<int>();
  s.action_norm = j.value("action_norm", std::vector<std::string>{});
  s.obs_steps = j.at("obs_steps").get<int>();
  s.horizon = j.at("horizon").get<int>();
  s.action_steps = j.at("action_steps").get<int>();
  s.crop = j.at("crop").get<int>();
  s.Validate();
  return s;
}

SamplerSpec SamplerSpec::Parse(const std::string& text) {
  SamplerSpec s;
  const auto colon = text.find(':');
  s.family = text.substr(0, colon);
  for (auto& c : s.family) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.family.empty()) {
    throw std::invalid_argument("sampler '" + text + "': expected family[:steps], e.g. ddim:10");
  }
  if (colon != std::string::npos) {
    const std::string n = text.substr(colon + 1);
    size_t used = 0;
    int steps = 0;
    try {
      steps = std::stoi(n, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != n.size() || n.empty() || steps < 1) {
      throw std::invalid_argument("sampler '" + text + "': steps must be a positive integer");
    }
    s.steps = steps;
  }
  return s;
}

std::string SamplerSpec::ToString() const {
  return steps > 0 ? family + ":" + std::to_string(steps) : family;
}

}  // namespace onedp
