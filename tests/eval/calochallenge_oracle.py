#!/usr/bin/env python3
"""TEST ORACLE -- not CaloChallenge code.

A small re-implementation, written for qvae-hpc's tests, of what CaloChallenge's
evaluate.py computes in mode `hist-chi` (with HighLevelFeatures.py, XMLHandler.py
and the plotting helper), transcribed step by step with the numpy calls those
scripts make, so that `qvae evaluate` can be compared with it number by number:

  * voxels below min_energy are set to 0 (a float32 array compared with a Python
    float: numpy compares in float32);
  * E_tot = data.sum(axis=-1), E_layer = data[:, a:b].sum(axis=-1) on the float32
    array (numpy's pairwise float32 summation);
  * centres and widths in eta/phi: (eta * x).sum(-1) / (x.sum(-1) + 1e-16) and
    sqrt(clip((eta * eta * x).sum(-1) / (x.sum(-1) + 1e-16) - EC**2, min=0)),
    eta = r_mid * cos(alpha_mid), phi = r_mid * sin(alpha_mid) built as XMLHandler does;
  * histograms as plt.hist(..., density=True), i.e. np.histogram(x, bins, density=True):
    E_tot/E_inc: np.linspace(0.5, 1.5, 101); E_layer: np.logspace(np.log10(min_energy),
    np.log10(ref_E_layer.max()), 40); EC eta/phi: np.linspace(-lim, lim, 101) and
    widths np.linspace(0, lim, 101) with lim 30 mm (ds2/3), 500/400 mm in ds1
    layers 12 and 13, 100 mm elsewhere; voxel spectrum: np.logspace(np.log10(min_energy),
    np.log10(ref_showers.max()), 50) over the flattened showers;
  * separation power: h1, h2 = h1 * np.diff(bins), h2 * np.diff(bins);
    0.5 * ((h1 - h2)**2 / (h1 + h2 + 1e-16)).sum().

usage: calochallenge_oracle.py BINNING_XML DATASET MIN_ENERGY REFERENCE.h5 GENERATED.h5
DATASET is 1-photons, 1-pions, 2 or 3.  Prints {name: S} as JSON with qvae's
histogram names (etot_over_einc, e_layer_<id>, ec_eta_<id>, ec_phi_<id>,
width_eta_<id>, width_phi_<id>, voxel_energy).

numpy's float32 log10 differs in its last bit between CPUs (its AVX-512 path uses
other code than libm's log10f), and that bit decides whether the reference
maximum lies inside the top log bin.  The test runs this oracle with
NPY_DISABLE_CPU_FEATURES set to the AVX-512 features, numpy's baseline path,
which qvae reproduces.
"""
import json
import math
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np


def midpoints(arr):
    # XMLHandler.get_midpoint
    return [arr[i] + float(arr[i + 1] - arr[i]) / 2 for i in range(len(arr) - 1)]


def read_geometry(path):
    """Per layer (file order): id, voxel slice, eta and phi arrays (XMLHandler)."""
    layers = []
    start = 0
    for particle in ET.parse(path).getroot():
        for layer in particle:
            r_edges = [float(s) for s in layer.attrib['r_edges'].split(',')]
            n_r = len(r_edges) - 1
            n_alpha = int(layer.attrib['n_bin_alpha'])
            r_mid = midpoints(r_edges)
            alpha_mid = midpoints(np.linspace(-math.pi, math.pi, n_alpha + 1))
            r_list, a_list = [], []
            for j in range(n_alpha):          # alpha-major, r-minor (fill_r_a_lists)
                for i in range(n_r):
                    r_list.append(r_mid[i])
                    a_list.append(alpha_mid[j])
            count = n_r * n_alpha
            layers.append({'id': int(layer.attrib['id']), 'begin': start, 'end': start + count,
                           'alpha': n_alpha > 1, 'eta': r_list * np.cos(a_list),
                           'phi': r_list * np.sin(a_list)})
            start += count
    return [l for l in layers if l['end'] > l['begin']]


