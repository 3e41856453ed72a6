// Merging a pipeline run: evals.csv, tables, convergence plot, latency, cost and README; `harness table`.

#include "harness/pipeline.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
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

#include "harness/pipeline_internal.h"
#include "harness/policy_jobs.h"
#include "harness/run_info.h"
#include "harness/tables.h"
#include "policies/policy_info.h"
#include "policies/preset.h"
#include "tasks/task_registry.h"

namespace onedp {

namespace pipeline_internal {

namespace fs = std::filesystem;

bool RunHere(const WorkItem& item) { return fs::exists(fs::path(item.path) / "run.json"); }

std::map<std::string, int> AbsentRuns(const RunPlan& plan) {
  std::map<std::string, int> absent;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if ((it.stage == Stage::kTrain || it.stage == Stage::kDistill) && !RunHere(it)) absent[it.key] = i;
  }
  return absent;
}

bool PlotLines(const std::map<std::string, std::map<double, double>>& series, const std::string& title,
               const std::string& xlabel, const std::string& ylabel, const std::string& key, const std::string& png,
               std::ostream& log) {
  if (series.empty()) return false;
  const fs::path dir = fs::path(png).parent_path();
  const std::string stem = fs::path(png).stem().string();
  const fs::path dat = dir / (stem + ".dat.tmp"), gp = dir / (stem + ".gp.tmp");
  {
    std::ofstream d(dat);
    for (const auto& [name, pts] : series) {
      d << "\"" << name << "\"\n";
      for (const auto& [x, y] : pts) d << x << ' ' << y << '\n';
      d << "\n\n";
    }
  }
  {
    std::ofstream g(gp);
    g << "set terminal pngcairo size 900,560 font 'sans,10'\n"
      << "set output '" << png << ".tmp'\n"
      << "set title '" << title << "'\n"
      << "set xlabel '" << xlabel << "'\nset ylabel '" << ylabel << "'\n"
      << "set yrange [0:1.05]\nset key " << key << "\nset grid\n"
      << "plot for [i=0:" << series.size() - 1 << "] '" << dat.string()
      << "' index i using 1:2 with linespoints lw 2 title columnheader(1)\n";
  }
  const std::string cmd = "gnuplot '" + gp.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  fs::remove(dat);
  fs::remove(gp);
  if (rc != 0 || !fs::exists(png + ".tmp")) {
    log << "warning: gnuplot failed (exit " << rc << "); " << fs::path(png).filename().string() << " not written\n";
    return false;
  }
  fs::rename(png + ".tmp", png);
  return true;
}

}  // namespace pipeline_internal

using namespace pipeline_internal;

namespace {

namespace fs = std::filesystem;

// The trained policy whose family the paper's table `table` ("table1") reports.
const PolicyInfo& TableTeacher(const std::string& table) {
  for (const PolicyInfo& p : RegisteredPolicies()) {
    if (!p.distilled() && p.table == table) return p;
  }
  throw std::logic_error("no trained policy reports in " + table);
}

std::string VersionsText(const nlohmann::json& v) {
  std::string s;
  for (const char* k : {"onedp", "mujoco", "torch", "compiler", "cpu"}) {
    if (v.contains(k)) s += (s.empty() ? "" : "; ") + std::string(k) + " " + v.at(k).get<std::string>();
  }
  return s;
}

// Mean success and score of a per-episode CSV (WriteRolloutCsv's format).
struct EpisodeStats {
  int episodes = 0;
  double success = 0, score = 0;
};
EpisodeStats ReadEpisodes(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read " + path);
  std::string line;
  std::getline(f, line);
  EpisodeStats s;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string seed, success, score;
    std::getline(ss, seed, ',');
    std::getline(ss, success, ',');
    std::getline(ss, score, ',');
    s.success += std::stod(success);
    s.score += std::stod(score);
    ++s.episodes;
  }
  if (s.episodes > 0) {
    s.success /= s.episodes;
    s.score /= s.episodes;
  }
  return s;
}

// --- merge -------------------------------------------------------------------------------------

struct RunRows {
  std::vector<EvalRow> rows;
  std::vector<std::string> missing;
};

EvalRow BaseRow(const RunPlan& plan, const WorkItem& run) {
  EvalRow r;
  r.task = plan.options.task;
  r.table = run.table;
  r.train_seed = run.seed;
  return r;
}

