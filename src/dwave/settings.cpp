#include "qvae/dwave/settings.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"

namespace qvae::dwave {

BetaMethod parse_beta_method(const std::string& name) {
  return core::parse_choice(name,
                            {BetaMethod::ml, BetaMethod::linear, BetaMethod::multiplicative, BetaMethod::variance,
                             BetaMethod::pseudolikelihood, BetaMethod::stein},
                            "--method");
}

const char* to_string(BetaMethod method) noexcept {
  switch (method) {
    case BetaMethod::ml:
      return "ml";
    case BetaMethod::linear:
      return "linear";
    case BetaMethod::multiplicative:
      return "multiplicative";
    case BetaMethod::variance:
      return "variance";
    case BetaMethod::pseudolikelihood:
      return "pseudolikelihood";
    case BetaMethod::stein:
      return "stein";
  }
  return "?";
}

namespace {
using core::ValueType;
// One table: the keys, their types, defaults (equal to the struct defaults; a test checks) and help.
const core::ConfigKey kKeys[] = {
    {"dwave.endpoint",
     ValueType::string,
     "https://cloud.dwavesys.com/sapi/",
     "SAPI base URL (https; http only to loopback)",
     {}},
    {"dwave.solver", ValueType::string, "", "solver name, e.g. Advantage_system4.1", {}},
    {"dwave.token_file",
     ValueType::string,
     "",
     "file holding the SAPI token (mode 600); empty: env DWAVE_API_TOKEN",
     {}},
    {"dwave.connect_timeout_s", ValueType::real, "10", "TCP/TLS connect timeout, s", {}},
    {"dwave.request_timeout_s", ValueType::real, "60", "timeout of one request, s (long polls add long_poll_s)", {}},
    {"dwave.long_poll_s", ValueType::integer, "30", "timeout= of status polls, s (0..30; 0: plain polls)", {}},
    {"dwave.job_timeout_s", ValueType::real, "3600", "all problems of one call must be answered within this, s", {}},
    {"dwave.max_retries",
     ValueType::integer,
     "6",
     "retries of a request on 429, 5xx, timeouts, malformed replies (submissions: see docs/dwave.md)",
     {}},
    {"dwave.backoff_initial_s", ValueType::real, "0.5", "first retry delay, s (doubles, with jitter)", {}},
    {"dwave.backoff_max_s", ValueType::real, "60", "largest retry delay, s (exponential backoff)", {}},
    {"dwave.retry_after_max_s", ValueType::real, "60", "cap on a server's Retry-After, s", {}},
    {"dwave.retry_wait_max_s", ValueType::real, "600", "most seconds one request (or submission) waits in retries", {}},
    {"dwave.batch_size", ValueType::integer, "20", "problems per POST (1..20)", {}},
    {"dwave.max_in_flight", ValueType::integer, "100", "submitted problems not yet answered (rank 0)", {}},
    {"dwave.reads_per_problem", ValueType::integer, "1000", "num_reads of one problem (also capped by the solver)", {}},
    {"dwave.label", ValueType::string, "qvae-hpc", "problem label prefix (\"<label> <unique tag> @<first read>\")", {}},
    {"dwave.flux_threshold", ValueType::real, "25", "|h| equivalent of the flux biases pinning partition 0", {}},
    {"dwave.anneal_sweeps", ValueType::integer, "1000", "simulated annealing: sweeps (one per beta)", {}},
    {"dwave.anneal_beta_start", ValueType::real, "0.1", "simulated annealing: first beta (programmed energy)", {}},
    {"dwave.anneal_beta_end", ValueType::real, "1", "simulated annealing: last beta (programmed energy)", {}},
    {"dwave.gibbs_beta", ValueType::real, "1", "Gibbs stand-in QPU: its inverse temperature", {}},
    {"dwave.gibbs_sweeps", ValueType::integer, "200", "Gibbs stand-in QPU: sweeps per read", {}},
    {"dwave.beta_method",
     ValueType::string,
     "multiplicative",
     "beta_eff method",
     {"ml", "linear", "multiplicative", "variance", "pseudolikelihood", "stein"}},
    {"dwave.beta_initial", ValueType::real, "4", "beta_eff: starting beta", {}},
    {"dwave.beta_iterations", ValueType::integer, "20", "beta_eff: most iterations", {}},
    {"dwave.beta_reads", ValueType::integer, "1000", "beta_eff: device reads per iteration", {}},
    {"dwave.beta_stop_constant", ValueType::real, "1.5", "beta_eff: c of the stopping rule (docs/dwave.md)", {}},
    {"dwave.beta_rbm_chains", ValueType::integer, "1000", "beta_eff: classical Gibbs chains", {}},
    {"dwave.beta_rbm_sweeps", ValueType::integer, "200", "beta_eff: classical Gibbs sweeps", {}},
};

/// Reads typed values of the dwave section from Config::to_json(); absent keys keep defaults.
class Section {
 public:
  explicit Section(const core::Config& config) {
    const nlohmann::json all = config.to_json();
    if (all.contains("dwave")) values_ = all["dwave"];
  }
  template <class T>
  void get(const char* key, T& out) const {
    if (values_.is_object() && values_.contains(key)) out = values_[key].get<T>();
  }

