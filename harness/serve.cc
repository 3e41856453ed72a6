// `harness serve`: answers JSON-line action-chunk requests with a loaded policy (see serve.h).
#include "harness/serve.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/line_server.h"
#include "harness/policy_jobs.h"
#include "policies/registry.h"

namespace onedp {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string ShapeText(const std::vector<int>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

std::vector<int> RequestShape(const PolicySpec& spec, const PolicyObsKey& k) {
  std::vector<int> dims = {spec.obs_steps};
  dims.insert(dims.end(), k.shape.begin(), k.shape.end());
  return dims;
}

std::string Expected(const PolicySpec& spec, const PolicyObsKey& k) {
  return "shape " + ShapeText(RequestShape(spec, k)) +
         (k.is_image ? " of integers 0..255 (uint8 image)" : " of numbers");
}

std::string KeyList(const PolicySpec& spec) {
  std::string s;
  for (const auto& k : spec.obs) s += (s.empty() ? "" : ", ") + k.key + " " + ShapeText(RequestShape(spec, k));
  return s;
}

// A value as a short piece of text for messages.
std::string Excerpt(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string Describe(const json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size());
  if (v.is_object()) return "an object";
  return std::string(v.is_number() ? "a number " : v.is_string() ? "a string " : v.is_boolean() ? "a boolean " : "") +
         Excerpt(v);
}

// What came for a key, as a shape: the sizes of the nested arrays along the first elements.
std::string ActualText(const json& v) {
  if (!v.is_array()) return Describe(v);
  std::vector<int> dims;
  const json* p = &v;
  while (p->is_array()) {
    dims.push_back(static_cast<int>(p->size()));
    if (p->empty()) break;
    p = &(*p)[0];
  }
  std::string s = "shape " + ShapeText(dims);
  if (!p->is_array() && !p->is_number()) s += std::string(" of ") + p->type_name() + "s";
  return s;
}

// Copies the values of `v` (shape `dims`) in row-major order, checking every element.
template <typename T>
void Fill(const json& v, const std::vector<int>& dims, size_t depth, bool image, const std::string& key,
          const PolicySpec& spec, const PolicyObsKey& k, std::string* path, std::vector<T>* out) {
  if (depth == dims.size()) {
    if (image) {
      const bool ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
      if (!ok || v.get<uint64_t>() > 255) {
        throw std::invalid_argument("obs '" + key + "'" + *path + ": expected an integer 0..255 (uint8 image), got " +
                                    Describe(v) + " (expected " + Expected(spec, k) + ")");
      }
      out->push_back(static_cast<T>(v.get<uint64_t>()));
    } else {
      if (!v.is_number()) {
        throw std::invalid_argument("obs '" + key + "'" + *path + ": non-numeric value, got " + Describe(v) +
                                    " (expected " + Expected(spec, k) + ")");
      }
      out->push_back(static_cast<T>(v.get<double>()));
    }
    return;
  }
  if (!v.is_array() || static_cast<int>(v.size()) != dims[depth]) {
    throw std::invalid_argument("obs '" + key + "'" + *path + ": expected an array of " +
                                std::to_string(dims[depth]) + ", got " + Describe(v) + " (ragged; expected " +
                                Expected(spec, k) + ")");
  }
  const size_t mark = path->size();
  for (size_t i = 0; i < v.size(); ++i) {
    *path += "[" + std::to_string(i) + "]";
    Fill(v[i], dims, depth + 1, image, key, spec, k, path, out);
    path->resize(mark);
  }
}

// A float32 as the double of its shortest decimal form, so that the JSON text is short and reads
// back (as float32) to exactly the same value.
double ShortFloat(float f) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf) - 1, f);
  *r.ptr = '\0';
  const double d = std::strtod(buf, nullptr);
  return static_cast<float>(d) == f ? d : static_cast<double>(f);
}

double Ms(double seconds) { return std::round(seconds * 1e6) / 1e3; }

