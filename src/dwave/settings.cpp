#include "qvae/dwave/settings.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "qvae/core/config_binder.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"

namespace qvae::dwave {

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

constexpr BetaMethod kBetaMethods[] = {BetaMethod::ml,       BetaMethod::linear,           BetaMethod::multiplicative,
                                       BetaMethod::variance, BetaMethod::pseudolikelihood, BetaMethod::stein};

/// The [dwave] keys, each bound to its DwaveSettings member (whose default it takes).
const core::ConfigBinder<DwaveSettings>& dwave_keys() {
  static const core::ConfigBinder<DwaveSettings> keys = [] {
    core::ConfigBinder<DwaveSettings> k;
    k.value("dwave.endpoint", "SAPI base URL (https; http only to loopback)", &DwaveSettings::qpu, &QpuSettings::client,
            &ClientSettings::endpoint)
        .value("dwave.solver", "solver name, e.g. Advantage_system4.1", &DwaveSettings::qpu, &QpuSettings::solver)
        .value("dwave.token_file", "file holding the SAPI token (mode 600); empty: env DWAVE_API_TOKEN",
               &DwaveSettings::token_file)
        .value("dwave.connect_timeout_s", "TCP/TLS connect timeout, s", &DwaveSettings::qpu, &QpuSettings::client,
               &ClientSettings::connect_timeout_s)
        .value("dwave.request_timeout_s", "timeout of one request, s (long polls add long_poll_s)", &DwaveSettings::qpu,
               &QpuSettings::client, &ClientSettings::request_timeout_s)
        .value("dwave.long_poll_s", "timeout= of status polls, s (0..30; 0: plain polls)", &DwaveSettings::qpu,
               &QpuSettings::client, &ClientSettings::long_poll_s)
        .value("dwave.job_timeout_s", "all problems of one call must be answered within this, s", &DwaveSettings::qpu,
               &QpuSettings::job_timeout_s)
        .value("dwave.max_retries",
               "retries of a request on 429, 5xx, timeouts, malformed replies (submissions: see docs/dwave.md)",
               &DwaveSettings::qpu, &QpuSettings::client, &ClientSettings::max_retries)
        .value("dwave.backoff_initial_s", "first retry delay, s (doubles, with jitter)", &DwaveSettings::qpu,
               &QpuSettings::client, &ClientSettings::backoff_initial_s)
        .value("dwave.backoff_max_s", "largest retry delay, s (exponential backoff)", &DwaveSettings::qpu,
               &QpuSettings::client, &ClientSettings::backoff_max_s)
        .value("dwave.retry_after_max_s", "cap on a server's Retry-After, s", &DwaveSettings::qpu, &QpuSettings::client,
               &ClientSettings::retry_after_max_s)
        .value("dwave.retry_wait_max_s", "most seconds one request (or submission) waits in retries",
               &DwaveSettings::qpu, &QpuSettings::client, &ClientSettings::retry_wait_max_s)
        .value("dwave.batch_size", "problems per POST (1..20)", &DwaveSettings::qpu, &QpuSettings::batch_size)
        .value("dwave.max_in_flight", "submitted problems not yet answered (rank 0)", &DwaveSettings::qpu,
               &QpuSettings::max_in_flight)
        .value("dwave.reads_per_problem", "num_reads of one problem (also capped by the solver)", &DwaveSettings::qpu,
               &QpuSettings::reads_per_problem)
        .value("dwave.label", "problem label prefix (\"<label> <unique tag> @<first read>\")", &DwaveSettings::qpu,
               &QpuSettings::label)
        .value("dwave.flux_threshold", "|h| equivalent of the flux biases pinning partition 0", &DwaveSettings::qpu,
               &QpuSettings::flux_threshold)
        .value("dwave.anneal_sweeps", "simulated annealing: sweeps (one per beta)", &DwaveSettings::anneal,
               &AnnealSettings::sweeps)
        .value("dwave.anneal_beta_start", "simulated annealing: first beta (programmed energy)", &DwaveSettings::anneal,
               &AnnealSettings::beta_start)
        .value("dwave.anneal_beta_end", "simulated annealing: last beta (programmed energy)", &DwaveSettings::anneal,
               &AnnealSettings::beta_end)
        .value("dwave.gibbs_beta", "Gibbs stand-in QPU: its inverse temperature", &DwaveSettings::gibbs,
               &GibbsQpuSettings::beta)
        .value("dwave.gibbs_sweeps", "Gibbs stand-in QPU: sweeps per read", &DwaveSettings::gibbs,
               &GibbsQpuSettings::sweeps)
        .choice("dwave.beta_method", "beta_eff method", kBetaMethods, &DwaveSettings::beta, &BetaSettings::method)
        .value("dwave.beta_initial", "beta_eff: starting beta", &DwaveSettings::beta, &BetaSettings::beta_initial)
        .value("dwave.beta_iterations", "beta_eff: most iterations", &DwaveSettings::beta,
               &BetaSettings::max_iterations)
        .value("dwave.beta_reads", "beta_eff: device reads per iteration", &DwaveSettings::beta, &BetaSettings::reads)
        .value("dwave.beta_stop_constant", "beta_eff: c of the stopping rule (docs/dwave.md)", &DwaveSettings::beta,
               &BetaSettings::stop_constant)
        .value("dwave.beta_rbm_chains", "beta_eff: classical Gibbs chains", &DwaveSettings::beta,
               &BetaSettings::rbm_chains)
        .value("dwave.beta_rbm_sweeps", "beta_eff: classical Gibbs sweeps", &DwaveSettings::beta,
               &BetaSettings::rbm_sweeps);
    return k;
  }();
  return keys;
}

void require(bool ok, const char* key, const std::string& rule) {
  if (!ok) throw core::UsageError(core::describe(std::string("dwave.") + key + " must be " + rule, "[dwave] config"));
}
}  // namespace

void add_dwave_keys(core::ConfigSchema& schema) { dwave_keys().add_keys(schema); }

BetaMethod parse_beta_method(const std::string& name) { return core::parse_choice(name, kBetaMethods, "--method"); }

DwaveSettings dwave_settings_from(const core::Config& config) {
  DwaveSettings s = dwave_keys().read(config);
  const ClientSettings& client = s.qpu.client;

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
