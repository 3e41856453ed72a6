// `harness serve` (harness/serve.h): request parsing and replies without a process (a round trip
// gives PredictChunk's numbers for the same seed, the spec command, error replies that name the
// problem, serving going on after them), then the real binary on a tiny trained PushT run over
// stdin / stdout and on a saved policy over a Unix socket. Tiny networks, CPU, fixed seeds.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/serve.h"
#include "policies/registry.h"
#include "tests/policy_fixtures.h"
#include "tests/shell_util.h"

extern char** environ;

namespace onedp {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kImage = fixtures::kTinyImage;
using fixtures::TinyNormalizer;
using fixtures::TinySpec;

std::unique_ptr<Policy> TinyPolicy(const std::string& name = "dp-ddpm") {
  return CreatePolicy(name, TinySpec(), PresetConfig(name, "tiny"), TinyNormalizer(), 0);
}

// One observation history (To = 2), as an ObsBatch and as a request's "obs" object.
ObsBatch MakeObs(int salt) {
  ObsBatch o;
  o.batch = 1;
  o.steps = 2;
  auto& img = o.images["cam_image"];
  for (int i = 0; i < 2 * kImage * kImage * 3; ++i) img.push_back(static_cast<uint8_t>((i * 7 + salt * 13) % 251));
  for (int i = 0; i < 2 * 3; ++i) o.lowdim["pos"].push_back(0.25f * static_cast<float>((i + salt) % 5) - 0.1f);
  return o;
}

json ObsJson(const ObsBatch& o) {
  json img = json::array();
  size_t i = 0;
  for (int t = 0; t < 2; ++t) {
    json frame = json::array();
    for (int y = 0; y < kImage; ++y) {
      json row = json::array();
      for (int x = 0; x < kImage; ++x) {
        json px = json::array();
        for (int c = 0; c < 3; ++c) px.push_back(o.images.at("cam_image")[i++]);
        row.push_back(px);
      }
      frame.push_back(row);
    }
    img.push_back(frame);
  }
  const auto& p = o.lowdim.at("pos");
  return {{"cam_image", img}, {"pos", {{p[0], p[1], p[2]}, {p[3], p[4], p[5]}}}};
}

std::string Request(const json& id, const json& obs, uint64_t seed) {
  return json{{"id", id}, {"obs", obs}, {"seed", seed}}.dump();
}

// Every action of a reply equals the chunk's float bit for bit.
void ExpectSameActions(const json& actions, const ActionChunk& c) {
  ASSERT_TRUE(actions.is_array());
  ASSERT_EQ(static_cast<int>(actions.size()), c.steps);
  for (int t = 0; t < c.steps; ++t) {
    ASSERT_EQ(static_cast<int>(actions[t].size()), c.dim);
    for (int d = 0; d < c.dim; ++d) EXPECT_EQ(actions[t][d].get<float>(), c.at(0, t)[d]) << "t " << t << " d " << d;
  }
}

TEST(ServeRequestTest, RoundTripGivesPredictChunksNumbers) {
  auto p = TinyPolicy();
  const ObsBatch obs = MakeObs(3);
  const json id = {{"episode", 4}, {"tags", {1, "a"}}};
  const json reply = json::parse(HandleRequest(*p, "ddim:3", Request(id, ObsJson(obs), 7)));
  ASSERT_FALSE(reply.contains("error")) << reply.dump();
  EXPECT_EQ(reply["id"], id);
  EXPECT_EQ(reply["sampler"], "ddim:3");
  EXPECT_EQ(reply["nfe"], 3);
  EXPECT_GE(reply["encode_ms"].get<double>(), 0.0);
  EXPECT_GE(reply["sample_ms"].get<double>(), 0.0);

  SampleOptions so;
  so.sampler = SamplerSpec::Parse("ddim:3");
  so.seeds = {7};
  const ActionChunk direct = p->PredictChunk(obs, so);
  ASSERT_EQ(direct.steps, 8);
  ExpectSameActions(reply["actions"], direct);

  // Another seed, other numbers; the whole horizon with full_horizon, executed steps in place.
  const json other = json::parse(HandleRequest(*p, "ddim:3", Request(id, ObsJson(obs), 8)));
  EXPECT_NE(other["actions"], reply["actions"]);
  json full_req = json::parse(Request(1, ObsJson(obs), 7));
  full_req["full_horizon"] = true;
  const json full = json::parse(HandleRequest(*p, "ddim:3", full_req.dump()));
  ASSERT_EQ(full["actions"].size(), 16u) << full.dump();
  so.full_horizon = true;
  ExpectSameActions(full["actions"], p->PredictChunk(obs, so));
  for (int t = 0; t < 8; ++t) EXPECT_EQ(full["actions"][1 + t], reply["actions"][t]) << t;

  // The default sampler (empty) is the policy's first.
  const json dflt = json::parse(HandleRequest(*p, "", Request(nullptr, ObsJson(obs), 0)));
  EXPECT_EQ(dflt["sampler"], p->Samplers().front());
  EXPECT_TRUE(dflt["id"].is_null());
}

TEST(ServeRequestTest, SpecAndPing) {
  auto p = TinyPolicy();
  const json spec =
      json::parse(HandleRequest(*p, "ddim:10", R"({"id": "s", "cmd": "spec"})", json::object({{"task", "toy"}})));
  ASSERT_FALSE(spec.contains("error")) << spec.dump();
  EXPECT_EQ(spec["id"], "s");
  EXPECT_EQ(spec["policy"], "dp-ddpm");
  EXPECT_EQ(spec["samplers"], json(p->Samplers()));
  EXPECT_EQ(spec["sampler"], "ddim:10");
  EXPECT_EQ(spec["nfe"], 10);
  EXPECT_EQ(spec["task"], "toy");
  EXPECT_EQ(spec["obs"]["cam_image"]["shape"], json({2, kImage, kImage, 3}));
  EXPECT_EQ(spec["obs"]["cam_image"]["dtype"], "uint8");
  EXPECT_EQ(spec["obs"]["pos"]["shape"], json({2, 3}));
  EXPECT_EQ(spec["actions"]["shape"], json({8, 4}));
  EXPECT_EQ(spec["spec"], p->spec().ToJson());
  const json ping = json::parse(HandleRequest(*p, "ddim:10", R"({"cmd": "ping", "id": 9})"));
  EXPECT_EQ(ping["id"], 9);
  EXPECT_EQ(ping["pong"], true);
}

TEST(ServeRequestTest, ErrorsNameTheProblemAndServingGoesOn) {
  auto p = TinyPolicy();
  const ObsBatch obs = MakeObs(1);
  const json good = ObsJson(obs);
  const auto error_of = [&](const std::string& line) {
    const json r = json::parse(HandleRequest(*p, "ddim:2", line));
    EXPECT_FALSE(r.contains("actions")) << r.dump();
    EXPECT_TRUE(r["error"].is_string()) << r.dump();
    return r;
  };
  const auto with = [&](const std::string& key, const json& value) {
    json o = good;
    if (value.is_null()) {
      o.erase(key);
    } else {
      o[key] = value;
    }
    return Request(5, o, 0);
  };

  json r = error_of("{\"id\": 1, \"obs\": ");
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_NE(r["error"].get<std::string>().find("not JSON"), std::string::npos) << r;
  r = error_of(with("pos", nullptr));
  EXPECT_EQ(r["id"], 5);  // echoed once the line parses
  EXPECT_NE(r["error"].get<std::string>().find("missing obs key 'pos': expected shape (2, 3)"), std::string::npos) << r;
  r = error_of(with("pos", {{1, 2, 3, 4}, {1, 2, 3, 4}}));
  EXPECT_NE(r["error"].get<std::string>().find("obs 'pos': expected shape (2, 3) of numbers, got shape (2, 4)"),
            std::string::npos) << r;
  r = error_of(with("pos", {1, 2, 3}));
  EXPECT_NE(r["error"].get<std::string>().find("got shape (3,)"), std::string::npos) << r;
  r = error_of(with("pos", {{1, 2, 3}, {1, "x", 3}}));
  EXPECT_NE(r["error"].get<std::string>().find("obs 'pos'[1][1]: non-numeric value, got a string \"x\""),
            std::string::npos) << r;
  r = error_of(with("pos", {{1, 2, 3}, {1, 2}}));
  EXPECT_NE(r["error"].get<std::string>().find("obs 'pos'[1]: expected an array of 3, got an array of 2"),
            std::string::npos) << r;
  json bad_image = good["cam_image"];
  bad_image[1][2][3][0] = 300;
  r = error_of(with("cam_image", bad_image));
  EXPECT_NE(r["error"].get<std::string>().find("obs 'cam_image'[1][2][3][0]: expected an integer 0..255"),
            std::string::npos) << r;
  r = error_of(with("cam_image", json::parse("[[1, 2]]")));
  EXPECT_NE(r["error"].get<std::string>().find("expected shape (2, 20, 20, 3) of integers 0..255 (uint8 image), got "
                                               "shape (1, 2)"),
            std::string::npos) << r;
  r = error_of(with("gripper", json::parse("[[0], [0]]")));
  EXPECT_NE(r["error"].get<std::string>().find("unknown obs key 'gripper'"), std::string::npos) << r;
  EXPECT_NE(r["error"].get<std::string>().find("cam_image (2, 20, 20, 3), pos (2, 3)"), std::string::npos) << r;
  r = error_of(R"({"id": 1, "seed": -1, "obs": {}})");
  EXPECT_NE(r["error"].get<std::string>().find("\"seed\" must be a non-negative integer"), std::string::npos) << r;
  r = error_of(R"({"id": 1, "observation": {}})");
  EXPECT_NE(r["error"].get<std::string>().find("unknown request field 'observation'"), std::string::npos) << r;
  r = error_of(R"({"id": 1})");
  EXPECT_NE(r["error"].get<std::string>().find("missing \"obs\""), std::string::npos) << r;
  r = error_of(R"({"cmd": "reload"})");
  EXPECT_NE(r["error"].get<std::string>().find("unknown cmd \"reload\""), std::string::npos) << r;
  r = error_of("[1, 2]");
  EXPECT_NE(r["error"].get<std::string>().find("a request is a JSON object"), std::string::npos) << r;

  // A valid request after all of them: the same numbers as a direct call.
  r = json::parse(HandleRequest(*p, "ddim:2", Request(6, good, 11)));
  ASSERT_FALSE(r.contains("error")) << r.dump();
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("ddim:2");
  so.seeds = {11};
  ExpectSameActions(r["actions"], p->PredictChunk(obs, so));
}

// --- The binary -------------------------------------------------------------------------------

class ServeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("onedp_serve_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A PushT image-policy observation history: a (2, 96, 96, 3) image and agent_pos (2, 2).
json PushTObs(int salt) {
  json img = json::array();
  for (int t = 0; t < 2; ++t) {
    json frame = json::array();
    for (int y = 0; y < 96; ++y) {
      json row = json::array();
      for (int x = 0; x < 96; ++x) row.push_back({(x * 3 + salt) % 256, (y * 5 + t) % 256, 200});
      frame.push_back(row);
    }
    img.push_back(frame);
  }
  return {{"image", img}, {"agent_pos", {{250.0 + salt, 300.5}, {252.0 + salt, 301.0}}}};
}

// stdin -> stdout on a tiny trained PushT run: two requests and a bad line, three replies, exit 0
// at EOF; bad command lines exit 2 before serving.
TEST_F(ServeCliTest, StdinOnATrainedRun) {
  const std::string exe = HARNESS_EXE;
  const fs::path data = dir_ / "pusht.hdf5";
  ShellRun r = Shell(exe + " collect --task pusht --episodes 3 --seed 0 --valid-ratio 0.34 --out " + data.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path run = dir_ / "run";
  // An image policy (the tiny preset trains on low-dim observations): the requests carry the camera.
  r = Shell(exe + " train --task pusht --preset tiny --obs image --epochs 1 --seed 1 --dataset " + data.string() +
            " --out " + run.string());
  ASSERT_EQ(r.code, 0) << r.output;

  const fs::path requests = dir_ / "requests.jsonl";
  {
    std::ofstream f(requests);
    f << json{{"id", "a"}, {"obs", PushTObs(0)}, {"seed", 3}}.dump() << "\n";
    f << "this is not json\n";
    f << "\n";  // blank: skipped without a reply
    f << json{{"id", "b"}, {"obs", PushTObs(0)}, {"seed", 3}}.dump();  // no final newline
  }
  const fs::path err = dir_ / "stderr.txt";
  r = Shell("( " + exe + " serve --ckpt " + run.string() + " --sampler ddim:2 < " + requests.string() + " 2> " +
            err.string() + " )");
  ASSERT_EQ(r.code, 0) << r.output << ReadFile(err);
  const std::vector<std::string> lines = Lines(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output << ReadFile(err);
  const json a = json::parse(lines[0]), bad = json::parse(lines[1]), b = json::parse(lines[2]);
  EXPECT_EQ(a["id"], "a");
  ASSERT_TRUE(a.contains("actions")) << lines[0];
  EXPECT_EQ(a["actions"].size(), 8u);     // Ta
  EXPECT_EQ(a["actions"][0].size(), 2u);  // PushT actions: target x, y
  EXPECT_EQ(a["sampler"], "ddim:2");
  EXPECT_EQ(a["nfe"], 2);
  EXPECT_TRUE(bad["id"].is_null());
  EXPECT_NE(bad["error"].get<std::string>().find("not JSON"), std::string::npos) << lines[1];
  EXPECT_EQ(b["id"], "b");
  EXPECT_EQ(b["actions"], a["actions"]);  // same observation and seed: same chunk
  const std::string log = ReadFile(err);
  EXPECT_NE(log.find("serve: dp-ddpm"), std::string::npos) << log;
  EXPECT_NE(log.find("(task pusht)"), std::string::npos) << log;
  EXPECT_NE(log.find("3 requests (1 errors), end of input"), std::string::npos) << log;

  r = Shell(exe + " serve --sampler ddim:2 < /dev/null");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--ckpt"), std::string::npos) << r.output;
  r = Shell(exe + " serve --ckpt " + run.string() + " --sampler edm:10 < /dev/null");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("ddpm:100, ddim:10, ddim:1"), std::string::npos) << r.output;
  r = Shell(exe + " serve --ckpt " + (dir_ / "nothing").string() + " < /dev/null");
  EXPECT_EQ(r.code, 2) << r.output;
}

// A started `harness serve`, ended by SIGTERM in the destructor if still running.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~ServerProcess() {
    if (pid_ > 0) Stop();
  }
  bool started() const { return pid_ > 0; }
  // SIGTERM, then its exit status (-1: killed by a signal).
  int Stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
};

int Connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

// Reads from `fd` until `n` newlines have come (or 60 s passed).
std::string ReadLines(int fd, int n) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::count(got.begin(), got.end(), '\n') < n && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[65536];
    const ssize_t k = ::recv(fd, buf, sizeof buf, 0);
    if (k <= 0) break;
    got.append(buf, static_cast<size_t>(k));
  }
  return got;
}

