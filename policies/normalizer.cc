#include "policies/normalizer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace onedp {
namespace {

constexpr double kRangeEps = 1e-4;  // DP's LinearNormalizer fit(range_eps=1e-4)

void CheckMultiple(const std::string& key, int64_t n, int dim) {
  if (n < 0 || n % dim != 0) {
    throw std::invalid_argument("Normalizer: key '" + key + "' has dim " + std::to_string(dim) +
                                " but got " + std::to_string(n) +
                                " values (not a multiple of the dim)");
  }
}

}  // namespace

void Normalizer::Fit(const std::string& key, const double* data, int64_t rows, int dim,
                     const std::vector<std::string>& rules) {
  if (rows < 1 || dim < 1 || data == nullptr) {
    throw std::invalid_argument("Normalizer::Fit('" + key +
                                "'): need rows >= 1 and dim >= 1 (got " + std::to_string(rows) +
                                " x " + std::to_string(dim) + ")");
  }
  if (!rules.empty() && static_cast<int>(rules.size()) != dim) {
    throw std::invalid_argument("Normalizer::Fit('" + key + "'): " + std::to_string(rules.size()) +
                                " rules for " + std::to_string(dim) + " dims");
  }
  for (const std::string& r : rules) {
    if (r != "limits" && r != "identity") {
      throw std::invalid_argument("Normalizer::Fit('" + key + "'): unknown rule '" + r +
                                  "' (valid values: limits, identity)");
    }
  }
  std::vector<double> lo(dim, 0.0), hi(dim, 0.0);
  for (int j = 0; j < dim; ++j) lo[j] = hi[j] = data[j];
  for (int64_t i = 0; i < rows; ++i) {
    for (int j = 0; j < dim; ++j) {
      const double v = data[i * dim + j];
      if (!std::isfinite(v)) {
        throw std::invalid_argument("Normalizer::Fit('" + key + "'): non-finite value at row " +
                                    std::to_string(i) + ", dim " + std::to_string(j));
      }
      lo[j] = std::min(lo[j], v);
      hi[j] = std::max(hi[j], v);
    }
  }
  Entry e;
  e.scale.resize(dim);
  e.offset.resize(dim);
  for (int j = 0; j < dim; ++j) {
    double scale = 1.0, offset = 0.0;
    if (!rules.empty() && rules[j] == "identity") {
      // scale 1, offset 0
    } else if (hi[j] - lo[j] < kRangeEps) {
      offset = -lo[j];
    } else {
      scale = 2.0 / (hi[j] - lo[j]);
      offset = -1.0 - scale * lo[j];
    }
    e.scale[j] = static_cast<float>(scale);
    e.offset[j] = static_cast<float>(offset);
  }
  entries_[key] = std::move(e);
}

void Normalizer::SetIdentity(const std::string& key, int dim) {
  if (dim < 1) {
    throw std::invalid_argument("Normalizer::SetIdentity('" + key + "'): dim must be >= 1");
  }
  Set(key, std::vector<float>(dim, 1.0f), std::vector<float>(dim, 0.0f));
}

void Normalizer::Set(const std::string& key, std::vector<float> scale, std::vector<float> offset) {
  if (scale.empty() || scale.size() != offset.size()) {
    throw std::invalid_argument("Normalizer::Set('" + key + "'): scale (" +
                                std::to_string(scale.size()) + ") and offset (" +
                                std::to_string(offset.size()) + ") must have the same size >= 1");
  }
  for (size_t j = 0; j < scale.size(); ++j) {
    if (!std::isfinite(scale[j]) || scale[j] == 0.0f || !std::isfinite(offset[j])) {
      throw std::invalid_argument("Normalizer::Set('" + key + "'): dim " + std::to_string(j) +
                                  " needs a finite non-zero scale and a finite offset");
    }
  }
  entries_[key] = Entry{std::move(scale), std::move(offset)};
}

bool Normalizer::has(const std::string& key) const { return entries_.count(key) > 0; }

std::vector<std::string> Normalizer::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

const Normalizer::Entry& Normalizer::Get(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& kv : entries_) known += (known.empty() ? "" : ", ") + kv.first;
    throw std::invalid_argument("Normalizer: unknown key '" + key + "' (known keys: " +
                                (known.empty() ? "none" : known) + ")");
  }
  return it->second;
}

int Normalizer::dim(const std::string& key) const {
  return static_cast<int>(Get(key).scale.size());
}

const std::vector<float>& Normalizer::scale(const std::string& key) const {
  return Get(key).scale;
}

const std::vector<float>& Normalizer::offset(const std::string& key) const {
  return Get(key).offset;
}

void Normalizer::Normalize(const std::string& key, float* values, int64_t n) const {
  const Entry& e = Get(key);
  const int d = static_cast<int>(e.scale.size());
  CheckMultiple(key, n, d);
  for (int64_t i = 0; i < n; i += d) {
    for (int j = 0; j < d; ++j) values[i + j] = values[i + j] * e.scale[j] + e.offset[j];
  }
}

void Normalizer::Unnormalize(const std::string& key, float* values, int64_t n) const {
  const Entry& e = Get(key);
  const int d = static_cast<int>(e.scale.size());
  CheckMultiple(key, n, d);
  for (int64_t i = 0; i < n; i += d) {
    for (int j = 0; j < d; ++j) values[i + j] = (values[i + j] - e.offset[j]) / e.scale[j];
  }
}

nlohmann::json Normalizer::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, e] : entries_) {
    // float -> double is exact; nlohmann writes doubles with round-trip precision.
    std::vector<double> scale(e.scale.begin(), e.scale.end());
    std::vector<double> offset(e.offset.begin(), e.offset.end());
    j[key] = {{"scale", scale}, {"offset", offset}};
  }
  return j;
}

Normalizer Normalizer::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("Normalizer: JSON must be an object");
  Normalizer n;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_object() || !value.contains("scale") || !value.contains("offset") ||
        value.size() != 2) {
      throw std::invalid_argument("Normalizer: entry '" + key +
                                  "' must be an object with exactly 'scale' and 'offset'");
    }
    std::vector<double> scale, offset;
    try {
      scale = value.at("scale").get<std::vector<double>>();
      offset = value.at("offset").get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument("Normalizer: entry '" + key + "': " + e.what());
    }
    n.Set(key, std::vector<float>(scale.begin(), scale.end()),
          std::vector<float>(offset.begin(), offset.end()));
  }
  return n;
}

}  // namespace onedp