// In-training evaluations (eval_epoch<E>.csv) and the eval items' blocks, per run.
RunRows CollectRows(const RunPlan& plan) {
  RunRows out;
  // (table, method, epochs, nfe, seed, epoch) -> row; eval-stage rows replace in-training ones.
  std::map<std::tuple<std::string, std::string, int, int, uint64_t, int>, EvalRow> rows;
  std::map<int, int> run_epochs;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& run = plan.items[i];
    if (run.stage != Stage::kTrain && run.stage != Stage::kDistill) continue;
    // A run still in progress has no rows yet: its in-training evaluations so far would read as the
    // peak and final of its whole schedule.
    if (!ItemDone(run)) continue;
    const fs::path run_json = fs::path(run.path) / "run.json";
    if (!fs::exists(run_json)) continue;
    const nlohmann::json rj = ReadJson(run_json.string());
    const int epochs = rj.contains("train_config") ? rj.at("train_config").value("epochs", 0)
                                                   : rj.value("distill_config", nlohmann::json::object()).value("epochs", 0);
    run_epochs[i] = epochs;
    const PolicyInfo& info = FindPolicyInfo(run.policy);
    const std::string sampler = info.training_eval_sampler;
    for (const auto& f : fs::directory_iterator(run.path)) {
      const std::string name = f.path().filename().string();
      if (name.rfind("eval_epoch", 0) != 0 || f.path().extension() != ".csv") continue;
      const int epoch = std::stoi(name.substr(10));
      const EpisodeStats s = ReadEpisodes(f.path().string());
      EvalRow r = BaseRow(plan, run);
      r.method = info.MethodName(sampler);
      r.epochs = epochs;
      r.nfe = info.Nfe(sampler);
      r.sampler = sampler;
      r.epoch = epoch;
      r.episodes = s.episodes;
      r.start_seed = 100000;
      r.success = s.success;
      r.score = s.score;
      const nlohmann::json versions = rj.value("versions", nlohmann::json::object());
      r.config_hash = run.key;  // the work item's key: its inputs, wherever it ran
      r.git_commit = versions.value("git_commit", "");
      r.device = plan.options.device;
      for (const char* loop : {"train_config", "distill_config"}) {
        if (rj.contains(loop)) r.device = rj.at(loop).value("device", r.device);
      }
      r.versions = VersionsText(versions);
      rows[{r.table, r.method, r.epochs, r.nfe, r.train_seed, r.epoch}] = r;
    }
  }
  // Eval items, grouped by (run, sampler); a group counts only when all its blocks are done.
  std::map<std::pair<int, std::string>, std::vector<int>> groups;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    if (plan.items[i].stage == Stage::kEval) groups[{plan.items[i].source, plan.items[i].sampler}].push_back(i);
  }
  for (const auto& [group, items] : groups) {
    const WorkItem& run = plan.items[group.first];
    int episodes = 0, epoch = -1;
    double success = 0, score = 0;
    nlohmann::json first;
    bool complete = true;
    for (int i : items) {
      if (!ItemDone(plan.items[i])) {
        complete = false;
        break;
      }
      const nlohmann::json m = ReadJson(DoneMarker(plan.items[i]));
      const EpisodeStats s = ReadEpisodes(plan.items[i].path);
      if (epoch >= 0 && m.at("epoch").get<int>() != epoch) {
        throw std::runtime_error("the blocks of '" + run.label + " " + group.second +
                                 "' evaluated different checkpoints; delete " + fs::path(plan.items[i].path).parent_path().string() +
                                 " and rerun the eval stage");
      }
      epoch = m.at("epoch").get<int>();
      if (first.is_null()) first = m;
      success += s.success * s.episodes;
      score += s.score * s.episodes;
      episodes += s.episodes;
    }
    if (!complete || episodes == 0) {
      out.missing.push_back(run.label + " " + group.second);
      continue;
    }
    EvalRow r = BaseRow(plan, run);
    r.method = FindPolicyInfo(run.policy).MethodName(group.second);
    r.epochs = run_epochs.count(group.first) ? run_epochs.at(group.first) : epoch;
    r.nfe = first.at("nfe").get<int>();
    r.sampler = group.second;
    r.epoch = epoch;
    r.episodes = episodes;
    r.start_seed = 100000;
    r.success = success / episodes;
    r.score = score / episodes;
    r.config_hash = run.key;
    r.git_commit = first.at("versions").value("git_commit", "");
    r.device = first.value("device", "");
    r.versions = VersionsText(first.at("versions"));
    rows[{r.table, r.method, r.epochs, r.nfe, r.train_seed, r.epoch}] = r;
  }
  for (auto& [k, r] : rows) out.rows.push_back(r);
  return out;
}

std::string TableSection(const PaperTable& t, const std::string& title) {
  return "### " + title + "\n\n" + TableMarkdown(t) + "\n";
}

