// The JSON-lines transport shared by `harness serve` and `harness env` (see line_server.h).
#include "harness/line_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "harness/collect.h"  // StopRequested

namespace onedp {

using ojson = nlohmann::ordered_json;

std::string DumpReply(const ojson& reply) { return reply.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string JsonParseMessage(const std::exception& e) {
  std::string s = e.what();
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find("] ");
    if (close != std::string::npos) s = s.substr(close + 2);
  }
  return s;
}

namespace {

constexpr size_t kMaxLine = size_t{64} << 20;  // bytes; a longer request line is answered with an error
constexpr int kPollMs = 200;                   // how often a waiting server looks at StopRequested()

// Reads lines from a file descriptor, waking every kPollMs to honour stop requests.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  enum Result { kLine, kTooLong, kEof, kStopped };

  Result Next(std::string* line) {
    for (;;) {
      const size_t nl = buf_.find('\n', scanned_);
      if (nl != std::string::npos) {
        const bool too_long = discarding_;
        discarding_ = false;
        line->assign(buf_, 0, nl);
        buf_.erase(0, nl + 1);
        scanned_ = 0;
        if (!line->empty() && line->back() == '\r') line->pop_back();
        return too_long ? kTooLong : kLine;
      }
      scanned_ = buf_.size();
      if (buf_.size() > kMaxLine) {  // keep reading to the end of the line, keeping nothing of it
        discarding_ = true;
        buf_.clear();
        scanned_ = 0;
      }
      if (eof_) {
        if (buf_.empty() && !discarding_) return kEof;
        const bool too_long = discarding_;
        discarding_ = false;
        line->swap(buf_);
        buf_.clear();
        scanned_ = 0;
        return too_long ? kTooLong : kLine;
      }
      if (StopRequested()) return kStopped;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, kPollMs);
      if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
      if (r <= 0) continue;
      char chunk[1 << 16];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n == 0) {
        eof_ = true;
      } else if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == ECONNRESET) {
          eof_ = true;
          continue;
        }
        throw std::runtime_error(std::string("read: ") + std::strerror(errno));
      } else {
        buf_.append(chunk, static_cast<size_t>(n));
      }
    }
  }

 private:
  int fd_;
  std::string buf_;
  size_t scanned_ = 0;
  bool eof_ = false, discarding_ = false;
};

bool WriteAll(int fd, const std::string& text, bool is_socket) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = is_socket ? ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL)
                                : ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

struct ConnectionEnd {
  int64_t requests = 0, errors = 0;
  bool stopped = false;      // a stop request (signal)
  bool write_failed = false; // the reader went away
};

ConnectionEnd ServeConnection(const LineHandler& handler, int in_fd, int out_fd, bool is_socket) {
  ConnectionEnd end;
  LineReader reader(in_fd);
  std::string line;
  for (;;) {
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::kEof) break;
    if (r == LineReader::kStopped) {
      end.stopped = true;
      break;
    }
    std::string reply;
    if (r == LineReader::kTooLong) {
      reply = DumpReply(ojson{{"id", nullptr},
                         {"error", "request line longer than " + std::to_string(kMaxLine >> 20) + " MiB; skipped"}});
      ++end.errors;
    } else {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line: no reply
      const ojson answer = handler(line);
      if (answer.contains("error")) ++end.errors;
      reply = DumpReply(answer);
    }
    ++end.requests;
    reply += '\n';
    if (!WriteAll(out_fd, reply, is_socket)) {
      end.write_failed = true;
      break;
    }
  }
  return end;
}

// Removes the socket file when the server ends, however it ends.
struct SocketFile {
  std::string path;
  int fd = -1;
  ~SocketFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

sockaddr_un SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw std::invalid_argument("--socket " + path + ": a Unix socket path must have 1 to " +
                                std::to_string(sizeof(addr.sun_path) - 1) + " characters (got " +
                                std::to_string(path.size()) + ")");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// A stale socket file is removed; a live server's or a file that is not a socket is refused.
void ClearStaleSocket(const std::string& name, const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode)) {
    throw std::invalid_argument("--socket " + path + " exists and is not a socket; not replacing it");
  }
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    const bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) throw std::invalid_argument("--socket " + path + ": another server is listening there");
  }
  if (::unlink(path.c_str()) != 0) {
    throw std::runtime_error("cannot remove the stale socket " + path + ": " + std::strerror(errno));
  }
  std::fprintf(stderr, "%s: removed a stale socket file %s\n", name.c_str(), path.c_str());
}

// Listens on `path` (already cleared by ClearStaleSocket) and serves one client at a time.
int ServeSocket(const std::string& name, const LineHandler& handler, const std::string& path) {
  const sockaddr_un addr = SocketAddress(path);
  SocketFile sock;
  sock.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::bind(sock.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot bind the socket " + path + ": " + std::strerror(errno));
  }
  sock.path = path;  // ours from here on: removed at exit
  if (::listen(sock.fd, 4) != 0) throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
  std::fprintf(stderr, "%s: listening on %s (one client at a time; SIGINT / SIGTERM stops)\n", name.c_str(), path.c_str());
  int64_t clients = 0, requests = 0;
  while (!StopRequested()) {
    pollfd p{sock.fd, POLLIN, 0};
    const int r = ::poll(&p, 1, kPollMs);
    if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (r <= 0) continue;
    const int client = ::accept4(sock.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      throw std::runtime_error(std::string("accept: ") + std::strerror(errno));
    }
    ++clients;
    std::fprintf(stderr, "%s: client %lld connected\n", name.c_str(), static_cast<long long>(clients));
    ConnectionEnd end;
    try {
      end = ServeConnection(handler, client, client, true);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: client %lld: %s\n", name.c_str(), static_cast<long long>(clients), e.what());
    }
    ::close(client);
    requests += end.requests;
    std::fprintf(stderr, "%s: client %lld gone after %lld requests (%lld errors)\n", name.c_str(),
                 static_cast<long long>(clients), static_cast<long long>(end.requests),
                 static_cast<long long>(end.errors));
  }
  std::fprintf(stderr, "%s: stopped after %lld clients, %lld requests; removing %s\n", name.c_str(),
               static_cast<long long>(clients), static_cast<long long>(requests), path.c_str());
  return 130;
}

}  // namespace

void PrepareSocket(const std::string& name, const std::string& path) {
  ClearStaleSocket(name, path, SocketAddress(path));
}

int ServeLines(const std::string& name, const std::string& socket, const LineHandler& handler) {
  std::signal(SIGPIPE, SIG_IGN);  // a reader that went away ends the loop instead of the process
  if (!socket.empty()) return ServeSocket(name, handler, socket);
  std::fprintf(stderr, "%s: reading JSON lines on stdin, replies on stdout (EOF ends)\n", name.c_str());
  const ConnectionEnd end = ServeConnection(handler, 0, 1, false);
  std::fprintf(stderr, "%s: %lld requests (%lld errors), %s\n", name.c_str(), static_cast<long long>(end.requests),
               static_cast<long long>(end.errors),
               end.stopped ? "stopped" : end.write_failed ? "stdout closed" : "end of input");
  return end.stopped ? 130 : 0;
}

}  // namespace onedp
