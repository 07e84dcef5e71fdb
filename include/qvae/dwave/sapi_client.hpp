// A SAPI client over libcurl (docs/dwave.md): list and get solvers, submit
// problems (≤ 20 per POST), poll (≤ 100 ids per GET, long polling), list
// problems by label, fetch answers, cancel.
//
// Retries (docs/dwave.md, "Submissions, retries and adoption"):
//  - GET and DELETE are retried after 429/503, other 5xx, timeouts, dropped
//    connections and malformed 2xx bodies, with exponential backoff and jitter.
//  - A submission (POST problems/) is retried as such only when the server
//    certainly did not accept it: 429/503, or nothing of the request was sent.
//    After an ambiguous failure (timeout or dropped connection after sending,
//    another 5xx, a malformed 2xx) the client lists problems by each job's
//    label, adopts the jobs it finds and resubmits only those the listing
//    proves absent — a QPU job is never paid for twice.  Every job of a
//    submission must therefore carry a unique non-empty label.
//  - Retry-After is capped at retry_after_max_s; all waits of one request (or
//    submission) together stay below retry_wait_max_s.
// Other 4xx fail at once with the server's message; an unreachable service
// fails at once.  All are core::RuntimeError (exit 4).
//
// Token hygiene: the token travels only in the X-Auth-Token header of requests
// to the configured endpoint (https, or plain http to a loopback host).
// Redirects are never followed (a 3xx is an error naming the target host), and
// every message the client writes or throws has the token replaced by "<token>".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/core/error.hpp"

#include "qvae/dwave/sapi_wire.hpp"

namespace qvae::dwave {

struct ClientSettings {
  std::string endpoint = "https://cloud.dwavesys.com/sapi/";
  std::string token;  ///< never logged, never stored in outputs
  double connect_timeout_s = 10;
  double request_timeout_s = 60;  ///< per request, on top of the long-poll time
  int long_poll_s = 30;           ///< timeout= of status polls (≤ 30; 0: plain polls)
  int max_retries = 6;
  double backoff_initial_s = 0.5;
  double backoff_max_s = 60;
  double retry_after_max_s = 60;  ///< cap on a server's Retry-After
  double retry_wait_max_s = 600;  ///< all retry waits of one request (or submission) together
  std::uint64_t jitter_seed = 0;  ///< 0: from the clock
};

/// Delay before retry `attempt` (0-based): min(max, initial·2^attempt)·(½ + ½u), u ∈ [0, 1).
double backoff_delay(int attempt, double initial_s, double max_s, double u);
/// Seconds of a Retry-After value (delta-seconds or an HTTP-date); −1 when unparsable.
double parse_retry_after(const std::string& value, std::chrono::system_clock::time_point now);

/// The status of one problem (docs/dwave.md, "SAPI client").
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

/// A submission the server may or may not have accepted (what() says why).
class AmbiguousSubmission : public core::RuntimeError {
 public:
  AmbiguousSubmission(const std::string& message, std::string reason)
      : core::RuntimeError(message), reason_(std::move(reason)) {}
  /// The failure in a few words ("HTTP 500", "timeout after 1500 ms …").
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
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
  /// Every job needs a "label" unique among the client's submissions (the
  /// key by which jobs are found again after an ambiguous failure).
  std::vector<SubmitResult> submit(const std::vector<nlohmann::json>& jobs);
  /// The SAPI problem listing filtered by label (GET problems/?label=L):
  /// statuses, without answers, of the problems labelled exactly `label`.
  std::vector<ProblemStatus> list_by_label(const std::string& label);
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
  /// Jobs found by label after an ambiguous submission and adopted, not resubmitted.
  std::int64_t adopted() const { return adopted_; }

  /// `text` with every occurrence of the token replaced by "<token>".
  std::string redact(std::string text) const;

  /// Waits before a retry; tests replace it to observe delays.
  std::function<void(double seconds)> sleep;

  /// One checked SAPI call with the retry policy above: JSON body or null,
  /// the expected media type (e.g. "problems"); returns the parsed reply.
  /// A POST whose outcome is ambiguous is not retried: it throws
  /// AmbiguousSubmission (submit() handles it by adoption).
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json* body,
                      const std::string& media, double extra_timeout_s = 0);

 private:
  struct Curl;
  struct Exchange;
  Exchange exchange(const std::string& method, const std::string& path, const std::string& payload, bool has_body,
                    const std::string& media, double extra_timeout_s);
  /// Sleeps before retry `attempt` (Retry-After capped, or backoff), adding to
  /// `waited`; a RuntimeError naming `what` when the wait budget is spent.
  void wait_before_retry(int attempt, double retry_after, double& waited, const std::string& what,
                         const std::string& where);
  std::vector<SubmitResult> submit_group(const std::vector<nlohmann::json>& jobs);

  ClientSettings settings_;
  std::unique_ptr<Curl> curl_;
  std::int64_t requests_ = 0, retries_ = 0, adopted_ = 0, jitter_counter_ = 0;
};

}  // namespace qvae::dwave
