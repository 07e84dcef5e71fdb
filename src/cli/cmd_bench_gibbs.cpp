// qvae bench gibbs: not built yet (issue 4 is in progress).
#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::cli {

int bench_gibbs(Context& context, CommandLine&) {
  par::run_agreed(context.world, [] {
    throw core::UsageError(core::describe("`qvae bench gibbs` is not built yet", "", "available now: io, simulate"));
  });
  return 2;
}

}  // namespace qvae::cli
