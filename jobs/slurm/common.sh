# Shared by the qvae job scripts (sourced, not submitted).  Every script finds
# this file through QVAE_JOBS_DIR, or else through the path Slurm recorded for
# the submitted script (Slurm runs a copy of the script from its spool).
#
# Environment read by every job script:
#   QVAE         the qvae executable (default: `qvae` on PATH)
#   QVAE_LAUNCH  how to start MPI ranks inside the allocation (default: srun;
#                e.g. "srun --mpi=pmix" or "mpirun"); its rank count is the
#                allocation's --ntasks
#   QVAE_CONFIG  config files, space-separated, passed as --config each

qvae="${QVAE:-qvae}"
read -r -a launch <<<"${QVAE_LAUNCH:-srun}"
configs=()
for file in ${QVAE_CONFIG:-}; do configs+=(--config "$file"); done

# One `qvae: error:` line and the documented exit code (2: usage/config).
job_error() { echo "qvae: error: $1, ${SLURM_JOB_NAME:-job script}, $2" >&2; exit "${3:-2}"; }
require_env() {
  for name in "$@"; do
    [ -n "${!name:-}" ] || job_error "$name is not set" "export $name before sbatch (see the script's header)"
  done
}
# Runs qvae on every rank of the allocation.
launch_qvae() { "${launch[@]}" "$qvae" "$@"; }
job_banner() {
  echo "== ${SLURM_JOB_NAME:-qvae} job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname)}," \
       "${SLURM_NTASKS:-1} task(s), $(date -u '+%F %T') UTC" >&2
}
