#include "harness/rollout.h"

#include <algorithm>
#include <chrono>
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

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

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
  explicit Env(const PolicySpec& spec) : history(spec) {}
  std::unique_ptr<Task> task;
  int episode = -1;  // index of the running episode; -1: idle
  bool needs_reset = false;
  bool done = false;
  int chunk = 0;  // chunk steps taken in this episode
  int row = -1;   // row in the current ObsBatch
  EpisodeResult result;
  ObsHistory history;  // the last To observations
  Observation obs;     // scratch
  std::vector<RolloutObserver*> observers;  // those observing the running episode
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
  const bool render = PolicyUsesImages(ps);
  const int max_steps = o.max_steps > 0 ? o.max_steps : ts.max_steps;
  const int total = o.episodes;
  const int num_envs = o.num_envs > 0 ? std::min(o.num_envs, total) : std::min(total, 28);
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = std::min(o.workers > 0 ? o.workers : hw, num_envs);
  const int to = ps.obs_steps;
  const ActionMode mode = o.absolute_actions ? ActionMode::kAbsolute : ActionMode::kDelta;

  const Clock::time_point start = Clock::now();
  RolloutReport report;
  report.episodes.resize(total);
  std::vector<Env> envs;
  envs.reserve(num_envs);
  for (int e = 0; e < num_envs; ++e) envs.emplace_back(ps);
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
      try {
        env.task->SetActionMode(mode);
        env.task->Reset(env.result.seed);
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

    // One batch from every active env's history.
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
        for (RolloutObserver* ob : env.observers) ob->OnChunk(env.episode, chunk, env.row);
        for (int t = 0; t < executed && !env.done; ++t) {
          const float* a = chunk.at(env.row, first_row + t);
          action.assign(a, a + chunk.dim);
          env.done = StepEpisode(task, action, max_steps, &r, &outcome);
          for (RolloutObserver* ob : env.observers) ob->OnStep(env.episode, task, action, outcome);
          // Only the last To frames of the chunk end up in the history.
          if (!env.done && t >= executed - to) {
            task.Observe(&env.obs, render);
            env.history.Push(env.obs, /*fill=*/false);
          }
        }
      } catch (const std::exception& ex) {
        if (r.error.empty()) r.error = ex.what();
        env.done = true;
      }
      if (!r.error.empty()) r.success = false;
      ++env.chunk;
      if (env.done) {
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
  report.success_rate = static_cast<double>(successes) / total;
  report.mean_score = score_sum / total;
  report.wall_seconds = SecondsSince(start);
  return report;
}

