#include "harness/bench_sim.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <vector>

#include "harness/run_info.h"
#include "sim/rng.h"
#include "tasks/common/operators.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Measure {
  double seconds = 0;
  double actions_s = 0;  // choosing the actions (the expert's planning; a random draw)
  StepProfile profile;
  int64_t steps = 0;
  int episodes = 0;
};

// The actions of one episode: the scripted expert, or uniform draws within the task's action
// bounds from a generator seeded with the episode's seed.
class ActionSource {
 public:
  ActionSource(Task& task, const OperatorProfile& op, bool random) : task_(task), op_(op), random_(random) {}
  void Reset(uint64_t episode_seed) {
    if (random_) {
      rng_ = std::make_unique<Rng>(episode_seed, /*stream=*/0x61637473);  // "acts"
    } else {
      expert_ = task_.MakeExpert(op_, episode_seed);
    }
  }
  std::vector<double> Act() {
    if (!random_) return expert_->Act();
    return RandomAction(task_.spec(), *rng_);
  }

 private:
  Task& task_;
  const OperatorProfile& op_;
  bool random_;
  std::unique_ptr<Expert> expert_;
  std::unique_ptr<Rng> rng_;
};

Measure Run(Task& task, ActionSource& source, int steps, uint64_t seed, bool render) {
  Observation obs;
  uint64_t episode_seed = seed;
  task.Reset(episode_seed);
  source.Reset(episode_seed);
  task.Observe(&obs, render);  // warm-up: the first frame creates the GL context
  task.profile() = StepProfile{};
  Measure m;
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) {
    const auto ta = Clock::now();
    const std::vector<double> action = source.Act();
    m.actions_s += Since(ta);
    task.Step(action);
    task.Observe(&obs, render);
    ++m.steps;
    if (task.Evaluate().success || task.steps() >= task.spec().max_steps ||
        !task.episode_error().empty()) {
      ++m.episodes;
      task.Reset(++episode_seed);
      const auto tr = Clock::now();
      source.Reset(episode_seed);
      m.actions_s += Since(tr);
    }
  }
  m.seconds = Since(t0);
  m.profile = task.profile();
  return m;
}

}  // namespace

std::vector<double> RandomAction(const TaskSpec& spec, Rng& rng) {
  std::vector<double> a(spec.action_dim);
  for (int i = 0; i < spec.action_dim; ++i) {
    const double lo = spec.action_low.empty() ? -1.0 : spec.action_low[i];
    const double hi = spec.action_high.empty() ? 1.0 : spec.action_high[i];
    a[i] = rng.Uniform(lo, hi);
  }
  return a;
}

nlohmann::json BenchSim(const BenchSimOptions& o, std::ostream& out) {
  if (o.actions != "expert" && o.actions != "random") {
    throw std::invalid_argument("bench sim: --actions must be expert or random, got '" + o.actions + "'");
  }
  const bool random = o.actions == "random";
  std::unique_ptr<Task> task = MakeTask(o.task);
  const TaskSpec& spec = task->spec();
  const OperatorProfile op = OperatorsForVariant(spec.variant).front();
  ActionSource source(*task, op, random);
  nlohmann::json result = {{"task", spec.name},         {"steps", o.steps},
                           {"seed", o.seed},            {"actions", o.actions},
                           {"horizon", spec.max_steps}, {"substeps", spec.substeps},
                           {"cameras", spec.cameras},   {"image_width", spec.image_width},
                           {"image_height", spec.image_height}, {"versions", RunVersions()}};
  char line[256];
  std::snprintf(line, sizeof(line), "%-22s %10s %10s %9s %9s %9s %9s %9s %9s\n", "configuration",
                "steps/s", "env st/s", "ms/step", "physics", "control", "render", "actions", "other");
  out << "bench sim: " << spec.name << ", " << o.steps << " env steps per configuration, "
      << spec.substeps << " physics substeps per env step, " << o.actions
      << " actions, 1 thread (env st/s: without the time choosing the actions)\n" << line;
  for (bool render : {false, true}) {
    const Measure m = Run(*task, source, o.steps, o.seed, render);
    const double other =
        m.seconds - m.profile.physics_s - m.profile.control_s - m.profile.render_s - m.actions_s;
    const std::string name =
        render ? std::to_string(spec.cameras.size()) + " cameras " + std::to_string(spec.image_width) +
                     "x" + std::to_string(spec.image_height)
               : "no rendering";
    const double env_seconds = m.seconds - m.actions_s;
    std::snprintf(line, sizeof(line), "%-22s %10.1f %10.1f %9.3f %8.1f%% %8.1f%% %8.1f%% %8.1f%% %8.1f%%\n",
                  name.c_str(), m.steps / m.seconds, m.steps / env_seconds, 1e3 * m.seconds / m.steps,
                  100 * m.profile.physics_s / m.seconds, 100 * m.profile.control_s / m.seconds,
                  100 * m.profile.render_s / m.seconds, 100 * m.actions_s / m.seconds,
                  100 * other / m.seconds);
    out << line;
    result[render ? "render" : "no_render"] = {
        {"steps_per_s", m.steps / m.seconds},
        {"env_steps_per_s", m.steps / env_seconds},
        {"seconds", m.seconds},
        {"physics_s", m.profile.physics_s},
        {"control_s", m.profile.control_s},
        {"render_s", m.profile.render_s},
        {"actions_s", m.actions_s},
        {"other_s", other},
        {"frames", m.profile.frames},
        {"ms_per_frame", m.profile.frames ? 1e3 * m.profile.render_s / m.profile.frames : 0.0},
        {"mj_substeps_per_s", m.steps * spec.substeps / m.profile.physics_s},
        {"us_per_substep", 1e6 * m.profile.physics_s / (m.steps * spec.substeps)},
        {"episodes", m.episodes}};
  }
  const auto& r = result["render"];
  result["render_backend"] = task->renderer().backend();
  std::snprintf(line, sizeof(line),
                "physics alone: %.0f substeps/s; render: %.2f ms per %dx%d frame (%s)\n",
                r["mj_substeps_per_s"].get<double>(), r["ms_per_frame"].get<double>(),
                spec.image_width, spec.image_height, task->renderer().backend().c_str());
  out << line;
  if (!o.json.empty()) WriteJsonAtomic(result, o.json);
  return result;
}

}  // namespace onedp
