// `harness samples`' measures (harness/sample_stats.h): chunk roughness and the spread of draws.
#include "harness/sample_stats.h"

#include <vector>

#include <gtest/gtest.h>

namespace onedp {
namespace {

TEST(SampleStatsTest, RoughnessIsZeroOnRampsAndKnownOnAZigZag) {
  // Two dims: a ramp (no curvature) and a +-1 zig-zag (second difference +-4 everywhere).
  std::vector<float> chunk;
  for (int t = 0; t < 6; ++t) {
    chunk.push_back(0.3f * t - 1.0f);
    chunk.push_back(t % 2 == 0 ? 1.0f : -1.0f);
  }
  EXPECT_DOUBLE_EQ(ChunkRoughness(chunk.data(), 6, 2, {1.0, 1.0}), 8.0);   // (0 + 16) / 2
  EXPECT_DOUBLE_EQ(ChunkRoughness(chunk.data(), 6, 2, {1.0, 2.0}), 2.0);   // the zig-zag halved
  EXPECT_DOUBLE_EQ(ChunkRoughness(chunk.data(), 2, 2, {1.0, 1.0}), 0.0);   // too short
  const std::vector<double> by_dim = ChunkRoughnessByDim(chunk.data(), 6, 2, {1.0, 1.0});
  ASSERT_EQ(by_dim.size(), 2u);
  EXPECT_NEAR(by_dim[0], 0.0, 1e-9);
  EXPECT_NEAR(by_dim[1], 16.0, 1e-9);
}

TEST(SampleStatsTest, SpreadOfDrawsAlongOneDirectionAndOfIdenticalDraws) {
  // Draws t * (1, 2, 0, 0) for t = -1, 0, 1: covariance rank 1, trace (1 + 4) * 1 = 5 over 4 elements.
  std::vector<std::vector<double>> line = {{-1, -2, 0, 0}, {0, 0, 0, 0}, {1, 2, 0, 0}};
  const DrawSpread s = SpreadAcrossDraws(line);
  EXPECT_NEAR(s.total_var, 5.0 / 4.0, 1e-12);
  EXPECT_NEAR(s.top1, 1.0, 1e-12);
  EXPECT_NEAR(s.eff_rank, 1.0, 1e-12);
  // Two orthogonal directions of equal variance: effective rank 2, top-1 share 0.5.
  std::vector<std::vector<double>> plane = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
  const DrawSpread p = SpreadAcrossDraws(plane);
  EXPECT_NEAR(p.top1, 0.5, 1e-12);
  EXPECT_NEAR(p.eff_rank, 2.0, 1e-12);
  const DrawSpread same = SpreadAcrossDraws({{0.1, 0.7}, {0.1, 0.7}, {0.1, 0.7}});
  EXPECT_EQ(same.total_var, 0.0);
  EXPECT_EQ(same.top1, 0.0);
  EXPECT_EQ(SpreadAcrossDraws({{1, 2}}).total_var, 0.0);  // one draw
  EXPECT_THROW(SpreadAcrossDraws({{1, 2}, {1}}), std::invalid_argument);
}

TEST(SampleStatsTest, NearestDistancesMeasureSupportAndCoverage) {
  // Reference draws at 0 and 2 (one element); a policy that only ever gives 0 is on the
  // reference's support (distance 0) but misses the mode at 2 (coverage 0 for that draw, 4 for 2).
  const std::vector<std::vector<double>> ref = {{0}, {2}}, collapsed = {{0}, {0}};
  EXPECT_DOUBLE_EQ(MeanNearestDistance(collapsed, ref, false), 0.0);
  EXPECT_DOUBLE_EQ(MeanNearestDistance(ref, collapsed, false), 2.0);  // (0 + 4) / 2
  // Within one set each draw's own copy is skipped: the nearest other draw.
  EXPECT_DOUBLE_EQ(MeanNearestDistance(ref, ref, true), 4.0);
  // Per element: two elements at distance 1 each give 1.
  EXPECT_DOUBLE_EQ(MeanNearestDistance({{1, 1}}, {{0, 0}}, false), 1.0);
  EXPECT_DOUBLE_EQ(MeanNearestDistance({{1}}, {{1}}, true), 0.0);  // no other draw
}

}  // namespace
}  // namespace onedp
