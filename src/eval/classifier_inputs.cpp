#include "qvae/eval/classifier_inputs.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/par/partition.hpp"

namespace qvae::eval {

const char* to_string(ClassifierInputs inputs) { return inputs == ClassifierInputs::low ? "low" : "high"; }

ClassifierInputBuilder::ClassifierInputBuilder(ClassifierInputs inputs, const FeatureCalculator& calculator,
                                               std::int64_t voxels)
    : inputs_(inputs), calculator_(calculator), voxels_(voxels) {
  if (inputs_ == ClassifierInputs::high) {
    entries_ = cls_high_entries(calculator_.layout());
    size_ = static_cast<int>(entries_.size());
    features_.resize(static_cast<std::size_t>(calculator_.layout().size()));
  } else {
    size_ = static_cast<int>(voxels_ + 1);
  }
}

void ClassifierInputBuilder::build(const float* voxels, double incident_energy, double* out) const {
  if (inputs_ == ClassifierInputs::high) {
    calculator_.compute(voxels, incident_energy, features_.data());
    cls_high_vector(entries_, features_.data(), out);
    return;
  }
  out[0] = std::log10(incident_energy);
  const double threshold = calculator_.min_energy();
  for (std::int64_t v = 0; v < voxels_; ++v) {
    const double x = static_cast<double>(voxels[v]);
    out[v + 1] = x >= threshold ? x / incident_energy : 0.0;
  }
}

void ClassifierInputBuilder::append(const data::ShowerBlock& block, FeatureTable& table) const {
  table.cols = size_;
  const std::size_t start = table.values.size();
  table.values.resize(start + static_cast<std::size_t>(block.events() * size_));
  for (std::int64_t i = 0; i < block.events(); ++i)
    build(block.shower(i), block.incident_energies[static_cast<std::size_t>(i)],
          table.values.data() + start + static_cast<std::size_t>(i * size_));
}

FeatureTable classifier_inputs(const data::CaloReader& reader, std::int64_t events,
                               const ClassifierInputBuilder& builder, std::int64_t chunk_rows,
                               const par::Communicator& comm) {
  FeatureTable local;
  local.cols = builder.input_size();
  const par::Block mine = par::my_block(std::min(events, reader.events()), comm);
  local.first_event = mine.offset;
  local.values.reserve(static_cast<std::size_t>(mine.count * local.cols));
  // Every rank takes part in every collective read: agree on the step count.
  const par::CollectiveChunks chunks(mine, chunk_rows, comm);
  for (std::int64_t step = 0; step < chunks.steps(); ++step) builder.append(reader.read_checked(chunks[step]), local);
  return allgather_rows(local, comm);
}

}  // namespace qvae::eval
