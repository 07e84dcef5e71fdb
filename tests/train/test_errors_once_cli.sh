#!/usr/bin/env bash
# Errors found while a multi-rank training runs are printed once: a data error
# that every rank meets inside a training step, the same error met by a single
# rank, a configuration error and an output error each end `qvae train` on 2
# and 3 ranks with exactly one `qvae: error:` line on stderr (no MPI_ABORT
# banner, nothing on stdout) and the documented exit code, and leave the last
# complete checkpoint in place.  `mpirun -q` silences the launcher's own notice
# about a non-zero exit, so stderr holds only what qvae printed.
# Usage: test_errors_once_cli.sh QVAE TINY_INI MPIEXEC [MPIEXEC FLAGS...]
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"
mpi_suite_arguments "$@"

"$qvae" simulate --events 300 --geometry ds2 --seed 5 --out showers.h5 >/dev/null 2>&1
# Micro-batches of 4 give every rank of 2 or 3 a share of each batch of 16.
quick=(--config "$tiny" --data showers.h5 --train.batch_size=16 --train.micro_batch_size=4
       --train.max_batches_per_epoch=3 --train.val_max_events=16 --train.kl_warmup_ratio=0
       --run.progress=off --run.log_level=warn)

for np in 2 3; do
  launch=("${mpi[@]}" -q -np "$np" "$qvae" train "${quick[@]}" --train.epochs=2)

  # A negative voxel reaches the voxel transform in epoch 2, batch 1 on every rank.
  run "np${np}_data_error_all_ranks" 3 "${launch[@]}" --train.fault_injection=data_error@2:1 --out "all$np" &&
    check "np${np}_data_error_all_ranks_one_line" one_error_line
  check "np${np}_data_error_names_the_voxel" grep -q "voxel energy -1 MeV is outside" <<<"$err"
  check "np${np}_data_error_keeps_epoch_1" test -f "all$np/checkpoint-0001.h5" -a ! -e "all$np/checkpoint-0002.h5"

  # The same error on the last rank alone: the step's agreement still ends every rank cleanly.
  last=$((np - 1))
  run "np${np}_data_error_one_rank" 3 "${launch[@]}" "--train.fault_injection=data_error@2:1#$last" --out "one$np" &&
    check "np${np}_data_error_one_rank_one_line" one_error_line
  check "np${np}_one_rank_keeps_epoch_1" test -f "one$np/checkpoint-0001.h5" -a ! -e "one$np/checkpoint-0002.h5"

  # A configuration error every rank finds.
  run "np${np}_config_error" 2 "${launch[@]}" --train.lr=-1 --out "config$np" &&
    check "np${np}_config_error_one_line" one_error_line

  # A GPU asked of a build whose LibTorch has none (the CPU build CI runs): exit 2, nothing written.
  if ! "${mpi[@]}" -q -np 1 "$qvae" version --json 2>/dev/null | grep -q '"cuda":true'; then
    run "np${np}_cuda_without_it" 2 "${launch[@]}" --train.device=cuda --out "cuda$np" &&
      check "np${np}_cuda_without_it_one_line" one_error_line
    check "np${np}_cuda_without_it_names_the_key" grep -q "train.device = cuda" <<<"$err"
    check "np${np}_cuda_without_it_writes_nothing" test ! -e "cuda$np"
  fi

  # An output error on rank 0 alone: the history file cannot be written.
  mkdir -p "io$np/history.csv"
  run "np${np}_io_error" 4 "${launch[@]}" --out "io$np" && check "np${np}_io_error_one_line" one_error_line
  check "np${np}_io_error_names_the_file" grep -q "history.csv" <<<"$err"

  # Resume after the data error continues from the complete checkpoint (the
  # resumed run keeps its stored settings: the injected fault moves past the run).
  run "np${np}_resume_after_error" 0 "${launch[@]}" --train.fault_injection=nan_loss@99:0 --out "all$np" --resume &&
    check "np${np}_resume_reaches_epoch_2" test -f "all$np/checkpoint-0002.h5"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
