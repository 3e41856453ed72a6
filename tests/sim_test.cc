// sim/: MuJoCo errors as exceptions, model loading, full-state save/restore and bit-exact replay,
// the robomimic flat state, name lookup, warning collection, and the seeded Rng.
#include "sim/sim.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include "sim/mujoco_errors.h"
#include "sim/rng.h"

namespace onedp {
namespace {

const std::string kScene = std::string(BENCH_TESTDATA_DIR) + "/sim_scene.xml";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Writes `text` to a fresh file in the temp directory and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("onedp_sim_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

std::unique_ptr<Sim> MakeScene() { return std::make_unique<Sim>(LoadModel(kScene)); }

// Steps with a time-varying motor command (so ctrl is part of the evolving state).
void StepScene(Sim* sim, int steps) {
  for (int i = 0; i < steps; ++i) {
    sim->data()->ctrl[0] = std::sin(7.0 * sim->data()->time);
    mj_step(sim->model(), sim->data());
  }
}

// ---- MuJoCo errors and warnings --------------------------------------------------------------

TEST(MujocoErrorsTest, MjuErrorBecomesMujocoError) {
  InstallMujocoHandlers();
  // Without the handler MuJoCo would print and call exit(): reaching the assertions at all
  // shows the process survived.
  try {
    mju_error("boom");
    FAIL() << "mju_error returned";
  } catch (const MujocoError& e) {
    EXPECT_TRUE(Contains(e.what(), "boom")) << e.what();
  }
  try {
    mju_error_i("bad index %d", 42);
    FAIL() << "mju_error_i returned";
  } catch (const MujocoError& e) {
    EXPECT_TRUE(Contains(e.what(), "bad index 42")) << e.what();
  }
  // A MujocoError is a std::runtime_error, so generic handlers catch it too.
  EXPECT_THROW(mju_error("again"), std::runtime_error);
}

TEST(MujocoErrorsTest, HandlersWorkOnOtherThreads) {
  InstallMujocoHandlers();
  std::string caught;
  std::vector<std::string> other_thread_warnings;
  std::thread worker([&] {
    try {
      mju_error("from a worker");
    } catch (const MujocoError& e) {
      caught = e.what();
    }
    mju_warning("worker warning");
    other_thread_warnings = TakeMujocoWarnings();
  });
  worker.join();
  EXPECT_TRUE(Contains(caught, "from a worker")) << caught;
  ASSERT_EQ(other_thread_warnings.size(), 1u);
  EXPECT_TRUE(Contains(other_thread_warnings[0], "worker warning"));
  // Warnings are per thread: the worker's does not show up here.
  EXPECT_TRUE(TakeMujocoWarnings().empty());
}

TEST(MujocoErrorsTest, WarningsAreRecordedAndDrained) {
  InstallMujocoHandlers();
  TakeMujocoWarnings();  // start clean
  mju_warning("first");
  mju_warning_i("second %d", 2);
  const std::vector<std::string> w = TakeMujocoWarnings();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_TRUE(Contains(w[0], "first")) << w[0];
  EXPECT_TRUE(Contains(w[1], "second 2")) << w[1];
  EXPECT_TRUE(TakeMujocoWarnings().empty());
}

TEST(MujocoErrorsTest, ErrorInsideSimulationBecomesMujocoError) {
  // A stack too small for two colliding boxes (MuJoCo 2.2.2 needs more than 500 mjtNum here,
  // 1000 suffice): mj_stackAlloc calls mju_error deep inside mj_step.
  const std::string path = WriteTempFile(
      "tiny_stack.xml",
      "<mujoco><size nstack=\"500\"/><worldbody><geom type=\"plane\" size=\"1 1 .1\"/>"
      "<body pos=\"0 0 .1\"><freejoint/><geom type=\"box\" size=\".1 .1 .1\"/></body>"
      "<body pos=\"0 0 .4\"><freejoint/><geom type=\"box\" size=\".1 .1 .1\"/></body>"
      "</worldbody></mujoco>");
  MjModelPtr model = LoadModel(path);
  std::filesystem::remove(path);
  Sim sim(std::move(model));
  try {
    for (int i = 0; i < 200; ++i) mj_step(sim.model(), sim.data());
    FAIL() << "200 steps ran on a " << sim.model()->nstack << "-mjtNum stack";
  } catch (const MujocoError& e) {
    std::string what = e.what();
    std::transform(what.begin(), what.end(), what.begin(), ::tolower);
    EXPECT_TRUE(Contains(what, "stack overflow")) << e.what();
  }
}

// ---- LoadModel -------------------------------------------------------------------------------

TEST(LoadModelTest, MissingFileThrowsWithTheLoadersReason) {
  const std::string path = "/nonexistent/dir/no_such_model.xml";
  try {
    LoadModel(path);
    FAIL() << "LoadModel returned for a missing file";
  } catch (const MujocoError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(Contains(what, path)) << what;
    // MuJoCo 2.2.2's reason follows our prefix: "XML parse error 3: Error=XML_ERROR_FILE_NOT_FOUND".
    EXPECT_TRUE(Contains(what, "cannot load MJCF '" + path + "': ")) << what;
    EXPECT_TRUE(Contains(what, "FILE_NOT_FOUND")) << what;
  }
}

TEST(LoadModelTest, MalformedXmlThrowsWithTheParserMessage) {
  const std::string path =
      WriteTempFile("malformed.xml", "<mujoco>\n<worldbody>\n<geom type=\"sphere\" size=\"1\">\n");
  try {
    LoadModel(path);
    std::filesystem::remove(path);
    FAIL() << "LoadModel returned for malformed XML";
  } catch (const MujocoError& e) {
    std::filesystem::remove(path);
    const std::string what = e.what();
    EXPECT_TRUE(Contains(what, path)) << what;
    // the parser's reason, not only our prefix: "XML parse error 15: Error=XML_ERROR_PARSING"
    EXPECT_TRUE(Contains(what, "XML parse error")) << what;
  }
}

TEST(LoadModelTest, SchemaViolationNamesTheOffendingElement) {
  const std::string path = WriteTempFile(
      "schema.xml", "<mujoco><worldbody><flying_saucer name=\"x\"/></worldbody></mujoco>");
  try {
    LoadModel(path);
    std::filesystem::remove(path);
    FAIL() << "LoadModel accepted an unknown element";
  } catch (const MujocoError& e) {
    std::filesystem::remove(path);
    // "XML Error: Schema violation: unrecognized element ... Element 'flying_saucer', line 1"
    EXPECT_TRUE(Contains(e.what(), "unrecognized element")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "flying_saucer")) << e.what();
  }
}

TEST(LoadModelTest, XmlOutIsASelfContainedReloadableModel) {
  std::string xml;
  MjModelPtr m = LoadModel(kScene, &xml);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->nq, 8);
  EXPECT_EQ(m->nv, 7);
  EXPECT_EQ(m->nu, 1);
  EXPECT_TRUE(Contains(xml, "<mujoco")) << xml.substr(0, 200);
  EXPECT_TRUE(Contains(xml, "hinge_motor"));
  const std::string copy = WriteTempFile("reloaded.xml", xml);
  MjModelPtr again = LoadModel(copy);
  std::filesystem::remove(copy);
  EXPECT_EQ(again->nq, m->nq);
  EXPECT_EQ(again->nv, m->nv);
  EXPECT_EQ(again->nbody, m->nbody);
  EXPECT_EQ(again->ngeom, m->ngeom);
}

// ---- State save / restore --------------------------------------------------------------------

TEST(SimStateTest, RestoreReplaysBitExactly) {
  auto sim = MakeScene();
  StepScene(sim.get(), 150);  // the box has landed: contacts active, warmstart non-trivial
  const SimState saved = sim->GetState();
  const uint64_t hash_at_save = sim->StateHash();
  StepScene(sim.get(), 100);
  const uint64_t hash_after = sim->StateHash();
  const std::vector<double> flat_after = sim->FlatState();
  EXPECT_NE(hash_after, hash_at_save);

  sim->SetState(saved);
  EXPECT_EQ(sim->StateHash(), hash_at_save);
  StepScene(sim.get(), 100);
  EXPECT_EQ(sim->StateHash(), hash_after);
  const std::vector<double> flat_replayed = sim->FlatState();
  ASSERT_EQ(flat_replayed.size(), flat_after.size());
  // bit-exact: compare the bits, not within a tolerance
  int differing = 0;
  double worst = 0;
  for (size_t i = 0; i < flat_after.size(); ++i) {
    if (std::memcmp(&flat_replayed[i], &flat_after[i], sizeof(double)) != 0) {
      ++differing;
      worst = std::max(worst, std::abs(flat_replayed[i] - flat_after[i]));
    }
  }
  EXPECT_EQ(differing, 0) << "of " << flat_after.size() << " flat-state values; largest difference "
                          << worst;

  // A fresh Sim on another model instance replays identically from the saved state as well.
  auto other = MakeScene();
  other->SetState(saved);
  StepScene(other.get(), 100);
  EXPECT_EQ(other->StateHash(), hash_after);
}

TEST(SimStateTest, SetStateKeepsTheSavedWarmstart) {
  // The warmstart is part of the state because the constraint solver's result depends on it;
  // SetState must leave exactly the saved one in place for the next step (MuJoCo 2.2.2's
  // mj_forward overwrites d->qacc_warmstart with the qacc it computes).
  auto sim = MakeScene();
  StepScene(sim.get(), 150);  // box resting on the floor: 4 contacts
  ASSERT_GT(sim->data()->ncon, 0);
  const SimState saved = sim->GetState();
  StepScene(sim.get(), 10);
  sim->SetState(saved);
  const SimState restored = sim->GetState();
  ASSERT_EQ(restored.qacc_warmstart.size(), saved.qacc_warmstart.size());
  for (size_t i = 0; i < saved.qacc_warmstart.size(); ++i) {
    EXPECT_EQ(restored.qacc_warmstart[i], saved.qacc_warmstart[i]) << "dof " << i;
  }
}

TEST(SimStateTest, PerturbedStateDiverges) {
  auto sim = MakeScene();
  StepScene(sim.get(), 150);
  const SimState saved = sim->GetState();
  StepScene(sim.get(), 100);
  const uint64_t reference = sim->StateHash();

  SimState perturbed = saved;
  perturbed.qvel[6] = std::nextafter(perturbed.qvel[6], 1e9);  // one ulp on the hinge speed
  sim->SetState(perturbed);
  StepScene(sim.get(), 100);
  EXPECT_NE(sim->StateHash(), reference);

  // The hash covers ctrl, too.
  sim->SetState(saved);
  const uint64_t before = sim->StateHash();
  sim->data()->ctrl[0] += 0.25;
  EXPECT_NE(sim->StateHash(), before);
}

TEST(SimStateTest, GetStateCapturesEveryIntegrationQuantity) {
  auto sim = MakeScene();
  StepScene(sim.get(), 20);
  const SimState s = sim->GetState();
  const mjModel* m = sim->model();
  EXPECT_EQ(s.time, sim->data()->time);
  EXPECT_GT(s.time, 0.0);
  EXPECT_EQ(static_cast<int>(s.qpos.size()), m->nq);
  EXPECT_EQ(static_cast<int>(s.qvel.size()), m->nv);
  EXPECT_EQ(static_cast<int>(s.act.size()), m->na);
  EXPECT_EQ(static_cast<int>(s.ctrl.size()), m->nu);
  EXPECT_EQ(static_cast<int>(s.qacc_warmstart.size()), m->nv);
  EXPECT_EQ(s.ctrl[0], sim->data()->ctrl[0]);
  EXPECT_EQ(s.qpos[7], sim->data()->qpos[7]);
}

TEST(SimStateTest, SetStateRejectsWrongSizes) {
  auto sim = MakeScene();
  SimState s = sim->GetState();
  s.qpos.pop_back();
  EXPECT_THROW(sim->SetState(s), std::invalid_argument);
  s = sim->GetState();
  s.qvel.push_back(0.0);
  EXPECT_THROW(sim->SetState(s), std::invalid_argument);
  s = sim->GetState();
  s.ctrl.clear();
  try {
    sim->SetState(s);
    FAIL() << "empty ctrl accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(Contains(e.what(), "ctrl")) << e.what();
  }
}

TEST(SimStateTest, FlatStateIsTimeQposQvel) {
  auto sim = MakeScene();
  StepScene(sim.get(), 60);
  const mjModel* m = sim->model();
  const mjData* d = sim->data();
  const std::vector<double> flat = sim->FlatState();
  ASSERT_EQ(sim->FlatStateSize(), 1 + m->nq + m->nv);
  ASSERT_EQ(static_cast<int>(flat.size()), 1 + 8 + 7);
  EXPECT_EQ(flat[0], d->time);
  for (int i = 0; i < m->nq; ++i) EXPECT_EQ(flat[1 + i], d->qpos[i]) << "qpos " << i;
  for (int i = 0; i < m->nv; ++i) EXPECT_EQ(flat[1 + m->nq + i], d->qvel[i]) << "qvel " << i;

  // Setting a flat state writes exactly those slots and updates kinematics (mj_forward).
  auto other = MakeScene();
  other->SetFlatState(flat);
  EXPECT_EQ(other->FlatState(), flat);
  // (After mj_step, xpos still holds the pre-integration kinematics: bring `sim` up to date.)
  sim->Forward();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(other->data()->xpos[3 * 1 + i], sim->data()->xpos[3 * 1 + i]) << "box xpos " << i;
  }
}

