#!/usr/bin/env bash
# usage: test_graph_cli.sh QVAE
# `qvae graph` from the outside: the n = 64 region row of docs/rbm.md, JSON keys, exit codes.
set -u
qvae=$1
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

run p16_json 0 "$qvae" graph --topology pegasus --size 16 --json &&
  check p16_counts json_is "d['nodes'] == 5640 and d['edges'] == 40484 and d['max_degree'] == 15"
check p16_degree_histogram json_is "d['degree_histogram'] == {'6': 32, '7': 208, '10': 32, '11': 208, '14': 688, '15': 4472}"
check p16_json_is_one_line [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]

run p16_n64 0 "$qvae" graph --topology pegasus --size 16 --nodes-per-partition 64 --json &&
  check p16_n64_pair_couplers json_is "d['pair_couplers'] == {'01': 322, '02': 144, '03': 322, '12': 322, '13': 156, '23': 322}"
check p16_n64_total json_is "d['couplers'] == 1588 and d['partition_sizes'] == [64, 64, 64, 64] and d['scheme'] == 'region'"

run p16_n302 0 "$qvae" graph --topology pegasus --size 16 --nodes-per-partition 302 --json &&
  check benchmark_model_has_8312_couplers json_is "d['couplers'] == 8312"

run zephyr 0 "$qvae" graph --topology zephyr --size 6 --t 4 --nodes-per-partition 302 --json &&
  check zephyr_counts json_is "d['nodes'] == 1248 and d['edges'] == 11400 and d['scheme'] == 'four_color' and sorted(d['pair_couplers']) == ['01','02','03','12','13','23']"
run chimera 0 "$qvae" graph --topology chimera --size 4 --nodes-per-partition 64 --json &&
  check chimera_two_partitions json_is "d['partition_sizes'] == [64, 64] and d['pair_couplers'] == {'01': 352}"
run pegasus_full 0 "$qvae" graph --topology pegasus --size 4 --full --json &&
  check pegasus_full_counts json_is "d['nodes'] == 288 and d['edges'] == 1632"

run human_text 0 "$qvae" graph --topology pegasus --size 16 --nodes-per-partition 64 &&
  check human_text_names_counts grep -q "couplers 1588" <<<"$err"

# Yield: a dead qubit is replaced, a dead coupler disappears.
printf "# dead\n2\n" >"$work/yield1.txt"
run yield_qubit 0 "$qvae" graph --topology pegasus --size 2 --missing-qubits "$work/yield1.txt" --json &&
  check yield_qubit_removed json_is "d['nodes'] == 39 and d['missing_qubits'] == 1"
printf '2 3\n' >"$work/yield2.txt"
run yield_coupler 0 "$qvae" graph --topology pegasus --size 2 --missing-qubits "$work/yield2.txt" --json &&
  check yield_coupler_removed json_is "d['nodes'] == 40 and d['edges'] == 163"

# Errors: one line, right exit code.
run impossible_selection 2 "$qvae" graph --topology pegasus --size 16 --nodes-per-partition 1351 --json &&
  check impossible_selection_one_line one_error_line
check impossible_selection_names_partition grep -q "partition 0 reached only 1350 of 1351" <<<"$err"
run too_small 2 "$qvae" graph --topology pegasus --size 4 --nodes-per-partition 100 && check too_small_one_line one_error_line
run missing_size 2 "$qvae" graph --topology pegasus && check missing_size_one_line one_error_line
run bad_topology 2 "$qvae" graph --topology pegasos --size 4 && check bad_topology_one_line one_error_line
run bad_scheme 2 "$qvae" graph --topology zephyr --size 4 --scheme region && check bad_scheme_one_line one_error_line
run bad_size 2 "$qvae" graph --topology pegasus --size 1 && check bad_size_one_line one_error_line
run missing_yield_file 3 "$qvae" graph --topology pegasus --size 4 --missing-qubits "$work/nope.txt" &&
  check missing_yield_file_one_line one_error_line
printf '99999\n' >"$work/yield3.txt"
run yield_out_of_range 3 "$qvae" graph --topology pegasus --size 4 --missing-qubits "$work/yield3.txt" &&
  check yield_out_of_range_one_line one_error_line
run help 0 "$qvae" graph --help && check help_shows_usage grep -q "nodes-per-partition" <<<"$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
