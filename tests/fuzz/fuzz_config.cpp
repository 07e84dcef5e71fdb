// The INI/config layer (core::Config): an INI file, then command-line style
// overrides, resolved against a schema with a key of every value type.  Bad
// text must be a core::UsageError; a configuration that resolves must survive
// the round trip every checkpoint makes (to_ini, parse_ini_text, resolve)
// unchanged.
#include <fstream>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/train/checkpoint.hpp"

namespace {

const qvae::core::ConfigSchema& schema() {
  using qvae::core::ValueType;
  static const qvae::core::ConfigSchema s = [] {
    qvae::core::ConfigSchema out;
    out.add({"data.file", ValueType::string, "", "", {}});
    out.add({"data.geometry", ValueType::string, "auto", "", {"auto", "ds1-photons", "ds2"}});
    out.add({"train.epochs", ValueType::integer, "10", "", {}});
    out.add({"train.batch", ValueType::unsigned_integer, "64", "", {}});
    out.add({"train.lr", ValueType::real, "0.001", "", {}});
    out.add({"train.amp", ValueType::boolean, "false", "", {}});
    out.add({"run.seed", ValueType::unsigned_integer, "1", "", {}});
    out.add({"run.log", ValueType::string, "info", "", {"debug", "info", "warn"}});
    return out;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  // INI text, then after a NUL byte one "key=value" override per line.
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  const std::string ini = input.substr(0, split);
  std::vector<core::ConfigOverride> overrides;
  if (split != std::string::npos) {
    std::istringstream lines(input.substr(split + 1));
    std::string line;
    while (std::getline(lines, line)) {
      const auto eq = line.find('=');
      overrides.push_back({line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 1)});
    }
  }
  const std::string path = fuzz::scratch_dir() + "/config.ini";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << ini;
  }
  fuzz::expect_clean("fuzz_config", [&] {
    const core::Config from_file = core::Config::resolve(schema(), {path}, {});
    from_file.to_json().dump();
    // What a checkpoint stores must resolve to the same configuration.
    const std::string stored = from_file.to_ini();
    const core::Config reread = core::Config::resolve(schema(), {}, core::parse_ini_text(stored));
    if (reread.to_ini() != stored) {
      std::fprintf(stderr, "fuzz_config: FINDING: the INI round trip changed\n%s\ninto\n%s\n", stored.c_str(),
                   reread.to_ini().c_str());
      std::abort();
    }
  });
  fuzz::expect_clean("fuzz_config", [&] {
    const core::Config config = core::Config::resolve(schema(), {path}, overrides);
    config.to_ini(true);
    config.to_json().dump();
    config.get_int("train.epochs");
    config.get_uint("train.batch");
    config.get_real("train.lr");
  });
  return 0;
}
