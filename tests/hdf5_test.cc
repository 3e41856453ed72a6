// Tests for the robomimic-schema HDF5 I/O (harness/episode.h, harness/episode_hdf5.cc).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/episode.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// Builds a container of type C from the arguments (converting each to C::value_type).
template <typename C, typename... A>
C Elems(A... a) {
  C c;
  (c.push_back(static_cast<typename C::value_type>(a)), ...);
  return c;
}
#define EXPECT_ELEMS(container, ...) \
  EXPECT_EQ(container, (Elems<std::decay_t<decltype(container)>>(__VA_ARGS__)))

constexpr int kH = 6, kW = 8;  // non-square so that an H/W swap shows

// Deterministic synthetic episode `k` with n samples.
EpisodeRecord MakeEpisode(int k, int64_t n) {
  EpisodeRecord ep;
  ep.num_samples = n;
  auto fill = [&](ArrayF64& a, std::vector<int64_t> shape, double base) {
    a.shape = shape;
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    a.data.resize(count);
    for (int64_t i = 0; i < count; ++i) a.data[i] = base + k * 1000.0 + i * 0.5;
  };
  fill(ep.actions, {n, 7}, 1.0);
  fill(ep.actions_abs, {n, 10}, 2.0);
  fill(ep.states, {n, 1 + 9 + 8}, 3.0);
  fill(ep.obs["robot0_eef_pos"], {n, 3}, 4.0);
  fill(ep.obs["object"], {n, 10}, 5.0);
  fill(ep.next_obs["robot0_eef_pos"], {n, 3}, 6.0);
  fill(ep.next_obs["object"], {n, 10}, 7.0);
  for (auto* images : {&ep.obs_images, &ep.next_obs_images}) {
    ArrayU8& img = (*images)["agentview_image"];
    img.shape = {n, kH, kW, 3};
    img.data.resize(n * kH * kW * 3);
    for (size_t i = 0; i < img.data.size(); ++i) {
      img.data[i] = static_cast<uint8_t>((i * 7 + k * 31 + (images == &ep.next_obs_images)) % 251);
    }
  }
  for (int64_t t = 0; t < n; ++t) {
    ep.rewards.push_back(t == n - 1 ? 1.0 : 0.0);
    ep.dones.push_back(t == n - 1 ? 1 : 0);
  }
  ep.model_file = "<mujoco model=\"demo" + std::to_string(k) + "\"/>";
  ep.ep_meta = {{"seed", 100 + k}, {"operator", k % 2 ? "better" : "worse"}, {"warnings", {}}};
  return ep;
}

nlohmann::json EnvArgs() {
  return {{"env_name", "Lift"},
          {"type", 1},
          {"env_version", "1.4.1"},
          {"env_kwargs",
           {{"has_renderer", false},
            {"control_freq", 20},
            {"robots", {"Panda"}},
            {"camera_names", {"agentview"}},
            {"camera_heights", kH},
            {"camera_widths", kW}}}};
}

const std::map<std::string, std::vector<std::string>> kMasks = {
    {"train", {"demo_0", "demo_2"}}, {"valid", {"demo_1"}},
    {"worse", {"demo_0", "demo_2"}}, {"okay", {}},
    {"better", {"demo_1"}},          {"okay_better", {"demo_1"}},
};

class Hdf5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("hdf5_test_" + std::to_string(getpid()) + "_" +
                                             info->name() + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes episodes of the given lengths with kMasks.
  std::string WriteFile(const std::string& name, const std::vector<int64_t>& lengths,
                        const std::map<std::string, std::vector<std::string>>& masks = kMasks) {
    const std::string path = Path(name);
    DatasetWriter writer(path, false);
    for (size_t k = 0; k < lengths.size(); ++k) {
      EXPECT_EQ(writer.Append(MakeEpisode(static_cast<int>(k), lengths[k])),
                "demo_" + std::to_string(k));
    }
    writer.Finish(EnvArgs(), masks);
    return path;
  }

  fs::path dir_;
};

// Expects `fn` to throw std::runtime_error whose message contains every one of `parts`.
template <typename Fn>
void ExpectError(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning " << parts.front();
  } catch (const std::runtime_error& e) {
    for (const auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message: " << e.what() << "\nlacks: " << p;
    }
  }
}

