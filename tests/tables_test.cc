// Table assembly from fixture evaluation rows: peak vs final, mean +- std over seeds, the Wilson
// interval of one-seed cells, missing cells, the Avg column over the tasks present, the paper's
// tables read from docs/paper.md and set beside ours, the CSV round trip and bad input.
#include "harness/tables.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace onedp {
namespace {

EvalRow Row(const std::string& task, const std::string& method, int nfe, uint64_t seed, int epoch, double v) {
  EvalRow r;
  r.task = task;
  r.table = "table1";
  r.method = method;
  r.epochs = method.rfind("OneDP", 0) == 0 ? 20 : 50;
  r.nfe = nfe;
  r.sampler = nfe == 1 ? "onestep" : "ddpm:100";
  r.train_seed = seed;
  r.epoch = epoch;
  r.episodes = 50;
  r.success = task == "pusht" ? 0.0 : v;  // PushT reads the score, others the success
  r.score = task == "pusht" ? v : 0.0;
  r.config_hash = "abc";
  r.git_commit = "deadbeef";
  r.device = "cpu";
  r.versions = "mujoco 2.2.2; torch 1.13.0";
  return r;
}

std::vector<EvalRow> Fixture() {
  return {
      // DP on two tasks, two seeds, two checkpoints each.
      Row("pusht", "DP (DDPM)", 100, 0, 10, 0.60), Row("pusht", "DP (DDPM)", 100, 0, 20, 0.50),
      Row("pusht", "DP (DDPM)", 100, 1, 10, 0.70), Row("pusht", "DP (DDPM)", 100, 1, 20, 0.80),
      Row("square-ph", "DP (DDPM)", 100, 0, 10, 0.2), Row("square-ph", "DP (DDPM)", 100, 0, 20, 0.4),
      Row("square-ph", "DP (DDPM)", 100, 1, 10, 0.6), Row("square-ph", "DP (DDPM)", 100, 1, 20, 0.6),
      // OneDP-S only on PushT: its Square cell is missing.
      Row("pusht", "OneDP-S", 1, 0, 20, 0.75),
      // A row of another table and one of another task are ignored.
      [] {
        EvalRow r = Row("pusht", "CP", 1, 0, 20, 0.1);
        r.table = "table2";
        return r;
      }(),
      Row("lift-ph", "DP (DDPM)", 100, 0, 20, 1.0),
  };
}

TEST(TablesTest, PeakAndFinalMeanStdOverSeeds) {
  const std::vector<std::string> tasks = {"pusht", "square-ph"};
  const PaperTable peak = AssembleTable(Fixture(), "table1", tasks, Reduce::kPeak);
  ASSERT_EQ(peak.lines.size(), 2u);
  EXPECT_EQ(peak.lines[0].method, "DP (DDPM)");
  EXPECT_EQ(peak.lines[1].method, "OneDP-S");
  // PushT peak per seed: 0.60, 0.80 -> mean 0.70, population std 0.10.
  EXPECT_NEAR(peak.lines[0].cells[0].mean, 0.70, 1e-12);
  EXPECT_NEAR(peak.lines[0].cells[0].std, 0.10, 1e-12);
  EXPECT_EQ(peak.lines[0].cells[0].seeds, 2);
  // Square peak per seed: 0.4, 0.6 -> 0.5 +- 0.1.
  EXPECT_NEAR(peak.lines[0].cells[1].mean, 0.5, 1e-12);
  ASSERT_EQ(peak.lines[0].avgs.size(), 1u);
  EXPECT_TRUE(peak.lines[0].avgs[0].present());
  EXPECT_NEAR(peak.lines[0].avgs[0].value, 0.6, 1e-12);

  const PaperTable final = AssembleTable(Fixture(), "table1", tasks, Reduce::kFinal);
  // PushT final per seed: 0.50, 0.80 -> 0.65 +- 0.15.
  EXPECT_NEAR(final.lines[0].cells[0].mean, 0.65, 1e-12);
  EXPECT_NEAR(final.lines[0].cells[0].std, 0.15, 1e-12);
}

TEST(TablesTest, MissingCellsAndAvg) {
  const PaperTable t = AssembleTable(Fixture(), "table1", {"pusht", "square-ph"}, Reduce::kPeak);
  const TableLine& onedp = t.lines[1];
  EXPECT_TRUE(onedp.cells[0].present);
  EXPECT_FALSE(onedp.cells[1].present);
  // The Avg covers the one task present and says so.
  ASSERT_EQ(onedp.avgs.size(), 1u);
  EXPECT_TRUE(onedp.avgs[0].present());
  EXPECT_EQ(onedp.avgs[0].tasks, 1);
  EXPECT_EQ(onedp.avgs[0].columns, 2);
  const std::string md = TableMarkdown(t);
  // One training seed of 50 episodes: the rate and its 95 % Wilson interval, never "+- 0.000".
  EXPECT_NE(md.find("| OneDP-S | 20 | 1 | 0.750 [0.62, 0.85] | - | 0.750 (1/2) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| DP (DDPM) | 50 | 100 | 0.700 +- 0.100 (n=2) | 0.500 +- 0.100 (n=2) | 0.600 |"),
            std::string::npos) << md;
  EXPECT_EQ(md.find("+- 0.000"), std::string::npos) << md;
  EXPECT_NE(md.find("Square-ph"), std::string::npos);
  const std::string csv = TableCsv(t);
  EXPECT_NE(csv.find("OneDP-S,20,1,0.7500,0.0000,1,0.6151,0.8492,,,0,,,0.7500,1"), std::string::npos) << csv;
  // Every line has as many cells as the header names, each task's five under its own names.
  std::istringstream lines(csv);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("method,epochs,nfe,pusht_mean,pusht_std,pusht_seeds,pusht_ci_low,pusht_ci_high,", 0), 0u)
      << header;
  while (std::getline(lines, line)) EXPECT_EQ(SplitCsv(line).size(), SplitCsv(header).size()) << line;
  // A task nobody evaluated is a column of missing cells.
  const PaperTable wide = AssembleTable(Fixture(), "table1", {"pusht", "tool-hang-ph"}, Reduce::kPeak);
  EXPECT_FALSE(wide.lines[0].cells[1].present);
  EXPECT_NE(TableMarkdown(wide).find("ToolHang-ph"), std::string::npos);
  // A line the grid will evaluate but nobody has yet is shown with missing cells.
  const PaperTable ahead = AssembleTable(Fixture(), "table1", {"pusht"}, Reduce::kPeak,
                                         {{"table1", "DP (DDIM)", 50, 1}, {"table2", "CP", 20, 3}});
  EXPECT_NE(TableMarkdown(ahead).find("| DP (DDIM) | 50 | 1 | - | - |"), std::string::npos) << TableMarkdown(ahead);
  EXPECT_EQ(TableMarkdown(ahead).find("CP"), std::string::npos);
}

