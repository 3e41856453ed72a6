// robomimic-schema HDF5 I/O: DatasetWriter and EpisodeStore (see episode.h).
//
// Uses the HDF5 C API through small RAII handles. Every public entry point silences HDF5's
// automatic error printing for its duration (the library's error state is per thread in the
// thread-safe Debian build) and turns failures into std::runtime_error naming the file and the
// object, followed by HDF5's innermost error description.
//
// What robomimic's loader reads (robomimic/utils/dataset.py SequenceDataset,
// robomimic/utils/file_utils.py) and how the writer provides it:
//   f["data"].attrs["env_args"]            json.loads(...): variable-length UTF-8 string attribute.
//   f["data"].attrs["total"]               scalar int64 attribute.
//   f["data/demo_k"].attrs["num_samples"]  scalar int64 attribute (episode lengths, indexing).
//   f["data/demo_k"].attrs["model_file"]   variable-length string (read when present).
//   f["data/demo_k/<actions|rewards|dones|...>"][()].astype("float32"), 2-D actions (N, A).
//   f["data/demo_k/obs/<k>"], f["data/demo_k/next_obs/<k>"]: first dimension N.
//   [e.decode("utf-8") for e in np.array(f["mask/<fk>"][:])]: 1-D fixed-length byte strings,
//     written like h5py writes np.array(names, dtype="S") (H5T_STRING, NULLPAD, ASCII, size =
//     longest name; an empty list is shape (0,) with size 1).
//   Demo names are sorted by int(name[5:]); Diffusion Policy additionally indexes
//   demo_0..demo_{n-1}, which the writer guarantees by numbering demos in append order.
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "harness/episode.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// gzip level for image datasets. robomimic's `--compress` uses h5py's default level 4, but level 1
// (zlib's fast strategy) compresses rendered Lift 84x84 frames about twice as fast (~0.4 vs
// ~0.8 ms per frame on the dev box) for files ~11% larger (26.4% vs 23.7% of raw). Decompression
// speed, and therefore training-time reads, barely depend on the level. Any level is readable by
// h5py/robomimic (the deflate filter is standard).
constexpr unsigned kImageGzipLevel = 1;

// ---- error handling ----------------------------------------------------------------------------

// Turns HDF5's automatic error printing off for this thread while alive.
class ErrorSilencer {
 public:
  ErrorSilencer() {
    if (H5Eget_auto2(H5E_DEFAULT, &func_, &data_) < 0) func_ = nullptr, data_ = nullptr;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

herr_t InnermostError(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  if (n == 0 && err && err->desc && err->desc[0]) *out = err->desc;
  if (n == 0 && out->empty() && err && err->func_name) *out = std::string("in ") + err->func_name;
  return 0;
}

// The innermost message on this thread's HDF5 error stack (empty if none); clears the stack.
std::string Hdf5Detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, InnermostError, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

[[noreturn]] void Fail(const std::string& file, const std::string& what, bool hdf5_detail = true) {
  std::string msg = "HDF5 file " + file + ": " + what;
  if (hdf5_detail) {
    std::string detail = Hdf5Detail();
    if (!detail.empty()) msg += " (" + detail + ")";
  }
  throw std::runtime_error(msg);
}

// ---- RAII handles ------------------------------------------------------------------------------

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_, closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports whether closing succeeded.
  bool close() {
    if (id_ < 0) return true;
    herr_t rc = closer_(id_);
    id_ = -1;
    return rc >= 0;
  }
  void reset() { close(); }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Each Make* throws (via Fail) when the id is invalid.
Handle Check(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what) {
  if (id < 0) Fail(file, what);
  return Handle(id, closer);
}
void Check(herr_t rc, const std::string& file, const std::string& what) {
  if (rc < 0) Fail(file, what);
}

Handle Space(const std::vector<hsize_t>& dims, const std::string& file) {
  if (dims.empty()) return Check(H5Screate(H5S_SCALAR), H5Sclose, file, "cannot create dataspace");
  return Check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
               file, "cannot create dataspace");
}

// A variable-length UTF-8 string type, as h5py writes Python str attributes.
Handle VlenStringType(const std::string& file) {
  Handle t = Check(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot create string type");
  Check(H5Tset_size(t.get(), H5T_VARIABLE), file, "cannot create string type");
  Check(H5Tset_cset(t.get(), H5T_CSET_UTF8), file, "cannot create string type");
  return t;
}

bool LinkExists(hid_t loc, const std::string& name) {
  htri_t r = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  return r > 0;
}

// Whether `loc/name` exists and is an object of the given type (H5O_TYPE_GROUP, ...).
bool ObjectIs(hid_t loc, const std::string& name, H5O_type_t type) {
  if (!LinkExists(loc, name)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(loc, name.c_str(), &info, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return info.type == type;
}

// Names of the links in a group, in HDF5's name order (what h5py's keys() gives).
std::vector<std::string> ChildNames(hid_t group, const std::string& file,
                                    const std::string& where) {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  Check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names), file,
        "cannot list group " + where);
  return names;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

// ---- attribute writing -------------------------------------------------------------------------

void WriteInt64Attr(hid_t loc, const char* name, int64_t value, const std::string& file) {
  Handle space = Space({}, file);
  Handle attr = Check(H5Acreate2(loc, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      H5Aclose, file, std::string("cannot create attribute ") + name);
  Check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), file,
        std::string("cannot write attribute ") + name);
}

void WriteStringAttr(hid_t loc, const char* name, const std::string& value,
                     const std::string& file) {
  Handle type = VlenStringType(file);
  Handle space = Space({}, file);
  Handle attr = Check(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      H5Aclose, file, std::string("cannot create attribute ") + name);
  const char* ptr = value.c_str();
  Check(H5Awrite(attr.get(), type.get(), &ptr), file,
        std::string("cannot write attribute ") + name);
}

// ---- dataset writing ---------------------------------------------------------------------------

template <typename T>
void WriteDataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const T* data, hid_t file_type, hid_t mem_type, bool image,
                  const std::string& file) {
  Handle space = Space(dims, file);
  Handle dcpl = Check(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, file, "cannot create property list");
  if (image) {
    std::vector<hsize_t> chunk(dims);
    chunk[0] = 1;
    Check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), file,
          "cannot set chunking for " + name);
    if (kImageGzipLevel > 0) {
      Check(H5Pset_deflate(dcpl.get(), kImageGzipLevel), file, "cannot set gzip for " + name);
    }
  }
  Handle dset = Check(
      H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose, file, "cannot create dataset " + name);
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  if (count > 0) {
    Check(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), file,
          "cannot write dataset " + name);
  }
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Validates an episode array: at least `min_rank` dimensions, first == num_samples, data size
// consistent with the shape. Returns the shape as hsize_t.
template <typename T>
std::vector<hsize_t> CheckedDims(const NdArray<T>& a, int64_t num_samples, size_t min_rank,
                                 const std::string& key) {
  if (a.shape.size() < min_rank) {
    throw std::runtime_error("episode " + key + ": expected at least " + std::to_string(min_rank) +
                             " dimensions, got shape " + ShapeString(a.shape));
  }
  if (a.shape[0] != num_samples) {
    throw std::runtime_error("episode " + key + ": shape " + ShapeString(a.shape) + " has " +
                             std::to_string(a.shape[0]) + " rows but num_samples is " +
                             std::to_string(num_samples));
  }
  int64_t count = 1;
  std::vector<hsize_t> dims;
  for (int64_t d : a.shape) {
    if (d < 0) throw std::runtime_error("episode " + key + ": negative dimension");
    count *= d;
    dims.push_back(static_cast<hsize_t>(d));
  }
  if (static_cast<int64_t>(a.data.size()) != count) {
    throw std::runtime_error("episode " + key + ": shape " + ShapeString(a.shape) + " needs " +
                             std::to_string(count) + " values but data holds " +
                             std::to_string(a.data.size()));
  }
  return dims;
}

