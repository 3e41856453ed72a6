// The dynamic stage of `harness run`: its work items (every run x sampler x latency-aware condition
// x episode block, and a fixed-delay sweep), running one item, and the merge's dynamic.{md,csv,png}.
//
// Conditions come from the preset (`dynamic`: latency model, execution modes, sweep) and the task
// (TaskInfo::perturbations: every condition runs without and with each one); methods and samplers
// from the policies' facts (PolicyInfo::samplers, as the eval stage uses them). Each method runs at
// its own latency: the model turns the sampler's NFE into milliseconds, the rollout engine into a
// delay d in control steps (harness/latency.h). The sweep fixes d = round(x Ta) steps for each
// multiple x of the policy's chunk length Ta.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <nlohmann/json.hpp>

#include "harness/latency.h"
#include "harness/pipeline.h"
#include "harness/pipeline_internal.h"
#include "harness/progress.h"
#include "harness/rollout.h"
#include "harness/run_info.h"
#include "harness/tables.h"
#include "policies/policy_info.h"
#include "policies/registry.h"
#include "policies/run_log.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace pipeline_internal {

namespace {

namespace fs = std::filesystem;

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}


// A number as short as it prints exactly enough ("0.5", "2", "350").
std::string Compact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// A file-name-safe form of a --latency value: "v100-paper", "fixed-200", "profile-here".
std::string LatencySlug(const std::string& latency) {
  std::string s = latency.rfind("profile:", 0) == 0 ? "profile-" + fs::path(latency.substr(8)).stem().string() : latency;
  for (char& c : s) {
    if (c == ':' || c == '/') c = '-';
  }
  return s;
}

bool IsSweep(const WorkItem& item) { return item.delay_multiple >= 0; }

// How the tables name an item's condition: "v100-paper sync move" (perturbation "none" when there
// is none), a sweep point "delay 0.5x sync".
std::string ConditionName(const WorkItem& item) {
  if (IsSweep(item)) return "delay " + Compact(item.delay_multiple) + "x " + item.exec;
  return item.latency + " " + item.exec + " " + (item.perturbation.empty() ? "none" : item.perturbation);
}

// Sums over the episodes of per-episode CSVs (WriteRolloutCsv's columns, read by header).
struct EpisodeSums {
  int episodes = 0, successes = 0, applied = 0, skipped = 0, jumps = 0;
  double score = 0, score_sq = 0, delay = 0, held = 0, skipped_actions = 0, jump = 0, steps = 0;
};
void AddEpisodes(const std::string& path, EpisodeSums* s) {
  const EpisodeCsv csv = ReadEpisodeCsv(path);
  for (const char* c : {"success", "score", "steps", "delay_steps", "held_steps", "skipped_actions",
                        "boundary_jump", "perturbation"}) {
    if (!csv.Has(c)) throw std::runtime_error(path + " has no column " + c + ": not a dynamic evaluation's CSV");
  }
  for (const auto& v : csv.rows) {
    const double score = std::stod(v.at("score"));
    ++s->episodes;
    s->successes += std::stoi(v.at("success"));
    s->score += score;
    s->score_sq += score * score;
    s->steps += std::stod(v.at("steps"));
    s->delay += std::stod(v.at("delay_steps"));
    s->held += std::stod(v.at("held_steps"));
    s->skipped_actions += std::stod(v.at("skipped_actions"));
    const std::string& jump = v.at("boundary_jump");
    if (!jump.empty()) {
      s->jump += std::stod(jump);
      ++s->jumps;
    }
    s->applied += v.at("perturbation") == "applied";
    s->skipped += v.at("perturbation") == "skipped";
  }
}

// One row of dynamic.csv: a run x sampler x condition over all its episodes.
struct DynRow {
  std::map<std::string, std::string> cells;  // by column
  double Num(const std::string& c) const {
    const auto it = cells.find(c);
    return it == cells.end() || it->second.empty() ? 0.0 : std::stod(it->second);
  }
  const std::string& Str(const std::string& c) const {
    static const std::string empty;
    const auto it = cells.find(c);
    return it == cells.end() ? empty : it->second;
  }
};

