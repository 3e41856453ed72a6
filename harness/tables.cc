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

// The paper's row order.
int MethodRank(const std::string& m) {
  static const std::vector<std::string> order = {"DP (DDPM)", "DP (DDIM)", "DP (EDM)", "CP", "OneDP-D", "OneDP-S"};
  const auto it = std::find(order.begin(), order.end(), m);
  return static_cast<int>(it - order.begin());
}

std::string CellText(const TableCell& c) {
  if (!c.present) return "-";
  return Fixed(c.mean, 3) + " +- " + Fixed(c.std, 3);
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

double RowMetric(const EvalRow& row) { return row.task == "pusht" ? row.score : row.success; }

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
    double sum = 0;
    for (const auto& task : tasks) {
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
        sum += c.mean;
      }
      line.cells.push_back(c);
    }
    line.has_avg = std::all_of(line.cells.begin(), line.cells.end(), [](const TableCell& c) { return c.present; });
    if (line.has_avg && !tasks.empty()) line.avg = sum / tasks.size();
    t.lines.push_back(line);
  }
  return t;
}

std::string TaskColumnName(const std::string& task) {
  static const std::map<std::string, std::string> base = {
      {"pusht", "PushT"}, {"lift", "Lift"}, {"can", "Can"}, {"square", "Square"}, {"tool-hang", "ToolHang"},
      {"transport", "Transport"}};
  if (const auto it = base.find(task); it != base.end()) return it->second;
  const size_t dash = task.rfind('-');
  if (dash != std::string::npos) {
    if (const auto it = base.find(task.substr(0, dash)); it != base.end()) return it->second + task.substr(dash);
  }
  return task;
}

std::string TableMarkdown(const PaperTable& t) {
  std::ostringstream o;
  o << "| Method | Epochs | NFE |";
  for (const auto& task : t.tasks) o << ' ' << TaskColumnName(task) << " |";
  o << " Avg |\n|---|---|---|";
  for (size_t i = 0; i <= t.tasks.size(); ++i) o << "---|";
  o << "\n";
  for (const auto& l : t.lines) {
    o << "| " << l.method << " | " << l.epochs << " | " << l.nfe << " |";
    for (const auto& c : l.cells) o << ' ' << CellText(c) << " |";
    o << ' ' << (l.has_avg ? Fixed(l.avg, 3) : "-") << " |\n";
  }
  o << "\n" << (t.reduce == Reduce::kPeak ? "Peak over evaluated checkpoints" : "Final checkpoint")
    << "; mean +- std over training seeds (seeds x episodes per cell:";
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
  o << "). PushT: score (max coverage reward); others: success rate.\n";
  return o.str();
}

std::string TableCsv(const PaperTable& t) {
  std::ostringstream o;
  o << "method,epochs,nfe";
  for (const auto& task : t.tasks) o << ',' << task << "_mean," << task << "_std," << task << "_seeds";
  o << ",avg\n";
  for (const auto& l : t.lines) {
    o << l.method << ',' << l.epochs << ',' << l.nfe;
    for (const auto& c : l.cells) {
      if (c.present) {
        o << ',' << Fixed(c.mean, 4) << ',' << Fixed(c.std, 4) << ',' << c.seeds;
      } else {
        o << ",,,0";
      }
    }
    o << ',' << (l.has_avg ? Fixed(l.avg, 4) : "") << "\n";
  }
  return o.str();
}

}  // namespace onedp
