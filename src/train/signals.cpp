// SIGTERM / SIGUSR1: stop after the current batch; a second signal exits at once.
#include "qvae/train/signals.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace qvae::train {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
struct sigaction g_previous_term {
}, g_previous_usr1{};

void write_stderr(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

extern "C" void on_stop_signal(int signal_number) {
  if (g_stop_signal != 0) {
    // Second signal: leave now.  Checkpoints are written to a temporary name
    // and renamed, so the last complete one is untouched.
    write_stderr("qvae: second signal, exiting now (the last checkpoint is intact)\n");
    ::_exit(128 + signal_number);
  }
  g_stop_signal = signal_number;
  write_stderr("qvae: signal received, stopping after the current batch (send it again to exit at once)\n");
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, &g_previous_term);
  sigaction(SIGUSR1, &action, &g_previous_usr1);
}

StopSignals::~StopSignals() {
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGUSR1, &g_previous_usr1, nullptr);
}

bool StopSignals::requested() const { return g_stop_signal != 0; }
int StopSignals::signal_number() const { return static_cast<int>(g_stop_signal); }

}  // namespace qvae::train
