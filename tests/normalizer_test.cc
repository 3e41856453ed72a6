#include "policies/normalizer.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace onedp {
namespace {

TEST(NormalizerTest, FitLimitsConstantAndIdentityDims) {
  // 4 rows x 3 dims: dim 0 in [-1, 3], dim 1 constant 5, dim 2 identity.
  const std::vector<double> data = {-1, 5, 10,  //
                                    3,  5, -7,  //
                                    0,  5, 2,   //
                                    1,  5, 0};
  Normalizer n;
  n.Fit("action", data.data(), 4, 3, {"limits", "limits", "identity"});
  ASSERT_TRUE(n.has("action"));
  EXPECT_EQ(n.dim("action"), 3);
  EXPECT_EQ(n.scale("action"), (std::vector<float>{0.5f, 1.0f, 1.0f}));
  EXPECT_EQ(n.offset("action"), (std::vector<float>{-0.5f, -5.0f, 0.0f}));

  std::vector<float> v = {-1, 5, 10, 3, 5, -7};
  n.Normalize("action", v.data(), static_cast<int64_t>(v.size()));
  EXPECT_EQ(v, (std::vector<float>{-1, 0, 10, 1, 0, -7}));
  n.Unnormalize("action", v.data(), static_cast<int64_t>(v.size()));
  EXPECT_EQ(v, (std::vector<float>{-1, 5, 10, 3, 5, -7}));
}

TEST(NormalizerTest, RangeBelowEpsIsShiftedNotScaled) {
  const std::vector<double> data = {2.0, 2.00005, 2.00002};  // range 5e-5 < 1e-4
  Normalizer n;
  n.Fit("x", data.data(), 3, 1);
  EXPECT_EQ(n.scale("x")[0], 1.0f);
  EXPECT_EQ(n.offset("x")[0], -2.0f);
}

TEST(NormalizerTest, LimitsMapToUnitIntervalAndRoundTrip) {
  // Non-trivial ranges: min maps to -1, max to +1, round trip within float precision.
  std::vector<double> data;
  for (int i = 0; i < 50; ++i) {
    data.push_back(0.1 * i - 1.7);       // [-1.7, 3.2]
    data.push_back(0.003 * i * i + 0.4);  // [0.4, 7.603]
  }
  Normalizer n;
  n.Fit("agent_pos", data.data(), 50, 2);
  std::vector<float> raw(data.begin(), data.end());
  std::vector<float> v = raw;
  n.Normalize("agent_pos", v.data(), static_cast<int64_t>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_GE(v[i], -1.0f - 1e-6f);
    EXPECT_LE(v[i], 1.0f + 1e-6f);
  }
  EXPECT_NEAR(v[0], -1.0, 1e-6);
  EXPECT_NEAR(v[98], 1.0, 1e-6);
  EXPECT_NEAR(v[1], -1.0, 1e-6);
  EXPECT_NEAR(v[99], 1.0, 1e-6);
  n.Unnormalize("agent_pos", v.data(), static_cast<int64_t>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], raw[i], 1e-5) << i;
  std::vector<float> bad(3);
  EXPECT_THROW(n.Normalize("agent_pos", bad.data(), 3), std::invalid_argument);
}

TEST(NormalizerTest, SetIdentityIsANoOp) {
  Normalizer n;
  n.SetIdentity("quat", 4);
  std::vector<float> v = {0.1f, -0.2f, 0.3f, 0.9f};
  const std::vector<float> orig = v;
  n.Normalize("quat", v.data(), 4);
  EXPECT_EQ(v, orig);
  n.Unnormalize("quat", v.data(), 4);
  EXPECT_EQ(v, orig);
}

TEST(NormalizerTest, JsonRoundTripIsBitExact) {
  std::vector<double> data;
  for (int i = 0; i < 30; ++i) {
    data.push_back(std::sin(0.37 * i) * 0.123456789);
    data.push_back(std::exp(0.05 * i) / 3.0);
    data.push_back(1e-3 * i * i - 0.7);
  }
  Normalizer n;
  n.Fit("a", data.data(), 30, 3, {"limits", "identity", "limits"});
  n.Fit("b", data.data(), 45, 2);
  n.SetIdentity("c", 2);
  const std::string text = n.ToJson().dump();
  const Normalizer r = Normalizer::FromJson(nlohmann::json::parse(text));
  EXPECT_EQ(r.keys(), n.keys());
  for (const std::string& key : n.keys()) {
    ASSERT_EQ(r.dim(key), n.dim(key));
    EXPECT_EQ(std::memcmp(r.scale(key).data(), n.scale(key).data(), n.dim(key) * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(r.offset(key).data(), n.offset(key).data(), n.dim(key) * sizeof(float)),
              0);
  }
  EXPECT_EQ(r.ToJson().dump(), text);
  EXPECT_THROW(Normalizer::FromJson(nlohmann::json{{"a", {{"scale", {1.0}}}}}),
               std::invalid_argument);
  EXPECT_THROW(Normalizer::FromJson(nlohmann::json{{"a", {{"scale", {0.0}}, {"offset", {0.0}}}}}),
               std::invalid_argument);
}

TEST(NormalizerTest, UnknownKeyListsKnownKeys) {
  Normalizer n;
  n.SetIdentity("action", 2);
  n.SetIdentity("agent_pos", 2);
  EXPECT_FALSE(n.has("obs"));
  try {
    n.dim("obs");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'obs'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("action, agent_pos"), std::string::npos) << msg;
  }
  std::vector<float> v(2);
  EXPECT_THROW(n.Normalize("obs", v.data(), 2), std::invalid_argument);
}

TEST(NormalizerTest, FitRejectsBadInput) {
  Normalizer n;
  const std::vector<double> data = {1, 2, 3, 4};
  EXPECT_THROW(n.Fit("x", data.data(), 0, 2), std::invalid_argument);
  EXPECT_THROW(n.Fit("x", data.data(), 2, 2, {"limits"}), std::invalid_argument);
  EXPECT_THROW(n.Fit("x", data.data(), 2, 2, {"limits", "gaussian"}), std::invalid_argument);
  const std::vector<double> nan = {1, std::nan("")};
  EXPECT_THROW(n.Fit("x", nan.data(), 2, 1), std::invalid_argument);
  EXPECT_FALSE(n.has("x"));
}

}  // namespace
}  // namespace onedp
