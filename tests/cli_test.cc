// The harness command line: listing, bad input (clear message, non-zero exit, nothing lost), and
// a tiny end-to-end collect read back through EpisodeStore.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "harness/episode.h"
#include "tests/shell_util.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

using CliRun = ShellRun;

CliRun Harness(const std::string& args) { return Shell(std::string(HARNESS_EXE) + " " + args); }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("onedp_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CliTest, TasksListsLift) {
  const CliRun r = Harness("tasks");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("lift-ph"), std::string::npos);
  EXPECT_NE(r.output.find("lift-mh"), std::string::npos);
}

TEST_F(CliTest, UnknownTaskListsValidOnes) {
  const CliRun r = Harness("collect --task lfit --episodes 1 --out " + (dir_ / "x.hdf5").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown task 'lfit'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lift-ph"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "x.hdf5"));
}

TEST_F(CliTest, NonPositiveEpisodesRejected) {
  for (const char* n : {"0", "-3"}) {
    const CliRun r = Harness(std::string("collect --task lift-ph --episodes ") + n + " --out " +
                          (dir_ / "x.hdf5").string());
    EXPECT_NE(r.code, 0) << n;
    EXPECT_NE(r.output.find("--episodes must be positive"), std::string::npos) << r.output;
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(CliTest, ExistingOutputIsKeptWithoutOverwrite) {
  const fs::path out = dir_ / "keep.hdf5";
  std::ofstream(out) << "precious";
  const CliRun r = Harness("collect --task lift-ph --episodes 1 --no-images --out " + out.string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  std::ifstream in(out);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(CliTest, UnwritableOutputRejected) {
  const CliRun r = Harness("collect --task lift-ph --episodes 1 --no-images --out " +
                        (dir_ / "no_such_dir" / "x.hdf5").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
}

TEST_F(CliTest, MissingRequiredOptionIsAUsageError) {
  const CliRun r = Harness("collect --episodes 1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--task"), std::string::npos) << r.output;
}

TEST_F(CliTest, CollectWritesReadableDemos) {
  const fs::path out = dir_ / "lift.hdf5";
  const CliRun r = Harness("collect --task lift-ph --episodes 2 --seed 5 --workers 2 --out " +
                        out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ETA"), std::string::npos) << "no progress line: " << r.output;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
  const EpisodeStore store = EpisodeStore::Load(out.string());
  ASSERT_EQ(store.num_episodes(), 2);
  EXPECT_EQ(store.total, store.num_samples());
  EXPECT_EQ(store.env_args["env_name"], "Lift");
  EXPECT_EQ(store.env_args["onedp"]["task"], "lift-ph");
  EXPECT_EQ(store.f64.at("actions").shape[1], 7);
  EXPECT_EQ(store.f64.at("actions_abs").shape[1], 10);
  EXPECT_EQ(store.f64.at("obs/object").shape[1], 10);
  EXPECT_EQ(store.u8.at("obs/agentview_image").shape,
            (std::vector<int64_t>{store.num_samples(), 84, 84, 3}));
  EXPECT_EQ(store.u8.at("next_obs/robot0_eye_in_hand_image").shape[0], store.num_samples());
  // every kept demo ends in success: last reward 1 and done 1
  for (int64_t e = 0; e < store.num_episodes(); ++e) {
    const int64_t last = store.episode_ends[e] - 1;
    EXPECT_EQ(store.f64.at("rewards").data[last], 1.0);
    EXPECT_EQ(store.f64.at("dones").data[last], 1.0);
    EXPECT_EQ(store.ep_meta[e]["seed"].get<int>(), 5 + e);
  }
  // next_obs[t] == obs[t+1] within a demo
  const auto& obs = store.f64.at("obs/robot0_eef_pos");
  const auto& next = store.f64.at("next_obs/robot0_eef_pos");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(next.data[i], obs.data[3 + i]);
  EXPECT_EQ(store.masks.at("train").size() + store.masks.at("valid").size(), 2u);

  // the same command again refuses to replace it; with --overwrite it succeeds
  EXPECT_NE(Harness("collect --task lift-ph --episodes 1 --no-images --out " + out.string()).code, 0);
  EXPECT_EQ(Harness("collect --task lift-ph --episodes 1 --no-images --overwrite --out " +
                    out.string()).code, 0);
  EXPECT_EQ(EpisodeStore::Load(out.string()).num_episodes(), 1);
}

TEST_F(CliTest, MultiHumanCollectRecordsOperatorMasks) {
  const fs::path out = dir_ / "mh.hdf5";
  const CliRun r = Harness("collect --task lift-mh --episodes 6 --no-images --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const EpisodeStore store = EpisodeStore::Load(out.string());
  ASSERT_EQ(store.num_episodes(), 6);
  EXPECT_EQ(store.masks.at("worse").size(), 2u);
  EXPECT_EQ(store.masks.at("okay").size(), 2u);
  EXPECT_EQ(store.masks.at("better").size(), 2u);
  EXPECT_EQ(store.masks.at("okay_better").size(), 4u);
  std::set<std::string> operators;
  for (const auto& m : store.ep_meta) operators.insert(m["operator"].get<std::string>());
  EXPECT_EQ(operators.size(), 6u);
}

TEST_F(CliTest, SameFileForAnyWorkerCount) {
  // MH: operators fill their quotas at different attempts, so skipped attempts must not depend
  // on thread timing.
  std::vector<std::vector<int64_t>> attempts;
  for (const char* workers : {"1", "2"}) {
    const fs::path out = dir_ / (std::string("w") + workers + ".hdf5");
    const CliRun r = Harness(std::string("collect --task lift-mh --episodes 12 --no-images --seed 3 ") +
                             "--workers " + workers + " --out " + out.string());
    ASSERT_EQ(r.code, 0) << r.output;
    const EpisodeStore store = EpisodeStore::Load(out.string());
    std::vector<int64_t> a;
    for (const auto& m : store.ep_meta) a.push_back(m["attempt"].get<int64_t>());
    attempts.push_back(a);
    ASSERT_EQ(store.num_episodes(), 12);
    // Per operator: kept and counted attempts; the attempts add up to the file's total.
    const nlohmann::json& onedp = store.env_args.at("onedp");
    int sum = 0;
    for (const auto& op : onedp.at("operators")) {
      EXPECT_GE(op.at("attempts").get<int>(), op.at("kept").get<int>()) << op.dump();
      sum += op.at("attempts").get<int>();
    }
    EXPECT_EQ(sum, onedp.at("attempts").get<int>());
    EXPECT_NE(r.output.find("2 demos of "), std::string::npos) << r.output;
  }
  EXPECT_EQ(attempts[0], attempts[1]);
}

// Two finished collect files hold the same demos: every dataset, num_samples, ep_meta,
// model_file, mask and the /data attributes (env_args, total).
void ExpectSameDemos(const fs::path& a_path, const fs::path& b_path) {
  const EpisodeStore a = EpisodeStore::Load(a_path.string());
  const EpisodeStore b = EpisodeStore::Load(b_path.string());
  EXPECT_EQ(a.demo_names, b.demo_names);
  EXPECT_EQ(a.episode_ends, b.episode_ends);
  EXPECT_EQ(a.total, b.total);
  EXPECT_EQ(a.env_args, b.env_args);
  EXPECT_EQ(a.masks, b.masks);
  EXPECT_TRUE(a.model_files == b.model_files);
  ASSERT_EQ(a.ep_meta.size(), b.ep_meta.size());
  for (size_t i = 0; i < a.ep_meta.size(); ++i) EXPECT_EQ(a.ep_meta[i], b.ep_meta[i]) << i;
  ASSERT_EQ(a.f64.size(), b.f64.size());
  for (const auto& [key, arr] : a.f64) {
    ASSERT_TRUE(b.f64.count(key)) << key;
    EXPECT_EQ(arr.shape, b.f64.at(key).shape) << key;
    EXPECT_TRUE(arr.data == b.f64.at(key).data) << key;
  }
  ASSERT_EQ(a.u8.size(), b.u8.size());
  for (const auto& [key, arr] : a.u8) {
    ASSERT_TRUE(b.u8.count(key)) << key;
    EXPECT_EQ(arr.shape, b.u8.at(key).shape) << key;
    EXPECT_TRUE(arr.data == b.u8.at(key).data) << key;
  }
}

// A collect killed after K demos (hidden hook ONEDP_COLLECT_STOP_AFTER) keeps them in <out>.tmp;
// the same command resumes from them and writes the file an uninterrupted run writes. Other
// options are refused (exit 2) without touching the .tmp; a demo cut off after the last checkpoint
// is discarded.
TEST_F(CliTest, CollectResumesAfterKillToTheSameFile) {
  struct Case {
    std::string args;  // everything but --seed and --out
    std::string seed;
    int stop_after;
    bool partial_demo;  // add a group after the checkpoint, as a kill mid-demo leaves
  };
  const std::vector<Case> cases = {
      // MH: per-operator quotas, counts and quality masks; no images.
      {"collect --task lift-mh --episodes 9 --no-images --workers 2", "3", 4, false},
      // PH with camera images (chunked, gzip datasets).
      {"collect --task lift-ph --episodes 3 --workers 2", "5", 1, true},
  };
  const bool have_h5tools = Shell("h5copy --version && h5dump --version").code == 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const std::string cmd = c.args + " --seed " + c.seed;
    const fs::path a = dir_ / "a.hdf5", b = dir_ / "b.hdf5";
    const fs::path b_tmp = b.string() + ".tmp";
    fs::remove(a);
    fs::remove(b);
    CliRun r = Harness(cmd + " --out " + a.string());
    ASSERT_EQ(r.code, 0) << r.output;

    const std::string k = std::to_string(c.stop_after);
    r = Shell("ONEDP_COLLECT_STOP_AFTER=" + k + " " + HARNESS_EXE + " " + cmd + " --out " +
              b.string());
    ASSERT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("ONEDP_COLLECT_STOP_AFTER"), std::string::npos) << r.output;
    ASSERT_TRUE(fs::exists(b_tmp));
    EXPECT_FALSE(fs::exists(b));
    {
      // The killed file's demos are complete and are the uninterrupted run's first K.
      const EpisodeStore part = EpisodeStore::Load(b_tmp.string());
      const EpisodeStore full = EpisodeStore::Load(a.string());
      ASSERT_EQ(part.num_episodes(), c.stop_after);
      for (int i = 0; i < c.stop_after; ++i) EXPECT_EQ(part.ep_meta[i], full.ep_meta[i]) << i;
      EXPECT_TRUE(part.masks.empty());
    }
    if (have_h5tools) {
      EXPECT_EQ(Shell("h5dump -a /onedp_checkpoint " + b_tmp.string()).code, 0);
    }

    // Another seed: refused, naming the option; the .tmp is left as it was.
    const auto tmp_size = fs::file_size(b_tmp);
    r = Harness(c.args + " --seed 11 --out " + b.string());
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("--seed 11 here"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("delete " + b_tmp.string()), std::string::npos) << r.output;
    EXPECT_EQ(fs::file_size(b_tmp), tmp_size);
    EXPECT_FALSE(fs::exists(b));

    std::string partial;
    if (c.partial_demo && have_h5tools) {
      partial = "demo_" + k;
      ASSERT_EQ(Shell("h5copy -i " + b_tmp.string() + " -o " + b_tmp.string() +
                      " -s /data/demo_0 -d /data/" + partial).code, 0);
    }

    // The same command resumes and finishes.
    r = Harness(cmd + " --out " + b.string());
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("resuming from " + k + " demos (" + k + " attempts)"),
              std::string::npos) << r.output;
    EXPECT_NE(r.output.find("(resumed from " + k + " demos"), std::string::npos) << r.output;
    if (!partial.empty()) {
      EXPECT_NE(r.output.find("discarded " + partial), std::string::npos) << r.output;
    }
    EXPECT_TRUE(fs::exists(b));
    EXPECT_FALSE(fs::exists(b_tmp));
    ExpectSameDemos(a, b);
    if (have_h5tools) {  // the checkpoint is bookkeeping of the .tmp only
      EXPECT_NE(Shell("h5dump -a /onedp_checkpoint " + b.string()).code, 0);
    }
  }
}

// A .tmp that cannot be resumed is reported and kept; --overwrite starts over.
TEST_F(CliTest, CollectRefusesDamagedTempWithoutOverwrite) {
  const fs::path out = dir_ / "d.hdf5";
  const fs::path tmp = out.string() + ".tmp";
  std::ofstream(tmp) << "not an hdf5 file";
  const std::string cmd = "collect --task lift-ph --episodes 1 --no-images --seed 2 --out " + out.string();
  CliRun r = Harness(cmd);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot resume from " + tmp.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  std::ifstream in(tmp);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "not an hdf5 file");

  r = Harness(cmd + " --overwrite");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("starting over"), std::string::npos) << r.output;
  EXPECT_EQ(EpisodeStore::Load(out.string()).num_episodes(), 1);
  EXPECT_FALSE(fs::exists(tmp));
}

#ifdef BENCH_WITH_POLICIES
// train -> eval -> bench policy on a 3-demo PushT file with the tiny preset; a killed run
// resumes; bad names list the valid ones.
TEST_F(CliTest, TrainEvalBenchPolicyEndToEnd) {
  const fs::path data = dir_ / "pusht.hdf5";
  CliRun r = Harness("collect --task pusht --episodes 3 --seed 0 --valid-ratio 0.34 --out " + data.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path run = dir_ / "run";
  const std::string train = "train --task pusht --preset tiny --seed 1 --dataset " + data.string() +
                            " --out " + run.string();
  r = Harness(train);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(run / "run.json"));
  EXPECT_TRUE(fs::exists(run / "checkpoint" / "policy.json"));
  std::ifstream log(run / "train_log.csv");
  std::string header;
  std::getline(log, header);
  EXPECT_EQ(header.rfind("epoch,step,train_loss,valid_loss", 0), 0u) << header;
  int rows = 0;
  for (std::string line; std::getline(log, line);) ++rows;
  EXPECT_EQ(rows, 2);

  // A finished run run again resumes at its last epoch and trains nothing more.
  r = Harness(train);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from epoch 2"), std::string::npos) << r.output;
  // Another config in the same directory is refused.
  r = Harness(train + " --epochs 5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another configuration"), std::string::npos) << r.output;

  r = Harness("eval --ckpt " + run.string() + " --sampler ddim:1 --episodes 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 episodes from seed 100000"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(run / "eval_ddim_1_seed100000.csv"));
  r = Harness("eval --ckpt " + run.string() + " --sampler edm:10 --episodes 1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("ddim:10"), std::string::npos) << r.output;

  r = Harness("bench policy --ckpt " + run.string() + " --repeats 1 --sampler ddim:1 --sampler edm:1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| dp-ddpm ddim:1 | 1 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| dp-edm edm:1 | 1 |"), std::string::npos) << r.output;
}

TEST_F(CliTest, TrainRejectsBadNames) {
  CliRun r = Harness("train --task pusht --policy dp-foo --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("dp-ddpm, dp-edm"), std::string::npos) << r.output;
  r = Harness("train --task pusht --preset huge --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("cpu, cpu-image, paper, tiny"), std::string::npos) << r.output;
  r = Harness("train --task pusht --dataset " + (dir_ / "absent.hdf5").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("harness collect --task pusht"), std::string::npos) << r.output;
  r = Harness("eval --ckpt " + (dir_ / "nothing").string());
  EXPECT_EQ(r.code, 2);
  // --set names an existing field: a typo lists the valid ones, a wrong type is refused.
  r = Harness("train --task pusht --preset tiny --set unet.down_dim=[8] --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unet.down_dims"), std::string::npos) << r.output;
  r = Harness("train --task pusht --preset tiny --set train.lr=fast --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("train.lr"), std::string::npos) << r.output;
}
// Latency-aware evaluation's bad values exit 2 before anything is loaded, listing the valid ones.
TEST_F(CliTest, EvalRejectsBadLatencyAndPerturbation) {
  const std::string ckpt = " --ckpt " + (dir_ / "nothing").string();
  for (const std::string& latency : {std::string("fixed:-3"), std::string("a100"), "profile:" + (dir_ / "missing.json").string()}) {
    const CliRun r = Harness("eval --task pusht" + ckpt + " --latency " + latency);
    EXPECT_EQ(r.code, 2) << latency;
    EXPECT_NE(r.output.find("'" + latency + "'"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("fixed:MS"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("v100-paper"), std::string::npos) << r.output;
  }
  CliRun r = Harness("eval --task pusht" + ckpt + " --latency v100-paper --exec later");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("sync, async"), std::string::npos) << r.output;
  r = Harness("eval --task pusht" + ckpt + " --perturb spin");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("'spin'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("move, reset"), std::string::npos) << r.output;
  // Not the checkpoint's error: the perturbation is checked first.
  EXPECT_EQ(r.output.find("neither a run directory"), std::string::npos) << r.output;
}

TEST_F(CliTest, RunRejectsBadInputAndListsItsWork) {
  const std::string where = " --work " + (dir_ / "runs").string() + " --dataset " + (dir_ / "d.hdf5").string();
  CliRun r = Harness("run --task pusht --preset tiny --stage bake" + where);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("collect, train, distill, eval, dynamic, merge, all"), std::string::npos) << r.output;
  r = Harness("run --task pusht --preset tiny --shard 3/3" + where);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("i/N"), std::string::npos) << r.output;
  r = Harness("run --task push-t --preset tiny" + where);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("pusht"), std::string::npos) << r.output;
  r = Harness("run --task pusht --preset huge" + where);
  EXPECT_EQ(r.code, 2);
  // --dry-run lists this shard's items, runs nothing and writes nothing.
  r = Harness("run --task pusht --preset tiny --dry-run --shard 1/2" + where);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("to do train dp-edm seed0"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("train dp-ddpm"), std::string::npos) << r.output;  // shard 0's
  EXPECT_FALSE(fs::exists(dir_ / "runs"));
  r = Harness("table --tasks pusht,nope --results " + (dir_ / "res").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("square-ph"), std::string::npos) << r.output;
}

// train a tiny dp-ddpm teacher -> distill it into OneDP-S -> eval the student with onestep ->
// bench policy times the student beside DP samplers; bad methods / teachers are refused.
TEST_F(CliTest, DistillOneDpEndToEnd) {
  const fs::path data = dir_ / "pusht.hdf5";
  CliRun r = Harness("collect --task pusht --episodes 3 --seed 0 --valid-ratio 0.34 --out " + data.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path teacher = dir_ / "teacher";
  r = Harness("train --task pusht --preset tiny --seed 1 --dataset " + data.string() + " --out " + teacher.string());
  ASSERT_EQ(r.code, 0) << r.output;

  const fs::path student = dir_ / "student";
  r = Harness("distill --teacher " + teacher.string() + " --method onedp-s --preset tiny --seed 2 --out " +
              student.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ETA"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(student / "checkpoint" / "policy.json"));
  std::ifstream run_json(student / "run.json");
  std::string run_text((std::istreambuf_iterator<char>(run_json)), std::istreambuf_iterator<char>());
  EXPECT_NE(run_text.find("\"distill_seconds\""), std::string::npos) << run_text;
  EXPECT_NE(run_text.find("\"teacher_config_hash\""), std::string::npos) << run_text;
  std::ifstream log(student / "train_log.csv");
  std::string header;
  std::getline(log, header);
  EXPECT_EQ(header.rfind("epoch,step,train_loss,valid_loss,", 0), 0u) << header;
  EXPECT_NE(header.find("score_loss"), std::string::npos) << header;
  int rows = 0;
  for (std::string line; std::getline(log, line);) ++rows;
  EXPECT_EQ(rows, 2);

  r = Harness("eval --ckpt " + student.string() + " --sampler onestep --episodes 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("policy onedp-s, sampler onestep (NFE 1), 2 episodes from seed 100000"),
            std::string::npos) << r.output;

  r = Harness("bench policy --ckpt " + student.string() + " --repeats 1 --sampler onestep --sampler ddim:1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| onedp-s onestep | 1 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| dp-ddpm ddim:1 | 1 |"), std::string::npos) << r.output;

  // The warm start saved and evaluated before the first step, then `harness samples` on it: the
  // deterministic OneDP-D chunks have no spread across draws, the stochastic student has.
  const fs::path det = dir_ / "det";
  r = Harness("distill --teacher " + teacher.string() + " --method onedp-d --preset tiny --epochs 1 --eval-warm-start"
              " --eval-every 1 --eval-episodes 1 --out " + det.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("epoch 0: success"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(det / "warm_start" / "policy.json"));
  EXPECT_TRUE(fs::exists(det / "eval_epoch0.csv"));
  const fs::path stats = dir_ / "samples.csv";
  r = Harness("samples --policy " + teacher.string() + "@ddim:1 --policy " + (det / "warm_start").string() +
              "@onestep --policy " + student.string() + " --windows 2 --draws 3 --out " + stats.string());
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream sf(stats);
  std::vector<std::string> lines;
  for (std::string line; std::getline(sf, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u) << r.output;  // header, dataset, three policies
  EXPECT_EQ(lines[1].rfind("dataset,dataset,,2,1,", 0), 0u) << lines[1];
  EXPECT_NE(lines[3].find(",onedp-d,onestep,2,3,0,"), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find(",0,0.0000,0.0000,0.000"), std::string::npos) << lines[3];  // no spread
  EXPECT_EQ(lines[4].find(",0,0.0000,0.0000,0.000"), std::string::npos) << lines[4];
  EXPECT_TRUE(fs::exists(dir_ / "samples.md"));
  r = Harness("samples --policy " + (dir_ / "nothing").string() + " --out " + stats.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("neither a run directory"), std::string::npos) << r.output;

  r = Harness("distill --teacher " + teacher.string() + " --method cp --preset tiny --out " + (dir_ / "cp").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("dp-edm"), std::string::npos) << r.output;
  r = Harness("distill --teacher " + teacher.string() + " --method onedp --preset tiny");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("onedp-s, onedp-d, cp"), std::string::npos) << r.output;
}
#endif  // BENCH_WITH_POLICIES

}  // namespace
}  // namespace onedp
