// Adopting existing train / distill runs into a pipeline run whose items compute the same thing.

#include "harness/pipeline.h"

#include <filesystem>
#include <ostream>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "harness/pipeline_internal.h"
#include "harness/policy_jobs.h"
#include "harness/run_info.h"

namespace onedp {

using namespace pipeline_internal;

namespace {

namespace fs = std::filesystem;

// --- adopt -------------------------------------------------------------------------------------

// run.json fields that record how a run went (sizes, times, versions), not what it computed.
const char* const kBookkeepingFields[] = {"versions",
                                          "config_hash",
                                          "train_sequences",
                                          "train_episodes",
                                          "valid_episodes",
                                          "teacher_train_seconds",
                                          "teacher_train_cpu_seconds",
                                          "distill_seconds",
                                          "distill_cpu_seconds",
                                          "distill_eval_seconds"};

// A run.json without what does not change the weights: how it was evaluated while training, where
// its teacher lay, the device, versions and bookkeeping.
nlohmann::json Computation(nlohmann::json run) {
  run.erase("eval");
  run.erase("teacher");
  for (const char* k : kBookkeepingFields) run.erase(k);
  for (const char* loop : {"train_config", "distill_config"}) {
    if (run.contains(loop)) run[loop].erase("device");
  }
  return run;
}

// JSON-pointer paths where two objects differ ("/seed", "/policy_config/unet/down_dims").
std::vector<std::string> DifferingFields(const nlohmann::json& a, const nlohmann::json& b) {
  std::set<std::string> paths;
  for (const auto& op : nlohmann::json::diff(a, b)) {
    std::string path = op.at("path").get<std::string>();
    // An array element's change names the array.
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash + 1 < path.size() &&
        path.find_first_not_of("0123456789", slash + 1) == std::string::npos) {
      path = path.substr(0, slash);
    }
    paths.insert(path);
  }
  return {paths.begin(), paths.end()};
}

int AdoptOne(const RunPlan& plan, const std::string& dir, bool dry_run, std::ostream& out) {
  const fs::path run_json = fs::path(dir) / "run.json";
  if (!fs::exists(run_json)) {
    throw std::invalid_argument("--adopt " + dir + ": no run.json there (not a train or distill run directory)");
  }
  const nlohmann::json src = ReadJson(run_json.string());
  const bool is_train = src.contains("train_config");
  if (!is_train && !src.contains("distill_config")) {
    throw std::invalid_argument("--adopt " + dir + ": its run.json has neither train_config nor distill_config");
  }
  const Stage stage = is_train ? Stage::kTrain : Stage::kDistill;
  const nlohmann::json want = Computation(src);
  std::string closest;
  std::vector<std::string> closest_diff;
  for (const WorkItem& item : plan.items) {
    if (item.stage != stage || item.policy != src.value("policy", std::string())) continue;
    if (!is_train && !ItemDone(plan.items[item.source])) {
      if (closest.empty()) {
        closest = item.label;
        closest_diff = {"its teacher '" + plan.items[item.source].label + "' is not done: adopt or train it first"};
      }
      continue;
    }
    const nlohmann::json expected =
        is_train ? TrainRunIdentity(TrainItemOptions(plan, item)) : DistillRunIdentity(DistillItemOptions(plan, item));
    const std::vector<std::string> diff = DifferingFields(Computation(expected), want);
    if (!diff.empty()) {
      if (closest.empty() || diff.size() < closest_diff.size()) {
        closest = item.label;
        closest_diff = diff;
      }
      continue;
    }
    const std::string loop = is_train ? "train_config" : "distill_config";
    const int epochs = src.at(loop).at("epochs").get<int>();
    const fs::path state = fs::path(dir) / "checkpoint" / "train_state.json";
    const int done_epochs = fs::exists(state) ? ReadJson(state.string()).value("epoch", 0) : 0;
    if (done_epochs < epochs) {
      throw std::invalid_argument("--adopt " + dir + " matches '" + item.label + "' but its checkpoint is at epoch " +
                                  std::to_string(done_epochs) + " of " + std::to_string(epochs) +
                                  ": finish it (rerun its command) or let the pipeline compute the item");
    }
    if (ItemDone(item)) {
      out << "adopt: '" << item.label << "' is already done (" << item.path << "); " << dir << " not needed\n";
      return 0;
    }
    nlohmann::json expected_all = expected;
    expected_all.erase("versions");
    nlohmann::json src_all = src;
    for (const char* k : kBookkeepingFields) src_all.erase(k);
    const std::vector<std::string> ignored = DifferingFields(expected_all, src_all);
    std::string ignored_text;
    for (const auto& f : ignored) ignored_text += (ignored_text.empty() ? "" : ", ") + f;
    out << (dry_run ? "would adopt " : "adopt ") << dir << " as '" << item.label << "' -> " << item.path
        << (ignored.empty() ? std::string() : " (differs only in " + ignored_text + ")") << "\n";
    if (dry_run) return 1;
    if (fs::exists(item.path)) {
      throw std::invalid_argument("--adopt " + dir + ": " + item.path + " already exists (a partial run of '" +
                                  item.label + "'?): delete it to adopt, or let the pipeline finish it");
    }
    // Copied under a temporary name, then renamed: an interrupted copy leaves no half item.
    const fs::path tmp = item.path + ".adopting";
    fs::remove_all(tmp);
    fs::create_directories(fs::path(item.path).parent_path());
    fs::copy(dir, tmp, fs::copy_options::recursive);
    fs::rename(tmp, item.path);
    MarkDone(item, {{"adopted_from", fs::absolute(dir).lexically_normal().string()},
                    {"ignored_differences", ignored},
                    {"seconds", 0.0},
                    {"versions", AllVersions()}});
    return 1;
  }
  if (dry_run && !closest_diff.empty() && closest_diff.front().rfind("its teacher", 0) == 0) {
    out << "would check " << dir << " against '" << closest << "' once its teacher is adopted or trained\n";
    return 0;
  }
  std::string why = closest.empty() ? "no " + StageName(stage) + " item runs policy '" +
                                          src.value("policy", std::string("?")) + "'"
                                    : "the closest, '" + closest + "', differs in:";
  for (const auto& d : closest_diff) why += " " + d;
  throw std::invalid_argument("--adopt " + dir + " matches no work item of this " + plan.options.task + " (" +
                              plan.options.preset + ") grid: " + why);
}

}  // namespace

int AdoptRuns(const RunPlan& plan, const std::vector<std::string>& dirs, bool dry_run, std::ostream& out) {
  // Teachers first: a distillation is matched against its teacher item's run.json.
  std::vector<std::string> ordered;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& d : dirs) {
      const fs::path rj = fs::path(d) / "run.json";
      const bool train = fs::exists(rj) && ReadJson(rj.string()).contains("train_config");
      if ((pass == 0) == train) ordered.push_back(d);
    }
  }
  int adopted = 0;
  for (const auto& d : ordered) adopted += AdoptOne(plan, d, dry_run, out);
  return adopted;
}

}  // namespace onedp
