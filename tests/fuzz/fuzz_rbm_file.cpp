// qvae-rbm files (rbm::read_rbm and the persistent chains of rbm::read_chains):
// every inconsistency of format, shapes, ids, couplers, qubits or values must
// be a core::Error, never a crash or an unbounded allocation.
#include "fuzz_support.hpp"
#include "h5_recipe.hpp"
#include "qvae/rbm/rbm_file.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qvae::fuzz::start_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  static const fuzz::RecipeVocabulary vocabulary{
      {"format", "format_version", "topology", "description", "partitions", "partition", "biases", "edges", "weights",
       "qubits", "chains", "chain_sweeps", "chain_seed"},
      {rbm::kRbmFormat, "qvae-samples", "pegasus", "chimera", ""},
      {2, 3, 4, 6, 8}};
  fuzz::Bytes bytes(data, size);
  const std::int64_t chain_units = bytes.u8() % 9;
  const std::string path = fuzz::scratch_dir() + "/model.h5";
  fuzz::write_recipe_file(path, bytes, vocabulary);
  fuzz::expect_clean("fuzz_rbm_file", [&] {
    const rbm::BoltzmannMachine machine = rbm::read_rbm(path, fuzz::world());
    rbm::read_chains(path, fuzz::world(), machine.num_nodes());
  });
  // Chains are also resumed on their own, for a machine of another size.
  fuzz::expect_clean("fuzz_rbm_file", [&] { rbm::read_chains(path, fuzz::world(), chain_units); });
  return 0;
}
