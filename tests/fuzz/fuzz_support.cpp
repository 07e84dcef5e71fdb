#include "fuzz_support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <typeinfo>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/par/environment.hpp"

namespace qvae::fuzz {

std::uint16_t Bytes::u16() {
  const std::uint16_t low = u8();
  return static_cast<std::uint16_t>(low | (u8() << 8));
}

std::uint64_t Bytes::u64() {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(u8()) << (8 * i);
  return value;
}

double Bytes::f64() {
  const std::uint64_t bits = u64();
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::string Bytes::text(std::size_t length) {
  const std::size_t n = std::min(length, empty() ? 0 : size_ - pos_);
  std::string out(reinterpret_cast<const char*>(data_) + pos_, n);
  pos_ += n;
  return out;
}

std::string Bytes::rest() { return text(size_); }

void expect_clean(const char* harness, const std::function<void()>& body) {
  try {
    body();
  } catch (const core::Error&) {
    // The documented refusal of bad input.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: FINDING: %s escaped the reader: %s\n", harness, typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: FINDING: a non-std exception escaped the reader\n", harness);
    std::abort();
  }
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string path = base + "/qvae-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

namespace {
std::unique_ptr<par::Environment> environment;
std::unique_ptr<par::Communicator> communicator;
}  // namespace

void start_runtime() {
  if (environment) return;
  static int argc = 1;
  static char name[] = "qvae-fuzz";
  static char* args[] = {name, nullptr};
  static char** argv = args;
  environment = std::make_unique<par::Environment>(argc, argv);
  communicator = std::make_unique<par::Communicator>();
  // Readers log warnings for odd but acceptable files; millions of them would drown the run.
  core::log::set_level(core::log::Level::error);
  // The scratch directory goes when the process ends normally (its name is
  // created first, so it outlives this handler).
  scratch_dir();
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir(), ignored);
  });
}

const par::Communicator& world() { return *communicator; }

}  // namespace qvae::fuzz
