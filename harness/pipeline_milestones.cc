// The merge's sub-goal table: how far each method gets on a task that declares milestones.
//
// Where success is rare (Transport and ToolHang at the cpu scale) a table of zeros says nothing about
// which method is closer; the share of test episodes that reached each of the task's sub-goals
// (TaskInfo::milestones, recorded per episode in the eval blocks' CSVs) does. One row per run x
// sampler of the eval stage, over the same test episodes as the tables' cells.
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/pipeline.h"
#include "harness/pipeline_internal.h"
#include "harness/run_info.h"
#include "harness/tables.h"
#include "policies/policy_info.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace pipeline_internal {

namespace {

namespace fs = std::filesystem;

// Episode counts of one run x sampler: episodes, successes and, per sub-goal, how many reached it.
struct Counts {
  int episodes = 0, successes = 0;
  std::map<std::string, int> reached;
};

// Adds the episodes of one eval block's CSV (WriteRolloutCsv's columns, by header). False when the
// file predates the milestones column (the block was evaluated before sub-goals were recorded).
bool AddBlock(const std::string& path, Counts* c) {
  const EpisodeCsv csv = ReadEpisodeCsv(path);
  if (!csv.Has("milestones") || !csv.Has("success")) return false;
  for (const auto& v : csv.rows) {
    ++c->episodes;
    c->successes += std::stoi(v.at("success"));
    std::stringstream names(v.at("milestones"));
    std::string name;
    while (std::getline(names, name, ';')) {
      if (!name.empty()) ++c->reached[name];
    }
  }
  return true;
}

// "0.40 [0.27, 0.54]": the share k / n with its 95 % Wilson interval.
std::string RateCell(int k, int n) {
  if (n <= 0) return "-";
  const double p = static_cast<double>(k) / n;
  const auto [lo, hi] = WilsonInterval(p, n);
  return Fixed(p, 2) + " [" + Fixed(lo, 2) + ", " + Fixed(hi, 2) + "]";
}

}  // namespace

std::string WriteMilestones(const RunPlan& plan, std::ostream& log) {
  const TaskInfo& info = FindTask(plan.options.task).info;
  const std::vector<std::string>& names = info.milestones;
  const fs::path csv_path = fs::path(plan.results) / "milestones.csv";
  const fs::path md_path = fs::path(plan.results) / "milestones.md";
  if (names.empty()) return "";

  // Eval items grouped by (run, sampler), in plan order; a group counts when all its blocks are done.
  std::vector<std::pair<int, std::string>> order;
  std::map<std::pair<int, std::string>, std::vector<int>> groups;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage != Stage::kEval) continue;
    const std::pair<int, std::string> g{it.source, it.sampler};
    if (!groups.count(g)) order.push_back(g);
    groups[g].push_back(i);
  }
  const std::vector<std::string> fixed_columns = {"method",   "run",       "sampler",     "train_seed", "epoch",
                                                  "episodes", "successes", "config_hash", "git_commit"};
  std::map<std::pair<int, std::string>, std::map<std::string, std::string>> rows;  // cells by column
  int unrecorded = 0;
  for (const auto& g : order) {
    const std::vector<int>& items = groups.at(g);
    bool done = true;
    for (int i : items) done = done && ItemDone(plan.items[i]);
    if (!done) continue;
    Counts c;
    bool recorded = true;
    for (int i : items) recorded = AddBlock(plan.items[i].path, &c) && recorded;
    if (!recorded || c.episodes == 0) {
      ++unrecorded;
      continue;
    }
    const WorkItem& run = plan.items[g.first];
    const nlohmann::json marker = ReadJson(DoneMarker(plan.items[items.front()]));
    std::map<std::string, std::string> r = {
        {"method", FindPolicyInfo(run.policy).MethodName(g.second)},
        {"run", RunNameOf(plan, run)},
        {"sampler", g.second},
        {"train_seed", std::to_string(run.seed)},
        {"epoch", std::to_string(marker.value("epoch", 0))},
        {"episodes", std::to_string(c.episodes)},
        {"successes", std::to_string(c.successes)},
        {"config_hash", run.key},
        {"git_commit", marker.at("versions").value("git_commit", "")}};
    for (const auto& n : names) r[n] = std::to_string(c.reached.count(n) ? c.reached.at(n) : 0);
    rows[g] = r;
  }
  // Rows of the previous merge for runs not on this machine are kept (as evals.csv's are).
  const std::map<std::string, int> absent = AbsentRuns(plan);
  int carried = 0;
  for (auto& r : CsvRowsByHeader(csv_path.string())) {
    const auto run = absent.find(r["config_hash"]);
    const std::pair<int, std::string> g{run == absent.end() ? -1 : run->second, r["sampler"]};
    if (run == absent.end() || !groups.count(g) || rows.count(g)) continue;
    rows[g] = r;
    ++carried;
  }
  if (rows.empty()) {
    for (const fs::path& f : {csv_path, md_path}) fs::remove(f);
    log << "milestones: no eval-stage run x sampler has recorded sub-goals\n";
    return "";
  }

  std::ostringstream csv, md;
  std::vector<std::string> columns = fixed_columns;
  columns.insert(columns.end(), names.begin(), names.end());
  csv << Join(columns, ",") << "\n";
  md << "## Sub-goals reached (milestones)\n\n"
     << "The share of each run x sampler's test episodes that reached each of " << info.display_name
     << "'s sub-goals at some step (" << Join(names, ", ")
     << "; the task's definitions: docs/tasks.md, \"Sub-goals\"), with the 95 % Wilson interval over "
     << "episodes; success last.\n\n"
     << "| Method | Run | Sampler | Episodes |";
  for (const auto& n : names) md << " " << n << " |";
  md << " success |\n|---|---|---|---:|";
  for (size_t i = 0; i <= names.size(); ++i) md << "---:|";
  md << "\n";
  for (const auto& g : order) {
    if (!rows.count(g)) continue;
    const std::map<std::string, std::string>& r = rows.at(g);
    const auto cell = [&](const std::string& c) { return r.count(c) ? r.at(c) : std::string(); };
    std::vector<std::string> cells;
    for (const auto& c : columns) cells.push_back(cell(c));
    csv << Join(cells, ",") << "\n";
    const int n = std::stoi(cell("episodes"));
    md << "| " << cell("method") << " | " << cell("run") << " | " << cell("sampler") << " | " << n << " |";
    for (const auto& m : names) md << " " << RateCell(cell(m).empty() ? 0 : std::stoi(cell(m)), n) << " |";
    md << " " << RateCell(std::stoi(cell("successes")), n) << " |\n";
  }
  if (carried > 0) md << "\n" << carried << " rows come from the previous merge: their runs are not on this machine.\n";
  if (unrecorded > 0) {
    md << "\n" << unrecorded << " run x sampler groups have no row: their eval blocks were written before sub-goals "
       << "were recorded (deleting a block's CSV and its .csv.json done marker under the run's evals/ and rerunning the eval stage fills them).\n";
  }
  fs::create_directories(plan.results);
  WriteTextAtomic(csv.str(), csv_path.string());
  WriteTextAtomic(md.str(), md_path.string());
  log << "milestones: " << rows.size() << " rows (" << carried << " kept from the previous merge) into "
      << csv_path.string() << "\n";
  return md.str();
}

}  // namespace pipeline_internal
}  // namespace onedp