void CheckKeyName(const std::string& key, const std::string& what) {
  if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..") {
    throw std::runtime_error("invalid " + what + " name '" + key + "'");
  }
}

// ---- reading helpers ---------------------------------------------------------------------------

// Reads a string-typed attribute or dataset (`is_attr`) holding one or more strings, fixed- or
// variable-length. Fixed-length strings are cut at the first NUL; space-padded ones are trimmed.
std::vector<std::string> ReadStrings(hid_t obj, bool is_attr, const std::string& file,
                                     const std::string& what) {
  Handle type = Check(is_attr ? H5Aget_type(obj) : H5Dget_type(obj), H5Tclose, file,
                      "cannot get type of " + what);
  if (H5Tget_class(type.get()) != H5T_STRING) Fail(file, what + " is not a string", false);
  Handle space = Check(is_attr ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose, file,
                       "cannot get dataspace of " + what);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) Fail(file, "cannot get size of " + what);
  std::vector<std::string> out;
  if (n == 0) return out;
  H5T_cset_t cset = H5Tget_cset(type.get());
  htri_t vlen = H5Tis_variable_str(type.get());
  if (vlen < 0) Fail(file, "cannot inspect string type of " + what);
  Handle mem = Check(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot create string type");
  Check(H5Tset_cset(mem.get(), cset), file, "cannot create string type");
  if (vlen) {
    Check(H5Tset_size(mem.get(), H5T_VARIABLE), file, "cannot create string type");
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    herr_t rc = is_attr ? H5Aread(obj, mem.get(), ptrs.data())
                        : H5Dread(obj, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    if (rc < 0) Fail(file, "cannot read " + what);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    size_t size = H5Tget_size(type.get());
    if (size == 0) Fail(file, "cannot get string size of " + what);
    H5T_str_t pad = H5Tget_strpad(type.get());
    Check(H5Tset_size(mem.get(), size), file, "cannot create string type");
    Check(H5Tset_strpad(mem.get(), pad), file, "cannot create string type");
    std::vector<char> buf(size * static_cast<size_t>(n), '\0');
    herr_t rc = is_attr ? H5Aread(obj, mem.get(), buf.data())
                        : H5Dread(obj, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    if (rc < 0) Fail(file, "cannot read " + what);
    for (hssize_t i = 0; i < n; ++i) {
      const char* p = buf.data() + static_cast<size_t>(i) * size;
      size_t len = strnlen(p, size);
      std::string s(p, len);
      if (pad == H5T_STR_SPACEPAD) {
        while (!s.empty() && s.back() == ' ') s.pop_back();
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

// A scalar (or one-element) string attribute; false if absent.
bool ReadStringAttr(hid_t loc, const char* name, std::string* value, const std::string& file,
                    const std::string& where) {
  htri_t exists = H5Aexists(loc, name);
  if (exists < 0) Fail(file, "cannot query attribute " + where + "/" + name);
  if (!exists) return false;
  Handle attr = Check(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose, file,
                      "cannot open attribute " + where + "/" + name);
  std::vector<std::string> v =
      ReadStrings(attr.get(), true, file, "attribute " + where + "/" + name);
  if (v.size() != 1) {
    Fail(file,
         "attribute " + where + "/" + name + " holds " + std::to_string(v.size()) +
             " strings, expected one",
         false);
  }
  *value = std::move(v[0]);
  return true;
}

// A scalar (or one-element) integer or float attribute, as int64; false if absent.
bool ReadInt64Attr(hid_t loc, const char* name, int64_t* value, const std::string& file,
                   const std::string& where) {
  htri_t exists = H5Aexists(loc, name);
  if (exists < 0) Fail(file, "cannot query attribute " + where + "/" + name);
  if (!exists) return false;
  const std::string what = "attribute " + where + "/" + name;
  Handle attr = Check(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose, file, "cannot open " + what);
  Handle space = Check(H5Aget_space(attr.get()), H5Sclose, file, "cannot get dataspace of " + what);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) Fail(file, what + " is not a scalar", false);
  Handle type = Check(H5Aget_type(attr.get()), H5Tclose, file, "cannot get type of " + what);
  H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_INTEGER) {
    Check(H5Aread(attr.get(), H5T_NATIVE_INT64, value), file, "cannot read " + what);
  } else if (cls == H5T_FLOAT) {
    double d = 0;
    Check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &d), file, "cannot read " + what);
    *value = static_cast<int64_t>(d);
  } else {
    Fail(file, what + " is not a number", false);
  }
  return true;
}

// Whether a dataset's element type can be loaded: u8 (unsigned 1-byte integers) or f64 (other
// integers and floats). Returns false for strings, compounds, enums, ...
enum class Kind { kU8, kF64, kUnsupported };
Kind DatasetKind(hid_t dset) {
  hid_t type = H5Dget_type(dset);
  if (type < 0) return Kind::kUnsupported;
  Kind kind = Kind::kUnsupported;
  H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_FLOAT) {
    kind = Kind::kF64;
  } else if (cls == H5T_INTEGER) {
    kind = (H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE) ? Kind::kU8 : Kind::kF64;
  }
  H5Tclose(type);
  return kind;
}

std::vector<int64_t> DatasetShape(hid_t dset, const std::string& file, const std::string& what) {
  Handle space = Check(H5Dget_space(dset), H5Sclose, file, "cannot get dataspace of " + what);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) Fail(file, "cannot get rank of " + what);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Recursively lists the loadable datasets under `group` as "prefix/name" paths.
void ListDatasets(hid_t group, const std::string& prefix, const std::string& file,
                  std::vector<std::string>* out) {
  for (const std::string& name : ChildNames(group, file, prefix.empty() ? "demo" : prefix)) {
    const std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (ObjectIs(group, name, H5O_TYPE_GROUP)) {
      Handle sub = Check(H5Gopen2(group, name.c_str(), H5P_DEFAULT), H5Gclose, file,
                         "cannot open group " + path);
      ListDatasets(sub.get(), path, file, out);
    } else if (ObjectIs(group, name, H5O_TYPE_DATASET)) {
      Handle dset = Check(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose, file,
                          "cannot open dataset " + path);
      if (DatasetKind(dset.get()) == Kind::kUnsupported) continue;
      if (DatasetShape(dset.get(), file, path).empty()) continue;  // scalars are not per-sample
      out->push_back(path);
    }
  }
}

// int(name[5:]) as robomimic sorts demos; throws for names it could not sort either.
int64_t DemoIndex(const std::string& name, const std::string& file) {
  if (name.size() > 5) {
    const std::string digits = name.substr(5);
    size_t used = 0;
    try {
      long long v = std::stoll(digits, &used);
      if (used == digits.size()) return v;
    } catch (const std::exception&) {
    }
  }
  Fail(file, "demo name '" + name + "' does not end in an integer after 5 characters (demo_<i>)",
       false);
}

void SortDemos(std::vector<std::string>* demos, const std::string& file) {
  std::vector<std::pair<int64_t, std::string>> keyed;
  for (auto& d : *demos) keyed.emplace_back(DemoIndex(d, file), d);
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  demos->clear();
  for (auto& k : keyed) demos->push_back(std::move(k.second));
}

// Number of samples in a demo group: attr num_samples, else rows of "actions", else -1.
int64_t DemoLength(hid_t demo, const std::string& file, const std::string& where) {
  int64_t n = 0;
  if (ReadInt64Attr(demo, "num_samples", &n, file, where)) return n;
  if (ObjectIs(demo, "actions", H5O_TYPE_DATASET)) {
    Handle dset = Check(H5Dopen2(demo, "actions", H5P_DEFAULT), H5Dclose, file,
                        "cannot open " + where + "/actions");
    auto shape = DatasetShape(dset.get(), file, where + "/actions");
    if (!shape.empty()) return shape[0];
  }
  return -1;
}

}  // namespace

