#!/usr/bin/env bash
# Checks the CUDA training path on a lent GPU machine in one call (docs/gpu-check.md).
#
#   tools/gpu-check.sh --fetch     here (Debian 12, network): download the .deb files of
#                                  every dependency the GPU image lacks into .gpu/debs/
#   tools/gpu-check.sh --run       there (GPU, no network, root): unpack them into a
#                                  prefix, configure + build against the image's CUDA
#                                  LibTorch, run the tests labelled `device` on CUDA and
#                                  `qvae bench train` on CUDA and on one CPU core
#   tools/gpu-check.sh --unpack-only --prefix DIR
#                                  only the unpack + relocation part of --run (to check
#                                  it anywhere); prints how to use the prefix
#
# Options: --prefix DIR (unpack prefix, default /tmp/qvae-prefix), --build-dir DIR
# (default /tmp/qvae-build), --budget S (seconds --run may take, default 540; each
# step's share scales with it).  QVAE_GPU_CHECK_JOBS: ninja jobs (default: all cores).
# --run writes gpu-check.log and gpu-check.json to $OUT (./gpu-check-out without it)
# and exits 0 only when the build, the device tests and the CUDA bench all passed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
debs="$root/.gpu/debs"
prefix=/tmp/qvae-prefix
build=/tmp/qvae-build
budget=540
max_debs_mib=55
arch=x86_64-linux-gnu

# --- what the device image lacks -------------------------------------------------
# Development packages: taken as they are, their own Depends not followed (those
# pull in gfortran, static-library -dev packages and docs that the build never uses).
dev_pkgs=(
  openmpi-bin openmpi-common libopenmpi-dev           # mpicc/mpicxx wrappers, mpiexec, headers
  libhdf5-openmpi-dev                                 # h5pcc, headers, libhdf5.so links
  libtrilinos-kokkos-dev                              # Kokkos headers + CMake config (trilinos-dev: not needed)
  libboost1.74-dev libboost-program-options1.74-dev libboost-program-options-dev
  libeigen3-dev nlohmann-json3-dev
  libcurl4-openssl-dev libssl-dev zlib1g-dev libaec-dev  # h5pcc links -lcurl -lcrypto -lz -lsz
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Runtime libraries: these and their Depends, recursively, are carried ...
runtime_roots=(
  libopenmpi3 libhdf5-openmpi-103-1 libtrilinos-kokkos-13.2
  libboost-program-options1.74.0 libcurl4 libbenchmark1debian
)
# ... except what every image with a C++ compiler has (and must not be shadowed),
# packages holding no library, and optional plugins that drag in X11 and OpenCL.
skip_deps='^(libc6|libgcc-s1|libstdc\+\+6|gcc-12-base|debconf|adduser|perl-base|dpkg|lsb-base|init-system-helpers|libhwloc-plugins)$'
# General-purpose libraries: carried for when the image lacks them, but where the
# image has a library of the same soname (newer, on Ubuntu 24.04), its own copy is
# used, so that cmake, git or python3 never load an older Debian copy through
# LD_LIBRARY_PATH.  The MPI/HDF5/Kokkos/Boost stack always uses the carried copies.
prefer_system=(
  zlib1g libssl3 libzstd1 libbrotli1 libcurl4 libgssapi-krb5-2 libidn2-0 libnghttp2-14
  libpsl5 librtmp1 libssh2-1 libatomic1 libudev1 libuuid1 libnuma1 libcom-err2
  libk5crypto3 libkrb5-3 libkrb5support0 libunistring2 libgnutls30 libsasl2-2 libgmp10
  libhogweed6 libnettle8 libkeyutils1 libp11-kit0 libtasn1-6 libsasl2-modules-db libffi8
  libdb5.3
)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() { echo "gpu-check: $*" >&2; exit 1; }

# === --fetch ========================================================================

# Depends of one package, first alternative of each (a virtual name is skipped in
# favour of the next real alternative), one a line.
depends_of() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$1" 2>/dev/null | awk '
    /^ *\|?(Pre)?Depends:/ {
      alt = ($1 ~ /^\|/); name = $2
      if (!in_group) need = 1
      if (need && name !~ /^</) { print name; need = 0 }
      in_group = alt
    }'
}

