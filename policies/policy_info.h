// What each registered policy is, as torch-free data (samplers and NFE, table names, teachers).
//
// Per policy: its samplers and their NFE, the samplers the benchmark evaluates it with, its names
// in the tables, and whether it is trained or distilled from which teachers. This is the one list
// of policies (registry.cc's factories build them by these names); the harness (work grid,
// tables, latency table) reads these facts and names no policy, sampler or method itself.
#pragma once

#include <string>
#include <vector>

namespace onedp {

// A sampler family a policy accepts, written "family" or "family:N".
struct SamplerFamilyInfo {
  std::string family;       // "ddpm", "ddim", "edm", "onestep", "cp"
  std::string method_name;  // the tables' name of the policy sampled this way, e.g. "DP (DDIM)"
  // NFE of "family:N" = nfe_per_step * N + nfe_offset (a bare family: N = 1). EDM's Heun sampler
  // evaluates the network twice per step except on the last, Euler step: 2N - 1.
  int nfe_per_step = 1;
  int nfe_offset = 0;
};

struct PolicyInfo {
  std::string name;         // registry name, e.g. "dp-ddpm"
  std::string description;  // one line
  std::vector<SamplerFamilyInfo> sampler_families;
  // The samplers the benchmark evaluates it with (the paper's NFE columns); the first is the
  // policy's default (Policy::Samplers() returns these).
  std::vector<std::string> samplers;
  std::string training_eval_sampler;  // the in-training evaluations' (the convergence curve)
  // Distilled from a trained policy among these (registry names); empty: trained on demonstrations.
  std::vector<std::string> teachers;
  std::string config_key;  // distilled: the key of the method's config in the student's config
  // Trained: the paper's table of this teacher's family ("table1", titled "Table 1") and the
  // family's name ("DDPM": "DDPM family", "DDPM teacher").
  std::string table, table_title, family;
  int table_rank = 0;  // the paper's row order of its methods (lower first)

  bool distilled() const { return !teachers.empty(); }
  // The family of `sampler` ("ddim:10"); throws std::invalid_argument when the policy has none.
  const SamplerFamilyInfo& Family(const std::string& sampler) const;
  int Nfe(const std::string& sampler) const;
  std::string MethodName(const std::string& sampler) const;
};

// The names in `v` separated by `sep` ("a, b, c"): the valid values listed in error messages.
std::string JoinNames(const std::vector<std::string>& v, const std::string& sep = ", ");

// Every registered policy, in the registry's order (dp-ddpm, dp-edm, onedp-s, onedp-d, cp).
const std::vector<PolicyInfo>& RegisteredPolicies();
// Throws std::invalid_argument listing the valid names.
const PolicyInfo& FindPolicyInfo(const std::string& name);
// The policy a tables' method name ("DP (DDIM)", "CP") belongs to; nullptr when none does.
const PolicyInfo* PolicyOfMethod(const std::string& method_name);
// Position of a method name in the paper's row order (DP (DDPM), DP (DDIM), DP (EDM), CP,
// OneDP-D, OneDP-S); unknown names come last.
int MethodRank(const std::string& method_name);

// The benchmark's distillations (the paper's Tables 1 and 2), in the work grid's order.
struct Distillation {
  std::string method, teacher;
  bool long_schedule = false;  // the long schedule (the run preset's cp_long_epochs)
};
const std::vector<Distillation>& BenchmarkDistillations();

// The paper's latency table (Table 5): the first training seed's `student` distilled from
// `teacher`, timed with `samplers` (rows in this order; the student's own sampler and its
// teacher's, which run on the teacher's networks).
struct LatencyTableInfo {
  std::string student, teacher;
  std::vector<std::string> samplers;
  std::string student_label;  // the student's row, e.g. "OneDP (1 step)"; the teacher's rows are
                              // "<method name> <sampler>"
  std::string ratio_label;    // the first row's latency over the student's, e.g. "DDPM-100 / OneDP"
};
const LatencyTableInfo& BenchmarkLatencyTable();

}  // namespace onedp
