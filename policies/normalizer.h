// Per-key affine normalisation of Diffusion Policy's LinearNormalizer (torch-free).
// See docs/algorithms.md, Observation encoder and normaliser ("Normaliser").
//
// Each key has a dimension d and per-dim float32 scale/offset:
//   Normalize:   y = x * scale + offset
//   Unnormalize: x = (y - offset) / scale
// Values are flat row-major buffers of n floats, n a multiple of d (any leading shape, e.g.
// (B, To, d) or (B, H, Da)); dim j of every row uses scale[j], offset[j].
//
// Fit ("limits" mode) over rows (rows x dim, row-major doubles): scale = 2/(max-min),
// offset = -1 - scale*min (values land in [-1, 1]); a dim whose range is < 1e-4 gets scale 1,
// offset -min; dims whose rule is "identity" get scale 1, offset 0. Computed in double, stored
// as float32.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onedp {

class Normalizer {
 public:
  // rules: empty (all "limits") or one of "limits" | "identity" per dim. Replaces an existing
  // entry for key. Throws std::invalid_argument on rows < 1, dim < 1, a rule count other than
  // dim, an unknown rule or non-finite data.
  void Fit(const std::string& key, const double* data, int64_t rows, int dim,
           const std::vector<std::string>& rules = {});
  void SetIdentity(const std::string& key, int dim);
  // Sets an entry directly (scale and offset of equal size >= 1, every scale finite and != 0).
  void Set(const std::string& key, std::vector<float> scale, std::vector<float> offset);

  bool has(const std::string& key) const;
  std::vector<std::string> keys() const;  // sorted
  // The accessors below throw std::invalid_argument listing the known keys on an unknown key.
  int dim(const std::string& key) const;
  const std::vector<float>& scale(const std::string& key) const;
  const std::vector<float>& offset(const std::string& key) const;

  // In place; n must be a multiple of dim(key) (std::invalid_argument otherwise).
  void Normalize(const std::string& key, float* values, int64_t n) const;
  void Unnormalize(const std::string& key, float* values, int64_t n) const;

  // {"<key>": {"scale": [...], "offset": [...]}, ...}; floats are written as the exact double
  // value of the float, so FromJson(ToJson()) restores every bit.
  nlohmann::json ToJson() const;
  static Normalizer FromJson(const nlohmann::json& j);  // throws std::invalid_argument

 private:
  struct Entry {
    std::vector<float> scale, offset;
  };
  const Entry& Get(const std::string& key) const;
  std::map<std::string, Entry> entries_;
};

}  // namespace onedp
