// harness: the OneDP Bench command line.
//
//   harness tasks
//   harness collect --task lift-ph --episodes 200 --seed 0 --out data/lift_ph.hdf5
//   harness bench sim --task lift-ph [--actions expert|random]
//   harness sheet --in data/lift_ph.hdf5 --out results/lift_ph_demos.png
//   harness train --task pusht --policy dp-ddpm --preset cpu --seed 0
//   harness distill --teacher runs/pusht/dp-ddpm/seed0 --method onedp-s --seed 0
//   harness eval --ckpt runs/pusht/dp-ddpm/seed0 --sampler ddim:10 --episodes 100
//   harness eval --ckpt runs/pusht/dp-ddpm/seed0 --episodes 10 --record rec/ --video vid/
//   harness eval --ckpt runs/pusht/dp-ddpm/seed0 --latency v100-paper --exec async
//   harness bench policy --ckpt runs/pusht/dp-ddpm/seed0   (or --task pusht --preset cpu: fresh networks)
//   harness bench train --task pusht --preset cpu [--method onedp-s]
//   harness samples --policy runs/pusht/dp-ddpm/seed0@ddpm:100 --policy RUN@onestep --out s.csv
//   harness serve --ckpt runs/pusht/dp-ddpm/seed0 --sampler ddim:10 [--socket /tmp/onedp.sock]
//   harness env --task pusht [--action-mode absolute] [--socket /tmp/pusht_env.sock]
//   harness run --task square-ph [--preset cpu] [--shard 0/4 --stage train]
//   harness merge --task square-ph
//   harness table --tasks pusht,square-mh,square-ph,tool-hang-ph,transport-mh,transport-ph
//
// Exit codes: 0 ok, 1 a failure while running, 2 bad command-line input, 130 interrupted.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "harness/bench_sim.h"
#include "harness/collect.h"
#include "harness/contact_sheet.h"
#include "harness/latency.h"
#include "harness/env_server.h"
#include "tasks/task_registry.h"
#ifdef BENCH_WITH_POLICIES
#include "harness/pipeline.h"
#include "harness/policy_jobs.h"
#include "harness/sample_stats.h"
#include "harness/serve.h"
#include "policies/registry.h"
#endif

