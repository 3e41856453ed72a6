// What the pipeline's files (plan, run, adopt, merge) share: item markers, loop options, versions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/pipeline.h"
#include "harness/policy_jobs.h"

namespace onedp {
namespace pipeline_internal {

std::string Join(const std::vector<std::string>& v, const std::string& sep);
std::string StageName(Stage s);
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

}  // namespace pipeline_internal
}  // namespace onedp
