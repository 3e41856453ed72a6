#include "harness/viewer/viewer_app.h"

#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace onedp {
namespace {

constexpr int kPanelWidth = 340;
constexpr int kStripHeight = 210;

std::string g_glfw_error;
void OnGlfwError(int code, const char* what) { g_glfw_error = what ? what : "unknown"; }

// SIGINT / SIGTERM close the window like Esc (an MP4 being recorded is finished properly).
volatile std::sig_atomic_t g_quit = 0;
void OnSignal(int) { g_quit = 1; }

// One track's MuJoCo drawing state on the window's GL context.
struct View {
  mjvScene scn;
  mjrContext con;
  std::map<std::string, GLuint> textures;
};

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;  // window pixels, origin top-left
  bool Contains(double px, double py) const {
    return px >= x && px < x + w && py >= y && py < y + h;
  }
};

std::vector<uint8_t> ReadFramebuffer(int w, int h) {
  std::vector<uint8_t> bottom_up(static_cast<size_t>(w) * h * 3), rgb(bottom_up.size());
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, bottom_up.data());
  const size_t row = 3u * w;
  for (int r = 0; r < h; ++r) {
    std::memcpy(rgb.data() + r * row, bottom_up.data() + static_cast<size_t>(h - 1 - r) * row, row);
  }
  return rgb;
}

void SavePng(const std::vector<uint8_t>& rgb, int w, int h, const std::string& path) {
  cv::Mat view(h, w, CV_8UC3, const_cast<uint8_t*>(rgb.data())), bgr;
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  if (!cv::imwrite(path, bgr, {cv::IMWRITE_PNG_COMPRESSION, 9}))
    throw std::runtime_error("cannot write screenshot " + path);
}

// The predicted chunk as a path in the scene: executed steps already taken (grey), the current
// one (yellow), executed steps still to come (green), horizon steps the rollout discards (red;
// only when the policy returned them).
void AddChunkPath(const Track& track, mjvScene* scn) {
  const TrackFrame& f = track.frame();
  if (f.chunk.empty() || f.horizon <= 0) return;
  const int h = f.horizon;
  const int d = static_cast<int>(f.chunk.size()) / h;
  const TaskView& view = track.spec().info.view;
  const bool planar = view.planar_actions;
  if (!planar && (!track.absolute_actions() || d < 3)) return;  // delta actions: no positions
  const double radius = view.marker_radius, width = view.marker_width;
  const auto pos = [&](int k, double out[3]) {
    const double* a = f.chunk.data() + static_cast<size_t>(k) * d;
    if (!std::isfinite(a[0]) || !std::isfinite(a[1])) return false;
    if (planar) {
      out[0] = a[0], out[1] = a[1], out[2] = view.action_plane_z;
    } else {
      if (!std::isfinite(a[2])) return false;
      out[0] = a[0], out[1] = a[1], out[2] = a[2];
    }
    return true;
  };
  const auto color = [&](int k, float rgba[4]) {
    const float grey[4] = {0.55f, 0.55f, 0.6f, 0.9f}, now[4] = {1.0f, 0.85f, 0.1f, 1.0f},
                next[4] = {0.15f, 0.85f, 0.3f, 0.9f}, gone[4] = {0.9f, 0.2f, 0.2f, 0.6f};
    const float* c = k < f.exec_begin || k >= f.exec_end ? gone
                     : k < f.chunk_pos                   ? grey
                     : k == f.chunk_pos                  ? now
                                                         : next;
    std::copy(c, c + 4, rgba);
  };
  double prev[3] = {0, 0, 0};
  bool have_prev = false;
  int prev_k = -1;
  for (int k = 0; k < h; ++k) {
    double p[3];
    if (!pos(k, p)) {
      have_prev = false;
      continue;
    }
    float rgba[4];
    color(k, rgba);
    if (scn->ngeom >= scn->maxgeom) return;
    mjvGeom* g = scn->geoms + scn->ngeom++;
    const mjtNum size[3] = {k == f.chunk_pos ? 1.6 * radius : radius, 0, 0};
    mjv_initGeom(g, mjGEOM_SPHERE, size, p, nullptr, rgba);
    g->category = mjCAT_DECOR;
    g->emission = 0.4f;
    if (have_prev && scn->ngeom < scn->maxgeom) {
      float link[4];
      color(prev_k, link);
      mjvGeom* c = scn->geoms + scn->ngeom++;
      mjv_initGeom(c, mjGEOM_CAPSULE, nullptr, nullptr, nullptr, link);
      mjv_makeConnector(c, mjGEOM_CAPSULE, width, prev[0], prev[1], prev[2], p[0], p[1], p[2]);
      c->category = mjCAT_DECOR;
      c->emission = 0.4f;
    }
    std::copy(p, p + 3, prev);
    have_prev = true;
    prev_k = k;
  }
}