const std::vector<std::string>& Columns() {
  static const std::vector<std::string> c = {
      "task", "table", "method", "teacher_family", "sampler", "nfe", "epochs", "train_seed", "condition", "latency",
      "exec", "perturbation", "delay_multiple", "chunk_steps", "episodes", "successes", "success", "success_lo",
      "success_hi", "score", "score_sd", "delay_steps", "held_steps", "skipped_actions", "boundary_jump",
      "perturbation_applied", "perturbation_skipped", "seconds_per_episode", "cpu_seconds_per_episode",
      "static_seconds_per_episode", "static_cpu_seconds_per_episode", "steps_per_episode", "static_steps_per_episode",
      "config_hash", "git_commit", "device"};
  return c;
}

// The family of the trained policy whose table `table` is ("DDPM"); "" when none.
std::string FamilyOfTable(const std::string& table) {
  for (const PolicyInfo& p : RegisteredPolicies()) {
    if (!p.distilled() && p.table == table) return p.family;
  }
  return "";
}

// Wall and process CPU seconds per episode of the items `items`: -1 when an item is not done (both)
// or did not record its CPU time (cpu).
struct PerEpisode {
  double wall = -1, cpu = -1;
};
PerEpisode SecondsPerEpisode(const RunPlan& plan, const std::vector<int>& items) {
  double wall = 0, cpu = 0;
  int episodes = 0;
  bool all_cpu = true;
  for (int i : items) {
    if (!ItemDone(plan.items[i])) return {};
    const nlohmann::json m = ReadJson(DoneMarker(plan.items[i]));
    wall += m.value("seconds", 0.0);
    all_cpu = all_cpu && m.contains("cpu_seconds");
    cpu += m.value("cpu_seconds", 0.0);
    episodes += plan.items[i].block_count;
  }
  if (episodes == 0) return {};
  return {wall / episodes, all_cpu ? cpu / episodes : -1};
}

// The cell of a row in the task's metric: PushT-like score "0.873 ± 0.041" (mean ± 1.96 SE), a
// success rate "0.82 [0.69, 0.90]" (95 % Wilson).
struct Pooled {
  int episodes = 0, successes = 0;
  double score = 0, score_sq = 0;
  void Add(const DynRow& r) {
    const int n = static_cast<int>(r.Num("episodes"));
    const double m = r.Num("score"), sd = r.Num("score_sd");
    episodes += n;
    successes += static_cast<int>(r.Num("successes"));
    score += n * m;
    score_sq += (n > 1 ? (n - 1) * sd * sd : 0.0) + n * m * m;
  }
  double Metric(TaskMetric metric) const {
    return metric == TaskMetric::kScore ? score / episodes : static_cast<double>(successes) / episodes;
  }
  double ScoreSd() const {
    if (episodes < 2) return 0;
    const double m = score / episodes;
    return std::sqrt(std::max(0.0, (score_sq - episodes * m * m) / (episodes - 1)));
  }
  std::string Cell(TaskMetric metric) const {
    if (episodes == 0) return "-";
    if (metric == TaskMetric::kScore) {
      return Fixed(score / episodes, 3) + " ± " + Fixed(1.96 * ScoreSd() / std::sqrt(episodes), 3);
    }
    const double p = static_cast<double>(successes) / episodes;
    const auto [lo, hi] = WilsonInterval(p, episodes);
    return Fixed(p, 2) + " [" + Fixed(lo, 2) + ", " + Fixed(hi, 2) + "]";
  }
};

}  // namespace