TEST_F(Hdf5Test, RoundTripThreeEpisodes) {
  const std::vector<int64_t> lengths = {5, 3, 7};
  const std::string path = WriteFile("rt.hdf5", lengths);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  EpisodeStore s = EpisodeStore::Load(path);
  EXPECT_ELEMS(s.demo_names, "demo_0", "demo_1", "demo_2");
  EXPECT_ELEMS(s.episode_ends, 5, 8, 15);
  EXPECT_EQ(s.num_episodes(), 3);
  EXPECT_EQ(s.num_samples(), 15);
  EXPECT_EQ(s.total, 15);
  EXPECT_EQ(s.env_args, EnvArgs());
  EXPECT_EQ(s.masks, kMasks);
  ASSERT_EQ(s.ep_meta.size(), 3u);
  ASSERT_EQ(s.model_files.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(s.ep_meta[k], MakeEpisode(k, 1).ep_meta);
    EXPECT_EQ(s.model_files[k], MakeEpisode(k, 1).model_file);
  }

  // Default keys: every dataset of the first demo, obs/ and next_obs/ included.
  std::vector<std::string> f64_keys, u8_keys;
  for (const auto& kv : s.f64) f64_keys.push_back(kv.first);
  for (const auto& kv : s.u8) u8_keys.push_back(kv.first);
  EXPECT_ELEMS(f64_keys, "actions", "actions_abs", "dones", "next_obs/object",
               "next_obs/robot0_eef_pos", "obs/object", "obs/robot0_eef_pos", "rewards", "states");
  EXPECT_ELEMS(u8_keys, "next_obs/agentview_image", "obs/agentview_image");
  EXPECT_TRUE(s.has("obs/agentview_image"));
  EXPECT_FALSE(s.has("obs/nope"));

  EXPECT_ELEMS(s.f64.at("actions").shape, 15, 7);
  EXPECT_ELEMS(s.f64.at("actions_abs").shape, 15, 10);
  EXPECT_ELEMS(s.f64.at("states").shape, 15, 18);
  EXPECT_ELEMS(s.f64.at("rewards").shape, 15);
  EXPECT_ELEMS(s.f64.at("dones").shape, 15);
  EXPECT_ELEMS(s.f64.at("obs/object").shape, 15, 10);
  EXPECT_ELEMS(s.u8.at("obs/agentview_image").shape, 15, kH, kW, 3);

  // Concatenated contents equal the episodes in order.
  int64_t start = 0;
  for (int k = 0; k < 3; ++k) {
    EpisodeRecord ep = MakeEpisode(k, lengths[k]);
    auto check_f64 = [&](const std::string& key, const ArrayF64& a) {
      const ArrayF64& got = s.f64.at(key);
      ASSERT_EQ(got.row_size(), a.row_size()) << key;
      std::vector<double> slice(got.row(start), got.row(start) + lengths[k] * got.row_size());
      EXPECT_EQ(slice, a.data) << key << " demo_" << k;
    };
    auto check_u8 = [&](const std::string& key, const ArrayU8& a) {
      const ArrayU8& got = s.u8.at(key);
      std::vector<uint8_t> slice(got.row(start), got.row(start) + lengths[k] * got.row_size());
      EXPECT_EQ(slice, a.data) << key << " demo_" << k;
    };
    check_f64("actions", ep.actions);
    check_f64("actions_abs", ep.actions_abs);
    check_f64("states", ep.states);
    check_f64("obs/robot0_eef_pos", ep.obs.at("robot0_eef_pos"));
    check_f64("next_obs/object", ep.next_obs.at("object"));
    check_u8("obs/agentview_image", ep.obs_images.at("agentview_image"));
    check_u8("next_obs/agentview_image", ep.next_obs_images.at("agentview_image"));
    for (int64_t t = 0; t < lengths[k]; ++t) {
      EXPECT_EQ(s.f64.at("rewards").data[start + t], ep.rewards[t]);
      EXPECT_EQ(s.f64.at("dones").data[start + t], static_cast<double>(ep.dones[t]));
    }
    start += lengths[k];
  }
}

// ---- raw layout, checked with the HDF5 C API the way h5py/robomimic would see it ---------------

struct H {
  hid_t id;
  herr_t (*close)(hid_t);
  ~H() {
    if (id >= 0) close(id);
  }
};