TEST(TablesTest, CsvRoundTripAndBadInput) {
  const auto dir = std::filesystem::temp_directory_path() / ("onedp_tables_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "evals.csv").string();
  const auto rows = Fixture();
  WriteEvalRows(rows, path);
  const auto back = ReadEvalRows(path);
  ASSERT_EQ(back.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(back[i].method, rows[i].method);
    EXPECT_EQ(back[i].train_seed, rows[i].train_seed);
    EXPECT_EQ(back[i].epoch, rows[i].epoch);
    EXPECT_DOUBLE_EQ(RowMetric(back[i]), RowMetric(rows[i]));
  }
  // Duplicate evaluations of one checkpoint are an error, not a silent overwrite.
  auto dup = rows;
  dup.push_back(rows[0]);
  EXPECT_THROW(AssembleTable(dup, "table1", {"pusht"}, Reduce::kPeak), std::invalid_argument);
  // Fields with commas are refused on write; a truncated line is refused on read.
  auto bad = rows;
  bad[0].method = "DP, DDPM";
  EXPECT_THROW(WriteEvalRows(bad, path), std::invalid_argument);
  {
    std::ofstream f(path, std::ios::app);
    f << "pusht,table1,DP (DDPM),50\n";
  }
  EXPECT_THROW(ReadEvalRows(path), std::invalid_argument);
  EXPECT_THROW(ReadEvalRows((dir / "missing.csv").string()), std::invalid_argument);
  std::filesystem::remove_all(dir);
}

TEST(TablesTest, WilsonIntervals) {
  const auto [lo, hi] = WilsonInterval(0.82, 50);
  EXPECT_NEAR(lo, 0.6920, 1e-4);
  EXPECT_NEAR(hi, 0.9023, 1e-4);
  EXPECT_EQ(WilsonInterval(0.0, 50).first, 0.0);  // all failures: [0, 0.071]
  EXPECT_NEAR(WilsonInterval(0.0, 50).second, 0.0713, 1e-4);
  EXPECT_EQ(WilsonInterval(1.0, 50).second, 1.0);
  EXPECT_EQ(WilsonInterval(0.5, 0), std::make_pair(0.0, 1.0));
}

// The committed docs/paper.md is the source of the paper's numbers; ours are set beside them with
// the schedules paired from the longest down (our CP 20 / 5 epochs with the paper's 450 / 20).
TEST(TablesTest, PaperTablesBesideOurs) {
  const std::vector<PublishedLine> paper = ReadPublishedTables(DefaultPublishedTablesPath());
  ASSERT_EQ(paper.size(), 13u);
  EXPECT_EQ(paper[0].table, "table1");
  EXPECT_EQ(paper[0].method, "DP (DDPM)");
  EXPECT_DOUBLE_EQ(paper[0].by_column.at("PushT"), 0.863);
  EXPECT_DOUBLE_EQ(paper.back().by_column.at("Transport-ph"), 0.910);
  const auto cp = [](int epochs, int nfe, double v) {
    EvalRow r = Row("pusht", "CP", nfe, 0, epochs, v);
    r.table = "table2";
    r.epochs = epochs;
    r.sampler = "cp:" + std::to_string(nfe);
    return r;
  };
  const std::vector<EvalRow> rows = {cp(5, 1, 0.39), cp(20, 1, 0.50), cp(20, 3, 0.76), cp(5, 3, 0.61)};
  const std::string md = ComparisonMarkdown(AssembleTable(rows, "table2", {"pusht", "square-ph"}, Reduce::kPeak), paper);
  EXPECT_NE(md.find("| CP | 5 / 20 | 1 | 0.390 / 0.595 (-0.205) | - / 0.238 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| CP | 20 / 450 | 1 | 0.500 / 0.828 (-0.328) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| CP | 20 / 450 | 3 | 0.760 / 0.839 (-0.079) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| CP | 5 / - | 3 | 0.610 | - |"), std::string::npos) << md;
  const auto missing = std::filesystem::temp_directory_path() / "no_such_paper.md";
  EXPECT_THROW(ReadPublishedTables(missing.string()), std::invalid_argument);
}

TEST(TablesTest, TaskColumnNames) {
  EXPECT_EQ(TaskColumnName("pusht"), "PushT");
  EXPECT_EQ(TaskColumnName("square-mh"), "Square-mh");
  EXPECT_EQ(TaskColumnName("tool-hang-ph"), "ToolHang-ph");
  EXPECT_EQ(TaskColumnName("transport-ph"), "Transport-ph");
  EXPECT_EQ(TaskColumnName("lift-mh"), "Lift-mh");
  EXPECT_EQ(TaskColumnName("can-ph"), "Can-ph");
  EXPECT_EQ(TaskColumnName("no-such-task"), "no-such-task");
  EXPECT_EQ(ColumnKey("pusht", "cpu-image"), "pusht@cpu-image");
  EXPECT_EQ(ColumnTask("pusht@cpu-image"), "pusht");
  EXPECT_EQ(ColumnTask("pusht"), "pusht");
  EXPECT_EQ(ColumnPreset("pusht@cpu-image"), "cpu-image");
  EXPECT_EQ(ColumnPreset("pusht"), "");
  EXPECT_EQ(TaskColumnName("pusht@cpu-image"), "PushT (cpu-image)");
}

// The metric comes from the task's facts: PushT's score, the success rate elsewhere.
TEST(TablesTest, RowMetricFollowsTheTask) {
  EvalRow r;
  r.success = 0.25;
  r.score = 0.75;
  r.task = "pusht";
  EXPECT_DOUBLE_EQ(RowMetric(r), 0.75);
  r.task = "square-ph";
  EXPECT_DOUBLE_EQ(RowMetric(r), 0.25);
  r.task = "no-such-task";
  EXPECT_DOUBLE_EQ(RowMetric(r), 0.25);
  const PaperTable t = AssembleTable({}, "table1", {"pusht"}, Reduce::kPeak, {{"table1", "CP", 5, 1}});
  EXPECT_NE(TableMarkdown(t).find("). PushT: score (max coverage reward); others: success rate.\n"), std::string::npos)
      << TableMarkdown(t);
}

}  // namespace
}  // namespace onedp
