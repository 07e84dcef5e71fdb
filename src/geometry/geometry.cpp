#include "qvae/geometry/geometry.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "embedded_binnings.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/lists.hpp"

// Coordinates follow CaloChallenge's code/XMLHandler.py operation by operation
// so that they agree with evaluate.py to the last bit where libm allows:
//  * r centres are get_midpoint(): edge[i] + (edge[i+1] - edge[i]) / 2, not (a+b)/2.
//  * alpha centres are get_midpoint(np.linspace(-pi, pi, n+1)); numpy builds the
//    edges as k*(2pi/n) + (-pi) with the last edge set to exactly pi.  For
//    n_bin_alpha == 1 (ds1's unbinned layers) the edges are [-pi, pi] and the
//    centre is exactly 0, so eta = r and phi = 0 exactly.
//  * "eta"/"phi" are Cartesian offsets in mm (r cos alpha, r sin alpha), not
//    pseudorapidity/azimuth; the names are XMLHandler's.
//  * XMLHandler's relevant layers are file positions and its bin_edges keep a
//    repeated entry for every empty layer; here empty layers are dropped, so
//    layer_offsets() has num_layers()+1 entries.
//  * The CaloChallenge files hold one <Bin>; XMLHandler picks one by particle
//    name, so a document with several <Bin> elements is rejected here.

namespace qvae::geometry {
namespace {

namespace pt = boost::property_tree;
using core::describe;
using core::InputError;

constexpr double pi = 3.14159265358979323846;  // == Python's math.pi as a double

/// A whole attribute value as T, blanks around it allowed (as Python's int() and float() do, "+5" too).
template <class T>
bool parse_number(const std::string& token, T& value) {
  const std::optional<T> parsed = core::to_number<T>(core::trim(token));
  if (parsed) value = *parsed;
  return parsed.has_value();
}

[[noreturn]] void reject(const std::string& what, const std::string& where) {
  throw InputError(describe(what, where, "pass a CaloChallenge binning XML (<Bins><Bin><Layer .../>)"));
}

std::vector<double> parse_r_edges(const std::string& csv, const std::string& where) {
  std::vector<double> edges;
  const std::string list = core::trim(csv);
  if (list.empty() || list.back() == ',') reject("r_edges \"" + csv + "\" has an empty value", where);
  const std::vector<std::string> tokens = core::split_list(list);
  for (const std::string& token : tokens) {
    double value = 0;
    if (!parse_number(token, value)) reject("r_edges value '" + token + "' is not a number", where);
    if (value < 0) reject("r_edges value " + token + " is negative", where);
    if (!edges.empty() && value <= edges.back()) reject("r_edges \"" + csv + "\" are not strictly ascending", where);
    edges.push_back(value);
  }
  return edges;
}

/// get_midpoint(np.linspace(-pi, pi, bins + 1)) as numpy computes it.
std::vector<double> alpha_centres(int bins) {
  const double step = (pi - -pi) / bins;
  std::vector<double> edges(static_cast<std::size_t>(bins) + 1);
  for (int k = 0; k < bins; ++k) edges[static_cast<std::size_t>(k)] = k * step + -pi;
  edges[static_cast<std::size_t>(bins)] = pi;  // numpy pins the endpoint to stop exactly
  std::vector<double> centres(static_cast<std::size_t>(bins));
  for (std::size_t k = 0; k < centres.size(); ++k) centres[k] = edges[k] + (edges[k + 1] - edges[k]) / 2;
  return centres;
}

/// The children of `node` named `tag`; any other element is an error.
std::vector<const pt::ptree*> elements(const pt::ptree& node, const std::string& tag, const std::string& where) {
  std::vector<const pt::ptree*> found;
  for (const auto& [key, child] : node) {
    if (key == "<xmlattr>" || key == "<xmlcomment>") continue;
    if (key != tag) reject("unexpected element <" + key + "> (expected <" + tag + ">)", where);
    found.push_back(&child);
  }
  return found;
}

Layer parse_layer(const pt::ptree& node, int position, const std::string& where) {
  Layer layer;
  layer.id = position;  // XMLHandler only needs "id" for alpha-binned layers; fall back to the position
  if (const auto id = node.get_optional<std::string>("<xmlattr>.id")) {
    if (!parse_number(*id, layer.id)) reject("layer id '" + *id + "' is not an integer", where);
  }
  const auto r_edges = node.get_optional<std::string>("<xmlattr>.r_edges");
  if (!r_edges) reject("attribute r_edges is missing", where);
  layer.r_edges = parse_r_edges(*r_edges, where);
  const auto alpha = node.get_optional<std::string>("<xmlattr>.n_bin_alpha");
  if (!alpha) reject("attribute n_bin_alpha is missing", where);
  if (!parse_number(*alpha, layer.alpha_bins) || layer.alpha_bins < 1)
    reject("n_bin_alpha '" + *alpha + "' is not a positive integer", where);
  return layer;
}

}  // namespace

Geometry Geometry::from_xml_text(const std::string& xml, const std::string& name, const std::string& source) {
  const std::string where = "in binning XML " + source;
  pt::ptree document;
  try {
    std::istringstream stream(xml);
    pt::read_xml(stream, document, pt::xml_parser::no_comments);
  } catch (const pt::xml_parser_error& e) {
    reject("malformed XML (" + e.message() + " at line " + std::to_string(e.line()) + ")", where);
  }
  const auto bins = elements(document, "Bins", where);
  if (bins.size() != 1) reject("expected one <Bins> root element", where);
  const auto particles = elements(*bins.front(), "Bin", where);
  if (particles.size() != 1) reject("expected exactly one <Bin>, found " + std::to_string(particles.size()), where);

  Geometry geometry;
  geometry.name_ = name;
  int position = 0;
  for (const pt::ptree* node : elements(*particles.front(), "Layer", where)) {
    Layer layer = parse_layer(*node, position, where + ", layer " + std::to_string(position));
    ++position;
    if (layer.r_bins() > 0) geometry.layers_.push_back(std::move(layer));  // r_edges="0": no voxels
  }
  if (geometry.layers_.empty()) reject("no layer has radial bins", where);
  geometry.build_voxels();
  return geometry;
}

Geometry Geometry::from_xml_file(const std::string& path, const std::string& name) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  if (file) text << file.rdbuf();
  if (!file || text.fail())  // also catches directories and empty files
    throw InputError(describe("cannot read binning XML file '" + path + "' (missing, unreadable or empty)", "",
                              "check the path, or use a built-in geometry (ds1-photons, ds1-pions, ds2, ds3)"));
  return from_xml_text(text.str(), name, "'" + path + "'");
}