void UploadImages(Track& track, View& view) {
  const TrackFrame& f = track.frame();
  for (const auto& [key, img] : f.images) {
    GLuint& tex = view.textures[key];
    if (tex == 0) {
      glGenTextures(1, &tex);
      glBindTexture(GL_TEXTURE_2D, tex);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    }
    glBindTexture(GL_TEXTURE_2D, tex);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB, img.width, img.height, 0, GL_RGB, GL_UNSIGNED_BYTE,
                 img.pixels.data());
  }
}

std::string ActionText(const std::vector<double>& a) {
  std::string s;
  char buf[32];
  for (size_t i = 0; i < a.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%+.3f", i == 0 ? "" : (i % 5 == 0 ? "\n" : " "), a[i]);
    s += buf;
  }
  return s;
}

class App {
 public:
  App(std::vector<std::unique_ptr<Track>>& tracks, const ViewerOptions& o)
      : tracks_(tracks), o_(o) {}
  ~App() { Shutdown(); }

  void Run() {
    Init();
    const bool batch = o_.frames > 0;
    playing_ = !o_.paused;
    if (!tracks_.front()->live() && o_.seek > 0) {
      for (auto& t : tracks_) t->Seek(o_.seek);
    }
    auto last = std::chrono::steady_clock::now();
    double owed = 0;
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    for (int frame = 0; !glfwWindowShouldClose(window_) && !g_quit; ++frame) {
      glfwPollEvents();
      const auto now = std::chrono::steady_clock::now();
      const double dt = std::chrono::duration<double>(now - last).count();
      last = now;
      if (batch) {
        if (playing_ && frame > 0) StepAll(+1);
      } else if (playing_) {
        owed = std::min(owed + dt * speed_, 4.0);
        while (owed >= 1) {
          StepAll(+1);
          owed -= 1;
        }
      }
      const bool last_frame = batch && frame + 1 >= o_.frames;
      DrawFrame(last_frame);
      if (last_frame) break;
    }
  }

 private:
  void Init() {
    glfwSetErrorCallback(OnGlfwError);
    if (!glfwInit()) {
      throw DisplayError(
          "cannot open a display (" + g_glfw_error +
          "). Run the viewer on a desktop, or headless under `xvfb-run -a viewer ...`;"
          " `harness eval --video DIR` writes MP4s without any display");
    }
    glfw_ = true;
    window_ = glfwCreateWindow(o_.width, o_.height, o_.title.c_str(), nullptr, nullptr);
    if (window_ == nullptr) {
      throw DisplayError("cannot create a " + std::to_string(o_.width) + "x" +
                         std::to_string(o_.height) + " OpenGL window: " + g_glfw_error);
    }
    glfwMakeContextCurrent(window_);
    glfwSwapInterval(o_.frames > 0 ? 0 : 1);
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini next to the user's files
    ImGui::StyleColorsDark();
    ImGui_ImplGlfw_InitForOpenGL(window_, true);
    ImGui_ImplOpenGL3_Init("#version 130");
    imgui_ = true;

    // MuJoCo contexts on the window's GL context, before any task renders its cameras (MuJoCo
    // resolves GL entry points once per process).
    views_.resize(tracks_.size());
    for (size_t i = 0; i < tracks_.size(); ++i) {
      View& v = views_[i];
      mjv_defaultScene(&v.scn);
      mjr_defaultContext(&v.con);
      mjModel* m = tracks_[i]->model();
      mjv_makeScene(m, &v.scn, std::max(2000, 2 * m->ngeom + 400));
      mjr_makeContext(m, &v.con, mjFONTSCALE_150);
      made_ = i + 1;
    }
    for (auto& t : tracks_) t->Start();

    mjv_defaultOption(&opt_);
    mjv_defaultCamera(&cam_);
    mjModel* m = tracks_.front()->model();
    mjv_defaultFreeCamera(m, &cam_);
    const TaskView& view = tracks_.front()->spec().info.view;
    if (view.free_distance > 0) {  // the task's starting pose of the free camera
      cam_.azimuth = view.free_azimuth;
      cam_.elevation = view.free_elevation;
      cam_.distance = view.free_distance;
      for (int i = 0; i < 3; ++i) cam_.lookat[i] = view.free_lookat[i];
    }
    camera_names_.push_back("free");
    for (int c = 0; c < m->ncam; ++c) {
      const char* name = mj_id2name(m, mjOBJ_CAMERA, c);
      camera_names_.push_back(name ? name : "camera " + std::to_string(c));
    }
    std::string want = o_.camera;
    if (want.empty()) want = view.camera.empty() ? "free" : view.camera;
    const auto it = std::find(camera_names_.begin(), camera_names_.end(), want);
    if (it == camera_names_.end()) {
      std::string valid;
      for (const auto& n : camera_names_) valid += (valid.empty() ? "" : ", ") + n;
      throw std::invalid_argument("--camera " + want + ": unknown; valid: " + valid);
    }
    SetCamera(static_cast<int>(it - camera_names_.begin()));
    speed_ = o_.speed;
    show_chunk_ = o_.show_chunk;
    if (!o_.record.empty()) StartRecording(o_.record);
  }

