// Hot loops of the eval module are compiled twice, for x86-64-v3 (AVX2 + FMA)
// and the baseline, and the loader picks one per machine (GCC target_clones).
// The choice depends on the CPU only, so every rank of a job computes the same
// bits; two machines of different ISA may differ in the last bits (FMA rounding).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(QVAE_EVAL_NO_VECTOR_CLONES)
#define QVAE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define QVAE_VECTOR_CLONES
#endif
