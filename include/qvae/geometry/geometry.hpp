// Calorimeter geometries: the CaloChallenge voxelisations (layers x alpha x r)
// built from their binning XML, with per-voxel coordinates computed exactly as
// CaloChallenge's XMLHandler does.
//
// Voxel order is the CaloChallenge flatten order: layer slowest, then alpha,
// then r fastest.  Layers with no radial bins (r_edges="0" in ds1) hold no
// voxels and are skipped, as in XMLHandler's "relevant layers".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qvae::geometry {

struct Layer {
  int id = 0;                   ///< layer id in the XML (ds1 skips empty ones)
  std::vector<double> r_edges;  ///< mm, ascending, first is 0
  int alpha_bins = 1;
  std::int64_t first_voxel = 0;  ///< index of this layer's first voxel
  int r_bins() const { return static_cast<int>(r_edges.size()) - 1; }
  std::int64_t voxels() const { return static_cast<std::int64_t>(r_bins()) * alpha_bins; }
};

class Geometry {
 public:
  /// Parses a CaloChallenge binning XML document (the text, not a path).
  /// Malformed XML is a core::InputError naming `source`.
  static Geometry from_xml_text(const std::string& xml, const std::string& name, const std::string& source);
  /// Reads a binning XML file.
  static Geometry from_xml_file(const std::string& path, const std::string& name);
  /// One of builtin_names(), from XML embedded in the executable.
  /// Unknown names are a core::UsageError listing the known ones.
  static Geometry builtin(const std::string& name);
  /// "ds1-photons", "ds1-pions", "ds2", "ds3".
  static const std::vector<std::string>& builtin_names();
  /// The built-in geometry with this many voxels (368, 533, 6480, 40500);
  /// core::InputError naming the count and the known ones otherwise.
  static Geometry detect(std::int64_t voxels);

  const std::string& name() const { return name_; }
  std::int64_t voxels() const { return static_cast<std::int64_t>(layer_of_.size()); }
  /// Layers that hold voxels, in file order.
  const std::vector<Layer>& layers() const { return layers_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }

  /// Per voxel (size voxels()): index into layers(), alpha bin, r bin.
  const std::vector<int>& layer_of() const { return layer_of_; }
  const std::vector<int>& alpha_bin() const { return alpha_bin_; }
  const std::vector<int>& r_bin() const { return r_bin_; }
  /// Per voxel: radial bin centre (mm), alpha bin centre (rad), eta = r cos(alpha), phi = r sin(alpha).
  const std::vector<double>& r_center() const { return r_center_; }
  const std::vector<double>& alpha_center() const { return alpha_center_; }
  const std::vector<double>& eta() const { return eta_; }
  const std::vector<double>& phi() const { return phi_; }

  /// Cumulative voxel counts per layer: 0, n0, n0+n1, ..., voxels() (XMLHandler's bin_edges).
  std::vector<std::int64_t> layer_offsets() const;
  /// Flat index of (layer index into layers(), alpha bin, r bin).
  std::int64_t index(int layer, int alpha, int r) const;

  /// True if every layer has the same r edges and alpha bins (ds2, ds3): a regular
  /// (layers, alpha, r) grid that reshapes to a 3-D tensor.
  bool is_regular() const;

 private:
  void build_voxels();
  std::string name_;
  std::vector<Layer> layers_;
  std::vector<int> layer_of_, alpha_bin_, r_bin_;
  std::vector<double> r_center_, alpha_center_, eta_, phi_;
};

}  // namespace qvae::geometry
