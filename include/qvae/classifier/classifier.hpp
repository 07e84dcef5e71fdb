// CaloChallenge's classifier two-sample test, trained data-parallel in
// LibTorch (docs/evaluation.md "Classifier two-sample test").
//
// A fully connected network (d -> hidden, LeakyReLU, then `layers` x [hidden ->
// hidden, LeakyReLU], then hidden -> 1 logit) learns to tell reference showers
// (label 1) from generated ones (label 0) with BCE-with-logits and Adam, in
// double precision as evaluate.py.  Each class is split train/test/validation;
// the epoch with the best test accuracy is kept, an isotonic regression fitted
// on the test set calibrates it, and AUC and JSD are measured on the
// validation set.
//
// Rank-count independence: the split, the per-epoch shuffling and the initial
// weights are Philox streams keyed by (seed, class or epoch or layer, index);
// every rank holds all inputs, takes a contiguous block of each global
// mini-batch, and the gradients (of sum-loss / batch length) are summed over
// ranks before every identical Adam step.  Results agree across rank counts up
// to the order of floating-point sums.
#pragma once

#include "qvae/classifier/settings.hpp"
#include "qvae/eval/classifier_inputs.hpp"
#include "qvae/eval/classifier_metrics.hpp"
#include "qvae/eval/features.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::classifier {

/// Collective: trains and scores the classifier on the first min(rows) rows of
/// each table (both held whole on every rank, rows in event order).  Too few
/// rows for the split is an InputError; bad settings a UsageError.
eval::ClassifierResult train_classifier(const eval::FeatureTable& reference, const eval::FeatureTable& generated,
                                        eval::ClassifierInputs inputs, const ClassifierSettings& settings,
                                        const par::Communicator& comm);

/// Collective: reads the showers of both files (first min(N_ref, N_gen) of
/// each), builds the `inputs` vectors with voxels below `min_energy` zeroed
/// (< 0: eval::default_min_energy of the geometry),
/// and trains and scores the classifier.  `geometry_name` as for data::CaloReader.
eval::ClassifierResult classify_files(const std::string& reference, const std::string& generated,
                                      const std::string& geometry_name, double min_energy,
                                      eval::ClassifierInputs inputs, const ClassifierSettings& settings,
                                      const par::Communicator& comm);

}  // namespace qvae::classifier
