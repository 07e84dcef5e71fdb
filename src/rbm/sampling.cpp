#include "qvae/rbm/sampling.hpp"

#include <algorithm>
#include <cmath>

#include "chain_io.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::rbm {

SampleResult run_sample_job(const BoltzmannMachine& machine, const SampleJob& job, const par::Communicator& comm,
                            const SamplerFactory& factory) {
  if (job.burn_in < 0 || job.sweeps < 0 || (!job.resume && job.chains < 0))
    throw core::UsageError(core::describe("chains, burn-in and sweeps must be >= 0", "qvae::rbm::run_sample_job"));
  SampleResult result;
  result.chains.seed = job.settings.seed;
  ChainBlock start;
  if (job.resume) {
    start = job.resume->local;
    result.chains.total = job.resume->total;
  } else {
    const par::Block block = par::my_block(job.chains, comm);
    start = random_chains(machine.num_nodes(), job.settings.seed, block.offset, block.count);
    result.chains.total = job.chains;
  }
  std::unique_ptr<Sampler> sampler = factory(machine, job.settings);
  result.backend = sampler->backend();
  sampler->set_chains(start);
  if (job.clamp) sampler->set_clamp(*job.clamp);

  // Chunks of sweeps between progress reports; chunking does not change results.
  const std::int64_t total_sweeps = job.burn_in + job.sweeps;
  const std::int64_t chunk = std::max<std::int64_t>(1, total_sweeps / 100);
  comm.barrier();
  const core::Stopwatch t0;
  for (std::int64_t done = 0; done < total_sweeps;) {
    const std::int64_t step = std::min(chunk, total_sweeps - done);
    sampler->sweep(step);
    done += step;
    if (job.on_progress) job.on_progress(done);
  }
  result.seconds = comm.max(t0.seconds());
  result.chains.local = sampler->chains();
  result.energies = chain_energies(machine, result.chains.local);
  return result;
}

bool write_samples(const std::string& path, const par::Communicator& comm, const SampleResult& result,
                   const SampleFileInfo& info, const io::Provenance& provenance) {
  io::OutputFile file = io::OutputFile::create(path, comm);
  io::set_format(file, kSamplesFormat, kSamplesFormatVersion);
  io::write_provenance(file, provenance);
  io::set_attribute(file, "/", "rbm", info.rbm_path);
  io::set_attribute(file, "/", "backend", result.backend);
  io::set_attribute(file, "/", "beta", info.beta);
  io::set_attribute(file, "/", "beta_scope", std::string(to_string(info.beta_scope)));
  io::set_attribute(file, "/", "burn_in", info.burn_in);
  io::set_attribute(file, "/", "sweeps", info.sweeps);
  if (!info.clamped_partitions.empty())  // (HDF5 attributes cannot be empty arrays)
    io::set_attribute(file, "/", "clamped_partitions",
                      std::vector<std::int64_t>(info.clamped_partitions.begin(), info.clamped_partitions.end()));
  const bool chains_collective = detail::write_chain_datasets(file, "samples", result.chains);
  const bool energies_collective = detail::write_row_block(
      file, "energies", result.chains.total, 0, par::Block{result.chains.local.first_chain, result.chains.local.count},
      result.energies.data());
  file.commit();
  return chains_collective && energies_collective;
}

Clamp read_clamp_values(const std::string& path, const par::Communicator& comm, const BoltzmannMachine& machine,
                        const std::vector<int>& partitions, std::int64_t total_chains) {
  for (int p : partitions)
    if (p < 0 || p >= machine.partitions())
      throw core::UsageError(core::describe(
          "clamped partition " + std::to_string(p) + " is outside [0, " + std::to_string(machine.partitions()) + ")",
          "--clamp-partition"));
  const std::vector<std::int64_t> nodes = clamped_nodes(machine, partitions);
  const std::int64_t columns = static_cast<std::int64_t>(nodes.size());
  const io::File file = io::File::open_parallel(path, comm);
  const bool full_states = !file.has("values") && file.has("samples");
  const std::string name = full_states ? "samples" : "values";
  const io::DatasetShape shape = io::dataset_shape(file, name);  // InputError when missing
  const std::int64_t expected_cols = full_states ? machine.num_nodes() : columns;
  if (shape.dims.size() != 2 || shape.dims[1] != expected_cols || (shape.dims[0] != 1 && shape.dims[0] != total_chains))
    throw core::InputError(core::describe(
        "clamp values of shape " + shape.text() + " do not fit: expected (1, " + std::to_string(expected_cols) +
            ") or (" + std::to_string(total_chains) + ", " + std::to_string(expected_cols) + ")",
        io::where_text(path, name),
        full_states ? "give one row per chain (or one row for all) of full states"
                    : "one column per unit of the clamped partitions, one row for all chains or one per chain"));
  const bool per_chain = shape.dims[0] != 1 || total_chains == 1;
  const par::Block block = per_chain ? par::my_block(total_chains, comm) : par::Block{0, 1};
  std::vector<std::int64_t> rows;  // any integer width (numpy's default int64, uint8, ...)
  io::read_rows(file, name, block, expected_cols, rows);
  Clamp clamp;
  clamp.partitions = partitions;
  std::sort(clamp.partitions.begin(), clamp.partitions.end());
  clamp.rows = block.count;
  clamp.values.resize(static_cast<std::size_t>(block.count * columns));
  for (std::int64_t r = 0; r < block.count; ++r)
    for (std::int64_t k = 0; k < columns; ++k) {
      const std::int64_t v =
          rows[static_cast<std::size_t>(r * expected_cols + (full_states ? nodes[static_cast<std::size_t>(k)] : k))];
      if (v != 0 && v != 1)
        throw core::InputError(
            core::describe("clamp value " + std::to_string(v) + " in row " + std::to_string(block.offset + r),
                           io::where_text(path, name), "clamp values are 0 or 1"));
      clamp.values[static_cast<std::size_t>(r * columns + k)] = static_cast<std::uint8_t>(v);
    }
  return clamp;
}

EnergySummary summarise_energies(const std::vector<double>& local_energies, const par::Communicator& comm) {
  const std::vector<double> all = comm.allgather_blocks(local_energies);  // global order on every rank
  EnergySummary summary;
  summary.count = static_cast<std::int64_t>(all.size());
  if (all.empty()) return summary;
  double sum = 0, square = 0;
  for (double e : all) sum += e;
  summary.mean = sum / static_cast<double>(all.size());
  for (double e : all) square += (e - summary.mean) * (e - summary.mean);
  const auto n = static_cast<double>(all.size());
  summary.std_error = all.size() > 1 ? std::sqrt(square / (n - 1) / n) : 0.0;
  return summary;
}

}  // namespace qvae::rbm
