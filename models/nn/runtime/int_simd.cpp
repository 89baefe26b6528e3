// Highway kernels of int_simd.h, compiled once per instruction set (foreach_target)
// and chosen at run time (HWY_DYNAMIC_DISPATCH).
#include "models/nn/runtime/int_simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL 1  // AVX-512 VNNI (vpdpwssd) where the CPU has it
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "models/nn/runtime/int_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace pixelzip::models::nn {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
using D32 = hn::ScalableTag<int32_t>;
using D16 = hn::Repartition<int16_t, D32>;
using V32 = hn::Vec<D32>;
using V16 = hn::Vec<D16>;

// sum0 + the pairwise products of a and b (lane j: a[2j] b[2j] + a[2j+1] b[2j+1]); exact in int32.
HWY_INLINE V32 MulPairsAcc(D32 d32, V16 a, V16 b, V32 sum0, V32& sum1) {
#if HWY_TARGET == HWY_AVX3_DL
  // vpdpwssd (AVX512-VNNI); Highway 1.0.3's AVX3_DL target string lacks avx512vnni, so inline asm.
  (void)d32;
  (void)sum1;
  __m512i acc = sum0.raw;
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a.raw), "v"(b.raw));
  return V32{acc};
#else
  return hn::ReorderWidenMulAccumulate(d32, a, b, sum0, sum1);
#endif
}

// Accumulators of NB rows x OB vectors of outputs starting at output o0, over all input pairs.
template <size_t NB, size_t OB>
HWY_INLINE void Tile(const PackedLinear& L, size_t o0, const int16_t* HWY_RESTRICT in, size_t in_stride,
                     int32_t* HWY_RESTRICT acc) {
  const D32 d32;
  const D16 d16;
  const size_t N = hn::Lanes(d32);
  V32 s0[NB][OB], s1[NB][OB];
  for (size_t n = 0; n < NB; ++n)
    for (size_t v = 0; v < OB; ++v) s0[n][v] = s1[n][v] = hn::Zero(d32);
  const size_t wstride = size_t(L.out_pad) * 2;
  const int16_t* HWY_RESTRICT w = L.w.data() + o0 * 2;
  for (int ip = 0; ip < L.in_pairs; ++ip, w += wstride) {
    V16 wv[OB];
    for (size_t v = 0; v < OB; ++v) wv[v] = hn::LoadU(d16, w + v * 2 * N);
    for (size_t n = 0; n < NB; ++n) {
      int32_t pair;
      std::memcpy(&pair, in + n * in_stride + 2 * size_t(ip), sizeof(pair));
      const V16 b = hn::BitCast(d16, hn::Set(d32, pair));
      for (size_t v = 0; v < OB; ++v) s0[n][v] = MulPairsAcc(d32, wv[v], b, s0[n][v], s1[n][v]);
    }
  }
  for (size_t n = 0; n < NB; ++n)
    for (size_t v = 0; v < OB; ++v)
      hn::StoreU(hn::RearrangeToOddPlusEven(s0[n][v], s1[n][v]), d32, acc + n * OB * N + v * N);
}

// out = clamp(((acc + bias) * mult + round) >> shift, lo, hi): RoundShift of int_ops.h (floor).
// Vectorised in double precision, exactly: |acc + bias| < 2^24, mult < 2^15 and round <= 2^45 (shift <= 46,
// both checked by the loader), so every intermediate is an integer below 2^53; multiplying by 2^-shift is
// exact and Floor is the arithmetic shift. The clamp bounds are int16, so the conversions cannot saturate.
HWY_INLINE void Requant(const PackedLinear& L, size_t o0, size_t count, const int32_t* HWY_RESTRICT acc,
                        int16_t* HWY_RESTRICT out) {
  size_t o = 0;
#if HWY_HAVE_FLOAT64
  const hn::ScalableTag<double> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<int16_t, decltype(df)> dh;
  const size_t N = hn::Lanes(df);
  const double* HWY_RESTRICT fb = L.f_bias.data() + o0;
  const double* HWY_RESTRICT fm = L.f_mult.data() + o0;
  const double* HWY_RESTRICT fr = L.f_round.data() + o0;
  const double* HWY_RESTRICT fs = L.f_scale.data() + o0;
  const auto lo = hn::Set(df, double(L.layer->lo)), hi = hn::Set(df, double(L.layer->hi));
  for (; o + N <= count; o += N) {
    auto v = hn::Add(hn::PromoteTo(df, hn::LoadU(di, acc + o)), hn::LoadU(df, fb + o));
    v = hn::Add(hn::Mul(v, hn::LoadU(df, fm + o)), hn::LoadU(df, fr + o));
    v = hn::Floor(hn::Mul(v, hn::LoadU(df, fs + o)));
    v = hn::Min(hn::Max(v, lo), hi);
    hn::StoreU(hn::DemoteTo(dh, hn::DemoteTo(di, v)), dh, out + o);
  }
#endif
  const int32_t* HWY_RESTRICT bias = L.bias.data() + o0;
  const int64_t* HWY_RESTRICT mult = L.mult.data() + o0;
  const int64_t* HWY_RESTRICT round = L.round.data() + o0;
  const int64_t* HWY_RESTRICT shift = L.shift.data() + o0;
  const int64_t lo64 = L.layer->lo, hi64 = L.layer->hi;
  for (; o < count; ++o) {
    int64_t v = ((int64_t(acc[o]) + bias[o]) * mult[o] + round[o]) >> shift[o];
    v = v < lo64 ? lo64 : v > hi64 ? hi64 : v;
    out[o] = int16_t(v);
  }
}

