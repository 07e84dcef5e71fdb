// Q(z) of many chains in double, read from unit-major float tiles
// (qvae/rbm/coupling_energy.hpp).
#include "qvae/rbm/coupling_energy.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "qvae/core/cpu_dispatch.hpp"

#if QVAE_X86_DISPATCH
#include <immintrin.h>
#endif

namespace qvae::rbm {
namespace {

constexpr std::int64_t kLanes = CouplingEnergy::kLanes;

/// Q of kLanes chains: lane l of node n is tile[position[n] · unit_stride + l].
struct EnergyTileArgs {
  const float* tile;
  std::int64_t unit_stride;
  std::int64_t nodes;
  const std::int64_t* position;
  const std::int64_t* first;      ///< per node: start of its upper neighbours, nodes + 1
  const std::int64_t* neighbour;  ///< node index
  const double* weight;
  std::int8_t* off;  ///< nodes × kLanes bytes: −1 where the unit is 0
  double* out;       ///< kLanes values
};

// Vectors of four doubles and of their bit patterns (GCC/Clang vector
// extension): 16 lanes are 4 of them, kept in registers; lowered to SSE2 in
// the portable build.
//  1. The states become byte masks in node order ("off": −1 where z = 0): 16
//     bytes a node, so a 1208-unit tile's masks (19 KB) stay in L1, where
//     doubles (155 KB) would come from L2 at every coupler.  W·z is W with the
//     widened mask's lanes cleared.  (That gives +0 where W·0 may give −0; the
//     sums cannot tell: they start at +0, and x + (±0) = x for every x but −0,
//     which a sum that starts at +0 never reaches.)
//  2. Per node i: g_i over its upper neighbours, then Q += z_i g_i.
typedef double Double4 __attribute__((vector_size(32)));
typedef std::int64_t Bits4 __attribute__((vector_size(32)));
typedef std::int8_t Mask4 __attribute__((vector_size(4), may_alias));
static_assert(kLanes == 16, "the tile body below holds 16 lanes as 4 x Double4");

// The body, given OFF16(from, to) — the 16 floats at `from` become 16 "off"
// bytes at `to` —, LOAD(p) — a node's 16 mask bytes at p, in whatever form
// KEEP reads — and KEEP(value, loaded, q): `value` (a Double4) in the lanes
// 4q..4q+3 whose unit is 1, +0 elsewhere.  Macros, since a function returning
// a 32-byte vector would change its ABI between the two builds.  Reads `args`
// through a local copy, which the mask stores cannot alias.
#define QVAE_ENERGY_TILE_BODY(OFF16, LOAD, KEEP)                              \
  const EnergyTileArgs a = args;                                              \
  for (std::int64_t node = 0; node < a.nodes; ++node)                         \
    OFF16(a.tile + a.position[node] * a.unit_stride, a.off + node * kLanes);  \
  Double4 q0{}, q1{}, q2{}, q3{};                                             \
  for (std::int64_t node = 0; node < a.nodes; ++node) {                       \
    Double4 f0{}, f1{}, f2{}, f3{};                                           \
    for (std::int64_t k = a.first[node]; k < a.first[node + 1]; ++k) {        \
      const Double4 w = {a.weight[k], a.weight[k], a.weight[k], a.weight[k]}; \
      const auto m = LOAD(a.off + a.neighbour[k] * kLanes);                   \
      f0 += KEEP(w, m, 0);                                                    \
      f1 += KEEP(w, m, 1);                                                    \
      f2 += KEEP(w, m, 2);                                                    \
      f3 += KEEP(w, m, 3);                                                    \
    }                                                                         \
    const auto m = LOAD(a.off + node * kLanes);                               \
    q0 += KEEP(f0, m, 0);                                                     \
    q1 += KEEP(f1, m, 1);                                                     \
    q2 += KEEP(f2, m, 2);                                                     \
    q3 += KEEP(f3, m, 3);                                                     \
  }                                                                           \
  std::memcpy(a.out, &q0, sizeof q0);                                         \
  std::memcpy(a.out + 4, &q1, sizeof q1);                                     \
  std::memcpy(a.out + 8, &q2, sizeof q2);                                     \
  std::memcpy(a.out + 12, &q3, sizeof q3);

#define QVAE_OFF16_PORTABLE(from, to) \
  for (int lane = 0; lane < kLanes; ++lane) (to)[lane] = (from)[lane] == 0.0f ? -1 : 0;
#define QVAE_LOAD_PORTABLE(p) (p)
#define QVAE_KEEP_PORTABLE(value, m, q)                      \
  reinterpret_cast<Double4>(reinterpret_cast<Bits4>(value) & \
                            ~__builtin_convertvector(*reinterpret_cast<const Mask4*>((m) + 4 * (q)), Bits4))
void energy_tile_portable(const EnergyTileArgs& args) {
  QVAE_ENERGY_TILE_BODY(QVAE_OFF16_PORTABLE, QVAE_LOAD_PORTABLE, QVAE_KEEP_PORTABLE)
}

#if QVAE_X86_DISPATCH
// Zero words to −1, then narrowed 32 → 16 → 8 bits (packs work within
// 128-bit halves; the permute puts the halves back in order).
QVAE_TARGET("avx2") inline void off16_avx2(const float* from, std::int8_t* to) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i low = _mm256_cmpeq_epi32(_mm256_castps_si256(_mm256_loadu_ps(from)), zero);
  const __m256i high = _mm256_cmpeq_epi32(_mm256_castps_si256(_mm256_loadu_ps(from + 8)), zero);
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(low, high), 0xD8);
  const __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(to), bytes);
}
#define QVAE_OFF16_AVX2(from, to) off16_avx2(from, to);
// A node's 16 mask bytes in both 128-bit halves; lane 4q + i's byte is then
// copied into all 8 bytes of 64-bit lane i by spread_q (vpshufb: GCC 12
// widens the generic vector above byte by byte, and vpmovsxbq costs more).
#define QVAE_LOAD_AVX2(p) _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))
#define QVAE_KEEP_AVX2(value, m, q) _mm256_andnot_pd(_mm256_castsi256_pd(_mm256_shuffle_epi8((m), spread_##q)), (value))
/// vpshufb controls: byte b of the 32 takes mask byte 4q + b / 8.
struct SpreadControls {
  alignas(32) std::int8_t bytes[4][32];
  SpreadControls() {
    for (int q = 0; q < 4; ++q)
      for (int b = 0; b < 32; ++b) bytes[q][b] = static_cast<std::int8_t>(4 * q + b / 8);
  }
};
const SpreadControls kSpread;
#define QVAE_SPREAD(q) _mm256_load_si256(reinterpret_cast<const __m256i*>(kSpread.bytes[q]))
QVAE_TARGET("avx2,fma") void energy_tile_avx2(const EnergyTileArgs& args) {
  const __m256i spread_0 = QVAE_SPREAD(0), spread_1 = QVAE_SPREAD(1), spread_2 = QVAE_SPREAD(2),
                spread_3 = QVAE_SPREAD(3);
  QVAE_ENERGY_TILE_BODY(QVAE_OFF16_AVX2, QVAE_LOAD_AVX2, QVAE_KEEP_AVX2)
}
#undef QVAE_SPREAD
#undef QVAE_OFF16_AVX2
#undef QVAE_LOAD_AVX2
#undef QVAE_KEEP_AVX2
#endif
#undef QVAE_OFF16_PORTABLE
#undef QVAE_LOAD_PORTABLE
#undef QVAE_KEEP_PORTABLE
#undef QVAE_ENERGY_TILE_BODY

