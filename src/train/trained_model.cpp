#include "qvae/train/trained_model.hpp"

#include <torch/torch.h>

#include <optional>
#include <sstream>

#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/train/checkpoint.hpp"

namespace qvae::train {

TrainedModel load_trained_model(const std::string& model_or_run_dir, const core::ConfigSchema& schema,
                                const par::Communicator& comm, rbm::DeviceKind device, const std::string& key) {
  const std::string path = checkpoint_path(model_or_run_dir);
  std::optional<core::Config> config;
  std::optional<geometry::Geometry> geometry;
  std::string model_bytes;
  par::run_agreed(comm, [&] {
    const io::File file = io::File::open_serial(path);
    io::require_format(file, kCheckpointFormat, kCheckpointFormatVersion);
    // Keys this build does not know (from a newer qvae) are left out, not refused.
    std::vector<core::ConfigOverride> stored;
    for (const auto& pair : core::parse_ini_text(io::get_string_attribute(file, "/", "config")))
      if (schema.find(pair.key)) stored.push_back(pair);
    config = core::Config::resolve(schema, {}, stored);
    geometry = geometry::Geometry::builtin(io::get_string_attribute(file, "/", "geometry"));
    const std::vector<std::uint8_t> bytes = io::read_all<std::uint8_t>(file, "model_state", 0);
    model_bytes.assign(bytes.begin(), bytes.end());
  });
  const model::ModelConfig model_config = model::model_config_from(*config);
  std::optional<model::Qvae> qvae;
  const int node_rank = comm.node_rank();
  par::run_agreed(comm, [&] {
    const torch::Device place(rbm::resolve_device(device, node_rank, key));
    torch::manual_seed(0);  // every parameter comes from the checkpoint
    // The prior's seed only initialises parameters that the load overwrites.
    qvae.emplace(model_config, *geometry, model::make_prior(model_config, 0, comm));
    std::istringstream in(model_bytes, std::ios::binary);
    torch::load(*qvae, in, torch::kCPU);  // a checkpoint written on a GPU loads anywhere
    (*qvae)->place_on(place);
    (*qvae)->eval();
  });
  return TrainedModel{path, std::move(*config), std::move(*geometry), std::move(*qvae)};
}

}  // namespace qvae::train
