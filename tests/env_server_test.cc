// `harness env` (harness/env_server.h) on PushT: reset / step / set_state round trips reproduce the
// same state hashes, set_qpos places the block so that evaluate reports the goal's coverage, bad
// requests get error replies and serving goes on; then the binary over stdin / stdout.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/env_server.h"
#include "tasks/task_registry.h"
#include "tests/shell_util.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json Ask(EnvSession& s, const json& req) { return json::parse(HandleEnvRequest(s, req.dump())); }

TEST(EnvServerTest, ResetStepSetStateRoundTrip) {
  EnvSession s(MakeTask("pusht"));
  const json info = Ask(s, {{"id", 0}, {"cmd", "info"}});
  ASSERT_FALSE(info.contains("error")) << info.dump();
  EXPECT_EQ(info["task"], "pusht");
  EXPECT_EQ(info["flat_state_size"], 11);
  EXPECT_EQ(info["action_dim"], 2);

  const json r0 = Ask(s, {{"id", 1}, {"cmd", "reset"}, {"seed", 7}});
  ASSERT_FALSE(r0.contains("error")) << r0.dump();
  EXPECT_EQ(r0["id"], 1);
  EXPECT_EQ(r0["state"].size(), 11u);
  EXPECT_EQ(r0["obs"]["keypoints"].size(), 20u);
  EXPECT_FALSE(r0["obs"].contains("image"));  // images only on request
  EXPECT_EQ(Ask(s, {{"cmd", "reset"}, {"seed", 7}})["hash"], r0["hash"]);  // same seed, same state

  const json actions = {{200, 250}, {210, 260}, {230, 240}, {260, 220}, {300, 200}};
  const json a = Ask(s, {{"cmd", "step"}, {"actions", actions}, {"states", true}});
  ASSERT_FALSE(a.contains("error")) << a.dump();
  EXPECT_EQ(a["steps"], 5);
  EXPECT_EQ(a["states"].size(), 5u);
  EXPECT_EQ(a["states"].back(), a["state"]);
  EXPECT_TRUE(a.contains("score") && a.contains("success") && a.contains("reward"));

  // Back to the reset state: its hash; the same actions again: the same state after them.
  const json back = Ask(s, {{"cmd", "set_state"}, {"state", r0["state"]}});
  ASSERT_FALSE(back.contains("error")) << back.dump();
  EXPECT_EQ(back["hash"], r0["hash"]);
  const json b = Ask(s, {{"cmd", "step"}, {"actions", actions}});
  EXPECT_EQ(b["state"], a["state"]);
  EXPECT_EQ(b["hash"], a["hash"]);
  // One step at a time lands on the same state as the batch.
  Ask(s, {{"cmd", "set_state"}, {"state", r0["state"]}});
  json c;
  for (const auto& act : actions) c = Ask(s, {{"cmd", "step"}, {"action", act}});
  EXPECT_EQ(c["hash"], a["hash"]);
  EXPECT_EQ(Ask(s, {{"cmd", "get_state"}})["hash"], a["hash"]);
}

TEST(EnvServerTest, SetQposByJointNames) {
  EnvSession s(MakeTask("pusht"));
  Ask(s, {{"cmd", "reset"}, {"seed", 1}});
  const json info = Ask(s, {{"cmd", "info"}});
  // The block at the goal pose, read from the task's own conventions (env kwargs): full coverage.
  const json goal = info["env_kwargs"]["goal_pose"];
  ASSERT_EQ(goal.size(), 3u) << info.dump();
  const json placed = Ask(s, {{"cmd", "set_qpos"},
                              {"qpos", {{"block_x", goal[0]}, {"block_y", goal[1]}, {"block_angle", goal[2]}}}});
  ASSERT_FALSE(placed.contains("error")) << placed.dump();
  EXPECT_EQ(placed["joints"]["block_x"], goal[0]);
  const json e = Ask(s, {{"cmd", "evaluate"}});
  EXPECT_TRUE(e["success"].get<bool>()) << e.dump();
  EXPECT_NEAR(e["score"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(e["meta"]["final_coverage"].get<double>(), 1.0, 1e-7);
}

TEST(EnvServerTest, BadRequestsGetErrorsAndServingGoesOn) {
  EnvSession s(MakeTask("pusht"));
  const auto error_of = [&](const std::string& line) {
    const json r = json::parse(HandleEnvRequest(s, line));
    return r.contains("error") ? r["error"].get<std::string>() : std::string();
  };
  EXPECT_NE(error_of("{not json").find("not JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"id": 3, "cmd": "step", "action": [1, 2]})").find("reset"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "fly"})").find("unknown cmd"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "reset", "seed": -1})").find("seed"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "reset", "sed": 1})").find("unknown field 'sed'"), std::string::npos);
  EXPECT_EQ(error_of(R"({"cmd": "reset", "seed": 2})"), "");
  const json before = Ask(s, {{"cmd", "get_state"}});
  EXPECT_NE(error_of(R"({"cmd": "step", "action": [1, 2, 3]})").find("takes 2"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "step", "actions": [[1, 2], [1]]})").find("action 1"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "step", "action": [1, "x"]})").find("not a number"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "set_state", "state": [0, 1]})").find("11"), std::string::npos);
  EXPECT_NE(error_of(R"({"cmd": "set_qpos", "qpos": {"nope": 1}})").find("block_x"), std::string::npos);
  EXPECT_EQ(Ask(s, {{"cmd", "get_state"}})["hash"], before["hash"]);  // nothing applied
  const json r = Ask(s, {{"id", "x"}, {"cmd", "ping"}});
  EXPECT_EQ(r["id"], "x");
  EXPECT_EQ(r["pong"], true);
}

TEST(EnvServerTest, BinaryOverStdin) {
  const fs::path dir = fs::temp_directory_path() / ("env_server_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path requests = dir / "requests.jsonl";
  {
    std::ofstream f(requests);
    f << R"({"id": 1, "cmd": "reset", "seed": 3})" << "\n"
      << "garbage\n\n"
      << R"({"id": 2, "cmd": "step", "action": [256, 256]})" << "\n";
  }
  const fs::path err = dir / "stderr.txt";
  const ShellRun r = Shell(std::string("( ") + HARNESS_EXE + " env --task pusht --action-mode absolute < " +
                           requests.string() + " 2> " + err.string() + " )");
  std::ifstream ef(err);
  const std::string log((std::istreambuf_iterator<char>(ef)), std::istreambuf_iterator<char>());
  ASSERT_EQ(r.code, 0) << r.output << log;
  std::vector<json> lines;
  size_t pos = 0;
  while (pos < r.output.size()) {
    const size_t nl = r.output.find('\n', pos);
    lines.push_back(json::parse(r.output.substr(pos, nl - pos)));
    pos = nl == std::string::npos ? r.output.size() : nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u) << r.output;
  EXPECT_EQ(lines[0]["id"], 1);
  EXPECT_TRUE(lines[1]["id"].is_null());
  EXPECT_TRUE(lines[1].contains("error"));
  EXPECT_EQ(lines[2]["steps"], 1);
  EXPECT_NE(log.find("3 requests (1 errors), end of input"), std::string::npos) << log;

  const ShellRun bad = Shell(std::string(HARNESS_EXE) + " env --task nosuchtask < /dev/null");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("pusht"), std::string::npos) << bad.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace onedp
