// What this process has used so far: CPU time (all its threads) and peak
// resident memory.  Benchmarks report CPU time next to wall time because it
// stays meaningful when other work shares the cores.
#pragma once

namespace qvae::core {

/// CPU seconds this process has consumed (CLOCK_PROCESS_CPUTIME_ID).
double process_cpu_seconds();

/// Peak resident memory of this process in MB (getrusage's ru_maxrss).
double peak_rss_mb();

}  // namespace qvae::core
