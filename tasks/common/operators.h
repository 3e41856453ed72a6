// The demonstration-operator scheme shared by every task's scripted expert.
//
// robomimic's datasets come from people: PH = one proficient operator, MH = six operators of
// mixed skill (2 "worse", 2 "okay", 2 "better"), 50 demos each. We have no people, so each task
// writes one privileged scripted expert and this file supplies the operators who "drive" it: an
// OperatorProfile says how fast, how noisily, how hesitantly and how sloppily an operator acts,
// and OperatorBehaviour turns a profile + seed into per-step effects that every expert applies
// the same way (noise, pauses, speed) plus per-episode choices the expert asks for (path
// variation, whether a grasp is botched and retried).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sim/rng.h"

namespace onedp {

struct OperatorProfile {
  std::string name;      // "proficient", "worse_1", "worse_2", "okay_1", ... (unique per variant)
  std::string quality;   // "proficient" (PH) or the robomimic MH mask: "worse", "okay", "better"
  double speed = 0.5;    // cruise speed as a fraction of the controller's per-step limit
  double speed_jitter = 0.1;    // per-episode relative spread of the cruise speed
  double noise = 0.0;           // std of the Ornstein-Uhlenbeck noise on arm actions ([-1,1] units)
  double noise_corr = 0.8;      // OU correlation per step
  double hesitation = 0.0;      // probability per step of starting a pause
  int hesitation_steps = 0;     // mean pause length in steps
  double regrasp = 0.0;         // probability per grasp that it is botched, released and retried
  double path_spread = 0.01;    // metres: amplitude of per-episode path variation
  double precision = 0.005;     // metres: how close the operator lines up before acting
};

// The operators of a dataset variant: "ph" -> 1, "mh" -> 6 (worse x2, okay x2, better x2).
// Throws std::invalid_argument for other variants, listing the valid ones.
std::vector<OperatorProfile> OperatorsForVariant(const std::string& variant);

// Per-episode state of an operator: all randomness comes from the seed.
class OperatorBehaviour {
 public:
  OperatorBehaviour(const OperatorProfile& profile, uint64_t seed);

  const OperatorProfile& profile() const { return profile_; }
  Rng& rng() { return rng_; }
  double cruise_speed() const { return cruise_speed_; }  // fraction of the per-step limit

  // Applies this step's noise and hesitation to a 6-D arm action (in place, then clipped to
  // [-1, 1]); returns true while the operator is pausing (the arm part is held at zero).
  bool Shape(double* arm_action6);
  // Draws whether the next grasp is botched (released and retried); at most `max_botches` per
  // episode so every episode can still finish.
  bool BotchGrasp(int max_botches = 2);
  // A per-episode offset in [-path_spread, path_spread] (one call per path choice).
  double PathOffset();

 private:
  OperatorProfile profile_;
  Rng rng_;
  double cruise_speed_;
  Eigen::Matrix<double, 6, 1> ou_ = Eigen::Matrix<double, 6, 1>::Zero();
  int pause_left_ = 0;
  int botches_ = 0;
};

// An expert: a privileged scripted policy bound to one task instance, acting as one operator.
class Expert {
 public:
  virtual ~Expert() = default;
  // The next action in the task's delta action space.
  virtual std::vector<double> Act() = 0;
  // A short name of the current phase (for logs and the viewer).
  virtual std::string Phase() const = 0;
};

}  // namespace onedp
