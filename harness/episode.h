// Demonstration episodes in memory, and their robomimic-schema HDF5 files.
//
// File layout written by DatasetWriter (robomimic schema, see docs/tasks.md, HDF5 schema):
//   /data                 attrs total (int64, sum of num_samples), env_args (JSON string)
//   /data/demo_<i>        attrs num_samples, model_file (MJCF text), ep_meta (JSON: seed, operator,
//                         warnings, ...); datasets actions (N,7) f64, actions_abs (N,10) f64,
//                         states (N,1+nq+nv) f64, rewards (N,) f64, dones (N,) i64,
//                         obs/<key>, next_obs/<key>: low-dim (N,d) f64, images (N,H,W,3) u8
//                         chunked one frame per chunk, gzip.
//   /mask/<key>           1-D fixed-length byte strings of demo names (train, valid, worse, ...)
// Demos are numbered demo_0, demo_1, ... in the order they were appended.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onedp {

// A dense row-major array of T with an explicit shape.
template <typename T>
struct NdArray {
  std::vector<int64_t> shape;
  std::vector<T> data;

  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t row_size() const {
    int64_t n = 1;
    for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
  }
  const T* row(int64_t i) const { return data.data() + i * row_size(); }
  T* row(int64_t i) { return data.data() + i * row_size(); }
};
using ArrayF64 = NdArray<double>;
using ArrayU8 = NdArray<uint8_t>;

struct EpisodeRecord {
  int64_t num_samples = 0;
  ArrayF64 actions;      // (N, A) delta actions
  ArrayF64 actions_abs;  // (N, 10*arms) absolute actions [pos, rot6d, gripper]
  ArrayF64 states;       // (N, 1+nq+nv)
  std::vector<double> rewards;  // (N)
  std::vector<int64_t> dones;   // (N)
  std::map<std::string, ArrayF64> obs, next_obs;                // low-dim keys
  std::map<std::string, ArrayU8> obs_images, next_obs_images;  // image keys (N,H,W,3)
  std::string model_file;  // MJCF text of the model the demo ran on
  nlohmann::json ep_meta = nlohmann::json::object();
};

// What a resumable temporary file (DatasetWriter::Mode::kKeep / kResume) holds besides its demos:
// the checkpoint stored by its last complete Append.
struct TempCheckpoint {
  int64_t demos = 0;   // complete demos: demo_0 .. demo_{demos-1}
  int64_t total = 0;   // their samples
  nlohmann::json state;  // the caller's JSON passed to that Append
  std::vector<std::string> partial;  // groups demo_<k>, k >= demos: a demo cut off by a kill
};

// Writes a dataset to `<path>.tmp` and renames it to `path` in Finish().
//
// Mode::kFresh (the default): creates `<path>.tmp` (replacing one left over) and deletes it when the
// writer is destroyed unfinished, so an interrupted job never leaves a file under `path`.
//
// Mode::kKeep and Mode::kResume (resumable writing, `harness collect`): every Append writes its demo,
// then stores a checkpoint as the root attribute `onedp_checkpoint` (JSON {"demos", "total",
// "state"}: the demo count and sample total including this demo, and the caller's `state`), then
// flushes the file and fsyncs it; only then does Append return. A writer destroyed unfinished
// closes the file and keeps `<path>.tmp` if it holds a demo (kKeep without any Append removes it:
// there is nothing to resume). kKeep creates `<path>.tmp` (replacing one left over) with a
// checkpoint of 0 demos (state null), flushed at once, so that a kill before the first demo leaves
// a readable file rather than a truncated one;
// kResume reopens an existing one (ReadCheckpoint must accept it), unlinks its partial groups and
// numbers the next demo after the checkpoint's. Finish() removes the checkpoint attribute, so a
// finished file has the same objects and attributes whichever mode wrote it.
//
// HDF5 files are not journaled: a kill during a write can leave a damaged file. Flushing after each
// demo makes a kill between demos harmless and one during a demo (very likely) leave the previous
// checkpoint's demos intact; ReadCheckpoint refuses files whose checkpoint does not match their
// demos.
class DatasetWriter {
 public:
  enum class Mode { kFresh, kKeep, kResume };
  // Throws std::runtime_error if `path` exists and !overwrite, or if it cannot be created (or, with
  // kResume, reopened and validated as by ReadCheckpoint).
  DatasetWriter(const std::string& path, bool overwrite, Mode mode = Mode::kFresh);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Appends data/demo_<k> with k = number of demos appended so far (including those of a resumed
  // file); returns its name. kKeep / kResume: stores `state` with the checkpoint (see above).
  std::string Append(const EpisodeRecord& episode, const nlohmann::json& state = nullptr);
  // Writes data attrs (total, env_args) and /mask/<key> for each entry, closes, renames.
  void Finish(const nlohmann::json& env_args,
              const std::map<std::string, std::vector<std::string>>& masks);

  // Reads the checkpoint of a resumable temporary file (`<path>.tmp`) without changing it. Throws
  // std::runtime_error saying why it cannot be resumed: not an HDF5 file, cannot be opened, no
  // checkpoint (or not one written by this writer), a demo the checkpoint counts missing or without
  // num_samples, sample total differing, other objects in /data, or Finish() already begun.
  static TempCheckpoint ReadCheckpoint(const std::string& temp_path);

  const std::string& temp_path() const { return temp_path_; }
  int64_t count() const { return count_; }  // demos in the file (kResume: including earlier ones)
  int64_t total() const { return total_; }  // their samples
  // kResume: the checkpoint the file was reopened at (its partial groups were unlinked).
  const TempCheckpoint& resumed() const { return resumed_; }

 private:
  struct Impl;
  Impl* impl_;
  std::string path_, temp_path_;
  Mode mode_ = Mode::kFresh;
  int64_t count_ = 0, total_ = 0;
  bool finished_ = false;
  TempCheckpoint resumed_;
};

// Reads any robomimic-schema file into DP-style concatenated arrays plus episode_ends.
// Keys are "actions", "actions_abs", "states", "rewards", "dones", "obs/<k>", "next_obs/<k>".
struct EpisodeStoreOptions {
  std::vector<std::string> keys;  // empty: every dataset found in the first demo ...
  std::string key_prefix;         // ... whose key starts with this (e.g. "obs/")
  std::string filter_key;         // e.g. "train": only the demos listed in /mask/<filter_key>
};

class EpisodeStore {
 public:
  static EpisodeStore Load(const std::string& path, const EpisodeStoreOptions& options = {});

  int64_t num_episodes() const { return static_cast<int64_t>(demo_names.size()); }
  int64_t num_samples() const { return episode_ends.empty() ? 0 : episode_ends.back(); }
  bool has(const std::string& key) const { return f64.count(key) || u8.count(key); }

  std::vector<std::string> demo_names;  // sorted by their integer suffix, as robomimic does
  std::vector<int64_t> episode_ends;    // cumulative sample counts (DP ReplayBuffer convention)
  std::map<std::string, ArrayF64> f64;  // floating-point and integer datasets, as double
  std::map<std::string, ArrayU8> u8;    // uint8 datasets (images)
  std::map<std::string, std::vector<std::string>> masks;
  std::vector<nlohmann::json> ep_meta;  // per demo; empty object if absent
  std::vector<std::string> model_files;  // per demo; empty if absent
  nlohmann::json env_args;               // parsed /data attrs env_args
  int64_t total = 0;                     // /data attrs total
};

}  // namespace onedp
