#include "harness/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "policies/policy_info.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

const char* const kHeader =
    "task,table,method,epochs,nfe,sampler,train_seed,epoch,episodes,start_seed,success,score,"
    "config_hash,git_commit,device,versions";
constexpr size_t kColumns = 16;


void CheckField(const std::string& f) {
  if (f.find_first_of(",\"\n\r") != std::string::npos) {
    throw std::invalid_argument("evals.csv field '" + f + "' contains a comma, quote or newline");
  }
}

std::string Fixed(double v, int digits) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.*f", digits, v);
  return b;
}

// "<display names>: <metric label>; " for every metric label other than the success rate (tasks
// in the registry's order), then "others: success rate".
std::string MetricNote() {
  std::vector<std::pair<std::string, std::string>> labels;  // label -> display names
  for (const TaskEntry& t : RegisteredTasks()) {
    if (t.info.metric == TaskMetric::kSuccessRate) continue;
    auto it = std::find_if(labels.begin(), labels.end(), [&](const auto& l) { return l.first == t.info.metric_label; });
    if (it == labels.end()) {
      labels.push_back({t.info.metric_label, t.info.display_name});
    } else {
      it->second += ", " + t.info.display_name;
    }
  }
  std::string note;
  for (const auto& [label, names] : labels) note += names + ": " + label + "; ";
  return note + (labels.empty() ? "" : "others: ") + MetricName(TaskMetric::kSuccessRate);
}

std::string CellText(const TableCell& c) {
  if (!c.present) return "-";
  if (c.seeds == 1) return Fixed(c.mean, 3) + " [" + Fixed(c.ci_low, 2) + ", " + Fixed(c.ci_high, 2) + "]";
  return Fixed(c.mean, 3) + " +- " + Fixed(c.std, 3) + " (n=" + std::to_string(c.seeds) + ")";
}

std::string AvgText(const TableAvg& a) {
  if (!a.present()) return "-";
  if (a.tasks == a.columns) return Fixed(a.value, 3);
  return Fixed(a.value, 3) + " (" + std::to_string(a.tasks) + "/" + std::to_string(a.columns) + ")";
}

// The presets of a table's columns in order of first appearance ("" for plain task columns).
std::vector<std::string> ColumnPresets(const std::vector<std::string>& columns) {
  std::vector<std::string> presets;
  for (const auto& c : columns) {
    if (std::find(presets.begin(), presets.end(), ColumnPreset(c)) == presets.end()) presets.push_back(ColumnPreset(c));
  }
  return presets;
}

}  // namespace

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string f;
  while (std::getline(ss, f, ',')) out.push_back(f);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

std::vector<EvalRow> ReadEvalRows(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read " + path);
  std::string line;
  if (!std::getline(f, line) || line != kHeader) {
    throw std::invalid_argument(path + ": line 1 is not the evals.csv header (" + std::string(kHeader) + ")");
  }
  std::vector<EvalRow> rows;
  for (int n = 2; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    const auto v = SplitCsv(line);
    if (v.size() != kColumns) {
      throw std::invalid_argument(path + ": line " + std::to_string(n) + " has " + std::to_string(v.size()) +
                                  " fields, expected " + std::to_string(kColumns));
    }
    try {
      EvalRow r;
      r.task = v[0];
      r.table = v[1];
      r.method = v[2];
      r.epochs = std::stoi(v[3]);
      r.nfe = std::stoi(v[4]);
      r.sampler = v[5];
      r.train_seed = std::stoull(v[6]);
      r.epoch = std::stoi(v[7]);
      r.episodes = std::stoi(v[8]);
      r.start_seed = std::stoull(v[9]);
      r.success = std::stod(v[10]);
      r.score = std::stod(v[11]);
      r.config_hash = v[12];
      r.git_commit = v[13];
      r.device = v[14];
      r.versions = v[15];
      rows.push_back(r);
    } catch (const std::logic_error&) {
      throw std::invalid_argument(path + ": line " + std::to_string(n) + " has a malformed number");
    }
  }
  return rows;
}