// Tables 1 and 2, peak and final, as Markdown (both in one file) and CSV.
std::string WriteTables(const std::vector<EvalRow>& rows, const std::vector<std::string>& tasks,
                        const std::string& dir, const std::vector<ExpectedLine>& expected = {}) {
  std::string all;
  for (const PolicyInfo& teacher : RegisteredPolicies()) {
    if (teacher.distilled()) continue;
    const std::string& name = teacher.table;
    const PaperTable peak = AssembleTable(rows, name, tasks, Reduce::kPeak, expected);
    const PaperTable final_ = AssembleTable(rows, name, tasks, Reduce::kFinal, expected);
    const std::string md = "## " + teacher.table_title + " (" + teacher.family + " family)\n\n" +
                           TableSection(peak, "Peak over evaluated checkpoints (the paper's protocol)") +
                           TableSection(final_, "Final checkpoint") + "### Beside the paper (peak)\n\n" +
                           ComparisonMarkdown(peak, ReadPublishedTables(DefaultPublishedTablesPath())) + "\n";
    WriteTextAtomic(md, (fs::path(dir) / (name + ".md")).string());
    WriteTextAtomic(TableCsv(peak), (fs::path(dir) / (name + "_peak.csv")).string());
    WriteTextAtomic(TableCsv(final_), (fs::path(dir) / (name + "_final.csv")).string());
    all += md;
  }
  return all;
}

// convergence.csv (OneDP and CP in-training evaluations) and its gnuplot PNG.
std::string WriteConvergence(const RunPlan& plan, const std::vector<EvalRow>& rows, std::ostream& log) {
  std::map<std::string, std::map<int, std::vector<double>>> series;  // "method (table, epochs)" -> epoch -> metric
  std::ostringstream csv;
  csv << "task,table,method,epochs,sampler,train_seed,epoch,episodes,metric\n";
  for (const auto& r : rows) {
    const PolicyInfo* policy = PolicyOfMethod(r.method);
    if (policy && !policy->distilled()) continue;  // the teachers' rows
    csv << r.task << ',' << r.table << ',' << r.method << ',' << r.epochs << ',' << r.sampler << ',' << r.train_seed
        << ',' << r.epoch << ',' << r.episodes << ',' << Fixed(RowMetric(r), 6) << '\n';
    const std::string teacher = TableTeacher(r.table).family + " teacher";
    series[r.method + " " + r.sampler + ", " + teacher + ", " + std::to_string(r.epochs) + " ep"][r.epoch].push_back(
        RowMetric(r));
  }
  const fs::path dir(plan.results);
  WriteTextAtomic(csv.str(), (dir / "convergence.csv").string());
  if (series.empty()) return "";
  // gnuplot: one line per series, the mean over training seeds.
  const TaskInfo& task = FindTask(plan.options.task).info;
  std::map<std::string, std::map<double, double>> means;
  for (const auto& [name, pts] : series) {
    for (const auto& [epoch, v] : pts) {
      double m = 0;
      for (double x : v) m += x;
      means[name][epoch] = m / v.size();
    }
  }
  const std::string title = "Convergence of distillation on " + task.display_name + " (" + plan.options.preset +
                            " preset, " + std::to_string(plan.options.episodes) + " test episodes)";
  const std::string png = (dir / "convergence.png").string();
  return PlotLines(means, title, "distillation epoch", MetricName(task.metric), "bottom right", png, log) ? png : "";
}

std::string ReadText(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The rows of a CSV written by a previous merge, keyed by the value of `key_column`.
std::map<std::string, std::map<std::string, std::string>> PreviousCsv(const fs::path& path,
                                                                       const std::string& key_column) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (auto& row : CsvRowsByHeader(path.string())) {
    if (row.count(key_column)) out[row.at(key_column)] = row;
  }
  return out;
}

// Rows of the previous merge (<results>/evals.csv, e.g. committed from a machine whose runs/ is gone)
// for runs of this grid that are not on this machine are kept, so that a partial rerun completes a
// table instead of replacing it; a run that is here is read from its own outputs. Returns how many
// rows; `runs` gets the labels of the runs they belong to.
int CarryOverRows(const RunPlan& plan, RunRows* rr, std::set<std::string>* runs) {
  const fs::path previous = fs::path(plan.results) / "evals.csv";
  if (!fs::exists(previous)) return 0;
  const std::map<std::string, int> absent = AbsentRuns(plan);
  using Key = std::tuple<std::string, std::string, int, int, uint64_t, int>;
  const auto key_of = [](const EvalRow& r) { return Key{r.table, r.method, r.epochs, r.nfe, r.train_seed, r.epoch}; };
  std::map<Key, EvalRow> rows;
  for (const EvalRow& r : rr->rows) rows[key_of(r)] = r;
  int carried = 0;
  for (const EvalRow& r : ReadEvalRows(previous.string())) {
    const auto run = absent.find(r.config_hash);
    if (run == absent.end() || rows.count(key_of(r))) continue;
    rows[key_of(r)] = r;
    ++carried;
    runs->insert(plan.items[run->second].label);
    const std::string label = plan.items[run->second].label + " " + r.sampler;
    rr->missing.erase(std::remove(rr->missing.begin(), rr->missing.end(), label), rr->missing.end());
  }
  rr->rows.clear();
  for (auto& [k, r] : rows) rr->rows.push_back(r);
  return carried;
}

