#include "tasks/common/operators.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace onedp {

std::vector<OperatorProfile> OperatorsForVariant(const std::string& variant) {
  if (variant == "ph") {
    OperatorProfile p;
    p.name = "proficient";
    p.quality = "proficient";
    p.speed = 0.55;
    p.speed_jitter = 0.1;
    p.noise = 0.03;
    p.noise_corr = 0.85;
    p.hesitation = 0.0;
    p.regrasp = 0.0;
    p.path_spread = 0.015;
    p.precision = 0.004;
    return {p};
  }
  if (variant == "mh") {
    // Two operators per quality, differing within the quality band so that no two act alike.
    struct Row {
      const char* name;
      const char* quality;
      double speed, noise, hesitation;
      int hesitation_steps;
      double regrasp, path_spread, precision;
    };
    const Row rows[] = {
        {"worse_1", "worse", 0.35, 0.13, 0.03, 6, 0.30, 0.04, 0.008},
        {"worse_2", "worse", 0.45, 0.12, 0.03, 4, 0.25, 0.05, 0.009},
        {"okay_1", "okay", 0.40, 0.08, 0.02, 4, 0.15, 0.03, 0.006},
        {"okay_2", "okay", 0.55, 0.07, 0.015, 3, 0.10, 0.03, 0.006},
        {"better_1", "better", 0.50, 0.04, 0.005, 2, 0.03, 0.02, 0.004},
        {"better_2", "better", 0.65, 0.03, 0.0, 0, 0.02, 0.015, 0.004},
    };
    std::vector<OperatorProfile> out;
    for (const Row& r : rows) {
      OperatorProfile p;
      p.name = r.name;
      p.quality = r.quality;
      p.speed = r.speed;
      p.speed_jitter = 0.15;
      p.noise = r.noise;
      p.noise_corr = 0.8;
      p.hesitation = r.hesitation;
      p.hesitation_steps = r.hesitation_steps;
      p.regrasp = r.regrasp;
      p.path_spread = r.path_spread;
      p.precision = r.precision;
      out.push_back(p);
    }
    return out;
  }
  throw std::invalid_argument("unknown dataset variant '" + variant + "'; valid: ph, mh");
}

OperatorBehaviour::OperatorBehaviour(const OperatorProfile& profile, uint64_t seed)
    : profile_(profile), rng_(seed, /*stream=*/0x0e7a) {
  const double jitter = 1.0 + profile_.speed_jitter * (2.0 * rng_.Uniform() - 1.0);
  cruise_speed_ = std::clamp(profile_.speed * jitter, 0.1, 1.0);
}

bool OperatorBehaviour::Shape(double* a) {
  if (pause_left_ == 0 && profile_.hesitation > 0 && rng_.Bernoulli(profile_.hesitation)) {
    // pause length: 1 + geometric-ish around the mean
    pause_left_ = 1 + static_cast<int>(rng_.Uniform() * 2.0 * profile_.hesitation_steps);
  }
  const double c = profile_.noise_corr;
  const double innovation = profile_.noise * std::sqrt(std::max(0.0, 1.0 - c * c));
  for (int i = 0; i < 6; ++i) ou_[i] = c * ou_[i] + innovation * rng_.Normal();
  if (pause_left_ > 0) {
    --pause_left_;
    for (int i = 0; i < 6; ++i) a[i] = 0.0;
    return true;
  }
  for (int i = 0; i < 6; ++i) a[i] = std::clamp(a[i] + ou_[i], -1.0, 1.0);
  return false;
}

bool OperatorBehaviour::BotchGrasp(int max_botches) {
  if (botches_ >= max_botches) return false;
  if (rng_.Bernoulli(profile_.regrasp)) {
    ++botches_;
    return true;
  }
  return false;
}

double OperatorBehaviour::PathOffset() { return profile_.path_spread * (2.0 * rng_.Uniform() - 1.0); }

}  // namespace onedp
