// A progress line with rate and ETA for long jobs, on stderr. On a terminal it redraws in place;
// otherwise (CI logs, files) it prints a line at most every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace onedp {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::ostream* out = nullptr);
  // Reports `done` of `total` finished; `note` is appended (e.g. "rejected 3").
  void Update(int64_t done, const std::string& note = "");
  void Finish(const std::string& note = "");
  // A resumed job: `done` units were finished before now; rate and ETA count only what follows.
  void Rebase(int64_t done);

  static std::string FormatDuration(double seconds);  // "1:02:03" / "2:03"

 private:
  void Print(int64_t done, const std::string& note, bool final);

  std::string label_;
  int64_t total_;
  std::ostream* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int64_t base_ = 0;  // rate and ETA count from here (Rebase)
};

}  // namespace onedp
