// --device: where a trained model's networks and prior chains run.
#include "cli.hpp"
#include "qvae/core/choices.hpp"

namespace qvae::cli {

void add_compute_device_option(po::options_description& options, const char* what) {
  options.add_options()("device", po::value<std::string>()->default_value("cpu"),
                        (std::string("where ") + what + " run: cpu, or cuda (one GPU per rank)").c_str());
}

rbm::DeviceKind compute_device_of(const po::variables_map& values) {
  return core::parse_choice(values["device"].as<std::string>(), {rbm::DeviceKind::cpu, rbm::DeviceKind::cuda},
                            "--device");
}

}  // namespace qvae::cli
