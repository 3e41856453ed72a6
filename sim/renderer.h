// Headless offscreen rendering of MuJoCo cameras.
//
// The GL context comes from sim/gl_context.h (EGL or OSMesa, loaded at run time). A context is
// bound to the thread that created it: give every worker thread its own Renderer.
// Renderer uses fast settings for policy cameras (no MSAA, shadows, reflections, skybox) and
// returns rows top-down (MuJoCo's glReadPixels rows are bottom-up), as robomimic stores images.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <mujoco/mujoco.h>

#include "sim/gl_context.h"

namespace onedp {

// An 8-bit RGB image, row-major HWC, first row = top of the picture.
struct Image {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3
  const uint8_t* at(int row, int col) const { return pixels.data() + 3 * (row * width + col); }
};

struct RenderOptions {
  bool fast = true;  // offsamples 0, coarse builtin meshes, no shadows/reflections/skybox/haze
  int max_width = 256;   // offscreen buffer size (model offwidth/offheight raised to fit)
  int max_height = 256;
};

class Renderer {
 public:
  // `m` must outlive the renderer; its vis.global.offwidth/offheight and vis.quality.offsamples
  // are adjusted (the model is owned by the caller's task and is per-thread).
  explicit Renderer(mjModel* m, const RenderOptions& options = {});
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders camera `camera_id` (a fixed camera of the model) of state `d` into `out`.
  void Render(const mjData* d, int camera_id, int width, int height, Image* out);
  const std::string& backend() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace onedp
