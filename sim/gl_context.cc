// Headless GL context: loads EGL or OSMesa at run time and makes one context per thread.
//
// How the GL backend gets into the process
// ----------------------------------------
// libmujoco.so links no GL library. On the first mjr_makeContext its loader (MuJoCo 2.2.2,
// src/render/glad/glad.c) looks up, in the process's global symbol scope and in this order,
// eglGetProcAddress, OSMesaGetProcAddress and glXGetProcAddressARB, and resolves every GL entry
// point through the first one it finds, once per process. So exactly one headless backend may be
// visible in the global scope, and it must be the one whose context is current:
//   * glvnd's libEGL hands out libGLdispatch stubs, which do nothing while an OSMesa context is
//     current (OSMesa does not go through glvnd), so a process that has libEGL loaded globally
//     renders nothing with OSMesa.
// Therefore nothing here links EGL or OSMesa. The first GlContext of the process picks the backend
// and loads it with dlopen, resolving its entry points with dlsym:
//   1. EGL: libEGL.so.1 is opened RTLD_LOCAL (invisible to MuJoCo) while it is probed: the Mesa
//      surfaceless platform, then the EGL device platform (NVIDIA; a hardware device is tried
//      before surfaceless when one is listed, so a GPU machine with Mesa installed too does not
//      end up on llvmpipe). Once a context is current, the library is promoted to RTLD_GLOBAL
//      (dlopen RTLD_NOLOAD | RTLD_GLOBAL) so that MuJoCo finds eglGetProcAddress.
//   2. OSMesa: libOSMesa.so.8 opened RTLD_GLOBAL, only after EGL failed or was not wanted.
// $ONEDP_GL = egl | osmesa forces one (auto, the default, tries EGL then OSMesa); the build's
// BENCH_GL_DEFAULT can change the default. The choice is fixed for the life of the process (MuJoCo
// resolves GL once); every later GlContext uses the same backend and display.
// Libraries are never dlclose'd and the EGL display is never eglTerminate'd: it is shared by every
// context of the process, and terminating it under another thread's context (or at exit, after
// Mesa's own atexit clean-up) gives EGL_NOT_INITIALIZED errors and crashes (the robomimic/dm_control
// teardown problem). Contexts themselves are released and destroyed.

#include "sim/gl_context.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#ifndef BENCH_GL_DEFAULT
#define BENCH_GL_DEFAULT "auto"
#endif

