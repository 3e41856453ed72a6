#include "policies/noise_schedule.h"

#include <cmath>
#include <stdexcept>

#include <gtest/gtest.h>

namespace onedp {
namespace {

TEST(DdpmScheduleTest, SquaredCosCapV2MatchesReferenceValues) {
  const DdpmSchedule s = DdpmSchedule::SquaredCosCapV2();
  ASSERT_EQ(s.num_train_timesteps, 100);
  ASSERT_EQ(s.betas.size(), 100u);
  ASSERT_EQ(s.alphas.size(), 100u);
  ASSERT_EQ(s.alphas_cumprod.size(), 100u);
  EXPECT_NEAR(s.alphas_cumprod[2], 0.99665, 0.5e-5);
  EXPECT_NEAR(s.alphas_cumprod[65], 0.25546, 0.5e-5);
  EXPECT_NEAR(s.alphas_cumprod[95], 0.003881, 0.5e-6);
  EXPECT_NEAR(s.alphas_cumprod[0], 0.99937, 0.5e-5);
  EXPECT_NEAR(s.betas[0], 6.31e-4, 0.5e-6);
  EXPECT_NEAR(s.betas[95], 0.3595, 0.5e-4);
  EXPECT_EQ(s.betas[99], static_cast<double>(0.999f));  // clamped, stored as float32
  EXPECT_NEAR(s.alphas_cumprod[99], 2.43e-7, 0.5e-9);
  for (int k = 0; k < 100; ++k) {
    // float32 storage: every value is exactly representable as a float.
    EXPECT_EQ(s.betas[k], static_cast<double>(static_cast<float>(s.betas[k])));
    EXPECT_EQ(s.alphas[k], static_cast<double>(1.0f - static_cast<float>(s.betas[k])));
    EXPECT_EQ(s.alphas_cumprod[k], static_cast<double>(static_cast<float>(s.alphas_cumprod[k])));
    if (k > 0) {
      EXPECT_LT(s.alphas_cumprod[k], s.alphas_cumprod[k - 1]);
    }
  }
  EXPECT_THROW(DdpmSchedule::SquaredCosCapV2(0), std::invalid_argument);
}

TEST(DdimTimestepsTest, LeadingSpacing) {
  EXPECT_EQ(DdimTimesteps(10), (std::vector<int>{90, 80, 70, 60, 50, 40, 30, 20, 10, 0}));
  EXPECT_EQ(DdimTimesteps(1), (std::vector<int>{0}));
  EXPECT_EQ(DdimTimesteps(3), (std::vector<int>{66, 33, 0}));
  const std::vector<int> all = DdimTimesteps(100);
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(all.front(), 99);
  EXPECT_EQ(all.back(), 0);
  EXPECT_THROW(DdimTimesteps(0), std::invalid_argument);
  EXPECT_THROW(DdimTimesteps(101), std::invalid_argument);
}

// Reference values from docs/algorithms.md, EDM (rounded there to 3-4 significant digits).
void ExpectSigmas(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 0.0051 * want[i] + 1e-12) << "index " << i;
  }
}

TEST(KarrasSigmasTest, MatchesReferenceValues) {
  ExpectSigmas(KarrasSigmas(10, 0.002, 80),
               {80, 42.42, 21.11, 9.72, 4.07, 1.50, 0.470, 0.117, 0.0204, 0.002, 0});
  ExpectSigmas(KarrasSigmas(18, 0.002, 80),
               {80, 57.59, 40.79, 28.37, 19.35, 12.91, 8.40, 5.32, 3.26, 1.92, 1.09, 0.585,
                0.296, 0.140, 0.0599, 0.0229, 0.0075, 0.002, 0});
  const std::vector<double> s10 = KarrasSigmas(10, 0.002, 80);
  EXPECT_NEAR(s10[1], 42.42, 0.006);
  EXPECT_NEAR(s10[8], 0.0204, 0.00006);
  EXPECT_EQ(KarrasSigmas(1, 0.02, 80), (std::vector<double>{80, 0}));
  const std::vector<double> cp = KarrasSigmas(18, 0.02, 80);
  EXPECT_EQ(cp.front(), 80);
  EXPECT_EQ(cp[17], 0.02);
  EXPECT_EQ(cp.back(), 0);
  EXPECT_THROW(KarrasSigmas(0, 0.002, 80), std::invalid_argument);
  EXPECT_THROW(KarrasSigmas(10, 80, 0.002), std::invalid_argument);
}

