// Sweep files of `qvae sweep plan`: parsing, expansion into points (grid
// product and seeded random draws) and resolving each point's overrides as a
// configuration, for the first points.  Only core::Error may come out, and
// no sweep may expand beyond its documented bound.
#include <sstream>

#include "../../src/cli/sweep_file.hpp"
#include "fuzz_support.hpp"

namespace {

const qvae::core::ConfigSchema& schema() {
  using qvae::core::ValueType;
  static const qvae::core::ConfigSchema s = [] {
    qvae::core::ConfigSchema out;
    out.add({"sim.sampling_term", ValueType::real, "0.15", "", {}});
    out.add({"sim.spot_energy_mev", ValueType::real, "5", "", {}});
    out.add({"run.seed", ValueType::unsigned_integer, "1", "", {}});
    out.add({"train.epochs", ValueType::integer, "10", "", {}});
    out.add({"model.prior", ValueType::string, "rbm", "", {"rbm", "gaussian"}});
    return out;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean("fuzz_sweep_file", [&] {
    const cli::SweepFile sweep = cli::parse_sweep_file(in, "/nonexistent/sweep.ini");
    const auto points = cli::expand(sweep);
    if (static_cast<std::int64_t>(points.size()) > cli::kMaxSweepPoints) {
      std::fprintf(stderr, "fuzz_sweep_file: FINDING: %zu points\n", points.size());
      std::abort();
    }
    for (std::size_t i = 0; i < points.size() && i < 8; ++i) core::Config::resolve(schema(), {}, points[i]);
  });
  return 0;
}
