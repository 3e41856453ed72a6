// `harness collect`: scripted-expert demonstrations in the robomimic HDF5 schema.
//
// Attempt k (k = 0, 1, ...) resets the task with seed `seed + k` and is driven by operator
// ops[k % ops.size()] (PH: one operator; MH: six). An attempt is kept if the task succeeds within
// its horizon with no episode error; each operator keeps its first quota of successes in k order,
// so the file is the same for any number of worker threads. Demos end at the first successful
// step (done = 1 there).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>

namespace onedp {

struct CollectOptions {
  std::string task;
  int episodes = 0;           // 0: the variant's robomimic size (ph 200, mh 300)
  uint64_t seed = 0;
  std::string out;
  bool overwrite = false;
  bool images = true;
  int workers = 0;            // 0: one per hardware thread
  double valid_ratio = 0.1;   // mask/valid share (robomimic split_train_val --ratio 0.1)
  int max_attempts = 0;       // 0: 10 x episodes; collect fails if it cannot fill the quota
};

struct CollectReport {
  int kept = 0;
  int attempts = 0;  // attempts examined in k order (kept + rejected)
  int rejected = 0;
  std::map<std::string, int> reject_reasons;
  std::map<std::string, int> kept_per_operator;
  std::map<std::string, int> attempts_per_operator;  // counted attempts (kept + rejected) per operator
  double seconds = 0;
  int64_t samples = 0;
};

// Throws std::invalid_argument for bad options and std::runtime_error for I/O problems (the
// output file is then not created). Progress goes to stderr.
CollectReport Collect(const CollectOptions& options);

// Set by SIGINT/SIGTERM handlers: long jobs stop cleanly, leaving no partial output.
void RequestStop();
bool StopRequested();

}  // namespace onedp
