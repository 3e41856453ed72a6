#include "harness/collect.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <mujoco/mujoco.h>

#include "harness/episode.h"
#include "harness/progress.h"
#include "harness/run_info.h"
#include "sim/rng.h"
#include "tasks/common/operators.h"
#include "tasks/task_registry.h"

namespace onedp {
namespace {

std::atomic<bool> g_stop{false};

struct Attempt {
  int64_t index = 0;
  bool success = false;
  std::string reason;  // why it was rejected
  EpisodeRecord record;
};

void AppendRow(ArrayF64* a, const std::vector<double>& row) {
  if (a->shape.empty()) a->shape = {0, static_cast<int64_t>(row.size())};
  a->data.insert(a->data.end(), row.begin(), row.end());
  ++a->shape[0];
}

void AppendImage(ArrayU8* a, const Image& img) {
  if (a->shape.empty()) a->shape = {0, img.height, img.width, 3};
  a->data.insert(a->data.end(), img.pixels.begin(), img.pixels.end());
  ++a->shape[0];
}

// Splits frames 0..N into obs (0..N-1) and next_obs (1..N).
template <typename T>
void SplitObs(const NdArray<T>& frames, NdArray<T>* obs, NdArray<T>* next) {
  const int64_t n = frames.rows() - 1;
  const int64_t row = frames.row_size();
  obs->shape = frames.shape;
  obs->shape[0] = n;
  next->shape = obs->shape;
  obs->data.assign(frames.data.begin(), frames.data.begin() + n * row);
  next->data.assign(frames.data.begin() + row, frames.data.end());
}

Attempt RunAttempt(Task& task, const OperatorProfile& op, uint64_t seed, int64_t index,
                   bool images) {
  Attempt at;
  at.index = index;
  task.SetActionMode(ActionMode::kDelta);
  task.Reset(seed);
  std::unique_ptr<Expert> expert = task.MakeExpert(op, seed);
  EpisodeRecord& rec = at.record;
  std::map<std::string, ArrayF64> lowdim_frames;
  std::map<std::string, ArrayU8> image_frames;
  Observation obs;
  auto observe = [&] {
    task.Observe(&obs, images);
    for (const auto& [k, v] : obs.lowdim) AppendRow(&lowdim_frames[k], v);
    for (const auto& [k, v] : obs.images) AppendImage(&image_frames[k], v);
  };
  observe();
  const int horizon = task.spec().CollectHorizon();
  bool success = false;
  for (int t = 0; t < horizon && !success && !g_stop; ++t) {
    const std::vector<double> action = expert->Act();
    AppendRow(&rec.states, task.sim().FlatState());
    task.Step(action);
    if (!task.episode_error().empty()) break;
    AppendRow(&rec.actions, action);
    AppendRow(&rec.actions_abs, task.LastAbsAction());
    const Outcome out = task.Evaluate();
    success = out.success;
    rec.rewards.push_back(out.reward);
    rec.dones.push_back(success ? 1 : 0);
    observe();
  }
  std::vector<std::string> warnings = task.TakeWarnings();
  if (!task.episode_error().empty()) {
    at.reason = "episode error";
    rec.ep_meta["error"] = task.episode_error();
  } else if (!success) {
    at.reason = g_stop ? "interrupted" : "no success within horizon";
  }
  at.success = success && task.episode_error().empty();
  if (!at.success) return at;

  rec.num_samples = static_cast<int64_t>(rec.rewards.size());
  rec.dones.back() = 1;
  for (const auto& [k, frames] : lowdim_frames) SplitObs(frames, &rec.obs[k], &rec.next_obs[k]);
  for (const auto& [k, frames] : image_frames) {
    SplitObs(frames, &rec.obs_images[k], &rec.next_obs_images[k]);
  }
  rec.model_file = task.ModelXml();
  rec.ep_meta = task.EpisodeMeta();
  rec.ep_meta["seed"] = seed;
  rec.ep_meta["attempt"] = index;
  rec.ep_meta["operator"] = op.name;
  rec.ep_meta["quality"] = op.quality;
  rec.ep_meta["warnings"] = warnings;
  return at;
}

// Fisher-Yates with our own Rng, so the split depends on the seed only.
std::vector<std::string> Shuffled(std::vector<std::string> v, uint64_t seed) {
  Rng rng(seed, /*stream=*/0x5911);
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.UniformInt(0, static_cast<int>(i))]);
  return v;
}

// The checkpoint state's format (collect.h); a .tmp with another one is not resumed.
constexpr int kCheckpointFormat = 1;

