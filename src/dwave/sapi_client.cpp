#include "qvae/dwave/sapi_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "qvae/build_info.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"

namespace qvae::dwave {

// --- libcurl by RAII; every call checked ---------------------------------------------------------

namespace {

void check_curl(CURLcode code, const char* call) {
  if (code != CURLE_OK)
    throw core::RuntimeError(
        core::describe(std::string("libcurl ") + call + " failed: " + curl_easy_strerror(code), "SAPI client"));
}

/// curl_global_init once per process (not thread-safe by itself); never cleaned
/// up, since other libraries may use libcurl too.
void curl_global_once() {
  static std::once_flag flag;
  static CURLcode result = CURLE_OK;
  std::call_once(flag, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  check_curl(result, "curl_global_init");
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

HeaderList make_headers(const std::vector<std::string>& lines) {
  curl_slist* list = nullptr;
  for (const std::string& line : lines) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (!next) {
      curl_slist_free_all(list);
      throw core::RuntimeError(core::describe("libcurl curl_slist_append failed (out of memory)", "SAPI client"));
    }
    list = next;
  }
  return HeaderList(list);
}

template <class T>
void set_option(CURL* handle, CURLoption option, T value, const char* name) {
  check_curl(curl_easy_setopt(handle, option, value), name);
}
#define QVAE_CURL_SET(handle, option, value) set_option(handle, option, value, #option)

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct ReplyHeaders {
  std::string retry_after;
};
std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  const std::string line(data, size * count);
  const std::string name = "retry-after:";
  if (line.size() > name.size()) {
    std::string head = line.substr(0, name.size());
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    if (head == name) {
      std::string value = line.substr(name.size());
      const auto first = value.find_first_not_of(" \t");
      const auto last = value.find_last_not_of(" \t\r\n");
      static_cast<ReplyHeaders*>(user)->retry_after =
          first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
    }
  }
  return size * count;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

/// The host of an URL ("http://127.0.0.1:8080/sapi/" -> "127.0.0.1").
std::string url_host(const std::string& url) {
  const auto scheme_end = url.find("://");
  std::string rest = scheme_end == std::string::npos ? url : url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('/'));
  if (const auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

bool transient(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct SapiClient::Curl {
  EasyHandle handle;
};

double backoff_delay(int attempt, double initial_s, double max_s, double u) {
  const double exponential = initial_s * std::pow(2.0, std::min(attempt, 30));
  return std::min(max_s, exponential) * (0.5 + 0.5 * u);
}

double parse_retry_after(const std::string& value, std::chrono::system_clock::time_point now) {
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::strtod(value.c_str(), nullptr);
  std::tm when{};
  const char* end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &when);  // IMF-fixdate
  if (!end) return -1;
  const std::time_t target = timegm(&when);
  const double seconds = std::difftime(target, std::chrono::system_clock::to_time_t(now));
  return std::max(0.0, seconds);
}

SapiClient::SapiClient(ClientSettings settings) : settings_(std::move(settings)), curl_(std::make_unique<Curl>()) {
  if (settings_.endpoint.empty())
    throw core::UsageError(
        core::describe("no SAPI endpoint", "dwave.endpoint", "e.g. https://cloud.dwavesys.com/sapi/"));
  if (settings_.endpoint.back() != '/') settings_.endpoint += '/';
  const std::string scheme = lower(settings_.endpoint.substr(0, settings_.endpoint.find("://")));
  const std::string host = url_host(settings_.endpoint);
  const bool loopback = host == "127.0.0.1" || host == "localhost" || host == "::1";
  if (scheme != "https" && !(scheme == "http" && loopback))
    throw core::UsageError(core::describe("refusing endpoint '" + settings_.endpoint + "'", "dwave.endpoint",
                                          "use https:// (plain http only to a loopback test server)"));
  if (settings_.token.empty())
    throw core::UsageError(
        core::describe("no SAPI token", "qvae dwave", "set DWAVE_API_TOKEN or pass --token-file FILE (mode 600)"));
  if (settings_.long_poll_s < 0 || settings_.long_poll_s > 30)
    throw core::UsageError(core::describe("dwave.long_poll_s must be in [0, 30]", "SAPI client"));
  if (settings_.jitter_seed == 0)
    settings_.jitter_seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  curl_global_once();
  curl_->handle.reset(curl_easy_init());
  if (!curl_->handle) throw core::RuntimeError(core::describe("libcurl curl_easy_init failed", "SAPI client"));
  sleep = [](double seconds) { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); };
}

SapiClient::~SapiClient() = default;

std::string SapiClient::redact(std::string text) const {
  const std::string& token = settings_.token;
  if (token.empty()) return text;
  for (std::size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + 7))
    text.replace(at, token.size(), "<token>");
  return text;
}

/// The result of one HTTP exchange, classified for the retry policy.
struct SapiClient::Exchange {
  enum class Kind {
    ok,         ///< a 2xx with a JSON body
    not_taken,  ///< the server certainly did not act on it (429/503, nothing sent): retry
    unsure,     ///< it may have acted (timeout or drop after sending, other 5xx, malformed 2xx)
  };
  Kind kind = Kind::ok;
  nlohmann::json body;
  std::string problem;      ///< what went wrong (not ok)
  double retry_after = -1;  ///< seconds the server asked for (429/503), −1 if none
};

SapiClient::Exchange SapiClient::exchange(const std::string& method, const std::string& path,
                                          const std::string& payload, bool has_body, const std::string& media,
                                          double extra_timeout_s) {
  const std::string url = settings_.endpoint + path;
  const std::string where = redact("SAPI " + method + " " + url);
  const std::string expected_type = "application/vnd.dwave.sapi." + media + "+json";
  const HeaderList headers = make_headers(
      {"X-Auth-Token: " + settings_.token, "Accept: " + expected_type + "; version=3.0.0",
       "Content-Type: application/json", std::string("User-Agent: qvae-hpc/") + build::version, "Expect:"});
  CURL* handle = curl_->handle.get();
  curl_easy_reset(handle);  // keeps the connection cache
  std::string reply;
  ReplyHeaders reply_headers;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  QVAE_CURL_SET(handle, CURLOPT_URL, url.c_str());
  QVAE_CURL_SET(handle, CURLOPT_HTTPHEADER, headers.get());
  QVAE_CURL_SET(handle, CURLOPT_NOSIGNAL, 1L);
  QVAE_CURL_SET(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  QVAE_CURL_SET(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  // Never follow a redirect: the token header would go along to wherever it points.
  QVAE_CURL_SET(handle, CURLOPT_FOLLOWLOCATION, 0L);
  QVAE_CURL_SET(handle, CURLOPT_UNRESTRICTED_AUTH, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  QVAE_CURL_SET(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  QVAE_CURL_SET(handle, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#endif
  QVAE_CURL_SET(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout_s * 1000));
  QVAE_CURL_SET(handle, CURLOPT_TIMEOUT_MS, static_cast<long>((settings_.request_timeout_s + extra_timeout_s) * 1000));
  QVAE_CURL_SET(handle, CURLOPT_ERRORBUFFER, error_buffer);
  QVAE_CURL_SET(handle, CURLOPT_WRITEFUNCTION, &append_body);
  QVAE_CURL_SET(handle, CURLOPT_WRITEDATA, static_cast<void*>(&reply));
  QVAE_CURL_SET(handle, CURLOPT_HEADERFUNCTION, &read_header);
  QVAE_CURL_SET(handle, CURLOPT_HEADERDATA, static_cast<void*>(&reply_headers));
  QVAE_CURL_SET(handle, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
  if (method == "POST") {
    // A fresh connection: libcurl silently resends a request whose reused connection
    // died before any reply, which for a submission could run its jobs twice.
    QVAE_CURL_SET(handle, CURLOPT_FRESH_CONNECT, 1L);
    QVAE_CURL_SET(handle, CURLOPT_POST, 1L);
    QVAE_CURL_SET(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    QVAE_CURL_SET(handle, CURLOPT_POSTFIELDS, payload.c_str());
  } else if (method == "DELETE") {
    QVAE_CURL_SET(handle, CURLOPT_CUSTOMREQUEST, "DELETE");
    if (has_body) {
      QVAE_CURL_SET(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
      QVAE_CURL_SET(handle, CURLOPT_POSTFIELDS, payload.c_str());
    }
  } else {
    QVAE_CURL_SET(handle, CURLOPT_HTTPGET, 1L);
  }
  ++requests_;
  const CURLcode code = curl_easy_perform(handle);

  Exchange out;
  if (code != CURLE_OK) {
    const std::string detail = redact(error_buffer[0] ? error_buffer : curl_easy_strerror(code));
    if (!transient(code))
      throw core::RuntimeError(core::describe("cannot reach the SAPI service (" + detail + ")", where,
                                              "check dwave.endpoint and the network"));
    // Bytes of the request that went out: none means the server cannot have acted on it.
    long sent = 0;
    check_curl(curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &sent), "CURLINFO_REQUEST_SIZE");
    out.kind = sent > 0 ? Exchange::Kind::unsure : Exchange::Kind::not_taken;
    out.problem = detail;
    return out;
  }
  long status = 0;
  check_curl(curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status), "CURLINFO_RESPONSE_CODE");
  char* content_type_raw = nullptr;
  check_curl(curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &content_type_raw), "CURLINFO_CONTENT_TYPE");
  const std::string content_type = content_type_raw ? lower(content_type_raw) : std::string();
  if (status >= 200 && status < 300) {
    // Versioned media type: the same type, version ~= 3.0; plain JSON is tolerated.
    const bool versioned = content_type.rfind("application/vnd.dwave.sapi.", 0) == 0;
    const auto version_at = content_type.find("version=");
    const bool version_ok = version_at != std::string::npos && content_type.compare(version_at + 8, 2, "3.") == 0;
    if (versioned && (content_type.rfind(expected_type, 0) != 0 || !version_ok))
      throw core::RuntimeError(core::describe(
          redact("unexpected response type '" + content_type + "', expected " + expected_type + "; version=3.x"), where,
          "the endpoint speaks another SAPI version"));
    try {
      out.body = nlohmann::json::parse(reply);
      return out;
    } catch (const nlohmann::json::parse_error&) {
      out.kind = Exchange::Kind::unsure;
      out.problem = "malformed JSON in a " + std::to_string(status) + " reply";
      return out;
    }
  }
  if (status >= 300 && status < 400) {
    char* target = nullptr;
    check_curl(curl_easy_getinfo(handle, CURLINFO_REDIRECT_URL, &target), "CURLINFO_REDIRECT_URL");
    const std::string to =
        target ? lower(std::string(target).substr(0, std::string(target).find("://"))) + "://" + url_host(target)
               : std::string("(no Location)");
    throw core::RuntimeError(core::describe(redact("the service redirected (HTTP " + std::to_string(status) + ") to " +
                                                   to + "; redirects are not followed, so the token stays here"),
                                            where, "set dwave.endpoint to the service's own https URL"));
  }
  if (status == 429 || status == 503) {
    out.kind = Exchange::Kind::not_taken;
    out.problem = "HTTP " + std::to_string(status);
    out.retry_after = parse_retry_after(reply_headers.retry_after, std::chrono::system_clock::now());
    return out;
  }
  if (status >= 500) {
    out.kind = Exchange::Kind::unsure;
    out.problem = "HTTP " + std::to_string(status);
    return out;
  }
  // 4xx other than 429: fail at once with the server's message.
  std::string message = core::one_line(reply.substr(0, 300));
  try {
    const nlohmann::json error = nlohmann::json::parse(reply);
    if (error.is_object() && error.contains("error_msg") && error["error_msg"].is_string())
      message = error["error_msg"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
  }
  const std::string remedy = status == 401 || status == 403 ? "check the token (DWAVE_API_TOKEN or --token-file)"
                             : status == 404                ? "check dwave.endpoint and the solver name"
                                                            : "the request was refused; see the message";
  throw core::RuntimeError(core::describe(
      redact("SAPI refused the request: HTTP " + std::to_string(status) + " " + message), where, remedy));
}

void SapiClient::wait_before_retry(int attempt, double retry_after, double& waited, const std::string& what,
                                   const std::string& where) {
  if (attempt >= settings_.max_retries)
    throw core::RuntimeError(core::describe(
        redact("SAPI request failed after " + std::to_string(attempt + 1) + " attempts (last: " + what + ")"), where,
        "retry later or raise dwave.max_retries"));
  core::Philox jitter(settings_.jitter_seed, 0, static_cast<std::uint64_t>(jitter_counter_++));
  const double delay =
      retry_after >= 0 ? std::min(retry_after, settings_.retry_after_max_s)
                       : backoff_delay(attempt, settings_.backoff_initial_s, settings_.backoff_max_s, jitter.uniform());
  if (waited + delay > settings_.retry_wait_max_s)
    throw core::RuntimeError(core::describe(
        redact("SAPI request still failing after waiting " + std::to_string(waited) + " s in retries (last: " + what +
               "; the next wait of " + std::to_string(delay) + " s would pass dwave.retry_wait_max_s)"),
        where, "retry later or raise dwave.retry_wait_max_s"));
  waited += delay;
  ++retries_;
  core::log::debug("dwave: ", redact(where.substr(0, where.find('?'))), ": ", redact(what), "; retry ", attempt + 1,
                   " in ", delay, " s");
  sleep(delay);
}

nlohmann::json SapiClient::call(const std::string& method, const std::string& path, const nlohmann::json* body,
                                const std::string& media, double extra_timeout_s) {
  const std::string where = redact("SAPI " + method + " " + settings_.endpoint + path);
  const std::string payload = body ? body->dump() : std::string();
  double waited = 0;
  for (int attempt = 0;; ++attempt) {
    Exchange reply = exchange(method, path, payload, body != nullptr, media, extra_timeout_s);
    if (reply.kind == Exchange::Kind::ok) return std::move(reply.body);
    // A POST the server may have acted on is never sent again blindly.
    if (method == "POST" && reply.kind == Exchange::Kind::unsure)
      throw AmbiguousSubmission(core::describe(redact("the submission may have been accepted (" + reply.problem + ")"),
                                               where, "find its jobs by label before submitting again"),
                                redact(reply.problem));
    wait_before_retry(attempt, reply.retry_after, waited, reply.problem, where);
  }
}

// --- SAPI operations ---------------------------------------------------------------------------------

namespace {
ProblemStatus parse_status(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("id") || !object.contains("status"))
    throw ProtocolError(core::describe("a problem status lacks 'id' or 'status'", "SAPI reply"));
  ProblemStatus status;
  try {
    status.id = object["id"].get<std::string>();
    status.status = object["status"].get<std::string>();
    if (object.contains("label") && object["label"].is_string()) status.label = object["label"].get<std::string>();
    if (object.contains("error_message") && object["error_message"].is_string())
      status.error_message = object["error_message"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(
        core::describe(std::string("a problem status has a field of the wrong type: ") + e.what(), "SAPI reply"));
  }
  if (object.contains("answer") && object["answer"].is_object()) {
    status.has_answer = true;
    status.answer = object["answer"];
  }
  return status;
}

SubmitResult parse_submit_result(const nlohmann::json& element) {
  SubmitResult result;
  if (element.is_object() && element.contains("error_code")) {
    result.error_code = element["error_code"].is_number_integer() ? element["error_code"].get<int>() : 0;
    result.error_msg = element.contains("error_msg") && element["error_msg"].is_string()
                           ? element["error_msg"].get<std::string>()
                           : std::string("(no message)");
    return result;
  }
  result.ok = true;
  result.status = parse_status(element);
  return result;
}

std::string url_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* hex = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}
}  // namespace

std::vector<SolverInfo> SapiClient::list_solvers() {
  const nlohmann::json reply = call("GET", "solvers/remote/", nullptr, "solver-definition-list");
  if (!reply.is_array())
    throw core::RuntimeError(core::describe("the solver list is not a JSON array", "SAPI GET solvers/remote/"));
  std::vector<SolverInfo> solvers;
  for (const auto& definition : reply) solvers.push_back(parse_solver(definition));
  return solvers;
}

SolverInfo SapiClient::get_solver(const std::string& name) {
  if (name.empty())
    throw core::UsageError(
        core::describe("no solver named", "dwave.solver", "pass --solver NAME (qvae dwave solvers)"));
  return parse_solver(call("GET", "solvers/remote/" + url_escape(name) + "/", nullptr, "solver-definition"));
}

std::vector<SubmitResult> SapiClient::submit(const std::vector<nlohmann::json>& jobs) {
  constexpr std::size_t kPerPost = 20;  // SAPI: up to 20 jobs per POST
  std::set<std::string> labels;
  for (const nlohmann::json& job : jobs) {
    const bool labelled = job.is_object() && job.contains("label") && job["label"].is_string() &&
                          !job["label"].get<std::string>().empty();
    if (!labelled || !labels.insert(job["label"].get<std::string>()).second)
      throw std::logic_error("qvae::dwave::SapiClient::submit: every job needs a unique non-empty label");
  }
  std::vector<SubmitResult> results;
  for (std::size_t first = 0; first < jobs.size(); first += kPerPost) {
    const std::size_t count = std::min(kPerPost, jobs.size() - first);
    const std::vector<nlohmann::json> group(jobs.begin() + static_cast<std::ptrdiff_t>(first),
                                            jobs.begin() + static_cast<std::ptrdiff_t>(first + count));
    for (SubmitResult& result : submit_group(group)) results.push_back(std::move(result));
  }
  return results;
}

std::vector<SubmitResult> SapiClient::submit_group(const std::vector<nlohmann::json>& jobs) {
  const std::string where = redact("SAPI POST " + settings_.endpoint + "problems/");
  std::vector<SubmitResult> results(jobs.size());
  std::vector<std::size_t> pending(jobs.size());
  for (std::size_t k = 0; k < jobs.size(); ++k) pending[k] = k;
  double waited = 0;
  for (int attempt = 0; !pending.empty(); ++attempt) {
    nlohmann::json body = nlohmann::json::array();
    for (std::size_t k : pending) body.push_back(jobs[k]);
    try {
      const nlohmann::json reply = call("POST", "problems/", &body, "problems");
      if (!reply.is_array() || reply.size() != pending.size())
        throw AmbiguousSubmission(
            core::describe("the submission reply is not an array of " + std::to_string(pending.size()) + " statuses",
                           where, "find its jobs by label"),
            "a reply of the wrong shape");
      for (std::size_t i = 0; i < pending.size(); ++i) results[pending[i]] = parse_submit_result(reply[i]);
      return results;
    } catch (const AmbiguousSubmission& e) {
      // The server may hold some of these jobs: wait, then look them up by label and
      // adopt what exists; only jobs the listing proves absent are submitted again.
      wait_before_retry(attempt, -1, waited, e.reason(), where);
      std::vector<std::size_t> missing;
      for (std::size_t k : pending) {
        const std::string label = jobs[k]["label"].get<std::string>();
        const std::vector<ProblemStatus> found = list_by_label(label);
        if (found.empty()) {
          missing.push_back(k);
          continue;
        }
        if (found.size() > 1)
          core::log::warn("dwave: ", found.size(), " jobs carry the label '", redact(label), "'; adopting ",
                          found.front().id, ", the others are not this client's");
        results[k].ok = true;
        results[k].status = found.front();
        ++adopted_;
      }
      core::log::info("dwave: a submission of ", pending.size(), " jobs ended ambiguously; ",
                      pending.size() - missing.size(), " found by label and adopted, ", missing.size(),
                      " submitted again");
      pending = std::move(missing);
    }
  }
  return results;
}

std::vector<ProblemStatus> SapiClient::list_by_label(const std::string& label) {
  const nlohmann::json reply = call("GET", "problems/?label=" + url_escape(label), nullptr, "problems");
  if (!reply.is_array())
    throw ProtocolError(core::describe("the problem listing is not an array", "SAPI GET problems/?label="));
  std::vector<ProblemStatus> out;
  for (const auto& element : reply) {
    ProblemStatus status = parse_status(element);
    if (status.label == label) out.push_back(std::move(status));  // exact matches only
  }
  return out;
}

std::vector<ProblemStatus> SapiClient::poll(const std::vector<std::string>& ids, bool wait) {
  constexpr std::size_t kPerGet = 100;  // SAPI: up to 100 ids per GET
  std::vector<ProblemStatus> statuses;
  for (std::size_t first = 0; first < ids.size(); first += kPerGet) {
    std::string query;
    for (std::size_t k = first; k < std::min(ids.size(), first + kPerGet); ++k)
      query += (query.empty() ? "" : ",") + url_escape(ids[k]);
    const int long_poll = wait ? settings_.long_poll_s : 0;
    const std::string path = "problems/?id=" + query + (long_poll > 0 ? "&timeout=" + std::to_string(long_poll) : "");
    const nlohmann::json reply = call("GET", path, nullptr, "problems", long_poll);
    if (!reply.is_array()) throw ProtocolError(core::describe("the poll reply is not an array", "SAPI GET problems/"));
    for (const auto& element : reply) statuses.push_back(parse_status(element));
  }
  return statuses;
}

ProblemStatus SapiClient::get_problem(const std::string& id) {
  return parse_status(call("GET", "problems/" + url_escape(id) + "/", nullptr, "problem"));
}

std::vector<SubmitResult> SapiClient::cancel(const std::vector<std::string>& ids) {
  std::vector<SubmitResult> results;
  if (ids.empty()) return results;
  const nlohmann::json body = ids;
  const nlohmann::json reply = call("DELETE", "problems/", &body, "problems");
  if (!reply.is_array())
    throw ProtocolError(core::describe("the cancel reply is not an array", "SAPI DELETE problems/"));
  for (const auto& element : reply) results.push_back(parse_submit_result(element));
  return results;
}

}  // namespace qvae::dwave
