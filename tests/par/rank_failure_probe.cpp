// Test helper for check_rank_failure.sh: rank 1 fails, in one of two ways.
//   collective_wait: rank 1 throws while rank 0 blocks in a barrier it can
//                    never leave; run_main must abort the job with rank 1's code.
//   agreed:          rank 1 throws inside run_agreed; every rank exits cleanly
//                    with its code and rank 0 prints the one message.
#include <chrono>
#include <string>
#include <thread>

#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/environment.hpp"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "collective_wait";
  return qvae::par::run_main(argc, argv, [&](qvae::par::Environment&) {
    qvae::par::Communicator comm;
    if (mode == "agreed") {
      qvae::par::run_agreed(comm, [&] {
        if (comm.rank() == 1) throw qvae::core::InputError("probe failure on rank 1");
      });
      return 0;
    }
    if (comm.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      throw qvae::core::InputError("probe failure on rank 1");
    }
    comm.barrier();  // never completes: rank 1 does not arrive
    return 0;
  });
}
