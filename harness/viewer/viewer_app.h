// The viewer window: GLFW + Dear ImGui (OpenGL3 backend) with MuJoCo drawing each track's scene.
//
//   +-----------+---------------------------+---------------------------+
//   | controls  | 3D view, track A          | 3D view, track B          |
//   | status    | (free orbit camera or a   | (same camera)             |
//   | actions   |  task camera; chunk path) |                           |
//   |           +---------------------------+---------------------------+
//   |           | A: camera images (native  | B: ...                    |
//   |           | size), action values      |                           |
//   +-----------+---------------------------+---------------------------+
//
// Keys: space play/pause, right arrow step, left arrow step back (replay), R reset (live),
// Home first frame (replay), P screenshot, Esc quit. Mouse on a 3D view (free camera): left drag
// rotate, right drag move, middle drag / wheel zoom.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/viewer/tracks.h"

namespace onedp {

struct ViewerOptions {
  int width = 1280, height = 720;
  // Non-interactive when > 0: render this many frames (tracks advance one step per frame unless
  // paused), save `screenshot`, exit. Used by tests and for the docs' screenshots.
  int frames = 0;
  std::string screenshot;  // PNG path (interactive: where the P key / button saves)
  std::string record;      // MP4 of every rendered frame (OpenCV VideoWriter)
  int seek = 0;            // replay: first frame shown
  bool paused = false;
  double speed = 20;   // env steps per second while playing (interactive)
  std::string camera;  // "free" or a camera name; empty: the task's default view (TaskInfo)
  bool show_chunk = true;
  std::string title = "OneDP viewer";
  std::string mode;  // "live" | "rollout" | "dataset", shown in the panel
};

// No display, or the window / GL context cannot be created.
class DisplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs the window until it is closed (or `frames` frames). Throws DisplayError without a
// display, std::invalid_argument for a bad option (unknown camera name), std::runtime_error else.
void RunViewer(std::vector<std::unique_ptr<Track>>& tracks, const ViewerOptions& options);

}  // namespace onedp
