#include "harness/bench_sim.h"

#include <chrono>
#include <cstdio>
#include <ostream>

#include "harness/run_info.h"
#include "tasks/common/operators.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

struct Measure {
  double seconds = 0;
  StepProfile profile;
  int64_t steps = 0;
  int episodes = 0;
};

Measure Run(Task& task, const OperatorProfile& op, int steps, uint64_t seed, bool render) {
  Observation obs;
  uint64_t episode_seed = seed;
  task.Reset(episode_seed);
  auto expert = task.MakeExpert(op, episode_seed);
  task.Observe(&obs, render);  // warm-up: the first frame creates the GL context
  task.profile() = StepProfile{};
  Measure m;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) {
    task.Step(expert->Act());
    task.Observe(&obs, render);
    ++m.steps;
    if (task.Evaluate().success || task.steps() >= task.spec().max_steps ||
        !task.episode_error().empty()) {
      ++m.episodes;
      task.Reset(++episode_seed);
      expert = task.MakeExpert(op, episode_seed);
    }
  }
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.profile = task.profile();
  return m;
}

}  // namespace

nlohmann::json BenchSim(const BenchSimOptions& o, std::ostream& out) {
  std::unique_ptr<Task> task = MakeTask(o.task);
  const TaskSpec& spec = task->spec();
  const OperatorProfile op = OperatorsForVariant(spec.variant).front();
  nlohmann::json result = {{"task", spec.name}, {"steps", o.steps}, {"seed", o.seed},
                           {"substeps", spec.substeps}, {"versions", RunVersions()}};
  char line[256];
  std::snprintf(line, sizeof(line), "%-22s %10s %9s %9s %9s %9s %9s\n", "configuration",
                "steps/s", "ms/step", "physics", "control", "render", "other");
  out << "bench sim: " << spec.name << ", " << o.steps << " env steps per configuration, "
      << spec.substeps << " physics substeps per env step, 1 thread\n" << line;
  for (bool render : {false, true}) {
    const Measure m = Run(*task, op, o.steps, o.seed, render);
    const double other = m.seconds - m.profile.physics_s - m.profile.control_s - m.profile.render_s;
    const std::string name =
        render ? std::to_string(spec.cameras.size()) + " cameras " + std::to_string(spec.image_width) +
                     "x" + std::to_string(spec.image_height)
               : "no rendering";
    std::snprintf(line, sizeof(line), "%-22s %10.1f %9.3f %8.1f%% %8.1f%% %8.1f%% %8.1f%%\n",
                  name.c_str(), m.steps / m.seconds, 1e3 * m.seconds / m.steps,
                  100 * m.profile.physics_s / m.seconds, 100 * m.profile.control_s / m.seconds,
                  100 * m.profile.render_s / m.seconds, 100 * other / m.seconds);
    out << line;
    result[render ? "render" : "no_render"] = {
        {"steps_per_s", m.steps / m.seconds},
        {"seconds", m.seconds},
        {"physics_s", m.profile.physics_s},
        {"control_s", m.profile.control_s},
        {"render_s", m.profile.render_s},
        {"frames", m.profile.frames},
        {"ms_per_frame", m.profile.frames ? 1e3 * m.profile.render_s / m.profile.frames : 0.0},
        {"mj_substeps_per_s", m.steps * spec.substeps / m.profile.physics_s},
        {"episodes", m.episodes}};
  }
  const auto& r = result["render"];
  std::snprintf(line, sizeof(line),
                "physics alone: %.0f substeps/s; render: %.2f ms per %dx%d frame (%s)\n",
                r["mj_substeps_per_s"].get<double>(), r["ms_per_frame"].get<double>(),
                spec.image_width, spec.image_height, task->renderer().backend().c_str());
  out << line;
  return result;
}

}  // namespace onedp