void WriteEvalRows(const std::vector<EvalRow>& rows, const std::string& path) {
  for (const auto& r : rows) {
    for (const std::string* f : {&r.task, &r.table, &r.method, &r.sampler, &r.config_hash, &r.git_commit, &r.device, &r.versions}) {
      CheckField(*f);
    }
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << kHeader << "\n";
    for (const auto& r : rows) {
      f << r.task << ',' << r.table << ',' << r.method << ',' << r.epochs << ',' << r.nfe << ',' << r.sampler << ','
        << r.train_seed << ',' << r.epoch << ',' << r.episodes << ',' << r.start_seed << ','
        << Fixed(r.success, 6) << ',' << Fixed(r.score, 6) << ',' << r.config_hash << ',' << r.git_commit << ','
        << r.device << ',' << r.versions << "\n";
    }
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

double RowMetric(const EvalRow& row) {
  const TaskEntry* task = FindTaskOrNull(ColumnTask(row.task));
  return task && task->info.metric == TaskMetric::kScore ? row.score : row.success;
}

PaperTable AssembleTable(const std::vector<EvalRow>& rows, const std::string& name,
                         const std::vector<std::string>& tasks, Reduce reduce,
                         const std::vector<ExpectedLine>& expected) {
  PaperTable t;
  t.name = name;
  t.tasks = tasks;
  t.reduce = reduce;
  using LineKey = std::tuple<int, std::string, int, int>;  // rank, method, epochs, -nfe
  // line -> task -> seed -> (epoch -> (metric, episodes))
  std::map<LineKey, std::map<std::string, std::map<uint64_t, std::map<int, std::pair<double, int>>>>> grid;
  for (const auto& r : rows) {
    if (r.table != name || std::find(tasks.begin(), tasks.end(), r.task) == tasks.end()) continue;
    auto& cell = grid[{MethodRank(r.method), r.method, r.epochs, -r.nfe}][r.task][r.train_seed];
    if (cell.count(r.epoch)) {
      throw std::invalid_argument("two evaluations of " + r.method + " (" + r.sampler + ") on " + r.task +
                                  ", seed " + std::to_string(r.train_seed) + ", epoch " + std::to_string(r.epoch));
    }
    cell[r.epoch] = {RowMetric(r), r.episodes};
  }
  for (const auto& e : expected) {
    if (e.table == name) grid[{MethodRank(e.method), e.method, e.epochs, -e.nfe}];
  }
  for (const auto& [key, per_task] : grid) {
    TableLine line;
    line.method = std::get<1>(key);
    line.epochs = std::get<2>(key);
    line.nfe = -std::get<3>(key);
    for (const auto& preset : ColumnPresets(tasks)) line.avgs.push_back({preset});
    auto avg_of = [&](const std::string& column) -> TableAvg& {
      return *std::find_if(line.avgs.begin(), line.avgs.end(),
                           [&](const TableAvg& a) { return a.preset == ColumnPreset(column); });
    };
    for (const auto& task : tasks) {
      TableAvg& avg = avg_of(task);
      ++avg.columns;
      TableCell c;
      const auto it = per_task.find(task);
      if (it != per_task.end()) {
        std::vector<double> values;
        c.episodes = -1;
        for (const auto& [seed, by_epoch] : it->second) {
          double v = by_epoch.rbegin()->second.first;  // final checkpoint
          int eps = by_epoch.rbegin()->second.second;
          if (reduce == Reduce::kPeak) {
            for (const auto& [epoch, m] : by_epoch) {
              if (m.first > v) {
                v = m.first;
                eps = m.second;
              }
            }
          }
          values.push_back(v);
          c.episodes = c.episodes < 0 ? eps : std::min(c.episodes, eps);
        }
        c.present = true;
        c.seeds = static_cast<int>(values.size());
        for (double v : values) c.mean += v / values.size();
        for (double v : values) c.std += (v - c.mean) * (v - c.mean) / values.size();
        c.std = std::sqrt(c.std);
        if (c.seeds == 1) std::tie(c.ci_low, c.ci_high) = WilsonInterval(c.mean, c.episodes);
        avg.value += c.mean;
        ++avg.tasks;
      }
      line.cells.push_back(c);
    }
    for (TableAvg& a : line.avgs) {
      if (a.present()) a.value /= a.tasks;
    }
    t.lines.push_back(line);
  }
  return t;
}

std::string ColumnKey(const std::string& task, const std::string& preset) { return task + "@" + preset; }

std::string ColumnTask(const std::string& key) { return key.substr(0, key.find('@')); }

std::string ColumnPreset(const std::string& key) {
  const size_t at = key.find('@');
  return at == std::string::npos ? "" : key.substr(at + 1);
}

std::string TaskColumnName(const std::string& key) {
  const std::string task = ColumnTask(key), preset = ColumnPreset(key);
  const TaskEntry* entry = FindTaskOrNull(task);
  const std::string name = entry ? entry->info.display_name : task;
  return preset.empty() ? name : name + " (" + preset + ")";
}

std::string TableMarkdown(const PaperTable& t) {
  std::ostringstream o;
  o << "| Method | Epochs | NFE |";
  for (const auto& task : t.tasks) o << ' ' << TaskColumnName(task) << " |";
  const std::vector<std::string> presets = ColumnPresets(t.tasks);
  for (const auto& p : presets) o << (p.empty() ? " Avg |" : " Avg (" + p + ") |");
  o << "\n|---|---|---|";
  for (size_t i = 0; i < t.tasks.size() + presets.size(); ++i) o << "---|";
  o << "\n";
  for (const auto& l : t.lines) {
    o << "| " << l.method << " | " << l.epochs << " | " << l.nfe << " |";
    for (const auto& c : l.cells) o << ' ' << CellText(c) << " |";
    for (const auto& a : l.avgs) o << ' ' << AvgText(a) << " |";
    o << "\n";
  }
  o << "\n" << (t.reduce == Reduce::kPeak ? "Peak over evaluated checkpoints" : "Final checkpoint")
    << "; one training seed: the rate and its 95 % Wilson interval over episodes; several: mean +- std over"
       " seeds (n); Avg over the tasks present"
    << (presets.size() > 1 ? ", per preset" : "") << " (seeds x episodes per cell:";
  bool first = true;
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    std::set<std::pair<int, int>> shapes;
    for (const auto& l : t.lines) {
      if (l.cells[i].present) shapes.insert({l.cells[i].seeds, l.cells[i].episodes});
    }
    if (shapes.empty()) continue;
    o << (first ? " " : "; ") << TaskColumnName(t.tasks[i]) << ' ';
    bool f2 = true;
    for (const auto& [s, e] : shapes) {
      o << (f2 ? "" : "/") << s << "x" << e;
      f2 = false;
    }
    first = false;
  }
  o << "). " << MetricNote() << ".\n";
  return o.str();
}

std::string TableCsv(const PaperTable& t) {
  std::ostringstream o;
  o << "method,epochs,nfe";
  for (const auto& task : t.tasks) {
    o << ',' << task << "_mean," << task << "_std," << task << "_seeds," << task << "_ci_low," << task << "_ci_high";
  }
  for (const auto& p : ColumnPresets(t.tasks)) {
    const std::string suffix = p.empty() ? "" : "@" + p;
    o << ",avg" << suffix << ",avg_tasks" << suffix;
  }
  o << "\n";
  for (const auto& l : t.lines) {
    o << l.method << ',' << l.epochs << ',' << l.nfe;
    for (const auto& c : l.cells) {
      if (c.present) {
        o << ',' << Fixed(c.mean, 4) << ',' << Fixed(c.std, 4) << ',' << c.seeds << ',' << Fixed(c.ci_low, 4) << ','
          << Fixed(c.ci_high, 4);
      } else {
        o << ",,,0,,";
      }
    }
    for (const auto& a : l.avgs) o << ',' << (a.present() ? Fixed(a.value, 4) : "") << ',' << a.tasks;
    o << "\n";
  }
  return o.str();
}

std::pair<double, double> WilsonInterval(double p, int n) {
  if (n <= 0) return {0.0, 1.0};
  const double z = 1.96, z2 = z * z, nn = static_cast<double>(n);
  const double d = 1 + z2 / nn;
  const double c = (p + z2 / (2 * nn)) / d;
  const double h = z * std::sqrt(std::max(0.0, p * (1 - p) / nn + z2 / (4 * nn * nn))) / d;
  return {std::max(0.0, c - h), std::min(1.0, c + h)};
}

std::string DefaultPublishedTablesPath() { return std::string(BENCH_DOCS_DIR) + "/paper.md"; }

std::vector<PublishedLine> ReadPublishedTables(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("cannot read the paper's tables from " + path);
  std::vector<PublishedLine> out;
  std::string table;
  std::vector<std::string> columns;
  const auto cells = [](const std::string& line) {
    std::vector<std::string> v;
    std::stringstream ss(line.substr(1));
    std::string c;
    while (std::getline(ss, c, '|')) {
      const size_t a = c.find_first_not_of(' '), b = c.find_last_not_of(' ');
      v.push_back(a == std::string::npos ? "" : c.substr(a, b - a + 1));
    }
    return v;
  };
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("## ", 0) == 0) {
      table = line.rfind("## Table 1", 0) == 0 ? "table1" : line.rfind("## Table 2", 0) == 0 ? "table2" : "";
      columns.clear();
      continue;
    }
    if (table.empty() || line.rfind("| ", 0) != 0) continue;
    const std::vector<std::string> v = cells(line);
    if (v.size() < 4) continue;
    if (v[0] == "Method") {
      columns = v;
      continue;
    }
    if (columns.size() != v.size()) continue;
    PublishedLine l;
    l.table = table;
    l.method = v[0];
    try {
      l.epochs = std::stoi(v[1]);
      l.nfe = std::stoi(v[2]);
      for (size_t i = 3; i < v.size(); ++i) {
        if (columns[i] != "Avg") l.by_column[columns[i]] = std::stod(v[i]);
      }
    } catch (const std::logic_error&) {
      throw std::invalid_argument(path + ": malformed table row '" + line + "'");
    }
    out.push_back(l);
  }
  if (out.empty()) throw std::invalid_argument(path + " holds no '## Table 1' / '## Table 2' rows");
  return out;
}

