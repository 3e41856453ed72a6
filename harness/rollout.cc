// The batched closed-loop rollout engine: env workers, observation histories, chunk steps, CSV.

#include "harness/rollout.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "harness/collect.h"
#include "sim/rng.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A fixed set of threads: env e always runs on thread e % workers, so each Task (and its GL
// context) is created, stepped and destroyed on one thread.
class EnvWorkers {
 public:
  EnvWorkers(int workers, int envs) : workers_(workers), envs_(envs) {
    for (int w = 0; w < workers_; ++w) threads_.emplace_back([this, w] { Loop(w); });
  }
  ~EnvWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  EnvWorkers(const EnvWorkers&) = delete;
  EnvWorkers& operator=(const EnvWorkers&) = delete;

  // Runs fn(e) for every env e on its thread and waits for all of them; rethrows the first
  // failure as std::runtime_error.
  void ForEach(const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> lock(mu_);
    job_ = &fn;
    error_.clear();
    pending_ = workers_;
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (!error_.empty()) throw std::runtime_error(error_);
  }

 private:
  void Loop(int w) {
    uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        start_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        job = job_;
      }
      std::string error;
      for (int e = w; e < envs_; e += workers_) {
        try {
          (*job)(e);
        } catch (const std::exception& ex) {
          if (error.empty()) error = "env " + std::to_string(e) + ": " + ex.what();
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error.empty() && error_.empty()) error_ = error;
        if (--pending_ == 0) done_.notify_all();
      }
    }
  }

  const int workers_, envs_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool quit_ = false;
  std::string error_;
  std::vector<std::thread> threads_;
};

struct Env {
  Env(const PolicySpec& spec, ExecMode mode, int position_dims)
      : history(spec), clock(mode, spec.obs_steps, position_dims) {}
  std::unique_ptr<Task> task;
  int episode = -1;  // index of the running episode; -1: idle
  bool needs_reset = false;
  bool done = false;
  int chunk = 0;  // chunks requested in this episode
  int row = -1;   // row in the current ObsBatch
  EpisodeResult result;
  ObsHistory history;  // the last To observations
  ChunkExecutor clock;  // which action each step executes
  Observation obs;     // scratch
  std::vector<RolloutObserver*> observers;  // those observing the running episode
  std::map<int, ActionChunk> observed;      // chunks not yet passed to the observers, by index
};

}  // namespace

void CheckPolicyFitsTask(const PolicySpec& ps, const TaskSpec& ts, bool absolute) {
  std::string task_keys;
  for (const FeatureSpec& f : ts.obs) task_keys += (task_keys.empty() ? "" : ", ") + f.key;
  auto shape_string = [](const std::vector<int>& s) {
    std::string out = "{";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "}";
  };
  for (const PolicyObsKey& k : ps.obs) {
    auto it = std::find_if(ts.obs.begin(), ts.obs.end(),
                           [&](const FeatureSpec& f) { return f.key == k.key; });
    if (it == ts.obs.end()) {
      throw std::invalid_argument("rollout: task " + ts.name + " has no observation '" + k.key +
                                  "' (it has: " + task_keys + ")");
    }
    if (it->is_image != k.is_image || it->shape != k.shape) {
      throw std::invalid_argument("rollout: observation '" + k.key + "' of task " + ts.name +
                                  " is " + (it->is_image ? "an image " : "low-dim ") +
                                  shape_string(it->shape) + ", the policy expects " +
                                  (k.is_image ? "an image " : "low-dim ") + shape_string(k.shape));
    }
  }
  const int want = absolute ? ts.abs_action_dim : ts.action_dim;
  if (ps.action_dim != want) {
    throw std::invalid_argument("rollout: the policy's action_dim is " +
                                std::to_string(ps.action_dim) + ", task " + ts.name + " takes " +
                                std::to_string(want) + "-D " + (absolute ? "absolute" : "delta") +
                                " actions");
  }
}

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

uint64_t ChunkNoiseSeed(uint64_t episode_seed, int chunk) {
  return MixSeed(MixSeed(episode_seed, /*stream=*/0x524f4c4cull) + static_cast<uint64_t>(chunk));
}