void PlanDynamic(RunPlan* plan, const std::vector<int>& runs, int recipe) {
  const DynamicPreset& dp = plan->preset.dynamic;
  if (!dp.enabled) return;
  const TaskInfo& task = FindTask(plan->options.task).info;
  struct Condition {
    std::string latency, exec, perturbation;
    double multiple = -1;
    int episodes = 0;
  };
  std::vector<Condition> conditions;
  for (const std::string& exec : dp.exec) {
    conditions.push_back({dp.latency, exec, "", -1, dp.episodes});
    for (const std::string& p : task.perturbations) conditions.push_back({dp.latency, exec, p, -1, dp.episodes});
  }
  for (double x : dp.delay_sweep) {
    conditions.push_back({"", dp.sweep_exec, "", x, dp.sweep_episodes > 0 ? dp.sweep_episodes : dp.episodes});
  }
  // A profile file's numbers enter the keys, so an edited profile makes new items.
  nlohmann::json model;
  if (!dp.latency.empty()) {
    const LatencyModel m = ParseLatency(dp.latency);
    model = {{"fixed_ms", m.fixed_ms}, {"encoder_ms", m.encoder_ms}, {"network_ms", m.network_ms}};
  }
  for (int run_i : runs) {
    const WorkItem run = plan->items[run_i];
    const PolicyInfo& info = FindPolicyInfo(run.policy);
    for (const std::string& sampler : info.samplers) {
      for (const Condition& c : conditions) {
        const int block = std::min(dp.episode_block, c.episodes);
        for (int start = 0; start < c.episodes; start += block) {
          WorkItem e = EvalBlockItem(*plan, run_i, sampler, start, std::min(block, c.episodes - start),
                                     Stage::kDynamic);
          e.latency = c.latency;
          e.exec = c.exec;
          e.perturbation = c.perturbation;
          e.delay_multiple = c.multiple;
          nlohmann::json inputs = {{"recipe", recipe},       {"stage", "dynamic"},          {"run", run.key},
                                   {"sampler", sampler},     {"exec", c.exec},              {"perturbation", c.perturbation},
                                   {"start", 100000 + start}, {"count", e.block_count},     {"max_steps", plan->preset.max_steps}};
          if (c.multiple >= 0) {
            inputs["delay_multiple"] = c.multiple;
          } else {
            inputs["latency"] = c.latency;
            inputs["latency_model"] = model;
          }
          e.key = ConfigHash(inputs);
          std::string s = sampler;
          std::replace(s.begin(), s.end(), ':', '_');
          const std::string cond = c.multiple >= 0 ? "delay" + Compact(c.multiple) + "x_" + c.exec
                                                   : LatencySlug(c.latency) + "_" + c.exec + "_" +
                                                         (c.perturbation.empty() ? "none" : c.perturbation);
          const std::string range = std::to_string(start) + "-" + std::to_string(start + e.block_count);
          e.label = "dynamic " + fs::path(run.path).filename().string() + " " + sampler + " " + ConditionName(e) + " " + range;
          e.path = (fs::path(run.path) / "dynamic" /
                    (s + "_" + cond + "_" + std::to_string(100000 + start) + "_" + std::to_string(e.block_count) + ".csv"))
                       .string();
          plan->items.push_back(std::move(e));
        }
      }
    }
  }
}

void RunDynamicItem(const RunPlan& plan, const WorkItem& item, std::ostream& log) {
  const RunOptions& o = plan.options;
  const double t0 = Now(), cpu0 = ProcessCpuSeconds();
  const WorkItem& run = plan.items[item.source];
  auto policy = LoadPolicy((fs::path(run.path) / "checkpoint").string(), o.device);
  const int chunk = policy->spec().action_steps;
  RolloutOptions ro;
  const int nfe = EvalBlockOptions(plan, item, *policy, &ro);
  ro.exec = ParseExecMode(item.exec);
  ro.perturbation = item.perturbation;
  if (IsSweep(item)) {
    // d steps as a fixed latency of d control periods (DelaySteps gives back exactly d).
    const int d = static_cast<int>(std::lround(item.delay_multiple * chunk));
    const double hz = MakeTask(o.task)->spec().control_hz;
    ro.latency = ParseLatency("fixed:" + Compact(d * 1000.0 / hz));
  } else {
    ro.latency = ParseLatency(item.latency);
  }
  Progress progress(item.label, item.block_count);
  const RolloutReport r = RunRollouts(*policy, o.task, ro, [&](int done, int) { progress.Update(done); });
  progress.Finish();
  fs::create_directories(fs::path(item.path).parent_path());
  WriteRolloutCsv(r, item.path);
  double delay = 0;
  for (const EpisodeResult& e : r.episodes) delay += e.delay_steps;
  nlohmann::json marker = EvalBlockMarker(plan, item, nfe, ro, r, t0, cpu0);
  marker["latency"] = ro.latency.text;
  marker["exec"] = item.exec;
  marker["perturbation"] = item.perturbation;
  marker["chunk_steps"] = chunk;
  marker["delay_steps"] = r.episodes.empty() ? 0.0 : delay / r.episodes.size();
  MarkDone(item, std::move(marker));
  log << item.label << ": success " << r.success_rate << ", score " << r.mean_score << "\n";
}

