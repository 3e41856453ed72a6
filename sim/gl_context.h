// Headless OpenGL context for MuJoCo rendering: picks and loads EGL or OSMesa at run time.
//
// GlContext creates an OpenGL context without a display: EGL surfaceless (Mesa) first, or the
// EGL device platform on NVIDIA, else OSMesa; $ONEDP_GL=egl|osmesa forces one. A context is bound
// to the thread that created it: give every worker thread its own Renderer.
#pragma once

#include <memory>
#include <string>

namespace onedp {

class GlContext {
 public:
  // Creates the context and makes it current on the calling thread. Throws std::runtime_error
  // naming every backend tried and why it failed.
  GlContext();
  ~GlContext();
  GlContext(const GlContext&) = delete;
  GlContext& operator=(const GlContext&) = delete;

  void MakeCurrent();
  const std::string& backend() const { return backend_; }  // "egl" or "osmesa"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string backend_;
};

// True once the process has begun exiting after a backend was loaded: GL objects must then be
// leaked, not freed (the backend may already be gone).
bool GlTornDown();

}  // namespace onedp