std::string ComparisonMarkdown(const PaperTable& t, const std::vector<PublishedLine>& paper) {
  // (method, nfe) -> lines in descending epochs, ours and the paper's; paired by position.
  std::map<std::pair<std::string, int>, std::vector<const TableLine*>> ours_by;
  std::map<std::pair<std::string, int>, std::vector<const PublishedLine*>> paper_by;
  for (const auto& l : t.lines) ours_by[{l.method, l.nfe}].push_back(&l);
  for (const auto& p : paper) {
    if (p.table == t.name) paper_by[{p.method, p.nfe}].push_back(&p);
  }
  for (auto& [k, v] : ours_by) std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->epochs > b->epochs; });
  for (auto& [k, v] : paper_by) std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->epochs > b->epochs; });
  std::ostringstream o;
  o << "| Method | Epochs (ours / paper) | NFE |";
  for (const auto& task : t.tasks) o << ' ' << TaskColumnName(task) << " |";
  o << "\n|---|---|---|";
  for (size_t i = 0; i < t.tasks.size(); ++i) o << "---|";
  o << "\n";
  for (const auto& l : t.lines) {
    const auto& mine = ours_by.at({l.method, l.nfe});
    const size_t rank = static_cast<size_t>(std::find(mine.begin(), mine.end(), &l) - mine.begin());
    const auto it = paper_by.find({l.method, l.nfe});
    const PublishedLine* p = it != paper_by.end() && rank < it->second.size() ? it->second[rank] : nullptr;
    o << "| " << l.method << " | " << l.epochs << " / " << (p ? std::to_string(p->epochs) : "-") << " | " << l.nfe
      << " |";
    for (size_t i = 0; i < t.tasks.size(); ++i) {
      const TableCell& c = l.cells[i];
      const auto v = p ? p->by_column.find(TaskColumnName(ColumnTask(t.tasks[i]))) : std::map<std::string, double>::const_iterator();
      const bool has_paper = p && v != p->by_column.end();
      std::string cell = c.present ? Fixed(c.mean, 3) : "-";
      if (has_paper) {
        cell += " / " + Fixed(v->second, 3);
        if (c.present) cell += " (" + std::string(c.mean >= v->second ? "+" : "") + Fixed(c.mean - v->second, 3) + ")";
      }
      o << ' ' << cell << " |";
    }
    o << "\n";
  }
  o << "\nOurs / the paper's (ours - paper); " << (t.reduce == Reduce::kPeak ? "peak" : "final")
    << " values. Lines of a method and NFE are paired from the longest schedule down.\n";
  return o.str();
}

}  // namespace onedp
