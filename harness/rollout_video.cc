// MP4 output of rollouts: the OpenCV Mp4Writer and the RolloutVideo observer. Without OpenCV
// (BENCH_WITH_OPENCV=OFF) an Mp4Writer cannot be opened: `eval --video` fails with a message.

#include "harness/rollout.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#ifdef BENCH_WITH_OPENCV
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#endif

namespace onedp {

// ---- MP4 ---------------------------------------------------------------------------------------

#ifndef BENCH_WITH_OPENCV
struct Mp4Writer::Impl {};

Mp4Writer::Mp4Writer(const std::string& path, int width, int height, double)
    : path_(path), width_(width), height_(height) {
  throw std::runtime_error("cannot write " + path + ": this build has no OpenCV (BENCH_WITH_OPENCV=OFF)");
}
Mp4Writer::~Mp4Writer() = default;
void Mp4Writer::Add(const Image&) {}
void Mp4Writer::Add(const uint8_t*, size_t) {}
void Mp4Writer::Close() {}
#else
namespace {

void RenameInto(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
}

}  // namespace

struct Mp4Writer::Impl {
  cv::VideoWriter writer;
  cv::Mat bgr;
  std::string tmp;
};

Mp4Writer::Mp4Writer(const std::string& path, int width, int height, double fps)
    : impl_(std::make_unique<Impl>()), path_(path), width_(width), height_(height) {
  if (width <= 0 || height <= 0 || fps <= 0) {
    throw std::invalid_argument("Mp4Writer: bad size " + std::to_string(width) + "x" +
                                std::to_string(height) + " or fps");
  }
  // The container is picked from the extension: write "<stem>.tmp.mp4", rename on Close().
  std::filesystem::path p(path);
  impl_->tmp = (p.parent_path() / (p.stem().string() + ".tmp" + p.extension().string())).string();
  impl_->writer.open(impl_->tmp, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps,
                     cv::Size(width, height), true);
  if (!impl_->writer.isOpened()) {
    throw std::runtime_error("cannot open " + impl_->tmp +
                             " for MP4 writing (OpenCV videoio without FFmpeg, or a bad path)");
  }
}

Mp4Writer::~Mp4Writer() {
  try {
    Close();
  } catch (...) {
  }
}

void Mp4Writer::Add(const Image& frame) {
  if (frame.width != width_ || frame.height != height_) {
    throw std::runtime_error("Mp4Writer " + path_ + ": frame is " + std::to_string(frame.width) +
                             "x" + std::to_string(frame.height) + ", the video " +
                             std::to_string(width_) + "x" + std::to_string(height_));
  }
  Add(frame.pixels.data(), 3u * static_cast<size_t>(frame.width));
}

void Mp4Writer::Add(const uint8_t* rgb, size_t stride) {
  if (!impl_->writer.isOpened()) throw std::runtime_error("Mp4Writer " + path_ + ": closed");
  const cv::Mat view(height_, width_, CV_8UC3, const_cast<uint8_t*>(rgb), stride);
  cv::cvtColor(view, impl_->bgr, cv::COLOR_RGB2BGR);
  impl_->writer.write(impl_->bgr);
  ++frames_;
}

void Mp4Writer::Close() {
  if (!impl_ || !impl_->writer.isOpened()) return;
  impl_->writer.release();
  RenameInto(impl_->tmp, path_);
}
#endif  // BENCH_WITH_OPENCV

// ---- headless videos ---------------------------------------------------------------------------

struct RolloutVideo::Episode {
  std::unique_ptr<Renderer> renderer;  // on the episode's worker thread
  std::unique_ptr<Mp4Writer> mp4;
  int camera = 0;
  Image frame;
  std::string path;
};

RolloutVideo::RolloutVideo(std::string dir, int max_episodes, int size)
    : dir_(std::move(dir)), max_episodes_(max_episodes), size_(size) {
  if (dir_.empty()) throw std::invalid_argument("--video: empty directory");
  if (size_ < 16 || size_ > 2048) throw std::invalid_argument("video size must be 16..2048");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
}

RolloutVideo::~RolloutVideo() = default;

void RolloutVideo::OnReset(int episode, uint64_t seed, Task& task) {
  auto e = std::make_unique<Episode>();
  const TaskSpec& ts = task.spec();
  if (ts.cameras.empty()) throw std::runtime_error("task " + ts.name + " has no camera");
  e->camera = task.sim().Id(mjOBJ_CAMERA, ts.cameras.front());
  RenderOptions ro;
  ro.fast = true;
  ro.max_width = ro.max_height = size_;
  e->renderer = std::make_unique<Renderer>(task.sim().model(), ro);
  e->path = (std::filesystem::path(dir_) / ("episode_" + std::to_string(seed) + ".mp4")).string();
  e->mp4 = std::make_unique<Mp4Writer>(e->path, size_, size_, ts.control_hz);
  e->renderer->Render(task.sim().data(), e->camera, size_, size_, &e->frame);
  e->mp4->Add(e->frame);
  std::lock_guard<std::mutex> lock(mu_);
  episodes_[episode] = std::move(e);
}

void RolloutVideo::OnStep(int episode, Task& task, const std::vector<double>&, const Outcome&) {
  Episode* e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = episodes_.at(episode).get();
  }
  e->renderer->Render(task.sim().data(), e->camera, size_, size_, &e->frame);
  e->mp4->Add(e->frame);
}

void RolloutVideo::OnEpisodeEnd(int episode, Task&, const EpisodeResult&) {
  std::unique_ptr<Episode> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = episodes_.find(episode);
    if (it == episodes_.end()) return;
    e = std::move(it->second);
    episodes_.erase(it);
  }
  e->renderer.reset();  // on this (the GL context's) thread
  e->mp4->Close();
  std::lock_guard<std::mutex> lock(mu_);
  written_.push_back(e->path);
}

std::vector<std::string> RolloutVideo::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

}  // namespace onedp