  void Shutdown() {
    recorder_.reset();
    for (size_t i = 0; i < made_; ++i) {
      for (auto& [key, tex] : views_[i].textures) glDeleteTextures(1, &tex);
      mjr_freeContext(&views_[i].con);
      mjv_freeScene(&views_[i].scn);
    }
    made_ = 0;
    if (imgui_) {
      ImGui_ImplOpenGL3_Shutdown();
      ImGui_ImplGlfw_Shutdown();
      ImGui::DestroyContext();
      imgui_ = false;
    }
    if (window_) glfwDestroyWindow(window_);
    window_ = nullptr;
    if (glfw_) glfwTerminate();
    glfw_ = false;
  }

  void SetCamera(int index) {
    camera_ = index;
    if (index == 0) {
      cam_.type = mjCAMERA_FREE;
    } else {
      cam_.type = mjCAMERA_FIXED;
      cam_.fixedcamid = index - 1;
    }
  }

  void StepAll(int delta) {
    for (auto& t : tracks_) {
      if (delta > 0) {
        t->Advance();
      } else if (!t->live()) {
        t->Seek(t->frame().step + delta);
      }
    }
    if (!tracks_.front()->live() && tracks_.front()->frame().done) playing_ = false;
    bool all_done = true;
    for (auto& t : tracks_) all_done = all_done && t->frame().done;
    if (all_done && o_.frames == 0) playing_ = false;
  }

  void StartRecording(const std::string& path) {
    int w, h;
    glfwGetFramebufferSize(window_, &w, &h);
    recorder_ = std::make_unique<Mp4Writer>(path, w, h, 20);
    status_ = "recording " + path;
  }

  // Interactive screenshots and recordings: --screenshot / --record if given, else
  // viewer_<n>.png / .mp4 in the working directory.
  std::string NextName(const std::string& ext) {
    if (ext == ".png" && !o_.screenshot.empty()) return o_.screenshot;
    return "viewer_" + std::to_string(++shots_) + ext;
  }

