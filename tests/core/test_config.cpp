#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/run_options.hpp"

using namespace qvae::core;

namespace {

ConfigSchema test_schema() {
  ConfigSchema schema;
  add_run_keys(schema);
  schema.add({"model.latent_nodes", ValueType::unsigned_integer, "302", "nodes per partition", {}});
  schema.add({"model.beta", ValueType::real, "1.0", "inverse temperature", {}});
  schema.add({"model.encoder", ValueType::string, "cnn", "encoder kind", {"cnn", "fcn"}});
  schema.add({"model.offset", ValueType::integer, "-3", "signed", {}});
  schema.add({"train.resume", ValueType::boolean, "false", "resume", {}});
  return schema;
}

/// A config file in the test's temp dir, removed at scope exit.
struct TempIni {
  std::string path;
  explicit TempIni(const std::string& text, const std::string& name = "cfg") {
    path = ::testing::TempDir() + "qvae_test_" + name + ".ini";
    std::ofstream(path) << text;
  }
  ~TempIni() { std::remove(path.c_str()); }
};

std::string usage_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no UsageError";
}

}  // namespace

TEST(Config, DefaultsApplyWithoutFilesOrOverrides) {
  const Config c = Config::resolve(test_schema(), {}, {});
  EXPECT_EQ(c.get_uint("model.latent_nodes"), 302u);
  EXPECT_DOUBLE_EQ(c.get_real("model.beta"), 1.0);
  EXPECT_EQ(c.get_int("model.offset"), -3);
  EXPECT_FALSE(c.get_bool("train.resume"));
  EXPECT_EQ(c.source("model.beta"), "default");
}

TEST(Config, LaterFilesWinAndCommandLineWinsOverFiles) {
  const TempIni a("[model]\nbeta = 2.5\nencoder = fcn\n# a comment\n", "a");
  const TempIni b("[model]\nbeta = 3.5\n[train]\nresume = yes\n", "b");
  const Config c = Config::resolve(test_schema(), {a.path, b.path}, {{"model.encoder", "cnn"}});
  EXPECT_DOUBLE_EQ(c.get_real("model.beta"), 3.5);
  EXPECT_EQ(c.source("model.beta"), b.path);
  EXPECT_TRUE(c.get_bool("train.resume"));
  EXPECT_EQ(c.get_string("model.encoder"), "cnn");
  EXPECT_EQ(c.source("model.encoder"), "command line");
}

TEST(Config, UnknownKeyNamesTheClosestKnownKey) {
  const std::string msg = usage_message([] { Config::resolve(test_schema(), {}, {{"model.latnt_nodes", "3"}}); });
  EXPECT_NE(msg.find("unknown config key 'model.latnt_nodes'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model.latent_nodes'"), std::string::npos) << msg;
  // A key without a section is matched against the key part too.
  const std::string bare = usage_message([] { Config::resolve(test_schema(), {}, {{"seed", "3"}}); });
  EXPECT_NE(bare.find("'run.seed'"), std::string::npos) << bare;
}

TEST(Config, UnknownKeyInAFileNamesTheFile) {
  const TempIni a("[model]\nbeta = 2\nbogus_key = 1\n", "unknown");
  const std::string msg = usage_message([&] { Config::resolve(test_schema(), {a.path}, {}); });
  EXPECT_NE(msg.find("model.bogus_key"), std::string::npos) << msg;
  EXPECT_NE(msg.find(a.path), std::string::npos) << msg;
}

TEST(Config, ValuesOfTheWrongTypeAreRejected) {
  const auto schema = test_schema();
  EXPECT_THROW(Config::resolve(schema, {}, {{"model.beta", "fast"}}), UsageError);
  EXPECT_THROW(Config::resolve(schema, {}, {{"model.beta", "nan"}}), UsageError);
  EXPECT_THROW(Config::resolve(schema, {}, {{"model.latent_nodes", "-1"}}), UsageError);
  EXPECT_THROW(Config::resolve(schema, {}, {{"model.latent_nodes", "3x"}}), UsageError);
  EXPECT_THROW(Config::resolve(schema, {}, {{"model.offset", "1.5"}}), UsageError);
  EXPECT_THROW(Config::resolve(schema, {}, {{"train.resume", "maybe"}}), UsageError);
  const std::string msg = usage_message([&] { Config::resolve(schema, {}, {{"model.encoder", "rnn"}}); });
  EXPECT_NE(msg.find("one of cnn, fcn"), std::string::npos) << msg;
}

TEST(Config, MissingOrMalformedFilesAreUsageErrors) {
  EXPECT_THROW(Config::resolve(test_schema(), {"/nonexistent/qvae.ini"}, {}), UsageError);
  const TempIni bad("[model\nbeta = 1\n", "malformed");
  EXPECT_THROW(Config::resolve(test_schema(), {bad.path}, {}), UsageError);
}

TEST(Config, IniOutputReadsBackToTheSameConfig) {
  const Config c = Config::resolve(test_schema(), {}, {{"model.beta", "0.25"}, {"train.resume", "on"}});
  const TempIni round(c.to_ini(), "roundtrip");
  const Config back = Config::resolve(test_schema(), {round.path}, {});
  EXPECT_EQ(back.to_ini(), c.to_ini());
  EXPECT_NE(c.to_ini().find("[model]\nlatent_nodes = 302\nbeta = 0.25\n"), std::string::npos) << c.to_ini();
  EXPECT_NE(c.to_ini(true).find("beta = 0.25  # command line"), std::string::npos);
}

TEST(Config, JsonHasTypedValuesPerSection) {
  const Config c = Config::resolve(test_schema(), {}, {{"model.offset", "7"}});
  const nlohmann::json j = c.to_json();
  EXPECT_EQ(j["model"]["offset"].get<int>(), 7);
  EXPECT_TRUE(j["model"]["beta"].is_number_float());
  EXPECT_TRUE(j["train"]["resume"].is_boolean());
  EXPECT_EQ(j["model"]["encoder"], "cnn");
}

TEST(Config, SchemaRefusesDuplicatesAndBadDefaults) {
  ConfigSchema s;
  s.add({"a.b", ValueType::integer, "1", "", {}});
  EXPECT_THROW(s.add({"a.b", ValueType::integer, "1", "", {}}), std::logic_error);
  EXPECT_THROW(s.add({"a.c", ValueType::integer, "one", "", {}}), std::logic_error);
  EXPECT_THROW(s.add({"nosection", ValueType::integer, "1", "", {}}), std::logic_error);
}

TEST(Config, EditDistanceCountsSingleCharacterEdits) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(RunOptions, ParsesTheRunSection) {
  const Config c = Config::resolve(test_schema(), {}, {{"run.seed", "99"}, {"run.log_level", "debug"}});
  const RunOptions r = RunOptions::from(c);
  EXPECT_EQ(r.seed, 99u);
  EXPECT_EQ(r.log_level, log::Level::debug);
  EXPECT_THROW(Config::resolve(test_schema(), {}, {{"run.log_level", "loud"}}), UsageError);
  const Config zero = Config::resolve(test_schema(), {}, {{"run.progress_interval_s", "0"}});
  EXPECT_THROW(RunOptions::from(zero), UsageError);
}