// latency.{md,csv}: the paper's latency table (BenchmarkLatencyTable: encoder, DDPM-100, DDIM-10 and
// OneDP (1 NFE) of the first seed's OneDP-S from the DDPM teacher); without
// that run on this machine, the previous merge's table.
std::string WriteLatency(const RunPlan& plan, std::ostream& log) {
  const LatencyTableInfo& lat = BenchmarkLatencyTable();
  const PolicyInfo& student_info = FindPolicyInfo(lat.student);
  const PolicyInfo& teacher_info = FindPolicyInfo(lat.teacher);
  const WorkItem* student = nullptr;
  for (const auto& it : plan.items) {
    if (it.stage == Stage::kDistill && it.policy == lat.student && plan.items[it.source].policy == lat.teacher &&
        ItemDone(it)) {
      student = &it;
      break;
    }
  }
  if (!student) {
    const std::string which =
        student_info.MethodName(student_info.samplers.front()) + " (" + teacher_info.family + " teacher)";
    const fs::path previous = fs::path(plan.results) / "latency.md";
    if (fs::exists(previous)) {
      log << "latency: no " << which << " run on this machine; the previous merge's table is kept\n";
      return ReadText(previous);
    }
    log << "latency: no finished " << which << " run yet\n";
    return "";
  }
  BenchPolicyOptions b;
  b.ckpt = student->path;
  b.device = plan.options.device;
  b.repeats = plan.preset.bench_repeats;
  b.samplers = lat.samplers;
  const LatencyReport rep = BenchPolicy(b);
  double first = 0, one = 0;
  std::ostringstream md, csv;
  csv << "task,policy,sampler,nfe,encoder_ms,sampling_ms,total_ms,hz,device\n";
  md << "Batch-1 latency on " << plan.options.device << " (median of " << rep.repeats << " calls after a warm-up; "
     << rep.parameters << " parameters, encoder " << rep.encoder_parameters << "):\n\n"
     << "| Method | NFE | encoder ms | sampling ms | total ms | Hz |\n|---|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rep.rows) {
    const std::string name =
        r.policy == lat.student ? lat.student_label : FindPolicyInfo(r.policy).MethodName(r.sampler) + " " + r.sampler;
    md << "| " << name << " | " << r.nfe << " | " << Fixed(r.encode_ms, 2) << " | " << Fixed(r.sample_ms, 2) << " | "
       << Fixed(r.total_ms(), 2) << " | " << Fixed(r.hz(), 1) << " |\n";
    csv << plan.options.task << ',' << r.policy << ',' << r.sampler << ',' << r.nfe << ',' << Fixed(r.encode_ms, 4)
        << ',' << Fixed(r.sample_ms, 4) << ',' << Fixed(r.total_ms(), 4) << ',' << Fixed(r.hz(), 3) << ','
        << plan.options.device << '\n';
    if (r.sampler == lat.samplers.front()) first = r.total_ms();
    if (r.policy == lat.student) one = r.total_ms();
  }
  if (first > 0 && one > 0) md << "\n" << lat.ratio_label << " latency ratio: " << Fixed(first / one, 1) << "x\n";
  WriteTextAtomic(md.str(), (fs::path(plan.results) / "latency.md").string());
  WriteTextAtomic(csv.str(), (fs::path(plan.results) / "latency.csv").string());
  return md.str();
}

}  // namespace

