// RAII owners for MuJoCo's C objects.
#pragma once

#include <memory>

#include <mujoco/mujoco.h>

namespace onedp {

struct MjModelDeleter {
  void operator()(mjModel* m) const { mj_deleteModel(m); }
};
struct MjDataDeleter {
  void operator()(mjData* d) const { mj_deleteData(d); }
};
using MjModelPtr = std::unique_ptr<mjModel, MjModelDeleter>;
using MjDataPtr = std::unique_ptr<mjData, MjDataDeleter>;

}  // namespace onedp
