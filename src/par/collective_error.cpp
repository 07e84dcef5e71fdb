#include "qvae/par/collective_error.hpp"

#include <mpi.h>

#include <cstdio>
#include <memory>

#include "qvae/par/communicator.hpp"
#include "qvae/par/environment.hpp"

namespace qvae::par {

void agree(const Communicator& comm, std::exception_ptr local_error) {
  // MINLOC over (ok ? 1 : 0, rank) finds the lowest failing rank, if any.
  struct {
    int ok;
    int rank;
  } in{local_error ? 0 : 1, comm.rank()}, out{1, 0};
  QVAE_CHECK_MPI(MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, comm.get()));
  if (out.ok == 1) return;

  const int origin = out.rank;
  int code = static_cast<int>(core::ExitCode::runtime);
  std::string message;
  if (comm.rank() == origin) {
    try {
      std::rethrow_exception(local_error);
    } catch (const std::exception& e) {
      code = static_cast<int>(core::exit_code_of(e));
      message = e.what();
    } catch (...) {
      message = "unknown exception";
    }
  }
  code = comm.broadcast_value(code, origin);
  comm.broadcast(message, origin);
  throw CollectiveError(static_cast<core::ExitCode>(code), message, origin);
}

namespace {
void print_error(const std::string& message) {
  const std::string line = core::error_line(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}
}  // namespace

int run_main(int& argc, char**& argv, const std::function<int(Environment&)>& body) {
  std::unique_ptr<Environment> env;
  auto fail_alone = [&](const std::string& message, core::ExitCode code) {
    print_error(message);
    // Other ranks may be blocked in a collective: end them all, with our code.
    if (env && env->world_size() > 1) MPI_Abort(MPI_COMM_WORLD, static_cast<int>(code));
    return static_cast<int>(code);
  };
  try {
    env = std::make_unique<Environment>(argc, argv);
    return body(*env);
  } catch (const CollectiveError& e) {
    if (!env || env->world_rank() == 0) print_error(e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    return fail_alone(e.what(), core::exit_code_of(e));
  } catch (...) {
    return fail_alone("unknown exception", core::ExitCode::runtime);
  }
}

}  // namespace qvae::par
