// SequenceDataset (harness/sequence_dataset.h) against diffusion_policy's SequenceSampler:
// sequence count, edge padding at both ends, obs/action alignment, filter keys, clear errors.
#include "harness/sequence_dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/episode.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

constexpr int kImgH = 4, kImgW = 6;
// Episode lengths of demo_0, demo_1, demo_2; mask train = {demo_0, demo_2}, valid = {demo_1}.
const std::vector<int64_t> kLengths = {5, 3, 20};

// Known values: actions_abs[t][i] = 100 k + t + i / 16, actions[t][i] = -(100 k + t),
// obs/eef[t][i] = 100 k + t + i / 4, obs/agentview_image[t] = every byte 10 k + t.
double ActionValue(int k, int64_t t, int i) { return 100.0 * k + t + i / 16.0; }
double EefValue(int k, int64_t t, int i) { return 100.0 * k + t + i / 4.0; }
uint8_t PixelValue(int k, int64_t t) { return static_cast<uint8_t>(10 * k + t); }

EpisodeRecord MakeEpisode(int k, int64_t n) {
  EpisodeRecord ep;
  ep.num_samples = n;
  ep.actions.shape = {n, 7};
  ep.actions_abs.shape = {n, 10};
  ep.states.shape = {n, 3};
  ep.obs["eef"].shape = {n, 3};
  ep.obs_images["agentview_image"].shape = {n, kImgH, kImgW, 3};
  for (int64_t t = 0; t < n; ++t) {
    for (int i = 0; i < 7; ++i) ep.actions.data.push_back(-(100.0 * k + t));
    for (int i = 0; i < 10; ++i) ep.actions_abs.data.push_back(ActionValue(k, t, i));
    for (int i = 0; i < 3; ++i) ep.states.data.push_back(t);
    for (int i = 0; i < 3; ++i) ep.obs["eef"].data.push_back(EefValue(k, t, i));
    auto& img = ep.obs_images["agentview_image"].data;
    img.insert(img.end(), kImgH * kImgW * 3, PixelValue(k, t));
    ep.rewards.push_back(t == n - 1);
    ep.dones.push_back(t == n - 1);
  }
  ep.next_obs = ep.obs;
  ep.next_obs_images = ep.obs_images;
  return ep;
}

class SequenceDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("onedp_seqds_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "tiny.hdf5").string();
    DatasetWriter w(path_, false);
    for (size_t k = 0; k < kLengths.size(); ++k)
      w.Append(MakeEpisode(static_cast<int>(k), kLengths[k]));
    w.Finish({{"env_name", "Lift"}, {"type", 1}},
             {{"train", {"demo_0", "demo_2"}}, {"valid", {"demo_1"}}});
  }
  void TearDown() override { fs::remove_all(dir_); }

  SequenceDatasetOptions Options(int to, int h, int ta, const std::string& filter) const {
    SequenceDatasetOptions o;
    o.path = path_;
    o.filter_key = filter;
    o.obs_steps = to;
    o.horizon = h;
    o.action_steps = ta;
    PolicyObsKey eef;
    eef.key = "eef";
    eef.shape = {3};
    PolicyObsKey img;
    img.key = "agentview_image";
    img.is_image = true;
    img.shape = {kImgH, kImgW, 3};
    o.keys = {img, eef};
    return o;
  }

  fs::path dir_;
  std::string path_;
};

// The (episode, time) each window step reads, from the actions' known values.
struct Step {
  int episode;
  int64_t t;
  bool operator==(const Step& o) const { return episode == o.episode && t == o.t; }
};

TEST_F(SequenceDatasetTest, CountsAndPaddingMatchDpSampler) {
  // To 2, H 4, Ta 3: pad_before 1, pad_after 2; an episode of length L gives L - 4 + 1 + 2 + 1.
  const SequenceDataset ds = SequenceDataset::Load(Options(2, 4, 3, ""));
  EXPECT_EQ(ds.num_episodes(), 3);
  EXPECT_EQ(ds.num_samples(), 28);
  EXPECT_EQ(ds.action_dim(), 10);
  ASSERT_EQ(ds.size(), (5 - 4 + 4) + (3 - 4 + 4) + (20 - 4 + 4));
  EXPECT_EQ(ds.actions().rows(), 28);
  EXPECT_EQ(ds.lowdim("eef").rows(), 28);
  EXPECT_EQ(&ds.lowdim("obs/eef"), &ds.lowdim("eef"));

  std::vector<int64_t> all(ds.size());
  for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
  TrainBatch b;
  ds.Get(all, &b);
  ASSERT_EQ(b.actions.size(), static_cast<size_t>(ds.size() * 4 * 10));
  ASSERT_EQ(b.obs.batch, ds.size());
  ASSERT_EQ(b.obs.steps, 2);

  // Expected windows: episode order, then start s in [-1, L - 2], step j reads clamp(s + j).
  int64_t row = 0;
  for (int k = 0; k < 3; ++k) {
    const int64_t len = kLengths[k];
    for (int64_t s = -1; s <= len - 4 + 2; ++s, ++row) {
      for (int j = 0; j < 4; ++j) {
        const int64_t t = std::clamp<int64_t>(s + j, 0, len - 1);
        for (int i = 0; i < 10; ++i) {
          ASSERT_EQ(b.actions[(row * 4 + j) * 10 + i], static_cast<float>(ActionValue(k, t, i)))
              << "sequence " << row << " step " << j;
        }
      }
    }
  }
  EXPECT_EQ(row, ds.size());
}

