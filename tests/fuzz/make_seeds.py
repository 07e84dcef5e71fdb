#!/usr/bin/env python3
"""Writes the seed corpora of the HDF5 harnesses (tests/data/fuzz/<harness>/)
in the recipe grammar of h5_recipe.hpp: small valid files and near misses.
Usage: tests/fuzz/make_seeds.py [OUT_DIR]   (default tests/data/fuzz)"""
import os
import sys

F32, F64, I8, I32, I64, U8, U64, I64BE, VSTR, FSTR = range(10)
V = dict(zero=0, one=1, minus=2, half=3, nan=4, inf=5, ninf=6, big=7, nbig=8, tiny=9, two=10, b255=11, mega=12)


def dataset(name, dtype, dims, fill=0, values=()):
    """dims: ints < 64 are sizes, ('v', i) the i-th vocabulary size, ('h', i) a huge one."""
    out = [0, name, dtype, len(dims)]
    for d in dims:
        out.append(d if isinstance(d, int) else (64 + d[1] if d[0] == 'v' else 0xE0 + d[1]))
    out.append(fill)
    for v in values:
        out.append(V[v] if isinstance(v, str) else v)
    return out


def attr(name, kind, *payload, on=None):
    """kind: 0 string (payload: vocabulary index), 1 int64, 2 uint64, 3 float64 (payload: VALUE names)."""
    out = [1, name] if on is None else [2, on, name]
    out.append(kind)
    for p in payload:
        out.append(V[p] if isinstance(p, str) else p)
    return out


def flatten(parts):
    for part in parts:
        if isinstance(part, list):
            yield from flatten(part)
        else:
            yield part


def write(base, harness, seeds):
    folder = os.path.join(base, harness)
    os.makedirs(folder, exist_ok=True)
    for name, parts in seeds.items():
        data = bytes(flatten(parts))
        with open(os.path.join(folder, 'seed-' + name), 'wb') as f:
            f.write(data)


def calo():
    # names: 0 incident_energies 1 showers 2 geometry; strings: 0 ds1-photons 2 ds2; dims: 0 368 1 533
    e = dataset(0, F64, [2, 1], 2, ['mega', 'two'])
    s = dataset(1, F32, [2, ('v', 0)], 1, ['half'])
    g = attr(2, 0, 0)
    return {
        'valid-ds1-photons': [0, e, s, g],
        'valid-no-attribute': [0, e, s],
        'nan-voxel': [0, e, dataset(1, F32, [2, ('v', 0)], 1, ['nan'])],
        'negative-voxel': [0, e, dataset(1, F64, [2, ('v', 0)], 3, ['minus'])],
        'zero-energy': [0, dataset(0, F64, [2, 1], 1, ['zero']), s],
        'rows-disagree': [0, dataset(0, F64, [3, 1], 1, ['one']), s],
        'integer-showers': [0, e, dataset(1, I32, [2, ('v', 0)], 1, ['one'])],
        'wrong-geometry': [1, e, s, attr(2, 0, 2)],
        'huge-unwritten': [0, dataset(0, F64, [('h', 2), 1]), dataset(1, F32, [('h', 2), ('v', 0)])],
        'missing-showers': [0, e],
    }


def rbm(format_index=0):
    # names: 0 format 1 format_version 2 topology 3 description 4 partitions 5 partition 6 biases 7 edges
    #        8 weights 9 qubits 10 chains 11 chain_sweeps 12 chain_seed
    head = [attr(0, 0, format_index), attr(1, 1, 'one'), attr(2, 0, 2), attr(4, 1, 'two')]
    part = dataset(5, I32, [4], 2, ['zero', 'zero', 'one', 'one'])
    biases = dataset(6, F64, [4], 1, ['half'])
    edges = [0, 7, I64, 2, 2, 2, 2, 0, 10, 1, 13, 3, 0]  # (0, 2), (1, 3)
    weights = dataset(8, F64, [2], 1, ['minus'])
    chains = dataset(10, U8, [3, 4], 1, ['one'])
    sweeps = dataset(11, I64, [3], 1, ['two'])
    seed = attr(12, 2, 'mega')
    return head, part, biases, edges, weights, chains, sweeps, seed


