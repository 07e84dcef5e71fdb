// Test helpers of the dwave module: small machines, and the loopback SAPI
// test server (tools/sapi-test-server) started on a free port and stopped by
// pid within bounded time.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/core/philox.hpp"
#include "qvae/graph/partitioned_graph.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "random_machine.hpp"

extern char** environ;

namespace qvae::dwave::testing {

using qvae::testing::random_machine;

/// A 4-partite machine on Pegasus P(size) with hardware qubits (the region scheme).
inline rbm::BoltzmannMachine pegasus_machine(int size, int per_partition, double sigma, std::uint64_t seed) {
  graph::SelectionRequest request;
  request.topology = "pegasus";
  request.size = size;
  request.nodes_per_partition = per_partition;
  rbm::BoltzmannMachine machine(graph::select_partitioned(request));
  machine.init_normal(sigma, seed);
  return machine;
}

/// tools/sapi-test-server on 127.0.0.1, a free port chosen by the server
/// (--port 0, reported through --ready-file).  Stopped with SIGTERM (then
/// SIGKILL) by pid in the destructor.
class SapiTestServer {
 public:
  explicit SapiTestServer(const std::vector<std::string>& extra_args, double beta = 1.0, int size = 4) {
    ready_file_ = "/tmp/qvae-sapi-ready-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++);
    std::remove(ready_file_.c_str());
    stats_file_ = ready_file_ + ".stats";
    std::remove(stats_file_.c_str());
    std::vector<std::string> args = {"/usr/bin/python3", QVAE_SAPI_TEST_SERVER, "--port",       "0",
                                     "--beta",           std::to_string(beta),  "--size",       std::to_string(size),
                                     "--ready-file",     ready_file_,           "--stats-file", stats_file_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + std::string(QVAE_SAPI_TEST_SERVER));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(ready_file_);
      if (in >> port_) break;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("sapi-test-server exited at start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (port_ <= 0) {
      stop();
      throw std::runtime_error("sapi-test-server did not start within 30 s");
    }
  }
  ~SapiTestServer() { stop(); }
  SapiTestServer(const SapiTestServer&) = delete;
  SapiTestServer& operator=(const SapiTestServer&) = delete;

  int port() const { return port_; }
  /// The server's counts: requests, token_requests, accepted, accepted_per_label.
  nlohmann::json stats() const {
    std::ifstream in(stats_file_);
    if (!in) throw std::runtime_error("sapi-test-server wrote no stats file");
    return nlohmann::json::parse(in);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/sapi/"; }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      pid_ = -1;
    }
    std::remove(ready_file_.c_str());
    std::remove(stats_file_.c_str());
  }

 private:
  static int& counter() {
    static int value = 0;
    return value;
  }
  pid_t pid_ = -1;
  int port_ = 0;
  std::string ready_file_, stats_file_;
};

}  // namespace qvae::dwave::testing