// Register tile: rows x vectors of outputs. AVX-512 has 32 registers (16 accumulators, 4 weight
// vectors, 1 broadcast; 6 rows measured no faster), the 128/256-bit targets 16.
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kRowsPerTile = 4, kVectorsPerTile = 4;
#else
constexpr size_t kRowsPerTile = 3, kVectorsPerTile = 3;
#endif

template <size_t NB>
HWY_INLINE void RowBlock(const PackedLinear& L, const int16_t* in, size_t in_stride, int16_t* out, size_t out_stride) {
  const size_t N = hn::Lanes(D32());
  constexpr size_t kOB = kVectorsPerTile;
  HWY_ALIGN int32_t acc[NB * kOB * (HWY_MAX_BYTES / sizeof(int32_t))];
  const size_t out_vectors = size_t(L.out_pad) / N;
  for (size_t v0 = 0; v0 < out_vectors; v0 += kOB) {
    const size_t ob = std::min(kOB, out_vectors - v0), o0 = v0 * N;
    if (ob == kOB) {
      Tile<NB, kOB>(L, o0, in, in_stride, acc);
    } else if (ob == 3) {
      Tile<NB, 3>(L, o0, in, in_stride, acc);
    } else if (ob == 2) {
      Tile<NB, 2>(L, o0, in, in_stride, acc);
    } else {
      Tile<NB, 1>(L, o0, in, in_stride, acc);
    }
    const size_t count = std::min(ob * N, size_t(L.out) > o0 ? size_t(L.out) - o0 : 0);
    for (size_t n = 0; n < NB; ++n) Requant(L, o0, count, acc + n * ob * N, out + n * out_stride + o0);
  }
}

void LinearRowsImpl(const PackedLinear& L, const int16_t* in, size_t in_stride, size_t rows, int16_t* out,
                    size_t out_stride) {
  constexpr size_t NB = kRowsPerTile;
  size_t n = 0;
  for (; n + NB <= rows; n += NB) RowBlock<NB>(L, in + n * in_stride, in_stride, out + n * out_stride, out_stride);
  const int16_t* i = in + n * in_stride;
  int16_t* o = out + n * out_stride;
  switch (rows - n) {
    case 5: if constexpr (NB > 5) RowBlock<5>(L, i, in_stride, o, out_stride); break;
    case 4: if constexpr (NB > 4) RowBlock<4>(L, i, in_stride, o, out_stride); break;
    case 3: if constexpr (NB > 3) RowBlock<3>(L, i, in_stride, o, out_stride); break;
    case 2: RowBlock<2>(L, i, in_stride, o, out_stride); break;
    case 1: RowBlock<1>(L, i, in_stride, o, out_stride); break;
    default: break;
  }
}

#else   // HWY_SCALAR: the reference loops
void LinearRowsImpl(const PackedLinear& L, const int16_t* in, size_t in_stride, size_t rows, int16_t* out,
                    size_t out_stride) {
  for (size_t n = 0; n < rows; ++n) L.layer->Apply(in + n * in_stride, out + n * out_stride);
}
#endif

HWY_INLINE int16_t LutOne(const PackedLut& L, int32_t x) {
  // |x| <= 32767 and mult < 2^15: x * mult fits in int32; for shift >= 31 the rounded quotient is 0.
  int32_t i = L.shift <= 30 ? (x * L.mult + (int32_t{1} << (L.shift - 1))) >> L.shift : 0;
  i = i < L.lo ? L.lo : i > L.hi ? L.hi : i;
  return int16_t(L.table[size_t(i - L.lo)]);
}

#if HWY_TARGET != HWY_SCALAR
void LutRowsImpl(const PackedLut& L, const int16_t* in, int16_t* out, size_t count) {
  const D32 d32;
  const hn::Rebind<int16_t, D32> dh;
  const size_t N = hn::Lanes(d32);
  size_t i = 0;
  if (L.shift <= 30) {
    const V32 m = hn::Set(d32, L.mult), r = hn::Set(d32, int32_t{1} << (L.shift - 1));
    const V32 lo = hn::Set(d32, L.lo), hi = hn::Set(d32, L.hi);
    const int shift = L.shift;
    for (; i + N <= count; i += N) {
      const V32 x = hn::PromoteTo(d32, hn::LoadU(dh, in + i));
      V32 idx = hn::ShiftRightSame(hn::Add(hn::Mul(x, m), r), shift);
      idx = hn::Sub(hn::Min(hn::Max(idx, lo), hi), lo);
      hn::StoreU(hn::DemoteTo(dh, hn::GatherIndex(d32, L.table.data(), idx)), dh, out + i);
    }
  }
  for (; i < count; ++i) out[i] = LutOne(L, in[i]);
}