void WriteRolloutCsv(const RolloutReport& report, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw std::runtime_error("rollout csv: empty path");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << "seed,success,score,steps,error\n";
    f << std::setprecision(10);
    for (const EpisodeResult& r : report.episodes) {
      f << r.seed << ',' << (r.success ? 1 : 0) << ',' << r.score << ',' << r.steps << ','
        << CsvField(r.error) << '\n';
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

// ---- recorded rollouts -------------------------------------------------------------------------

namespace {

ArrayF64 Rows(const ArrayF64& a, int64_t begin, int64_t end) {
  ArrayF64 out;
  out.shape = a.shape;
  out.shape[0] = end - begin;
  const int64_t n = a.row_size();
  out.data.assign(a.data.begin() + begin * n, a.data.begin() + end * n);
  return out;
}

ArrayF64 Column(const std::vector<double>& v) {
  ArrayF64 out;
  out.shape = {static_cast<int64_t>(v.size()), 1};
  out.data = v;
  return out;
}

void RenameInto(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
}

// HDF5 here is the serial build: one writer at a time in the process.
std::mutex& Hdf5Mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void WriteRecordedRollout(const RecordedRollout& r, const std::string& path,
                          const nlohmann::json& env_args) {
  const int64_t n = r.num_steps();
  if (n < 1) throw std::runtime_error("recorded rollout " + path + ": no steps");
  if (r.states.rows() != n + 1 || r.chunks.rows() != n ||
      static_cast<int64_t>(r.chunk_pos.size()) != n ||
      static_cast<int64_t>(r.rewards.size()) != n || static_cast<int64_t>(r.scores.size()) != n ||
      static_cast<int64_t>(r.successes.size()) != n) {
    throw std::runtime_error("recorded rollout " + path + ": inconsistent lengths (" +
                             std::to_string(n) + " actions, " + std::to_string(r.states.rows()) +
                             " states, " + std::to_string(r.chunks.rows()) + " chunks)");
  }
  if (!r.meta.contains("task") || !r.meta.contains("seed")) {
    throw std::runtime_error("recorded rollout " + path + ": meta needs \"task\" and \"seed\"");
  }
  EpisodeRecord ep;
  ep.num_samples = n;
  ep.actions = r.actions;
  ep.states = Rows(r.states, 0, n);
  ep.rewards = r.rewards;
  ep.dones.resize(n);
  std::vector<double> success(n), pos(n);
  for (int64_t t = 0; t < n; ++t) {
    ep.dones[t] = r.successes[t] ? 1 : 0;
    success[t] = r.successes[t] ? 1.0 : 0.0;
    pos[t] = r.chunk_pos[t];
  }
  ep.next_obs["flat_state"] = Rows(r.states, 1, n + 1);
  ep.next_obs["score"] = Column(r.scores);
  ep.next_obs["success"] = Column(success);
  ep.obs["action_chunk"] = r.chunks;
  ep.obs["chunk_pos"] = Column(pos);
  ep.ep_meta = r.meta;
  nlohmann::json args = env_args.is_object() ? env_args : nlohmann::json::object();
  args["onedp"]["task"] = r.meta.at("task");
  args["onedp"]["kind"] = "recorded_rollout";
  args["onedp"]["format"] = 1;
  std::lock_guard<std::mutex> lock(Hdf5Mutex());
  DatasetWriter writer(path, /*overwrite=*/true);
  writer.Append(ep);
  writer.Finish(args, {});
}

RecordedRollout ReadRecordedRollout(const std::string& path) {
  EpisodeStore store;
  {
    std::lock_guard<std::mutex> lock(Hdf5Mutex());
    store = EpisodeStore::Load(path);
  }
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error("recorded rollout " + path + ": " + why +
                             " (write one with `harness eval --record DIR`)");
  };
  if (store.num_episodes() != 1) {
    fail("expected one demo, found " + std::to_string(store.num_episodes()));
  }
  for (const char* key : {"states", "actions", "rewards", "next_obs/flat_state", "next_obs/score",
                          "next_obs/success", "obs/action_chunk", "obs/chunk_pos"}) {
    if (!store.f64.count(key)) fail(std::string("no dataset ") + key + " (not a recorded rollout)");
  }
  RecordedRollout r;
  r.meta = store.ep_meta.at(0);
  if (!r.meta.is_object() || !r.meta.contains("task") || !r.meta.contains("seed")) {
    fail("ep_meta has no task/seed");
  }
  const ArrayF64& states = store.f64.at("states");
  const ArrayF64& next = store.f64.at("next_obs/flat_state");
  const int64_t n = states.rows();
  if (n < 1 || next.rows() != n || next.row_size() != states.row_size()) fail("bad state arrays");
  r.states.shape = {n + 1, states.row_size()};
  r.states.data = states.data;
  r.states.data.insert(r.states.data.end(), next.row(n - 1), next.row(n - 1) + next.row_size());
  r.actions = store.f64.at("actions");
  r.chunks = store.f64.at("obs/action_chunk");
  r.rewards = store.f64.at("rewards").data;
  r.scores = store.f64.at("next_obs/score").data;
  for (double v : store.f64.at("next_obs/success").data) r.successes.push_back(v != 0 ? 1 : 0);
  for (double v : store.f64.at("obs/chunk_pos").data) r.chunk_pos.push_back(static_cast<int>(v));
  if (r.actions.rows() != n || r.chunks.rows() != n || static_cast<int64_t>(r.scores.size()) != n ||
      static_cast<int64_t>(r.chunk_pos.size()) != n) {
    fail("datasets of different lengths");
  }
  return r;
}

struct RolloutRecorder::Episode {
  RecordedRollout rollout;
  std::vector<std::vector<double>> states, actions;
  std::vector<double> chunk;  // (H, Da) of the current chunk, NaN where not returned
  int offset = 0;             // horizon index of the current chunk's first executed action
  int pos = 0;                // actions of the current chunk taken so far
  nlohmann::json env_args;
};

RolloutRecorder::RolloutRecorder(std::string dir, const PolicySpec& spec, nlohmann::json meta,
                                 int max_episodes)
    : dir_(std::move(dir)), spec_(spec), meta_(std::move(meta)), max_episodes_(max_episodes) {
  if (dir_.empty()) throw std::invalid_argument("--record: empty directory");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
}

RolloutRecorder::~RolloutRecorder() = default;

bool RolloutRecorder::Wants(int episode) const {
  return max_episodes_ < 0 || episode < max_episodes_;
}

RolloutRecorder::Episode& RolloutRecorder::Get(int episode) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = episodes_[episode];
  if (!e) e = std::make_unique<Episode>();
  return *e;
}

void RolloutRecorder::OnReset(int episode, uint64_t seed, Task& task) {
  Episode& e = Get(episode);
  e = Episode();
  e.rollout.meta = meta_;
  e.rollout.meta["task"] = task.spec().name;
  e.rollout.meta["seed"] = seed;
  e.rollout.meta["obs_steps"] = spec_.obs_steps;
  e.rollout.meta["action_steps"] = spec_.action_steps;
  e.rollout.meta["horizon"] = spec_.horizon;
  nlohmann::json images = nlohmann::json::array();
  for (const PolicyObsKey& k : spec_.obs) {
    if (k.is_image) images.push_back(k.key);
  }
  e.rollout.meta["policy_images"] = images;
  e.rollout.meta["action_mode"] =
      task.action_mode() == ActionMode::kAbsolute ? "absolute" : "delta";
  e.states.push_back(task.sim().FlatState());
  e.env_args = {{"env_name", task.spec().env_name}, {"type", 1}, {"env_kwargs", task.EnvKwargs()}};
}

void RolloutRecorder::OnChunk(int episode, const ActionChunk& chunk, int row) {
  Episode& e = Get(episode);
  HorizonChunk h = PlaceInHorizon(chunk, row, spec_);
  e.chunk = std::move(h.values);
  e.offset = h.exec_begin;
  e.pos = 0;
}

void RolloutRecorder::OnStep(int episode, Task& task, const std::vector<double>& action,
                             const Outcome& outcome) {
  Episode& e = Get(episode);
  RecordedRollout& r = e.rollout;
  e.actions.push_back(action);
  e.states.push_back(task.sim().FlatState());
  r.chunks.data.insert(r.chunks.data.end(), e.chunk.begin(), e.chunk.end());
  r.chunk_pos.push_back(e.offset + e.pos++);
  r.rewards.push_back(outcome.reward);
  r.scores.push_back(outcome.score);
  r.successes.push_back(outcome.success ? 1 : 0);
}

void RolloutRecorder::OnEpisodeEnd(int episode, Task& task, const EpisodeResult& result) {
  std::unique_ptr<Episode> owned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = episodes_.find(episode);
    if (it == episodes_.end()) return;
    owned = std::move(it->second);
    episodes_.erase(it);
  }
  Episode& e = *owned;
  RecordedRollout& r = e.rollout;
  const int64_t n = static_cast<int64_t>(e.actions.size());
  if (n == 0) return;  // nothing happened (the first step threw)
  const int64_t s = static_cast<int64_t>(e.states.front().size());
  const int64_t d = static_cast<int64_t>(e.actions.front().size());
  r.states.shape = {n + 1, s};
  for (const auto& st : e.states) r.states.data.insert(r.states.data.end(), st.begin(), st.end());
  r.actions.shape = {n, d};
  for (const auto& a : e.actions) r.actions.data.insert(r.actions.data.end(), a.begin(), a.end());
  r.chunks.shape = {n, spec_.horizon, d};
  r.meta["success"] = result.success;
  r.meta["score"] = result.score;
  r.meta["steps"] = result.steps;
  r.meta["error"] = result.error;
  const std::string path =
      (std::filesystem::path(dir_) / ("episode_" + std::to_string(result.seed) + ".hdf5")).string();
  WriteRecordedRollout(r, path, e.env_args);
  std::lock_guard<std::mutex> lock(mu_);
  written_.push_back(path);
}

