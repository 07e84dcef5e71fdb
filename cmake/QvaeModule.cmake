# qvae_add_module(NAME <m> DEPENDS ... [PRIVATE_DEPENDS ...]): one static
# library per module from every .cpp in its folder, alias qvae::<m>, public
# headers under include/qvae/<m>/.
function(qvae_add_module)
  cmake_parse_arguments(ARG "" "NAME" "DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  file(GLOB _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(qvae_${ARG_NAME} STATIC ${_sources})
  add_library(qvae::${ARG_NAME} ALIAS qvae_${ARG_NAME})
  target_include_directories(qvae_${ARG_NAME} PUBLIC
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include)
  target_link_libraries(qvae_${ARG_NAME} PUBLIC ${ARG_DEPENDS}
    PRIVATE qvae_warnings ${ARG_PRIVATE_DEPENDS})
  target_link_libraries(qvae_${ARG_NAME} PUBLIC qvae_sanitizers)
endfunction()

# qvae_add_test(NAME <t> SOURCES ... DEPENDS ... [MPI] [NP n]): a GoogleTest
# executable run by ctest, under mpirun when MPI is given.
function(qvae_add_test)
  # MPI_FILTER: a serial test plus NAME_mpi_npNP running only the GoogleTest
  # cases matching the filter (the ones that skip on 1 rank), MPI_TIMEOUT long.
  cmake_parse_arguments(ARG "MPI" "NAME;NP;TIMEOUT;MPI_FILTER;MPI_TIMEOUT" "SOURCES;DEPENDS;LABELS" ${ARGN})
  if(NOT ARG_NP)
    set(ARG_NP 2)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPENDS} qvae_test_main GTest::gtest qvae_warnings)
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  if(ARG_MPI)
    add_test(NAME ${ARG_NAME}_np${ARG_NP}
             COMMAND ${MPIEXEC_EXECUTABLE} ${QVAE_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} ${ARG_NP}
                     $<TARGET_FILE:${ARG_NAME}>)
    set_tests_properties(${ARG_NAME}_np${ARG_NP} PROPERTIES
      TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${ARG_NP} LABELS "mpi;${ARG_LABELS}")
  else()
    add_test(NAME ${ARG_NAME} COMMAND $<TARGET_FILE:${ARG_NAME}>)
    set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
  endif()
  if(ARG_MPI_FILTER)
    if(NOT ARG_MPI_TIMEOUT)
      set(ARG_MPI_TIMEOUT ${ARG_TIMEOUT})
    endif()
    add_test(NAME ${ARG_NAME}_mpi_np${ARG_NP}
             COMMAND ${MPIEXEC_EXECUTABLE} ${QVAE_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} ${ARG_NP}
                     $<TARGET_FILE:${ARG_NAME}> --gtest_filter=${ARG_MPI_FILTER})
    set_tests_properties(${ARG_NAME}_mpi_np${ARG_NP} PROPERTIES
      TIMEOUT ${ARG_MPI_TIMEOUT} PROCESSORS ${ARG_NP} LABELS "mpi;${ARG_LABELS}")
  endif()
endfunction()

# qvae_add_mpi_runs(TARGET <t> RANKS n... FILTER <gtest filter> [TIMEOUT s] [LABELS ...]):
# runs the GoogleTest cases of an existing test executable that match FILTER
# under mpirun once per rank count, as tests <t>_np<n>_<SUFFIX> (SUFFIX names
# the identity checked); for the identities that must hold on 1, 2 and 3 ranks.
function(qvae_add_mpi_runs)
  cmake_parse_arguments(ARG "" "TARGET;FILTER;TIMEOUT;SUFFIX" "RANKS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  foreach(np ${ARG_RANKS})
    set(procs ${np})
    if(procs GREATER 2)
      set(procs 2)  # a 2-core CI box runs 3 ranks oversubscribed
    endif()
    add_test(NAME ${ARG_TARGET}_${ARG_SUFFIX}_np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${QVAE_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} ${np}
                     $<TARGET_FILE:${ARG_TARGET}> --gtest_filter=${ARG_FILTER})
    set_tests_properties(${ARG_TARGET}_${ARG_SUFFIX}_np${np} PROPERTIES
      TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${procs} LABELS "mpi;${ARG_LABELS}")
  endforeach()
endfunction()