// How an option of the checkpoint's "options" reads on the command line, for error messages.
std::string DescribeOption(const std::string& key, const nlohmann::json* value) {
  if (!value) return key + " (not recorded)";
  const nlohmann::json& v = *value;
  if (key == "task" && v.is_string()) return "--task " + v.get<std::string>();
  if (key == "images" && v.is_boolean()) return v.get<bool>() ? "images (no --no-images)" : "--no-images";
  if (key == "seed") return "--seed " + v.dump();
  if (key == "episodes") return "--episodes " + v.dump();
  if (key == "valid_ratio") return "--valid-ratio " + v.dump();
  return key + " " + v.dump();  // max_attempts: a CollectOptions field without a flag (0: default)
}

// An int array of `n` non-negative entries, or throws naming `key`.
std::vector<int> IntArray(const nlohmann::json& state, const char* key, size_t n) {
  const nlohmann::json& a = state.at(key);
  if (!a.is_array() || a.size() != n) {
    throw std::runtime_error(std::string(key) + " is not an array of " + std::to_string(n));
  }
  std::vector<int> out;
  for (const auto& v : a) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      throw std::runtime_error(std::string(key) + " holds " + v.dump());
    }
    out.push_back(v.get<int>());
  }
  return out;
}

int NonNegativeInt(const nlohmann::json& state, const char* key) {
  const nlohmann::json& v = state.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1LL << 31) - 1) {
    throw std::runtime_error(std::string(key) + " is " + v.dump());
  }
  return v.get<int>();
}

}  // namespace

void RequestStop() { g_stop = true; }
bool StopRequested() { return g_stop; }

