// Collective error handling.
//
// Two mechanisms, because a failing rank cannot always reach the others:
//
//  * agree(): at a point every rank reaches (after validating inputs, after
//    a phase), ranks exchange "did you fail?".  If any did, every rank throws
//    the same CollectiveError carrying the lowest failing rank's message and
//    exit code; rank 0 prints it once and all ranks exit alike, cleanly.
//
//  * run_main(): an error that escapes on one rank while others may be blocked
//    in a collective is printed by that rank, which then calls MPI_Abort with
//    the error's exit code: every rank ends within seconds, nothing hangs.
#pragma once

#include <exception>
#include <functional>

#include "qvae/core/error.hpp"

namespace qvae::par {

class Communicator;
class Environment;

/// An error every rank of a communicator knows about (thrown on all of them).
class CollectiveError : public core::Error {
 public:
  CollectiveError(core::ExitCode code, const std::string& message, int origin_rank)
      : core::Error(code, message), origin_rank_(origin_rank) {}
  int origin_rank() const noexcept { return origin_rank_; }

 private:
  int origin_rank_;
};

/// Collective: if `local_error` is set on any rank, throws CollectiveError on
/// every rank (message and code of the lowest failing rank); returns otherwise.
void agree(const Communicator& comm, std::exception_ptr local_error);

/// Collective: runs `work` on every rank, then agree()s on its outcome.
template <class Work>
void run_agreed(const Communicator& comm, Work&& work) {
  std::exception_ptr error;
  try {
    work();
  } catch (...) {
    error = std::current_exception();
  }
  agree(comm, error);
}

/// Runs a program body inside an Environment and turns every exception into the
/// `qvae: error:` line and exit code (see file comment).  Returns the exit code.
int run_main(int& argc, char**& argv, const std::function<int(Environment&)>& body);

}  // namespace qvae::par
