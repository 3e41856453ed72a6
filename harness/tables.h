// The paper's tables from evaluation results: per-checkpoint evaluation rows in, Table 1 / Table 2
// shaped tables (methods x tasks, mean +- std over training seeds, an Avg column) out.
//
// Evaluation rows (evals.csv, one per method x sampler x training seed x evaluated checkpoint):
//   task,table,method,epochs,nfe,sampler,train_seed,epoch,episodes,start_seed,success,score,
//   config_hash,git_commit,device,versions
// `table` is "table1" (DDPM family) or "table2" (EDM family); `epochs` is the method's training
// length (the Epochs column), `epoch` the checkpoint the row evaluates.
//
// Per cell (method row x task): each training seed gives one number, either the peak over its
// evaluated checkpoints (the paper's protocol) or its final checkpoint's. With one training seed
// the cell shows that number and its 95 % Wilson interval over the episodes, "0.820 [0.69, 0.90]"
// (PushT's score is a mean of values in [0, 1], whose variance is at most p (1 - p), so the Wilson
// interval is conservative for it); with several, the mean and the population standard deviation
// (numpy's default) over the seeds and their count, "0.820 +- 0.031 (n=3)". The metric is the
// PushT score (max-over-episode coverage reward) for PushT and the success rate elsewhere. Avg is
// the mean of a row's present cells; when some tasks are missing it says how many it covers,
// "0.650 (2/6)"; missing cells print as "-".
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

namespace onedp {

struct EvalRow {
  std::string task;
  std::string table;   // table1 | table2
  std::string method;  // e.g. "DP (DDPM)", "OneDP-S"
  int epochs = 0;      // the method's training epochs (the table's Epochs column)
  int nfe = 0;
  std::string sampler;  // e.g. ddpm:100, onestep
  uint64_t train_seed = 0;
  int epoch = 0;  // the evaluated checkpoint
  int episodes = 0;
  uint64_t start_seed = 100000;
  double success = 0, score = 0;
  std::string config_hash, git_commit, device;
  std::string versions;  // library versions, e.g. "mujoco 2.2.2; torch 1.13.0" (no commas)
};

// Reads / writes evals.csv (written to a temporary name and renamed). Fields must not contain
// commas, quotes or newlines (checked on write). Throws std::invalid_argument on a malformed file,
// naming the line.
std::vector<EvalRow> ReadEvalRows(const std::string& path);
// The cells of one line of these files (no quoting: no cell holds a comma; a trailing comma is an
// empty last cell).
std::vector<std::string> SplitCsv(const std::string& line);
void WriteEvalRows(const std::vector<EvalRow>& rows, const std::string& path);

// The table's metric for a row: its task's (TaskInfo::metric of ColumnTask(row.task); PushT's score,
// the success rate elsewhere and for names the task registry does not know).
double RowMetric(const EvalRow& row);

enum class Reduce { kPeak, kFinal };

struct TableCell {
  bool present = false;
  double mean = 0, std = 0;
  double ci_low = 0, ci_high = 0;  // one seed: the 95 % Wilson interval over its episodes
  int seeds = 0;
  int episodes = 0;  // per seed (the smallest if they differ)
};

// The Avg of a line over the columns of one preset (the only one when the columns are plain tasks).
struct TableAvg {
  std::string preset;  // ColumnPreset of its columns
  int tasks = 0;       // cells it covers
  int columns = 0;     // columns of its preset
  double value = 0;    // the mean of the cells it covers
  bool present() const { return tasks > 0; }
};

struct TableLine {
  std::string method;
  int epochs = 0, nfe = 0;
  std::vector<TableCell> cells;  // one per task
  std::vector<TableAvg> avgs;    // one per preset of the columns (ColumnPreset), in column order
};

struct PaperTable {
  std::string name;                // table1 | table2
  std::vector<std::string> tasks;  // column order
  Reduce reduce = Reduce::kPeak;
  std::vector<TableLine> lines;
};

// A line a table shows even before any of its results exist (its cells are then missing).
struct ExpectedLine {
  std::string table, method;
  int epochs = 0, nfe = 0;
};

// Assembles table `name` over `tasks` from `rows` (rows of other tables or tasks are ignored).
// Lines are the (method, epochs, nfe) combinations present or `expected`, in the paper's method
// order (MethodRank, policies/policy_info.h), then by epochs ascending and NFE descending.
PaperTable AssembleTable(const std::vector<EvalRow>& rows, const std::string& name,
                         const std::vector<std::string>& tasks, Reduce reduce,
                         const std::vector<ExpectedLine>& expected = {});

std::string TableMarkdown(const PaperTable& table);
std::string TableCsv(const PaperTable& table);

// 95 % Wilson score interval of a rate p observed over n trials (z = 1.96); {0, 1} when n = 0.
std::pair<double, double> WilsonInterval(double p, int n);

// The paper's published tables (docs/paper.md, sections "## Table 1" and "## Table 2", Markdown
// rows "| Method | Epochs | NFE | <task columns> | Avg |").
struct PublishedLine {
  std::string table, method;  // table1 | table2
  int epochs = 0, nfe = 0;
  std::map<std::string, double> by_column;  // column name (TaskColumnName) -> value
};
// Throws std::invalid_argument when the file cannot be read or holds no table rows.
std::vector<PublishedLine> ReadPublishedTables(const std::string& markdown_path);
// docs/paper.md of the source tree this binary was built from.
std::string DefaultPublishedTablesPath();
// Our table beside the paper's: each cell "ours / paper (ours - paper)". Lines of one method and
// NFE are paired from the longest training schedule down (ours CP 20 / 5 epochs with the paper's
// CP 450 / 20), since the cpu preset shortens every schedule; a cell without a counterpart shows
// only ours.
std::string ComparisonMarkdown(const PaperTable& ours, const std::vector<PublishedLine>& paper);

// A table column is a task, or "task@preset" when one table puts several presets' results of a task
// side by side (harness table --preset cpu,cpu-image); EvalRow::task then holds that key.
std::string ColumnKey(const std::string& task, const std::string& preset);
// The task of a column key (the key without its "@preset"), and its preset ("" for a plain task).
std::string ColumnTask(const std::string& key);
std::string ColumnPreset(const std::string& key);

// Display name of a task column (TaskInfo::display_name: pusht -> PushT, square-ph -> Square-ph,
// tool-hang-ph -> ToolHang-ph; pusht@cpu-image -> PushT (cpu-image)); an unknown name as it is.
std::string TaskColumnName(const std::string& task);

}  // namespace onedp
