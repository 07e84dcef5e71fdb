#include "qvae/core/resource_usage.hpp"

#include <sys/resource.h>
#include <time.h>

#include <cerrno>
#include <system_error>

namespace qvae::core {

double process_cpu_seconds() {
  timespec now{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now) != 0)
    throw std::system_error(errno, std::generic_category(), "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

double peak_rss_mb() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) throw std::system_error(errno, std::generic_category(), "getrusage");
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace qvae::core
