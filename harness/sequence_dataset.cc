#include "harness/sequence_dataset.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace onedp {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

std::string ObsDatasetKey(const std::string& key) {
  return key.rfind("obs/", 0) == 0 ? key : "obs/" + key;
}

// EpisodeStore reports an unknown mask or key as std::runtime_error (its messages list what the
// file has); for the dataset these are bad options.
bool IsLookupError(const std::string& what) {
  return what.find("unknown filter key") != std::string::npos ||
         what.find("unknown key") != std::string::npos;
}

}  // namespace

SequenceDataset SequenceDataset::Load(const SequenceDatasetOptions& options) {
  const SequenceDatasetOptions& o = options;
  auto bad = [](const std::string& why) {
    throw std::invalid_argument("sequence dataset: " + why);
  };
  if (o.path.empty()) bad("no dataset path");
  if (o.obs_steps < 1) bad("obs_steps must be >= 1 (got " + std::to_string(o.obs_steps) + ")");
  if (o.action_steps < 1)
    bad("action_steps must be >= 1 (got " + std::to_string(o.action_steps) + ")");
  if (o.horizon < o.obs_steps) {
    bad("horizon " + std::to_string(o.horizon) + " is shorter than obs_steps " +
        std::to_string(o.obs_steps));
  }
  if (o.action_key.empty()) bad("no action key");
  if (o.keys.empty()) bad("no observation keys");

  EpisodeStoreOptions store_options;
  store_options.filter_key = o.filter_key;
  store_options.keys.push_back(o.action_key);
  for (const PolicyObsKey& k : o.keys) {
    const std::string dk = ObsDatasetKey(k.key);
    if (std::find(store_options.keys.begin(), store_options.keys.end(), dk) !=
        store_options.keys.end()) {
      bad("observation key '" + k.key + "' is listed twice");
    }
    store_options.keys.push_back(dk);
  }
  EpisodeStore store;
  try {
    store = EpisodeStore::Load(o.path, store_options);
  } catch (const std::runtime_error& e) {
    if (IsLookupError(e.what())) throw std::invalid_argument(e.what());
    throw;
  }

  SequenceDataset ds;
  ds.options_ = o;
  ds.episode_ends_ = store.episode_ends;
  ds.demo_names_ = store.demo_names;
  ds.actions_ = std::move(store.f64.at(o.action_key));
  if (ds.actions_.shape.size() != 2 || ds.actions_.shape[1] < 1) {
    bad("action key '" + o.action_key + "' has shape " + ShapeString(ds.actions_.shape) +
        ", expected (N, Da)");
  }
  for (const PolicyObsKey& k : o.keys) {
    const std::string dk = ObsDatasetKey(k.key);
    std::vector<int64_t> want{-1};
    want.insert(want.end(), k.shape.begin(), k.shape.end());
    auto check_shape = [&](const std::vector<int64_t>& have) {
      bool ok = have.size() == want.size();
      for (size_t i = 1; ok && i < have.size(); ++i) ok = have[i] == want[i];
      if (!ok) {
        std::vector<int64_t> w(want.begin() + 1, want.end());
        w.insert(w.begin(), have.empty() ? 0 : have[0]);
        bad("key '" + dk + "' has shape " + ShapeString(have) + ", the policy expects " +
            ShapeString(w));
      }
    };
    if (k.is_image) {
      auto it = store.u8.find(dk);
      if (it == store.u8.end()) bad("image key '" + dk + "' is not a uint8 dataset in " + o.path);
      check_shape(it->second.shape);
      ds.images_.emplace_back(k.key, std::move(it->second));
    } else {
      auto it = store.f64.find(dk);
      if (it == store.f64.end())
        bad("low-dim key '" + dk + "' is a uint8 (image) dataset in " + o.path);
      check_shape(it->second.shape);
      ds.lowdim_.emplace_back(k.key, std::move(it->second));
    }
  }

  // create_indices: pads clamped to [0, H - 1].
  const int64_t horizon = o.horizon;
  const int64_t pad_before = std::clamp<int64_t>(o.obs_steps - 1, 0, horizon - 1);
  const int64_t pad_after = std::clamp<int64_t>(o.action_steps - 1, 0, horizon - 1);
  int64_t begin = 0;
  for (int64_t end : ds.episode_ends_) {
    const int64_t length = end - begin;
    if (length > 0) {
      for (int64_t s = -pad_before; s <= length - horizon + pad_after; ++s) {
        ds.sequences_.push_back({begin, length, s});
      }
    }
    begin = end;
  }
  return ds;
}

const ArrayF64& SequenceDataset::lowdim(const std::string& key) const {
  const std::string bare = key.rfind("obs/", 0) == 0 ? key.substr(4) : key;
  std::string loaded;
  for (const auto& [k, a] : lowdim_) {
    if (k == bare) return a;
    loaded += (loaded.empty() ? "" : ", ") + k;
  }
  throw std::invalid_argument("sequence dataset: '" + key +
                              "' is not a loaded low-dim key (loaded: " + loaded + ")");
}

void SequenceDataset::Get(const std::vector<int64_t>& indices, TrainBatch* out) const {
  if (out == nullptr) throw std::invalid_argument("SequenceDataset::Get: null output");
  const int64_t batch = static_cast<int64_t>(indices.size());
  const int64_t to = options_.obs_steps;
  const int64_t horizon = options_.horizon;
  for (int64_t idx : indices) {
    if (idx < 0 || idx >= size()) {
      throw std::out_of_range("SequenceDataset::Get: index " + std::to_string(idx) +
                              " outside [0, " + std::to_string(size()) + ")");
    }
  }
  // Row of the concatenated arrays that window step j of sequence q reads.
  auto row = [](const Sequence& q, int64_t j) {
    return q.begin + std::clamp<int64_t>(q.start + j, 0, q.length - 1);
  };

  out->obs.batch = static_cast<int>(batch);
  out->obs.steps = static_cast<int>(to);
  out->obs.lowdim.clear();
  out->obs.images.clear();
  for (const auto& [key, a] : lowdim_) {
    const int64_t d = a.row_size();
    std::vector<float>& v = out->obs.lowdim[key];
    v.resize(static_cast<size_t>(batch * to * d));
    float* dst = v.data();
    for (int64_t idx : indices) {
      const Sequence& q = sequences_[idx];
      for (int64_t j = 0; j < to; ++j) {
        const double* src = a.row(row(q, j));
        for (int64_t i = 0; i < d; ++i) *dst++ = static_cast<float>(src[i]);
      }
    }
  }
  for (const auto& [key, a] : images_) {
    const int64_t n = a.row_size();
    std::vector<uint8_t>& v = out->obs.images[key];
    v.resize(static_cast<size_t>(batch * to * n));
    uint8_t* dst = v.data();
    for (int64_t idx : indices) {
      const Sequence& q = sequences_[idx];
      for (int64_t j = 0; j < to; ++j, dst += n) std::copy_n(a.row(row(q, j)), n, dst);
    }
  }
  const int64_t da = actions_.row_size();
  out->actions.resize(static_cast<size_t>(batch * horizon * da));
  float* dst = out->actions.data();
  for (int64_t idx : indices) {
    const Sequence& q = sequences_[idx];
    for (int64_t j = 0; j < horizon; ++j) {
      const double* src = actions_.row(row(q, j));
      for (int64_t i = 0; i < da; ++i) *dst++ = static_cast<float>(src[i]);
    }
  }
}

}  // namespace onedp