namespace onedp {
namespace {

// ---- the few EGL / OSMesa / GL declarations used (no GL headers needed at build time) ----------
namespace egl {
using Boolean = unsigned int;
using Int = int32_t;
using Enum = unsigned int;
using Display = void*;
using Config = void*;
using Context = void*;
using Surface = void*;
using Device = void*;
constexpr Int kSuccess = 0x3000;
constexpr Int kNone = 0x3038;
constexpr Int kVendor = 0x3053;
constexpr Int kVersion = 0x3054;
constexpr Int kExtensions = 0x3055;
constexpr Int kSurfaceType = 0x3033;
constexpr Int kPbufferBit = 0x0001;
constexpr Int kRenderableType = 0x3040;
constexpr Int kOpenGLBit = 0x0008;
constexpr Int kRedSize = 0x3024, kGreenSize = 0x3023, kBlueSize = 0x3022, kAlphaSize = 0x3021;
constexpr Int kDepthSize = 0x3025, kStencilSize = 0x3026;
constexpr Enum kOpenGLAPI = 0x30A2;
constexpr Enum kPlatformSurfacelessMesa = 0x31DD;
constexpr Enum kPlatformDevice = 0x313F;
constexpr Int kDrmDeviceFile = 0x3233;

using GetProcAddressFn = void (*(*)(const char*))();
using GetErrorFn = Int (*)();
using QueryStringFn = const char* (*)(Display, Int);
using InitializeFn = Boolean (*)(Display, Int*, Int*);
using ChooseConfigFn = Boolean (*)(Display, const Int*, Config*, Int, Int*);
using BindAPIFn = Boolean (*)(Enum);
using CreateContextFn = Context (*)(Display, Config, Context, const Int*);
using DestroyContextFn = Boolean (*)(Display, Context);
using MakeCurrentFn = Boolean (*)(Display, Surface, Surface, Context);
using GetCurrentContextFn = Context (*)();
using ReleaseThreadFn = Boolean (*)();
using GetPlatformDisplayFn = Display (*)(Enum, void*, const Int*);
using QueryDevicesFn = Boolean (*)(Int, Device*, Int*);
using QueryDeviceStringFn = const char* (*)(Device, Int);

std::string ErrorName(Int e) {
  static const char* const kNames[] = {
      "EGL_SUCCESS",       "EGL_NOT_INITIALIZED", "EGL_BAD_ACCESS",          "EGL_BAD_ALLOC",
      "EGL_BAD_ATTRIBUTE", "EGL_BAD_CONFIG",      "EGL_BAD_CONTEXT",         "EGL_BAD_CURRENT_SURFACE",
      "EGL_BAD_DISPLAY",   "EGL_BAD_MATCH",       "EGL_BAD_NATIVE_PIXMAP",   "EGL_BAD_NATIVE_WINDOW",
      "EGL_BAD_PARAMETER", "EGL_BAD_SURFACE",     "EGL_CONTEXT_LOST"};
  if (e >= 0x3000 && e <= 0x300E) return kNames[e - 0x3000];
  if (e == 0x322B) return "EGL_BAD_DEVICE_EXT";
  char buf[32];
  std::snprintf(buf, sizeof buf, "EGL error 0x%x", static_cast<unsigned>(e));
  return buf;
}
}  // namespace egl

namespace osmesa {
using Context = void*;
constexpr unsigned kRGBA = 0x1908;         // OSMESA_RGBA == GL_RGBA
constexpr unsigned kUnsignedByte = 0x1401;  // GL_UNSIGNED_BYTE
using CreateContextExtFn = Context (*)(unsigned, int, int, int, Context);
using DestroyContextFn = void (*)(Context);
using MakeCurrentFn = unsigned char (*)(Context, void*, unsigned, int, int);
using GetCurrentContextFn = Context (*)();
using GetProcAddressFn = void (*(*)(const char*))();
// OSMesa needs a default framebuffer to make a context current; MuJoCo renders into its own FBO.
constexpr int kBufferSize = 800;
}  // namespace osmesa

constexpr unsigned kGlRenderer = 0x1F01;
constexpr unsigned kGlVersion = 0x1F02;
using GlGetStringFn = const unsigned char* (*)(unsigned);

bool HasToken(const char* list, const char* token) {
  if (list == nullptr) return false;
  const size_t n = std::strlen(token);
  for (const char* p = list; (p = std::strstr(p, token)) != nullptr; p += n) {
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
  }
  return false;
}

std::string DlError() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

// Opens the first library of `names` that loads; `why` collects the failures.
void* OpenFirst(const std::vector<const char*>& names, int flags, std::string* opened,
                std::string* why) {
  for (const char* name : names) {
    if (void* h = dlopen(name, flags)) {
      *opened = name;
      return h;
    }
    if (!why->empty()) *why += "; ";
    *why += DlError();
  }
  return nullptr;
}

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* fn, std::string* missing) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (*fn == nullptr) {
    if (!missing->empty()) *missing += ", ";
    *missing += name;
  }
  return *fn != nullptr;
}

// ---- process-wide backend state (chosen once, never torn down) ----------------------------------
struct EglApi {
  void* lib = nullptr;
  std::string lib_name;
  egl::GetProcAddressFn GetProcAddress = nullptr;
  egl::GetErrorFn GetError = nullptr;
  egl::QueryStringFn QueryString = nullptr;
  egl::InitializeFn Initialize = nullptr;
  egl::ChooseConfigFn ChooseConfig = nullptr;
  egl::BindAPIFn BindAPI = nullptr;
  egl::CreateContextFn CreateContext = nullptr;
  egl::DestroyContextFn DestroyContext = nullptr;
  egl::MakeCurrentFn MakeCurrent = nullptr;
  egl::GetCurrentContextFn GetCurrentContext = nullptr;
  egl::ReleaseThreadFn ReleaseThread = nullptr;
  egl::GetPlatformDisplayFn GetPlatformDisplay = nullptr;  // eglGetPlatformDisplayEXT
  egl::QueryDevicesFn QueryDevices = nullptr;               // eglQueryDevicesEXT
  egl::QueryDeviceStringFn QueryDeviceString = nullptr;     // eglQueryDeviceStringEXT
};