// ================================================================================================
// DatasetWriter

struct DatasetWriter::Impl {
  Handle file;
  Handle data;
  std::vector<std::string> demos;
};

namespace {

// Root attribute of a resumable temporary file: JSON {"demos", "total", "state"} (episode.h).
constexpr const char* kCheckpointAttr = "onedp_checkpoint";

// Validates an open resumable temporary file against its checkpoint (see ReadCheckpoint).
TempCheckpoint InspectTemp(hid_t file, const std::string& path) {
  std::string text;
  if (!ReadStringAttr(file, kCheckpointAttr, &text, path, "")) {
    Fail(path, "has no collect checkpoint (attribute /" + std::string(kCheckpointAttr) + ")", false);
  }
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("demos") || !j.contains("total") ||
      !j["demos"].is_number_integer() || !j["total"].is_number_integer() ||
      j["demos"].get<int64_t>() < 0 || j["total"].get<int64_t>() < 0) {
    Fail(path, "its checkpoint attribute is not valid: " + text.substr(0, 200), false);
  }
  TempCheckpoint cp;
  cp.demos = j["demos"].get<int64_t>();
  cp.total = j["total"].get<int64_t>();
  cp.state = j.value("state", nlohmann::json());
  if (!ObjectIs(file, "data", H5O_TYPE_GROUP)) Fail(path, "has no /data group", false);
  if (LinkExists(file, "mask")) Fail(path, "has a /mask group: it was being finished", false);
  Handle data =
      Check(H5Gopen2(file, "data", H5P_DEFAULT), H5Gclose, path, "cannot open group /data");
  for (const char* attr : {"total", "env_args"}) {
    htri_t exists = H5Aexists(data.get(), attr);
    if (exists < 0) Fail(path, std::string("cannot query attribute /data/") + attr);
    if (exists) Fail(path, std::string("has /data/") + attr + ": it was being finished", false);
  }
  const std::vector<std::string> children = ChildNames(data.get(), path, "/data");
  if (cp.demos > static_cast<int64_t>(children.size())) {
    Fail(path,
         "its checkpoint counts " + std::to_string(cp.demos) + " demos but /data holds " +
             std::to_string(children.size()) + " objects",
         false);
  }
  std::vector<bool> seen(static_cast<size_t>(cp.demos), false);
  int64_t total = 0;
  for (const std::string& name : children) {
    int64_t k = -1;
    if (name.rfind("demo_", 0) == 0 && name.size() > 5 &&
        name.find_first_not_of("0123456789", 5) == std::string::npos && name.size() < 20) {
      k = std::stoll(name.substr(5));
    }
    if (k < 0 || name != "demo_" + std::to_string(k)) {
      Fail(path, "/data/" + name + " is not a demo written by the collector", false);
    }
    if (k >= cp.demos) {  // written after the checkpoint: cut off by a kill
      cp.partial.push_back(name);
      continue;
    }
    const std::string where = "/data/" + name;
    if (!ObjectIs(data.get(), name, H5O_TYPE_GROUP)) Fail(path, where + " is not a group", false);
    Handle g = Check(H5Gopen2(data.get(), name.c_str(), H5P_DEFAULT), H5Gclose, path,
                     "cannot open group " + where);
    int64_t n = 0;
    if (!ReadInt64Attr(g.get(), "num_samples", &n, path, where) || n <= 0) {
      Fail(path, where + " has no valid num_samples attribute", false);
    }
    seen[static_cast<size_t>(k)] = true;
    total += n;
  }
  for (int64_t k = 0; k < cp.demos; ++k) {
    if (!seen[static_cast<size_t>(k)]) {
      Fail(path,
           "its checkpoint counts " + std::to_string(cp.demos) + " demos but demo_" +
               std::to_string(k) + " is missing",
           false);
    }
  }
  if (total != cp.total) {
    Fail(path,
         "its demos hold " + std::to_string(total) + " samples but its checkpoint says " +
             std::to_string(cp.total),
         false);
  }
  return cp;
}

