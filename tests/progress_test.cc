// The progress line (harness/progress.h): its count, rate and ETA, and a resumed job's rate counted
// from the units this process does, not the ones a checkpoint already held.
#include <chrono>
#include <cmath>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "harness/progress.h"

namespace onedp {
namespace {

// The "<rate>/s" number of a progress line.
double Rate(const std::string& line) {
  const size_t end = line.find("/s ");
  const size_t begin = line.rfind(' ', end);
  return std::stod(line.substr(begin + 1, end - begin - 1));
}

// The ETA of a progress line in seconds ("m:ss" or "h:mm:ss").
double Eta(const std::string& line) {
  std::string t = line.substr(line.find(" ETA ") + 5);
  t = t.substr(0, t.find_first_of(" \n"));
  double s = 0;
  std::stringstream parts(t);
  std::string part;
  while (std::getline(parts, part, ':')) s = 60 * s + std::stod(part);
  return s;
}

TEST(Progress, ResumedJobCountsItsRateFromItsOwnUnits) {
  // A training loop resumed at step 858 of 1430 (Rebase before its first step), then one step that
  // takes at least `step` here: the line shows the absolute count, and a rate of at most one step
  // per `step` (not 859 steps in no time).
  const auto step = std::chrono::milliseconds(20);
  std::ostringstream out;
  Progress p("train", 1430, &out);
  p.Rebase(858);
  std::this_thread::sleep_for(step);
  p.Update(859);
  const std::string line = out.str();
  EXPECT_NE(line.find("859/1430 60% "), std::string::npos) << line;
  const double max_rate = 1.0 / std::chrono::duration<double>(step).count();
  EXPECT_GT(Rate(line), 0) << line;
  EXPECT_LE(Rate(line), max_rate) << line;
  // The 571 steps left at that rate (rounded to whole seconds).
  EXPECT_GE(Eta(line), std::floor((1430 - 859) / max_rate)) << line;
}

TEST(Progress, FreshJobAndFinish) {
  std::ostringstream out;
  Progress p("eval", 4, &out);
  p.Update(1);
  p.Finish("done");
  const std::string text = out.str();
  EXPECT_NE(text.find("1/4 25% "), std::string::npos) << text;
  EXPECT_NE(text.find("4/4 100% "), std::string::npos) << text;
  EXPECT_NE(text.find("| done"), std::string::npos) << text;
  EXPECT_EQ(Progress::FormatDuration(3723), "1:02:03");
  EXPECT_EQ(Progress::FormatDuration(123), "2:03");
}

}  // namespace
}  // namespace onedp