struct OsmesaApi {
  void* lib = nullptr;
  std::string lib_name;
  osmesa::CreateContextExtFn CreateContextExt = nullptr;
  osmesa::DestroyContextFn DestroyContext = nullptr;
  osmesa::MakeCurrentFn MakeCurrent = nullptr;
  osmesa::GetCurrentContextFn GetCurrentContext = nullptr;
  osmesa::GetProcAddressFn GetProcAddress = nullptr;
};

enum class Backend { kNone, kEgl, kOsmesa };

struct Process {
  std::mutex mu;
  bool tried = false;
  // Set by an atexit handler registered right after the backend's first context: it runs before
  // Mesa's own exit clean-up (OSMesa frees its state manager, EGL its displays), so contexts and
  // renderers destroyed later (static objects) skip every GL call instead of crashing.
  std::atomic<bool> exiting{false};
  Backend backend = Backend::kNone;
  std::string failure;      // why no backend could be set up (when tried and kNone)
  std::string description;  // e.g. "egl surfaceless: llvmpipe (...)"
  EglApi egl;
  egl::Display display = nullptr;
  egl::Config config = nullptr;
  OsmesaApi osm;
};

Process& TheProcess() {
  static Process* p = new Process;  // leaked on purpose: usable from static destructors
  return *p;
}

void MarkExiting() { TheProcess().exiting.store(true); }

bool EnvFlag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

// ---- EGL ----------------------------------------------------------------------------------------
bool LoadEgl(EglApi* api, std::string* why) {
  std::string errors;
  // RTLD_LOCAL: while EGL is only being probed, MuJoCo must not see eglGetProcAddress.
  api->lib = OpenFirst({"libEGL.so.1", "libEGL.so"}, RTLD_NOW | RTLD_LOCAL, &api->lib_name, &errors);
  if (api->lib == nullptr) {
    *why = "cannot load libEGL (" + errors + ")";
    return false;
  }
  std::string missing;
  void* l = api->lib;
  Resolve(l, "eglGetProcAddress", &api->GetProcAddress, &missing);
  Resolve(l, "eglGetError", &api->GetError, &missing);
  Resolve(l, "eglQueryString", &api->QueryString, &missing);
  Resolve(l, "eglInitialize", &api->Initialize, &missing);
  Resolve(l, "eglChooseConfig", &api->ChooseConfig, &missing);
  Resolve(l, "eglBindAPI", &api->BindAPI, &missing);
  Resolve(l, "eglCreateContext", &api->CreateContext, &missing);
  Resolve(l, "eglDestroyContext", &api->DestroyContext, &missing);
  Resolve(l, "eglMakeCurrent", &api->MakeCurrent, &missing);
  Resolve(l, "eglGetCurrentContext", &api->GetCurrentContext, &missing);
  Resolve(l, "eglReleaseThread", &api->ReleaseThread, &missing);
  if (!missing.empty()) {
    *why = api->lib_name + " lacks " + missing;
    return false;
  }
  api->GetPlatformDisplay =
      reinterpret_cast<egl::GetPlatformDisplayFn>(api->GetProcAddress("eglGetPlatformDisplayEXT"));
  api->QueryDevices =
      reinterpret_cast<egl::QueryDevicesFn>(api->GetProcAddress("eglQueryDevicesEXT"));
  api->QueryDeviceString =
      reinterpret_cast<egl::QueryDeviceStringFn>(api->GetProcAddress("eglQueryDeviceStringEXT"));
  return true;
}

std::string EglFailure(const EglApi& api, const char* call) {
  return std::string(call) + " failed (" + egl::ErrorName(api.GetError()) + ")";
}

