// Finding, reading and validating preset files (policies/preset.h).

#include "policies/preset.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "policies/policy_info.h"
#include "policies/registry.h"

#ifndef BENCH_PRESETS_DIR
#define BENCH_PRESETS_DIR "presets"
#endif

namespace onedp {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& Sections() {
  static const std::vector<std::string> s = {"description", "notes",   "obs",     "networks", "networks_by_policy",
                                             "train",       "distill", "methods", "eval",     "run",
                                             "dynamic"};
  return s;
}

bool IsPath(const std::string& s) {
  return s.find('/') != std::string::npos || (s.size() > 5 && s.compare(s.size() - 5, 5, ".json") == 0);
}

std::unique_ptr<Preset> ReadPreset(const std::string& name_or_path) {
  fs::path path;
  if (IsPath(name_or_path)) {
    path = name_or_path;
    if (!fs::exists(path)) throw std::invalid_argument("preset file " + name_or_path + " not found");
  } else {
    path = fs::path(PresetsDir()) / (name_or_path + ".json");
    if (!fs::exists(path)) {
      throw std::invalid_argument("unknown preset '" + name_or_path + "'. Valid values: " + JoinNames(PresetNames()) +
                                  " (files in " + PresetsDir() + "), or a path to a preset .json file");
    }
  }
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read preset file " + path.string());
  auto p = std::make_unique<Preset>();
  p->name = path.stem().string();
  p->path = path.string();
  try {
    p->json = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("preset file " + path.string() + " is not valid JSON: " + e.what());
  }
  const std::string where = "preset " + p->path;
  if (!p->json.is_object()) throw std::invalid_argument(where + ": expected a JSON object");
  for (auto it = p->json.begin(); it != p->json.end(); ++it) {
    if (std::find(Sections().begin(), Sections().end(), it.key()) == Sections().end()) {
      throw std::invalid_argument(where + ": unknown section '" + it.key() + "'; valid sections: " +
                                  JoinNames(Sections()));
    }
    const bool text = it.key() == "description" || it.key() == "obs";
    if (text ? !it->is_string() : (it.key() == "notes" ? !it->is_array() : !it->is_object())) {
      throw std::invalid_argument(where + ": section '" + it.key() + "' has the wrong type (" + it->type_name() + ")");
    }
  }
  const std::string obs = p->json.value("obs", std::string("lowdim"));
  if (obs != "lowdim" && obs != "image") {
    throw std::invalid_argument(where + ": obs must be lowdim or image, got '" + obs + "'");
  }
  try {
    CheckPresetSections(*p);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + ": " + e.what());
  }
  return p;
}

}  // namespace

nlohmann::json Preset::Section(const std::string& key) const {
  return json.contains(key) ? json.at(key) : nlohmann::json::object();
}

std::string PresetsDir() {
  const char* env = std::getenv("ONEDP_PRESETS_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(BENCH_PRESETS_DIR);
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(PresetsDir(), ec)) {
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void CheckPresetName(const std::string& preset) { LoadPreset(preset); }

const Preset& LoadPreset(const std::string& name_or_path) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Preset>> cache;
  // Keyed by the file it resolves to, so a name and its path share one entry.
  const std::string key = IsPath(name_or_path) ? fs::absolute(name_or_path).lexically_normal().string()
                                               : "name:" + PresetsDir() + "/" + name_or_path;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, ReadPreset(name_or_path)).first;
  return *it->second;
}

void MergeKnownFields(nlohmann::json& base, const nlohmann::json& patch, const std::string& where) {
  if (!patch.is_object()) throw std::invalid_argument(where + " must be an object");
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string field = where + "." + it.key();
    if (!base.contains(it.key())) {
      std::vector<std::string> valid;
      for (auto b = base.begin(); b != base.end(); ++b) valid.push_back(b.key());
      throw std::invalid_argument("unknown field '" + field + "'; valid fields in " + where + ": " + JoinNames(valid));
    }
    nlohmann::json& target = base[it.key()];
    if (target.is_object() && it->is_object()) {
      MergeKnownFields(target, *it, field);
    } else if (target.type() == it->type() || (target.is_number() && it->is_number())) {
      target = *it;
    } else {
      throw std::invalid_argument("field '" + field + "' is " + target.type_name() + ", got " + it->dump());
    }
  }
}

}  // namespace onedp