namespace pipeline_internal {

namespace {

constexpr double kSecondsPerHour = 3600;

// The done blocks among `items` (eval or dynamic items), from their markers' "seconds" (wall) and
// "cpu_seconds" (markers written before it was recorded have wall time only).
BlockTimes DoneBlockTimes(const RunPlan& plan, const std::vector<int>& items) {
  BlockTimes b;
  for (int i : items) {
    if (!ItemDone(plan.items[i])) continue;
    const nlohmann::json m = ReadJson(DoneMarker(plan.items[i]));
    b.Add(m.value("seconds", 0.0), m.value("cpu_seconds", -1.0));
  }
  return b;
}

// A previous merge's cost.csv columns <prefix>_seconds, _cpu_seconds (empty unless every block
// recorded CPU time) and _core_seconds, with the block count in `count_column`, as BlockTimes whose
// CoreSeconds() and AllCpu() are the ones written.
BlockTimes CarriedBlockTimes(const std::map<std::string, std::string>& row, const std::string& count_column,
                             const std::string& prefix) {
  const auto number = [&row](const std::string& column) {
    const auto c = row.find(column);
    return c == row.end() || c->second.empty() ? 0.0 : std::stod(c->second);
  };
  BlockTimes b;
  b.count = static_cast<int>(number(count_column));
  b.seconds = number(prefix + "_seconds");
  const auto cpu = row.find(prefix + "_cpu_seconds");
  if (cpu != row.end() && !cpu->second.empty()) {
    b.cpu_seconds = std::stod(cpu->second);
  } else if (b.count > 0) {
    b.without_cpu = b.count;
    b.wall_only_seconds = row.count(prefix + "_core_seconds") ? number(prefix + "_core_seconds") : b.seconds;
  }
  return b;
}

}  // namespace

// cost.{md,csv}: per train / distill run, the optimiser steps' wall and process CPU time (distillations
// also as a share of the teacher's), its in-training evaluations, the eval and dynamic stages' blocks
// of the run, and its core-hours; then the task's total. On a shared machine the wall time grows with
// the other jobs; the CPU time does not, so shares and core-hours are taken from CPU time where it
// was recorded (wall time stands in elsewhere, and the notes say where).
std::string WriteCost(const RunPlan& plan) {
  std::ostringstream md, csv;
  csv << "task,run,policy,train_seed,epochs,seconds,cpu_seconds,teacher_seconds,teacher_cpu_seconds,"
         "fraction_of_teacher,fraction_basis,training_evals,training_eval_seconds,training_eval_cpu_seconds,"
         "training_eval_core_seconds,eval_blocks,eval_blocks_planned,eval_seconds,eval_cpu_seconds,eval_core_seconds,"
         "dynamic_blocks,dynamic_blocks_planned,dynamic_seconds,dynamic_cpu_seconds,dynamic_core_seconds,core_hours\n";
  md << "| Run | Epochs | Wall s | CPU s | Teacher wall s | Teacher CPU s | Share of pre-training "
        "| In-training evals | In-training eval wall s | In-training eval CPU s "
        "| Eval blocks | Eval wall s | Eval CPU s | Dynamic blocks | Dynamic wall s | Dynamic CPU s | Core-h |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const auto cell = [](double v) { return v > 0 ? Fixed(v, 0) : std::string("-"); };
  // A block group's CPU cell: "-" unless every block recorded its CPU time.
  const auto cpu_cell = [&cell](const BlockTimes& b) { return b.count > 0 && b.AllCpu() ? cell(b.cpu_seconds) : "-"; };
  const auto cpu_csv = [](const BlockTimes& b) { return b.AllCpu() ? Fixed(b.cpu_seconds, 1) : std::string(); };
  // Runs not on this machine keep the previous merge's row (see CarryOverRows).
  const auto previous = PreviousCsv(fs::path(plan.results) / "cost.csv", "run");
  const auto number = [](const std::map<std::string, std::string>& row, const char* column) {
    const auto c = row.find(column);
    return c == row.end() || c->second.empty() ? 0.0 : std::stod(c->second);
  };
  // Each run's eval and dynamic items.
  std::map<int, std::vector<int>> evals_of, dynamic_of;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage == Stage::kEval) evals_of[it.source].push_back(i);
    if (it.stage == Stage::kDynamic) dynamic_of[it.source].push_back(i);
  }
  // The task's sums: the runs' optimiser steps per stage, one block per run (wall time where a run
  // recorded no CPU time), and the three kinds of rollouts.
  BlockTimes train_steps, distill_steps, training_evals_sum, evals_sum, dynamic_sum;
  int evals_planned_sum = 0, dynamic_planned_sum = 0;
  for (int i = 0; i < static_cast<int>(plan.items.size()); ++i) {
    const WorkItem& it = plan.items[i];
    if (it.stage != Stage::kTrain && it.stage != Stage::kDistill) continue;
    RunProgress p, t;
    BlockTimes evals, dynamic;
    std::string carried_fraction, carried_basis;  // the previous merge's share, kept as written
    const auto prev = previous.find(fs::path(it.path).filename().string());
    if (ItemDone(it)) {
      p = ReadRunProgress(it.path);
      t = it.source >= 0 ? ReadRunProgress(plan.items[it.source].path) : RunProgress{};
      evals = DoneBlockTimes(plan, evals_of[i]);
      dynamic = DoneBlockTimes(plan, dynamic_of[i]);
    } else if (!RunHere(it) && prev != previous.end()) {
      const auto& row = prev->second;
      p.epoch = static_cast<int>(number(row, "epochs"));
      p.seconds = number(row, "seconds");
      p.cpu_seconds = number(row, "cpu_seconds");
      t.seconds = number(row, "teacher_seconds");
      t.cpu_seconds = number(row, "teacher_cpu_seconds");
      p.evals = CarriedBlockTimes(row, "training_evals", "training_eval");
      evals = CarriedBlockTimes(row, "eval_blocks", "eval");
      dynamic = CarriedBlockTimes(row, "dynamic_blocks", "dynamic");
      const auto f = row.find("fraction_of_teacher");
      if (f != row.end() && !f->second.empty()) {
        carried_fraction = f->second;
        const auto b = row.find("fraction_basis");
        carried_basis = b != row.end() && !b->second.empty() ? b->second : "wall";
      }
    } else {
      continue;
    }
    const bool by_cpu = p.cpu_seconds > 0 && t.cpu_seconds > 0;
    const double mine = by_cpu ? p.cpu_seconds : p.seconds, teacher = by_cpu ? t.cpu_seconds : t.seconds;
    std::string fraction = teacher > 0 ? Fixed(mine / teacher, 4) : "";
    std::string basis = teacher > 0 ? (by_cpu ? "cpu" : "wall") : "";
    if (!carried_fraction.empty()) {
      fraction = carried_fraction;
      basis = carried_basis;
    }
    const int evals_planned = static_cast<int>(evals_of[i].size());
    const int dynamic_planned = static_cast<int>(dynamic_of[i].size());
    BlockTimes steps;
    steps.Add(p.seconds, p.cpu_seconds > 0 ? p.cpu_seconds : -1);
    const double core_hours =
        (steps.CoreSeconds() + p.evals.CoreSeconds() + evals.CoreSeconds() + dynamic.CoreSeconds()) / kSecondsPerHour;
    (it.stage == Stage::kTrain ? train_steps : distill_steps).Add(steps);
    training_evals_sum.Add(p.evals);
    evals_sum.Add(evals);
    dynamic_sum.Add(dynamic);
    evals_planned_sum += evals_planned;
    dynamic_planned_sum += dynamic_planned;
    const std::string name = fs::path(it.path).filename().string();
    csv << plan.options.task << ',' << name << ',' << it.policy << ',' << it.seed << ',' << p.epoch << ','
        << Fixed(p.seconds, 1) << ',' << Fixed(p.cpu_seconds, 1) << ',' << Fixed(t.seconds, 1) << ','
        << Fixed(t.cpu_seconds, 1) << ',' << fraction << ',' << basis << ',' << p.evals.count << ','
        << Fixed(p.evals.seconds, 1) << ',' << cpu_csv(p.evals) << ',' << Fixed(p.evals.CoreSeconds(), 1) << ','
        << evals.count << ',' << evals_planned << ',' << Fixed(evals.seconds, 1) << ',' << cpu_csv(evals) << ','
        << Fixed(evals.CoreSeconds(), 1) << ',' << dynamic.count << ',' << dynamic_planned << ','
        << Fixed(dynamic.seconds, 1) << ',' << cpu_csv(dynamic) << ',' << Fixed(dynamic.CoreSeconds(), 1) << ','
        << Fixed(core_hours, 4) << '\n';
    md << "| " << name << " | " << p.epoch << " | " << cell(p.seconds) << " | " << cell(p.cpu_seconds) << " | "
       << cell(t.seconds) << " | " << cell(t.cpu_seconds) << " | "
       << (fraction.empty() ? "-" : Fixed(100 * std::stod(fraction), 1) + " % (" + basis + ")") << " | "
       << p.evals.count << " | " << cell(p.evals.seconds) << " | " << cpu_cell(p.evals) << " | " << evals.count << "/"
       << evals_planned << " | " << cell(evals.seconds) << " | " << cpu_cell(evals) << " | " << dynamic.count << "/"
       << dynamic_planned << " | " << cell(dynamic.seconds) << " | " << cpu_cell(dynamic) << " | "
       << Fixed(core_hours, 2) << " |\n";
  }
  BlockTimes all_steps = train_steps;
  all_steps.Add(distill_steps);
  const double wall_sum = all_steps.seconds, cpu_sum = all_steps.cpu_seconds;
  const double total_core =
      all_steps.CoreSeconds() + training_evals_sum.CoreSeconds() + evals_sum.CoreSeconds() + dynamic_sum.CoreSeconds();
  csv << plan.options.task << ",total,,,," << Fixed(wall_sum, 1) << ',' << Fixed(cpu_sum, 1) << ",,,,,"
      << training_evals_sum.count << ',' << Fixed(training_evals_sum.seconds, 1) << ',' << cpu_csv(training_evals_sum)
      << ',' << Fixed(training_evals_sum.CoreSeconds(), 1) << ',' << evals_sum.count << ',' << evals_planned_sum << ','
      << Fixed(evals_sum.seconds, 1) << ',' << cpu_csv(evals_sum) << ',' << Fixed(evals_sum.CoreSeconds(), 1) << ','
      << dynamic_sum.count << ',' << dynamic_planned_sum << ',' << Fixed(dynamic_sum.seconds, 1) << ','
      << cpu_csv(dynamic_sum) << ',' << Fixed(dynamic_sum.CoreSeconds(), 1) << ',' << Fixed(total_core / kSecondsPerHour, 4)
      << '\n';
  md << "| **total** | | " << cell(wall_sum) << " | " << cell(cpu_sum) << " | | | | " << training_evals_sum.count
     << " | " << cell(training_evals_sum.seconds) << " | " << cpu_cell(training_evals_sum) << " | " << evals_sum.count
     << "/" << evals_planned_sum << " | " << cell(evals_sum.seconds) << " | " << cpu_cell(evals_sum) << " | "
     << dynamic_sum.count << "/" << dynamic_planned_sum << " | " << cell(dynamic_sum.seconds) << " | "
     << cpu_cell(dynamic_sum) << " | " << Fixed(total_core / kSecondsPerHour, 2) << " |\n";
  md << "\nColumns: Wall s / CPU s are the run's optimiser steps (each epoch's batches and validation loss, "
        "summed; process CPU time of all threads); Teacher wall s / CPU s the same for its teacher; Share = CPU s / "
        "teacher CPU s (wall when either lacks CPU time); In-training evals are the rollouts every eval_every "
        "epochs (count, wall s, CPU s); Eval and Dynamic blocks are the eval and dynamic stages' blocks of "
        "test episodes of this run (done/planned, wall s, CPU s, from their done markers); Core-h is the row's CPU "
        "time (steps + the three kinds of rollouts) in hours.\n";
  // A part of the total, saying whether wall time stands in for all or part of it.
  const auto part = [](const char* what, const BlockTimes& b) {
    const std::string basis = b.AllCpu() ? "" : b.without_cpu == b.count ? " (wall time)" : " (part wall time)";
    return std::string(what) + " " + Fixed(b.CoreSeconds(), 0) + " s" + basis;
  };
  md << "\nTask total: " << part("pre-training", train_steps) << " + " << part("distillation", distill_steps) << " + "
     << part("in-training evaluations", training_evals_sum) << " + " << part("evaluation blocks", evals_sum) << " + "
     << part("dynamic blocks", dynamic_sum) << " = "
     << Fixed(total_core / kSecondsPerHour, 2) << " core-hours (" << evals_sum.count << " of " << evals_planned_sum
     << " eval blocks and " << dynamic_sum.count << " of " << dynamic_planned_sum
     << " dynamic blocks done; not counted: collecting the dataset, loading data and networks, checkpoint writes, "
        "the merge's latency benchmark).\n";
  if (!train_steps.AllCpu() || !distill_steps.AllCpu() || !training_evals_sum.AllCpu() || !evals_sum.AllCpu() ||
      !dynamic_sum.AllCpu()) {
    md << "\nCPU s `-` where time was spent: those blocks (or runs) were recorded before their CPU time was, so their "
          "wall time stands in for it in Core-h and the total. Rollouts run on several env threads, so their wall "
          "time can be below their CPU time; on a shared machine it also counts the other jobs' time.\n";
  }
  WriteTextAtomic(md.str(), (fs::path(plan.results) / "cost.md").string());
  WriteTextAtomic(csv.str(), (fs::path(plan.results) / "cost.csv").string());
  return md.str();
}

}  // namespace pipeline_internal