CollectReport Collect(const CollectOptions& options) {
  CollectOptions o = options;
  if (o.episodes < 0) {
    throw std::invalid_argument("--episodes must be positive (got " + std::to_string(o.episodes) + ")");
  }
  if (o.out.empty()) throw std::invalid_argument("--out is required");
  const TaskEntry& entry = FindTask(o.task);
  std::unique_ptr<Task> probe = entry.make();  // validates the task and gives its metadata
  const TaskSpec spec = probe->spec();
  const std::vector<OperatorProfile> ops = OperatorsForVariant(spec.variant);
  const int n_ops = static_cast<int>(ops.size());
  if (o.episodes == 0) o.episodes = n_ops > 1 ? 50 * n_ops : 200;  // robomimic PH 200, MH 6 x 50
  std::vector<int> quota(n_ops, o.episodes / n_ops);
  for (int j = 0; j < o.episodes % n_ops; ++j) ++quota[j];
  const int64_t max_attempts = o.max_attempts > 0 ? o.max_attempts : 10LL * o.episodes;

  namespace fs = std::filesystem;
  const std::string tmp = o.out + ".tmp";
  std::error_code ec;
  if (fs::exists(o.out, ec) && !o.overwrite) {
    throw std::runtime_error("dataset " + o.out + " exists; pass --overwrite to replace it");
  }
  // What determines the file's content (collect.h): a .tmp made with other values is not resumed.
  const nlohmann::json options_json = {{"task", spec.name},
                                       {"seed", o.seed},
                                       {"episodes", o.episodes},
                                       {"images", o.images},
                                       {"valid_ratio", o.valid_ratio},
                                       {"max_attempts", o.max_attempts}};  // 0: 10 x episodes
  const nlohmann::json versions = RunVersions();

  std::vector<int> kept_per_op(n_ops, 0);  // demos kept so far, in attempt order
  std::vector<int> attempts_per_op(n_ops, 0);  // counted attempts (kept + rejected)
  std::vector<int> demo_ops;               // operator index of each demo, in file order
  int64_t next_write = 0;                  // next attempt index to examine in order
  CollectReport report;

  // A resumable <out>.tmp: check it (exit 2 for other options; unreadable or inconsistent ones
  // only start over with --overwrite) and restore the counters of its last checkpoint.
  DatasetWriter::Mode mode = DatasetWriter::Mode::kKeep;
  if (fs::exists(tmp, ec)) {
    std::string unusable;
    TempCheckpoint cp;
    try {
      cp = DatasetWriter::ReadCheckpoint(tmp);
    } catch (const std::exception& e) {
      unusable = e.what();
    }
    // No complete demo (killed before the first was written): nothing to keep, so start over
    // whatever its options.
    const bool empty = unusable.empty() && cp.demos == 0;
    if (empty) {
      unusable = "it holds no complete demo";
    } else if (unusable.empty()) {
      const nlohmann::json& st = cp.state;
      if (!st.is_object() || !st.contains("format") || st["format"] != kCheckpointFormat ||
          !st.contains("options") || !st["options"].is_object()) {
        unusable = "its checkpoint is not a collect checkpoint of format " +
                   std::to_string(kCheckpointFormat);
      } else {
        std::vector<std::string> diffs;
        for (const auto& [key, here] : options_json.items()) {
          const nlohmann::json* there = st["options"].contains(key) ? &st["options"][key] : nullptr;
          if (!there || *there != here) {
            diffs.push_back(DescribeOption(key, there) + " there, " + DescribeOption(key, &here) +
                            " here");
          }
        }
        if (!diffs.empty()) {
          std::string list;
          for (const auto& d : diffs) list += (list.empty() ? "" : "; ") + d;
          throw std::invalid_argument(
              tmp + " holds an interrupted collection made with other options (" + list +
              "): pass the same options to resume it, or delete " + tmp + " to start over");
        }
      }
    }
    if (unusable.empty()) {
      try {
        const nlohmann::json& st = cp.state;
        kept_per_op = IntArray(st, "kept_per_operator", n_ops);
        attempts_per_op = IntArray(st, "attempts_per_operator", n_ops);
        demo_ops = IntArray(st, "demo_operators", static_cast<size_t>(cp.demos));
        report.attempts = NonNegativeInt(st, "attempts");
        report.rejected = NonNegativeInt(st, "rejected");
        next_write = NonNegativeInt(st, "next_attempt");
        int rejected = 0;
        for (const auto& [why, n] : st.at("reject_reasons").items()) {
          report.reject_reasons[why] = n.get<int>();
          rejected += n.get<int>();
        }
        int kept = 0, attempts = 0;
        std::vector<int> demos_of(n_ops, 0);
        for (int d : demo_ops) {
          if (d >= n_ops) throw std::runtime_error("demo_operators holds " + std::to_string(d));
          ++demos_of[d];
        }
        for (int j = 0; j < n_ops; ++j) {
          kept += kept_per_op[j];
          attempts += attempts_per_op[j];
          if (kept_per_op[j] > quota[j] || kept_per_op[j] > attempts_per_op[j] ||
              demos_of[j] != kept_per_op[j]) {
            throw std::runtime_error("the counts of operator " + ops[j].name + " do not add up");
          }
        }
        if (kept != cp.demos || attempts != report.attempts || rejected != report.rejected ||
            report.attempts - report.rejected != cp.demos || next_write < report.attempts ||
            next_write > max_attempts || cp.demos > o.episodes) {
          throw std::runtime_error("its demo, attempt and rejection counts do not add up");
        }
      } catch (const std::exception& e) {
        unusable = std::string("its collect checkpoint is inconsistent (") + e.what() + ")";
        kept_per_op.assign(n_ops, 0);
        attempts_per_op.assign(n_ops, 0);
        demo_ops.clear();
        report = CollectReport();
        next_write = 0;
      }
    }
    if (unusable.empty()) {
      mode = DatasetWriter::Mode::kResume;
      report.kept = static_cast<int>(cp.demos);
      report.samples = cp.total;
      report.resumed_demos = report.kept;
      report.resumed_attempts = report.attempts;
      nlohmann::json there = cp.state.contains("versions") ? cp.state["versions"] : nlohmann::json();
      if (!there.is_object()) there = nlohmann::json::object();
      for (const auto& [key, here] : versions.items()) {
        if (!there.contains(key) || there[key] != here) {
          std::cerr << "collect: warning: " << tmp << " was written by another build ("
                    << key << " " << there.value(key, nlohmann::json("unknown")).dump() << ", here "
                    << here.dump() << "); its demos may differ from what this build writes\n";
        }
      }
    } else if (empty) {
      std::cerr << "collect: " << tmp << " holds no complete demo; starting over\n";
    } else if (!o.overwrite) {
      throw std::runtime_error("cannot resume from " + tmp + ": " + unusable +
                               ". Pass --overwrite to delete it and start over");
    } else {
      std::cerr << "collect: cannot resume from " << tmp << " (" << unusable
                << "); --overwrite: starting over\n";
    }
  }

  // Opens <out>.tmp now, so a bad path fails before any work.
  DatasetWriter writer(o.out, o.overwrite, mode);
  if (mode == DatasetWriter::Mode::kResume) {
    if (writer.count() != report.kept) {
      throw std::runtime_error(tmp + " changed while it was being resumed");
    }
    for (const std::string& name : writer.resumed().partial) {
      std::cerr << "collect: " << tmp << ": discarded " << name
                << ", written after the last checkpoint (cut off by the interruption)\n";
    }
    std::cerr << "collect " << spec.name << ": resuming from " << report.kept << " demos ("
              << report.attempts << " attempts) in " << tmp << "\n";
  }
  int stop_after = 0;  // test hook (collect.h)
  if (const char* env = std::getenv("ONEDP_COLLECT_STOP_AFTER")) stop_after = std::atoi(env);

  const int workers = o.workers > 0 ? o.workers
                                    : std::max(1u, std::thread::hardware_concurrency());
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, Attempt> finished;  // out-of-order results waiting for their turn
  int64_t next_issue = next_write;      // next attempt index a worker may take
  bool done = report.kept >= o.episodes;  // a resumed file may only lack Finish()
  std::string worker_error;

  auto worker = [&] {
    try {
      std::unique_ptr<Task> task = entry.make();  // own model, data and GL context
      while (true) {
        int64_t k;
        {
          std::unique_lock<std::mutex> lock(mu);
          // Bounded look-ahead keeps memory flat while results wait to be written in order.
          cv.wait(lock, [&] { return done || g_stop || finished.size() < 4u * workers; });
          // An operator whose quota is already filled (in attempt order) can never use a later
          // attempt: skip it rather than simulate an episode that would be discarded.
          while (next_issue < max_attempts && kept_per_op[next_issue % n_ops] >= quota[next_issue % n_ops]) {
            ++next_issue;
          }
          if (done || g_stop || next_issue >= max_attempts) return;
          k = next_issue++;
        }
        Attempt a = RunAttempt(*task, ops[k % n_ops], o.seed + k, k, o.images);
        {
          std::lock_guard<std::mutex> lock(mu);
          finished.emplace(k, std::move(a));
        }
        cv.notify_all();
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      if (worker_error.empty()) worker_error = e.what();
      done = true;
      cv.notify_all();
    }
  };

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker);

  Progress progress("collect " + spec.name, o.episodes);
  if (report.resumed_demos > 0) progress.Rebase(report.resumed_demos);
  std::vector<std::string> demo_names;
  std::map<std::string, std::vector<std::string>> quality_masks;
  for (size_t i = 0; i < demo_ops.size(); ++i) {
    demo_names.push_back("demo_" + std::to_string(i));
    if (spec.variant == "mh") quality_masks[ops[demo_ops[i]].quality].push_back(demo_names.back());
  }
  int durable_attempts = report.attempts;  // attempts counted by the .tmp's last checkpoint
  // The checkpoint stored with a demo: the counters after it, examination resuming at `next`.
  auto checkpoint_state = [&](int64_t next) {
    return nlohmann::json{{"format", kCheckpointFormat},
                          {"options", options_json},
                          {"versions", versions},
                          {"next_attempt", next},
                          {"attempts", report.attempts},
                          {"rejected", report.rejected},
                          {"reject_reasons", report.reject_reasons},
                          {"kept_per_operator", kept_per_op},
                          {"attempts_per_operator", attempts_per_op},
                          {"demo_operators", demo_ops}};
  };
  {
    std::unique_lock<std::mutex> lock(mu);
    while (!done) {
      cv.wait_for(lock, std::chrono::milliseconds(200),
                  [&] { return done || finished.count(next_write); });
      if (g_stop) break;
      while (!done && next_write < max_attempts) {
        // After a stop request, results may be "interrupted" failures: count none of them.
        if (g_stop) break;
        const int j = static_cast<int>(next_write % n_ops);
        // A filled operator's later attempts do not count: workers skip them, and a result that
        // was already running is dropped.
        const bool full = kept_per_op[j] >= quota[j];
        if (!full && !finished.count(next_write)) break;
        Attempt a;
        if (finished.count(next_write)) {
          a = std::move(finished.at(next_write));
          finished.erase(next_write);
        }
        ++next_write;
        if (full) continue;
        ++report.attempts;
        ++attempts_per_op[j];
        if (!a.success) {
          ++report.rejected;
          ++report.reject_reasons[a.reason];
          continue;
        }
        ++kept_per_op[j];
        ++report.kept;
        report.samples += a.record.num_samples;
        demo_ops.push_back(j);
        const nlohmann::json state = checkpoint_state(next_write);
        lock.unlock();
        std::string name, write_error;
        try {
          name = writer.Append(a.record, state);  // returns once the demo and checkpoint are on disk
        } catch (const std::exception& e) {
          write_error = e.what();
        }
        lock.lock();
        if (!write_error.empty()) {
          worker_error = write_error;
          done = true;
          break;
        }
        durable_attempts = report.attempts;
        demo_names.push_back(name);
        if (spec.variant == "mh") quality_masks[ops[j].quality].push_back(name);
        if (stop_after > 0 && report.kept == stop_after) {
          std::cerr << "\ncollect: ONEDP_COLLECT_STOP_AFTER=" << stop_after << ": killing itself after "
                    << report.kept << " demos (test hook)" << std::endl;
          std::raise(SIGKILL);
        }
        if (report.kept == o.episodes) done = true;
      }
      finished.erase(finished.begin(), finished.lower_bound(next_write));  // late skipped results
      cv.notify_all();
      progress.Update(report.kept, "attempts " + std::to_string(report.attempts) + ", rejected " +
                                       std::to_string(report.rejected));
      if (!done && next_write >= max_attempts) {
        done = true;
        worker_error = "could not collect " + std::to_string(o.episodes) + " successful demos in " +
                       std::to_string(max_attempts) + " attempts (" + std::to_string(report.kept) +
                       " kept); the expert is failing on this task";
      }
      if (!worker_error.empty()) done = true;
    }
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  const std::string kept_note =
      writer.count() > 0 ? tmp + " keeps the " + std::to_string(writer.count()) + " demos (" +
                               std::to_string(durable_attempts) + " attempts) written so far"
                         : std::string();
  if (g_stop) {
    throw std::runtime_error("interrupted; " + (kept_note.empty() ? "nothing written to " + o.out
                                                                  : kept_note +
                                                                        ": rerun the same command to resume"));
  }
  if (!worker_error.empty()) {
    throw std::runtime_error(worker_error + (kept_note.empty() ? "" : " (" + kept_note + ")"));
  }

  // Masks: train/valid split, and for MH the operator-quality keys as robomimic ships them.
  std::map<std::string, std::vector<std::string>> masks;
  auto split = [&](const std::string& prefix, const std::vector<std::string>& names) {
    std::vector<std::string> shuffled = Shuffled(names, o.seed);
    const size_t n_valid = static_cast<size_t>(o.valid_ratio * names.size());
    std::vector<std::string> valid(shuffled.begin(), shuffled.begin() + n_valid);
    std::vector<std::string> train(shuffled.begin() + n_valid, shuffled.end());
    auto by_index = [](const std::string& a, const std::string& b) {
      return std::stoll(a.substr(5)) < std::stoll(b.substr(5));
    };
    std::sort(valid.begin(), valid.end(), by_index);
    std::sort(train.begin(), train.end(), by_index);
    masks[prefix + "train"] = train;
    masks[prefix + "valid"] = valid;
  };
  split("", demo_names);
  if (spec.variant == "mh") {
    const std::vector<std::pair<std::string, std::vector<std::string>>> combos = {
        {"worse", {"worse"}},           {"okay", {"okay"}},
        {"better", {"better"}},         {"worse_okay", {"worse", "okay"}},
        {"worse_better", {"worse", "better"}}, {"okay_better", {"okay", "better"}}};
    for (const auto& [key, parts] : combos) {
      std::vector<std::string> names;
      for (const auto& n : demo_names) {
        for (const auto& p : parts) {
          const auto& q = quality_masks[p];
          if (std::find(q.begin(), q.end(), n) != q.end()) names.push_back(n);
        }
      }
      std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return std::stoll(a.substr(5)) < std::stoll(b.substr(5));
      });
      masks[key] = names;
      split(key + "_", names);
    }
  }

  nlohmann::json operators = nlohmann::json::array();
  for (int j = 0; j < n_ops; ++j) {
    operators.push_back({{"name", ops[j].name},
                         {"quality", ops[j].quality},
                         {"kept", kept_per_op[j]},
                         {"attempts", attempts_per_op[j]}});
    report.kept_per_operator[ops[j].name] = kept_per_op[j];
    report.attempts_per_operator[ops[j].name] = attempts_per_op[j];
  }
  const nlohmann::json conventions = probe->DatasetConventions();
  nlohmann::json onedp = {{"task", spec.name},
                          {"variant", spec.variant},
                          {"horizon", spec.max_steps},
                          {"collect_horizon", spec.CollectHorizon()},
                          {"source", "scripted expert"},
                          {"operators", operators},
                          {"seed", o.seed},
                          {"attempts", report.attempts},
                          {"rejected", report.rejected},
                          {"versions", RunVersions()}};
  for (const auto& [k, v] : conventions.items()) {
    if (k != "env_type") onedp[k] = v;
  }
  const nlohmann::json env_args = {{"env_name", spec.env_name},
                                   {"type", conventions.value("env_type", 1)},
                                   {"env_kwargs", probe->EnvKwargs()},
                                   {"onedp", onedp}};
  writer.Finish(env_args, masks);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.Finish("attempts " + std::to_string(report.attempts) + ", rejected " +
                  std::to_string(report.rejected));
  return report;
}

}  // namespace onedp