TEST(EdmScalingsTest, EdmPreconditioningByHand) {
  EdmConfig cfg;
  cfg.precond = EdmPrecond::kEdm;
  // sigma = 1.5, sd = 0.5: sigma^2 + sd^2 = 2.5.
  const EdmScalings s = ComputeEdmScalings(1.5, cfg);
  EXPECT_NEAR(s.c_skip, 0.25 / 2.5, 1e-12);
  EXPECT_NEAR(s.c_out, 0.75 / std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(s.c_in, 1 / std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(s.c_noise, std::log(1.5) / 4, 1e-12);
  EXPECT_NEAR(s.c_noise, 0.101366277, 1e-9);
  EXPECT_THROW(ComputeEdmScalings(0.0, cfg), std::invalid_argument);
}

TEST(EdmScalingsTest, CpBoundaryPreconditioningByHand) {
  EdmConfig cfg;  // defaults: kCpBoundary, sigma_min 0.02
  ASSERT_EQ(cfg.precond, EdmPrecond::kCpBoundary);
  const EdmScalings s = ComputeEdmScalings(1.5, cfg);
  EXPECT_NEAR(s.c_skip, 0.25 / (1.48 * 1.48 + 0.25), 1e-12);
  EXPECT_NEAR(s.c_out, 1.48 * 0.5 / std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(s.c_in, 1 / std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(s.c_noise, 250 * std::log(1.5), 1e-9);
  // Boundary condition: D(x; sigma_min) = x.
  const EdmScalings b = ComputeEdmScalings(cfg.sigma_min, cfg);
  EXPECT_EQ(b.c_skip, 1.0);
  EXPECT_EQ(b.c_out, 0.0);
}

TEST(EdmLossWeightTest, ByHand) {
  EXPECT_NEAR(EdmLossWeight(1.0, 0.5), 1.25 / 0.25, 1e-12);
  EXPECT_NEAR(EdmLossWeight(0.1, 0.5), (0.01 + 0.25) / (0.05 * 0.05), 1e-9);
}

TEST(EdmConfigTest, JsonRoundTripAndErrors) {
  EdmConfig c;
  c.sigma_min = 0.002;
  c.precond = EdmPrecond::kEdm;
  c.init_std = 80;
  c.clamp_denoised = false;
  const EdmConfig r = EdmConfig::FromJson(c.ToJson());
  EXPECT_EQ(r.sigma_min, 0.002);
  EXPECT_EQ(r.sigma_max, 80);
  EXPECT_EQ(r.precond, EdmPrecond::kEdm);
  EXPECT_EQ(r.init_std, 80);
  EXPECT_FALSE(r.clamp_denoised);
  EXPECT_EQ(r.ToJson(), c.ToJson());
  EXPECT_EQ(c.ToJson()["precond"], "edm");
  // Missing keys keep defaults.
  const EdmConfig d = EdmConfig::FromJson(nlohmann::json{{"rho", 5.0}});
  EXPECT_EQ(d.rho, 5.0);
  EXPECT_EQ(d.precond, EdmPrecond::kCpBoundary);
  EXPECT_THROW(EdmConfig::FromJson(nlohmann::json{{"sigma_mn", 0.1}}), std::invalid_argument);
  EXPECT_THROW(EdmConfig::FromJson(nlohmann::json{{"precond", "karras"}}), std::invalid_argument);
  EXPECT_THROW(EdmConfig::FromJson(nlohmann::json{{"sigma_min", "x"}}), std::invalid_argument);
  EXPECT_THROW(EdmConfig::FromJson(nlohmann::json{{"sigma_min", 100.0}}), std::invalid_argument);
}

}  // namespace
}  // namespace onedp