TEST(SimStateTest, SetFlatStateOfTheCurrentStateChangesNothing) {
  // The flat state has no warm start; SetFlatState keeps the one in place, so setting the state
  // the simulation is already in (a replay's first state after its reset) leaves the next steps
  // bit-identical to not setting it. With resting contacts the solver has many solutions and a
  // different warm start (mj_forward's own qacc) sends it elsewhere.
  auto sim = MakeScene();
  StepScene(sim.get(), 150);  // box resting on the floor: contacts active
  ASSERT_GT(sim->data()->ncon, 0);
  const SimState at = sim->GetState();
  StepScene(sim.get(), 100);
  const uint64_t untouched = sim->StateHash();

  sim->SetState(at);
  sim->SetFlatState(sim->FlatState());
  const SimState after_set = sim->GetState();
  for (size_t i = 0; i < at.qacc_warmstart.size(); ++i) {
    EXPECT_EQ(after_set.qacc_warmstart[i], at.qacc_warmstart[i]) << "dof " << i;
  }
  StepScene(sim.get(), 100);
  EXPECT_EQ(sim->StateHash(), untouched);
}

TEST(SimStateTest, SetFlatStateKeepsTheGivenQuaternionBits) {
  // mj_forward normalises the free joint's quaternion in place; a quaternion one rounding away from
  // unit (as a drawn yaw's (cos, 0, 0, sin) can be) must come back from FlatState() as it was set,
  // or a replay from a recorded state starts one normalisation ahead of the recording.
  auto sim = MakeScene();
  std::vector<double> flat = sim->FlatState();
  const double yaw = 0.7316;
  const int quat = 1 + 3;  // box_free: qpos 0..2 position, 3..6 quaternion (w, x, y, z)
  flat[quat + 0] = std::cos(yaw / 2) * (1 + 4e-16);
  flat[quat + 1] = 0;
  flat[quat + 2] = 0;
  flat[quat + 3] = std::sin(yaw / 2) * (1 + 4e-16);
  sim->SetFlatState(flat);
  const std::vector<double> back = sim->FlatState();
  ASSERT_EQ(back.size(), flat.size());
  for (size_t i = 0; i < flat.size(); ++i) {
    EXPECT_EQ(std::memcmp(&back[i], &flat[i], sizeof(double)), 0) << "flat " << i << ": " << back[i];
  }
}

