// `harness bench sim`'s action sources: random actions stay within the task's bounds and follow
// the seed; both sources run a task and report the env's rate apart from the time choosing actions.
#include "harness/bench_sim.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "sim/rng.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

TEST(BenchSim, RandomActionsStayWithinTheBoundsAndFollowTheSeed) {
  for (const char* name : {"pusht", "lift-ph"}) {
    const TaskSpec spec = MakeTask(name)->spec();
    Rng a(7), b(7), c(8);
    double lowest = 1e300, highest = -1e300;
    for (int i = 0; i < 500; ++i) {
      const std::vector<double> x = RandomAction(spec, a);
      ASSERT_EQ(static_cast<int>(x.size()), spec.action_dim) << name;
      EXPECT_EQ(x, RandomAction(spec, b)) << name;
      EXPECT_NE(x, RandomAction(spec, c)) << name;
      for (int d = 0; d < spec.action_dim; ++d) {
        const double lo = spec.action_low.empty() ? -1.0 : spec.action_low[d];
        const double hi = spec.action_high.empty() ? 1.0 : spec.action_high[d];
        EXPECT_GE(x[d], lo) << name;
        EXPECT_LT(x[d], hi) << name;
        lowest = std::min(lowest, (x[d] - lo) / (hi - lo));
        highest = std::max(highest, (x[d] - lo) / (hi - lo));
      }
    }
    // The draws span the box, not a corner of it.
    EXPECT_LT(lowest, 0.01) << name;
    EXPECT_GT(highest, 0.99) << name;
  }
}

TEST(BenchSim, BothActionSourcesRunAndTimeTheEnvApart) {
  const std::string json = (std::filesystem::temp_directory_path() / "bench_sim_test.json").string();
  for (const char* actions : {"random", "expert"}) {
    BenchSimOptions o;
    o.task = "pusht";
    o.steps = 20;
    o.actions = actions;
    o.json = json;
    std::ostringstream out;
    const nlohmann::json r = BenchSim(o, out);
    EXPECT_EQ(r.at("actions"), actions);
    for (const char* config : {"no_render", "render"}) {
      const auto& m = r.at(config);
      EXPECT_GT(m.at("steps_per_s").get<double>(), 0) << actions << " " << config;
      EXPECT_GE(m.at("env_steps_per_s").get<double>(), m.at("steps_per_s").get<double>());
      EXPECT_GE(m.at("actions_s").get<double>(), 0);
      EXPECT_LT(m.at("actions_s").get<double>(), m.at("seconds").get<double>());
    }
    EXPECT_GT(r.at("render").at("frames").get<int64_t>(), 0);
    std::ifstream f(json);
    EXPECT_EQ(nlohmann::json::parse(f), r);
  }
  std::filesystem::remove(json);
}

TEST(BenchSim, RefusesAnUnknownActionSource) {
  BenchSimOptions o;
  o.task = "pusht";
  o.steps = 1;
  o.actions = "zero";
  std::ostringstream out;
  EXPECT_THROW(BenchSim(o, out), std::invalid_argument);
}

}  // namespace
}  // namespace onedp
