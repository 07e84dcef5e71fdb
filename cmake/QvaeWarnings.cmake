# Warnings and sanitizers live in INTERFACE targets that our own targets link;
# nothing leaks into imported targets.
add_library(qvae_warnings INTERFACE)
target_compile_options(qvae_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Woverloaded-virtual -Wdouble-promotion
    -Wimplicit-fallthrough>
  $<$<BOOL:${QVAE_WERROR}>:-Werror>)

add_library(qvae_sanitizers INTERFACE)
if(QVAE_SANITIZE)
  target_compile_options(qvae_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(qvae_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# Fuzz builds (tools/fuzz.sh): libraries get libFuzzer's coverage hooks without
# its main, plus ASan+UBSan; any UB aborts so libFuzzer records the input.
if(QVAE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "QVAE_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)")
  endif()
  target_compile_options(qvae_sanitizers INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  target_link_options(qvae_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
