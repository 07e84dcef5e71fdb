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
