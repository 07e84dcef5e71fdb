# Every dependency is a Debian package installed by tools/setup.sh.
# Targets below are imported targets only; nothing else hard-codes paths.

include(FeatureSummary)
find_package(MPI REQUIRED COMPONENTS C CXX)
set_package_properties(MPI PROPERTIES TYPE REQUIRED PURPOSE "ranks, collectives (Open MPI 4.1)")

# HDF5 must be the parallel (MPI-IO) build: collective writes of row blocks need it.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "qvae-hpc needs a parallel HDF5 (MPI-IO), but the HDF5 found (${HDF5_VERSION}, "
    "${HDF5_C_INCLUDE_DIRS}) is serial. Install Debian's libhdf5-openmpi-dev "
    "(tools/setup.sh does) or point HDF5_ROOT at a parallel build.")
endif()
if(NOT TARGET HDF5::HDF5)
  add_library(HDF5::HDF5 INTERFACE IMPORTED)
  target_include_directories(HDF5::HDF5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(HDF5::HDF5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(HDF5::HDF5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

find_package(Kokkos REQUIRED)
# Debian's libtrilinos-kokkos-dev exports Kokkos::kokkos with an include dir
# (<prefix>/lib/include) that does not exist; the headers live under trilinos/.
# Repair the imported target here, once, so every consumer just links it.
find_path(QVAE_KOKKOS_INCLUDE_DIR Kokkos_Core.hpp PATH_SUFFIXES trilinos
          DOC "Directory holding Kokkos_Core.hpp")
if(NOT QVAE_KOKKOS_INCLUDE_DIR)
  message(FATAL_ERROR "Kokkos_Core.hpp not found; install libtrilinos-kokkos-dev")
endif()
get_target_property(_kokkos_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
set(_kokkos_fixed ${QVAE_KOKKOS_INCLUDE_DIR})
foreach(_dir IN LISTS _kokkos_inc)
  if(EXISTS "${_dir}")
    list(APPEND _kokkos_fixed ${_dir})
  endif()
endforeach()
set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kokkos_fixed}")

# Debian's LibTorch 1.13 (CPU only) by default; any other, e.g. the CUDA one
# inside a PyTorch wheel, with -DCMAKE_PREFIX_PATH=<libtorch> or -DTorch_DIR=...
# (train.device = cuda, docs/training.md "Devices").
find_package(Torch REQUIRED)
set_package_properties(Torch PROPERTIES TYPE REQUIRED PURPOSE "QVAE model and training (LibTorch 1.13 or newer)")

find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)  # the FPD's eigen-solver (src/eval/linalg.cpp)
find_package(nlohmann_json 3 REQUIRED)
find_package(CURL REQUIRED)

if(QVAE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(QVAE_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# Running MPI programs from ctest: oversubscribe on small machines, and Open MPI
# refuses root unless told (CI and containers run as root).
set(QVAE_MPIEXEC_FLAGS --oversubscribe)
execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_uid STREQUAL "0")
  list(APPEND QVAE_MPIEXEC_FLAGS --allow-run-as-root)
endif()