TEST(SimStateTest, SetFlatStateRejectsSizeMismatch) {
  auto sim = MakeScene();
  std::vector<double> flat = sim->FlatState();
  const std::vector<double> original = flat;
  flat.push_back(0.0);
  try {
    sim->SetFlatState(flat);
    FAIL() << "a flat state one too long was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(Contains(e.what(), "16")) << e.what();  // the expected size, 1 + 8 + 7
  }
  flat.resize(original.size() - 2);
  EXPECT_THROW(sim->SetFlatState(flat), std::invalid_argument);
  EXPECT_THROW(sim->SetFlatState({}), std::invalid_argument);
  EXPECT_EQ(sim->FlatState(), original);  // untouched by the rejected calls
}

TEST(SimStateTest, ResetDataRestoresModelDefaults) {
  auto sim = MakeScene();
  StepScene(sim.get(), 50);
  sim->ResetData();
  const mjModel* m = sim->model();
  EXPECT_EQ(sim->data()->time, 0.0);
  for (int i = 0; i < m->nq; ++i) EXPECT_EQ(sim->data()->qpos[i], m->qpos0[i]) << i;
  for (int i = 0; i < m->nv; ++i) EXPECT_EQ(sim->data()->qvel[i], 0.0) << i;
  EXPECT_EQ(sim->data()->ctrl[0], 0.0);
}

