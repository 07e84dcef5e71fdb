// GoogleTest main for every qvae test: MPI, then Kokkos, around the tests.
#include <gtest/gtest.h>

#include "qvae/par/environment.hpp"

int main(int argc, char** argv) {
  qvae::par::Environment environment(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
