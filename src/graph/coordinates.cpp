// Coordinate systems of the three families (docs/rbm.md, "Hardware graphs"), as in
// dwave-networkx 0.8.18's chimera_coordinates, pegasus_coordinates and
// zephyr_coordinates.
#include <stdexcept>

#include "qvae/graph/graph.hpp"

namespace qvae::graph {

// ---- Chimera -------------------------------------------------------------

std::int64_t ChimeraCoordinates::to_linear(const ChimeraCoord& c) const {
  return ((static_cast<std::int64_t>(c.i) * n_ + c.j) * 2 + c.u) * t_ + c.k;
}

ChimeraCoord ChimeraCoordinates::from_linear(std::int64_t q) const {
  ChimeraCoord c;
  c.k = static_cast<int>(q % t_), q /= t_;
  c.u = static_cast<int>(q % 2), q /= 2;
  c.j = static_cast<int>(q % n_);
  c.i = static_cast<int>(q / n_);
  return c;
}

bool ChimeraCoordinates::contains(const ChimeraCoord& c) const {
  return c.i >= 0 && c.i < m_ && c.j >= 0 && c.j < n_ && (c.u == 0 || c.u == 1) && c.k >= 0 && c.k < t_;
}

// ---- Pegasus -------------------------------------------------------------

std::int64_t PegasusCoordinates::to_linear(const PegasusCoord& c) const {
  return ((static_cast<std::int64_t>(m_) * c.u + c.w) * 12 + c.k) * (m_ - 1) + c.z;
}

PegasusCoord PegasusCoordinates::from_linear(std::int64_t q) const {
  PegasusCoord c;
  c.z = static_cast<int>(q % (m_ - 1)), q /= (m_ - 1);
  c.k = static_cast<int>(q % 12), q /= 12;
  c.w = static_cast<int>(q % m_);
  c.u = static_cast<int>(q / m_);
  return c;
}

bool PegasusCoordinates::contains(const PegasusCoord& c) const {
  return (c.u == 0 || c.u == 1) && c.w >= 0 && c.w < m_ && c.k >= 0 && c.k < 12 && c.z >= 0 && c.z < m_ - 1;
}

PegasusCoord PegasusCoordinates::nice_to_pegasus(const NiceCoord& nice) {
  const bool horizontal = nice.u == 1;
  PegasusCoord c;
  c.u = nice.u;
  c.z = horizontal ? nice.x : nice.y;
  switch (nice.t) {
    case 0:
      c.w = horizontal ? nice.y + 1 : nice.x;
      c.k = 4 + nice.k;
      break;
    case 1:
      c.w = horizontal ? nice.y + 1 : nice.x;
      c.k = horizontal ? nice.k : 8 + nice.k;
      break;
    default:  // t = 2
      c.w = horizontal ? nice.y : nice.x + 1;
      c.k = horizontal ? 8 + nice.k : nice.k;
      break;
  }
  return c;
}

std::optional<NiceCoord> PegasusCoordinates::pegasus_to_nice(const PegasusCoord& c) const {
  if (!contains(c)) return std::nullopt;
  const bool horizontal = c.u == 1;
  const int block = c.k / 4;  // which group of four k values
  NiceCoord nice;
  nice.u = c.u;
  nice.k = c.k % 4;
  // Inverse of nice_to_pegasus: the k block fixes the layer t.
  //   horizontal: k 0..3 -> t=1, 4..7 -> t=0, 8..11 -> t=2
  //   vertical:   k 0..3 -> t=2, 4..7 -> t=0, 8..11 -> t=1
  static constexpr int layer_of_block[2][3] = {{2, 0, 1}, {1, 0, 2}};
  nice.t = layer_of_block[c.u][block];
  if (horizontal) {
    nice.x = c.z;
    nice.y = nice.t == 2 ? c.w : c.w - 1;
  } else {
    nice.y = c.z;
    nice.x = nice.t == 2 ? c.w - 1 : c.w;
  }
  if (!contains(nice)) return std::nullopt;
  return nice;
}

bool PegasusCoordinates::contains(const NiceCoord& nice) const {
  return nice.t >= 0 && nice.t < 3 && nice.y >= 0 && nice.y < m_ - 1 && nice.x >= 0 && nice.x < m_ - 1 &&
         (nice.u == 0 || nice.u == 1) && nice.k >= 0 && nice.k < 4;
}

std::int64_t PegasusCoordinates::nice_to_linear(const NiceCoord& nice) const {
  if (!contains(nice))
    throw std::out_of_range("nice coordinate (" + std::to_string(nice.t) + ", " + std::to_string(nice.y) + ", " +
                            std::to_string(nice.x) + ", " + std::to_string(nice.u) + ", " + std::to_string(nice.k) +
                            ") lies outside pegasus m=" + std::to_string(m_));
  return to_linear(nice_to_pegasus(nice));
}

std::optional<NiceCoord> PegasusCoordinates::linear_to_nice(std::int64_t q) const {
  if (q < 0 || q >= 24 * static_cast<std::int64_t>(m_) * (m_ - 1)) return std::nullopt;
  return pegasus_to_nice(from_linear(q));
}

// ---- Zephyr --------------------------------------------------------------

std::int64_t ZephyrCoordinates::to_linear(const ZephyrCoord& c) const {
  return (((static_cast<std::int64_t>(c.u) * (2 * m_ + 1) + c.w) * t_ + c.k) * 2 + c.j) * m_ + c.z;
}

ZephyrCoord ZephyrCoordinates::from_linear(std::int64_t q) const {
  ZephyrCoord c;
  c.z = static_cast<int>(q % m_), q /= m_;
  c.j = static_cast<int>(q % 2), q /= 2;
  c.k = static_cast<int>(q % t_), q /= t_;
  c.w = static_cast<int>(q % (2 * m_ + 1));
  c.u = static_cast<int>(q / (2 * m_ + 1));
  return c;
}

bool ZephyrCoordinates::contains(const ZephyrCoord& c) const {
  return (c.u == 0 || c.u == 1) && c.w >= 0 && c.w < 2 * m_ + 1 && c.k >= 0 && c.k < t_ && (c.j == 0 || c.j == 1) &&
         c.z >= 0 && c.z < m_;
}

}  // namespace qvae::graph