// Flushes HDF5's buffers to the file and the file to the disk.
void FlushToDisk(hid_t file, const std::string& path) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) Fail(path, "cannot flush file");
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 && handle) {
    if (fsync(*static_cast<int*>(handle)) != 0) {
      Fail(path, std::string("cannot fsync file: ") + std::strerror(errno), false);
    }
  } else {
    H5Eclear2(H5E_DEFAULT);  // a driver without a file descriptor: the flush is all we can do
  }
}

// Replaces the checkpoint attribute, then flushes the file to disk.
void WriteCheckpoint(hid_t file, int64_t demos, int64_t total, const nlohmann::json& state,
                     const std::string& path) {
  const nlohmann::json checkpoint = {{"demos", demos}, {"total", total}, {"state", state}};
  if (H5Aexists(file, kCheckpointAttr) > 0) {
    Check(H5Adelete(file, kCheckpointAttr), path,
          std::string("cannot delete attribute /") + kCheckpointAttr);
  }
  H5Eclear2(H5E_DEFAULT);
  WriteStringAttr(file, kCheckpointAttr, checkpoint.dump(), path);
  FlushToDisk(file, path);
}

Handle FileAccessList(const std::string& path) {
  Handle fapl = Check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path, "cannot create file access list");
  // Close strongly so that every object is released before Finish() renames the file.
  Check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), path, "cannot set close degree");
  return fapl;
}

}  // namespace

