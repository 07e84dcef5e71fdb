// A SAPI client over libcurl (dwave.md §5): list and get solvers, submit
// problems (≤ 20 per POST), poll (≤ 100 ids per GET, long polling), fetch
// answers, cancel.
//
// Failures: 429 (honouring Retry-After), 5xx, timeouts, dropped connections
// and malformed 2xx bodies are retried with exponential backoff and jitter, up
// to max_retries; other 4xx fail at once with the server's message; an
// unreachable service fails at once.  All are core::RuntimeError (exit 4).
// The token is sent as X-Auth-Token and appears in no message or log.  TLS
// peer and host verification stay on; plain http is refused except to a
// loopback host (the test server).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/dwave/sapi_wire.hpp"

namespace qvae::dwave {

struct ClientSettings {
  std::string endpoint = "https://cloud.dwavesys.com/sapi/";
  std::string token;                 ///< never logged, never stored in outputs
  double connect_timeout_s = 10;
  double request_timeout_s = 60;     ///< per request, on top of the long-poll time
  int long_poll_s = 30;              ///< timeout= of status polls (≤ 30; 0: plain polls)
  int max_retries = 6;
  double backoff_initial_s = 0.5;
  double backoff_max_s = 60;
  std::uint64_t jitter_seed = 0;     ///< 0: from the clock
};

/// Delay before retry `attempt` (0-based): min(max, initial·2^attempt)·(½ + ½u), u ∈ [0, 1).
double backoff_delay(int attempt, double initial_s, double max_s, double u);
/// Seconds of a Retry-After value (delta-seconds or an HTTP-date); −1 when unparsable.
double parse_retry_after(const std::string& value, std::chrono::system_clock::time_point now);

/// The status of one problem (dwave.md §5, "Status object").
struct ProblemStatus {
  std::string id;
  std::string status;  ///< PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELLED
  std::string label;
  std::string error_message;
  bool has_answer = false;
  nlohmann::json answer;

  bool done() const { return status == "COMPLETED" || status == "FAILED" || status == "CANCELLED"; }
};
/// One element of a submission or cancellation reply: a status or an error.
struct SubmitResult {
  bool ok = false;
  ProblemStatus status;
  int error_code = 0;
  std::string error_msg;
};

class SapiClient {
 public:
  /// core::UsageError for an empty token or endpoint, or plain http to a non-loopback host.
  explicit SapiClient(ClientSettings settings);
  ~SapiClient();
  SapiClient(const SapiClient&) = delete;
  SapiClient& operator=(const SapiClient&) = delete;

  const ClientSettings& settings() const { return settings_; }

  std::vector<SolverInfo> list_solvers();
  SolverInfo get_solver(const std::string& name);

  /// POSTs the jobs in groups of at most 20; one result per job, in order.
  std::vector<SubmitResult> submit(const std::vector<nlohmann::json>& jobs);
  /// Statuses of `ids` in groups of at most 100; long polling (timeout =
  /// long_poll_s) unless `wait` is false.  Unknown ids are left out by SAPI.
  std::vector<ProblemStatus> poll(const std::vector<std::string>& ids, bool wait = true);
  /// GET problems/{id}/: the status with its answer when completed.
  ProblemStatus get_problem(const std::string& id);
  /// DELETE problems/ with the ids (pending problems become CANCELLED).
  std::vector<SubmitResult> cancel(const std::vector<std::string>& ids);

  /// Requests made and retries taken (for logs and tests).
  std::int64_t requests() const { return requests_; }
  std::int64_t retries() const { return retries_; }

  /// Waits before a retry; tests replace it to observe delays.
  std::function<void(double seconds)> sleep;

  /// One checked SAPI call with the retry policy above: JSON body or null,
  /// the expected media type (e.g. "problems"); returns the parsed reply.
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json* body,
                      const std::string& media, double extra_timeout_s = 0);

 private:
  struct Curl;
  ClientSettings settings_;
  std::unique_ptr<Curl> curl_;
  std::int64_t requests_ = 0, retries_ = 0, jitter_counter_ = 0;
};

}  // namespace qvae::dwave
