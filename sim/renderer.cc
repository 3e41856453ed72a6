// Headless MuJoCo rendering of fixed cameras into top-down RGB images: see renderer.h.

#include "sim/renderer.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/mujoco_errors.h"

namespace onedp {

// =================================================================================================
struct Renderer::Impl {
  GlContext gl;  // first member: constructed (and current) before, destroyed after, the rest
  mjModel* m = nullptr;
  mjvScene scn;
  mjrContext con;
  mjvCamera cam;
  mjvOption opt;
  bool scene_made = false;
  bool context_made = false;
  std::vector<unsigned char> rgb;  // bottom-up rows from glReadPixels, reused between frames

  ~Impl() {
    // mjr_freeContext deletes GL objects: only with our context current, and never when it cannot
    // be made current or the process is exiting (leaking beats crashing).
    if (context_made && !GlTornDown()) {
      bool current = true;
      try {
        gl.MakeCurrent();
      } catch (const std::exception&) {
        current = false;
      }
      if (current) mjr_freeContext(&con);
    }
    if (scene_made) mjv_freeScene(&scn);
  }
};

Renderer::Renderer(mjModel* m, const RenderOptions& options) {
  if (m == nullptr) throw std::invalid_argument("Renderer: null model");
  if (options.max_width <= 0 || options.max_height <= 0) {
    throw std::invalid_argument("Renderer: max_width/max_height must be positive");
  }
  InstallMujocoHandlers();  // MuJoCo errors become MujocoError, not exit()
  impl_ = std::make_unique<Impl>();  // creates the GL context and makes it current
  Impl& im = *impl_;
  im.m = m;
  m->vis.global.offwidth = std::max(m->vis.global.offwidth, options.max_width);
  m->vis.global.offheight = std::max(m->vis.global.offheight, options.max_height);
  if (options.fast) {
    // Policy cameras are 84-240 px: no multisampling, and coarse builtin meshes (llvmpipe's cost
    // is per vertex: a capsule at MuJoCo's default 28 slices x 16 stacks costs ~4x a box).
    m->vis.quality.offsamples = 0;
    m->vis.quality.numslices = std::min(m->vis.quality.numslices, 12);
    m->vis.quality.numstacks = std::min(m->vis.quality.numstacks, 3);
    m->vis.quality.numquads = 1;
  }

  mjv_defaultCamera(&im.cam);
  mjv_defaultOption(&im.opt);
  mjv_defaultScene(&im.scn);
  mjr_defaultContext(&im.con);
  // Room for every model geom plus decorations (sites, contacts, ...): overflow only drops geoms
  // with a warning.
  mjv_makeScene(m, &im.scn, std::max(1000, 2 * m->ngeom + 200));
  im.scene_made = true;
  if (options.fast) {
    im.scn.flags[mjRND_SHADOW] = 0;
    im.scn.flags[mjRND_REFLECTION] = 0;
    im.scn.flags[mjRND_SKYBOX] = 0;
    im.scn.flags[mjRND_HAZE] = 0;
  }
  mjr_makeContext(m, &im.con, mjFONTSCALE_100);
  im.context_made = true;
  mjr_setBuffer(mjFB_OFFSCREEN, &im.con);
  if (im.con.currentBuffer != mjFB_OFFSCREEN) {
    throw std::runtime_error("Renderer: MuJoCo's offscreen framebuffer is not available (" +
                             im.gl.backend() + ")");
  }
  if (im.con.offWidth < options.max_width || im.con.offHeight < options.max_height) {
    throw std::runtime_error("Renderer: offscreen buffer is " + std::to_string(im.con.offWidth) +
                             "x" + std::to_string(im.con.offHeight) + ", smaller than requested");
  }
}

Renderer::~Renderer() = default;

const std::string& Renderer::backend() const { return impl_->gl.backend(); }

void Renderer::Render(const mjData* d, int camera_id, int width, int height, Image* out) {
  Impl& im = *impl_;
  if (d == nullptr || out == nullptr) throw std::invalid_argument("Renderer::Render: null data/out");
  if (camera_id < 0 || camera_id >= im.m->ncam) {
    throw std::invalid_argument("Renderer::Render: camera id " + std::to_string(camera_id) +
                                " out of range (model has " + std::to_string(im.m->ncam) +
                                " cameras)");
  }
  if (width <= 0 || height <= 0 || width > im.con.offWidth || height > im.con.offHeight) {
    throw std::invalid_argument("Renderer::Render: size " + std::to_string(width) + "x" +
                                std::to_string(height) + " outside the offscreen buffer " +
                                std::to_string(im.con.offWidth) + "x" +
                                std::to_string(im.con.offHeight) +
                                " (raise RenderOptions::max_width/max_height)");
  }
  im.gl.MakeCurrent();
  im.cam.type = mjCAMERA_FIXED;
  im.cam.fixedcamid = camera_id;
  // mjv_updateScene takes a non-const mjData* only because it may use d's scratch stack (pushed
  // and popped within the call); the simulation state is not modified. The const_cast is safe as
  // long as no other thread uses `d` at the same time, which holds: a Sim belongs to one thread.
  mjv_updateScene(im.m, const_cast<mjData*>(d), &im.opt, nullptr, &im.cam, mjCAT_ALL, &im.scn);
  mjr_setBuffer(mjFB_OFFSCREEN, &im.con);
  const mjrRect viewport{0, 0, width, height};
  mjr_render(viewport, &im.scn, &im.con);
  const size_t row = 3u * static_cast<size_t>(width);
  im.rgb.resize(row * static_cast<size_t>(height));
  mjr_readPixels(im.rgb.data(), nullptr, viewport, &im.con);

  out->width = width;
  out->height = height;
  out->pixels.resize(im.rgb.size());
  for (int r = 0; r < height; ++r) {  // glReadPixels rows are bottom-up; Image rows are top-down
    std::memcpy(out->pixels.data() + static_cast<size_t>(r) * row,
                im.rgb.data() + static_cast<size_t>(height - 1 - r) * row, row);
  }
}

}  // namespace onedp