  void HandleInput(const std::vector<Rect>& views) {
    ImGuiIO& io = ImGui::GetIO();
    if (!io.WantCaptureKeyboard) {
      if (ImGui::IsKeyPressed(GLFW_KEY_SPACE, false)) playing_ = !playing_;
      if (ImGui::IsKeyPressed(GLFW_KEY_RIGHT)) StepAll(+1);
      if (ImGui::IsKeyPressed(GLFW_KEY_LEFT)) StepAll(-1);
      if (ImGui::IsKeyPressed(GLFW_KEY_HOME, false)) {
        for (auto& t : tracks_) t->Seek(0);
      }
      if (ImGui::IsKeyPressed(GLFW_KEY_R, false)) ResetLive();
      if (ImGui::IsKeyPressed(GLFW_KEY_P, false)) want_shot_ = true;
      if (ImGui::IsKeyPressed(GLFW_KEY_ESCAPE, false)) glfwSetWindowShouldClose(window_, 1);
    }
    if (io.WantCaptureMouse || cam_.type != mjCAMERA_FREE) return;
    const ImVec2 p = io.MousePos;
    const Rect* over = nullptr;
    for (const Rect& r : views) {
      if (r.Contains(p.x, p.y)) over = &r;
    }
    if (over == nullptr) return;
    mjModel* m = tracks_.front()->model();
    const double dx = io.MouseDelta.x / over->h, dy = io.MouseDelta.y / over->h;
    const bool shift = io.KeyShift;
    if (io.MouseDown[0] && (dx != 0 || dy != 0)) {
      mjv_moveCamera(m, shift ? mjMOUSE_ROTATE_H : mjMOUSE_ROTATE_V, dx, dy, &views_[0].scn, &cam_);
    } else if (io.MouseDown[1] && (dx != 0 || dy != 0)) {
      mjv_moveCamera(m, shift ? mjMOUSE_MOVE_H : mjMOUSE_MOVE_V, dx, dy, &views_[0].scn, &cam_);
    } else if (io.MouseDown[2] && dy != 0) {
      mjv_moveCamera(m, mjMOUSE_ZOOM, 0, dy, &views_[0].scn, &cam_);
    }
    if (io.MouseWheel != 0)
      mjv_moveCamera(m, mjMOUSE_ZOOM, 0, -0.05 * io.MouseWheel, &views_[0].scn, &cam_);
  }

  void ResetLive() {
    for (auto& t : tracks_) {
      if (t->live()) t->Reset(seed_input_ >= 0 ? static_cast<uint64_t>(seed_input_) : t->seed());
    }
  }