def rbm_seeds():
    head, part, biases, edges, weights, chains, sweeps, seed = rbm()
    return {
        'valid': [0, head, part, biases, edges, weights],
        'valid-with-chains': [4, head, part, biases, edges, weights, chains, sweeps, seed],
        'nan-bias': [0, head, part, dataset(6, F64, [4], 1, ['nan']), edges, weights],
        'partition-out-of-range': [0, head, dataset(5, I32, [4], 1, [13, 3, 0]), biases, edges, weights],
        'no-edges': [0, head, part, biases, dataset(7, I64, [0, 2]), dataset(8, F64, [0])],
        'weights-disagree': [0, head, part, biases, edges, dataset(8, F64, [3], 1, ['one'])],
        'huge-unwritten': [0, head, dataset(5, I32, [('h', 2)]), dataset(6, F64, [('h', 2)]), edges, weights],
        'wrong-format': [0, [attr(0, 0, 1), attr(1, 1, 'one')], part],
        'bad-chain-values': [4, head, part, biases, edges, weights, dataset(10, U8, [3, 4], 1, ['b255']), sweeps,
                             seed],
    }


def samples_seeds():
    # names: 0 format 1 format_version 2 samples 3 energies 4 chain_sweeps 5 chain_seed 6 values
    head = [attr(0, 0, 0), attr(1, 1, 'one')]
    return {
        'valid': [4 | (3 << 3), head, dataset(2, U8, [3, 4], 1, ['one']), dataset(4, I64, [3], 1, ['two']),
                  attr(5, 2, 'mega'), dataset(3, F64, [3], 1, ['minus'])],
        'clamp-values': [0x40 | (1 << 3), dataset(6, I64, [1, 2], 2, ['one', 'zero'])],
        'clamp-not-binary': [0x40 | (2 << 3), dataset(6, U8, [2, 2], 1, ['two'])],
        'clamp-from-samples': [4 | (2 << 3), dataset(2, U8, [2, 4], 1, ['zero'])],
        'sweeps-negative': [4 | (3 << 3), head, dataset(2, U8, [3, 4], 1, ['one']), dataset(4, I64, [3], 1, ['minus']),
                            attr(5, 2, 'one')],
        'huge-unwritten': [4, head, dataset(2, U8, [('h', 2), 4]), dataset(4, I64, [('h', 2)]), attr(5, 2, 'one')],
    }


def checkpoint_seeds():
    # names: 0 format 1 format_version 2 config 3 geometry 4 data_file 5 train_events 6 epochs_done
    #        7 batches_done 8 global_step 9 ranks 10 best_metric 11 best_epoch 12 best_rule 13 elapsed_s
    #        14 model_state 15 optimizer_state 16 partial_sums 17 guard_state 18 history 19 columns
    #        20 history/train_loss 21 history/val_loss
    # strings: 0 qvae-checkpoint 1 ds1-photons 3 INI 4 INI 5 bad INI 6 columns 7 bad columns
    head = [attr(0, 0, 0), attr(1, 1, 'two'), attr(2, 0, 3), attr(3, 0, 1), attr(6, 1, 'two'), attr(7, 1, 'zero'),
            attr(10, 3, 'half'), attr(11, 1, 'one'), attr(13, 3, 'mega')]
    body = [dataset(16, F64, [('v', 2)], 1, ['zero']), dataset(17, F64, [('v', 0)], 2,
                                                                  ['one', 'zero', 'zero', 'zero', 'zero', 'zero', 'zero']),
            [3, 18], attr(19, 0, 6, on=18), dataset(20, F64, [2], 1, ['one']), dataset(21, F64, [2], 1, ['two']),
            dataset(14, U8, [4], 1, ['b255'])]
    return {
        'valid': [head, body],
        'guard-nan': [head, dataset(17, F64, [('v', 0)], 1, ['nan']), body],
        'guard-huge': [head, dataset(17, F64, [('v', 0)], 1, ['big']), body],
        'bad-config': [[attr(0, 0, 0), attr(1, 1, 'one'), attr(2, 0, 5)], body],
        'history-columns-missing': [head, [3, 18], attr(19, 0, 7, on=18), dataset(14, U8, [1], 1, ['one'])],
        'future-version': [[attr(0, 0, 0), attr(1, 1, 'mega')]],
        'huge-unwritten-state': [head, dataset(16, F64, [('v', 2)], 1, ['zero']), dataset(14, U8, [('h', 2)])],
    }


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'data', 'fuzz')
    write(base, 'fuzz_calo_file', calo())
    write(base, 'fuzz_rbm_file', rbm_seeds())
    write(base, 'fuzz_samples_file', samples_seeds())
    write(base, 'fuzz_checkpoint', checkpoint_seeds())


if __name__ == '__main__':
    main()