void ResidualAddImpl(int16_t* h, const int16_t* inc, size_t count) {
  const D16 d16;
  const size_t N = hn::Lanes(d16);
  const V16 floor = hn::Set(d16, int16_t(-32767));
  size_t i = 0;
  for (; i + N <= count; i += N)
    hn::StoreU(hn::Max(hn::SaturatedAdd(hn::LoadU(d16, h + i), hn::LoadU(d16, inc + i)), floor), d16, h + i);
  for (; i < count; ++i) h[i] = int16_t(std::clamp<int32_t>(int32_t(h[i]) + inc[i], -kInt16Max, kInt16Max));
}
#else
void LutRowsImpl(const PackedLut& L, const int16_t* in, int16_t* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = LutOne(L, in[i]);
}
void ResidualAddImpl(int16_t* h, const int16_t* inc, size_t count) {
  for (size_t i = 0; i < count; ++i) h[i] = int16_t(std::clamp<int32_t>(int32_t(h[i]) + inc[i], -kInt16Max, kInt16Max));
}
#endif

int64_t TargetImpl() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace pixelzip::models::nn
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace pixelzip::models::nn {

HWY_EXPORT(LinearRowsImpl);
HWY_EXPORT(LutRowsImpl);
HWY_EXPORT(ResidualAddImpl);
HWY_EXPORT(TargetImpl);

PackedLinear::PackedLinear(const IntLinear& l)
    : layer(&l), in(l.in), out(l.out), in_pairs((l.in + 1) / 2), out_pad((l.out + 15) / 16 * 16) {
  w.assign(size_t(in_pairs) * out_pad * 2, 0);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) w[(size_t(i / 2) * out_pad + o) * 2 + i % 2] = l.weight[size_t(o) * in + i];
  bias.assign(size_t(out_pad), 0);
  mult.assign(size_t(out_pad), 1 << 14);
  round.assign(size_t(out_pad), 1 << 13);
  shift.assign(size_t(out_pad), 14);
  for (int o = 0; o < out; ++o) {
    bias[o] = l.bias[o];
    mult[o] = l.requant[o].multiplier;
    shift[o] = l.requant[o].shift;
    round[o] = int64_t{1} << (l.requant[o].shift - 1);
  }
  f_bias.assign(bias.begin(), bias.end());
  f_mult.assign(mult.begin(), mult.end());
  f_round.assign(round.begin(), round.end());
  for (int64_t s : shift) f_scale.push_back(std::ldexp(1.0, -int(s)));
}

PackedLut::PackedLut(const IntLut& l)
    : lut(&l), table(l.table.begin(), l.table.end()), mult(l.to_index.multiplier), shift(l.to_index.shift),
      lo(l.index_lo), hi(l.index_lo + int32_t(l.table.size()) - 1) {}

void LinearRows(const PackedLinear& layer, const int16_t* in, size_t in_stride, size_t rows, int16_t* out,
                size_t out_stride, KernelKind kind) {
  if (kind == KernelKind::kScalar) {
    for (size_t n = 0; n < rows; ++n) layer.layer->Apply(in + n * in_stride, out + n * out_stride);
    return;
  }
  HWY_DYNAMIC_DISPATCH(LinearRowsImpl)(layer, in, in_stride, rows, out, out_stride);
}

void LutRows(const PackedLut& lut, const int16_t* in, int16_t* out, size_t count, KernelKind kind) {
  if (kind == KernelKind::kScalar) {
    for (size_t i = 0; i < count; ++i) out[i] = (*lut.lut)(in[i]);
    return;
  }
  HWY_DYNAMIC_DISPATCH(LutRowsImpl)(lut, in, out, count);
}

void ResidualAdd(int16_t* h, const int16_t* inc, size_t count, KernelKind kind) {
  if (kind == KernelKind::kScalar) {
    for (size_t i = 0; i < count; ++i) h[i] = int16_t(std::clamp<int32_t>(int32_t(h[i]) + inc[i], -kInt16Max, kInt16Max));
    return;
  }
  HWY_DYNAMIC_DISPATCH(ResidualAddImpl)(h, inc, count);
}

std::string SimdTargetNameOf(int64_t target) { return hwy::TargetName(target); }
std::string SimdTargetName() { return SimdTargetNameOf(HWY_DYNAMIC_DISPATCH(TargetImpl)()); }
std::vector<int64_t> SimdTargetsForTest() { return hwy::SupportedAndGeneratedTargets(); }
void SetSimdTargetForTest(int64_t target) { hwy::SetSupportedTargetsForTest(target); }

}  // namespace pixelzip::models::nn
#endif  // HWY_ONCE