const std::vector<std::string>& Geometry::builtin_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& binning : detail::embedded_binnings()) out.emplace_back(binning.name);
    return out;
  }();
  return names;
}

Geometry Geometry::builtin(const std::string& name) {
  for (const auto& binning : detail::embedded_binnings()) {
    if (name == binning.name) return from_xml_text(binning.xml, name, std::string("built-in ") + binning.file);
  }
  std::string known;
  for (const auto& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
  throw core::UsageError(describe("unknown geometry '" + name + "'", "", "use one of: " + known));
}

Geometry Geometry::detect(std::int64_t voxels) {
  std::string known;
  for (const auto& name : builtin_names()) {
    Geometry geometry = builtin(name);
    if (geometry.voxels() == voxels) return geometry;
    known += (known.empty() ? "" : ", ") + std::to_string(geometry.voxels()) + " (" + name + ")";
  }
  throw InputError(describe("no built-in geometry has " + std::to_string(voxels) + " voxels",
                            "known voxel counts: " + known, "pass the binning XML of this dataset"));
}

void Geometry::build_voxels() {
  std::int64_t first = 0;
  for (Layer& layer : layers_) {
    layer.first_voxel = first;
    first += layer.voxels();
  }
  const auto total = static_cast<std::size_t>(first);
  for (auto* bins : {&layer_of_, &alpha_bin_, &r_bin_}) bins->reserve(total);
  for (auto* coordinates : {&r_center_, &alpha_center_, &eta_, &phi_}) coordinates->reserve(total);

  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const std::vector<double> alphas = alpha_centres(layer.alpha_bins);
    for (int a = 0; a < layer.alpha_bins; ++a) {  // alpha-major, r-minor (XMLHandler.fill_r_a_lists)
      const double alpha = alphas[static_cast<std::size_t>(a)];
      for (int r = 0; r < layer.r_bins(); ++r) {
        const double lo = layer.r_edges[static_cast<std::size_t>(r)];
        const double radius = lo + (layer.r_edges[static_cast<std::size_t>(r) + 1] - lo) / 2;
        layer_of_.push_back(static_cast<int>(l));
        alpha_bin_.push_back(a);
        r_bin_.push_back(r);
        r_center_.push_back(radius);
        alpha_center_.push_back(alpha);
        eta_.push_back(radius * std::cos(alpha));
        phi_.push_back(radius * std::sin(alpha));
      }
    }
  }
}

std::vector<std::int64_t> Geometry::layer_offsets() const {
  std::vector<std::int64_t> offsets;
  offsets.reserve(layers_.size() + 1);
  for (const Layer& layer : layers_) offsets.push_back(layer.first_voxel);
  offsets.push_back(voxels());
  return offsets;
}

std::int64_t Geometry::index(int layer, int alpha, int r) const {
  if (layer < 0 || layer >= num_layers()) throw std::out_of_range("Geometry::index: layer out of range");
  const Layer& l = layers_[static_cast<std::size_t>(layer)];
  if (alpha < 0 || alpha >= l.alpha_bins || r < 0 || r >= l.r_bins())
    throw std::out_of_range("Geometry::index: alpha or r bin out of range");
  return l.first_voxel + static_cast<std::int64_t>(alpha) * l.r_bins() + r;
}

bool Geometry::is_regular() const {
  for (const Layer& layer : layers_) {
    if (layer.r_edges != layers_.front().r_edges || layer.alpha_bins != layers_.front().alpha_bins) return false;
  }
  return true;
}

}  // namespace qvae::geometry
