// The JSON-lines transport that `harness serve` and `harness env` share: one request per line, one
// reply line per request, in order, on stdin / stdout or on a local Unix domain socket (one client at
// a time, each connection the same protocol). Blank lines get no reply; a line longer than the limit
// gets an error reply and is skipped; EOF on stdin ends the server (exit 0); SIGINT / SIGTERM
// (RequestStop) end it with 130. What a request means is the handler's business.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace onedp {

// Answers one non-blank request line. Must not throw; a reply with an "error" field counts as an
// error in the logs.
using LineHandler = std::function<nlohmann::ordered_json(const std::string& line)>;

// A reply as one line of text (no newline; invalid UTF-8 replaced).
std::string DumpReply(const nlohmann::ordered_json& reply);

// The message of a JSON parse error without its "[json.exception.parse_error.101] " prefix.
std::string JsonParseMessage(const std::exception& e);

// Checks a --socket path before anything slow happens: a stale socket file is removed; a path that
// is too long, not a socket or has a live server listening is refused (std::invalid_argument).
// `name` prefixes the log lines ("serve", "env").
void PrepareSocket(const std::string& name, const std::string& path);

// Serves `handler` on stdin / stdout (socket empty) or on the Unix socket `socket` (already
// prepared by PrepareSocket; removed at exit). Returns 0 at EOF on stdin, 130 when stopped by a
// signal. Logs to stderr, each line prefixed with `name`.
int ServeLines(const std::string& name, const std::string& socket, const LineHandler& handler);

}  // namespace onedp