package_closure() {
  local -A seen=()
  local queue=("${runtime_roots[@]}") p d
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    [[ -n ${seen[$p]:-} ]] && continue
    seen[$p]=1
    while read -r d; do
      [[ $d =~ $skip_deps || -n ${seen[$d]:-} ]] || queue+=("$d")
    done < <(depends_of "$p")
  done
  printf '%s\n' "${dev_pkgs[@]}" "${!seen[@]}" | sort -u
}

fetch() {
  command -v apt-get >/dev/null || die "--fetch needs apt-get (Debian 12)"
  local tmp="$debs.tmp" pkgs
  mapfile -t pkgs < <(package_closure)
  rm -rf "$tmp"
  mkdir -p "$tmp"
  echo "gpu-check: downloading ${#pkgs[@]} packages into .gpu/debs/"
  local opts=()
  [[ $(id -u) == 0 ]] && opts=(-oAPT::Sandbox::User=root)  # else apt warns about _apt
  (cd "$tmp" && apt-get download -q "${opts[@]}" "${pkgs[@]}")
  rm -rf "$debs"
  mv "$tmp" "$debs"
  (cd "$debs" && for f in *.deb; do dpkg-deb -f "$f" Package Version Installed-Size | paste -sd' '; done) \
    >"$debs/packages.txt"
  local bytes mib
  bytes=$(du -cb "$debs"/*.deb | awk 'END {print $1}')
  mib=$(((bytes + 1048575) / 1048576))
  du -b "$debs"/*.deb | sort -n | awk '{ sub(".*/", "", $2); printf "  %9d  %s\n", $1, $2 }'
  echo "gpu-check: ${#pkgs[@]} .deb files, $bytes bytes ($mib MiB) in .gpu/debs"
  ((mib <= max_debs_mib)) || die "the .debs take $mib MiB, over the $max_debs_mib MiB limit"
  echo "gpu-check: now run on the device: command 'bash tools/gpu-check.sh --run', carry ['.gpu'], timeout_s 600"
}

# === unpack + relocation ===========================================================

# Debian's update-alternatives links (made by postinst scripts, which dpkg -x skips).
make_alternatives() {
  local bin="$prefix/usr/bin" lib="$prefix/usr/lib/$arch"
  local a
  for a in mpicc mpicxx mpic++ mpiCC mpiexec mpirun h5pcc h5c++; do
    [[ -e $bin/$a.openmpi ]] && ln -sfn "$a.openmpi" "$bin/$a"
  done
  mkdir -p "$prefix/usr/include/$arch"
  ln -sfn "../../lib/$arch/openmpi/include" "$prefix/usr/include/$arch/mpi"
  ln -sfn openmpi/lib/libmpi.so "$lib/libmpi.so"
  ln -sfn openmpi/lib/libmpi_cxx.so "$lib/libmpi++.so"
  for a in mpi mpi-c mpi-cxx; do
    [[ -e $lib/openmpi/lib/pkgconfig/o$a.pc ]] && ln -sfn "../openmpi/lib/pkgconfig/o$a.pc" "$lib/pkgconfig/$a.pc"
  done
  [[ -e $lib/pkgconfig/hdf5-openmpi.pc ]] && ln -sfn hdf5-openmpi.pc "$lib/pkgconfig/hdf5.pc"
  # libfabric needs libpsm_infinipath.so.1, which Debian keeps in usr/lib/libpsm1.
  for a in "$prefix"/usr/lib/libpsm1/libpsm_infinipath.so.1.*; do
    [[ -e $a ]] && ln -sfn "../libpsm1/${a##*/}" "$lib/libpsm_infinipath.so.1"
  done
  # h5pcc links -lcrypto -lcurl -lsz -lz with no -L for them: look in the prefix first.
  for a in "$bin"/h5pcc.openmpi "$bin"/h5c++.openmpi; do
    [[ -f $a ]] && sed -i "s|^LDFLAGSBASE=\"\"|LDFLAGSBASE=\"-L$lib\"|" "$a"
  done
  return 0
}

# Absolute /usr paths in CMake configs, pkg-config files, the HDF5 and curl wrapper
# scripts and settings files, and absolute symlinks, are pointed into the prefix
# wherever the prefix holds that path (/usr/bin/ld, libdl.a, ... stay the system's).
relocate_paths() {
  python3 - "$prefix" <<'EOF'
import os, re, sys
prefix = sys.argv[1].rstrip("/")
# A /usr path that starts a word (after -I/-L too), not one inside another path.
pattern = re.compile(r"(?:(?<![\w.+/}$)-])|(?<=-I)|(?<=-L))/usr(?:/[\w.+@%-]+)*")
def inside(path):
    return os.path.lexists(prefix + path)
def fix(m):
    return prefix + m.group(0) if inside(m.group(0)) else m.group(0)
def is_candidate(path, name):
    if name.endswith((".cmake", ".pc", ".settings", "-wrapper-data.txt")) or name == "curl-config":
        return True
    if "/usr/bin/" in path:  # scripts (h5pcc, ...), not ELF programs
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    return False
files = links = 0
for top, dirs, names in os.walk(prefix):
    for name in names + dirs:
        path = os.path.join(top, name)
        if os.path.islink(path):
            target = os.readlink(path)
            if target.startswith("/") and not target.startswith(prefix + "/") and inside(target):
                os.unlink(path)
                os.symlink(prefix + target, path)
                links += 1
            continue
        if name in dirs or not is_candidate(path, name):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", "surrogateescape")
        new = pattern.sub(fix, text)
        if new != text:
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(new)
            files += 1
print(f"gpu-check: pointed {files} files and {links} symlinks into {prefix}")
EOF
}

# See prefer_system above: the soname link in the prefix is replaced by a link to the
# image's own library when ldconfig knows one.
use_system_copies() {
  local cache f pkg path name sys used=()
  cache=$({ command -v ldconfig >/dev/null && ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null |
    awk '/x86-64/ {print $1, $NF}') || cache=""
  [[ -n $cache ]] || { echo "gpu-check: ldconfig -p lists nothing; every carried library is used"; return 0; }
  for f in "$debs"/*.deb; do
    pkg=$(dpkg-deb -f "$f" Package)
    [[ " ${prefer_system[*]} " == *" $pkg "* ]] || continue
    while read -r path; do
      name=${path##*/}
      sys=$(awk -v n="$name" '$1 == n {print $2; exit}' <<<"$cache")
      [[ -n $sys && $sys != "$prefix"/* && -e $sys ]] || continue
      ln -sfn "$sys" "$prefix/$path"
      used+=("$name")
    done < <(dpkg-deb --fsys-tarfile "$f" | tar -t | sed -n 's|^\./||; /\/lib[^/]*\.so\.[0-9][^/]*$/p')
  done
  echo "gpu-check: the image's own copy used for: ${used[*]:-none}"
}

# Libraries and programs of the prefix whose needs ldd cannot resolve (a report only).
report_missing() {
  local f missing
  missing=$(for f in "$prefix/usr/lib/$arch"/*.so.* "$prefix/usr/lib/$arch/openmpi/lib"/*.so.* \
    "$prefix/usr/bin"/*; do
    [[ -f $f ]] && ldd "$f" 2>/dev/null | awk -v f="${f##*/}" '/not found/ {print f ": " $1}'
  done | sort -u)
  if [[ -n $missing ]]; then
    echo "gpu-check: unresolved libraries in the prefix (harmless unless the build uses them):"
    printf '  %s\n' "${missing//$'\n'/$'\n'  }"
  else
    echo "gpu-check: ldd resolves every library and program of the prefix"
  fi
}

write_env() {
  local lib="$prefix/usr/lib/$arch"
  cat >"$prefix/env.sh" <<EOF
# Source this to build and run against the unpacked prefix (tools/gpu-check.sh).
export QVAE_PREFIX="$prefix"
export OPAL_PREFIX="$prefix/usr"              # Open MPI is relocatable
export OPAL_SYSCONFDIR="$prefix/etc/openmpi"  # its MCA defaults (Debian's openmpi-mca-params.conf)
export PMIX_INSTALL_PREFIX="$lib/pmix2"
export PATH="$prefix/usr/bin:\$PATH"
export LD_LIBRARY_PATH="$lib:$lib/openmpi/lib:$lib/pmix2/lib:$prefix/lib/$arch\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export HDF5_ROOT="$prefix/usr"
export CMAKE_PREFIX_PATH="$prefix/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
# Open MPI refuses root unless told; CMA single copy can fail in VMs and containers.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
EOF
}

# The cmake arguments that make the prefix's packages win over any in /usr.
prefix_cmake_args() {
  local bin="$prefix/usr/bin"
  printf '%s\n' -DMPI_C_COMPILER="$bin/mpicc" -DMPI_CXX_COMPILER="$bin/mpicxx" \
    -DMPIEXEC_EXECUTABLE="$bin/mpiexec" -DHDF5_C_COMPILER_EXECUTABLE="$bin/h5pcc"
}

unpack() {
  compgen -G "$debs/*.deb" >/dev/null ||
    die "no .deb files in .gpu/debs: run 'tools/gpu-check.sh --fetch' here first, then carry .gpu"
  command -v dpkg-deb >/dev/null || die "dpkg-deb is missing"
  rm -rf "$prefix"
  mkdir -p "$prefix"
  local f n=0
  for f in "$debs"/*.deb; do
    dpkg-deb -x "$f" "$prefix"
    n=$((n + 1))
  done
  echo "gpu-check: unpacked $n packages into $prefix ($(du -sh "$prefix" | cut -f1))"
  make_alternatives
  relocate_paths
  use_system_copies
  write_env
  # shellcheck source=/dev/null
  (source "$prefix/env.sh" && report_missing &&
    echo "gpu-check: mpicxx -showme: $(mpicxx -showme)" &&
    echo "gpu-check: h5pcc -show: $(h5pcc -show)")
}

# === --run =========================================================================

out_dir=""     # $OUT: only gpu-check.log, gpu-check.json and ctest/cmake logs go there
scratch=""     # step records, versions, bench output (the tool returns at most 8 files)
start_s=$SECONDS

now_iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }

os_name() { sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"'; }

# Record a step: name, exit code, seconds, limit, note.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$scratch/steps.tsv"; }

step_rc() { awk -F'\t' -v n="$1" '$1 == n {rc = $2} END {print rc}' "$scratch/steps.tsv"; }

fact() { echo "$1" >>"$scratch/facts"; }

# step NAME CAP RESERVE CMD...: run CMD under `timeout` for at most CAP seconds, and
# never into the last RESERVE seconds of the budget, which the later steps need
# (CAP and RESERVE are for the default 540 s budget and scale with --budget).
step() {
  local name=$1 cap=$(($2 * budget / 540)) reserve=$(($3 * budget / 540))
  shift 3
  local left=$((budget - (SECONDS - start_s) - reserve))
  local limit=$((cap < left ? cap : left))
  if ((limit < 10)); then
    echo "== $name: skipped, no time left in the budget"
    record "$name" 125 0 "$limit" "skipped: budget spent"
    return 0
  fi
  echo "== $name (limit ${limit}s) $(now_iso)"
  local t0=$SECONDS rc=0 note=""
  # timeout signals its whole process group: no compiler or test outlives the limit.
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  ((rc == 124 || rc == 137)) && note="timed out"
  echo "== $name: exit $rc after $((SECONDS - t0))s $note"
  record "$name" "$rc" "$((SECONDS - t0))" "$limit" "$note"
}

skip() { record "$1" 125 0 0 "skipped: $2"; echo "== $1: skipped, $2"; }

# What the machine has, first, so that a failed run still tells something.
probe() {
  set +e
  echo "host: $(uname -srm); $(os_name); $(nproc) cores"
  free -g | sed -n 2p
  nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  command -v nvcc g++ cmake ninja python3 dpkg-deb taskset
  nvcc --version | tail -2
  g++ --version | head -1
  cmake --version | head -1
  echo "ninja $(ninja --version)"
  # Inherited settings that could steer the build or Open MPI elsewhere.
  env | grep -E '^(LD_LIBRARY_PATH|CMAKE_PREFIX_PATH|CUDA_HOME|CUDA_PATH|(OMPI|OPAL|PMIX|UCX)_[A-Z_]*)='
  python3 - <<'EOF'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      "devices", torch.cuda.device_count(), "cxx11_abi", torch.compiled_with_cxx11_abi())
print("torch cmake prefix", torch.utils.cmake_prefix_path)
EOF
  return 0
}

# Versions for the JSON, one key=value a line.
versions() (
  set +e
  echo "gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  echo "nvcc=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([^,]*\),.*/\1/p')"
  echo "gxx=$(g++ -dumpfullversion 2>/dev/null)"
  echo "cmake=$(cmake --version 2>/dev/null | sed -n '1s/cmake version //p')"
  echo "ninja=$(ninja --version 2>/dev/null)"
  echo "torch=$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)"
  echo "os=$(os_name)"
  echo "cores=$(nproc)"
)

# QVAE_TORCH_CMAKE_PREFIX overrides python3's torch (to check this part elsewhere).
configure() {
  local torch_prefix=${QVAE_TORCH_CMAKE_PREFIX:-} pargs cuda_args=()
  if [[ -z $torch_prefix ]]; then
    torch_prefix=$(env -u LD_LIBRARY_PATH python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
      die "python3 cannot import torch"
  fi
  # LibTorch's CUDA config enables the CUDA language: name the image's nvcc and the
  # chip (H100: sm_90) rather than have it probe.
  command -v nvcc >/dev/null && cuda_args=(-DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_CUDA_ARCHITECTURES=90)
  mapfile -t pargs < <(prefix_cmake_args)
  rm -rf "$build"
  # CMAKE_POLICY_VERSION_MINIMUM lets a CMake 4 read Debian's older package configs.
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DQVAE_BUILD_TESTS=ON -DQVAE_BUILD_BENCHMARKS=ON \
    -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_prefix" "${pargs[@]}" "${cuda_args[@]}" \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5
}

cached() { sed -n "s|^$1:[A-Z]*=||p" "$build/CMakeCache.txt" 2>/dev/null; }

show_found() {
  local k
  [[ -f $build/CMakeCache.txt ]] || return 0
  echo "found by cmake:"
  for k in MPI_CXX_COMPILER MPIEXEC_EXECUTABLE HDF5_C_COMPILER_EXECUTABLE HDF5_C_LIBRARY_hdf5 \
    Kokkos_DIR QVAE_KOKKOS_INCLUDE_DIR Boost_DIR Torch_DIR CURL_LIBRARY_RELEASE GTest_DIR \
    benchmark_DIR CMAKE_CUDA_COMPILER CMAKE_CXX_COMPILER; do
    echo "  $k = $(cached "$k")"
  done
}

# bench cuda|cpu FILE: one `qvae bench train`; the CPU one pinned to one core (the
# bench runs one LibTorch thread per rank by default).
bench() {
  local dev=$1 file=$2 pin=() rc=0
  [[ $dev == cpu ]] && command -v taskset >/dev/null && pin=(taskset -c 0)
  "${pin[@]}" "$build/bin/qvae" bench train --config "$root/configs/model/ds2-cnn-pegasus.ini" \
    --batch-size 32 --batches 4 --train.device="$dev" --json --run.progress=off >"$file" || rc=$?
  cat "$file"
  return "$rc"
}

# bench_gibbs cuda|cpu FILE: `qvae bench gibbs` of the 4 x 302 Pegasus model, 1024
# chains: the dense LibTorch sampler on the GPU, the sparse Kokkos one on one core.
bench_gibbs() {
  local dev=$1 file=$2 pin=() args=(--backend kokkos) rc=0
  if [[ $dev == cuda ]]; then
    args=(--backend torch --device cuda)
  elif command -v taskset >/dev/null; then
    pin=(taskset -c 0)
  fi
  "${pin[@]}" "$build/bin/qvae" bench gibbs --chains 1024 --sweeps 200 "${args[@]}" --json --run.progress=off \
    >"$file" || rc=$?
  cat "$file"
  return "$rc"
}

# The ctest tests labelled `device`, on CUDA; none yet is no failure (the JSON says so).
device_tests() {
  local n
  n=$(cd "$build" && ctest -N -L '^device$' | sed -n 's/^Total Tests: *//p')
  echo "device_tests_found=${n:-0}" >>"$scratch/facts"
  echo "tests labelled device: ${n:-0}"
  ((${n:-0} > 0)) || { echo "no test carries the label device yet: nothing to run"; return 0; }
  cd "$build" && QVAE_TEST_DEVICE=cuda ctest -L '^device$' --output-on-failure
}

write_json() {
  env -u LD_LIBRARY_PATH python3 - "$scratch" "$out_dir/gpu-check.json" <<'EOF'
import json, os, sys
scratch, target = sys.argv[1], sys.argv[2]
def kv(name):
    d, path = {}, os.path.join(scratch, name)
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d
steps = []
for line in open(os.path.join(scratch, "steps.tsv")):
    name, rc, secs, limit, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    steps.append({"name": name, "exit_code": int(rc), "seconds": int(secs), "limit_s": int(limit), "note": note})
def bench(dev):
    path = os.path.join(scratch, f"bench-{dev}.out")
    if not os.path.exists(path):
        return None
    text = open(path, errors="replace").read()
    for line in reversed(text.splitlines()):
        if line.strip().startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return {"unparsed_stdout": text[-2000:]}
facts = kv("facts")
found = facts.get("device_tests_found")  # absent: the step did not get that far
found = int(found or 0) if found is not None else None
doc = {
    "script": "tools/gpu-check.sh --run",
    "started": facts.get("started", ""),
    "ok": facts.get("ok") == "true",
    "versions": kv("versions"),
    "steps": steps,
    "device_tests_found": found,
    "bench": {"cuda": bench("cuda"), "cpu": bench("cpu")},
    "bench_gibbs": {"cuda": bench("gibbs-cuda"), "cpu": bench("gibbs-cpu")},
    "notes": ["no ctest test is labelled device yet: the device_tests step ran nothing"] if found == 0 else [],
}
with open(target, "w") as f:
    json.dump(doc, f, indent=1)
EOF
}

summary() {
  local v="$scratch/versions" dev
  echo
  echo "== gpu-check summary"
  awk -F= '$1 != "os" && $1 != "cores" {printf "%s %s | ", $1, ($2 == "" ? "?" : $2)} END {print ""}' "$v"
  printf '%-18s %5s %8s %8s  %s\n' step exit seconds limit note
  awk -F'\t' '{printf "%-18s %5s %8s %8s  %s\n", $1, $2, $3, $4, $5}' "$scratch/steps.tsv"
  sed -n 's/^device_tests_found=/tests labelled device: /p' "$scratch/facts"
  for dev in cuda cpu gibbs-cuda gibbs-cpu; do
    printf 'bench %-10s: %s\n' "$dev" "$(grep -h '^{' "$scratch/bench-$dev.out" 2>/dev/null | tail -1 | cut -c1-600)"
  done
  echo "result: $1 (everything: gpu-check.log; per step and both bench lines: gpu-check.json)"
}

# The ninja targets of the tests labelled `device`: a test is named after its
# executable, plus a suffix such as _np2 for the MPI runs (tests/CMakeLists.txt).
device_test_targets() {
  local tests
  tests=$(cd "$build" && ctest --show-only=json-v1 -L '^device$') || return 0
  ninja -C "$build" -t targets all | env -u LD_LIBRARY_PATH python3 -c '
import json, sys
targets = {line.split(":")[0] for line in sys.stdin}
found = set()
for test in json.loads(sys.argv[1]).get("tests", []):
    parts = test["name"].split("_")
    while len(parts) > 1 and "_".join(parts) not in targets:
        parts.pop()
    if len(parts) > 1:
        found.add("_".join(parts))
print("\n".join(sorted(found)))' "$tests"
}

run_all() {
  out_dir=${OUT:-$root/gpu-check-out}
  mkdir -p "$out_dir"
  scratch=$(mktemp -d /tmp/gpu-check.XXXXXX)
  : >"$scratch/steps.tsv"
  echo "started=$(now_iso)" >"$scratch/facts"
  exec > >(tee "$out_dir/gpu-check.log") 2>&1
  local tee_pid=$!
  # Let tee write the last lines before the tool collects $OUT.
  trap 'exec >&- 2>&-; wait '"$tee_pid"' 2>/dev/null; rm -rf "$scratch"' EXIT

  local jobs=${QVAE_GPU_CHECK_JOBS:-$(nproc)}
  # This script again, for the steps that are its functions (timeout runs programs).
  local self=(bash "$root/tools/gpu-check.sh" --prefix "$prefix" --build-dir "$build" --internal)
  echo "== gpu-check --run $(now_iso): prefix $prefix, build $build, budget ${budget}s, ninja -j$jobs"
  if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
  export TORCH_CUDA_ARCH_LIST=9.0  # H100; else LibTorch's CMake config probes the GPU
  step probe 60 480 "${self[@]}" probe
  versions >"$scratch/versions"

  step unpack 120 420 "${self[@]}" unpack
  if [[ $(step_rc unpack) == 0 ]]; then
    # shellcheck source=/dev/null
    source "$prefix/env.sh"
    step configure 150 300 "${self[@]}" configure
    show_found
  else
    skip configure "unpack failed"
  fi
  local targets=()
  if [[ $(step_rc configure) == 0 ]]; then
    # qvae first, then the device tests, then the rest: what the checks need is
    # built even if everything does not fit in the budget.
    step build_qvae 300 150 ninja -C "$build" -j"$jobs" qvae
    mapfile -t targets < <(device_test_targets)
    echo "device test executables: ${targets[*]:-none}"
    if ((${#targets[@]})); then
      step build_device_tests 200 150 ninja -C "$build" -j"$jobs" "${targets[@]}"
    fi
    step build_all 400 150 ninja -C "$build" -j"$jobs"
    echo "qvae links: $(ldd "$build/bin/qvae" 2>/dev/null | grep -Eo 'lib(torch_cuda|c10_cuda|cudart)[^ ]*' | sort -u | paste -sd' ')"
  else
    for f in CMakeFiles/CMakeConfigureLog.yaml CMakeFiles/CMakeError.log; do
      [[ -f $build/$f ]] && tail -c 4000000 "$build/$f" >"$out_dir/cmake-${f##*/}"
    done
    skip build_all "configure failed"
  fi
  # Built: a build step that names them (or all) passed.  (`ninja -n` cannot tell:
  # it always plans a CMake rerun, for the source globs.)
  local have_qvae=false have_tests=false
  if [[ $(step_rc build_all) == 0 || $(step_rc build_qvae) == 0 ]]; then have_qvae=true; fi
  if [[ $(step_rc build_all) == 0 || $(step_rc build_device_tests) == 0 ]] ||
    [[ $(step_rc configure) == 0 && ${#targets[@]} == 0 ]]; then have_tests=true; fi
  if [[ $have_qvae == true ]]; then
    step bench_cuda 90 100 "${self[@]}" bench cuda "$scratch/bench-cuda.out"
  else
    skip bench_cuda "qvae not built"
  fi
  if [[ $have_tests == true ]]; then
    step device_tests 150 45 "${self[@]}" device_tests "$scratch"
  else
    skip device_tests "the device tests were not built"
  fi
  if [[ $have_qvae == true ]]; then
    step bench_cpu 90 25 "${self[@]}" bench cpu "$scratch/bench-cpu.out"
    step bench_gibbs_cuda 30 12 "${self[@]}" bench_gibbs cuda "$scratch/bench-gibbs-cuda.out"
    step bench_gibbs_cpu 20 2 "${self[@]}" bench_gibbs cpu "$scratch/bench-gibbs-cpu.out"
  else
    skip bench_cpu "qvae not built"
  fi
  if [[ -f $build/Testing/Temporary/LastTest.log ]]; then
    tail -c 8000000 "$build/Testing/Temporary/LastTest.log" >"$out_dir/ctest-LastTest.log"
  fi

  local ok=true s
  for s in build_all device_tests bench_cuda; do
    [[ $(step_rc "$s") == 0 ]] || ok=false
  done
  fact "ok=$ok"
  write_json || echo "gpu-check: could not write gpu-check.json"
  summary "$([[ $ok == true ]] && echo OK || echo FAILED)"
  [[ $ok == true ]]
}

# === main ==========================================================================

mode=""
while (($#)); do
  case $1 in
    --fetch | --run | --unpack-only) mode=${1#--} ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
    --build-dir) build=${2:?--build-dir needs a directory}; shift ;;
    --budget) budget=${2:?--budget needs seconds}; shift ;;
    --internal) mode=internal; shift; break ;;  # FUNCTION ARGS..., for step()
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done
prefix=$(realpath -m "$prefix")
build=$(realpath -m "$build")

case $mode in
  fetch) fetch ;;
  unpack-only)
    unpack
    echo "gpu-check: to build against it: source $prefix/env.sh, then cmake with" \
      "-DCMAKE_PREFIX_PATH=$prefix/usr $(prefix_cmake_args | paste -sd' ')"
    ;;
  run) run_all ;;
  internal)
    case ${1:-} in
      probe | unpack | configure | bench | bench_gibbs) "$@" ;;
      device_tests) scratch=$2; device_tests ;;
      *) die "unknown internal step '${1:-}'" ;;
    esac
    ;;
  *) usage >&2; exit 2 ;;
esac