namespace {

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

}  // namespace

void MergeRun(const RunPlan& plan, std::ostream& out) {
  fs::create_directories(plan.results);
  RunRows rr = CollectRows(plan);
  std::set<std::string> carried_runs;
  const int carried = CarryOverRows(plan, &rr, &carried_runs);
  WriteEvalRows(rr.rows, (fs::path(plan.results) / "evals.csv").string());
  // Every line the grid evaluates is shown, with missing cells until its results exist.
  std::vector<ExpectedLine> expected;
  std::map<int, int> epochs_of;
  for (const auto& it : plan.items) {
    if (it.stage != Stage::kEval) continue;
    if (!epochs_of.count(it.source)) {
      const WorkItem& run = plan.items[it.source];
      epochs_of[it.source] = run.stage == Stage::kTrain
                                 ? TrainRunIdentity(TrainItemOptions(plan, run)).at("train_config").at("epochs").get<int>()
                                 : run.epochs;
    }
    expected.push_back({it.table, it.method, epochs_of.at(it.source), FindPolicyInfo(it.policy).Nfe(it.sampler)});
  }
  const std::string tables = WriteTables(rr.rows, {plan.options.task}, plan.results, expected);
  const std::string png = WriteConvergence(plan, rr.rows, out);
  const std::string latency = WriteLatency(plan, out);
  const std::string cost = WriteCost(plan);
  const std::string dynamic = WriteDynamic(plan, out);
  const std::string milestones = WriteMilestones(plan, out);
  int done = 0;
  for (const auto& it : plan.items) done += ItemDone(it);
  const RunOptions& o = plan.options;
  std::ostringstream readme;
  // The preset as it was read, beside the tables it produced.
  WriteTextAtomic(LoadPreset(o.preset).json.dump(2) + "\n", (fs::path(plan.results) / "preset.json").string());
  readme << "# " << FindTask(o.task).info.display_name << ", `" << plan.preset.name << "` preset\n\n"
         << "Written by `harness run --task " << o.task << " --preset " << o.preset << "` (merge at " << UtcNow()
         << ", build " << GitCommit() << ", device " << o.device << ", CPU " << CpuModel() << ").\n\n"
         << "Scale: " << o.train_seeds.size() << " training seed(s), " << o.episodes
         << " test episodes (seeds 100000-" << 100000 + o.episodes - 1 << ") per method and sampler; the paper uses "
         << "5 training seeds x 100 episodes, image observations and ~1000-epoch pre-training. " << done << " of "
         << plan.items.size() << " work items are done" << (carried > 0 ? " on the machine of this merge" : "");
  readme << (rr.missing.empty() ? "; every cell has results" : "; cells without results are marked -") << ".\n\n";
  if (carried > 0) {
    readme << carried << " evaluation rows come from the previous merge of this grid: their runs are not on the "
           << "machine of this merge (their config_hash and git commit say where they came from). Runs: "
           << Join({carried_runs.begin(), carried_runs.end()}, ", ") << ".\n\n";
  }
  readme << tables;
  if (!milestones.empty()) readme << milestones << "\n";
  if (!png.empty()) readme << "## Convergence (Figure 4)\n\n![convergence](convergence.png)\n\n";
  if (!latency.empty()) readme << "## Latency (Table 5)\n\n" << latency << "\n";
  std::ostringstream adopted;
  for (const auto& it : plan.items) {
    if (!ItemDone(it) || (it.stage != Stage::kTrain && it.stage != Stage::kDistill)) continue;
    const nlohmann::json m = ReadJson(DoneMarker(it));
    if (!m.contains("adopted_from")) continue;
    adopted << "- " << it.label << ": `" << m.at("adopted_from").get<std::string>() << "`";
    std::string ignored;
    for (const auto& f : m.value("ignored_differences", nlohmann::json::array())) {
      ignored += (ignored.empty() ? "" : ", ") + f.get<std::string>();
    }
    adopted << (ignored.empty() ? std::string() : " (differs in " + ignored + ")") << "\n";
  }
  if (!adopted.str().empty()) {
    readme << "## Adopted runs\n\nThese items were not recomputed: `--adopt` took existing run directories whose "
           << "inputs match the items' (the fields listed do not change the weights; an in-training evaluation "
           << "cadence that differs shows in the convergence rows' episode counts).\n\n"
           << adopted.str() << "\n";
  }
  if (!dynamic.empty()) readme << dynamic << "\n";
  readme << "## Cost\n\n" << cost << "\nFiles: evals.csv (one row per method x sampler x training seed x checkpoint, "
         << "with seeds, config hash, git commit, device, versions), table{1,2}.md and _peak/_final.csv, "
         << "convergence.csv, latency.csv, cost.csv, "
         << (fs::exists(fs::path(plan.results) / "dynamic.csv")
                 ? "dynamic.csv (the dynamic stage: one row per run x sampler x condition), "
                 : "")
         << (fs::exists(fs::path(plan.results) / "milestones.csv")
                 ? "milestones.csv (sub-goal counts: one row per run x sampler of the eval stage), "
                 : "")
         << "preset.json (the preset file the run read).\n";
  WriteTextAtomic(readme.str(), (fs::path(plan.results) / "README.md").string());
  out << "merged " << rr.rows.size() << " evaluation rows into " << plan.results << " (" << done << "/"
      << plan.items.size() << " items done";
  if (carried > 0) out << "; " << carried << " rows kept from the previous merge";
  out << ")\n";
  for (const auto& m : rr.missing) out << "  missing: " << m << "\n";
}