using EnergyTileKernel = void (*)(const EnergyTileArgs&);
core::DispatchedKernel<EnergyTileKernel>& energy_tile_kernel() {
#if QVAE_X86_DISPATCH
  static core::DispatchedKernel<EnergyTileKernel> kernel(energy_tile_avx2, energy_tile_portable,
                                                         {core::CpuFeature::avx2, core::CpuFeature::fma});
#else
  static core::DispatchedKernel<EnergyTileKernel> kernel(energy_tile_portable);
#endif
  return kernel;
}

std::vector<std::int64_t> identity_positions(std::int64_t nodes) {
  std::vector<std::int64_t> positions(static_cast<std::size_t>(nodes));
  std::iota(positions.begin(), positions.end(), std::int64_t{0});
  return positions;
}

}  // namespace

namespace detail {
void force_portable_energy_kernel(bool portable) { energy_tile_kernel().force_portable(portable); }
}  // namespace detail

CouplingEnergy::CouplingEnergy(const BoltzmannMachine& machine)
    : CouplingEnergy(machine, identity_positions(machine.num_nodes())) {}

CouplingEnergy::CouplingEnergy(const BoltzmannMachine& machine, const std::vector<std::int64_t>& position_of_node)
    : machine_(machine), position_(position_of_node) {
  const std::int64_t nodes = machine.num_nodes();
  if (static_cast<std::int64_t>(position_.size()) != nodes)
    throw std::invalid_argument("qvae::rbm::CouplingEnergy: one position per node is needed");
  // Each coupler once, under its lower endpoint (couplers() has i < j), in couplers() order.
  std::vector<std::int64_t> count(static_cast<std::size_t>(nodes + 1), 0);
  for (const auto& [i, j] : machine.couplers()) ++count[static_cast<std::size_t>(i) + 1];
  first_.assign(static_cast<std::size_t>(nodes + 1), 0);
  std::partial_sum(count.begin(), count.end(), first_.begin());
  neighbour_.resize(machine.couplers().size());
  coupler_.resize(machine.couplers().size());
  std::vector<std::int64_t> next(first_.begin(), first_.end() - 1);
  for (std::size_t e = 0; e < machine.couplers().size(); ++e) {
    const auto [i, j] = machine.couplers()[e];
    const std::int64_t slot = next[static_cast<std::size_t>(i)]++;
    neighbour_[static_cast<std::size_t>(slot)] = j;
    coupler_[static_cast<std::size_t>(slot)] = static_cast<std::int64_t>(e);
  }
  refresh_weights();
}

