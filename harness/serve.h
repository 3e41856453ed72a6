// `harness serve`: a trained policy answering action-chunk requests as JSON lines, so that another
// simulator (gym-pusht, robosuite, driven from Python) can run our policies without Python in our
// loop. Torch-free: the policy is used through policies/policy.h.
//
// Transport: one request per line, one reply line per request, in order; stdin -> stdout (logs on
// stderr only) or, with --socket PATH, a local Unix domain socket serving one client at a time
// (each connection speaks the same protocol). Blank lines are skipped without a reply.
//
// Requests (batch 1, one observation history; keys and shapes as the policy's PolicySpec says,
// raw values as the simulator gives them):
//   {"id": <any JSON, echoed>, "obs": {"<key>": <nested array>, ...}, "seed": <uint, default 0>,
//    "full_horizon": <bool, default false>}
//     low-dim key: (To, d) numbers; image key: (To, h, w, 3) integers 0..255 (uncropped)
//   {"id": ..., "cmd": "spec"}   the policy's name, samplers, the sampler in use and its NFE, the
//                                spec (PolicySpec::ToJson) and each key's request shape
//   {"id": ..., "cmd": "ping"}
// Replies:
//   {"id": ..., "actions": [[a_0 .. a_Da-1] x Ta], "sampler": "ddim:10", "nfe": 10,
//    "encode_ms": 1.2, "sample_ms": 30.4}
//     Ta rows: the steps our own rollouts execute, horizon steps [To-1, To-1+Ta) of the sampled
//     chunk; with "full_horizon": true all H rows. Actions are raw (dataset units), each float32
//     printed so that it reads back bit-exactly.
//   {"id": ... (null when the line did not parse), "error": "<what is wrong, naming the key, the
//    expected shape and what came>"} and the server goes on serving.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "policies/policy.h"

namespace onedp {

// Answers one request line (see above) with one reply line (no trailing newline). Never throws:
// every problem becomes an error reply. `sampler` is the sampler in use ("ddim:10"; empty: the
// policy's default). `info`'s fields (e.g. the run's task name) are added to the spec reply.
std::string HandleRequest(Policy& policy, const std::string& sampler, const std::string& line,
                          const nlohmann::json& info = nlohmann::json::object());

// The observation history of a request's "obs" object as a batch-1 ObsBatch for `spec`. Throws
// std::invalid_argument naming the key, the expected shape and what came (missing, unknown or
// misshapen keys, non-numeric values, image values outside 0..255).
ObsBatch ParseObservation(const PolicySpec& spec, const nlohmann::json& obs);

// The shape a request gives for each observation key: (To, d) or (To, h, w, 3), in spec order.
nlohmann::json RequestShapes(const PolicySpec& spec);

struct ServeOptions {
  std::string ckpt;     // a run directory or a saved policy directory
  std::string sampler;  // default: the policy's first
  std::string device = "cpu";
  std::string socket;   // Unix domain socket path; empty: stdin / stdout
};

// Loads the policy, checks the sampler (with one warm-up call on a zero observation) and serves
// until EOF on stdin (stdin mode) or a stop request (SIGINT / SIGTERM; socket mode). Returns 0 at
// EOF, 130 when stopped by a signal. Throws std::invalid_argument for bad options (missing
// checkpoint, unknown sampler: the valid ones are listed; socket path too long, not a socket or
// in use by a live server), std::runtime_error for system failures. Logs go to stderr.
int RunServe(const ServeOptions& options);

}  // namespace onedp
