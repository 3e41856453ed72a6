#include "harness/contact_sheet.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#ifdef BENCH_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include "harness/episode.h"

namespace onedp {

#ifndef BENCH_WITH_OPENCV
int WriteContactSheet(const ContactSheetOptions&) {
  throw std::runtime_error("harness sheet: this build has no OpenCV (BENCH_WITH_OPENCV=OFF)");
}
#else
int WriteContactSheet(const ContactSheetOptions& o) {
  if (o.demos <= 0 || o.frames <= 0 || o.scale <= 0) {
    throw std::invalid_argument("--demos, --frames and --scale must be positive");
  }
  EpisodeStoreOptions load;
  load.key_prefix = "obs/";  // next_obs/ duplicates the frames
  EpisodeStore store = EpisodeStore::Load(o.dataset, load);
  std::vector<std::string> keys;
  for (const auto& [k, a] : store.u8) {
    if (k.rfind("obs/", 0) == 0 && a.shape.size() == 4 && a.shape[3] == 3) keys.push_back(k);
  }
  if (keys.empty()) throw std::runtime_error(o.dataset + " has no obs/ image keys");

  const int rows = static_cast<int>(std::min<int64_t>(o.demos, store.num_episodes()));
  const int h = static_cast<int>(store.u8.at(keys[0]).shape[1]);
  const int w = static_cast<int>(store.u8.at(keys[0]).shape[2]);
  const int gap = 2;
  const int cols = static_cast<int>(keys.size()) * o.frames;
  cv::Mat sheet(rows * (h + gap) + gap, cols * (w + gap) + gap * static_cast<int>(keys.size()),
                CV_8UC3, cv::Scalar(255, 255, 255));
  for (int r = 0; r < rows; ++r) {
    const int64_t e = rows == 1 ? 0 : r * (store.num_episodes() - 1) / (rows - 1);
    const int64_t begin = e == 0 ? 0 : store.episode_ends[e - 1];
    const int64_t len = store.episode_ends[e] - begin;
    int x = gap;
    for (const auto& k : keys) {
      const ArrayU8& a = store.u8.at(k);
      for (int f = 0; f < o.frames; ++f) {
        const int64_t t = o.frames == 1 ? 0 : f * (len - 1) / (o.frames - 1);
        cv::Mat rgb(h, w, CV_8UC3, const_cast<uint8_t*>(a.row(begin + t)));
        cv::Mat bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        bgr.copyTo(sheet(cv::Rect(x, gap + r * (h + gap), w, h)));
        x += w + gap;
      }
      x += gap;
    }
  }
  if (o.scale > 1) cv::resize(sheet, sheet, cv::Size(), o.scale, o.scale, cv::INTER_NEAREST);
  const std::string tmp = o.out + ".tmp.png";
  if (!cv::imwrite(tmp, sheet)) throw std::runtime_error("cannot write " + o.out);
  std::filesystem::rename(tmp, o.out);
  return rows;
}

#endif  // BENCH_WITH_OPENCV

}  // namespace onedp