void CouplingEnergy::refresh_weights() {
  weight_.resize(coupler_.size());
  for (std::size_t k = 0; k < coupler_.size(); ++k) weight_[k] = machine_.weights()[coupler_[k]];
}

void CouplingEnergy::evaluate_tile(const float* tile, int tile_lanes, std::int64_t chains, double* out) const {
  if (tile_lanes % kLanes != 0 || chains < 0 || chains > tile_lanes)
    throw std::invalid_argument("qvae::rbm::CouplingEnergy::evaluate_tile: tiles hold a multiple of 16 chains");
  const EnergyTileKernel kernel = energy_tile_kernel().get();
  thread_local std::vector<std::int8_t> off;  // reused: Q runs once per tile and temperature
  off.resize(static_cast<std::size_t>(machine_.num_nodes() * kLanes));
  double values[kLanes];
  EnergyTileArgs args{};
  args.unit_stride = tile_lanes;
  args.nodes = machine_.num_nodes();
  args.position = position_.data();
  args.first = first_.data();
  args.neighbour = neighbour_.data();
  args.weight = weight_.data();
  args.off = off.data();
  args.out = values;
  for (std::int64_t first_lane = 0; first_lane < chains; first_lane += kLanes) {
    args.tile = tile + first_lane;
    kernel(args);
    std::copy(values, values + std::min(std::int64_t{kLanes}, chains - first_lane), out + first_lane);
  }
}

void CouplingEnergy::evaluate(const ChainBlock& chains, double* out) const {
  const std::int64_t nodes = machine_.num_nodes();
  if (chains.units != nodes)
    throw std::invalid_argument("qvae::rbm::CouplingEnergy: chains of another width than the machine");
  const std::int64_t positions = nodes == 0 ? 0 : *std::max_element(position_.begin(), position_.end()) + 1;
  std::vector<float> tile(static_cast<std::size_t>(positions * kLanes));
  for (std::int64_t first_chain = 0; first_chain < chains.count; first_chain += kLanes) {
    const std::int64_t lanes = std::min(std::int64_t{kLanes}, chains.count - first_chain);
    if (lanes < kLanes) std::fill(tile.begin(), tile.end(), 0.0f);  // padding lanes: all units 0
    for (std::int64_t lane = 0; lane < lanes; ++lane) {
      const std::uint8_t* row = chains.state(first_chain + lane);
      for (std::int64_t node = 0; node < nodes; ++node)
        tile[static_cast<std::size_t>(position_[static_cast<std::size_t>(node)] * kLanes + lane)] =
            row[node] ? 1.0f : 0.0f;
    }
    evaluate_tile(tile.data(), kLanes, lanes, out + first_chain);
  }
}

std::vector<double> CouplingEnergy::evaluate(const ChainBlock& chains) const {
  std::vector<double> out(static_cast<std::size_t>(chains.count));
  evaluate(chains, out.data());
  return out;
}

}  // namespace qvae::rbm