bool PolicyUsesImages(const PolicySpec& spec) {
  return std::any_of(spec.obs.begin(), spec.obs.end(),
                     [](const PolicyObsKey& k) { return k.is_image; });
}

void CheckChunk(const ActionChunk& chunk, int batch, const Policy& policy) {
  const int dim = policy.spec().action_dim;
  if (chunk.batch != batch || chunk.dim != dim || chunk.steps < 1 ||
      chunk.data.size() != static_cast<size_t>(chunk.batch) * chunk.steps * chunk.dim) {
    throw std::runtime_error("rollout: policy " + policy.Name() + " returned a chunk of (" +
                             std::to_string(chunk.batch) + ", " + std::to_string(chunk.steps) +
                             ", " + std::to_string(chunk.dim) + ") with " +
                             std::to_string(chunk.data.size()) + " values for a batch of " +
                             std::to_string(batch) + " and " + std::to_string(dim) +
                             "-D actions");
  }
}

void ObsHistory::Push(const Observation& obs, bool fill) {
  const size_t to = static_cast<size_t>(spec_->obs_steps);
  const auto push = [&](auto& h, auto&& frame) {
    if (fill) {
      h.assign(to, frame);
    } else {
      h.push_back(std::move(frame));
      if (h.size() > to) h.erase(h.begin(), h.end() - static_cast<std::ptrdiff_t>(to));
    }
  };
  for (const PolicyObsKey& k : spec_->obs) {
    if (k.is_image) {
      auto it = obs.images.find(k.key);
      if (it == obs.images.end()) throw std::runtime_error("task gave no image '" + k.key + "'");
      const Image& img = it->second;
      if (img.height != k.shape[0] || img.width != k.shape[1] ||
          img.pixels.size() != static_cast<size_t>(img.height) * img.width * 3) {
        throw std::runtime_error("image '" + k.key + "' is " + std::to_string(img.height) + "x" +
                                 std::to_string(img.width) + ", the policy expects " +
                                 std::to_string(k.shape[0]) + "x" + std::to_string(k.shape[1]));
      }
      push(images_[k.key], std::vector<uint8_t>(img.pixels));
    } else {
      auto it = obs.lowdim.find(k.key);
      if (it == obs.lowdim.end())
        throw std::runtime_error("task gave no low-dim '" + k.key + "'");
      if (static_cast<int>(it->second.size()) != k.shape[0]) {
        throw std::runtime_error("low-dim '" + k.key + "' has " +
                                 std::to_string(it->second.size()) +
                                 " values, the policy expects " + std::to_string(k.shape[0]));
      }
      push(lowdim_[k.key], std::vector<float>(it->second.begin(), it->second.end()));
    }
  }
}

void ObsHistory::AppendRow(ObsBatch* batch) const {
  batch->steps = spec_->obs_steps;
  for (const PolicyObsKey& k : spec_->obs) {
    if (k.is_image) {
      std::vector<uint8_t>& dst = batch->images[k.key];
      for (const auto& frame : images_.at(k.key)) dst.insert(dst.end(), frame.begin(), frame.end());
    } else {
      std::vector<float>& dst = batch->lowdim[k.key];
      for (const auto& frame : lowdim_.at(k.key)) dst.insert(dst.end(), frame.begin(), frame.end());
    }
  }
  ++batch->batch;
}

HorizonChunk PlaceInHorizon(const ActionChunk& chunk, int row, const PolicySpec& spec) {
  const int h = spec.horizon, d = chunk.dim;
  const bool full = chunk.steps >= h;
  const int off = full ? 0 : spec.obs_steps - 1;  // horizon index of chunk row 0
  HorizonChunk out;
  out.values.assign(static_cast<size_t>(h) * d, std::numeric_limits<double>::quiet_NaN());
  for (int t = 0; t < chunk.steps && off + t < h; ++t) {
    const float* a = chunk.at(row, t);
    for (int k = 0; k < d; ++k) out.values[static_cast<size_t>(off + t) * d + k] = a[k];
  }
  out.exec_begin = spec.obs_steps - 1;
  out.exec_end = full ? std::min(h, out.exec_begin + spec.action_steps)
                      : std::min(h, off + chunk.steps);
  out.first_row = full ? out.exec_begin : 0;
  return out;
}

