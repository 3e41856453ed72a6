// What the pipeline's files (plan, run, adopt, merge) share: item markers, loop options, versions.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/pipeline.h"
#include "harness/policy_jobs.h"

namespace onedp {

class Policy;
struct RolloutOptions;
struct RolloutReport;

namespace pipeline_internal {

std::string Join(const std::vector<std::string>& v, const std::string& sep);
// `v` with `digits` digits after the point.
std::string Fixed(double v, int digits);
// A per-episode CSV (WriteRolloutCsv's columns, RFC 4180 quotes: it quotes errors and details): its
// header and its rows, each a map from column to cell.
struct EpisodeCsv {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  bool Has(const std::string& column) const;
};
// Throws std::runtime_error when the file cannot be read or a line has fewer cells than the header.
EpisodeCsv ReadEpisodeCsv(const std::string& path);
// The rows of a CSV file whose cells hold no commas (the merge's own files), each a map from column
// name to cell, columns by header (so files written before a column was added still read); none
// when the file is missing or empty.
std::vector<std::map<std::string, std::string>> CsvRowsByHeader(const std::string& path);
std::string StageName(Stage s);
// The run a train / distill item is, or an eval / dynamic item evaluates, named as its directory
// without the key ("dp-edm-seed0"); "" for the collect item.
std::string RunNameOf(const RunPlan& plan, const WorkItem& item);
// The file whose presence (holding the item's key) marks `item` done.
std::string DoneMarker(const WorkItem& item);
// RunVersions() plus the torch version.
nlohmann::json AllVersions();
// Final epoch and summed per-epoch seconds of a run directory's latest checkpoint.
RunProgress ReadRunProgress(const std::string& run_dir);

// Writes `item`'s done marker: `extra` plus its key and label.
void MarkDone(const WorkItem& item, nlohmann::json extra);
// The options a train / distill item runs with (what `harness train` / `harness distill` get).
TrainOptions TrainItemOptions(const RunPlan& plan, const WorkItem& item);
DistillOptions DistillItemOptions(const RunPlan& plan, const WorkItem& item);

// The rollout options of an eval or dynamic item's block of test episodes (seeds, batch, workers,
// horizon, sampler), after checking that `policy`'s NFE for the item's sampler is the one the tables
// assume; returns that NFE.
int EvalBlockOptions(const RunPlan& plan, const WorkItem& item, const Policy& policy, RolloutOptions* ro);

// An eval or dynamic item of `stage` for the block [start, start + count) of test episodes of the run
// plan.items[run_i] and `sampler`: its policy, seed, source, dependency, table and method filled in.
WorkItem EvalBlockItem(const RunPlan& plan, int run_i, const std::string& sampler, int start, int count,
                       Stage stage);
// The done-marker fields an eval or dynamic item records for its rollouts `r` (run with `ro` since
// the wall and process CPU times t0, cpu0).
nlohmann::json EvalBlockMarker(const RunPlan& plan, const WorkItem& item, int nfe, const RolloutOptions& ro,
                               const RolloutReport& r, double t0, double cpu0);

// Whether a train / distill item's run directory is on this machine (a fresh machine has only the
// committed results of earlier merges).
bool RunHere(const WorkItem& item);
// The train / distill items whose run directory is not on this machine, by key (-> item index): their
// rows in a previous merge's files are kept.
std::map<std::string, int> AbsentRuns(const RunPlan& plan);
// A gnuplot PNG (written to a temporary name and renamed) of `series` (name -> x -> y, y in [0, 1]),
// one line each; false (and a warning on `log`) when gnuplot fails or there is nothing to plot.
bool PlotLines(const std::map<std::string, std::map<double, double>>& series, const std::string& title,
               const std::string& xlabel, const std::string& ylabel, const std::string& key, const std::string& png,
               std::ostream& log);

// cost.{md,csv} under plan.results (pipeline_merge.cc): per train / distill run its optimiser steps'
// wall and CPU time (distillations as a share of the teacher's), its in-training evaluations, its eval
// and dynamic blocks and its core-hours, then the task's total row and a note of what each column
// counts; runs not on this machine keep the previous merge's row. Returns the Markdown.
std::string WriteCost(const RunPlan& plan);

// The dynamic stage (pipeline_dynamic.cc). Appends the dynamic items of `runs` (train / distill
// item indices) to the plan: nothing when the preset has no `dynamic` section.
void PlanDynamic(RunPlan* plan, const std::vector<int>& runs, int recipe);
// Runs one dynamic item and writes its per-episode CSV and done marker.
void RunDynamicItem(const RunPlan& plan, const WorkItem& item, std::ostream& log);
// dynamic.{md,csv,png} under plan.results from the done dynamic items (and the previous merge's rows
// of runs not on this machine); returns the Markdown ("" when the plan has no dynamic stage).
std::string WriteDynamic(const RunPlan& plan, std::ostream& log);

// milestones.{md,csv} under plan.results (pipeline_milestones.cc), for a task that declares sub-goals
// (TaskInfo::milestones): per run x sampler of the eval stage, how many of its test episodes reached
// each sub-goal, with the 95 % Wilson interval; rows of runs not on this machine come from the
// previous merge. Returns the Markdown ("" when the task declares none).
std::string WriteMilestones(const RunPlan& plan, std::ostream& log);

}  // namespace pipeline_internal
}  // namespace onedp