 private:
  nlohmann::json values_;
};

void require(bool ok, const char* key, const std::string& rule) {
  if (!ok) throw core::UsageError(core::describe(std::string("dwave.") + key + " must be " + rule, "[dwave] config"));
}
}  // namespace

void add_dwave_keys(core::ConfigSchema& schema) {
  for (const core::ConfigKey& key : kKeys) schema.add(key);
}

DwaveSettings dwave_settings_from(const core::Config& config) {
  DwaveSettings s;
  const Section section(config);
  ClientSettings& client = s.qpu.client;
  section.get("endpoint", client.endpoint);
  section.get("solver", s.qpu.solver);
  section.get("token_file", s.token_file);
  section.get("connect_timeout_s", client.connect_timeout_s);
  section.get("request_timeout_s", client.request_timeout_s);
  section.get("long_poll_s", client.long_poll_s);
  section.get("job_timeout_s", s.qpu.job_timeout_s);
  section.get("max_retries", client.max_retries);
  section.get("backoff_initial_s", client.backoff_initial_s);
  section.get("backoff_max_s", client.backoff_max_s);
  section.get("retry_after_max_s", client.retry_after_max_s);
  section.get("retry_wait_max_s", client.retry_wait_max_s);
  section.get("batch_size", s.qpu.batch_size);
  section.get("max_in_flight", s.qpu.max_in_flight);
  section.get("reads_per_problem", s.qpu.reads_per_problem);
  section.get("label", s.qpu.label);
  section.get("flux_threshold", s.qpu.flux_threshold);
  section.get("anneal_sweeps", s.anneal.sweeps);
  section.get("anneal_beta_start", s.anneal.beta_start);
  section.get("anneal_beta_end", s.anneal.beta_end);
  section.get("gibbs_beta", s.gibbs.beta);
  section.get("gibbs_sweeps", s.gibbs.sweeps);
  std::string method = to_string(s.beta.method);
  section.get("beta_method", method);
  s.beta.method = parse_beta_method(method);
  section.get("beta_initial", s.beta.beta_initial);
  section.get("beta_iterations", s.beta.max_iterations);
  section.get("beta_reads", s.beta.reads);
  section.get("beta_stop_constant", s.beta.stop_constant);
  section.get("beta_rbm_chains", s.beta.rbm_chains);
  section.get("beta_rbm_sweeps", s.beta.rbm_sweeps);

  require(client.connect_timeout_s > 0, "connect_timeout_s", "> 0");
  require(client.request_timeout_s > 0, "request_timeout_s", "> 0");
  require(client.long_poll_s >= 0 && client.long_poll_s <= 30, "long_poll_s", "in [0, 30]");
  require(s.qpu.job_timeout_s > 0, "job_timeout_s", "> 0");
  require(client.max_retries >= 0, "max_retries", ">= 0");
  require(client.backoff_initial_s >= 0, "backoff_initial_s", ">= 0");
  require(client.backoff_max_s >= client.backoff_initial_s, "backoff_max_s", ">= backoff_initial_s");
  require(client.retry_after_max_s >= 0, "retry_after_max_s", ">= 0");
  require(client.retry_wait_max_s >= 0, "retry_wait_max_s", ">= 0");
  require(s.qpu.batch_size >= 1 && s.qpu.batch_size <= 20, "batch_size", "in [1, 20] (SAPI takes 20 per POST)");
  require(s.qpu.max_in_flight >= 1, "max_in_flight", ">= 1");
  require(s.qpu.reads_per_problem >= 1, "reads_per_problem", ">= 1");
  require(s.qpu.flux_threshold > 0, "flux_threshold", "> 0");
  require(s.anneal.sweeps >= 1, "anneal_sweeps", ">= 1");
  require(s.anneal.beta_start > 0 && s.anneal.beta_end > 0, "anneal_beta_start/end", "> 0");
  require(s.gibbs.beta > 0, "gibbs_beta", "> 0");
  require(s.gibbs.sweeps >= 0, "gibbs_sweeps", ">= 0");
  require(s.beta.beta_initial > 0, "beta_initial", "> 0");
  require(s.beta.max_iterations >= 1, "beta_iterations", ">= 1");
  require(s.beta.reads >= 2, "beta_reads", ">= 2");
  require(s.beta.stop_constant > 0, "beta_stop_constant", "> 0");
  require(s.beta.rbm_chains >= 2, "beta_rbm_chains", ">= 2");
  require(s.beta.rbm_sweeps >= 0, "beta_rbm_sweeps", ">= 0");
  return s;
}

std::string read_token(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    struct stat info {};
    if (::stat(token_file.c_str(), &info) != 0)
      throw core::UsageError(
          core::describe("cannot read token file '" + token_file + "'", "--token-file", "check the path"));
    // Others may already have read it: say so loudly, but a shared group
    // directory on a cluster is a choice the user may have made on purpose.
    if (info.st_mode & (S_IRGRP | S_IROTH))
      core::log::warn("token file '", token_file, "' is readable by group or others: anyone who can read it can ",
                      "use your D-Wave account (chmod 600 '", token_file, "', and consider rotating the token)");
    std::ifstream in(token_file);
    if (!in)
      throw core::UsageError(core::describe("cannot read token file '" + token_file + "'", "--token-file",
                                            "check the path and its permissions"));
    std::ostringstream text;
    text << in.rdbuf();
    token = text.str();
  } else if (const char* env = std::getenv("DWAVE_API_TOKEN")) {
    token = env;
  }
  const auto first = token.find_first_not_of(" \t\r\n");
  token =
      first == std::string::npos ? std::string() : token.substr(first, token.find_last_not_of(" \t\r\n") - first + 1);
  if (token.empty())
    throw core::UsageError(
        core::describe(token_file.empty() ? "no SAPI token" : "token file '" + token_file + "' is empty", "qvae dwave",
                       "set DWAVE_API_TOKEN or pass --token-file FILE (mode 600)"));
  return token;
}

}  // namespace qvae::dwave
