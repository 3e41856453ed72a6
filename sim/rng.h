// Seeded random numbers. Every random draw in the benchmark comes from an Rng built from an
// explicit seed; the distributions are written out here (not std::*_distribution, whose output is
// library-specific) so a seed gives the same numbers with any standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace onedp {

// SplitMix64 finaliser: decorrelates (seed, stream) pairs.
inline uint64_t MixSeed(uint64_t seed, uint64_t stream = 0) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0) : engine_(MixSeed(seed, stream)) {}

  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  int UniformInt(int lo, int hi_exclusive) {  // [lo, hi)
    return lo + static_cast<int>(Uniform() * (hi_exclusive - lo));
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  double Normal() {  // Box-Muller, one value per call
    double u1 = Uniform();
    double u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace onedp