ChunkExecutor::ChunkExecutor(ExecMode mode, int obs_steps, int position_dims)
    : mode_(mode), obs_steps_(obs_steps), position_dims_(position_dims) {}

void ChunkExecutor::Reset() {
  step_ = next_request_ = 0;
  pending_.clear();
  chunks_requested_ = held_ = skipped_ = 0;
  delay_sum_ = 0;
  last_chunk_ = -1;
  last_pos_.clear();
  jump_sum_ = 0;
  jumps_ = 0;
}

void ChunkExecutor::AddChunk(const float* rows, int n, int dim, int delay) {
  if (!RequestDue()) {
    throw std::logic_error("ChunkExecutor: a chunk at step " + std::to_string(step_) +
                           ", the next request is due at " + std::to_string(next_request_));
  }
  if (n < 1 || dim < 1 || delay < 0) throw std::logic_error("ChunkExecutor: bad chunk");
  Chunk c;
  c.index = chunks_requested_++;
  c.request = step_;
  c.available = step_ + delay;
  c.start = mode_ == ExecMode::kSync ? c.available : c.request;
  c.rows = n;
  c.values.assign(rows, rows + static_cast<size_t>(n) * dim);
  dim_ = dim;
  next_request_ = mode_ == ExecMode::kSync ? c.available + n
                                           : std::max(c.available, step_ + n - delay);
  delay_sum_ += delay;
  pending_.push_back(std::move(c));
}

ChunkExecutor::Slot ChunkExecutor::Next() {
  Slot slot;
  // The newest chunk that has arrived is in force; older ones are done with.
  int in_force = -1;
  for (int i = static_cast<int>(pending_.size()) - 1; i >= 0 && in_force < 0; --i) {
    if (pending_[i].available <= step_) in_force = i;
  }
  if (in_force > 0) pending_.erase(pending_.begin(), pending_.begin() + in_force);
  if (in_force >= 0) {
    Chunk& c = pending_.front();
    if (!c.took_over) {
      c.took_over = true;
      // Rows whose step passed before the chunk arrived never run (async: the first d).
      skipped_ += std::clamp(c.available - c.start, 0, c.rows);
      slot.takes_over = step_ - c.start < c.rows;
    }
    const int row = step_ - c.start;
    if (row >= 0 && row < c.rows) {
      slot.chunk = c.index;
      slot.row = row;
    }
  }
  if (slot.chunk < 0) {
    ++held_;
  } else if (position_dims_ > 0) {
    const double* a = Action(slot);
    const int k = std::min(position_dims_, dim_);
    if (last_chunk_ >= 0 && last_chunk_ != slot.chunk) {
      double sq = 0;
      for (int i = 0; i < k; ++i) sq += (a[i] - last_pos_[i]) * (a[i] - last_pos_[i]);
      jump_sum_ += std::sqrt(sq);
      ++jumps_;
    }
    last_pos_.assign(a, a + k);
    last_chunk_ = slot.chunk;
  }
  slot.observe = step_ + 1 > next_request_ - obs_steps_;
  return slot;
}

const double* ChunkExecutor::Action(const Slot& slot) const {
  for (const Chunk& c : pending_) {
    if (c.index == slot.chunk) return c.values.data() + static_cast<size_t>(slot.row) * dim_;
  }
  throw std::logic_error("ChunkExecutor: chunk " + std::to_string(slot.chunk) + " is gone");
}

double ChunkExecutor::mean_delay() const {
  return chunks_requested_ > 0 ? delay_sum_ / chunks_requested_ : 0.0;
}

double ChunkExecutor::boundary_jump() const {
  return jumps_ > 0 ? jump_sum_ / jumps_ : std::numeric_limits<double>::quiet_NaN();
}

