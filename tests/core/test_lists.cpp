// Comma-separated lists of settings and options (core/lists.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/core/lists.hpp"

namespace qvae::core {
namespace {

TEST(Lists, ItemsAreTrimmedEmptyInnerItemsKeptAndATrailingCommaAddsNothing) {
  EXPECT_EQ(split_list(" a, b ,\tc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split_list("a,,b"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_list("a,"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(split_list("").empty());
}

TEST(Lists, NumbersParseWholeItemsAndRefuseTheRest) {
  EXPECT_EQ(parse_list<int>("32, 64,128", "k", "r"), (std::vector<int>{32, 64, 128}));
  EXPECT_EQ(parse_list<double>("1e3,2.5", "k", "r"), (std::vector<double>{1e3, 2.5}));
  EXPECT_EQ(parse_list<std::int64_t>("-7", "k", "r"), (std::vector<std::int64_t>{-7}));
  for (const char* bad : {"3x", "1.5", "a", "1,,2", "99999999999"})
    EXPECT_THROW(parse_list<int>(bad, "k", "r"), UsageError) << bad;
  for (const char* bad : {"nan", "1e999", "2 3"}) EXPECT_THROW(parse_list<double>(bad, "k", "r"), UsageError) << bad;
  EXPECT_TRUE(parse_list<double>("", "k", "r").empty());
  try {
    parse_list<double>("1,x", "qvae evaluate --energy-edges", "write MeV values");
    ADD_FAILURE() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'x' in '1,x'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--energy-edges"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qvae::core