TEST_F(Hdf5Test, FileLayoutMatchesRobomimic) {
  const std::string path = WriteFile("layout.hdf5", {4, 2, 3});
  H f{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  ASSERT_GE(f.id, 0);

  // /data/demo_0 attrs: num_samples scalar int64; model_file and ep_meta variable-length strings.
  {
    H demo{H5Gopen2(f.id, "data/demo_0", H5P_DEFAULT), H5Gclose};
    ASSERT_GE(demo.id, 0);
    H a{H5Aopen(demo.id, "num_samples", H5P_DEFAULT), H5Aclose};
    H t{H5Aget_type(a.id), H5Tclose};
    H sp{H5Aget_space(a.id), H5Sclose};
    EXPECT_EQ(H5Tget_class(t.id), H5T_INTEGER);
    EXPECT_EQ(H5Tget_size(t.id), 8u);
    EXPECT_EQ(H5Sget_simple_extent_type(sp.id), H5S_SCALAR);
    int64_t n = 0;
    H5Aread(a.id, H5T_NATIVE_INT64, &n);
    EXPECT_EQ(n, 4);
    for (const char* name : {"model_file", "ep_meta"}) {
      H s{H5Aopen(demo.id, name, H5P_DEFAULT), H5Aclose};
      H st{H5Aget_type(s.id), H5Tclose};
      EXPECT_EQ(H5Tget_class(st.id), H5T_STRING) << name;
      EXPECT_GT(H5Tis_variable_str(st.id), 0) << name;
    }
    // actions (N, 7) float64, dones int64, rewards 1-D.
    H act{H5Dopen2(demo.id, "actions", H5P_DEFAULT), H5Dclose};
    H at{H5Dget_type(act.id), H5Tclose};
    EXPECT_EQ(H5Tget_class(at.id), H5T_FLOAT);
    EXPECT_EQ(H5Tget_size(at.id), 8u);
    H dn{H5Dopen2(demo.id, "dones", H5P_DEFAULT), H5Dclose};
    H dt{H5Dget_type(dn.id), H5Tclose};
    EXPECT_EQ(H5Tget_class(dt.id), H5T_INTEGER);
    EXPECT_EQ(H5Tget_size(dt.id), 8u);
    // Images: uint8, chunk (1, H, W, 3), gzip, no shuffle.
    H img{H5Dopen2(demo.id, "obs/agentview_image", H5P_DEFAULT), H5Dclose};
    H it{H5Dget_type(img.id), H5Tclose};
    EXPECT_EQ(H5Tget_class(it.id), H5T_INTEGER);
    EXPECT_EQ(H5Tget_size(it.id), 1u);
    EXPECT_EQ(H5Tget_sign(it.id), H5T_SGN_NONE);
    H dcpl{H5Dget_create_plist(img.id), H5Pclose};
    ASSERT_EQ(H5Pget_layout(dcpl.id), H5D_CHUNKED);
    hsize_t chunk[4] = {0, 0, 0, 0};
    ASSERT_EQ(H5Pget_chunk(dcpl.id, 4, chunk), 4);
    EXPECT_ELEMS(std::vector<hsize_t>(chunk, chunk + 4), 1, kH, kW, 3);
    ASSERT_EQ(H5Pget_nfilters(dcpl.id), 1);
    unsigned flags = 0, cd[4] = {0, 0, 0, 0};
    size_t ncd = 4;
    EXPECT_EQ(H5Pget_filter2(dcpl.id, 0, &flags, &ncd, cd, 0, nullptr, nullptr),
              H5Z_FILTER_DEFLATE);
  }
  // /data attrs: total int64, env_args string.
  {
    H data{H5Gopen2(f.id, "data", H5P_DEFAULT), H5Gclose};
    H a{H5Aopen(data.id, "total", H5P_DEFAULT), H5Aclose};
    int64_t total = 0;
    H5Aread(a.id, H5T_NATIVE_INT64, &total);
    EXPECT_EQ(total, 9);
    H e{H5Aopen(data.id, "env_args", H5P_DEFAULT), H5Aclose};
    H et{H5Aget_type(e.id), H5Tclose};
    EXPECT_EQ(H5Tget_class(et.id), H5T_STRING);
  }
  // /mask/train: 1-D fixed-length NULL-padded ASCII strings of the longest name's size, as h5py
  // writes np.array(names, dtype="S").
  {
    H m{H5Dopen2(f.id, "mask/train", H5P_DEFAULT), H5Dclose};
    H t{H5Dget_type(m.id), H5Tclose};
    H sp{H5Dget_space(m.id), H5Sclose};
    EXPECT_EQ(H5Tget_class(t.id), H5T_STRING);
    EXPECT_EQ(H5Tis_variable_str(t.id), 0);
    EXPECT_EQ(H5Tget_size(t.id), 6u);
    EXPECT_EQ(H5Tget_strpad(t.id), H5T_STR_NULLPAD);
    EXPECT_EQ(H5Tget_cset(t.id), H5T_CSET_ASCII);
    EXPECT_EQ(H5Sget_simple_extent_ndims(sp.id), 1);
    char buf[12];
    H5Dread(m.id, t.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    EXPECT_EQ(std::string(buf, 6), "demo_0");
    EXPECT_EQ(std::string(buf + 6, 6), "demo_2");
    H okay{H5Dopen2(f.id, "mask/okay", H5P_DEFAULT), H5Dclose};
    H osp{H5Dget_space(okay.id), H5Sclose};
    EXPECT_EQ(H5Sget_simple_extent_npoints(osp.id), 0);
  }
}

TEST_F(Hdf5Test, ExistingPathRefusedWithoutOverwrite) {
  const std::string path =
      WriteFile("exists.hdf5", {3, 2}, {{"train", {"demo_0"}}, {"valid", {"demo_1"}}});
  ExpectError([&] { DatasetWriter w(path, false); }, {path, "exists", "--overwrite"});
  EXPECT_EQ(EpisodeStore::Load(path).num_episodes(), 2);

  // Overwriting but not finishing leaves the old file untouched.
  {
    DatasetWriter w(path, true);
    w.Append(MakeEpisode(0, 4));
  }
  EXPECT_EQ(EpisodeStore::Load(path).num_episodes(), 2);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  {
    DatasetWriter w(path, true);
    w.Append(MakeEpisode(0, 4));
    w.Finish({{"env_name", "Can"}}, {{"train", {"demo_0"}}});
  }
  EpisodeStore s = EpisodeStore::Load(path);
  EXPECT_EQ(s.num_episodes(), 1);
  EXPECT_EQ(s.total, 4);
  EXPECT_EQ(s.env_args["env_name"], "Can");
  EXPECT_EQ(s.masks.size(), 1u);
}

TEST_F(Hdf5Test, UnfinishedWriterLeavesNoFile) {
  const std::string path = Path("unfinished.hdf5");
  {
    DatasetWriter w(path, false);
    EXPECT_EQ(w.temp_path(), path + ".tmp");
    w.Append(MakeEpisode(0, 3));
    EXPECT_TRUE(fs::exists(w.temp_path()));
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(Hdf5Test, MissingParentDirectoryThrows) {
  const std::string path = Path("no/such/dir/x.hdf5");
  ExpectError([&] { DatasetWriter w(path, false); }, {path, "does not exist"});
  EXPECT_FALSE(fs::exists(Path("no")));
}

TEST_F(Hdf5Test, FilterKeySelectsMaskedDemos) {
  const std::string path = WriteFile("filter.hdf5", {5, 3, 7});
  EpisodeStoreOptions opt;
  opt.filter_key = "train";
  EpisodeStore s = EpisodeStore::Load(path, opt);
  EXPECT_ELEMS(s.demo_names, "demo_0", "demo_2");
  EXPECT_ELEMS(s.episode_ends, 5, 12);
  EXPECT_EQ(s.total, 15);  // the /data attribute covers the whole file
  EXPECT_EQ(s.ep_meta[1]["seed"], 102);
  EXPECT_EQ(s.f64.at("actions").data[5 * 7], MakeEpisode(2, 7).actions.data[0]);

  opt.filter_key = "okay";  // empty mask: nothing selected, shapes still known
  EpisodeStore e = EpisodeStore::Load(path, opt);
  EXPECT_EQ(e.num_episodes(), 0);
  EXPECT_EQ(e.num_samples(), 0);
  EXPECT_ELEMS(e.f64.at("actions").shape, 0, 7);
  EXPECT_ELEMS(e.u8.at("obs/agentview_image").shape, 0, kH, kW, 3);

  opt.filter_key = "test";
  ExpectError([&] { EpisodeStore::Load(path, opt); },
              {path, "'test'", "better", "okay", "train", "valid", "worse"});
}

TEST_F(Hdf5Test, DemosSortedNumerically) {
  const std::string path = WriteFile("sort.hdf5", std::vector<int64_t>(12, 1),
                                     {{"valid", {"demo_11", "demo_2", "demo_10"}}});
  EpisodeStore s = EpisodeStore::Load(path);
  ASSERT_EQ(s.num_episodes(), 12);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(s.demo_names[i], "demo_" + std::to_string(i));
  EpisodeStoreOptions opt;
  opt.filter_key = "valid";
  EXPECT_ELEMS(EpisodeStore::Load(path, opt).demo_names, "demo_2", "demo_10", "demo_11");
  EXPECT_ELEMS(s.masks.at("valid"), "demo_11", "demo_2", "demo_10");
}

TEST_F(Hdf5Test, KeySelectionAndUnknownKey) {
  const std::string path = WriteFile("keys.hdf5", {2, 3, 1});
  EpisodeStoreOptions opt;
  opt.keys = {"actions", "obs/agentview_image"};
  EpisodeStore s = EpisodeStore::Load(path, opt);
  EXPECT_EQ(s.f64.size(), 1u);
  EXPECT_EQ(s.u8.size(), 1u);
  EXPECT_TRUE(s.has("actions"));
  EXPECT_TRUE(s.has("obs/agentview_image"));
  EXPECT_ELEMS(s.episode_ends, 2, 5, 6);

  opt.keys = {"actions", "obs/nope"};
  ExpectError([&] { EpisodeStore::Load(path, opt); },
              {path, "'obs/nope'", "actions", "obs/agentview_image", "next_obs/object", "states"});
}

TEST_F(Hdf5Test, LoadErrors) {
  ExpectError([&] { EpisodeStore::Load(Path("missing.hdf5")); },
              {Path("missing.hdf5"), "does not exist"});
  {
    std::FILE* f = std::fopen(Path("text.hdf5").c_str(), "w");
    std::fputs("not hdf5", f);
    std::fclose(f);
  }
  ExpectError([&] { EpisodeStore::Load(Path("text.hdf5")); }, {"not an HDF5 file"});
  {
    H f{H5Fcreate(Path("nodata.hdf5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    H g{H5Gcreate2(f.id, "other", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
  }
  ExpectError([&] { EpisodeStore::Load(Path("nodata.hdf5")); }, {Path("nodata.hdf5"), "/data"});
}

TEST_F(Hdf5Test, RowMismatchThrows) {
  const std::string path = Path("mismatch.hdf5");
  DatasetWriter w(path, false);
  auto expect_bad = [&](EpisodeRecord ep, const std::string& what) {
    ExpectError([&] { w.Append(ep); }, {what});
  };
  {
    EpisodeRecord ep = MakeEpisode(0, 4);
    ep.actions.shape[0] = 3;
    ep.actions.data.resize(3 * 7);
    expect_bad(ep, "actions");
  }
  {
    EpisodeRecord ep = MakeEpisode(0, 4);
    ep.rewards.pop_back();
    expect_bad(ep, "rewards");
  }
  {
    EpisodeRecord ep = MakeEpisode(0, 4);
    ep.dones.push_back(0);
    expect_bad(ep, "dones");
  }
  {
    EpisodeRecord ep = MakeEpisode(0, 4);
    ep.obs_images["agentview_image"].shape[0] = 5;
    expect_bad(ep, "obs/agentview_image");
  }
  {
    EpisodeRecord ep = MakeEpisode(0, 4);
    ep.next_obs["object"].data.pop_back();  // shape right, data short
    expect_bad(ep, "next_obs/object");
  }
  {
    EpisodeRecord ep = MakeEpisode(0, 4);
    ep.states = ArrayF64{};  // missing states
    expect_bad(ep, "states");
  }
  expect_bad(MakeEpisode(0, 0), "num_samples");

  // Validation happens before writing: the writer is still usable, numbering unaffected.
  EpisodeRecord ok = MakeEpisode(0, 4);
  ok.actions_abs = ArrayF64{};  // optional: skipped
  EXPECT_EQ(w.Append(ok), "demo_0");
  ExpectError([&] { w.Finish(EnvArgs(), {{"train", {"demo_0", "demo_1"}}}); }, {"demo_1"});
  w.Finish(EnvArgs(), {{"train", {"demo_0"}}});
  EpisodeStore s = EpisodeStore::Load(path);
  EXPECT_FALSE(s.has("actions_abs"));
  EXPECT_EQ(s.total, 4);
  ExpectError([&] { w.Append(MakeEpisode(1, 2)); }, {"Finish"});
}

// A file written the way other tools write robomimic files: float32 actions, int32 dones, no
// num_samples/model_file/ep_meta/total attributes, variable-length mask strings, a fixed-length
// env_args attribute, demos created out of numeric order.
TEST_F(Hdf5Test, LoadsForeignFile) {
  const std::string path = Path("foreign.hdf5");
  {
    H f{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    H data{H5Gcreate2(f.id, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    const std::string env = R"({"env_name": "PickPlaceCan", "type": 1, "env_kwargs": {}})";
    {
      H t{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(t.id, env.size());
      H sp{H5Screate(H5S_SCALAR), H5Sclose};
      H a{H5Acreate2(data.id, "env_args", t.id, sp.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      H5Awrite(a.id, t.id, env.data());
    }
    for (int k : {10, 2, 1}) {
      const int n = k;  // demo_k has k samples
      const std::string name = "demo_" + std::to_string(k);
      H g{H5Gcreate2(data.id, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
      std::vector<float> actions(n * 2);
      for (int i = 0; i < n * 2; ++i) actions[i] = k + i * 0.25f;
      hsize_t adims[2] = {static_cast<hsize_t>(n), 2};
      H asp{H5Screate_simple(2, adims, nullptr), H5Sclose};
      H ad{H5Dcreate2(g.id, "actions", H5T_IEEE_F32LE, asp.id, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT),
           H5Dclose};
      H5Dwrite(ad.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, actions.data());
      std::vector<int32_t> dones(n, 0);
      dones.back() = 1;
      hsize_t ddims[1] = {static_cast<hsize_t>(n)};
      H dsp{H5Screate_simple(1, ddims, nullptr), H5Sclose};
      H dd{H5Dcreate2(g.id, "dones", H5T_STD_I32LE, dsp.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           H5Dclose};
      H5Dwrite(dd.id, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, dones.data());
      H obs{H5Gcreate2(g.id, "obs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
      std::vector<uint8_t> img(n * 2 * 2 * 3, static_cast<uint8_t>(k));
      hsize_t idims[4] = {static_cast<hsize_t>(n), 2, 2, 3};
      H isp{H5Screate_simple(4, idims, nullptr), H5Sclose};
      H id{H5Dcreate2(obs.id, "eye_in_hand_image", H5T_STD_U8LE, isp.id, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT),
           H5Dclose};
      H5Dwrite(id.id, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, img.data());
    }
    H mask{H5Gcreate2(f.id, "mask", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    const char* names[2] = {"demo_10", "demo_1"};
    H t{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(t.id, H5T_VARIABLE);
    hsize_t mdims[1] = {2};
    H msp{H5Screate_simple(1, mdims, nullptr), H5Sclose};
    H md{H5Dcreate2(mask.id, "train", t.id, msp.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
         H5Dclose};
    H5Dwrite(md.id, t.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, names);
  }

  EpisodeStore s = EpisodeStore::Load(path);
  EXPECT_ELEMS(s.demo_names, "demo_1", "demo_2", "demo_10");
  EXPECT_ELEMS(s.episode_ends, 1, 3, 13);
  EXPECT_EQ(s.total, 13);  // absent attribute: summed over the file
  EXPECT_EQ(s.env_args["env_name"], "PickPlaceCan");
  EXPECT_ELEMS(s.masks.at("train"), "demo_10", "demo_1");
  EXPECT_ELEMS(s.model_files, "", "", "");
  EXPECT_EQ(s.ep_meta[0], nlohmann::json::object());
  EXPECT_ELEMS(s.f64.at("actions").shape, 13, 2);
  EXPECT_FLOAT_EQ(s.f64.at("actions").data[3 * 2 + 1], 10.25);  // demo_10 row 0 col 1
  EXPECT_EQ(s.f64.at("dones").data[2], 1.0);
  EXPECT_ELEMS(s.u8.at("obs/eye_in_hand_image").shape, 13, 2, 2, 3);
  EXPECT_EQ(s.u8.at("obs/eye_in_hand_image").data.back(), 10);

  EpisodeStoreOptions opt;
  opt.filter_key = "train";
  EXPECT_ELEMS(EpisodeStore::Load(path, opt).episode_ends, 1, 11);
}

}  // namespace
}  // namespace onedp