TempCheckpoint DatasetWriter::ReadCheckpoint(const std::string& temp_path) {
  std::error_code ec;
  if (!fs::is_regular_file(temp_path, ec)) {
    throw std::runtime_error("HDF5 file " + temp_path + ": does not exist or is not a file");
  }
  ErrorSilencer silence;
  if (H5Fis_hdf5(temp_path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw std::runtime_error("HDF5 file " + temp_path + ": is not an HDF5 file (or is damaged)");
  }
  Handle fapl = FileAccessList(temp_path);
  Handle file = Check(H5Fopen(temp_path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, temp_path,
                      "cannot open file");
  return InspectTemp(file.get(), temp_path);
}

DatasetWriter::DatasetWriter(const std::string& path, bool overwrite, Mode mode)
    : impl_(new Impl), path_(path), temp_path_(path + ".tmp"), mode_(mode) {
  try {
    if (path.empty()) throw std::runtime_error("dataset path is empty");
    std::error_code ec;
    if (fs::exists(path, ec) && !overwrite) {
      throw std::runtime_error("dataset " + path + " exists; pass --overwrite to replace it");
    }
    if (fs::is_directory(path, ec)) {
      throw std::runtime_error("dataset path " + path + " is a directory");
    }
    fs::path parent = fs::path(path).parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent, ec)) {
      throw std::runtime_error("cannot create dataset " + path + ": directory " + parent.string() +
                               " does not exist");
    }
    if (access(parent.c_str(), W_OK) != 0) {
      throw std::runtime_error("cannot create dataset " + path + ": directory " + parent.string() +
                               " is not writable (" + std::strerror(errno) + ")");
    }
    ErrorSilencer silence;
    Handle fapl = FileAccessList(temp_path_);
    if (mode == Mode::kResume) {
      if (H5Fis_hdf5(temp_path_.c_str()) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        throw std::runtime_error("HDF5 file " + temp_path_ + ": is not an HDF5 file (or is damaged)");
      }
      impl_->file = Check(H5Fopen(temp_path_.c_str(), H5F_ACC_RDWR, fapl.get()), H5Fclose,
                          temp_path_, "cannot open file for resuming");
      resumed_ = InspectTemp(impl_->file.get(), temp_path_);
      impl_->data = Check(H5Gopen2(impl_->file.get(), "data", H5P_DEFAULT), H5Gclose, temp_path_,
                          "cannot open group /data");
      for (const std::string& name : resumed_.partial) {
        Check(H5Ldelete(impl_->data.get(), name.c_str(), H5P_DEFAULT), temp_path_,
              "cannot unlink the partial group /data/" + name);
      }
      if (!resumed_.partial.empty()) FlushToDisk(impl_->file.get(), temp_path_);
      count_ = resumed_.demos;
      total_ = resumed_.total;
      for (int64_t k = 0; k < count_; ++k) impl_->demos.push_back("demo_" + std::to_string(k));
    } else {
      impl_->file = Check(H5Fcreate(temp_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                          H5Fclose, temp_path_, "cannot create file");
      impl_->data =
          Check(H5Gcreate2(impl_->file.get(), "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Gclose, temp_path_, "cannot create group /data");
      // kKeep: a readable file with an empty checkpoint from the start, so that a kill before the
      // first demo leaves a .tmp that ReadCheckpoint accepts (with 0 demos), not a truncated one.
      if (mode == Mode::kKeep) WriteCheckpoint(impl_->file.get(), 0, 0, nullptr, temp_path_);
    }
  } catch (...) {
    bool created = impl_->file.valid() && mode != Mode::kResume;
    {
      ErrorSilencer silence;
      impl_->data.close();
      impl_->file.close();
      H5Eclear2(H5E_DEFAULT);
    }
    delete impl_;
    impl_ = nullptr;
    if (created) {
      std::error_code ec;
      fs::remove(temp_path_, ec);
    }
    throw;
  }
}

DatasetWriter::~DatasetWriter() {
  if (!impl_) return;  // the constructor failed: it cleaned up already
  {
    ErrorSilencer silence;
    impl_->data.close();
    impl_->file.close();
    H5Eclear2(H5E_DEFAULT);
  }
  delete impl_;
  impl_ = nullptr;
  // Also after a failed Finish(), which may have closed the file. kKeep / kResume keep it once it
  // holds a checkpoint.
  if (!finished_ && (mode_ == Mode::kFresh || (mode_ == Mode::kKeep && count_ == 0))) {
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

std::string DatasetWriter::Append(const EpisodeRecord& ep, const nlohmann::json& state) {
  if (finished_ || !impl_ || !impl_->file.valid()) {
    throw std::runtime_error("DatasetWriter::Append on " + path_ + " after Finish()");
  }
  const int64_t n = ep.num_samples;
  if (n <= 0) {
    throw std::runtime_error("cannot append an episode with num_samples " + std::to_string(n) +
                             " to " + path_ + " (robomimic requires at least one sample)");
  }
  const std::string name = "demo_" + std::to_string(count_);
  const std::string& file = temp_path_;
  const auto ctx = [&](const std::string& what) { return name + "/" + what; };

  // Validate everything before touching the file.
  auto actions_dims = CheckedDims(ep.actions, n, 2, ctx("actions"));
  std::vector<hsize_t> actions_abs_dims;
  const bool has_abs = !ep.actions_abs.shape.empty() || !ep.actions_abs.data.empty();
  if (has_abs) actions_abs_dims = CheckedDims(ep.actions_abs, n, 2, ctx("actions_abs"));
  auto states_dims = CheckedDims(ep.states, n, 2, ctx("states"));
  if (static_cast<int64_t>(ep.rewards.size()) != n) {
    throw std::runtime_error("episode " + ctx("rewards") + " has " +
                             std::to_string(ep.rewards.size()) + " rows but num_samples is " +
                             std::to_string(n));
  }
  if (static_cast<int64_t>(ep.dones.size()) != n) {
    throw std::runtime_error("episode " + ctx("dones") + " has " + std::to_string(ep.dones.size()) +
                             " rows but num_samples is " + std::to_string(n));
  }
  struct Obs {
    std::string path;
    std::vector<hsize_t> dims;
    const double* f64 = nullptr;
    const uint8_t* u8 = nullptr;
  };
  std::vector<Obs> obs;
  for (const char* group : {"obs", "next_obs"}) {
    const bool next = std::string(group) == "next_obs";
    const auto& lowdim = next ? ep.next_obs : ep.obs;
    const auto& images = next ? ep.next_obs_images : ep.obs_images;
    for (const auto& [key, arr] : lowdim) {
      CheckKeyName(key, std::string(group) + " key");
      obs.push_back({std::string(group) + "/" + key,
                     CheckedDims(arr, n, 1, ctx(std::string(group) + "/" + key)), arr.data.data(),
                     nullptr});
    }
    for (const auto& [key, arr] : images) {
      CheckKeyName(key, std::string(group) + " image key");
      if (lowdim.count(key)) {
        throw std::runtime_error("episode " + ctx(std::string(group) + "/" + key) +
                                 " is both a low-dim and an image key");
      }
      obs.push_back({std::string(group) + "/" + key,
                     CheckedDims(arr, n, 2, ctx(std::string(group) + "/" + key)), nullptr,
                     arr.data.data()});
    }
  }
  const std::string ep_meta = ep.ep_meta.dump();

  ErrorSilencer silence;
  // Writes the demo; on failure unlinks the partial group so that the name can be written again.
  auto write_demo = [&] {
    Handle demo =
        Check(H5Gcreate2(impl_->data.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Gclose, file, "cannot create group /data/" + name);
    WriteInt64Attr(demo.get(), "num_samples", n, file);
    WriteStringAttr(demo.get(), "model_file", ep.model_file, file);
    WriteStringAttr(demo.get(), "ep_meta", ep_meta, file);

    WriteDataset(demo.get(), "actions", actions_dims, ep.actions.data.data(), H5T_IEEE_F64LE,
                 H5T_NATIVE_DOUBLE, false, file);
    if (has_abs) {
      WriteDataset(demo.get(), "actions_abs", actions_abs_dims, ep.actions_abs.data.data(),
                   H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, false, file);
    }
    WriteDataset(demo.get(), "states", states_dims, ep.states.data.data(), H5T_IEEE_F64LE,
                 H5T_NATIVE_DOUBLE, false, file);
    const std::vector<hsize_t> rows{static_cast<hsize_t>(n)};
    WriteDataset(demo.get(), "rewards", rows, ep.rewards.data(), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                 false, file);
    WriteDataset(demo.get(), "dones", rows, ep.dones.data(), H5T_STD_I64LE, H5T_NATIVE_INT64, false,
                 file);

    // obs and next_obs groups always exist (robomimic reads demo["obs"] for shape metadata).
    Handle groups[2] = {
        Check(H5Gcreate2(demo.get(), "obs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, file,
              "cannot create group " + ctx("obs")),
        Check(H5Gcreate2(demo.get(), "next_obs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
              file, "cannot create group " + ctx("next_obs"))};
    for (const Obs& o : obs) {
      if (o.u8) {
        WriteDataset(demo.get(), o.path, o.dims, o.u8, H5T_STD_U8LE, H5T_NATIVE_UINT8, true, file);
      } else {
        WriteDataset(demo.get(), o.path, o.dims, o.f64, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, false,
                     file);
      }
    }
  };
  try {
    write_demo();
  } catch (...) {
    H5Ldelete(impl_->data.get(), name.c_str(), H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    throw;
  }
  if (mode_ != Mode::kFresh) {
    // The demo first, then the checkpoint that counts it, then to disk: a kill before the flush
    // completes leaves the previous checkpoint, and this demo is a partial group to unlink.
    WriteCheckpoint(impl_->file.get(), count_ + 1, total_ + n, state, file);
  }
  impl_->demos.push_back(name);
  ++count_;
  total_ += n;
  return name;
}

void DatasetWriter::Finish(const nlohmann::json& env_args,
                           const std::map<std::string, std::vector<std::string>>& masks) {
  if (finished_ || !impl_ || !impl_->file.valid()) {
    throw std::runtime_error("DatasetWriter::Finish on " + path_ + " after Finish()");
  }
  const std::string& file = temp_path_;
  for (const auto& [key, names] : masks) {
    CheckKeyName(key, "mask");
    for (const std::string& d : names) {
      if (std::find(impl_->demos.begin(), impl_->demos.end(), d) == impl_->demos.end()) {
        throw std::runtime_error(
            "mask '" + key + "' of " + path_ + " lists '" + d +
            "', which is not a demo in the file (" +
            (count_ ? "demo_0..demo_" + std::to_string(count_ - 1) : std::string("no demos")) +
            ")");
      }
    }
  }

  {
    ErrorSilencer silence;
    WriteInt64Attr(impl_->data.get(), "total", total_, file);
    WriteStringAttr(impl_->data.get(), "env_args", env_args.dump(), file);
    impl_->data.close();

    if (!masks.empty()) {
      Handle mask =
          Check(H5Gcreate2(impl_->file.get(), "mask", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Gclose, file, "cannot create group /mask");
      for (const auto& [key, names] : masks) {
        // As h5py writes np.array(names, dtype="S"): fixed-length, NULL-padded ASCII, size of the
        // longest name (at least 1).
        size_t width = 1;
        for (const auto& d : names) width = std::max(width, d.size());
        std::vector<char> buf(width * names.size(), '\0');
        for (size_t i = 0; i < names.size(); ++i) {
          std::memcpy(buf.data() + i * width, names[i].data(), names[i].size());
        }
        Handle type = Check(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot create string type");
        Check(H5Tset_size(type.get(), width), file, "cannot create string type");
        Check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), file, "cannot create string type");
        Check(H5Tset_cset(type.get(), H5T_CSET_ASCII), file, "cannot create string type");
        WriteDataset(mask.get(), key, {static_cast<hsize_t>(names.size())}, buf.data(), type.get(),
                     type.get(), false, file);
      }
    }
    if (mode_ != Mode::kFresh && H5Aexists(impl_->file.get(), kCheckpointAttr) > 0) {
      Check(H5Adelete(impl_->file.get(), kCheckpointAttr), file,
            std::string("cannot delete attribute /") + kCheckpointAttr);
    }
    H5Eclear2(H5E_DEFAULT);
    if (H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL) < 0) Fail(file, "cannot flush file");
    if (!impl_->file.close()) Fail(file, "cannot close file");
  }

  std::error_code ec;
  fs::rename(temp_path_, path_, ec);
  if (ec) {
    throw std::runtime_error("cannot rename " + temp_path_ + " to " + path_ + ": " + ec.message());
  }
  finished_ = true;
}

// ================================================================================================
// EpisodeStore

EpisodeStore EpisodeStore::Load(const std::string& path, const EpisodeStoreOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("dataset " + path + " does not exist");
  if (fs::is_directory(path, ec)) throw std::runtime_error("dataset " + path + " is a directory");

  ErrorSilencer silence;
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw std::runtime_error("dataset " + path + " is not an HDF5 file");
  }
  Handle fapl = Check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path, "cannot create file access list");
  Check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), path, "cannot set close degree");
  Handle file =
      Check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, path, "cannot open file");
  if (!ObjectIs(file.get(), "data", H5O_TYPE_GROUP)) {
    Fail(path, "has no /data group (not a robomimic-schema dataset)", false);
  }
  Handle data =
      Check(H5Gopen2(file.get(), "data", H5P_DEFAULT), H5Gclose, path, "cannot open group /data");

  EpisodeStore store;

  // All demos in the file, sorted as robomimic sorts them.
  std::vector<std::string> all_demos;
  for (const std::string& name : ChildNames(data.get(), path, "/data")) {
    if (ObjectIs(data.get(), name, H5O_TYPE_GROUP)) all_demos.push_back(name);
  }
  SortDemos(&all_demos, path);

  // Masks.
  if (ObjectIs(file.get(), "mask", H5O_TYPE_GROUP)) {
    Handle mask =
        Check(H5Gopen2(file.get(), "mask", H5P_DEFAULT), H5Gclose, path, "cannot open group /mask");
    for (const std::string& key : ChildNames(mask.get(), path, "/mask")) {
      if (!ObjectIs(mask.get(), key, H5O_TYPE_DATASET)) continue;
      Handle dset = Check(H5Dopen2(mask.get(), key.c_str(), H5P_DEFAULT), H5Dclose, path,
                          "cannot open dataset /mask/" + key);
      store.masks[key] = ReadStrings(dset.get(), false, path, "dataset /mask/" + key);
    }
  }

  // Selected demos.
  std::vector<std::string> demos;
  if (options.filter_key.empty()) {
    demos = all_demos;
  } else {
    auto it = store.masks.find(options.filter_key);
    if (it == store.masks.end()) {
      std::vector<std::string> keys;
      for (const auto& m : store.masks) keys.push_back(m.first);
      Fail(path, "unknown filter key '" + options.filter_key + "'; available masks: " + Join(keys),
           false);
    }
    demos = it->second;
    for (const std::string& d : demos) {
      if (std::find(all_demos.begin(), all_demos.end(), d) == all_demos.end()) {
        Fail(path, "mask '" + options.filter_key + "' lists '" + d + "', which is not in /data",
             false);
      }
    }
    SortDemos(&demos, path);
  }

  // Keys: requested, or every loadable dataset of the first selected demo (first demo of the file
  // when the selection is empty, so that keys and trailing shapes are still known).
  const std::string ref_demo = !demos.empty()       ? demos.front()
                               : !all_demos.empty() ? all_demos.front()
                                                    : std::string();
  std::vector<std::string> available;
  if (!ref_demo.empty()) {
    Handle g = Check(H5Gopen2(data.get(), ref_demo.c_str(), H5P_DEFAULT), H5Gclose, path,
                     "cannot open group /data/" + ref_demo);
    ListDatasets(g.get(), "", path, &available);
  }
  std::vector<std::string> keys = options.keys;
  if (keys.empty()) {
    for (const std::string& k : available) {
      if (k.rfind(options.key_prefix, 0) == 0) keys.push_back(k);
    }
  }
  for (const std::string& key : options.keys) {
    if (std::find(available.begin(), available.end(), key) == available.end()) {
      Fail(path,
           "unknown key '" + key + "'" +
               (ref_demo.empty() ? std::string(" (the file has no demos)")
                                 : " in /data/" + ref_demo) +
               "; available keys: " + Join(available),
           false);
    }
  }

  // Reference kinds and trailing shapes from the reference demo.
  struct KeyInfo {
    Kind kind;
    std::vector<int64_t> trailing;
  };
  std::map<std::string, KeyInfo> info;
  if (!ref_demo.empty()) {
    Handle g = Check(H5Gopen2(data.get(), ref_demo.c_str(), H5P_DEFAULT), H5Gclose, path,
                     "cannot open group /data/" + ref_demo);
    for (const std::string& key : keys) {
      Handle dset = Check(H5Dopen2(g.get(), key.c_str(), H5P_DEFAULT), H5Dclose, path,
                          "cannot open dataset /data/" + ref_demo + "/" + key);
      auto shape = DatasetShape(dset.get(), path, key);
      info[key] = {DatasetKind(dset.get()), std::vector<int64_t>(shape.begin() + 1, shape.end())};
    }
  }
  for (const std::string& key : keys) {
    const KeyInfo& k = info[key];
    std::vector<int64_t> shape{0};
    shape.insert(shape.end(), k.trailing.begin(), k.trailing.end());
    if (k.kind == Kind::kU8) {
      store.u8[key].shape = shape;
    } else {
      store.f64[key].shape = shape;
    }
  }

  // Per-demo metadata and data.
  int64_t end = 0;
  for (const std::string& demo_name : demos) {
    const std::string where = "/data/" + demo_name;
    Handle g = Check(H5Gopen2(data.get(), demo_name.c_str(), H5P_DEFAULT), H5Gclose, path,
                     "cannot open group " + where);
    int64_t n = DemoLength(g.get(), path, where);

    std::string text;
    if (ReadStringAttr(g.get(), "ep_meta", &text, path, where) && !text.empty()) {
      nlohmann::json meta = nlohmann::json::parse(text, nullptr, false);
      store.ep_meta.push_back(meta.is_discarded() ? nlohmann::json(text) : std::move(meta));
    } else {
      store.ep_meta.push_back(nlohmann::json::object());
    }
    text.clear();
    ReadStringAttr(g.get(), "model_file", &text, path, where);
    store.model_files.push_back(std::move(text));

    for (const std::string& key : keys) {
      const std::string what = where + "/" + key;
      if (!ObjectIs(g.get(), key, H5O_TYPE_DATASET)) {
        Fail(path, "dataset " + what + " is missing (present in /data/" + ref_demo + ")", false);
      }
      Handle dset = Check(H5Dopen2(g.get(), key.c_str(), H5P_DEFAULT), H5Dclose, path,
                          "cannot open dataset " + what);
      auto shape = DatasetShape(dset.get(), path, what);
      const KeyInfo& k = info[key];
      if (shape.empty() || std::vector<int64_t>(shape.begin() + 1, shape.end()) != k.trailing) {
        Fail(path,
             "dataset " + what + " has shape " + ShapeString(shape) + ", inconsistent with /data/" +
                 ref_demo + "/" + key,
             false);
      }
      if (DatasetKind(dset.get()) != k.kind) {
        Fail(path, "dataset " + what + " has a different element type than in /data/" + ref_demo,
             false);
      }
      if (n < 0) n = shape[0];  // no num_samples and no actions: first key decides
      if (shape[0] != n) {
        Fail(path,
             "dataset " + what + " has " + std::to_string(shape[0]) + " rows but the demo has " +
                 std::to_string(n) + " samples",
             false);
      }
      // appends the demo's n rows to the store's array (u8 or f64), read as `mem_type`
      const auto append_rows = [&](auto& a, hid_t mem_type) {
        const size_t offset = a.data.size();
        a.data.resize(offset + static_cast<size_t>(n * a.row_size()));
        if (n > 0 && a.row_size() > 0) {
          Check(H5Dread(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data() + offset), path,
                "cannot read dataset " + what);
        }
        a.shape[0] += n;
      };
      if (k.kind == Kind::kU8) {
        append_rows(store.u8[key], H5T_NATIVE_UINT8);
      } else {
        append_rows(store.f64[key], H5T_NATIVE_DOUBLE);
      }
    }
    if (n < 0) n = 0;
    end += n;
    store.episode_ends.push_back(end);
    store.demo_names.push_back(demo_name);
  }

  // /data attrs.
  std::string env_text;
  if (ReadStringAttr(data.get(), "env_args", &env_text, path, "/data")) {
    store.env_args = nlohmann::json::parse(env_text, nullptr, false);
    if (store.env_args.is_discarded())
      Fail(path, "attribute /data/env_args is not valid JSON", false);
  } else {
    store.env_args = nullptr;
  }
  if (!ReadInt64Attr(data.get(), "total", &store.total, path, "/data")) {
    // Absent: the sum over every demo of the file, as the attribute would hold.
    store.total = 0;
    for (const std::string& d : all_demos) {
      Handle g = Check(H5Gopen2(data.get(), d.c_str(), H5P_DEFAULT), H5Gclose, path,
                       "cannot open group /data/" + d);
      store.total += std::max<int64_t>(0, DemoLength(g.get(), path, "/data/" + d));
    }
  }
  return store;
}

}  // namespace onedp