// ---- Names ------------------------------------------------------------------------------------

TEST(SimIdTest, KnownNamesResolve) {
  auto sim = MakeScene();
  const mjModel* m = sim->model();
  EXPECT_EQ(sim->Id(mjOBJ_JOINT, "hinge"), mj_name2id(m, mjOBJ_JOINT, "hinge"));
  EXPECT_EQ(sim->Id(mjOBJ_BODY, "box"), 1);
  EXPECT_EQ(sim->Id(mjOBJ_ACTUATOR, "hinge_motor"), 0);
  EXPECT_GE(sim->Id(mjOBJ_GEOM, "pole"), 0);
}

TEST(SimIdTest, UnknownNameThrowsListingValidNames) {
  auto sim = MakeScene();
  try {
    sim->Id(mjOBJ_JOINT, "hnige");
    FAIL() << "an unknown joint name resolved";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_TRUE(Contains(what, "hnige")) << what;
    EXPECT_TRUE(Contains(what, "hinge")) << what;
    EXPECT_TRUE(Contains(what, "box_free")) << what;
    EXPECT_FALSE(Contains(what, "pole")) << what;  // only names of the asked-for type
  }
  try {
    sim->Id(mjOBJ_GEOM, "nope");
    FAIL() << "an unknown geom name resolved";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    for (const char* name : {"floor", "box_geom", "pole"}) {
      EXPECT_TRUE(Contains(what, name)) << name << " missing from: " << what;
    }
  }
}

