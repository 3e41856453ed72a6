#include "sim/sim.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>
#include <cstring>
#include <mutex>
#include <sstream>

#include "sim/mujoco_errors.h"

#ifndef BENCH_ASSETS_DIR
#error "BENCH_ASSETS_DIR must be defined by the build"
#endif

namespace onedp {
namespace {

void CopyInto(std::vector<double>* dst, const mjtNum* src, int n) { dst->assign(src, src + n); }

void CopyOut(const std::vector<double>& src, mjtNum* dst, int n, const char* what) {
  if (static_cast<int>(src.size()) != n) {
    throw std::invalid_argument(std::string("SimState.") + what + " has size " +
                                std::to_string(src.size()) + ", model expects " + std::to_string(n));
  }
  if (n > 0) std::memcpy(dst, src.data(), sizeof(mjtNum) * n);
}

uint64_t Fnv(uint64_t h, const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

}  // namespace

std::string AssetPath(const std::string& relative) {
  const char* env = std::getenv("ONEDP_ASSETS");
  std::string root = (env && *env) ? env : BENCH_ASSETS_DIR;
  return root + "/" + relative;
}

MjModelPtr LoadModel(const std::string& path, std::string* xml_out,
                     const std::vector<VirtualFile>& virtual_files) {
  InstallMujocoHandlers();
  static std::mutex load_mutex;  // the XML loader keeps global parser state ("last model")
  std::lock_guard<std::mutex> lock(load_mutex);
  char error[1024] = "";
  std::unique_ptr<mjVFS, void (*)(mjVFS*)> vfs(nullptr, [](mjVFS* v) {
    mj_deleteVFS(v);
    delete v;
  });
  if (!virtual_files.empty()) {
    vfs.reset(new mjVFS);  // ~2 MB of name slots: on the heap
    mj_defaultVFS(vfs.get());
    for (const VirtualFile& f : virtual_files) {
      const int size = static_cast<int>(f.text.size());
      if (mj_makeEmptyFileVFS(vfs.get(), f.name.c_str(), size) != 0) {
        throw MujocoError("cannot add virtual file '" + f.name + "' (VFS full or repeated name)");
      }
      const int id = mj_findFileVFS(vfs.get(), f.name.c_str());
      std::memcpy(vfs->filedata[id], f.text.data(), size);
    }
  }
  mjModel* m = mj_loadXML(path.c_str(), vfs.get(), error, sizeof(error));
  if (!m) throw MujocoError("cannot load MJCF '" + path + "': " + error);
  MjModelPtr model(m);
  if (xml_out) {
    // mj_saveLastXML writes only to a file: use a private temporary one.
    std::string tmp = (std::filesystem::temp_directory_path() /
                       ("onedp_model_" + std::to_string(::getpid()) + ".xml")).string();
    if (!mj_saveLastXML(tmp.c_str(), m, error, sizeof(error))) {
      throw MujocoError("cannot save the compiled MJCF of '" + path + "': " + error);
    }
    std::ifstream in(tmp);
    std::stringstream buffer;
    buffer << in.rdbuf();
    *xml_out = buffer.str();
    std::filesystem::remove(tmp);
  }
  return model;
}

Sim::Sim(MjModelPtr model) : model_(std::move(model)) {
  InstallMujocoHandlers();
  if (!model_) throw std::invalid_argument("Sim needs a model");
  data_.reset(mj_makeData(model_.get()));
  if (!data_) throw MujocoError("mj_makeData failed");
}

SimState Sim::GetState() const {
  const mjModel* m = model_.get();
  const mjData* d = data_.get();
  SimState s;
  s.time = d->time;
  CopyInto(&s.qpos, d->qpos, m->nq);
  CopyInto(&s.qvel, d->qvel, m->nv);
  CopyInto(&s.act, d->act, m->na);
  CopyInto(&s.ctrl, d->ctrl, m->nu);
  CopyInto(&s.mocap_pos, d->mocap_pos, 3 * m->nmocap);
  CopyInto(&s.mocap_quat, d->mocap_quat, 4 * m->nmocap);
  CopyInto(&s.qacc_warmstart, d->qacc_warmstart, m->nv);
  return s;
}

void Sim::SetState(const SimState& s) {
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  CopyOut(s.qpos, d->qpos, m->nq, "qpos");
  CopyOut(s.qvel, d->qvel, m->nv, "qvel");
  CopyOut(s.act, d->act, m->na, "act");
  CopyOut(s.ctrl, d->ctrl, m->nu, "ctrl");
  CopyOut(s.mocap_pos, d->mocap_pos, 3 * m->nmocap, "mocap_pos");
  CopyOut(s.mocap_quat, d->mocap_quat, 4 * m->nmocap, "mocap_quat");
  CopyOut(s.qacc_warmstart, d->qacc_warmstart, m->nv, "qacc_warmstart");
  d->time = s.time;
  mj_forward(m, d);
  // mj_forward's constraint solve overwrites qacc_warmstart with its own qacc: put the saved one
  // back, or the next step starts its solver from a different guess and replay is not bit-exact.
  std::memcpy(d->qacc_warmstart, s.qacc_warmstart.data(), sizeof(mjtNum) * m->nv);
}

std::vector<double> Sim::FlatState() const {
  const mjModel* m = model_.get();
  const mjData* d = data_.get();
  std::vector<double> flat;
  flat.reserve(FlatStateSize());
  flat.push_back(d->time);
  flat.insert(flat.end(), d->qpos, d->qpos + m->nq);
  flat.insert(flat.end(), d->qvel, d->qvel + m->nv);
  return flat;
}

void Sim::SetFlatState(const std::vector<double>& flat) {
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  if (static_cast<int>(flat.size()) != FlatStateSize()) {
    throw std::invalid_argument("flat state has " + std::to_string(flat.size()) +
                                " values, model expects 1+nq+nv = " +
                                std::to_string(FlatStateSize()));
  }
  d->time = flat[0];
  std::memcpy(d->qpos, flat.data() + 1, sizeof(mjtNum) * m->nq);
  std::memcpy(d->qvel, flat.data() + 1 + m->nq, sizeof(mjtNum) * m->nv);
  // MuJoCo 2.2.2's mj_forward normalises free and ball joint quaternions in qpos in place (not
  // idempotent in the last bit) and overwrites the solver's warm start. Put both back: the state
  // after the call is exactly the one given, and setting the state the simulation is already in
  // leaves the next step bit-identical (the step normalises as it would have).
  std::vector<mjtNum> warmstart(d->qacc_warmstart, d->qacc_warmstart + m->nv);
  mj_forward(m, d);
  std::memcpy(d->qpos, flat.data() + 1, sizeof(mjtNum) * m->nq);
  std::memcpy(d->qacc_warmstart, warmstart.data(), sizeof(mjtNum) * m->nv);
}

void Sim::ResetData() { mj_resetData(model_.get(), data_.get()); }

void Sim::Forward() { mj_forward(model_.get(), data_.get()); }

uint64_t Sim::StateHash() const {
  const mjModel* m = model_.get();
  const mjData* d = data_.get();
  uint64_t h = 1469598103934665603ull;
  h = Fnv(h, &d->time, sizeof(mjtNum));
  h = Fnv(h, d->qpos, sizeof(mjtNum) * m->nq);
  h = Fnv(h, d->qvel, sizeof(mjtNum) * m->nv);
  h = Fnv(h, d->act, sizeof(mjtNum) * m->na);
  h = Fnv(h, d->ctrl, sizeof(mjtNum) * m->nu);
  return h;
}

std::vector<std::string> Sim::TakeWarnings() {
  static const char* kNames[mjNWARNING] = {"inertia", "contactfull", "cnstrfull", "vgeomfull",
                                           "badqpos", "badqvel",     "badqacc",   "badctrl"};
  std::vector<std::string> out = TakeMujocoWarnings();
  mjData* d = data_.get();
  for (int i = 0; i < mjNWARNING; ++i) {
    if (d->warning[i].number > 0) {
      std::ostringstream os;
      os << "MuJoCo warning '" << kNames[i] << "' x" << d->warning[i].number << " (last info "
         << d->warning[i].lastinfo << ") at t=" << d->time;
      out.push_back(os.str());
      d->warning[i].number = 0;
    }
  }
  return out;
}

int Sim::Id(mjtObj type, const std::string& name) const {
  int id = mj_name2id(model_.get(), type, name.c_str());
  if (id >= 0) return id;
  std::string valid;
  int n = 0;
  switch (type) {
    case mjOBJ_BODY: n = model_->nbody; break;
    case mjOBJ_JOINT: n = model_->njnt; break;
    case mjOBJ_GEOM: n = model_->ngeom; break;
    case mjOBJ_SITE: n = model_->nsite; break;
    case mjOBJ_CAMERA: n = model_->ncam; break;
    case mjOBJ_ACTUATOR: n = model_->nu; break;
    default: break;
  }
  for (int i = 0; i < n; ++i) {
    const char* nm = mj_id2name(model_.get(), type, i);
    if (nm && *nm) valid += std::string(valid.empty() ? "" : ", ") + nm;
  }
  throw std::invalid_argument("unknown " + std::string(mju_type2Str(type)) + " '" + name +
                              "'; valid: " + valid);
}

}  // namespace onedp
