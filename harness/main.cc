// harness: the OneDP Bench command line.
//
//   harness tasks
//   harness collect --task lift-ph --episodes 200 --seed 0 --out data/lift_ph.hdf5
//   harness bench sim --task lift-ph
//   harness sheet --in data/lift_ph.hdf5 --out results/lift_ph_demos.png
//
// Exit codes: 0 ok, 1 a failure while running, 2 bad command-line input, 130 interrupted.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "harness/bench_sim.h"
#include "harness/collect.h"
#include "harness/contact_sheet.h"
#include "tasks/task_registry.h"

namespace {

void OnSignal(int) { onedp::RequestStop(); }

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
  c->add_flag("--overwrite", collect.overwrite, "Replace an existing output file");
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

  onedp::ContactSheetOptions sheet;
  CLI::App* sh = app.add_subcommand("sheet", "PNG contact sheet of a dataset's camera images");
  sh->add_option("--in", sheet.dataset, "Dataset .hdf5")->required()->check(CLI::ExistingFile);
  sh->add_option("--out", sheet.out, "Output .png")->required();
  sh->add_option("--demos", sheet.demos, "Rows (demos, evenly spaced)")->check(CLI::PositiveNumber);
  sh->add_option("--frames", sheet.frames, "Frames per camera")->check(CLI::PositiveNumber);
  sh->add_option("--scale", sheet.scale, "Pixel upscaling")->check(CLI::PositiveNumber);

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
      std::printf(", %.1f s\n", r.seconds);
      if (r.kept_per_operator.size() > 1) {
        for (const auto& [op, n] : r.kept_per_operator) std::printf("  %-10s %d demos\n", op.c_str(), n);
      }
      return 0;
    }
    if (sh->parsed()) {
      const int rows = onedp::WriteContactSheet(sheet);
      std::printf("wrote %s (%d demos)\n", sheet.out.c_str(), rows);
      return 0;
    }
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
