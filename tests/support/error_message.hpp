// Shared by the test suites: the message of the error an action throws, for
// tests that check what a user would read.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <typeinfo>

namespace qvae::testing {

/// The what() of the `Error` that `action` throws; a test failure and "" when it throws none.
template <class Error, class Action>
std::string error_message(Action&& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no " << typeid(Error).name() << " was thrown";
  return {};
}

}  // namespace qvae::testing