  void ControlPanel(int fbh) {
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(kPanelWidth, static_cast<float>(fbh)));
    ImGui::Begin("OneDP viewer", nullptr,
                 ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
    Track& first = *tracks_.front();
    ImGui::Text("%s: %s", o_.mode.c_str(), first.spec().name.c_str());
    ImGui::Text("seed %llu", static_cast<unsigned long long>(first.seed()));
    ImGui::Separator();
    if (ImGui::Button(playing_ ? "Pause" : "Play")) playing_ = !playing_;
    ImGui::SameLine();
    if (ImGui::Button("Step")) StepAll(+1);
    if (!first.live()) {
      ImGui::SameLine();
      if (ImGui::Button("Back")) StepAll(-1);
    }
    float speed = static_cast<float>(speed_);
    if (ImGui::SliderFloat("steps/s", &speed, 1, 60, "%.0f")) speed_ = speed;
    if (first.live()) {
      if (seed_input_ < 0) seed_input_ = static_cast<int>(first.seed());
      ImGui::InputInt("seed", &seed_input_);
      if (seed_input_ < 0) seed_input_ = 0;
      if (ImGui::Button("Reset to seed")) ResetLive();
      for (size_t i = 0; i < tracks_.size(); ++i) {
        Track& t = *tracks_[i];
        const std::string current = t.sampler();
        const std::string label = "sampler " + std::string(1, static_cast<char>('A' + i));
        if (ImGui::BeginCombo(label.c_str(), current.c_str())) {
          for (const std::string& s : t.samplers()) {
            if (ImGui::Selectable(s.c_str(), s == current) && s != current) {
              t.SetSampler(s);
              t.Reset(t.seed());
            }
          }
          ImGui::EndCombo();
        }
      }
    } else {
      int f = first.frame().step;
      if (ImGui::SliderInt("frame", &f, 0, first.frame().num_frames - 1)) {
        for (auto& t : tracks_) t->Seek(f);
      }
    }
    if (ImGui::BeginCombo("camera", camera_names_[camera_].c_str())) {
      for (size_t c = 0; c < camera_names_.size(); ++c) {
        if (ImGui::Selectable(camera_names_[c].c_str(), static_cast<int>(c) == camera_))
          SetCamera(static_cast<int>(c));
      }
      ImGui::EndCombo();
    }
    ImGui::Checkbox("predicted chunk", &show_chunk_);
    if (ImGui::Button("Screenshot")) want_shot_ = true;
    ImGui::SameLine();
    if (ImGui::Button(recorder_ ? "Stop MP4" : "Record MP4")) {
      if (recorder_) {
        recorder_->Close();
        status_ =
            "wrote " + recorder_->path() + " (" + std::to_string(recorder_->frames()) + " frames)";
        recorder_.reset();
      } else {
        StartRecording(o_.record.empty() || record_count_ > 0 ? NextName(".mp4") : o_.record);
        ++record_count_;
      }
    }
    if (!status_.empty()) ImGui::TextWrapped("%s", status_.c_str());

    for (size_t i = 0; i < tracks_.size(); ++i) {
      const Track& t = *tracks_[i];
      const TrackFrame& f = t.frame();
      ImGui::Separator();
      ImGui::TextWrapped("%c: %s", static_cast<char>('A' + i), t.label().c_str());
      if (f.num_frames > 0) {
        ImGui::Text("step %d / %d", f.step, f.num_frames - 1);
      } else {
        ImGui::Text("step %d / %d%s", f.step, t.spec().max_steps, f.done ? " (done)" : "");
      }
      ImGui::TextColored(f.success ? ImVec4(0.3f, 1, 0.4f, 1) : ImVec4(1, 0.6f, 0.4f, 1),
                         "success %s", f.success ? "yes" : "no");
      ImGui::SameLine();
      ImGui::Text("  %s %.3f", t.spec().info.score_label.c_str(), f.score);
      ImGui::Text("reward %.3f", f.reward);
      const std::vector<std::string>& goals = t.spec().info.milestones;
      for (size_t m = 0; m < goals.size(); ++m) {
        const bool reached = (f.milestones >> m) & 1u;
        ImGui::TextColored(reached ? ImVec4(0.3f, 1, 0.4f, 1) : ImVec4(0.6f, 0.6f, 0.6f, 1), "%s %s",
                           reached ? "[x]" : "[ ]", goals[m].c_str());
      }
      if (t.live()) {
        const auto* lt = dynamic_cast<const LiveTrack*>(&t);
        if (lt) {
          std::string keys;
          for (const auto& k : lt->policy().spec().obs) keys += (keys.empty() ? "" : ", ") + k.key;
          ImGui::TextWrapped("inputs: %s", keys.c_str());
          ImGui::Text("PredictChunk %.0f ms", 1e3 * lt->last_predict_seconds());
        }
      }
      if (!f.error.empty())
        ImGui::TextColored(ImVec4(1, 0.3f, 0.3f, 1), "error: %s", f.error.c_str());
    }
    ImGui::Separator();
    ImGui::TextWrapped(
        "space play/pause, arrows step, Home start, R reset, P screenshot. Free camera: drag "
        "left rotate, right move, wheel zoom. Chunk: grey done, yellow now, green to come, red "
        "discarded.");
    ImGui::End();
  }

  // The recording's delay timeline, one column per step: green executed, grey held (the chunk was
  // not ready), a red tick where a chunk took over after skipping actions (async), an orange mark at
  // the perturbation's step, white the current frame; then the totals and, once it fired, the
  // perturbation.
  static void DelayTimeline(const RolloutTimeline& tl, int step, float width) {
    const int n = static_cast<int>(tl.steps.size());
    if (n == 0) return;
    const float h = 12;
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float w = width / n;
    for (int s = 0; s < n; ++s) {
      const float x = p0.x + s * w;
      const ImU32 c = tl.steps[s].held ? IM_COL32(110, 110, 110, 255) : IM_COL32(60, 170, 90, 255);
      dl->AddRectFilled(ImVec2(x, p0.y), ImVec2(x + std::max(w, 1.0f), p0.y + h), c);
      if (tl.steps[s].takes_over && tl.steps[s].skipped > 0) {
        dl->AddLine(ImVec2(x, p0.y - 2), ImVec2(x, p0.y + h + 2), IM_COL32(230, 60, 60, 255), 2);
      }
    }
    if (tl.perturbation_step >= 0) {
      const float x = p0.x + std::min(tl.perturbation_step, n) * w;
      dl->AddTriangleFilled(ImVec2(x - 4, p0.y - 5), ImVec2(x + 4, p0.y - 5), ImVec2(x, p0.y + 2),
                            IM_COL32(255, 150, 30, 255));
    }
    const float cx = p0.x + std::min(step, n) * w;
    dl->AddLine(ImVec2(cx, p0.y - 3), ImVec2(cx, p0.y + h + 3), IM_COL32(255, 255, 255, 255), 1.5f);
    ImGui::Dummy(ImVec2(width, h + 4));
    const bool here = step > 0 && step <= n;
    if (here && tl.steps[step - 1].held) {
      ImGui::TextColored(ImVec4(0.7f, 0.7f, 0.7f, 1), "holding: the chunk is not ready");
    } else if (here && tl.steps[step - 1].takes_over && tl.steps[step - 1].skipped > 0) {
      ImGui::TextColored(ImVec4(0.9f, 0.3f, 0.3f, 1), "new chunk, %d stale actions skipped", tl.steps[step - 1].skipped);
    }
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
    ImGui::TextWrapped("%s", tl.Summary().c_str());
    if (tl.perturbation_step >= 0 && step >= tl.perturbation_step) {
      ImGui::TextColored(ImVec4(1, 0.6f, 0.1f, 1), "PERTURBATION %s %s at step %d", tl.perturbation_name.c_str(),
                         tl.perturbation.c_str(), tl.perturbation_step);
    }
    ImGui::PopTextWrapPos();
  }

