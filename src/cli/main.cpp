// The `qvae` executable: dispatches to one subcommand per file in src/cli/.
#include <iostream>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"

namespace {

void print_usage(std::ostream& out) {
  out << "qvae — quantum-assisted VAEs for calorimeter showers, on clusters\n\n"
         "usage: qvae <command> [options] [--config FILE]... [--SECTION.KEY=VALUE]... [--json]\n"
         "       mpirun -np K qvae <command> ...   (same result for any K)\n\n"
         "commands:\n";
  for (const auto& command : qvae::cli::commands()) {
    std::string name = command.name;
    name.resize(10, ' ');
    out << "  " << name << command.summary << "\n";
  }
  out << "\n`qvae <command> --help` describes a command.  Exit codes: 0 ok, 2 usage or config,\n"
         "3 bad input data, 4 runtime or remote failure.\n";
}

}  // namespace

int main(int argc, char** argv) {
  return qvae::par::run_main(argc, argv, [&](qvae::par::Environment& env) {
    using namespace qvae;
    cli::Context context{env, par::Communicator(), {}, {}};
    for (int i = 0; i < argc; ++i) context.command_line += (i ? " " : "") + std::string(argv[i]);
    const std::string first = argc > 1 ? argv[1] : "";
    if (first == "-h" || first == "--help") {
      if (context.world.is_root()) print_usage(std::cout);
      return 0;
    }
    const cli::Command* command = nullptr;
    par::run_agreed(context.world, [&] {
      if (first.empty())
        throw core::UsageError(core::describe("no command given", "", "run `qvae --help` for the list"));
      const std::string name = first == "--version" ? "version" : first;
      std::string closest;
      std::size_t best = std::string::npos;
      for (const auto& c : cli::commands()) {
        if (c.name == name) command = &c;
        const std::size_t d = core::edit_distance(name, c.name);
        if (d < best) best = d, closest = c.name;
      }
      if (!command)
        throw core::UsageError(core::describe("unknown command '" + first + "'", "",
                                              "did you mean `qvae " + closest + "`? (`qvae --help` lists them)"));
    });
    context.args.assign(argv + 2, argv + argc);
    return command->run(context);
  });
}
