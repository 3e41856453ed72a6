#include "harness/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace onedp {

Progress::Progress(std::string label, int64_t total, std::ostream* out)
    : label_(std::move(label)), total_(total), out_(out ? out : &std::cerr),
      tty_(out == nullptr && isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()),
      last_print_(start_ - std::chrono::hours(1)) {}

std::string Progress::FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(std::llround(s));
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", static_cast<long long>(t / 60),
                  static_cast<long long>(t % 60));
  }
  return buf;
}

void Progress::Update(int64_t done, const std::string& note) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (tty_ ? 0.2 : 5.0) && done < total_) return;
  last_print_ = now;
  Print(done, note, false);
}

void Progress::Rebase(int64_t done) {
  base_ = done;
  start_ = std::chrono::steady_clock::now();
}

void Progress::Finish(const std::string& note) { Print(total_, note, true); }

void Progress::Print(int64_t done, const std::string& note, bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? static_cast<double>(done) / total_ : 1.0;
  const double rate = elapsed > 0 ? (done - base_) / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done) / rate : NAN;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::ostringstream os;
  os << label_ << " [" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
     << done << "/" << total_ << " " << static_cast<int>(frac * 100) << "% ";
  char r[32];
  std::snprintf(r, sizeof(r), "%.2f/s", rate);
  os << r << " elapsed " << FormatDuration(elapsed);
  if (!final) os << " ETA " << FormatDuration(eta);
  if (!note.empty()) os << " | " << note;
  if (tty_) {
    *out_ << "\r" << os.str() << "\033[K" << (final ? "\n" : "") << std::flush;
  } else {
    *out_ << os.str() << "\n" << std::flush;
  }
}

}  // namespace onedp