// --socket on a saved policy: a stale socket file is replaced, a client sends two lines in one
// write and reads two replies; a second server on the same path is refused; SIGTERM ends the
// server and removes the socket.
TEST_F(ServeCliTest, SocketMode) {
  auto p = TinyPolicy();
  const fs::path saved = dir_ / "policy";
  SavePolicy(*p, saved.string());
  const std::string sock = (dir_ / "serve.sock").string();
  {  // a stale socket file: bound, then its owner is gone
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    ::close(fd);
    ASSERT_TRUE(fs::exists(sock));
  }

  const fs::path log = dir_ / "server.log";
  ServerProcess server({HARNESS_EXE, "serve", "--ckpt", saved.string(), "--sampler", "ddim:2", "--socket", sock}, log);
  ASSERT_TRUE(server.started());
  int fd = -1;
  for (int i = 0; i < 600 && fd < 0; ++i) {  // up to 60 s for the policy to load
    fd = Connect(sock);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(fd, 0) << ReadFile(log);

  const ObsBatch obs = MakeObs(2);
  const std::string two = Request(1, ObsJson(obs), 4) + "\n" + R"({"id": 2, "cmd": "spec"})" + "\n";
  ASSERT_EQ(::send(fd, two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
  const std::vector<std::string> lines = Lines(ReadLines(fd, 2));
  ::close(fd);
  ASSERT_EQ(lines.size(), 2u) << ReadFile(log);
  const json a = json::parse(lines[0]), spec = json::parse(lines[1]);
  EXPECT_EQ(a["id"], 1);
  ASSERT_EQ(a["actions"].size(), 8u) << lines[0];
  SampleOptions so;
  so.sampler = SamplerSpec::Parse("ddim:2");
  so.seeds = {4};
  const ActionChunk direct = p->PredictChunk(obs, so);
  for (int t = 0; t < 8; ++t) {
    for (int d = 0; d < 4; ++d) EXPECT_NEAR(a["actions"][t][d].get<float>(), direct.at(0, t)[d], 1e-5) << t << " " << d;
  }
  EXPECT_EQ(spec["id"], 2);
  EXPECT_EQ(spec["obs"]["pos"]["shape"], json({2, 3}));

  // A second client after the first has gone is served too.
  fd = Connect(sock);
  ASSERT_GE(fd, 0);
  const std::string ping = "{\"cmd\": \"ping\"}\n";
  ASSERT_EQ(::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ping.size()));
  EXPECT_NE(ReadLines(fd, 1).find("\"pong\":true"), std::string::npos);
  ::close(fd);

  const ShellRun second =
      Shell(std::string(HARNESS_EXE) + " serve --ckpt " + saved.string() + " --socket " + sock + " < /dev/null");
  EXPECT_EQ(second.code, 2) << second.output;
  EXPECT_NE(second.output.find("another server is listening"), std::string::npos) << second.output;

  EXPECT_EQ(server.Stop(), 130) << ReadFile(log);
  EXPECT_FALSE(fs::exists(sock)) << ReadFile(log);
  const std::string text = ReadFile(log);
  EXPECT_NE(text.find("removed a stale socket file"), std::string::npos) << text;
  EXPECT_NE(text.find("client 2 gone after 1 requests"), std::string::npos) << text;
}

}  // namespace
}  // namespace onedp