// Creates a desktop-OpenGL context on `dpy` and makes it current (no surface). Thread-safe: EGL's
// bound API is per thread, so it is bound here on every thread.
egl::Context CreateEglContext(const EglApi& api, egl::Display dpy, egl::Config config,
                              std::string* why) {
  if (!api.BindAPI(egl::kOpenGLAPI)) {
    *why = EglFailure(api, "eglBindAPI(EGL_OPENGL_API)");
    return nullptr;
  }
  egl::Context ctx = api.CreateContext(dpy, config, nullptr, nullptr);  // default (compat) context
  if (ctx == nullptr) {
    *why = EglFailure(api, "eglCreateContext");
    return nullptr;
  }
  if (!api.MakeCurrent(dpy, nullptr, nullptr, ctx)) {
    *why = EglFailure(api, "eglMakeCurrent(EGL_NO_SURFACE)");
    api.DestroyContext(dpy, ctx);
    return nullptr;
  }
  return ctx;
}

// Initializes `dpy`, picks a config and creates a first context. On failure the display is left
// initialized (never terminated, see the top of the file).
egl::Context TryEglDisplay(const EglApi& api, egl::Display dpy, egl::Config* config,
                           std::string* why) {
  if (dpy == nullptr) {
    *why = EglFailure(api, "eglGetPlatformDisplayEXT");
    return nullptr;
  }
  egl::Int major = 0, minor = 0;
  if (!api.Initialize(dpy, &major, &minor)) {
    *why = EglFailure(api, "eglInitialize");
    return nullptr;
  }
  const egl::Int attribs[] = {egl::kSurfaceType, egl::kPbufferBit, egl::kRenderableType,
                              egl::kOpenGLBit,   egl::kRedSize,    8,
                              egl::kGreenSize,   8,                egl::kBlueSize,
                              8,                 egl::kAlphaSize,  8,
                              egl::kDepthSize,   24,               egl::kStencilSize,
                              8,                 egl::kNone};
  egl::Int n = 0;
  if (!api.ChooseConfig(dpy, attribs, config, 1, &n)) {
    *why = EglFailure(api, "eglChooseConfig");
    return nullptr;
  }
  if (n < 1) {
    *why = "eglChooseConfig found no PBUFFER|OPENGL RGBA8 depth24 stencil8 config";
    return nullptr;
  }
  return CreateEglContext(api, dpy, *config, why);
}

struct EglDeviceInfo {
  egl::Device device;
  bool software;     // Mesa's llvmpipe device (EGL_MESA_device_software)
  std::string name;  // "device 0 (/dev/dri/renderD128)"
};