void RunTables(const TableOptions& options, std::ostream& out) {
  if (options.tasks.empty()) throw std::invalid_argument("--tasks is empty");
  if (options.presets.empty()) throw std::invalid_argument("--preset is empty");
  std::vector<std::string> presets;
  for (const auto& p : options.presets) presets.push_back(RunPresetFor(p).name);  // validates them
  std::vector<EvalRow> rows;
  std::vector<std::string> columns;
  for (const auto& t : options.tasks) {
    FindTask(t);  // unknown names list the valid ones
    for (const auto& preset : presets) {
      const std::string column = presets.size() == 1 ? t : ColumnKey(t, preset);
      columns.push_back(column);
      const fs::path f = fs::path(options.results) / t / preset / "evals.csv";
      if (!fs::exists(f)) {
        out << "no results for " << t << " (" << f.string() << "): its column is marked -\n";
        continue;
      }
      for (EvalRow r : ReadEvalRows(f.string())) {
        r.task = column;
        rows.push_back(r);
      }
    }
  }
  const std::string dir =
      options.out.empty() ? (fs::path(options.results) / Join(presets, "+")).string() : options.out;
  fs::create_directories(dir);
  out << WriteTables(rows, columns, dir);
  out << "wrote " << dir << "/table{1,2}.md and table{1,2}_{peak,final}.csv\n";
}

}  // namespace onedp