std::vector<std::string> RolloutRecorder::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

// ---- MP4 ---------------------------------------------------------------------------------------

struct Mp4Writer::Impl {
  cv::VideoWriter writer;
  cv::Mat bgr;
  std::string tmp;
};

Mp4Writer::Mp4Writer(const std::string& path, int width, int height, double fps)
    : impl_(std::make_unique<Impl>()), path_(path), width_(width), height_(height) {
  if (width <= 0 || height <= 0 || fps <= 0) {
    throw std::invalid_argument("Mp4Writer: bad size " + std::to_string(width) + "x" +
                                std::to_string(height) + " or fps");
  }
  // The container is picked from the extension: write "<stem>.tmp.mp4", rename on Close().
  std::filesystem::path p(path);
  impl_->tmp = (p.parent_path() / (p.stem().string() + ".tmp" + p.extension().string())).string();
  impl_->writer.open(impl_->tmp, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps,
                     cv::Size(width, height), true);
  if (!impl_->writer.isOpened()) {
    throw std::runtime_error("cannot open " + impl_->tmp +
                             " for MP4 writing (OpenCV videoio without FFmpeg, or a bad path)");
  }
}

Mp4Writer::~Mp4Writer() {
  try {
    Close();
  } catch (...) {
  }
}

void Mp4Writer::Add(const Image& frame) {
  if (frame.width != width_ || frame.height != height_) {
    throw std::runtime_error("Mp4Writer " + path_ + ": frame is " + std::to_string(frame.width) +
                             "x" + std::to_string(frame.height) + ", the video " +
                             std::to_string(width_) + "x" + std::to_string(height_));
  }
  Add(frame.pixels.data(), 3u * static_cast<size_t>(frame.width));
}