TEST_F(SequenceDatasetTest, ObsAreTheFirstToStepsOfTheActionWindow) {
  const SequenceDataset ds = SequenceDataset::Load(Options(2, 16, 8, "train"));
  // demo_0 (5 steps): 5 - 16 + 1 + 7 + 1 < 0 -> none; demo_2 (20): 20 - 16 + 9 = 13.
  ASSERT_EQ(ds.size(), 13);
  TrainBatch b;
  ds.Get({0, 1, 12}, &b);
  ASSERT_EQ(b.obs.lowdim.at("eef").size(), 3u * 2 * 3);
  ASSERT_EQ(b.obs.images.at("agentview_image").size(), 3u * 2 * kImgH * kImgW * 3);
  ASSERT_EQ(b.actions.size(), 3u * 16 * 10);
  const int64_t first_t[3] = {-1, 0, 11};  // window starts
  for (int r = 0; r < 3; ++r) {
    for (int j = 0; j < 2; ++j) {
      const int64_t t = std::clamp<int64_t>(first_t[r] + j, 0, 19);
      // Obs step j and action step j come from the same dataset row.
      EXPECT_EQ(b.obs.lowdim.at("eef")[(r * 2 + j) * 3 + 1], static_cast<float>(EefValue(2, t, 1)));
      EXPECT_EQ(b.actions[(r * 16 + j) * 10], static_cast<float>(ActionValue(2, t, 0)));
      const size_t frame = kImgH * kImgW * 3;
      const uint8_t* px = b.obs.images.at("agentview_image").data() + (r * 2 + j) * frame;
      EXPECT_TRUE(std::all_of(px, px + frame, [&](uint8_t v) { return v == PixelValue(2, t); }));
    }
  }
  // Front padding: both obs of window -1 are sample 0.
  EXPECT_EQ(b.obs.lowdim.at("eef")[0], b.obs.lowdim.at("eef")[3]);
  // Back padding: the last window (start 11) ends with samples 19 repeated (steps 8..15).
  for (int j = 8; j < 16; ++j) {
    EXPECT_EQ(b.actions[(2 * 16 + j) * 10], static_cast<float>(ActionValue(2, 19, 0))) << j;
  }
  EXPECT_EQ(b.actions[(2 * 16 + 7) * 10], static_cast<float>(ActionValue(2, 18, 0)));
}

TEST_F(SequenceDatasetTest, FilterKeySelectsDemos) {
  const SequenceDataset valid = SequenceDataset::Load(Options(2, 4, 3, "valid"));
  EXPECT_EQ(valid.num_episodes(), 1);
  EXPECT_EQ(valid.demo_names(), std::vector<std::string>{"demo_1"});
  EXPECT_EQ(valid.size(), 3);
  EXPECT_EQ(valid.actions().row(0)[0], ActionValue(1, 0, 0));
  const SequenceDataset train = SequenceDataset::Load(Options(2, 4, 3, "train"));
  EXPECT_EQ(train.num_episodes(), 2);
  EXPECT_EQ(train.size(), 5 + 20);
  EXPECT_EQ(train.episode_ends(), (std::vector<int64_t>{5, 25}));

  // Delta actions through action_key.
  SequenceDatasetOptions o = Options(2, 4, 3, "valid");
  o.action_key = "actions";
  const SequenceDataset delta = SequenceDataset::Load(o);
  EXPECT_EQ(delta.action_dim(), 7);
  TrainBatch b;
  delta.Get({2}, &b);  // start 1 of a 3-step episode: samples 1, 2, 2, 2
  EXPECT_EQ(b.actions[0], -101.0f);
  EXPECT_EQ(b.actions[3 * 7], -102.0f);
}

TEST_F(SequenceDatasetTest, ClearErrors) {
  auto message = [&](const SequenceDatasetOptions& o) {
    try {
      SequenceDataset::Load(o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no std::invalid_argument");
  };
  const std::string bad_mask = message(Options(2, 4, 3, "tarin"));
  EXPECT_NE(bad_mask.find("tarin"), std::string::npos) << bad_mask;
  EXPECT_NE(bad_mask.find("train"), std::string::npos) << bad_mask;
  EXPECT_NE(bad_mask.find("valid"), std::string::npos) << bad_mask;

  SequenceDatasetOptions o = Options(2, 4, 3, "");
  o.keys[1].key = "robot0_eef_pos";
  const std::string bad_key = message(o);
  EXPECT_NE(bad_key.find("obs/robot0_eef_pos"), std::string::npos) << bad_key;
  EXPECT_NE(bad_key.find("obs/eef"), std::string::npos) << bad_key;  // lists what exists

  o = Options(2, 4, 3, "");
  o.keys[1].shape = {4};
  EXPECT_NE(message(o).find("shape"), std::string::npos) << message(o);
  o = Options(2, 4, 3, "");
  o.keys[0].is_image = false;  // an image read as low-dim
  EXPECT_NE(message(o).find("uint8"), std::string::npos) << message(o);
  o = Options(2, 4, 3, "");
  o.action_key = "actions_rel";
  EXPECT_NE(message(o).find("actions_rel"), std::string::npos) << message(o);
  EXPECT_NE(message(Options(3, 2, 1, "")).find("horizon"), std::string::npos);

  const SequenceDataset ds = SequenceDataset::Load(Options(2, 4, 3, ""));
  TrainBatch b;
  EXPECT_THROW(ds.Get({ds.size()}, &b), std::out_of_range);
  EXPECT_THROW(ds.Get({-1}, &b), std::out_of_range);
  EXPECT_THROW(ds.lowdim("agentview_image"), std::invalid_argument);
}

}  // namespace
}  // namespace onedp
