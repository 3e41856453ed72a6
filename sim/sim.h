// Sim: one MuJoCo model + data pair with full-state save/restore.
//
// MuJoCo 2.2.2 has no mj_getState/mj_setState, so SimState copies every integration quantity by
// hand (time, qpos, qvel, act, ctrl, mocap, qacc_warmstart); restoring it replays bit-exactly.
// A Sim is used by one thread at a time; give each worker its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <mujoco/mujoco.h>

#include "sim/mj_ptr.h"

namespace onedp {

// Resolves a path under the assets folder: $ONEDP_ASSETS if set, else the source tree's assets/.
std::string AssetPath(const std::string& relative);

// An MJCF file handed to the loader from memory (MuJoCo's VFS). MuJoCo 2.2.2 keys VFS files by
// name WITHOUT the path and looks every file up there first, so an <include file="../x/name.xml"/>
// anywhere in the model reads the in-memory `text` of the file called `name`.
struct VirtualFile {
  std::string name;  // base name, e.g. "panda_body_robot1.xml"
  std::string text;
};

// Loads an MJCF file; errors (file missing, bad XML) become MujocoError with the loader's message.
// If `xml_out` is given it receives the compiled model as one self-contained MJCF text
// (includes resolved), as a dataset's model_file attribute wants it. `virtual_files` are
// generated include files (e.g. a renamed copy of a shared part) that exist only in memory.
MjModelPtr LoadModel(const std::string& path, std::string* xml_out = nullptr,
                     const std::vector<VirtualFile>& virtual_files = {});

struct SimState {
  double time = 0;
  std::vector<double> qpos, qvel, act, ctrl, mocap_pos, mocap_quat, qacc_warmstart;
};

class Sim {
 public:
  explicit Sim(MjModelPtr model);

  mjModel* model() { return model_.get(); }
  const mjModel* model() const { return model_.get(); }
  mjData* data() { return data_.get(); }
  const mjData* data() const { return data_.get(); }

  // Full state (bit-exact replay) and the robomimic flat state [time, qpos, qvel].
  SimState GetState() const;
  void SetState(const SimState& s);  // runs mj_forward
  std::vector<double> FlatState() const;
  // Throws on a size mismatch; runs mj_forward, leaves qpos bit for bit as given (mj_forward
  // normalises quaternions in place) and keeps the warm start already in place.
  void SetFlatState(const std::vector<double>& flat);
  int FlatStateSize() const { return 1 + model_->nq + model_->nv; }

  void ResetData();  // mj_resetData (model defaults, qpos0)
  void Forward();

  // FNV-1a hash of time, qpos, qvel, act and ctrl bits: a golden-determinism fingerprint.
  uint64_t StateHash() const;

  // MuJoCo warnings raised since the last call (d->warning counters and mju_user_warning
  // messages); the counters are cleared. Non-empty means the physics went unstable or overflowed.
  std::vector<std::string> TakeWarnings();

  // Name -> id lookup that throws with the valid names listed when the name is unknown.
  int Id(mjtObj type, const std::string& name) const;

 private:
  MjModelPtr model_;
  MjDataPtr data_;
};

}  // namespace onedp