void ChunkExecutor::Fill(EpisodeResult* r) const {
  r->delay_steps = mean_delay();
  r->chunks = chunks_requested_;
  r->held_steps = held_;
  r->skipped_actions = skipped_;
  r->boundary_jump = boundary_jump();
}

bool StepEpisode(Task& task, const std::vector<double>& action, int max_steps, EpisodeResult* r,
                 Outcome* outcome) {
  task.Step(action);
  ++r->steps;
  if (!task.episode_error().empty()) {
    r->error = task.episode_error();
    r->success = false;
    return true;
  }
  *outcome = task.Evaluate();
  r->score = std::max(r->score, outcome->score);
  r->milestones |= outcome->milestones;
  if (outcome->success) r->success = true;
  return outcome->success || r->steps >= max_steps;
}

RolloutReport RunRollouts(Policy& policy, const std::string& task_name,
                          const RolloutOptions& options,
                          const std::function<void(int done, int total)>& progress) {
  const RolloutOptions& o = options;
  if (o.episodes < 1)
    throw std::invalid_argument("rollout: episodes must be >= 1 (got " +
                                std::to_string(o.episodes) + ")");
  if (o.num_envs < 0) throw std::invalid_argument("rollout: num_envs must be >= 0");
  if (o.workers < 0) throw std::invalid_argument("rollout: workers must be >= 0");
  if (o.max_steps < 0) throw std::invalid_argument("rollout: max_steps must be >= 0");
  for (RolloutObserver* ob : o.observers) {
    if (ob == nullptr) throw std::invalid_argument("rollout: null observer");
  }
  const PolicySpec& ps = policy.spec();
  ps.Validate();
  const TaskEntry& entry = FindTask(task_name);
  TaskSpec ts;
  {
    std::unique_ptr<Task> probe = entry.make();
    ts = probe->spec();
  }
  CheckPolicyFitsTask(ps, ts, o.absolute_actions);
  CheckPerturbationName(ts.name, ts.info, o.perturbation);  // before any call
  const bool render = PolicyUsesImages(ps);
  const int max_steps = o.max_steps > 0 ? o.max_steps : ts.max_steps;
  const int total = o.episodes;
  const int num_envs = o.num_envs > 0 ? std::min(o.num_envs, total) : std::min(total, 28);
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = std::min(o.workers > 0 ? o.workers : hw, num_envs);
  const int to = ps.obs_steps;
  const ActionMode mode = o.absolute_actions ? ActionMode::kAbsolute : ActionMode::kDelta;
  // The delay of every chunk, except under a measured latency (known per call).
  const bool measured = o.latency.kind == LatencyModel::Kind::kMeasured;
  int delay = 0;
  if (o.latency.kind == LatencyModel::Kind::kFixed) {
    delay = DelaySteps(o.latency.fixed_ms, ts.control_hz);
  } else if (o.latency.kind == LatencyModel::Kind::kProfile) {
    const SamplerSpec sampler = o.sample.sampler.family.empty()
                                    ? SamplerSpec::Parse(policy.Samplers().front())
                                    : o.sample.sampler;
    delay = DelaySteps(o.latency.Milliseconds(policy.Nfe(sampler)), ts.control_hz);
  }
  // Boundary jumps are measured on the commanded position of absolute actions.
  const int position_dims = o.absolute_actions ? (ts.info.view.planar_actions ? 2 : 3) : 0;

  const Clock::time_point start = Clock::now();
  RolloutReport report;
  report.episodes.resize(total);
  std::vector<Env> envs;
  envs.reserve(num_envs);
  for (int e = 0; e < num_envs; ++e) envs.emplace_back(ps, o.exec, position_dims);
  EnvWorkers pool(workers, num_envs);
  // Tasks are destroyed on the threads that made them, also when the run ends by an exception.
  struct DestroyTasks {
    EnvWorkers& pool;
    std::vector<Env>& envs;
    ~DestroyTasks() {
      try {
        pool.ForEach([&](int e) { envs[e].task.reset(); });
      } catch (...) {
      }
    }
  } destroy_tasks{pool, envs};

  pool.ForEach([&](int e) {
    envs[e].task = entry.make();
    envs[e].task->SetActionMode(mode);
  });

  int next_episode = 0, finished = 0;
  while (finished < total) {
    if (StopRequested()) {
      throw std::runtime_error("rollouts on " + ts.name + " interrupted after " +
                               std::to_string(finished) + " of " + std::to_string(total) +
                               " episodes");
    }
    // Free envs take the next episodes in seed order.
    for (Env& env : envs) {
      if (env.episode < 0 && next_episode < total) {
        env.episode = next_episode++;
        env.needs_reset = true;
      }
    }
    pool.ForEach([&](int e) {
      Env& env = envs[e];
      if (!env.needs_reset) return;
      env.needs_reset = false;
      env.done = false;
      env.chunk = 0;
      env.result = EpisodeResult();
      env.result.seed = o.start_seed + static_cast<uint64_t>(env.episode);
      env.observers.clear();
      env.observed.clear();
      env.clock.Reset();
      try {
        env.task->SetActionMode(mode);
        env.task->Reset(env.result.seed);
        env.task->SetPerturbation(o.perturbation);
        env.task->Observe(&env.obs, render);
        env.history.Push(env.obs, /*fill=*/true);
        for (RolloutObserver* ob : o.observers) {
          if (!ob->Wants(env.episode)) continue;
          env.observers.push_back(ob);
          ob->OnReset(env.episode, env.result.seed, *env.task);
        }
      } catch (const std::exception& ex) {
        env.result.error = std::string("reset failed: ") + ex.what();
        env.done = true;
        env.observers.clear();
      }
    });

    // One batch from every active env's history: each env is at its next request step.
    ObsBatch batch;
    batch.steps = to;
    SampleOptions sample = o.sample;
    sample.seeds.clear();
    for (Env& env : envs) {
      env.row = -1;
      if (env.episode < 0 || env.done) continue;
      env.row = batch.batch;
      sample.seeds.push_back(ChunkNoiseSeed(env.result.seed, env.chunk));
      env.history.AppendRow(&batch);
    }
    ActionChunk chunk;
    if (batch.batch > 0) {
      const Clock::time_point t0 = Clock::now();
      chunk = policy.PredictChunk(batch, sample);
      report.predict_seconds.push_back(SecondsSince(t0));
      report.predict_batch.push_back(batch.batch);
      CheckChunk(chunk, batch.batch, policy);
      if (measured) delay = DelaySteps(1e3 * report.predict_seconds.back(), ts.control_hz);
    }
    // The rows executed: all of them (today's policies return exactly the executed steps), or
    // horizon steps [To-1, To-1+Ta) of a full-horizon chunk.
    int first_row = 0, executed = chunk.steps;
    if (chunk.steps >= ps.horizon) {
      first_row = to - 1;
      executed = std::min(ps.action_steps, chunk.steps - first_row);
    }

    pool.ForEach([&](int e) {
      Env& env = envs[e];
      if (env.row < 0) return;
      Task& task = *env.task;
      EpisodeResult& r = env.result;
      std::vector<double> action(chunk.dim);
      Outcome outcome;
      try {
        env.clock.AddChunk(chunk.at(env.row, first_row), executed, chunk.dim, delay);
        if (!env.observers.empty()) {
          ActionChunk own;
          own.batch = 1;
          own.steps = chunk.steps;
          own.dim = chunk.dim;
          own.data.assign(chunk.at(env.row, 0), chunk.at(env.row, 0) + chunk.steps * chunk.dim);
          env.observed[env.chunk] = std::move(own);
        }
        // Step to the next request (or the episode's end).
        while (!env.done && !env.clock.RequestDue()) {
          const ChunkExecutor::Slot slot = env.clock.Next();
          if (slot.chunk >= 0) {
            const double* a = env.clock.Action(slot);
            action.assign(a, a + chunk.dim);
          } else {
            action = task.HoldAction();
          }
          if (!env.observers.empty()) {
            if (slot.takes_over) {
              auto it = env.observed.find(slot.chunk);
              if (it == env.observed.end()) throw std::logic_error("rollout: chunk not kept");
              for (RolloutObserver* ob : env.observers) ob->OnChunk(env.episode, it->second, 0);
              env.observed.erase(env.observed.begin(), it);
            }
            for (RolloutObserver* ob : env.observers) ob->OnStepSource(env.episode, slot.row);
          }
          env.done = StepEpisode(task, action, max_steps, &r, &outcome);
          for (RolloutObserver* ob : env.observers) ob->OnStep(env.episode, task, action, outcome);
          // Only the last To frames before the next request end up in the history.
          if (!env.done && slot.observe) {
            task.Observe(&env.obs, render);
            env.history.Push(env.obs, /*fill=*/false);
          }
          env.clock.Advance();
        }
      } catch (const std::exception& ex) {
        if (r.error.empty()) r.error = ex.what();
        env.done = true;
      }
      if (!r.error.empty()) r.success = false;
      ++env.chunk;
      env.clock.Fill(&r);
      if (env.done) {
        const PerturbationRecord pr = task.perturbation();
        r.perturbation = PerturbationStatusName(pr.status);
        r.perturbation_step = pr.step;
        r.perturbation_detail = pr.detail;
        for (RolloutObserver* ob : env.observers) {
          try {
            ob->OnEpisodeEnd(env.episode, task, r);
          } catch (const std::exception& ex) {
            if (r.error.empty()) r.error = std::string("observer: ") + ex.what();
            r.success = false;
          }
        }
        env.observers.clear();
      }
    });

    for (Env& env : envs) {
      if (env.episode < 0 || !env.done) continue;
      env.task->TakeWarnings();
      report.episodes[env.episode] = env.result;
      env.episode = -1;
      ++finished;
      if (progress) progress(finished, total);
    }
  }

  int successes = 0;
  double score_sum = 0;
  for (const EpisodeResult& r : report.episodes) {
    successes += r.success ? 1 : 0;
    score_sum += r.score;
  }
  report.milestones = ts.info.milestones;
  report.latency = o.latency.text;
  report.exec = o.exec;
  report.perturbation = o.perturbation;
  report.deterministic = o.latency.deterministic();
  report.success_rate = static_cast<double>(successes) / total;
  report.mean_score = score_sum / total;
  report.wall_seconds = SecondsSince(start);
  return report;
}

