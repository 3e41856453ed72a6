// Training sequences from a robomimic-schema dataset, with diffusion_policy's SequenceSampler
// semantics (replay_buffer + sampler.py create_indices / sample_sequence).
//
// Every episode of length L gives the windows of H = horizon steps starting at
//   s in [-pad_before, L - H + pad_after],  pad_before = To - 1, pad_after = Ta - 1
// (each pad clamped to [0, H - 1] as DP does), in episode order then start order: an episode gives
// max(0, L - H + pad_before + pad_after + 1) sequences. Steps outside the episode are
// edge-replicated: window step j reads sample clamp(s + j, 0, L - 1) of its episode (DP's
// sample_start_idx / sample_end_idx padding with the first / last sample).
//
// Get(indices) fills a TrainBatch (B = indices.size()):
//   obs.lowdim[key]  (B, To, d)        float, the first To steps of the window ("obs/<key>")
//   obs.images[key]  (B, To, h, w, 3)  uint8, the first To steps of the window
//   actions          (B, H, Da)        float, the whole window of `action_key`
// Only the dataset keys the options name are read from the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/episode.h"
#include "policies/policy.h"

namespace onedp {

struct SequenceDatasetOptions {
  std::string path;
  std::string filter_key = "train";        // /mask/<filter_key>; "" = all demos
  std::string action_key = "actions_abs";  // robomimic abs actions; TaskInfo::action_key names a task's
  int obs_steps = 2;                       // To
  int horizon = 16;                        // H
  int action_steps = 8;                    // Ta
  std::vector<PolicyObsKey> keys;          // observation keys, read from obs/<key>
};

class SequenceDataset {
 public:
  // Throws std::invalid_argument for bad options, an unknown filter key or a missing/mis-shaped
  // key (the message lists what the file has), std::runtime_error for I/O problems.
  static SequenceDataset Load(const SequenceDatasetOptions& options);

  int64_t size() const { return static_cast<int64_t>(sequences_.size()); }  // sequences
  // Fills `out` with the sequences `indices` (each in [0, size())); throws std::out_of_range.
  void Get(const std::vector<int64_t>& indices, TrainBatch* out) const;

  // All rows of the selected episodes (N, Da) / (N, d), e.g. for fitting normalisers.
  const ArrayF64& actions() const { return actions_; }
  // `key` with or without the "obs/" prefix; throws std::invalid_argument for a key that is not
  // one of the loaded low-dim keys.
  const ArrayF64& lowdim(const std::string& key) const;

  int action_dim() const { return static_cast<int>(actions_.row_size()); }
  int64_t num_episodes() const { return static_cast<int64_t>(episode_ends_.size()); }
  int64_t num_samples() const { return episode_ends_.empty() ? 0 : episode_ends_.back(); }
  const std::vector<int64_t>& episode_ends() const { return episode_ends_; }
  const std::vector<std::string>& demo_names() const { return demo_names_; }
  const SequenceDatasetOptions& options() const { return options_; }

 private:
  // One window: episode rows [begin, begin + length) of the concatenated arrays, window start
  // `start` relative to the episode (may be negative or run past its end).
  struct Sequence {
    int64_t begin = 0;
    int64_t length = 0;
    int64_t start = 0;
  };

  SequenceDatasetOptions options_;
  std::vector<Sequence> sequences_;
  std::vector<int64_t> episode_ends_;
  std::vector<std::string> demo_names_;
  ArrayF64 actions_;
  std::vector<std::pair<std::string, ArrayF64>> lowdim_;  // (policy key, rows), in options order
  std::vector<std::pair<std::string, ArrayU8>> images_;
};

}  // namespace onedp
