// Tiny policy fixtures the policy tests share: specs, fitted normalisers and deterministic
// observation batches (header-only; tests only).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "policies/normalizer.h"
#include "policies/policy.h"

namespace onedp::fixtures {

// One 20x20 camera (crop 16) and a 3-D low-dim key "pos"; 4-D actions (2 limits, 2 identity).
constexpr int kTinyImage = 20;
inline PolicySpec TinySpec() {
  PolicySpec s;
  s.obs = {{"cam_image", true, {kTinyImage, kTinyImage, 3}, "identity"}, {"pos", false, {3}, "limits"}};
  s.action_dim = 4;
  s.action_norm = {"limits", "limits", "identity", "identity"};
  s.crop = 16;
  return s;
}

inline Normalizer TinyNormalizer() {
  Normalizer n;
  const std::vector<double> a = {-1, 0, 0.5, 0, 3, 2, -0.5, 1};  // 2 rows x 4
  n.Fit("action", a.data(), 2, 4, {"limits", "limits", "identity", "identity"});
  const std::vector<double> p = {0, 0, 0, 1, 2, 3};
  n.Fit("pos", p.data(), 2, 3);
  return n;
}

// One 16x16 camera "wrist_image" (crop 12, the image encoder path) and a 3-D low-dim key "state";
// 2-D actions: the students' fixture.
inline PolicySpec StudentSpec() {
  PolicySpec s;
  s.obs = {{"wrist_image", true, {16, 16, 3}, "identity"}, {"state", false, {3}, "limits"}};
  s.action_dim = 2;
  s.action_norm = {"limits", "limits"};
  s.crop = 12;
  return s;
}

inline Normalizer StudentNormalizer() {
  Normalizer n;
  const std::vector<double> a = {-2, -1, 2, 1};
  n.Fit("action", a.data(), 2, 2, {"limits", "limits"});
  const std::vector<double> p = {-1, -1, -1, 1, 1, 1};
  n.Fit("state", p.data(), 2, 3);
  return n;
}

// Rows first .. first + batch - 1 of a deterministic StudentSpec observation sequence (To = 2).
inline ObsBatch StudentObservations(int batch, int64_t first) {
  ObsBatch o;
  o.batch = batch;
  o.steps = 2;
  for (int b = 0; b < batch; ++b) {
    for (int i = 0; i < 2 * 16 * 16 * 3; ++i) {
      o.images["wrist_image"].push_back(static_cast<uint8_t>((i * 5 + (first + b) * 29) % 256));
    }
    for (int i = 0; i < 2 * 3; ++i) o.lowdim["state"].push_back(std::sin(0.7f * static_cast<float>(first + b) + i));
  }
  return o;
}

}  // namespace onedp::fixtures
