#include <gtest/gtest.h>

#include "qvae/core/error.hpp"

using namespace qvae::core;

TEST(Error, ExitCodesFollowTheDocumentedMapping) {
  EXPECT_EQ(static_cast<int>(UsageError("x").code()), 2);
  EXPECT_EQ(static_cast<int>(InputError("x").code()), 3);
  EXPECT_EQ(static_cast<int>(RuntimeError("x").code()), 4);
  EXPECT_EQ(exit_code_of(std::runtime_error("plain")), ExitCode::runtime);
  EXPECT_EQ(exit_code_of(InputError("x")), ExitCode::bad_input);
}

TEST(Error, MessagesAreOneLine) {
  const InputError e("first line\nsecond line\n\nthird\n");
  EXPECT_STREQ(e.what(), "first line; second line; third");
  EXPECT_EQ(error_line("a\tb\nc"), "qvae: error: a b; c");
}

TEST(Error, DescribeJoinsWhatWhereAndRemedySkippingEmptyParts) {
  EXPECT_EQ(describe("bad value", "file 'x.h5'", "fix it"), "bad value, file 'x.h5', fix it");
  EXPECT_EQ(describe("bad value", "", "fix it"), "bad value, fix it");
  EXPECT_EQ(describe("bad value"), "bad value");
}
