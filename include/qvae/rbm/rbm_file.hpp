// The `qvae-rbm` file format, version 1 (docs/formats.md, "qvae-rbm v1"):
// HDF5 with root attributes format, format_version, topology, description,
// partitions (+ the project's provenance), datasets partition (N, int32),
// biases (N, float64), edges (E×2, int64, i < j), weights (E, float64),
// optional qubits (N, int64) and optional persistent chains: chains (C×N,
// uint8), chain_sweeps (C, int64) and root attribute chain_seed.
//
// Files are opened and written collectively; chains are written and read in
// contiguous blocks per rank, the model datasets by rank 0 / by everyone.
#pragma once

#include <cstdint>
#include <string>

#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::rbm {

inline constexpr const char* kRbmFormat = "qvae-rbm";
inline constexpr std::int64_t kRbmFormatVersion = 1;

/// Persistent chains as stored in a file: this rank's block of `total` chains
/// and the seed whose Philox streams their sweep counters continue.
struct StoredChains {
  std::uint64_t seed = 0;
  std::int64_t total = 0;
  ChainBlock local;
};

/// Collective over `comm`: writes `machine` (and, when given, every rank's
/// block of persistent chains; blocks must tile [0, total) in rank order) to
/// `path` atomically.
void write_rbm(const std::string& path, const BoltzmannMachine& machine, const par::Communicator& comm,
               const io::Provenance& provenance, const StoredChains* chains = nullptr);

/// Collective over `comm`: reads a qvae-rbm file.  An unknown format or
/// version, inconsistent shapes, edges inside a partition or not ordered
/// i < j, ids out of range, repeated couplers or qubits, and non-finite
/// biases or weights are core::InputErrors naming the file and dataset.
BoltzmannMachine read_rbm(const std::string& path, const par::Communicator& comm);

/// Collective over `comm`: this rank's block (par::my_block) of the chains
/// stored in a qvae-rbm file (`chains`) or a qvae-samples file (`samples`),
/// with their sweep counters (`chain_sweeps`) and seed (`chain_seed`).  A file
/// without chains, or chains of another width than `units`, is a core::InputError.
StoredChains read_chains(const std::string& path, const par::Communicator& comm, std::int64_t units);

}  // namespace qvae::rbm
