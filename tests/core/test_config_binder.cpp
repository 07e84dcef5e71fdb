// The table-driven config binder: defaults come from the struct, reads fill
// members (also nested ones), enums go by name, narrow integers refuse what
// they cannot hold.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "qvae/core/config_binder.hpp"
#include "qvae/core/lists.hpp"

namespace qvae::core {
namespace {

enum class Colour { red, green };
const char* to_string(Colour colour) { return colour == Colour::red ? "red" : "green"; }

struct Inner {
  double rate = 0.1;
};

struct Settings {
  int count = 7;
  std::uint64_t seed = 42;
  double scale = 2.5e-4;
  bool verbose = false;
  std::string name = "demo";
  Colour colour = Colour::green;
  Inner inner;
  std::vector<int> widths{3, 4};
};

const ConfigBinder<Settings>& binder() {
  static const ConfigBinder<Settings> keys = [] {
    ConfigBinder<Settings> k;
    k.value("t.count", "a count", &Settings::count)
        .value("t.seed", "a seed", &Settings::seed)
        .value("t.scale", "a scale", &Settings::scale)
        .value("t.verbose", "a switch", &Settings::verbose)
        .value("t.name", "a name", &Settings::name)
        .choice("t.colour", "a colour", {Colour::red, Colour::green}, &Settings::colour)
        .value("t.rate", "a nested member", &Settings::inner, &Inner::rate)
        .text(
            "t.widths", "a list",
            [](const Settings& s) {
              std::string text;
              for (int w : s.widths) text += (text.empty() ? "" : ",") + std::to_string(w);
              return text;
            },
            [](Settings& s, const std::string& text) { s.widths = parse_list<int>(text, "t.widths", "e.g. 1,2"); });
    return k;
  }();
  return keys;
}

ConfigSchema schema() {
  ConfigSchema s;
  binder().add_keys(s);
  return s;
}

TEST(ConfigBinder, SchemaDefaultsAreTheStructDefaults) {
  const ConfigSchema s = schema();
  ASSERT_EQ(s.keys().size(), 8u);
  EXPECT_EQ(s.find("t.count")->default_value, "7");
  EXPECT_EQ(s.find("t.count")->type, ValueType::integer);
  EXPECT_EQ(s.find("t.seed")->type, ValueType::unsigned_integer);
  EXPECT_EQ(s.find("t.scale")->default_value, "0.00025");
  EXPECT_EQ(s.find("t.verbose")->default_value, "false");
  EXPECT_EQ(s.find("t.name")->default_value, "demo");
  EXPECT_EQ(s.find("t.colour")->default_value, "green");
  EXPECT_EQ(s.find("t.colour")->choices, (std::vector<std::string>{"red", "green"}));
  EXPECT_EQ(s.find("t.rate")->default_value, "0.1");
  EXPECT_EQ(s.find("t.widths")->default_value, "3,4");
  EXPECT_EQ(s.find("t.rate")->help, "a nested member");
}

TEST(ConfigBinder, ReadFillsEveryMemberFromTheResolvedConfig) {
  const Config config = Config::resolve(schema(), {},
                                        {{"t.count", "-3"},
                                         {"t.seed", "18446744073709551615"},
                                         {"t.scale", "1e-3"},
                                         {"t.verbose", "yes"},
                                         {"t.name", "x"},
                                         {"t.colour", "red"},
                                         {"t.rate", "0.75"},
                                         {"t.widths", "5,6,7"}});
  const Settings s = binder().read(config);
  EXPECT_EQ(s.count, -3);
  EXPECT_EQ(s.seed, 18446744073709551615ull);
  EXPECT_EQ(s.scale, 1e-3);
  EXPECT_TRUE(s.verbose);
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.colour, Colour::red);
  EXPECT_EQ(s.inner.rate, 0.75);
  EXPECT_EQ(s.widths, (std::vector<int>{5, 6, 7}));
}

TEST(ConfigBinder, DefaultsRoundTripThroughTheSchema) {
  const Settings s = binder().read(Config::resolve(schema(), {}, {}));
  const Settings d;
  EXPECT_EQ(s.count, d.count);
  EXPECT_EQ(s.scale, d.scale);
  EXPECT_EQ(s.colour, d.colour);
  EXPECT_EQ(s.inner.rate, d.inner.rate);
  EXPECT_EQ(s.widths, d.widths);
}

TEST(ConfigBinder, BadValuesAreUsageErrorsNamingTheKey) {
  EXPECT_THROW(Config::resolve(schema(), {}, {{"t.colour", "blue"}}), UsageError);
  const Config wide = Config::resolve(schema(), {}, {{"t.count", "4294967296"}});
  try {
    binder().read(wide);
    FAIL() << "an int member took 2^32";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("t.count"), std::string::npos) << e.what();
  }
  EXPECT_THROW(binder().read(Config::resolve(schema(), {}, {{"t.widths", "5,x"}})), UsageError);
}

TEST(ConfigBinder, KeysMissingFromTheSchemaKeepTheMemberValue) {
  ConfigSchema partial;
  partial.add({"t.count", ValueType::integer, "9", "", {}});
  const Settings s = binder().read(Config::resolve(partial, {}, {}));
  EXPECT_EQ(s.count, 9);
  EXPECT_EQ(s.name, "demo");
}

TEST(ConfigBinder, RealTextIsTheShortestRoundTrip) {
  EXPECT_EQ(real_text(600.0), "600");
  EXPECT_EQ(real_text(0.1), "0.1");
  EXPECT_EQ(real_text(1e-7), "1e-07");
  EXPECT_EQ(real_text(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(std::strtod(real_text(0.1 + 0.2).c_str(), nullptr), 0.1 + 0.2);
}

}  // namespace
}  // namespace qvae::core
