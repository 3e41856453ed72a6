// Every registered task: make, reset, 10 random actions, observe with rendering. Catches a task
// whose model, names, observation spec or cameras do not fit together.
#include <cmath>

#include <gtest/gtest.h>

#include "sim/rng.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

class TaskSmokeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TaskSmokeTest, ResetStepRender) {
  std::unique_ptr<Task> task = MakeTask(GetParam());
  const TaskSpec& spec = task->spec();
  EXPECT_EQ(spec.name, GetParam());
  ASSERT_GT(spec.action_dim, 0);
  ASSERT_GT(spec.max_steps, 0);
  task->Reset(11);
  Rng rng(11, 99);
  for (int t = 0; t < 10; ++t) {
    std::vector<double> a(spec.action_dim);
    for (int i = 0; i < spec.action_dim; ++i) {
      const double lo = spec.action_low.empty() ? -1.0 : spec.action_low[i];
      const double hi = spec.action_high.empty() ? 1.0 : spec.action_high[i];
      a[i] = rng.Uniform(lo, hi);
    }
    task->Step(a);
    ASSERT_TRUE(task->episode_error().empty()) << task->episode_error();
  }
  EXPECT_EQ(task->steps(), 10);
  const Outcome out = task->Evaluate();
  EXPECT_TRUE(std::isfinite(out.score));

  Observation obs;
  task->Observe(&obs, /*render=*/true);
  for (const FeatureSpec& f : spec.obs) {
    if (f.is_image) {
      ASSERT_TRUE(obs.images.count(f.key)) << f.key;
      const Image& img = obs.images.at(f.key);
      EXPECT_EQ(img.height, f.shape.at(0)) << f.key;
      EXPECT_EQ(img.width, f.shape.at(1)) << f.key;
      // not blank: some spread of intensities
      int lo = 255, hi = 0;
      for (size_t i = 0; i < img.pixels.size(); ++i) {
        lo = std::min<int>(lo, img.pixels[i]);
        hi = std::max<int>(hi, img.pixels[i]);
      }
      EXPECT_GT(hi - lo, 40) << f.key << " looks blank";
    } else {
      ASSERT_TRUE(obs.lowdim.count(f.key)) << f.key;
      EXPECT_EQ(static_cast<int>(obs.lowdim.at(f.key).size()), f.shape.at(0)) << f.key;
      for (double v : obs.lowdim.at(f.key)) EXPECT_TRUE(std::isfinite(v)) << f.key;
    }
  }
  // the flat state round-trips
  const std::vector<double> flat = task->sim().FlatState();
  EXPECT_EQ(static_cast<int>(flat.size()), task->sim().FlatStateSize());
}

std::vector<std::string> AllTaskNames() {
  std::vector<std::string> names;
  for (const auto& t : RegisteredTasks()) names.push_back(t.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllTasks, TaskSmokeTest, ::testing::ValuesIn(AllTaskNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace onedp