std::vector<EglDeviceInfo> ListEglDevices(const EglApi& api) {
  std::vector<EglDeviceInfo> out;
  if (api.QueryDevices == nullptr) return out;
  egl::Device devices[16];
  egl::Int n = 0;
  if (!api.QueryDevices(16, devices, &n)) return out;
  for (egl::Int i = 0; i < n; ++i) {
    EglDeviceInfo info{devices[i], false, "device " + std::to_string(i)};
    if (api.QueryDeviceString != nullptr) {
      const char* ext = api.QueryDeviceString(devices[i], egl::kExtensions);
      info.software = HasToken(ext, "EGL_MESA_device_software");
      if (HasToken(ext, "EGL_EXT_device_drm")) {
        if (const char* file = api.QueryDeviceString(devices[i], egl::kDrmDeviceFile)) {
          info.name += std::string(" (") + file + ")";
        }
      } else if (info.software) {
        info.name += " (software)";
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

// Probes EGL platforms; on success fills p->display/config, leaves a context current and returns
// it. `attempts` collects one line per failure.
egl::Context ProbeEgl(Process* p, std::vector<std::string>* attempts) {
  std::string why;
  if (!LoadEgl(&p->egl, &why)) {
    attempts->push_back("egl: " + why);
    return nullptr;
  }
  const EglApi& api = p->egl;
  const char* client_ext = api.QueryString(nullptr, egl::kExtensions);
  if (api.GetPlatformDisplay == nullptr || !HasToken(client_ext, "EGL_EXT_platform_base")) {
    attempts->push_back("egl: " + api.lib_name +
                        " offers no EGL_EXT_platform_base (no EGL vendor library, e.g. "
                        "libegl-mesa0 or NVIDIA's?), so neither the surfaceless nor the device "
                        "platform can be opened");
    return nullptr;
  }
  const bool device_ext = api.QueryDevices != nullptr &&
                          HasToken(client_ext, "EGL_EXT_platform_device") &&
                          (HasToken(client_ext, "EGL_EXT_device_enumeration") ||
                           HasToken(client_ext, "EGL_EXT_device_base"));
  std::vector<EglDeviceInfo> devices;
  if (device_ext) devices = ListEglDevices(api);
  // $MUJOCO_EGL_DEVICE_ID (dm_control's convention) pins the device platform to one device.
  int pinned = -1;
  if (const char* id = std::getenv("MUJOCO_EGL_DEVICE_ID")) pinned = std::atoi(id);

  auto try_device = [&](size_t i) -> egl::Context {
    const EglDeviceInfo& dev = devices[i];
    egl::Display dpy = api.GetPlatformDisplay(egl::kPlatformDevice, dev.device, nullptr);
    std::string err;
    egl::Context ctx = TryEglDisplay(api, dpy, &p->config, &err);
    if (ctx != nullptr) {
      p->display = dpy;
      p->description = "egl " + dev.name;
      return ctx;
    }
    attempts->push_back("egl " + dev.name + ": " + err);
    return nullptr;
  };

  // Hardware devices first (a GPU machine with Mesa installed too must not land on llvmpipe).
  if (pinned < 0) {
    for (size_t i = 0; i < devices.size(); ++i) {
      if (!devices[i].software) {
        if (egl::Context ctx = try_device(i)) return ctx;
      }
    }
  } else if (pinned < static_cast<int>(devices.size())) {
    return try_device(static_cast<size_t>(pinned));
  } else {
    attempts->push_back("egl: MUJOCO_EGL_DEVICE_ID=" + std::to_string(pinned) + " but " +
                        std::to_string(devices.size()) + " EGL devices are listed");
    return nullptr;
  }

  // Mesa's surfaceless platform (llvmpipe on a CPU machine; the GPU through Mesa's drivers).
  if (HasToken(client_ext, "EGL_MESA_platform_surfaceless")) {
    egl::Display dpy = api.GetPlatformDisplay(egl::kPlatformSurfacelessMesa, nullptr, nullptr);
    std::string err;
    if (egl::Context ctx = TryEglDisplay(api, dpy, &p->config, &err)) {
      p->display = dpy;
      p->description = "egl surfaceless";
      return ctx;
    }
    attempts->push_back("egl surfaceless: " + err);
  } else {
    attempts->push_back("egl surfaceless: EGL_MESA_platform_surfaceless not offered");
  }

  // Remaining (software) devices.
  if (!device_ext) {
    attempts->push_back("egl device: EGL_EXT_platform_device/device_enumeration not offered");
  } else if (devices.empty()) {
    attempts->push_back("egl device: eglQueryDevicesEXT listed no device");
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    if (devices[i].software) {
      if (egl::Context ctx = try_device(i)) return ctx;
    }
  }
  return nullptr;
}

// ---- OSMesa -------------------------------------------------------------------------------------
osmesa::Context ProbeOsmesa(Process* p, void* buffer, std::vector<std::string>* attempts) {
  // MuJoCo resolves GL through eglGetProcAddress whenever that symbol is global (an executable that
  // links libEGL): its stubs do nothing under an OSMesa context, so say so instead of rendering
  // black frames.
  if (dlsym(RTLD_DEFAULT, "eglGetProcAddress") != nullptr) {
    attempts->push_back(
        "osmesa: libEGL is linked into this process, so MuJoCo would resolve GL through "
        "eglGetProcAddress, which cannot drive an OSMesa context (do not link EGL)");
    return nullptr;
  }
  OsmesaApi& api = p->osm;
  std::string errors;
  api.lib = OpenFirst({"libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"}, RTLD_NOW | RTLD_GLOBAL,
                      &api.lib_name, &errors);
  if (api.lib == nullptr) {
    attempts->push_back("osmesa: cannot load libOSMesa (" + errors + ")");
    return nullptr;
  }
  std::string missing;
  Resolve(api.lib, "OSMesaCreateContextExt", &api.CreateContextExt, &missing);
  Resolve(api.lib, "OSMesaDestroyContext", &api.DestroyContext, &missing);
  Resolve(api.lib, "OSMesaMakeCurrent", &api.MakeCurrent, &missing);
  Resolve(api.lib, "OSMesaGetCurrentContext", &api.GetCurrentContext, &missing);
  Resolve(api.lib, "OSMesaGetProcAddress", &api.GetProcAddress, &missing);
  if (!missing.empty()) {
    attempts->push_back("osmesa: " + api.lib_name + " lacks " + missing);
    return nullptr;
  }
  osmesa::Context ctx = api.CreateContextExt(osmesa::kRGBA, 24, 8, 0, nullptr);
  if (ctx == nullptr) {
    attempts->push_back("osmesa: OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 0) failed");
    return nullptr;
  }
  if (!api.MakeCurrent(ctx, buffer, osmesa::kUnsignedByte, osmesa::kBufferSize,
                       osmesa::kBufferSize)) {
    api.DestroyContext(ctx);
    attempts->push_back("osmesa: OSMesaMakeCurrent failed");
    return nullptr;
  }
  p->description = "osmesa " + api.lib_name;
  return ctx;
}

std::string GlRendererString(void (*(*get_proc)(const char*))()) {
  auto gl_get_string = reinterpret_cast<GlGetStringFn>(get_proc("glGetString"));
  if (gl_get_string == nullptr) return "?";
  const unsigned char* r = gl_get_string(kGlRenderer);
  const unsigned char* v = gl_get_string(kGlVersion);
  return std::string(r ? reinterpret_cast<const char*>(r) : "?") + ", OpenGL " +
         (v ? reinterpret_cast<const char*>(v) : "?");
}

}  // namespace

bool GlTornDown() { return TheProcess().exiting.load(); }

// =================================================================================================
struct GlContext::Impl {
  Backend backend = Backend::kNone;
  egl::Context egl_ctx = nullptr;
  osmesa::Context osm_ctx = nullptr;
  std::vector<unsigned char> osm_buffer;  // OSMesa's default framebuffer (unused by MuJoCo's FBO)
};

GlContext::GlContext() : impl_(std::make_unique<Impl>()) {
  Process& p = TheProcess();
  std::lock_guard<std::mutex> lock(p.mu);
  Impl& im = *impl_;

  if (!p.tried) {  // first context of the process: choose the backend
    p.tried = true;
    std::string mode;
    const char* env = std::getenv("ONEDP_GL");
    for (const char* c = (env && *env) ? env : BENCH_GL_DEFAULT; *c; ++c) {
      mode += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    }
    std::vector<std::string> attempts;
    if (mode != "auto" && mode != "egl" && mode != "osmesa") {
      attempts.push_back("ONEDP_GL='" + mode + "' is not one of egl, osmesa, auto");
    }
    if (mode == "auto" || mode == "egl") {
      if (egl::Context ctx = ProbeEgl(&p, &attempts)) {
        // Make eglGetProcAddress visible to MuJoCo's GL loader.
        if (dlopen(p.egl.lib_name.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) == nullptr) {
          attempts.push_back("egl: cannot promote " + p.egl.lib_name + " to RTLD_GLOBAL (" +
                             DlError() + ")");
          p.egl.MakeCurrent(p.display, nullptr, nullptr, nullptr);
          p.egl.DestroyContext(p.display, ctx);
        } else {
          p.backend = Backend::kEgl;
          im.egl_ctx = ctx;
          p.description += ": " + GlRendererString(p.egl.GetProcAddress);
        }
      }
    } else if (mode == "osmesa") {
      attempts.push_back("egl: not tried (ONEDP_GL=osmesa)");
    }
    if (p.backend == Backend::kNone && (mode == "auto" || mode == "osmesa")) {
      im.osm_buffer.assign(4u * osmesa::kBufferSize * osmesa::kBufferSize, 0);
      if (osmesa::Context ctx = ProbeOsmesa(&p, im.osm_buffer.data(), &attempts)) {
        p.backend = Backend::kOsmesa;
        im.osm_ctx = ctx;
        p.description += ": " + GlRendererString(p.osm.GetProcAddress);
      }
    } else if (p.backend == Backend::kNone && mode == "egl") {
      attempts.push_back("osmesa: not tried (ONEDP_GL=egl)");
    }
    if (p.backend != Backend::kNone) std::atexit(MarkExiting);  // after Mesa's own atexit
    if (p.backend == Backend::kNone) {
      std::string msg = "no headless OpenGL context could be created; tried:";
      for (const std::string& a : attempts) msg += "\n  " + a;
      msg +=
          "\n(set ONEDP_GL=egl or ONEDP_GL=osmesa to force one; CPU machines need libegl1 + "
          "libegl-mesa0 + libgl1-mesa-dri, or libosmesa6)";
      p.failure = msg;
    } else if (EnvFlag("ONEDP_GL_VERBOSE")) {
      std::fprintf(stderr, "[onedp] headless GL: %s\n", p.description.c_str());
    }
  } else if (p.backend == Backend::kEgl) {
    std::string why;
    im.egl_ctx = CreateEglContext(p.egl, p.display, p.config, &why);
    if (im.egl_ctx == nullptr) throw std::runtime_error("GlContext (" + p.description + "): " + why);
  } else if (p.backend == Backend::kOsmesa) {
    im.osm_buffer.assign(4u * osmesa::kBufferSize * osmesa::kBufferSize, 0);
    im.osm_ctx = p.osm.CreateContextExt(osmesa::kRGBA, 24, 8, 0, nullptr);
    if (im.osm_ctx == nullptr) {
      throw std::runtime_error("GlContext (osmesa): OSMesaCreateContextExt failed");
    }
    if (!p.osm.MakeCurrent(im.osm_ctx, im.osm_buffer.data(), osmesa::kUnsignedByte,
                           osmesa::kBufferSize, osmesa::kBufferSize)) {
      p.osm.DestroyContext(im.osm_ctx);
      im.osm_ctx = nullptr;
      throw std::runtime_error("GlContext (osmesa): OSMesaMakeCurrent failed");
    }
  }
  if (p.backend == Backend::kNone) throw std::runtime_error(p.failure);
  im.backend = p.backend;
  backend_ = p.backend == Backend::kEgl ? "egl" : "osmesa";
}

GlContext::~GlContext() {
  Process& p = TheProcess();
  Impl& im = *impl_;
  if (GlTornDown()) return;  // process exit: the backend may already be gone; leak instead
  if (im.backend == Backend::kEgl && im.egl_ctx != nullptr) {
    if (p.egl.GetCurrentContext() == im.egl_ctx) {
      p.egl.MakeCurrent(p.display, nullptr, nullptr, nullptr);
      p.egl.ReleaseThread();  // nothing of ours is current on this thread any more
    }
    p.egl.DestroyContext(p.display, im.egl_ctx);  // deferred by EGL if current elsewhere
  } else if (im.backend == Backend::kOsmesa && im.osm_ctx != nullptr) {
    if (p.osm.GetCurrentContext() == im.osm_ctx) p.osm.MakeCurrent(nullptr, nullptr, 0, 0, 0);
    p.osm.DestroyContext(im.osm_ctx);
  }
}

void GlContext::MakeCurrent() {
  Process& p = TheProcess();
  Impl& im = *impl_;
  if (im.backend == Backend::kEgl) {
    if (p.egl.GetCurrentContext() == im.egl_ctx) return;
    if (!p.egl.MakeCurrent(p.display, nullptr, nullptr, im.egl_ctx)) {
      throw std::runtime_error("GlContext::MakeCurrent: " + EglFailure(p.egl, "eglMakeCurrent"));
    }
  } else {
    if (p.osm.GetCurrentContext() == im.osm_ctx) return;
    if (!p.osm.MakeCurrent(im.osm_ctx, im.osm_buffer.data(), osmesa::kUnsignedByte,
                           osmesa::kBufferSize, osmesa::kBufferSize)) {
      throw std::runtime_error("GlContext::MakeCurrent: OSMesaMakeCurrent failed");
    }
  }
}

}  // namespace onedp