// ---- Warnings ---------------------------------------------------------------------------------

TEST(SimWarningsTest, CleanSimulationHasNoWarnings) {
  auto sim = MakeScene();
  sim->TakeWarnings();
  StepScene(sim.get(), 300);
  EXPECT_TRUE(sim->TakeWarnings().empty());
}

TEST(SimWarningsTest, NanQposIsReportedThenCleared) {
  auto sim = MakeScene();
  sim->TakeWarnings();
  StepScene(sim.get(), 10);
  sim->data()->qpos[7] = std::numeric_limits<double>::quiet_NaN();
  mj_step(sim->model(), sim->data());
  const std::vector<std::string> w = sim->TakeWarnings();
  ASSERT_FALSE(w.empty());
  bool named = false;
  for (const auto& s : w) named = named || Contains(s, "badqpos");
  EXPECT_TRUE(named) << ::testing::PrintToString(w);
  EXPECT_EQ(sim->data()->warning[mjWARN_BADQPOS].number, 0);  // counters cleared
  EXPECT_TRUE(sim->TakeWarnings().empty());
  // MuJoCo reset the data on the bad qpos; it steps cleanly again.
  StepScene(sim.get(), 10);
  EXPECT_TRUE(sim->TakeWarnings().empty());
}

TEST(SimWarningsTest, NanQvelIsReported) {
  auto sim = MakeScene();
  sim->TakeWarnings();
  StepScene(sim.get(), 10);
  sim->data()->qvel[2] = std::numeric_limits<double>::quiet_NaN();
  mj_step(sim->model(), sim->data());
  const std::vector<std::string> w = sim->TakeWarnings();
  bool named = false;
  for (const auto& s : w) named = named || Contains(s, "badqvel");
  EXPECT_TRUE(named) << ::testing::PrintToString(w);
  EXPECT_TRUE(sim->TakeWarnings().empty());
}

