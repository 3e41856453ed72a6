// `harness bench policy`: batch-1 latency of a policy's samplers and of DP on the same networks
// (a table, and with --json a device profile for latency-aware evaluation).

#include "harness/policy_jobs.h"

#include <algorithm>
#include <iomanip>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "harness/progress.h"
#include "harness/run_info.h"
#include "policies/distill.h"
#include "policies/normalizer.h"
#include "policies/preset.h"
#include "policies/registry.h"

namespace onedp {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

LatencyReport BenchPolicy(const BenchPolicyOptions& o) {
  // The policy to time: a trained run's, or (no --ckpt) fresh networks of a preset on a task, to
  // which the OneDP-S student warm-started from them is added (its one-step sampler).
  std::vector<std::unique_ptr<Policy>> policies;
  std::string name;
  nlohmann::json dp;  // the config whose networks every timed policy shares
  Normalizer normalizer;
  if (!o.ckpt.empty()) {
    const ResolvedCkpt ck = ResolveCkpt(o.ckpt);
    const nlohmann::json pj = ReadPolicyJson(ck.policy_dir.string());
    policies.push_back(LoadPolicy(ck.policy_dir.string(), o.device));
    const nlohmann::json& config = pj.at("config");
    dp = config.contains("teacher") ? config.at("teacher") : config;
    normalizer = Normalizer::FromJson(pj.at("normalizer"));
    name = pj.at("name").get<std::string>();
  } else {
    policies.push_back(FreshPolicyForBench(o.net));
    dp = policies[0]->Config();
    name = o.net.policy + " (fresh weights, preset " + o.net.preset + ")";
  }
  const PolicySpec spec = policies[0]->spec();
  if (o.ckpt.empty()) {
    normalizer.SetIdentity("action", spec.action_dim);
    for (const auto& k : spec.obs) {
      if (!k.is_image) normalizer.SetIdentity(k.key, k.shape.at(0));
    }
  }
  // Diffusion Policies of both families on the same networks (for a distilled student: its
  // teacher's networks) with random weights (latency does not depend on weights), so DDPM, DDIM,
  // EDM and the one-step samplers are timed on one architecture.
  for (const PolicyInfo& info : RegisteredPolicies()) {
    if (info.distilled() || policies[0]->Name() == info.name) continue;
    auto p = CreatePolicy(info.name, spec, ConfigWithNetworksOf(info.name, dp), normalizer, 0);
    policies.push_back(std::move(p));
  }
  if (o.ckpt.empty()) {
    policies.push_back(MakeStudent(*policies[0], "onedp-s", DistillMethodConfig("onedp-s", LoadPreset(o.net.preset)), 0));
  }
  for (size_t i = 1; i < policies.size(); ++i) policies[i]->To(o.device);
  if (o.ckpt.empty()) policies[0]->To(o.device);
  // One observation history (batch 1): mid-grey images, zero low-dim values.
  ObsBatch obs;
  obs.batch = 1;
  obs.steps = spec.obs_steps;
  for (const auto& k : spec.obs) {
    int64_t n = spec.obs_steps;
    for (int d : k.shape) n *= d;
    if (k.is_image) {
      obs.images[k.key].assign(n, 128);
    } else {
      obs.lowdim[k.key].assign(n, 0.0f);
    }
  }
  LatencyReport report;
  std::vector<LatencyRow>& rows = report.rows;
  const auto time_sampler = [&](Policy& p, const std::string& sampler, const std::string& label) {
    SampleOptions so;
    so.sampler = SamplerSpec::Parse(sampler);
    PredictTiming t;
    p.PredictChunk(obs, so, &t);  // warm-up
    std::vector<double> enc, smp;
    for (int i = 0; i < o.repeats; ++i) {
      so.seeds = {static_cast<uint64_t>(i)};
      p.PredictChunk(obs, so, &t);
      enc.push_back(t.encode_s);
      smp.push_back(t.sample_s);
    }
    rows.push_back({label, p.Name(), sampler, t.nfe, 1e3 * Median(enc), 1e3 * Median(smp)});
  };
  std::vector<std::pair<int, std::string>> plan;  // (policy index, sampler)
  if (!o.samplers.empty()) {
    for (const auto& s : o.samplers) {
      // The first policy with a sampler of that family.
      const std::string fam = SamplerSpec::Parse(s).family;
      int which = -1;
      for (size_t i = 0; i < policies.size() && which < 0; ++i) {
        for (const auto& own : policies[i]->Samplers()) {
          if (SamplerSpec::Parse(own).family == fam) which = static_cast<int>(i);
        }
      }
      if (which < 0) throw std::invalid_argument("no benchmarked policy samples with '" + s + "'");
      plan.push_back({which, s});
    }
  } else {
    for (size_t i = 0; i < policies.size(); ++i) {
      for (const auto& s : policies[i]->Samplers()) plan.push_back({static_cast<int>(i), s});
    }
  }
  Progress progress("bench policy", static_cast<int64_t>(plan.size()));
  for (size_t i = 0; i < plan.size(); ++i) {
    Policy& p = *policies[plan[i].first];
    time_sampler(p, plan[i].second, p.Name() + " " + plan[i].second);
    progress.Update(static_cast<int64_t>(i + 1));
  }
  progress.Finish();
  const auto counts = policies[0]->ParameterCounts();
  report.policy = name;
  report.device = o.device;
  report.repeats = o.repeats;
  report.parameters = counts.at("total");
  report.encoder_parameters = counts.at("encoder");
  report.unet_parameters = counts.at("unet");
  return report;
}

int RunBenchPolicy(const BenchPolicyOptions& o, std::ostream& out) {
  const LatencyReport r = BenchPolicy(o);
  out << "policy " << r.policy << (o.ckpt.empty() ? " on " + o.net.task : " (" + o.ckpt + ")") << ", parameters " << r.parameters << " (encoder "
      << r.encoder_parameters << ", unet " << r.unet_parameters << "), device " << r.device
      << ", batch 1, median of " << r.repeats << " calls\n\n";
  out << "| sampler | NFE | encoder ms | sampling ms | ms per NFE | total ms | Hz |\n";
  out << "|---|---:|---:|---:|---:|---:|---:|\n";
  out << std::fixed;
  for (const auto& row : r.rows) {
    out << "| " << row.label << " | " << row.nfe << " | " << std::setprecision(2) << row.encode_ms << " | "
        << row.sample_ms << " | " << row.sample_ms / std::max(1, row.nfe) << " | " << row.total_ms() << " | "
        << std::setprecision(1) << row.hz() << " |\n";
  }
  out << std::defaultfloat;
  if (!o.json.empty()) {
    // The device profile (harness/latency.h): the median encoder time, and the network time per
    // call from the sampler with the most calls (fixed costs spread the thinnest there).
    std::vector<double> encoder;
    const LatencyRow* most = nullptr;
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : r.rows) {
      encoder.push_back(row.encode_ms);
      if (row.nfe > 0 && (most == nullptr || row.nfe > most->nfe)) most = &row;
      rows.push_back({{"label", row.label}, {"policy", row.policy}, {"sampler", row.sampler}, {"nfe", row.nfe},
                      {"encode_ms", row.encode_ms}, {"sample_ms", row.sample_ms}, {"total_ms", row.total_ms()}});
    }
    if (most == nullptr) throw std::runtime_error("bench policy: no sampler timed, no profile to write");
    WriteJsonAtomic({{"policy", r.policy},
                     {"parameters", r.parameters},
                     {"encoder_parameters", r.encoder_parameters},
                     {"unet_parameters", r.unet_parameters},
                     {"versions", RunVersions()},
                     {"ckpt", o.ckpt},
                     {"device", r.device},
                     {"repeats", r.repeats},
                     {"encoder_ms", Median(encoder)},
                     {"network_ms", most->sample_ms / most->nfe},
                     {"network_ms_from", most->label},
                     {"rows", rows}},
                    o.json);
    out << "wrote " << o.json << " (a device profile for `harness eval --latency profile:" << o.json << "`)\n";
  }
  return 0;
}

}  // namespace onedp