std::string JoinStrings(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

static ojson RequestShapesOrdered(const PolicySpec& spec) {
  ojson shapes = ojson::object();
  for (const auto& k : spec.obs) {
    shapes[k.key] = {{"shape", RequestShape(spec, k)}, {"dtype", k.is_image ? "uint8" : "float"}};
  }
  return shapes;
}

nlohmann::json RequestShapes(const PolicySpec& spec) { return nlohmann::json(RequestShapesOrdered(spec)); }

ObsBatch ParseObservation(const PolicySpec& spec, const nlohmann::json& obs) {
  if (!obs.is_object()) {
    throw std::invalid_argument("\"obs\" must be an object {key: nested array}, got " + Describe(obs) +
                                " (the policy's keys: " + KeyList(spec) + ")");
  }
  for (const auto& k : spec.obs) {
    if (!obs.contains(k.key)) {
      std::string got;
      for (const auto& [name, value] : obs.items()) got += (got.empty() ? "" : ", ") + name;
      throw std::invalid_argument("missing obs key '" + k.key + "': expected " + Expected(spec, k) +
                                  " (the request has: " + (got.empty() ? "no keys" : got) + ")");
    }
  }
  for (const auto& [name, value] : obs.items()) {
    bool known = false;
    for (const auto& k : spec.obs) known = known || k.key == name;
    if (!known) {
      throw std::invalid_argument("unknown obs key '" + name + "' (the policy's keys: " + KeyList(spec) + ")");
    }
  }
  ObsBatch batch;
  batch.batch = 1;
  batch.steps = spec.obs_steps;
  for (const auto& k : spec.obs) {
    const json& v = obs.at(k.key);
    const std::vector<int> dims = RequestShape(spec, k);
    // The shape along the first elements; a ragged array is found (and located) by Fill.
    std::vector<int> first;
    for (const json* p = &v; p->is_array(); p = &(*p)[0]) {
      first.push_back(static_cast<int>(p->size()));
      if (p->empty()) break;
    }
    if (!v.is_array() || first != dims) {
      throw std::invalid_argument("obs '" + k.key + "': expected " + Expected(spec, k) + ", got " + ActualText(v));
    }
    std::string path;
    if (k.is_image) {
      auto& out = batch.images[k.key];
      size_t n = 1;
      for (int d : dims) n *= static_cast<size_t>(d);
      out.reserve(n);
      Fill(v, dims, 0, true, k.key, spec, k, &path, &out);
    } else {
      auto& out = batch.lowdim[k.key];
      Fill(v, dims, 0, false, k.key, spec, k, &path, &out);
    }
  }
  return batch;
}

// The reply to one request line as JSON (an "error" field when it failed).
static ojson Answer(Policy& policy, const std::string& sampler_in, const std::string& line, const json& info) {
  ojson id = nullptr;
  try {
    json req;
    try {
      req = json::parse(line);
    } catch (const json::parse_error& e) {
      throw std::invalid_argument("malformed request line (not JSON): " + JsonParseMessage(e));
    }
    if (!req.is_object()) {
      throw std::invalid_argument(
          "a request is a JSON object {\"id\": ..., \"obs\": {...}, \"seed\": N} or "
          "{\"cmd\": \"spec\"|\"ping\"}, got " + Describe(req));
    }
    if (req.contains("id")) id = ojson(req["id"]);
    const std::string sampler = sampler_in.empty() ? policy.Samplers().front() : sampler_in;
    const PolicySpec& spec = policy.spec();

    if (req.contains("cmd")) {
      for (const auto& [name, value] : req.items()) {
        if (name != "id" && name != "cmd") {
          throw std::invalid_argument("unknown field '" + name + "' in a command (a command has \"id\" and \"cmd\")");
        }
      }
      const json& cmd = req["cmd"];
      if (cmd == "ping") {
        ojson reply = {{"id", id}, {"pong", true}, {"policy", policy.Name()}, {"sampler", sampler}};
        return reply;
      }
      if (cmd == "spec") {
        ojson reply = {{"id", id},
                       {"policy", policy.Name()},
                       {"samplers", policy.Samplers()},
                       {"sampler", sampler},
                       {"nfe", policy.Nfe(SamplerSpec::Parse(sampler))},
                       {"device", policy.device()}};
        for (const auto& [name, value] : info.items()) reply[name] = ojson(value);
        reply["obs"] = RequestShapesOrdered(spec);
        reply["actions"] = {{"shape", {spec.action_steps, spec.action_dim}},
                            {"full_horizon_shape", {spec.horizon, spec.action_dim}},
                            {"executed_from", spec.obs_steps - 1}};
        reply["spec"] = ojson(spec.ToJson());
        return reply;
      }
      throw std::invalid_argument("unknown cmd " + Excerpt(cmd) + "; valid: \"spec\", \"ping\"");
    }

    for (const auto& [name, value] : req.items()) {
      if (name != "id" && name != "obs" && name != "seed" && name != "full_horizon") {
        throw std::invalid_argument("unknown request field '" + name +
                                    "'; valid: id, obs, seed, full_horizon (or cmd: spec, ping)");
      }
    }
    if (!req.contains("obs")) {
      throw std::invalid_argument("missing \"obs\": an object with the policy's keys " + KeyList(spec));
    }
    uint64_t seed = 0;
    if (req.contains("seed")) {
      const json& s = req["seed"];
      if (!s.is_number_unsigned()) {
        throw std::invalid_argument("\"seed\" must be a non-negative integer, got " + Describe(s));
      }
      seed = s.get<uint64_t>();
    }
    bool full_horizon = false;
    if (req.contains("full_horizon")) {
      if (!req["full_horizon"].is_boolean()) {
        throw std::invalid_argument("\"full_horizon\" must be true or false, got " + Describe(req["full_horizon"]));
      }
      full_horizon = req["full_horizon"].get<bool>();
    }
    const ObsBatch obs = ParseObservation(spec, req["obs"]);

    SampleOptions so;
    so.sampler = SamplerSpec::Parse(sampler);
    so.seeds = {seed};
    so.full_horizon = full_horizon;
    PredictTiming timing;
    ActionChunk chunk;
    try {
      chunk = policy.PredictChunk(obs, so, &timing);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("prediction failed: ") + e.what());
    }
    if (chunk.batch != 1 || chunk.dim != spec.action_dim ||
        chunk.data.size() != static_cast<size_t>(chunk.steps) * chunk.dim) {
      throw std::runtime_error("prediction failed: the policy returned a chunk of shape (" +
                               std::to_string(chunk.batch) + ", " + std::to_string(chunk.steps) + ", " +
                               std::to_string(chunk.dim) + ")");
    }
    ojson actions = ojson::array();
    for (int t = 0; t < chunk.steps; ++t) {
      ojson row = ojson::array();
      for (int d = 0; d < chunk.dim; ++d) {
        const float a = chunk.at(0, t)[d];
        if (!std::isfinite(a)) {
          throw std::runtime_error("prediction failed: non-finite action at step " + std::to_string(t) + ", dim " +
                                   std::to_string(d));
        }
        row.push_back(ShortFloat(a));
      }
      actions.push_back(std::move(row));
    }
    ojson reply = {{"id", id},
                   {"actions", std::move(actions)},
                   {"sampler", sampler},
                   {"nfe", timing.nfe},
                   {"encode_ms", Ms(timing.encode_s)},
                   {"sample_ms", Ms(timing.sample_s)}};
    return reply;
  } catch (const std::exception& e) {
    return ojson{{"id", id}, {"error", e.what()}};
  }
}

