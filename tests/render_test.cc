// Headless rendering: a real GL context (EGL or OSMesa, CPU), MuJoCo's offscreen buffer, pixel
// orientation, determinism, argument checks and one context per thread.
// Run with ONEDP_GL=osmesa to exercise the OSMesa backend.
#include "sim/renderer.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include "sim/mj_ptr.h"

namespace onedp {
namespace {

const std::string kScene = std::string(BENCH_TESTDATA_DIR) + "/render_scene.xml";

MjModelPtr LoadScene() {
  char error[1000] = "";
  MjModelPtr m(mj_loadXML(kScene.c_str(), nullptr, error, sizeof error));
  if (!m) throw std::runtime_error("cannot load " + kScene + ": " + error);
  return m;
}

struct Scene {
  MjModelPtr model = LoadScene();
  MjDataPtr data{mj_makeData(model.get())};
  int cam = mj_name2id(model.get(), mjOBJ_CAMERA, "cam");
  Scene() { mj_forward(model.get(), data.get()); }
};

bool IsRed(const uint8_t* p) { return p[0] > 150 && p[0] > p[1] + 100 && p[0] > p[2] + 100; }

struct RedStats {
  int count = 0;
  double mean_row = 0, mean_col = 0;
  int quadrant_counts[2][2] = {{0, 0}, {0, 0}};  // [top=0/bottom=1][left=0/right=1]
};

RedStats FindRed(const Image& img) {
  RedStats s;
  for (int r = 0; r < img.height; ++r) {
    for (int c = 0; c < img.width; ++c) {
      if (!IsRed(img.at(r, c))) continue;
      ++s.count;
      s.mean_row += r;
      s.mean_col += c;
      ++s.quadrant_counts[2 * r >= img.height][2 * c >= img.width];
    }
  }
  if (s.count > 0) {
    s.mean_row /= s.count;
    s.mean_col /= s.count;
  }
  return s;
}

double Variance(const Image& img) {
  double sum = 0, sum2 = 0;
  for (uint8_t v : img.pixels) {
    sum += v;
    sum2 += double(v) * v;
  }
  const double n = double(img.pixels.size());
  return sum2 / n - (sum / n) * (sum / n);
}

// The box sits at world (+0.3, +0.3) under a camera looking straight down with image-up = +y:
// it must land in the top-right quadrant of a top-down image, nowhere else.
void ExpectBoxTopRight(const Image& img) {
  const RedStats s = FindRed(img);
  ASSERT_GT(s.count, 20) << "the red box is not visible";
  EXPECT_EQ(s.quadrant_counts[0][0], 0);
  EXPECT_EQ(s.quadrant_counts[1][0], 0);
  EXPECT_EQ(s.quadrant_counts[1][1], 0) << "box in the bottom half: rows not flipped";
  EXPECT_LT(s.mean_row, 0.4 * img.height);
  EXPECT_GT(s.mean_col, 0.6 * img.width);
}

TEST(RenderTest, BackendIsReportedAndHonoursOverride) {
  Scene s;
  Renderer r(s.model.get());
  const std::string b = r.backend();
  EXPECT_TRUE(b == "egl" || b == "osmesa") << b;
  const char* forced = std::getenv("ONEDP_GL");
  if (forced != nullptr && (std::strcmp(forced, "egl") == 0 || std::strcmp(forced, "osmesa") == 0)) {
    EXPECT_EQ(b, forced);
  }
}

TEST(RenderTest, FrameIsNotBlankAndHasTheRequestedSize) {
  Scene s;
  ASSERT_GE(s.cam, 0);
  Renderer r(s.model.get());
  Image img;
  r.Render(s.data.get(), s.cam, 84, 84, &img);
  EXPECT_EQ(img.width, 84);
  EXPECT_EQ(img.height, 84);
  ASSERT_EQ(img.pixels.size(), 84u * 84u * 3u);
  EXPECT_GT(Variance(img), 100.0);
}

TEST(RenderTest, RedBoxAppearsTopRight) {
  Scene s;
  Renderer r(s.model.get());
  Image img;
  r.Render(s.data.get(), s.cam, 84, 84, &img);
  ExpectBoxTopRight(img);
  // The floor fills the corners that the box does not reach, in the floor's grey.
  const uint8_t* corner = img.at(img.height - 1, 0);
  EXPECT_NEAR(corner[0], corner[1], 10);
  EXPECT_NEAR(corner[1], corner[2], 10);
}

TEST(RenderTest, NonSquareFramesKeepTheirOrientation) {
  Scene s;
  Renderer r(s.model.get());
  Image img;
  r.Render(s.data.get(), s.cam, 120, 64, &img);
  EXPECT_EQ(img.width, 120);
  EXPECT_EQ(img.height, 64);
  ExpectBoxTopRight(img);
  r.Render(s.data.get(), s.cam, 72, 96, &img);  // a later smaller frame resizes the output
  EXPECT_EQ(img.pixels.size(), 72u * 96u * 3u);
  ExpectBoxTopRight(img);
}

TEST(RenderTest, RenderingTwiceGivesIdenticalPixels) {
  Scene s;
  Renderer r(s.model.get());
  Image a, b;
  r.Render(s.data.get(), s.cam, 84, 84, &a);
  r.Render(s.data.get(), s.cam, 84, 84, &b);
  EXPECT_EQ(a.pixels, b.pixels);
}

TEST(RenderTest, MovingTheBoxChangesTheFrame) {
  Scene s;
  Renderer r(s.model.get());
  Image before, after;
  r.Render(s.data.get(), s.cam, 84, 84, &before);
  // Move the (static) box body to the bottom-left by editing the model and recomputing.
  const int body = mj_name2id(s.model.get(), mjOBJ_BODY, "box");
  s.model->body_pos[3 * body + 0] = -0.3;
  s.model->body_pos[3 * body + 1] = -0.3;
  mj_forward(s.model.get(), s.data.get());
  r.Render(s.data.get(), s.cam, 84, 84, &after);
  const RedStats st = FindRed(after);
  ASSERT_GT(st.count, 20);
  EXPECT_GT(st.mean_row, 0.6 * after.height);
  EXPECT_LT(st.mean_col, 0.4 * after.width);
}

TEST(RenderTest, FastOptionsAdjustTheModel) {
  Scene s;
  RenderOptions opt;
  opt.max_width = 200;
  opt.max_height = 160;
  Renderer r(s.model.get(), opt);
  EXPECT_EQ(s.model->vis.quality.offsamples, 0);
  EXPECT_GE(s.model->vis.global.offwidth, 200);
  EXPECT_GE(s.model->vis.global.offheight, 160);
  Image img;
  r.Render(s.data.get(), s.cam, 200, 160, &img);
  ExpectBoxTopRight(img);
}

TEST(RenderTest, SlowOptionsRenderToo) {
  Scene s;
  RenderOptions opt;
  opt.fast = false;
  opt.max_width = 64;
  opt.max_height = 64;
  Renderer r(s.model.get(), opt);
  Image img;
  r.Render(s.data.get(), s.cam, 64, 64, &img);
  ExpectBoxTopRight(img);
}

TEST(RenderTest, BadArgumentsThrow) {
  Scene s;
  Renderer r(s.model.get());  // offscreen buffer max(128 from the XML, 256)
  Image img;
  EXPECT_THROW(r.Render(s.data.get(), -1, 84, 84, &img), std::invalid_argument);
  EXPECT_THROW(r.Render(s.data.get(), s.model->ncam, 84, 84, &img), std::invalid_argument);
  EXPECT_THROW(r.Render(s.data.get(), s.cam, 257, 84, &img), std::invalid_argument);
  EXPECT_THROW(r.Render(s.data.get(), s.cam, 84, 300, &img), std::invalid_argument);
  EXPECT_THROW(r.Render(s.data.get(), s.cam, 0, 84, &img), std::invalid_argument);
  EXPECT_THROW(r.Render(s.data.get(), s.cam, 84, 84, nullptr), std::invalid_argument);
  // The renderer still works after rejected calls.
  r.Render(s.data.get(), s.cam, 84, 84, &img);
  ExpectBoxTopRight(img);
}

TEST(RenderTest, TwoRenderersOnOneThreadDoNotInterfere) {
  Scene s1, s2;
  Renderer r1(s1.model.get());
  Renderer r2(s2.model.get());
  Image a, b;
  r1.Render(s1.data.get(), s1.cam, 84, 84, &a);
  r2.Render(s2.data.get(), s2.cam, 84, 84, &b);
  r1.Render(s1.data.get(), s1.cam, 84, 84, &b);
  EXPECT_EQ(a.pixels, b.pixels);
}

TEST(RenderTest, OneRendererPerThread) {
  constexpr int kThreads = 2;
  std::vector<Image> images(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &images, &errors] {
      try {
        Scene s;  // model and data per thread: the renderer adjusts its model
        Renderer r(s.model.get());
        for (int i = 0; i < 5; ++i) r.Render(s.data.get(), s.cam, 84, 84, &images[t]);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    ExpectBoxTopRight(images[t]);
  }
  EXPECT_EQ(images[0].pixels, images[1].pixels);
}

}  // namespace
}  // namespace onedp
