// One thread that owns a Task (and so its headless GL context): every call that touches the task
// runs there, synchronously. The viewer's window context lives on the main thread; libglvnd
// refuses to make an EGL context current on a thread that has a GLX context current, so a task
// that renders its cameras (EGL) must live on a thread of its own.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace onedp {

class TaskThread {
 public:
  TaskThread() : thread_([this] { Loop(); }) {}
  ~TaskThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  // Runs fn on the thread and waits for it; rethrows what it threw.
  void Run(const std::function<void()>& fn) {
    std::unique_lock<std::mutex> lock(mu_);
    job_ = &fn;
    error_ = nullptr;
    cv_.notify_all();
    cv_.wait(lock, [&] { return job_ == nullptr; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return quit_ || job_ != nullptr; });
      if (job_ != nullptr) {
        const std::function<void()>* job = job_;
        lock.unlock();
        std::exception_ptr error;
        try {
          (*job)();
        } catch (...) {
          error = std::current_exception();
        }
        lock.lock();
        error_ = error;
        job_ = nullptr;
        cv_.notify_all();
        continue;
      }
      if (quit_) return;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  std::exception_ptr error_;
  bool quit_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace onedp
