// qvae config show: the configuration every command would run with, after
// --config files and --section.key=value overrides.
#include <iostream>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::cli {

int run_config(Context& context) {
  CommandLine cli("config", "qvae config show [--config FILE]... [--SECTION.KEY=VALUE]... [--sources] [--json]",
                  "Prints the resolved configuration as an INI file (or JSON): every known key,\n"
                  "its value after config files and overrides, optionally where it came from.");
  bool sources = false;
  cli.options().add_options()("action", po::value<std::string>()->default_value("show"), "what to do: show")(
      "sources", po::bool_switch(&sources), "annotate each non-default value with its source");
  cli.positional().add("action", 1);
  if (!cli.parse(context)) return 0;
  const std::string action = cli.values()["action"].as<std::string>();
  par::run_agreed(context.world, [&] {
    if (action != "show")
      throw core::UsageError(
          core::describe("unknown action '" + action + "'", "qvae config", "use `qvae config show`"));
  });
  if (!context.world.is_root()) return 0;
  if (cli.json())
    core::print_json_summary(cli.config().to_json());
  else
    std::cout << cli.config().to_ini(sources);
  return 0;
}

}  // namespace qvae::cli
