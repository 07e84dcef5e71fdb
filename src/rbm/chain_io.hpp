// Internal: persistent chains in HDF5 files (qvae-rbm and qvae-samples), one
// contiguous block of chains per rank, written and read collectively.
#pragma once

#include <string>

#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/rbm/rbm_file.hpp"

namespace qvae::rbm::detail {

/// Collective: creates dataset `name` of (total, cols) — (total) when cols is
/// 0 — and writes this rank's rows `block`.  An empty dataset is created
/// without a transfer (HDF5 refuses a transfer into zero rows).  Returns
/// whether the transfer was collective (true when there was none on a
/// parallel file).
template <class T>
bool write_row_block(io::File& file, const std::string& name, std::int64_t total, std::int64_t cols,
                     const par::Block& block, const T* data) {
  io::RowWriter<T> writer(file, name, total, cols);
  if (total == 0) return file.is_parallel();
  return writer.write(block, data).collective;
}

/// Collective: writes dataset `states_name` (total × N, uint8), `chain_sweeps`
/// (total, int64) and root attribute `chain_seed`.  Each rank's block must
/// start where the previous rank's ended (std::logic_error otherwise).
/// Returns whether both transfers were collective.
bool write_chain_datasets(io::File& file, const std::string& states_name, const StoredChains& chains);

/// Collective: this rank's block of `states_name` (checked to be (C, units))
/// with its counters and seed.
StoredChains read_chain_datasets(const io::File& file, const std::string& states_name, std::int64_t units);

}  // namespace qvae::rbm::detail