std::string WriteDynamic(const RunPlan& plan, std::ostream& log) {
  const DynamicPreset& dp = plan.preset.dynamic;
  if (!dp.enabled) return "";
  const std::string task_name = plan.options.task;
  const TaskInfo& task = FindTask(task_name).info;
  // Groups: (run, sampler, condition) -> items; conditions in plan order.
  std::map<std::tuple<int, std::string, std::string>, std::vector<int>> groups;
  std::vector<std::string> condition_order, sweep_order;
  std::map<std::string, std::string> header;  // condition -> its column: "sync", "async + move", "0.5x"
  std::map<std::pair<int, std::string>, std::vector<int>> static_items;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage == Stage::kEval) static_items[{it.source, it.sampler}].push_back(i);
    if (it.stage != Stage::kDynamic) continue;
    const std::string c = ConditionName(it);
    groups[{it.source, it.sampler, c}].push_back(i);
    auto& order = IsSweep(it) ? sweep_order : condition_order;
    if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
    header[c] = IsSweep(it) ? Compact(it.delay_multiple) + "x"
                            : it.exec + (it.perturbation.empty() ? "" : " + " + it.perturbation);
  }
  std::map<std::pair<int, std::string>, EpisodeSums> static_sums;  // the eval blocks' episodes
  std::map<std::string, DynRow> rows;  // by config_hash|sampler|condition
  std::map<std::string, std::string> missing;  // row key -> label
  for (const auto& [group, items] : groups) {
    const auto& [run_i, sampler, condition] = group;
    const WorkItem& run = plan.items[run_i];
    const WorkItem& first = plan.items[items.front()];
    EpisodeSums s;
    nlohmann::json marker;
    bool complete = true;
    for (int i : items) {
      if (!ItemDone(plan.items[i])) {
        complete = false;
        break;
      }
      if (marker.is_null()) marker = ReadJson(DoneMarker(plan.items[i]));
      AddEpisodes(plan.items[i].path, &s);
    }
    if (!complete || s.episodes == 0) {
      missing[run.key + "|" + sampler + "|" + condition] = run.label + " " + sampler + " " + condition;
      continue;
    }
    const PerEpisode dyn = SecondsPerEpisode(plan, items);
    const auto st = static_items.find({run_i, sampler});
    const PerEpisode stat = st == static_items.end() ? PerEpisode{} : SecondsPerEpisode(plan, st->second);
    // The eval stage's env steps per episode, for the cost per step (its episodes end on success);
    // read once per run and sampler, whatever the number of conditions.
    EpisodeSums& stat_steps = static_sums[{run_i, sampler}];
    if (stat.wall >= 0 && stat_steps.episodes == 0) {
      for (int i : st->second) AddEpisodes(plan.items[i].path, &stat_steps);
    }
    const double n = s.episodes;
    const double p = s.successes / n, score = s.score / n;
    const auto [lo, hi] = WilsonInterval(p, s.episodes);
    const double sd = s.episodes > 1 ? std::sqrt(std::max(0.0, (s.score_sq - n * score * score) / (n - 1))) : 0.0;
    const auto opt = [](double v, int digits) { return v >= 0 ? Fixed(v, digits) : std::string(); };
    DynRow r;
    r.cells = {{"task", task_name},
               {"table", run.table},
               {"method", first.method},
               {"teacher_family", FamilyOfTable(run.table)},
               {"sampler", sampler},
               {"nfe", std::to_string(marker.at("nfe").get<int>())},
               {"epochs", std::to_string(marker.at("epoch").get<int>())},
               {"train_seed", std::to_string(run.seed)},
               {"condition", condition},
               {"latency", marker.at("latency").get<std::string>()},
               {"exec", first.exec},
               {"perturbation", first.perturbation.empty() ? "none" : first.perturbation},
               {"delay_multiple", IsSweep(first) ? Compact(first.delay_multiple) : ""},
               {"chunk_steps", std::to_string(marker.at("chunk_steps").get<int>())},
               {"episodes", std::to_string(s.episodes)},
               {"successes", std::to_string(s.successes)},
               {"success", Fixed(p, 4)},
               {"success_lo", Fixed(lo, 4)},
               {"success_hi", Fixed(hi, 4)},
               {"score", Fixed(score, 6)},
               {"score_sd", Fixed(sd, 6)},
               {"delay_steps", Fixed(s.delay / n, 3)},
               {"held_steps", Fixed(s.held / n, 3)},
               {"skipped_actions", Fixed(s.skipped_actions / n, 3)},
               {"boundary_jump", s.jumps > 0 ? Fixed(s.jump / s.jumps, 6) : ""},
               {"perturbation_applied", std::to_string(s.applied)},
               {"perturbation_skipped", std::to_string(s.skipped)},
               {"seconds_per_episode", opt(dyn.wall, 4)},
               {"cpu_seconds_per_episode", opt(dyn.cpu, 4)},
               {"static_seconds_per_episode", opt(stat.wall, 4)},
               {"static_cpu_seconds_per_episode", opt(stat.cpu, 4)},
               {"steps_per_episode", Fixed(s.steps / n, 2)},
               {"static_steps_per_episode",
                stat_steps.episodes > 0 ? Fixed(stat_steps.steps / stat_steps.episodes, 2) : std::string()},
               {"config_hash", run.key},
               {"git_commit", marker.at("versions").value("git_commit", "")},
               {"device", marker.value("device", "")}};
    rows[run.key + "|" + sampler + "|" + condition] = r;
  }
  // Rows of the previous merge for runs not on this machine are kept (as evals.csv's are).
  const fs::path csv_path = fs::path(plan.results) / "dynamic.csv";
  int carried = 0;
  {
    const std::map<std::string, int> absent = AbsentRuns(plan);
    for (auto& cells : CsvRowsByHeader(csv_path.string())) {
      DynRow r;
      r.cells = std::move(cells);
      const std::string key = r.Str("config_hash") + "|" + r.Str("sampler") + "|" + r.Str("condition");
      if (!absent.count(r.Str("config_hash")) || rows.count(key)) continue;
      rows[key] = r;
      ++carried;
      missing.erase(key);
    }
  }
  const RunOptions& o = plan.options;
  if (rows.empty()) {
    // Nothing to show: no table of empty rows, and no stale files from an earlier merge.
    for (const char* f : {"dynamic.csv", "dynamic.md", "dynamic.png"}) fs::remove(fs::path(plan.results) / f);
    log << "dynamic: none of the " << missing.size() << " run x sampler x condition rows is done\n";
    return "## Latency-aware evaluation (dynamic stage)\n\nNot run: none of its " + std::to_string(missing.size()) +
           " run x sampler x condition rows is done (`harness run --task " + o.task + " --preset " + o.preset +
           " --stage dynamic` computes them).\n";
  }
  // Row order: the paper's method order, then epochs, sampler (NFE descending), seed, condition.
  std::vector<const DynRow*> ordered;
  for (const auto& [k, r] : rows) ordered.push_back(&r);
  const auto cond_rank = [&](const std::string& c) {
    const auto a = std::find(condition_order.begin(), condition_order.end(), c);
    if (a != condition_order.end()) return static_cast<int>(a - condition_order.begin());
    const auto b = std::find(sweep_order.begin(), sweep_order.end(), c);
    return static_cast<int>(condition_order.size() + (b - sweep_order.begin()));
  };
  std::stable_sort(ordered.begin(), ordered.end(), [&](const DynRow* a, const DynRow* b) {
    return std::make_tuple(a->Str("table"), MethodRank(a->Str("method")), a->Str("method"), a->Num("epochs"),
                           -a->Num("nfe"), a->Num("train_seed"), cond_rank(a->Str("condition"))) <
           std::make_tuple(b->Str("table"), MethodRank(b->Str("method")), b->Str("method"), b->Num("epochs"),
                           -b->Num("nfe"), b->Num("train_seed"), cond_rank(b->Str("condition")));
  });
  std::ostringstream csv;
  for (size_t i = 0; i < Columns().size(); ++i) csv << (i ? "," : "") << Columns()[i];
  csv << "\n";
  for (const DynRow* r : ordered) {
    for (size_t i = 0; i < Columns().size(); ++i) csv << (i ? "," : "") << r->Str(Columns()[i]);
    csv << "\n";
  }
  WriteTextAtomic(csv.str(), csv_path.string());

  // dynamic.md: one line per method (training seeds pooled), one column per condition, the Avg.
  const auto line_name = [](const DynRow& r) {
    std::string name = r.Str("method");
    const PolicyInfo* p = PolicyOfMethod(name);
    if (p && p->distilled() && !r.Str("teacher_family").empty()) name += " (" + r.Str("teacher_family") + " teacher)";
    return name + " | " + r.Str("sampler") + " | " + r.Str("nfe") + " | " + r.Str("epochs");
  };
  std::vector<std::string> lines;
  std::map<std::string, std::map<std::string, Pooled>> cells;  // line -> condition -> pooled
  std::map<std::string, std::map<std::string, std::pair<double, int>>> delays;  // line -> condition -> (sum, n)
  std::map<std::string, std::map<std::string, double>> dyn_cost;  // line -> condition -> s/episode
  std::map<std::string, double> static_cost;
  // line -> condition -> (s / env step) / (the eval stage's s / env step), where both recorded steps
  std::map<std::string, std::map<std::string, double>> step_ratio;
  std::map<std::string, std::string> cost_basis;
  for (const DynRow* r : ordered) {
    const std::string name = line_name(*r);
    if (std::find(lines.begin(), lines.end(), name) == lines.end()) lines.push_back(name);
    cells[name][r->Str("condition")].Add(*r);
    auto& d = delays[name][r->Str("condition")];
    d.first += r->Num("delay_steps");
    d.second += 1;
    if (r->Str("delay_multiple").empty()) {
      const bool by_cpu = !r->Str("cpu_seconds_per_episode").empty() && !r->Str("static_cpu_seconds_per_episode").empty();
      const std::string dyn_col = by_cpu ? "cpu_seconds_per_episode" : "seconds_per_episode";
      const std::string stat_col = by_cpu ? "static_cpu_seconds_per_episode" : "static_seconds_per_episode";
      if (!r->Str(dyn_col).empty() && !r->Str(stat_col).empty()) {
        dyn_cost[name][r->Str("condition")] = r->Num(dyn_col);
        static_cost[name] = r->Num(stat_col);
        cost_basis[name] = by_cpu ? "cpu" : "wall";
        if (r->Num("steps_per_episode") > 0 && r->Num("static_steps_per_episode") > 0 && r->Num(stat_col) > 0) {
          step_ratio[name][r->Str("condition")] = (r->Num(dyn_col) / r->Num("steps_per_episode")) /
                                                  (r->Num(stat_col) / r->Num("static_steps_per_episode"));
        }
      }
    }
  }
  std::ostringstream md;
  md << "## Latency-aware evaluation (dynamic stage)\n\n"
     << "Each method at its own latency under `" << dp.latency << "` (its sampler's NFE in milliseconds, d = ceil(latency x "
     << "control rate) control steps), `--exec` " << JoinNames(dp.exec) << ", without and with each perturbation "
     << task.display_name << " declares (" << (task.perturbations.empty() ? "none" : JoinNames(task.perturbations))
     << "); " << dp.episodes << " episodes per condition (seeds 100000-" << 100000 + dp.episodes - 1
     << "), training seeds pooled. Cells: " << MetricName(task.metric)
     << (task.metric == TaskMetric::kScore ? ", mean ± 1.96 SE" : " with its 95 % Wilson interval")
     << "; Avg: the mean over the conditions present. `harness run --task " << o.task << " --preset " << o.preset
     << " --stage dynamic` computes the items, the merge these files (dynamic.csv: per run and condition, with the "
     << "held steps, skipped actions, chunk-boundary jump and perturbations applied / skipped).\n\n";
  md << "| Method | Sampler | NFE | Epochs | d |";
  for (const auto& c : condition_order) md << " " << header.at(c) << " |";
  md << " Avg |\n|---|---|---:|---:|---:|";
  for (size_t i = 0; i < condition_order.size(); ++i) md << "---:|";
  md << "---:|\n";
  for (const auto& name : lines) {
    const auto& row = cells[name];
    bool any = false;
    for (const auto& c : condition_order) any = any || row.count(c);
    if (!any) continue;
    std::string d = "-";
    for (const auto& c : condition_order) {
      const auto it = delays[name].find(c);
      if (it != delays[name].end()) {
        d = Compact(std::round(10 * it->second.first / it->second.second) / 10);
        break;
      }
    }
    md << "| " << name << " | " << d << " |";
    double sum = 0;
    int present = 0;
    for (const auto& c : condition_order) {
      const auto it = row.find(c);
      md << " " << (it == row.end() ? "-" : it->second.Cell(task.metric)) << " |";
      if (it != row.end()) {
        sum += it->second.Metric(task.metric);
        ++present;
      }
    }
    md << " " << (present ? Fixed(sum / present, 3) : "-") << " |\n";
  }
  // The sweep: success vs delay.
  std::map<std::string, std::map<double, double>> series;
  if (!sweep_order.empty()) {
    md << "\n### Fixed-delay sweep (`--exec " << dp.sweep_exec << "`, no perturbation)\n\n"
       << MetricName(task.metric) << " at a delay of d = round(x Ta) control steps (Ta: the chunk length), "
       << (dp.sweep_episodes > 0 ? dp.sweep_episodes : dp.episodes) << " episodes per point.\n\n| Method | Sampler | NFE | Epochs |";
    for (const auto& c : sweep_order) md << " " << header.at(c) << " |";
    md << "\n|---|---|---:|---:|";
    for (size_t i = 0; i < sweep_order.size(); ++i) md << "---:|";
    md << "\n";
    for (const auto& name : lines) {
      const auto& row = cells[name];
      bool any = false;
      for (const auto& c : sweep_order) any = any || row.count(c);
      if (!any) continue;
      md << "| " << name << " |";
      for (const auto& c : sweep_order) {
        const auto it = row.find(c);
        md << " " << (it == row.end() ? "-" : it->second.Cell(task.metric)) << " |";
        if (it != row.end()) {
          const auto& dd = delays[name][c];
          // "OneDP-S (DDPM teacher) onestep, 2 ep" (the line's method, sampler and epochs)
          std::string label = name.substr(0, name.find(" | "));
          const size_t e = name.rfind(" | ");
          const size_t sp = name.find(" | ") + 3;
          label += " " + name.substr(sp, name.find(" | ", sp) - sp) + ", " + name.substr(e + 3) + " ep";
          series[label][dd.first / dd.second] = it->second.Metric(task.metric);
        }
      }
      md << "\n";
    }
  }
  const std::string png = (fs::path(plan.results) / "dynamic.png").string();
  if (!series.empty()) {
    const std::string title = "Latency-aware evaluation on " + task.display_name + " (" + o.preset + " preset): " +
                              MetricName(task.metric) + " vs delay, exec " + dp.sweep_exec;
    if (PlotLines(series, title, "delay d (control steps)", MetricName(task.metric), "top right", png, log)) {
      md << "\n![success vs delay](dynamic.png)\n";
    }
  }
  // Cost: a dynamic condition's seconds per episode beside the eval stage's for the same run and sampler.
  if (!static_cost.empty()) {
    md << "\n### Cost\n\nSeconds per episode of each dynamic condition over the eval stage's (the same run, sampler "
       << "and episode cap; CPU time when both recorded it, else wall time): the issue's target is <= 1.5x. "
       << "A perturbed episode that fails runs to the horizon where the static one succeeded early, so the last "
       << "column divides each side by its env steps per episode: what the protocol itself costs per simulated "
       << "step (- where the rows predate the steps columns).\n\n"
       << "| Method | Sampler | NFE | Epochs | static s/episode | dynamic s/episode (min-max) | ratio (mean, max) "
          "| ratio per env step (mean, max) |\n"
       << "|---|---|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& name : lines) {
      if (!static_cost.count(name) || static_cost.at(name) <= 0) continue;
      double lo = 1e300, hi = 0, sum = 0;
      for (const auto& [c, v] : dyn_cost[name]) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        sum += v;
      }
      const double mean = sum / dyn_cost[name].size(), st = static_cost.at(name);
      std::string per_step = "-";
      if (!step_ratio[name].empty()) {
        double ssum = 0, smax = 0;
        for (const auto& [c, v] : step_ratio[name]) {
          ssum += v;
          smax = std::max(smax, v);
        }
        per_step = Fixed(ssum / step_ratio[name].size(), 2) + "x, " + Fixed(smax, 2) + "x";
      }
      md << "| " << name << " | " << Fixed(st, 4) << " (" << cost_basis[name] << ") | " << Fixed(lo, 4) << "-"
         << Fixed(hi, 4) << " | " << Fixed(mean / st, 2) << "x, " << Fixed(hi / st, 2) << "x | " << per_step << " |\n";
    }
  }
  if (carried > 0) {
    md << "\n" << carried << " rows come from the previous merge: their runs are not on the machine of this merge.\n";
  }
  WriteTextAtomic(md.str(), (fs::path(plan.results) / "dynamic.md").string());
  log << "dynamic: " << rows.size() << " rows (" << carried << " kept from the previous merge) into " << csv_path.string()
      << "\n";
  for (const auto& [k, m] : missing) log << "  missing: dynamic " << m << "\n";
  return md.str();
}

}  // namespace pipeline_internal
}  // namespace onedp