  void TrackStrip(size_t i, const Rect& r) {
    Track& t = *tracks_[i];
    const TrackFrame& f = t.frame();
    ImGui::SetNextWindowPos(ImVec2(static_cast<float>(r.x), static_cast<float>(r.y)));
    ImGui::SetNextWindowSize(ImVec2(static_cast<float>(r.w), static_cast<float>(r.h)));
    const std::string name = std::string(1, static_cast<char>('A' + i)) + ": inputs and actions";
    ImGui::Begin(name.c_str(), nullptr,
                 ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
    View& v = views_[i];
    const float plot_w = 240;
    // Left: the action that led to this frame, its values, and one dimension over the episode.
    ImGui::BeginGroup();
    if (!f.action.empty()) {
      std::vector<float> a(f.action.begin(), f.action.end());
      // One scale for the episode: [-1, 1] (rot6d, gripper) widened to every value seen (PushT
      // pixel targets, positions).
      float lo = -1, hi = 1;
      for (const auto& row : t.actions()) {
        for (double x : row)
          lo = std::min(lo, static_cast<float>(x)), hi = std::max(hi, static_cast<float>(x));
      }
      ImGui::Text("action of step %d (%zu-D)", f.step, a.size());
      ImGui::PlotHistogram("##action", a.data(), static_cast<int>(a.size()), 0, nullptr, lo, hi,
                           ImVec2(plot_w, 50));
      ImGui::TextUnformatted(ActionText(f.action).c_str());
      const auto& hist = t.actions();
      const int n = std::min<int>(f.step, static_cast<int>(hist.size()));
      if (n > 1) {
        std::vector<float> g(n);
        const int dim = static_cast<int>(a.size()) - 1;  // the last action dimension: gripper, or a planar task's y
        for (int k = 0; k < n; ++k) g[k] = static_cast<float>(hist[k][dim]);
        ImGui::PlotLines("##hist", g.data(), n, 0,
                         ("a[" + std::to_string(dim) + "] so far").c_str(), FLT_MAX, FLT_MAX,
                         ImVec2(plot_w, 36));
      }
    } else {
      ImGui::Dummy(ImVec2(plot_w, 1));
      ImGui::TextDisabled("no action yet");
    }
    if (const RolloutTimeline* tl = t.timeline()) DelayTimeline(*tl, f.step, plot_w);
    ImGui::EndGroup();
    // Right: the task's camera images at native size (the policy's input when it reads them).
    for (const auto& [key, img] : f.images) {
      ImGui::SameLine();
      ImGui::BeginGroup();
      const bool input =
          std::find(f.policy_images.begin(), f.policy_images.end(), key) != f.policy_images.end();
      ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(v.textures[key])),
                   ImVec2(static_cast<float>(img.width), static_cast<float>(img.height)));
      ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::max(img.width, 84));
      ImGui::TextWrapped("%s", key.c_str());
      if (input) {
        ImGui::TextColored(ImVec4(0.4f, 0.9f, 0.5f, 1), "policy input");
      } else {
        ImGui::TextDisabled("%dx%d", img.width, img.height);
      }
      ImGui::PopTextWrapPos();
      ImGui::EndGroup();
    }
    ImGui::End();
  }

  void DrawFrame(bool final_frame) {
    int fbw, fbh;
    glfwGetFramebufferSize(window_, &fbw, &fbh);
    for (size_t i = 0; i < tracks_.size(); ++i) {
      UploadImages(*tracks_[i], views_[i]);  // a few small images: cheaper than tracking changes
    }
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();

    const int n = static_cast<int>(tracks_.size());
    const int area_w = std::max(1, fbw - kPanelWidth);
    const int col_w = area_w / n;
    const int scene_h = std::max(1, fbh - kStripHeight);
    std::vector<Rect> scenes, strips;
    for (int i = 0; i < n; ++i) {
      scenes.push_back({kPanelWidth + i * col_w, 0, col_w, scene_h});
      strips.push_back({kPanelWidth + i * col_w, scene_h, col_w, fbh - scene_h});
    }
    HandleInput(scenes);
    ControlPanel(fbh);
    for (int i = 0; i < n; ++i) TrackStrip(i, strips[i]);
    ImGui::Render();

    glViewport(0, 0, fbw, fbh);
    glClearColor(0.1f, 0.1f, 0.12f, 1);
    glClear(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);
    for (int i = 0; i < n; ++i) {
      View& v = views_[i];
      Track& t = *tracks_[i];
      mjv_updateScene(t.model(), t.data(), &opt_, nullptr, &cam_, mjCAT_ALL, &v.scn);
      if (show_chunk_) AddChunkPath(t, &v.scn);
      mjr_setBuffer(mjFB_WINDOW, &v.con);
      const Rect& s = scenes[i];
      const mjrRect vp{s.x, fbh - s.y - s.h, s.w, s.h};
      mjr_render(vp, &v.scn, &v.con);
      std::string label = std::string(1, static_cast<char>('A' + i)) + ": " + t.label();
      char line[128];
      std::snprintf(line, sizeof line, "step %d  %s  score %.3f", t.frame().step,
                    t.frame().success ? "SUCCESS" : "", t.frame().score);
      mjr_overlay(mjFONT_NORMAL, mjGRID_TOPLEFT, vp, label.c_str(), line, &v.con);
    }
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());

    if (want_shot_ || final_frame || recorder_) {
      const std::vector<uint8_t> rgb = ReadFramebuffer(fbw, fbh);
      if (recorder_) recorder_->Add(rgb.data(), 3u * fbw);
      if (want_shot_ || (final_frame && !o_.screenshot.empty())) {
        const std::string path = final_frame && !want_shot_ ? o_.screenshot : NextName(".png");
        SavePng(rgb, fbw, fbh, path);
        status_ = "saved " + path;
        std::fprintf(stderr, "viewer: saved %s (%dx%d)\n", path.c_str(), fbw, fbh);
        want_shot_ = false;
      }
    }
    if (final_frame && recorder_) {
      recorder_->Close();
      std::fprintf(stderr, "viewer: wrote %s (%d frames)\n", recorder_->path().c_str(),
                   recorder_->frames());
      recorder_.reset();
    }
    glfwSwapBuffers(window_);
  }

  std::vector<std::unique_ptr<Track>>& tracks_;
  const ViewerOptions& o_;
  GLFWwindow* window_ = nullptr;
  bool glfw_ = false, imgui_ = false;
  std::vector<View> views_;
  size_t made_ = 0;
  mjvOption opt_;
  mjvCamera cam_;
  std::vector<std::string> camera_names_;
  int camera_ = 0;
  bool playing_ = true, show_chunk_ = true, want_shot_ = false;
  double speed_ = 20;
  int seed_input_ = -1, shots_ = 0, record_count_ = 0;
  std::unique_ptr<Mp4Writer> recorder_;
  std::string status_;
};

}  // namespace

void RunViewer(std::vector<std::unique_ptr<Track>>& tracks, const ViewerOptions& options) {
  if (tracks.empty()) throw std::invalid_argument("viewer: nothing to show");
  App app(tracks, options);
  app.Run();
}

}  // namespace onedp