namespace {

void OnSignal(int) { onedp::RequestStop(); }

#ifdef BENCH_WITH_POLICIES
// The options `train` and `distill` share (policy_jobs.h LoopOptions).
void AddLoopOptions(CLI::App* app, onedp::LoopOptions& o, const std::string& out_help, const std::string& dataset_help,
                    const std::string& loop_fields, const std::string& model_example) {
  std::string presets;
  for (const auto& p : onedp::PresetNames()) presets += (presets.empty() ? "" : "|") + p;
  app->add_option("--preset", o.preset, "Preset: " + presets + " (presets/<name>.json) or a preset .json file")
      ->capture_default_str();
  app->add_option("--seed", o.seed, "Seed (weights, batches, noise)")->capture_default_str();
  app->add_option("--dataset", o.dataset, dataset_help);
  app->add_option("--out", o.out, out_help);
  app->add_option("--device", o.device, "cpu|cuda[:i]")->capture_default_str();
  app->add_option("--epochs", o.epochs, "Override the preset's epochs")->check(CLI::PositiveNumber);
  app->add_option("--batch-size", o.batch_size, "Override the preset's batch size")->check(CLI::PositiveNumber);
  app->add_option("--max-batches", o.max_batches_per_epoch, "Cap batches per epoch")->check(CLI::PositiveNumber);
  app->add_option("--checkpoint-every", o.checkpoint_every, "Epochs between checkpoints")->check(CLI::PositiveNumber);
  app->add_option("--eval-every", o.eval_every, "Epochs between rollout evaluations (-1: none)");
  app->add_option("--eval-episodes", o.eval_episodes, "Episodes per evaluation")->check(CLI::PositiveNumber);
  app->add_option("--eval-sampler", o.eval_sampler, "Sampler for evaluations (default: the policy's)");
  app->add_option("--workers", o.workers, "Env threads for evaluations (default: one per core)");
  app->add_option("--set", o.overrides,
                  "Override a config field: train.<field>=V (" + loop_fields + ") or a policy config path such as " +
                      model_example + "; repeatable");
}
#endif

int ListTasks() {
  for (const auto& t : onedp::RegisteredTasks()) {
    std::printf("%-12s %s\n", t.name.c_str(), t.description.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"OneDP Bench: Diffusion Policy / OneDP / Consistency Policy benchmark harness"};
  app.require_subcommand(1);

  app.add_subcommand("tasks", "List the registered tasks");

  onedp::CollectOptions collect;
  CLI::App* c = app.add_subcommand("collect", "Write scripted-expert demonstrations (robomimic HDF5)");
  c->add_option("--task", collect.task, "Task name (see `harness tasks`)")->required();
  c->add_option("--episodes", collect.episodes,
                 "Successful demos to keep (default: 200 for ph, 300 = 6 x 50 for mh)");
  c->add_option("--seed", collect.seed, "Base seed: attempt k uses seed + k");
  c->add_option("--out", collect.out, "Output .hdf5 path")->required();
  c->add_flag("--overwrite", collect.overwrite,
              "Replace an existing output file; start over when <out>.tmp cannot be resumed");
  c->add_flag("--no-images", [&](int64_t) { collect.images = false; }, "Skip camera images");
  c->add_option("--workers", collect.workers, "Worker threads (default: one per core)");
  c->add_option("--valid-ratio", collect.valid_ratio, "Share of demos in mask/valid")
      ->check(CLI::Range(0.0, 1.0));

  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  onedp::BenchSimOptions bench_sim;
  CLI::App* bs = bench->add_subcommand("sim", "Environment steps/s without and with rendering");
  bs->add_option("--task", bench_sim.task, "Task name")->required();
  bs->add_option("--steps", bench_sim.steps, "Env steps per configuration")
      ->check(CLI::PositiveNumber);
  bs->add_option("--seed", bench_sim.seed, "Seed");
  bs->add_option("--actions", bench_sim.actions,
                 "expert (the scripted expert; its planning timed apart) | random (uniform within the action bounds, seeded)")
      ->check(CLI::IsMember({"expert", "random"}))
      ->capture_default_str();
  bs->add_option("--json", bench_sim.json, "Also write the numbers as JSON");

  // `env`: one task driven by JSON-line commands, for side-by-side runs with the originals (harness/env_server.h).
  onedp::EnvServeOptions env;
  CLI::App* en = app.add_subcommand("env", "Drive a task by JSON-line commands (reset/step/state; stdin/stdout or a Unix socket)");
  en->add_option("--task", env.task, "Task name (see `harness tasks`)")->required();
  en->add_option("--action-mode", env.action_mode, "delta|absolute (default: the task's)");
  en->add_option("--socket", env.socket, "Listen on this Unix domain socket instead of stdin/stdout");

  onedp::ContactSheetOptions sheet;
  CLI::App* sh = app.add_subcommand("sheet", "PNG contact sheet of a dataset's camera images");
  sh->add_option("--in", sheet.dataset, "Dataset .hdf5")->required()->check(CLI::ExistingFile);
  sh->add_option("--out", sheet.out, "Output .png")->required();
  sh->add_option("--demos", sheet.demos, "Rows (demos, evenly spaced)")->check(CLI::PositiveNumber);
  sh->add_option("--frames", sheet.frames, "Frames per camera")->check(CLI::PositiveNumber);
  sh->add_option("--scale", sheet.scale, "Pixel upscaling")->check(CLI::PositiveNumber);

#ifdef BENCH_WITH_POLICIES
  std::string policy_names;
  for (const auto& p : onedp::RegisteredPolicies()) policy_names += (policy_names.empty() ? "" : "|") + p.name;

  onedp::TrainOptions train;
  CLI::App* tr = app.add_subcommand("train", "Train a policy on a task's demonstrations");
  tr->add_option("--task", train.task, "Task name (see `harness tasks`)")->required();
  tr->add_option("--policy", train.policy, policy_names)->capture_default_str();
  tr->add_option("--obs", train.obs, "Observations: image|lowdim (default: the preset's obs)");
  AddLoopOptions(tr, train, "Run directory (default runs/<task>/<policy>/seed<S>)",
                 "Dataset .hdf5 (default data/<task>.hdf5)", "lr, warmup_steps, ...", "unet.down_dims=[32,64,128]");

  onedp::DistillOptions distill;
  CLI::App* di = app.add_subcommand("distill", "Distil a trained Diffusion Policy into OneDP-S, OneDP-D or CP");
  di->add_option("--teacher", distill.teacher, "Teacher run directory or saved policy directory")->required();
  di->add_option("--method", distill.method, "onedp-s|onedp-d|cp (cp needs a dp-edm teacher)")->capture_default_str();
  di->add_option("--task", distill.task, "Task (default: the teacher run's)");
  AddLoopOptions(di, distill, "Run directory (default runs/<task>/<method>/seed<S>-from-<teacher>-seed<T>)",
                 "Dataset .hdf5 (default: the teacher run's)", "epochs, batch_size, nan_at_step, ...",
                 "onedp.lr_generator=1e-5, onedp.dmd_normalization=true, cp.dropout=0.1");
  di->add_flag("--eval-warm-start", distill.eval_warm_start,
               "Save the warm-started student as <run>/warm_start and evaluate it (eval_epoch0.csv) first");

  onedp::EvalOptions eval;
  CLI::App* ev = app.add_subcommand("eval", "Roll out a trained policy on fresh seeds");
  ev->add_option("--ckpt", eval.ckpt, "Run directory or saved policy directory")->required();
  ev->add_option("--task", eval.task, "Task (default: the run's)");
  ev->add_option("--sampler", eval.sampler, "ddpm:100|ddim:10|ddim:1|edm:18|edm:10|edm:1|onestep|cp:1|cp:3 (default: the policy's first)");
  ev->add_option("--episodes", eval.episodes, "Episodes")->capture_default_str()->check(CLI::PositiveNumber);
  ev->add_option("--start-seed", eval.start_seed, "Seed of the first episode")->capture_default_str();
  ev->add_option("--envs", eval.num_envs, "Environments batched per policy call (default min(episodes, 28))");
  ev->add_option("--workers", eval.workers, "Env threads (default: one per core)");
  ev->add_option("--device", eval.device, "cpu|cuda[:i]")->capture_default_str();
  ev->add_option("--out", eval.out, "Per-episode CSV (default next to the checkpoint)");
  ev->add_option("--latency", eval.latency, "Simulated policy latency: " + onedp::LatencyForms())->capture_default_str();
  ev->add_option("--exec", eval.exec, "While a chunk is computed the robot holds (sync) or runs the previous chunk (async)")
      ->capture_default_str();
  ev->add_option("--perturb", eval.perturb, "A perturbation the task declares (move|reset), seeded per episode");
  ev->add_option("--record", eval.record, "Record every episode (states, actions, chunks) as DIR/episode_<seed>.hdf5 for `viewer --rollout`");
  ev->add_option("--record-episodes", eval.record_episodes, "Record only the first K episodes")->check(CLI::PositiveNumber);
  ev->add_option("--video", eval.video, "Write MP4s of the first episodes (headless) as DIR/episode_<seed>.mp4");
  ev->add_option("--video-episodes", eval.video_episodes, "Episodes with a video")->capture_default_str()->check(CLI::PositiveNumber);
  ev->add_option("--video-size", eval.video_size, "Video width and height in pixels")->capture_default_str()->check(CLI::Range(16, 2048));

  onedp::BenchPolicyOptions bench_policy;
  CLI::App* bp = bench->add_subcommand("policy", "Batch-1 latency: encoder, one U-Net call, DDPM/DDIM/EDM");
  bp->add_option("--ckpt", bench_policy.ckpt, "Run directory or saved policy directory (or fresh networks: --task)");
  bp->add_option("--task", bench_policy.net.task, "Without --ckpt: time fresh networks of --preset on this task's observations");
  bp->add_option("--preset", bench_policy.net.preset, "Without --ckpt: the networks' preset")->capture_default_str();
  bp->add_option("--policy", bench_policy.net.policy, "Without --ckpt: dp-ddpm|dp-edm")->capture_default_str();
  bp->add_option("--obs", bench_policy.net.obs, "Without --ckpt: image|lowdim (default: the preset's)");
  bp->add_option("--set", bench_policy.net.overrides, "Without --ckpt: path=value on the policy config");
  bp->add_option("--device", bench_policy.device, "cpu|cuda[:i]")->capture_default_str();
  bp->add_option("--repeats", bench_policy.repeats, "Timed calls per sampler")->capture_default_str()->check(CLI::PositiveNumber);
  bp->add_option("--sampler", bench_policy.samplers, "Samplers to time (default: all)");
  bp->add_option("--json", bench_policy.json, "Also write the table as JSON (a device profile for eval --latency profile:PATH)");
  onedp::BenchTrainOptions bench_train;
  CLI::App* bt = bench->add_subcommand("train", "Wall time of one training (or distillation) step on fresh networks and synthetic batches");
  bt->add_option("--task", bench_train.net.task, "Task whose observation and action shapes the batches have")->required();
  bt->add_option("--preset", bench_train.net.preset, "Networks and loop config")->capture_default_str();
  bt->add_option("--policy", bench_train.net.policy, "dp-ddpm|dp-edm (the distillation's teacher with --method)")->capture_default_str();
  bt->add_option("--obs", bench_train.net.obs, "image|lowdim (default: the preset's)");
  bt->add_option("--set", bench_train.net.overrides, "path=value on the policy config");
  bt->add_option("--method", bench_train.method, "onedp-s|onedp-d|cp: time a distillation step instead");
  bt->add_option("--batch", bench_train.batch_size, "Batch size (default: the preset's)");
  bt->add_option("--steps", bench_train.steps, "Timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  bt->add_option("--warmup", bench_train.warmup, "Untimed steps first")->capture_default_str()->check(CLI::PositiveNumber);
  bt->add_option("--seed", bench_train.net.seed, "Weights and batches seed");
  bt->add_option("--json", bench_train.json, "Also write the step times as JSON");
  bt->add_option("--save", bench_train.save, "Also save the policy (the student with --method) to this directory");

  onedp::SampleStatsOptions samples;
  CLI::App* sp = app.add_subcommand("samples", "Roughness and spread of policies' action chunks on dataset observations");
  sp->add_option("--policy", samples.policies, "DIR[@SAMPLER] (repeatable; the first one's run.json names the dataset)")
      ->required();
  sp->add_option("--windows", samples.windows, "Observation windows")->capture_default_str()->check(CLI::PositiveNumber);
  sp->add_option("--draws", samples.draws, "Noise draws per window")->capture_default_str()->check(CLI::PositiveNumber);
  sp->add_option("--seed", samples.seed, "Seed of the windows and draws")->capture_default_str();
  sp->add_option("--batch", samples.batch, "Rows per policy call")->capture_default_str()->check(CLI::PositiveNumber);
  sp->add_option("--device", samples.device, "cpu|cuda[:i]")->capture_default_str();
  sp->add_option("--out", samples.out, "CSV (a .md table is written beside it)")->required();

  // `serve`: JSON-line action-chunk requests on stdin/stdout or a Unix socket (harness/serve.h).
  onedp::ServeOptions serve;
  CLI::App* sv = app.add_subcommand("serve", "Serve a policy's action chunks as JSON lines (stdin/stdout or a Unix socket)");
  sv->add_option("--ckpt", serve.ckpt, "Run directory or saved policy directory")->required();
  sv->add_option("--sampler", serve.sampler, "Sampler (default: the policy's first)");
  sv->add_option("--device", serve.device, "cpu|cuda[:i]")->capture_default_str();
  sv->add_option("--socket", serve.socket, "Listen on this Unix domain socket instead of stdin/stdout");

  // The pipeline: `run` (all stages or one, optionally a shard of it), `merge`, `table`.
  onedp::RunOptions run;
  std::string shard_text = "0/1";
  const auto add_run_options = [&run, &shard_text](CLI::App* a, bool stages) {
    a->add_option("--task", run.task, "Task name (see `harness tasks`)")->required();
    a->add_option("--preset", run.preset, "Preset name (presets/<name>.json) or a preset .json file")
        ->capture_default_str();
    a->add_option("--work", run.work, "Root of the run directories (<work>/<task>/<preset>/...)")->capture_default_str();
    a->add_option("--results", run.results, "Results directory (default results/<task>/<preset>)");
    a->add_option("--dataset", run.dataset, "Dataset .hdf5 (default data/<task>.hdf5; collected when missing)");
    a->add_option("--seeds", run.train_seeds, "Training seeds (default: the preset's)")->delimiter(',');
    a->add_option("--episodes", run.episodes, "Test episodes per method and sampler (default: the preset's)")
        ->check(CLI::PositiveNumber);
    a->add_option("--block", run.episode_block, "Episodes per evaluation work item (default: the preset's)")
        ->check(CLI::PositiveNumber);
    a->add_option("--device", run.device, "cpu|cuda[:i]")->capture_default_str();
    a->add_option("--workers", run.workers, "Env threads for evaluations (default: one per core)");
    if (stages) {
      a->add_option("--stage", run.stage, "collect|train|distill|eval|dynamic|merge|all (dynamic: when the preset has a dynamic section)")->capture_default_str();
      a->add_option("--shard", shard_text, "Run shard i of N of each stage (i/N)")->capture_default_str();
      a->add_flag("--dry-run", run.dry_run, "List this shard's work items (done or to do) and exit");
      a->add_option("--adopt", run.adopt,
                    "Existing train/distill run directory to take as the matching work item (repeatable)")
          ->check(CLI::ExistingDirectory);
      a->add_option("--only", run.only,
                    "Only this run (its directory without the key, e.g. dp-edm-seed0; repeatable) and its "
                    "eval / dynamic blocks");
      a->add_option("--wait", run.wait_seconds, "Stage all with shards: seconds to wait for another shard's item")
          ->capture_default_str();
    }
  };
  CLI::App* rn = app.add_subcommand("run", "The whole benchmark of a task: collect, train, distil, evaluate, tables");
  add_run_options(rn, true);
  CLI::App* mg = app.add_subcommand("merge", "Combine the work items' results (e.g. of shards) into tables");
  add_run_options(mg, false);
  onedp::TableOptions table;
  CLI::App* tb = app.add_subcommand("table", "The paper's six-column tables from several tasks' results");
  tb->add_option("--tasks", table.tasks, "Comma-separated tasks")->delimiter(',')->required();
  tb->add_option("--preset", table.presets,
                 "Preset of the results to read; comma-separated presets put each task's columns side by side")
      ->delimiter(',')
      ->capture_default_str();
  tb->add_option("--results", table.results, "Results root")->capture_default_str();
  tb->add_option("--out", table.out, "Output directory (default <results>/<presets joined by '+'>)");
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  try {
    if (app.got_subcommand("tasks")) return ListTasks();
    if (c->parsed()) {
      if (c->count("--episodes") && collect.episodes <= 0) {
        throw std::invalid_argument("--episodes must be positive (got " +
                                    std::to_string(collect.episodes) + ")");
      }
      const onedp::CollectReport r = onedp::Collect(collect);
      std::printf("wrote %s: %d demos, %lld samples, %d attempts, %d rejected", collect.out.c_str(),
                  r.kept, static_cast<long long>(r.samples), r.attempts, r.rejected);
      for (const auto& [why, n] : r.reject_reasons) std::printf(" [%s: %d]", why.c_str(), n);
      std::printf(", %.1f s", r.seconds);
      if (r.resumed_demos > 0) {
        std::printf(" (resumed from %d demos, %d attempts)", r.resumed_demos, r.resumed_attempts);
      }
      std::printf("\n");
      if (r.kept_per_operator.size() > 1) {
        for (const auto& [op, n] : r.kept_per_operator) {
          const int tried = r.attempts_per_operator.at(op);
          std::printf("  %-10s %d demos of %d attempts (%.0f %%)\n", op.c_str(), n, tried,
                      tried > 0 ? 100.0 * n / tried : 0.0);
        }
      }
      return 0;
    }
    if (en->parsed()) return onedp::RunEnvServer(env);
    if (sh->parsed()) {
      const int rows = onedp::WriteContactSheet(sheet);
      std::printf("wrote %s (%d demos)\n", sheet.out.c_str(), rows);
      return 0;
    }
#ifdef BENCH_WITH_POLICIES
    if (tr->parsed()) return onedp::RunTrain(train, std::cout);
    if (di->parsed()) return onedp::RunDistill(distill, std::cout);
    if (ev->parsed()) return onedp::RunEval(eval, std::cout);
    if (bp->parsed()) return onedp::RunBenchPolicy(bench_policy, std::cout);
    if (bt->parsed()) return onedp::RunBenchTrain(bench_train, std::cout);
    if (sp->parsed()) return onedp::RunSampleStats(samples, std::cout);
    if (sv->parsed()) return onedp::RunServe(serve);
    if (rn->parsed()) {
      onedp::ParseShard(shard_text, &run.shard, &run.shards);
      onedp::RunPipeline(run, std::cout);
      return 0;
    }
    if (mg->parsed()) {
      onedp::MergeRun(onedp::PlanRun(run), std::cout);
      return 0;
    }
    if (tb->parsed()) {
      onedp::RunTables(table, std::cout);
      return 0;
    }
#endif
    if (bs->parsed()) {
      onedp::BenchSim(bench_sim, std::cout);
      return 0;
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return onedp::StopRequested() ? 130 : 1;
  }
  return 0;
}
