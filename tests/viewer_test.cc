// The viewer's data paths and the viewer binary:
//   - recorded rollouts: RolloutRecorder inside RunRollouts (tiny random-weight policy) -> HDF5 ->
//     ReadRecordedRollout gives back exactly the states, actions and outcomes the run produced, and
//     recording does not change the run;
//   - Mp4Writer: a file cv::VideoCapture reads back with the right frame count;
//   - the viewer binary under xvfb-run (skipped without xvfb-run): a recorded rollout and a
//     dataset demo for a few frames, screenshot non-blank, ImGui panel and scene regions differ;
//     bad input and a missing display give clear errors and non-zero exits.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness/rollout.h"
#include "tasks/task_registry.h"
#include "tests/shell_util.h"
#ifdef BENCH_WITH_POLICIES
#include "harness/policy_jobs.h"
#include "policies/registry.h"
#endif

namespace onedp {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("viewer_test_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Captures what a run did, in memory, next to the recorder.
class Capture : public RolloutObserver {
 public:
  void OnReset(int, uint64_t, Task& task) override { states.push_back(task.sim().FlatState()); }
  void OnStep(int, Task& task, const std::vector<double>& action, const Outcome& out) override {
    states.push_back(task.sim().FlatState());
    actions.push_back(action);
    scores.push_back(out.score);
  }
  std::vector<std::vector<double>> states, actions;
  std::vector<double> scores;
};

// A PushT episode stepped with fixed actions, written as a recorded rollout (no policy needed).
std::string WriteScriptedRollout(const fs::path& dir, int steps) {
  auto task = MakeTask("pusht");
  task->SetActionMode(ActionMode::kAbsolute);
  task->Reset(7);
  RecordedRollout r;
  r.meta = {{"task", "pusht"},   {"seed", 7},     {"policy", "scripted"},     {"obs_steps", 2},
            {"action_steps", 8}, {"horizon", 16}, {"action_mode", "absolute"}};
  std::vector<double> states = task->sim().FlatState();
  const int h = 16, d = 2;
  for (int t = 0; t < steps; ++t) {
    const std::vector<double> a = {200.0 + 5 * t, 300.0 - 3 * t};
    task->Step(a);
    const Outcome out = task->Evaluate();
    const std::vector<double> s = task->sim().FlatState();
    states.insert(states.end(), s.begin(), s.end());
    r.actions.data.insert(r.actions.data.end(), a.begin(), a.end());
    std::vector<double> chunk(h * d, std::nan(""));
    for (int k = 1; k < 9; ++k) {
      chunk[k * d] = a[0] + 5 * (k - 1 - t % 8);
      chunk[k * d + 1] = a[1] - 3 * (k - 1 - t % 8);
    }
    r.chunks.data.insert(r.chunks.data.end(), chunk.begin(), chunk.end());
    r.chunk_pos.push_back(1 + t % 8);
    r.rewards.push_back(out.reward);
    r.scores.push_back(out.score);
    r.successes.push_back(out.success ? 1 : 0);
  }
  const int64_t s = task->sim().FlatStateSize();
  r.states.shape = {steps + 1, s};
  r.states.data = states;
  r.actions.shape = {steps, d};
  r.chunks.shape = {steps, h, d};
  const std::string path = (dir / "episode_7.hdf5").string();
  WriteRecordedRollout(r, path);
  return path;
}

TEST(RecordedRollout, WriteReadKeepsEveryArray) {
  const fs::path dir = TempDir("rw");
  const std::string path = WriteScriptedRollout(dir, 12);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const RecordedRollout r = ReadRecordedRollout(path);
  EXPECT_EQ(r.meta.at("task"), "pusht");
  EXPECT_EQ(r.meta.at("seed"), 7);
  EXPECT_EQ(r.num_steps(), 12);
  EXPECT_EQ(r.states.rows(), 13);
  ASSERT_EQ(r.chunks.shape, (std::vector<int64_t>{12, 16, 2}));
  EXPECT_TRUE(std::isnan(r.chunks.data[0]));  // horizon step 0 was not returned
  EXPECT_EQ(r.chunk_pos[3], 4);
  // The states replay: a fresh task set to each recorded state reports the same state.
  auto task = MakeTask("pusht");
  task->Reset(7);
  for (int64_t t = 0; t < r.states.rows(); ++t) {
    const std::vector<double> s(r.states.row(t), r.states.row(t) + r.states.row_size());
    task->sim().SetFlatState(s);
    EXPECT_EQ(task->sim().FlatState(), s);
  }
  EXPECT_THROW(ReadRecordedRollout((dir / "missing.hdf5").string()), std::runtime_error);
  fs::remove_all(dir);
}

#ifdef BENCH_WITH_POLICIES
// A random-weight tiny Diffusion Policy for PushT low-dim observations.
std::unique_ptr<Policy> TinyPushTPolicy() {
  const TaskSpec ts = MakeTask("pusht")->spec();
  const PolicySpec spec = PolicySpecForTask(ts, "lowdim");
  Normalizer n;
  for (const auto& k : spec.obs) {
    std::vector<double> rows(2 * k.shape[0]);
    for (int i = 0; i < k.shape[0]; ++i) rows[k.shape[0] + i] = 512;
    n.Fit(k.key, rows.data(), 2, k.shape[0]);
  }
  std::vector<double> a(2 * spec.action_dim);
  for (int i = 0; i < spec.action_dim; ++i) a[i] = 100, a[spec.action_dim + i] = 400;
  n.Fit("action", a.data(), 2, spec.action_dim);
  return CreatePolicy("dp-ddpm", spec, PresetConfig("dp-ddpm", "tiny"), n, 3);
}

TEST(RecordedRollout, RecordLoadGivesTheRunsStates) {
  const fs::path dir = TempDir("record");
  auto policy = TinyPushTPolicy();
  RolloutOptions o;
  o.episodes = 2;
  o.start_seed = 100000;
  o.max_steps = 20;
  o.workers = 1;
  o.sample.sampler = SamplerSpec::Parse("ddim:2");
  const RolloutReport plain = RunRollouts(*policy, "pusht", o);

  RolloutRecorder recorder(dir.string(), policy->spec(),
                           {{"policy", "dp-ddpm"}, {"sampler", "ddim:2"}});
  Capture capture;  // sees episode 0 and 1 in turn (one env at a time: num_envs 1)
  o.num_envs = 1;
  o.observers = {&recorder, &capture};
  const RolloutReport recorded = RunRollouts(*policy, "pusht", o);
  ASSERT_EQ(recorded.episodes.size(), plain.episodes.size());
  for (size_t i = 0; i < plain.episodes.size(); ++i) {  // recording does not change the run
    EXPECT_EQ(recorded.episodes[i].steps, plain.episodes[i].steps);
    EXPECT_EQ(recorded.episodes[i].score, plain.episodes[i].score);
  }
  ASSERT_EQ(recorder.written().size(), 2u);

  size_t state_at = 0, action_at = 0;
  for (int e = 0; e < 2; ++e) {
    const std::string path = (dir / ("episode_" + std::to_string(100000 + e) + ".hdf5")).string();
    ASSERT_TRUE(fs::exists(path)) << path;
    const RecordedRollout r = ReadRecordedRollout(path);
    EXPECT_EQ(r.meta.at("task"), "pusht");
    EXPECT_EQ(r.meta.at("seed"), 100000 + e);
    EXPECT_EQ(r.meta.at("sampler"), "ddim:2");
    EXPECT_EQ(r.meta.at("steps"), recorded.episodes[e].steps);
    ASSERT_EQ(r.num_steps(), recorded.episodes[e].steps);
    for (int64_t t = 0; t < r.states.rows(); ++t, ++state_at) {
      const std::vector<double> s(r.states.row(t), r.states.row(t) + r.states.row_size());
      ASSERT_EQ(s, capture.states.at(state_at)) << "episode " << e << " state " << t;
    }
    for (int64_t t = 0; t < r.num_steps(); ++t, ++action_at) {
      const std::vector<double> a(r.actions.row(t), r.actions.row(t) + r.actions.row_size());
      EXPECT_EQ(a, capture.actions.at(action_at));
      EXPECT_EQ(r.scores[t], capture.scores.at(action_at));
      // The executed action is the chunk's entry at its horizon index (To-1 = 1 .. 8).
      const double* c = r.chunks.row(t) + r.chunk_pos[t] * 2;
      EXPECT_EQ(static_cast<float>(c[0]), static_cast<float>(a[0]));
      EXPECT_GE(r.chunk_pos[t], 1);
      EXPECT_LE(r.chunk_pos[t], 8);
    }
  }
  fs::remove_all(dir);
}

// `harness eval --record DIR --video DIR --video-episodes 1` end to end on a saved tiny policy.
TEST(RecordedRollout, HarnessEvalRecordsAndWritesVideos) {
  const fs::path dir = TempDir("eval");
  SavePolicy(*TinyPushTPolicy(), (dir / "policy").string());
  const std::string cmd =
      std::string(HARNESS_EXE) + " eval --ckpt " + (dir / "policy").string() +
      " --task pusht --sampler ddim:2 --episodes 2 --workers 1 --record " + (dir / "rec").string() +
      " --video " + (dir / "vid").string() + " --video-episodes 1 --video-size 64 --out " +
      (dir / "eval.csv").string() + " > " + (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << std::ifstream(dir / "log.txt").rdbuf();
  const RecordedRollout r0 = ReadRecordedRollout((dir / "rec" / "episode_100000.hdf5").string());
  EXPECT_TRUE(fs::exists(dir / "rec" / "episode_100001.hdf5"));
  EXPECT_EQ(r0.meta.at("policy"), "dp-ddpm");
  EXPECT_TRUE(fs::exists(dir / "vid" / "episode_100000.mp4"));
  EXPECT_FALSE(fs::exists(dir / "vid" / "episode_100001.mp4"));  // only the first episode
  cv::VideoCapture cap((dir / "vid" / "episode_100000.mp4").string());
  ASSERT_TRUE(cap.isOpened());
  int frames = 0;
  cv::Mat m;
  while (cap.read(m)) ++frames;
  EXPECT_EQ(frames, r0.num_steps() + 1);  // the first state, then one frame per step
  EXPECT_EQ(static_cast<int>(cap.get(cv::CAP_PROP_FRAME_WIDTH)), 64);
  fs::remove_all(dir);
}
#endif

TEST(Mp4Writer, VideoCaptureReadsEveryFrame) {
  const fs::path dir = TempDir("mp4");
  const std::string path = (dir / "clip.mp4").string();
  {
    Mp4Writer w(path, 64, 48, 20);
    Image img;
    img.width = 64;
    img.height = 48;
    for (int f = 0; f < 17; ++f) {
      img.pixels.assign(64 * 48 * 3, static_cast<uint8_t>(10 * f));
      w.Add(img);
    }
    EXPECT_EQ(w.frames(), 17);
    Image wrong;
    wrong.width = 32;
    wrong.height = 32;
    wrong.pixels.assign(32 * 32 * 3, 0);
    EXPECT_THROW(w.Add(wrong), std::runtime_error);
  }
  ASSERT_TRUE(fs::exists(path));
  cv::VideoCapture cap(path);
  ASSERT_TRUE(cap.isOpened());
  EXPECT_EQ(static_cast<int>(cap.get(cv::CAP_PROP_FRAME_WIDTH)), 64);
  EXPECT_EQ(static_cast<int>(cap.get(cv::CAP_PROP_FRAME_HEIGHT)), 48);
  int frames = 0;
  cv::Mat m;
  while (cap.read(m)) ++frames;
  EXPECT_EQ(frames, 17);
  fs::remove_all(dir);
}

// ---- the viewer binary
// ---------------------------------------------------------------------------

bool HaveXvfb() { return Shell("command -v xvfb-run").code == 0; }

std::string Xvfb(const std::string& args) {
  return "xvfb-run -a -s '-screen 0 1280x720x24' " + std::string(VIEWER_EXE) + " " + args;
}

// Mean and standard deviation over a region of a BGR image (all channels together).
void Stats(const cv::Mat& img, const cv::Rect& r, double* mean, double* stddev) {
  cv::Scalar m, s;
  cv::meanStdDev(img(r).reshape(1), m, s);
  *mean = m[0];
  *stddev = s[0];
}

void CheckScreenshot(const std::string& png) {
  const cv::Mat img = cv::imread(png, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty()) << png;
  ASSERT_EQ(img.cols, 960);
  ASSERT_EQ(img.rows, 600);
  double mean, sd;
  Stats(img, cv::Rect(0, 0, img.cols, img.rows), &mean, &sd);
  EXPECT_GT(sd, 20) << "blank screenshot";
  // The ImGui control panel (x < 340): dark window background with text.
  double panel_mean, panel_sd;
  Stats(img, cv::Rect(0, 0, 330, img.rows), &panel_mean, &panel_sd);
  EXPECT_LT(panel_mean, 70);
  EXPECT_GT(panel_sd, 5) << "no text in the panel";
  // The 3D view of PushT's camera (right of the panel, above the strip): the bright table.
  double scene_mean, scene_sd;
  Stats(img, cv::Rect(360, 40, img.cols - 380, img.rows - 210 - 60), &scene_mean, &scene_sd);
  EXPECT_GT(scene_mean, 120);
  EXPECT_GT(scene_mean - panel_mean, 60);
}

TEST(ViewerBinary, ReplaysARecordedRolloutUnderXvfb) {
  if (!HaveXvfb()) GTEST_SKIP() << "xvfb-run not installed (apt-get install xvfb)";
  const fs::path dir = TempDir("xvfb");
  const std::string rollout = WriteScriptedRollout(dir, 10);
  const std::string png = (dir / "shot.png").string(), mp4 = (dir / "shot.mp4").string();
  const ShellRun r =
      Shell(Xvfb("--rollout " + rollout + " --frames 6 --width 960 --height 600 --screenshot " +
                 png + " --record " + mp4));
  ASSERT_EQ(r.code, 0) << r.output;
  CheckScreenshot(png);
  cv::VideoCapture cap(mp4);
  ASSERT_TRUE(cap.isOpened());
  int frames = 0;
  cv::Mat m;
  while (cap.read(m)) ++frames;
  EXPECT_EQ(frames, 6);

  // The same file through the dataset mode (it is a robomimic-schema file with one demo).
  const ShellRun d =
      Shell(Xvfb("--dataset " + rollout +
                 " --demo 0 --frames 3 --width 960 --height 600 --screenshot " + png));
  ASSERT_EQ(d.code, 0) << d.output;
  CheckScreenshot(png);
  fs::remove_all(dir);
}

TEST(ViewerBinary, BadInputGivesClearErrors) {
  if (!HaveXvfb()) GTEST_SKIP() << "xvfb-run not installed (apt-get install xvfb)";
  const fs::path dir = TempDir("bad");
  ShellRun r = Shell(Xvfb("--rollout " + (dir / "nope.hdf5").string() + " --frames 1"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("no such file"), std::string::npos) << r.output;
  const std::string rollout = WriteScriptedRollout(dir, 3);
  r = Shell(Xvfb("--dataset " + rollout + " --demo 5 --frames 1"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("no demo_5"), std::string::npos) << r.output;
  r = Shell(Xvfb("--dataset " + rollout + " --demo 0 --task lift-ph --frames 1"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("wrong task"), std::string::npos) << r.output;
  r = Shell(Xvfb("--dataset " + rollout + " --demo 0 --task nosuch --frames 1"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("pusht"), std::string::npos) << "valid names listed: " << r.output;
  r = Shell(Xvfb("--frames 1"));
  EXPECT_EQ(r.code, 2) << r.output;
  fs::remove_all(dir);
}

TEST(ViewerBinary, NoDisplayIsAClearError) {
  const fs::path dir = TempDir("nodisplay");
  const std::string rollout = WriteScriptedRollout(dir, 3);
  const ShellRun r = Shell("env -u DISPLAY -u WAYLAND_DISPLAY " + std::string(VIEWER_EXE) +
                           " --rollout " + rollout + " --frames 1");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("xvfb-run"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace onedp
