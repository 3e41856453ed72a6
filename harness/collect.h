// `harness collect`: scripted-expert demonstrations in the robomimic HDF5 schema.
//
// Attempt k (k = 0, 1, ...) resets the task with seed `seed + k` and is driven by operator
// ops[k % ops.size()] (PH: one operator; MH: six). An attempt is kept if the task succeeds within
// its horizon with no episode error; each operator keeps its first quota of successes in k order,
// so the file is the same for any number of worker threads. Demos end at the first successful
// step (done = 1 there).
//
// Resumable collection. The file is written as `<out>.tmp` (DatasetWriter::Mode::kKeep) and renamed
// to `<out>` when complete. After each kept demo is written, the writer stores a checkpoint in the
// .tmp and flushes and fsyncs it before anything else happens, so a killed or interrupted collect
// leaves a .tmp whose demos up to the last checkpoint are complete. The checkpoint's state (JSON,
// format 1) holds:
//   options    what determines the file's content: task, seed, episodes (resolved: the default 0
//              is stored as 200 / 300), images, valid_ratio, max_attempts (as given, 0 = 10 x
//              episodes). Not workers (the file is the same for any count) nor overwrite.
//   progress   next_attempt (the attempt index after the last kept demo), attempts, rejected,
//              reject_reasons, kept_per_operator, attempts_per_operator (counted as in the file's
//              env_args) and demo_operators (the operator index of each demo, for the MH masks).
//   versions   RunVersions() of the build that wrote the last demo.
// Rerunning the same command finds `<out>.tmp` and:
//   - resumes when the checkpoint matches the file (DatasetWriter::ReadCheckpoint: every demo it
//     counts is there with its num_samples, the sample total matches, Finish had not begun) and
//     its progress is self-consistent, and the options are the same: it prints "resuming from N
//     demos (M attempts)", unlinks a demo cut off after the checkpoint (a kill mid-demo), restores
//     the counters and continues at next_attempt with the same per-attempt seeds. Demos already
//     written are not recomputed, and the finished file equals an uninterrupted run's (same demos,
//     data, masks and attributes; the checkpoint attribute is removed by Finish). A different build
//     (versions) only warns: the seeds are the same but the physics may not be.
//   - refuses with std::invalid_argument (exit 2) when an option differs, naming each differing
//     option with its value in the .tmp and in this command, and telling the user to pass the same
//     options or delete the .tmp. --overwrite does not discard it (it is valid work of another
//     configuration): the user deletes it.
//   - when the .tmp cannot be read or its bookkeeping is inconsistent: without --overwrite, throws
//     std::runtime_error (exit 1) saying why and that --overwrite starts over; with --overwrite,
//     says so on stderr and starts over (the .tmp is replaced). A .tmp from before this scheme (no
//     checkpoint) counts as unreadable.
//   - when the .tmp holds a checkpoint of 0 demos (killed before the first demo was written):
//     starts over, whatever its options (there is nothing to lose).
// --overwrite with a resumable .tmp of the same options resumes (the result is the same as starting
// over). An existing `<out>` without --overwrite is refused before the .tmp is looked at. Errors
// and interrupts keep the .tmp once it holds a demo (before that there is nothing to resume). Hidden test hook: ONEDP_COLLECT_STOP_AFTER=K kills the process
// (SIGKILL) right after the K-th demo of the file is durably written, as an external kill would.
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
  bool overwrite = false;     // replace <out>; start over when <out>.tmp cannot be resumed
  bool images = true;
  int workers = 0;            // 0: one per hardware thread
  double valid_ratio = 0.1;   // mask/valid share (robomimic split_train_val --ratio 0.1)
  int max_attempts = 0;       // 0: 10 x episodes; collect fails if it cannot fill the quota
};

struct CollectReport {
  int resumed_demos = 0;     // demos found in <out>.tmp and kept (0: started from scratch)
  int resumed_attempts = 0;  // attempts those had counted
  int kept = 0;
  int attempts = 0;  // attempts examined in k order (kept + rejected)
  int rejected = 0;
  std::map<std::string, int> reject_reasons;
  std::map<std::string, int> kept_per_operator;
  std::map<std::string, int> attempts_per_operator;  // counted attempts (kept + rejected) per operator
  double seconds = 0;
  int64_t samples = 0;
};

// Throws std::invalid_argument for bad options (including options that differ from a resumable
// <out>.tmp) and std::runtime_error for I/O problems (the output file is then not created; a .tmp
// with the demos written so far is kept for a rerun to resume). Progress goes to stderr.
CollectReport Collect(const CollectOptions& options);

// Set by SIGINT/SIGTERM handlers: long jobs stop cleanly, leaving no partial output under their
// final names (collect keeps <out>.tmp to resume).
void RequestStop();
bool StopRequested();

}  // namespace onedp