// ---- Rng --------------------------------------------------------------------------------------

TEST(RngTest, SameSeedSameSequence) {
  Rng a(1234, 3), b(1234, 3);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(a.Uniform(), b.Uniform()) << i;
    ASSERT_EQ(a.Normal(), b.Normal()) << i;
    ASSERT_EQ(a.UniformInt(-5, 17), b.UniformInt(-5, 17)) << i;
  }
}

TEST(RngTest, DifferentSeedsAndStreamsDiffer) {
  Rng base(7, 0), other_stream(7, 1), other_seed(8, 0);
  int same_stream = 0, same_seed = 0;
  for (int i = 0; i < 100; ++i) {
    const double x = base.Uniform();
    same_stream += x == other_stream.Uniform();
    same_seed += x == other_seed.Uniform();
  }
  EXPECT_EQ(same_stream, 0);
  EXPECT_EQ(same_seed, 0);
  EXPECT_NE(MixSeed(7, 0), MixSeed(7, 1));
  EXPECT_NE(MixSeed(7, 1), MixSeed(8, 0));
  // (seed, stream) pairs do not alias along the diagonal: (s, k) vs (s + 1, k - 1).
  std::set<uint64_t> mixed;
  for (uint64_t s = 0; s < 20; ++s)
    for (uint64_t k = 0; k < 20; ++k) mixed.insert(MixSeed(s, k));
  EXPECT_EQ(mixed.size(), 400u);
}

TEST(RngTest, GoldenValuesAreStable) {
  // The header promises the same numbers with any standard library (mt19937_64 is fully
  // specified); these pin the current sequence so a change to the seeding or the distribution
  // code, which would silently change every dataset and evaluation seed, fails here.
  Rng rng(42, 0);
  const double u = rng.Uniform();
  const double n = rng.Normal();
  const int k = rng.UniformInt(0, 1000);
  EXPECT_EQ(MixSeed(42, 0), 13679457532755275413ull);
  EXPECT_EQ(u, 0.13967200376411748);
  EXPECT_EQ(n, 0.24527489163769089);
  EXPECT_EQ(k, 248);
}

TEST(RngTest, UniformIsInUnitInterval) {
  Rng rng(99);
  double lo = 1, hi = 0, sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.Uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
  }
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1 - 1e-3);
  EXPECT_NEAR(sum / n, 0.5, 0.01);  // std error 0.002
  Rng ranged(5);
  for (int i = 0; i < 1000; ++i) {
    const double x = ranged.Uniform(-2.0, 3.0);
    ASSERT_GE(x, -2.0);
    ASSERT_LT(x, 3.0);
  }
}

TEST(RngTest, NormalHasUnitMoments) {
  Rng rng(2024);
  const int n = 20000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.Normal();
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / n;
  const double stddev = std::sqrt(sum2 / n - mean * mean);
  // std error of the mean 0.007, of the std 0.005: bounds at about 7 sigma.
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(stddev, 1.0, 0.035);
  Rng scaled(2024);
  EXPECT_DOUBLE_EQ(scaled.Normal(3.0, 0.5), 3.0 + 0.5 * Rng(2024).Normal());
}

TEST(RngTest, UniformIntCoversItsHalfOpenRange) {
  Rng rng(11);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const int v = rng.UniformInt(-3, 4);  // [-3, 4)
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    ++counts[v + 3];
  }
  for (int c : counts) {
    EXPECT_GT(c, 800);  // expected 1000 each
    EXPECT_LT(c, 1200);
  }
  EXPECT_EQ(rng.UniformInt(5, 6), 5);
}

TEST(RngTest, BernoulliMatchesItsProbability) {
  Rng rng(3);
  int hits = 0;
  for (int i = 0; i < 10000; ++i) hits += rng.Bernoulli(0.3);
  EXPECT_NEAR(hits / 10000.0, 0.3, 0.03);
  EXPECT_FALSE(Rng(1).Bernoulli(0.0));
}

}  // namespace
}  // namespace onedp
