// The registered policies' facts (policy_info.h) and the benchmark's distillation and latency grids.
#include "policies/policy_info.h"

#include <algorithm>
#include <stdexcept>

#include "policies/policy.h"

namespace onedp {
std::string JoinNames(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

namespace {

std::vector<PolicyInfo> MakePolicies() {
  std::vector<PolicyInfo> v;
  {
    PolicyInfo p;
    p.name = "dp-ddpm";
    p.description = "Diffusion Policy, DDPM epsilon model (ddpm:100, ddim:N)";
    p.sampler_families = {{"ddpm", "DP (DDPM)"}, {"ddim", "DP (DDIM)"}};
    p.samplers = {"ddpm:100", "ddim:10", "ddim:1"};
    p.training_eval_sampler = "ddim:10";
    p.table = "table1";
    p.table_title = "Table 1";
    p.family = "DDPM";
    p.table_rank = 0;
    v.push_back(p);
  }
  {
    PolicyInfo p;
    p.name = "dp-edm";
    p.description = "Diffusion Policy, EDM-preconditioned denoiser (edm:N Heun, NFE 2N-1)";
    p.sampler_families = {{"edm", "DP (EDM)", 2, -1}};
    p.samplers = {"edm:18", "edm:10", "edm:1"};
    p.training_eval_sampler = "edm:10";
    p.table = "table2";
    p.table_title = "Table 2";
    p.family = "EDM";
    p.table_rank = 1;
    v.push_back(p);
  }
  {
    PolicyInfo p;
    p.name = "onedp-s";
    p.description = "OneDP-S, one-step generator distilled from dp-ddpm/dp-edm (onestep, NFE 1)";
    p.sampler_families = {{"onestep", "OneDP-S"}};
    p.samplers = {"onestep"};
    p.training_eval_sampler = "onestep";
    p.teachers = {"dp-ddpm", "dp-edm"};
    p.config_key = "onedp";
    p.table_rank = 4;
    v.push_back(p);
  }
  {
    PolicyInfo p;
    p.name = "onedp-d";
    p.description = "OneDP-D, deterministic one-step generator distilled from dp-ddpm/dp-edm (onestep)";
    p.sampler_families = {{"onestep", "OneDP-D"}};
    p.samplers = {"onestep"};
    p.training_eval_sampler = "onestep";
    p.teachers = {"dp-ddpm", "dp-edm"};
    p.config_key = "onedp";
    p.table_rank = 3;
    v.push_back(p);
  }
  {
    PolicyInfo p;
    p.name = "cp";
    p.description = "Consistency Policy distilled from dp-edm (cp:1, cp:3)";
    p.sampler_families = {{"cp", "CP"}};
    p.samplers = {"cp:1", "cp:3"};
    p.training_eval_sampler = "cp:1";
    p.teachers = {"dp-edm"};
    p.config_key = "cp";
    p.table_rank = 2;
    v.push_back(p);
  }
  return v;
}

}  // namespace

const SamplerFamilyInfo& PolicyInfo::Family(const std::string& sampler) const {
  const std::string family = SamplerSpec::Parse(sampler).family;
  std::vector<std::string> valid;
  for (const auto& f : sampler_families) {
    if (f.family == family) return f;
    valid.push_back(f.family);
  }
  throw std::invalid_argument("policy " + name + " has no sampler family '" + family + "' (sampler '" + sampler +
                              "'); valid: " + JoinNames(valid));
}

int PolicyInfo::Nfe(const std::string& sampler) const {
  const SamplerFamilyInfo& f = Family(sampler);
  const int steps = std::max(SamplerSpec::Parse(sampler).steps, 1);
  return f.nfe_per_step * steps + f.nfe_offset;
}

std::string PolicyInfo::MethodName(const std::string& sampler) const { return Family(sampler).method_name; }

const std::vector<PolicyInfo>& RegisteredPolicies() {
  static const std::vector<PolicyInfo> policies = MakePolicies();
  return policies;
}

const PolicyInfo& FindPolicyInfo(const std::string& name) {
  std::vector<std::string> valid;
  for (const auto& p : RegisteredPolicies()) {
    if (p.name == name) return p;
    valid.push_back(p.name);
  }
  throw std::invalid_argument("unknown policy '" + name + "'. Valid values: " + JoinNames(valid));
}

const PolicyInfo* PolicyOfMethod(const std::string& method_name) {
  for (const auto& p : RegisteredPolicies()) {
    for (const auto& f : p.sampler_families) {
      if (f.method_name == method_name) return &p;
    }
  }
  return nullptr;
}

int MethodRank(const std::string& method_name) {
  static const std::vector<std::string> order = [] {
    std::vector<const PolicyInfo*> by_rank;
    for (const auto& p : RegisteredPolicies()) by_rank.push_back(&p);
    std::stable_sort(by_rank.begin(), by_rank.end(),
                     [](const PolicyInfo* a, const PolicyInfo* b) { return a->table_rank < b->table_rank; });
    std::vector<std::string> names;
    for (const PolicyInfo* p : by_rank) {
      for (const auto& f : p->sampler_families) {
        if (std::find(names.begin(), names.end(), f.method_name) == names.end()) names.push_back(f.method_name);
      }
    }
    return names;
  }();
  return static_cast<int>(std::find(order.begin(), order.end(), method_name) - order.begin());
}

const std::vector<Distillation>& BenchmarkDistillations() {
  // OneDP from both teachers; CP from the EDM teacher, at a short and the long schedule.
  static const std::vector<Distillation> grid = {{"onedp-s", "dp-ddpm", false}, {"onedp-d", "dp-ddpm", false},
                                                 {"cp", "dp-edm", false},       {"cp", "dp-edm", true},
                                                 {"onedp-s", "dp-edm", false},  {"onedp-d", "dp-edm", false}};
  return grid;
}

const LatencyTableInfo& BenchmarkLatencyTable() {
  static const LatencyTableInfo table = {"onedp-s", "dp-ddpm", {"ddpm:100", "ddim:10", "onestep"}, "OneDP (1 step)",
                                         "DDPM-100 / OneDP"};
  return table;
}

}  // namespace onedp