std::string MilestoneSummary(const RolloutReport& report) {
  std::string s;
  for (size_t m = 0; m < report.milestones.size(); ++m) {
    int reached = 0;
    for (const EpisodeResult& e : report.episodes) reached += (e.milestones >> m) & 1u;
    s += (s.empty() ? "" : ", ") + report.milestones[m] + " " + std::to_string(reached) + "/" +
         std::to_string(report.episodes.size());
  }
  return s;
}

void WriteRolloutCsv(const RolloutReport& report, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw std::runtime_error("rollout csv: empty path");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << "seed,success,score,steps,error,delay_steps,chunks,held_steps,skipped_actions,"
         "boundary_jump,deterministic,perturbation,perturbation_step,perturbation_detail,milestones\n";
    f << std::setprecision(10);
    for (const EpisodeResult& r : report.episodes) {
      f << r.seed << ',' << (r.success ? 1 : 0) << ',' << r.score << ',' << r.steps << ','
        << CsvField(r.error) << ',' << r.delay_steps << ',' << r.chunks << ',' << r.held_steps
        << ',' << r.skipped_actions << ',';
      if (std::isfinite(r.boundary_jump)) f << r.boundary_jump;
      f << ',' << (report.deterministic ? 1 : 0) << ',' << r.perturbation << ','
        << r.perturbation_step << ',' << CsvField(r.perturbation_detail) << ',';
      const char* sep = "";
      for (size_t m = 0; m < report.milestones.size(); ++m) {
        if ((r.milestones >> m) & 1u) {
          f << sep << report.milestones[m];
          sep = ";";
        }
      }
      f << '\n';
    }
    f.flush();
    if (!f) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw std::runtime_error("error writing " + tmp);
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
}

}  // namespace onedp