std::string HandleRequest(Policy& policy, const std::string& sampler, const std::string& line,
                          const nlohmann::json& info) {
  return DumpReply(Answer(policy, sampler, line, info));
}

int RunServe(const ServeOptions& o) {
  const ResolvedCkpt ck = ResolveCkpt(o.ckpt);
  // A bad socket path or a live server on it is bad input: refused before loading the policy.
  if (!o.socket.empty()) PrepareSocket("serve", o.socket);
  std::unique_ptr<Policy> policy = LoadPolicy(ck.policy_dir.string(), o.device);
  const std::vector<std::string> samplers = policy->Samplers();
  const std::string sampler = o.sampler.empty() ? samplers.front() : o.sampler;
  const auto bad_sampler = [&](const std::invalid_argument& e) {
    const std::string why = e.what();
    return std::invalid_argument("--sampler " + sampler + ": " + why +
                                 (why.find(samplers.front()) == std::string::npos
                                      ? "; the policy's samplers: " + JoinStrings(samplers)
                                      : ""));
  };
  int nfe = 0;
  try {
    nfe = policy->Nfe(SamplerSpec::Parse(sampler));
  } catch (const std::invalid_argument& e) {
    throw bad_sampler(e);
  }
  // One warm-up call on a zero observation: checks the sampler end to end and takes the first
  // call's one-off costs out of the first request's timings.
  ObsBatch zero;
  zero.batch = 1;
  zero.steps = policy->spec().obs_steps;
  for (const auto& k : policy->spec().obs) {
    size_t n = static_cast<size_t>(zero.steps);
    for (int d : k.shape) n *= static_cast<size_t>(d);
    if (k.is_image) {
      zero.images[k.key].assign(n, 0);
    } else {
      zero.lowdim[k.key].assign(n, 0.0f);
    }
  }
  SampleOptions so;
  so.sampler = SamplerSpec::Parse(sampler);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    policy->PredictChunk(zero, so);
  } catch (const std::invalid_argument& e) {
    throw bad_sampler(e);
  }
  const double warm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  json info = json::object();
  info["ckpt"] = o.ckpt;
  if (ck.run.is_object() && ck.run.contains("task") && ck.run["task"].is_string()) info["task"] = ck.run["task"];
  std::fprintf(stderr, "serve: %s from %s%s, sampler %s (NFE %d), device %s, warm-up %.3f s\n",
               policy->Name().c_str(), ck.policy_dir.string().c_str(),
               info.contains("task") ? (" (task " + info["task"].get<std::string>() + ")").c_str() : "",
               sampler.c_str(), nfe, policy->device().c_str(), warm_s);
  std::fprintf(stderr, "serve: obs %s; actions (%d, %d)\n", KeyList(policy->spec()).c_str(),
               policy->spec().action_steps, policy->spec().action_dim);

  return ServeLines("serve", o.socket, [&](const std::string& line) { return Answer(*policy, sampler, line, info); });
}

}  // namespace onedp
