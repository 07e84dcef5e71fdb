// qvae rbm: not built yet (issue 4 is in progress).
#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::cli {

int run_rbm(Context& context) {
  par::run_agreed(context.world, [] {
    throw core::UsageError(core::describe("`qvae rbm` is not built yet", "", "see `qvae --help` for the commands that are"));
  });
  return 2;
}

}  // namespace qvae::cli