def features(showers, energies, layers):
    out = {'E_tot': showers.sum(axis=-1), 'E_inc': energies, 'E_layer': {}, 'EC_eta': {}, 'EC_phi': {},
           'W_eta': {}, 'W_phi': {}}
    for l in layers:
        data = showers[:, l['begin']:l['end']]
        out['E_layer'][l['id']] = data.sum(axis=-1)
        if l['alpha']:
            eta, phi = l['eta'], l['phi']
            eta_ec = (eta * data).sum(axis=-1) / (data.sum(axis=-1) + 1e-16)
            phi_ec = (phi * data).sum(axis=-1) / (data.sum(axis=-1) + 1e-16)
            eta_w = (eta * eta * data).sum(axis=-1) / (data.sum(axis=-1) + 1e-16)
            phi_w = (phi * phi * data).sum(axis=-1) / (data.sum(axis=-1) + 1e-16)
            out['EC_eta'][l['id']] = eta_ec
            out['EC_phi'][l['id']] = phi_ec
            out['W_eta'][l['id']] = np.sqrt((eta_w - eta_ec**2).clip(min=0.))
            out['W_phi'][l['id']] = np.sqrt((phi_w - phi_ec**2).clip(min=0.))
    return out


def separation_power(ref_values, gen_values, bins):
    h1, bins = np.histogram(ref_values, bins=bins, density=True)
    h2, _ = np.histogram(gen_values, bins=bins, density=True)
    h1, h2 = h1 * np.diff(bins), h2 * np.diff(bins)
    ret = (h1 - h2)**2
    ret /= h1 + h2 + 1e-16
    return float(0.5 * ret.sum())


def main():
    xml, dataset, min_energy, ref_path, gen_path = sys.argv[1:6]
    min_energy = float(min_energy)
    layers = read_geometry(xml)
    files = []
    for path in (ref_path, gen_path):
        with h5py.File(path, 'r') as f:
            showers = f['showers'][:]
            energies = f['incident_energies'][:]
        showers[showers < min_energy] = 0.0
        files.append((showers, energies))
    (ref_showers, ref_e), (gen_showers, gen_e) = files
    ref = features(ref_showers, ref_e, layers)
    gen = features(gen_showers, gen_e, layers)
    result = {}
    bins = np.linspace(0.5, 1.5, 101)
    result['etot_over_einc'] = separation_power(ref['E_tot'] / ref['E_inc'].squeeze(),
                                                gen['E_tot'] / gen['E_inc'].squeeze(), bins)
    for key in ref['E_layer']:
        if not ref['E_layer'][key].max() > min_energy:
            continue  # evaluate.py's bins would not ascend there (np.histogram raises); qvae falls back
        bins = np.logspace(np.log10(min_energy), np.log10(ref['E_layer'][key].max()), 40)
        result['e_layer_%d' % key] = separation_power(ref['E_layer'][key], gen['E_layer'][key], bins)
    for family, name, centred in (('EC_eta', 'ec_eta', True), ('EC_phi', 'ec_phi', True),
                                  ('W_eta', 'width_eta', False), ('W_phi', 'width_phi', False)):
        for key in ref[family]:
            if dataset in ['2', '3']:
                lim = (-30., 30.) if centred else (0., 30.)
            elif key in [12, 13]:
                lim = (-500., 500.) if centred else (0., 400.)
            else:
                lim = (-100., 100.) if centred else (0., 100.)
            bins = np.linspace(*lim, 101)
            result['%s_%d' % (name, key)] = separation_power(ref[family][key], gen[family][key], bins)
    bins = np.logspace(np.log10(min_energy), np.log10(ref_showers.max()), 50)
    result['voxel_energy'] = separation_power(ref_showers.flatten(), gen_showers.flatten(), bins)
    json.dump(result, sys.stdout, indent=0, sort_keys=True)


if __name__ == '__main__':
    main()