void Mp4Writer::Add(const uint8_t* rgb, size_t stride) {
  if (!impl_->writer.isOpened()) throw std::runtime_error("Mp4Writer " + path_ + ": closed");
  const cv::Mat view(height_, width_, CV_8UC3, const_cast<uint8_t*>(rgb), stride);
  cv::cvtColor(view, impl_->bgr, cv::COLOR_RGB2BGR);
  impl_->writer.write(impl_->bgr);
  ++frames_;
}

void Mp4Writer::Close() {
  if (!impl_ || !impl_->writer.isOpened()) return;
  impl_->writer.release();
  RenameInto(impl_->tmp, path_);
}

// ---- headless videos ---------------------------------------------------------------------------

struct RolloutVideo::Episode {
  std::unique_ptr<Renderer> renderer;  // on the episode's worker thread
  std::unique_ptr<Mp4Writer> mp4;
  int camera = 0;
  Image frame;
  std::string path;
};

RolloutVideo::RolloutVideo(std::string dir, int max_episodes, int size)
    : dir_(std::move(dir)), max_episodes_(max_episodes), size_(size) {
  if (dir_.empty()) throw std::invalid_argument("--video: empty directory");
  if (size_ < 16 || size_ > 2048) throw std::invalid_argument("video size must be 16..2048");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
}

RolloutVideo::~RolloutVideo() = default;

void RolloutVideo::OnReset(int episode, uint64_t seed, Task& task) {
  auto e = std::make_unique<Episode>();
  const TaskSpec& ts = task.spec();
  if (ts.cameras.empty()) throw std::runtime_error("task " + ts.name + " has no camera");
  e->camera = task.sim().Id(mjOBJ_CAMERA, ts.cameras.front());
  RenderOptions ro;
  ro.fast = true;
  ro.max_width = ro.max_height = size_;
  e->renderer = std::make_unique<Renderer>(task.sim().model(), ro);
  e->path = (std::filesystem::path(dir_) / ("episode_" + std::to_string(seed) + ".mp4")).string();
  e->mp4 = std::make_unique<Mp4Writer>(e->path, size_, size_, ts.control_hz);
  e->renderer->Render(task.sim().data(), e->camera, size_, size_, &e->frame);
  e->mp4->Add(e->frame);
  std::lock_guard<std::mutex> lock(mu_);
  episodes_[episode] = std::move(e);
}

void RolloutVideo::OnStep(int episode, Task& task, const std::vector<double>&, const Outcome&) {
  Episode* e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = episodes_.at(episode).get();
  }
  e->renderer->Render(task.sim().data(), e->camera, size_, size_, &e->frame);
  e->mp4->Add(e->frame);
}

void RolloutVideo::OnEpisodeEnd(int episode, Task&, const EpisodeResult&) {
  std::unique_ptr<Episode> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = episodes_.find(episode);
    if (it == episodes_.end()) return;
    e = std::move(it->second);
    episodes_.erase(it);
  }
  e->renderer.reset();  // on this (the GL context's) thread
  e->mp4->Close();
  std::lock_guard<std::mutex> lock(mu_);
  written_.push_back(e->path);
}

std::vector<std::string> RolloutVideo::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

}  // namespace onedp
