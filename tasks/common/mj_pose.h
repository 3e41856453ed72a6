// Reading MuJoCo's flat pose arrays (rows of mjData such as xpos, xmat, geom_xmat, site_xpos) into
// Eigen, and robosuite's quaternion convention (mat2quat: unit quaternion with w >= 0).
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <mujoco/mujoco.h>

namespace onedp {

// The 3-vector at p, e.g. Vec3At(d->xpos + 3 * body).
inline Eigen::Vector3d Vec3At(const mjtNum* p) { return Eigen::Map<const Eigen::Vector3d>(p); }

// The row-major 3x3 rotation at r, e.g. Mat3At(d->xmat + 9 * body).
inline Eigen::Matrix3d Mat3At(const mjtNum* r) {
  return Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(r);
}

// A rotation's unit quaternion on the w >= 0 hemisphere (robosuite's mat2quat); coeffs() is xyzw.
inline Eigen::Quaterniond CanonicalQuat(const Eigen::Matrix3d& r) {
  Eigen::Quaterniond q(r);
  q.normalize();
  if (q.w() < 0) q.coeffs() *= -1.0;
  return q;
}

}  // namespace onedp
