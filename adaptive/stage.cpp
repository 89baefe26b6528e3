#include "adaptive/stage.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <stdexcept>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(PIXELZIP_STAGE_NO_AVX2)
#include <immintrin.h>
#define PIXELZIP_STAGE_AVX2 1
#endif

#include "adaptive/tables.h"

namespace pixelzip::adaptive {
namespace {

constexpr uint32_t kP22Max = (1u << 22) - 1;
constexpr uint32_t kCounterInit = (1u << 21) << 10;  // p = 1/2, n = 0

uint64_t Mix64(uint64_t h) {
  h ^= h >> 31;
  h *= 0x7fb5d329728ea185ull;
  h ^= h >> 27;
  h *= 0x81dadef4bc2dd44dull;
  h ^= h >> 33;
  return h;
}

uint64_t Hash(std::initializer_list<uint32_t> values) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint32_t v : values) h = Mix64(h + v + 0x632be59bd9b4e019ull);
  return h;
}

constexpr int32_t Clamp4095(int64_t x) { return static_cast<int32_t>(x < -4095 ? -4095 : x > 4095 ? 4095 : x); }
constexpr int32_t Clamp4095(int32_t x) { return x < -4095 ? -4095 : x > 4095 ? 4095 : x; }

// 0-8 from the model's mass outside the three bins around its median (0 - 2^16).
inline int ConfidenceBucket(uint32_t outside) {
  // b = bit length of outside, at most 17 (outside <= 2^16 in the stage's use).
  int b = outside == 0 ? 0 : 32 - __builtin_clz(outside);
  if (b > 17) b = 17;
  return std::min(8, b / 2);
}

// The hot copies of Log2Fixed, StretchRatio and Squash (the public ones may not be
// inlined into the stage when the library is built position independent).
constexpr int32_t Log2FixedInline(uint32_t v) {
  // With the leading 1 moved to bit 31, bits 30-23 are the 8 bits below it (zeros
  // shifted in when v has fewer): the same f as (v >> (e - 8)) or (v << (8 - e)).
  const int z = __builtin_clz(v);
  const uint32_t f = ((v << z) >> 23) & 255;
  return (31 - z) * 256 + tables::kLog2Frac[f];
}
inline int32_t StretchRatioInline(uint32_t a, uint32_t b) { return Clamp4095(Log2FixedInline(a) - Log2FixedInline(b)); }
inline uint32_t SquashInline(int32_t x) { return tables::kSquash[Clamp4095(x) + 4095]; }

constexpr int kApmCells = 33;

void InitApm(std::vector<uint16_t>& t, size_t contexts) {
  t.resize(contexts * kApmCells);
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<uint16_t>(Squash((static_cast<int32_t>(i % kApmCells) - 16) * 256));
}

// Interpolated APM read: x in [-4095, 4095]; sets *index to the nearer cell.
uint32_t ApmRead(const std::vector<uint16_t>& t, size_t context, int32_t x, size_t* index) {
  const int32_t pos = x + 4096;  // 1 - 8191
  const int32_t j = pos >> 8, w = pos & 255;
  const size_t base = context * kApmCells + static_cast<size_t>(j);
  *index = base + (w >= 128 ? 1 : 0);
  return (uint32_t{t[base]} * static_cast<uint32_t>(256 - w) + uint32_t{t[base + 1]} * static_cast<uint32_t>(w)) >> 8;
}

void ApmUpdate(std::vector<uint16_t>& t, size_t index, int bit, int rate) {
  const int32_t target = bit ? 65535 : 0;
  int32_t v = t[index];
  v += (target - v) >> rate;
  t[index] = static_cast<uint16_t>(std::clamp(v, 1, 65535));
}

constexpr int32_t kWMax = 64 << 16;

// w[i] += (x[i] * err) >> 18, clamped to +-2^22, for i < n, with err = 4096 eh + el
// (0 <= el < 4096): (x err) >> 18 = (x eh + ((x el) >> 12)) >> 6 exactly, in int32
// (|x| <= 4095, |err| < 2^24, so |x eh| < 2^25 and |x el| < 2^24).
inline void UpdateWeightsScalar(int32_t* w, const int32_t* x, int n, int32_t eh, int32_t el) {
  for (int i = 0; i < n; ++i) {
    const int32_t a = w[i] + ((x[i] * eh + ((x[i] * el) >> 12)) >> 6);
    w[i] = a < -kWMax ? -kWMax : a > kWMax ? kWMax : a;
  }
}

// The counters' update (Stage::Update, Stage::UpdateLight) on *counter[0..n): p moves by
// ((target - p) * kRate[n]) >> 16, clamped to [1, 2^22 - 1]; n counts up to limit.
inline void UpdateCountersScalar(uint32_t* const* counter, int n_counters, int32_t target, uint32_t limit) {
  for (int i = 0; i < n_counters; ++i) {
    uint32_t& v = *counter[i];
    const uint32_t n = v & 1023;
    int32_t p = int32_t(v >> 10);
    p += int32_t((int64_t{target - p} * tables::kRate[n]) >> 16);
    p = p < 1 ? 1 : p > int32_t{kP22Max} ? int32_t{kP22Max} : p;
    v = (static_cast<uint32_t>(p) << 10) | (n < limit ? n + 1 : n);
  }
}

#ifdef PIXELZIP_STAGE_AVX2
// The same for 8 weights (the 8 context inputs), both mixers at once.
__attribute__((target("avx2"))) void UpdateWeights8Avx2(int32_t* w, int32_t* w2, const int32_t* x, int32_t eh,
                                                        int32_t el, int32_t eh2, int32_t el2) {
  const __m256i vx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i hi = _mm256_set1_epi32(kWMax), lo = _mm256_set1_epi32(-kWMax);
  __m256i d = _mm256_add_epi32(_mm256_mullo_epi32(vx, _mm256_set1_epi32(eh)),
                               _mm256_srai_epi32(_mm256_mullo_epi32(vx, _mm256_set1_epi32(el)), 12));
  __m256i v = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), _mm256_srai_epi32(d, 6));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w), _mm256_max_epi32(_mm256_min_epi32(v, hi), lo));
  d = _mm256_add_epi32(_mm256_mullo_epi32(vx, _mm256_set1_epi32(eh2)),
                       _mm256_srai_epi32(_mm256_mullo_epi32(vx, _mm256_set1_epi32(el2)), 12));
  v = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w2)), _mm256_srai_epi32(d, 6));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w2), _mm256_max_epi32(_mm256_min_epi32(v, hi), lo));
}

// A uint16_t table widened to int32_t, for _mm256_i32gather_epi32.
template <size_t N>
struct Table32 {
  int32_t v[N];
};
template <size_t N>
constexpr Table32<N> Widen32(const uint16_t (&table)[N]) {
  Table32<N> t{};
  for (size_t i = 0; i < N; ++i) t.v[i] = table[i];
  return t;
}
constexpr Table32<256> kLog2Frac32 = Widen32(tables::kLog2Frac);

// Log2Fixed of 8 values 1 <= v < 2^24: converted to float exactly, the exponent field is
// 127 + e and the top 8 mantissa bits are f, so (bits >> 15) = 256 (127 + e) + f.
__attribute__((target("avx2"))) inline __m256i Log2Fixed8(__m256i v) {
  const __m256i t = _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(v)), 15);
  const __m256i f = _mm256_and_si256(t, _mm256_set1_epi32(255));
  const __m256i e = _mm256_sub_epi32(_mm256_andnot_si256(_mm256_set1_epi32(255), t), _mm256_set1_epi32(127 * 256));
  return _mm256_add_epi32(e, _mm256_i32gather_epi32(kLog2Frac32.v, f, 4));
}

// Sum of w[i] * x[i] (int64) over 8 lanes.
__attribute__((target("avx2"))) inline int64_t Dot8(__m256i w, __m256i x) {
  const __m256i even = _mm256_mul_epi32(w, x);
  const __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(w, 32), _mm256_srli_epi64(x, 32));
  const __m256i s = _mm256_add_epi64(even, odd);
  const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
}

// The context inputs x[0..8) = StretchRatio(p, 2^22 - p) of the 8 counters'
// probabilities p (1 <= p < 2^22, the counters' values >> 10) and the two mixers' dot
// products over x[0..10).
__attribute__((target("avx2"))) inline void MixAvx2(__m256i p, int32_t* x, const int32_t* w, const int32_t* w2,
                                                    int64_t* dot, int64_t* dot2) {
  const __m256i q = _mm256_sub_epi32(_mm256_set1_epi32(1 << 22), p);
  __m256i st = _mm256_sub_epi32(Log2Fixed8(p), Log2Fixed8(q));
  st = _mm256_max_epi32(_mm256_min_epi32(st, _mm256_set1_epi32(4095)), _mm256_set1_epi32(-4095));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(x), st);
  *dot = Dot8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), st) + int64_t{w[8]} * x[8] + int64_t{w[9]} * x[9];
  *dot2 = Dot8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w2)), st) + int64_t{w2[8]} * x[8] + int64_t{w2[9]} * x[9];
}

// Kind 1's mixing step on AVX2 (Stage::Predict): gathers the 8 counters of the node whose
// word indexes are slot_word[i] + sub - 1 (one per context table, so never the same word
// twice), keeps their indexes and values for the update, and mixes them (MixAvx2).
__attribute__((target("avx2"))) void GatherMixAvx2(const uint32_t* words, const int32_t* slot_word, int sub,
                                                   int32_t* counter_word, uint32_t* counter_value, int32_t* x,
                                                   const int32_t* w, const int32_t* w2, int64_t* dot, int64_t* dot2) {
  const __m256i idx =
      _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(slot_word)), _mm256_set1_epi32(sub - 1));
  const __m256i c = _mm256_i32gather_epi32(reinterpret_cast<const int*>(words), idx, 4);
  _mm256_store_si256(reinterpret_cast<__m256i*>(counter_word), idx);
  _mm256_store_si256(reinterpret_cast<__m256i*>(counter_value), c);
  MixAvx2(_mm256_srli_epi32(c, 10), x, w, w2, dot, dot2);
}

constexpr Table32<1024> kRate32 = Widen32(tables::kRate);

// The 8 counters' update (UpdateCountersScalar) on their values v[0..8): p moves
// by ((target - p) * kRate[n]) >> 16 (|.| < 2^22: the low 32 bits of the logical
// 64-bit shift are those of the arithmetic one), clamped to [1, 2^22 - 1]; n counts
// up to limit.
__attribute__((target("avx2"))) inline __m256i UpdateCounters8(__m256i c, int32_t target, uint32_t limit) {
  const __m256i n = _mm256_and_si256(c, _mm256_set1_epi32(1023));
  const __m256i p = _mm256_srli_epi32(c, 10);
  const __m256i rate = _mm256_i32gather_epi32(kRate32.v, n, 4);
  const __m256i diff = _mm256_sub_epi32(_mm256_set1_epi32(target), p);
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epi32(diff, rate), 16);
  const __m256i odd = _mm256_srli_epi64(_mm256_mul_epi32(_mm256_srli_epi64(diff, 32), _mm256_srli_epi64(rate, 32)), 16);
  const __m256i step = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  __m256i q = _mm256_add_epi32(p, step);
  q = _mm256_max_epi32(_mm256_min_epi32(q, _mm256_set1_epi32(int32_t{kP22Max})), _mm256_set1_epi32(1));
  const __m256i vl = _mm256_set1_epi32(int32_t(limit));
  const __m256i n1 = _mm256_add_epi32(n, _mm256_and_si256(_mm256_cmpgt_epi32(vl, n), _mm256_set1_epi32(1)));
  return _mm256_or_si256(_mm256_slli_epi32(q, 10), n1);
}

// Kind 1's update on AVX2 (Stage::Update): both mixers' 10 weights (UpdateWeightsScalar:
// inputs 0-7 in one 8-lane vector per mixer, inputs 8 and 9 of both mixers in one 4-lane
// vector) and the 8 counters GatherMixAvx2 read, written back to their words.
__attribute__((target("avx2"))) void UpdateAvx2(uint32_t* words, const int32_t* counter_word,
                                                const uint32_t* counter_value, int32_t target, uint32_t limit,
                                                int32_t* w, int32_t* w2, const int32_t* x, int32_t eh, int32_t el,
                                                int32_t eh2, int32_t el2) {
  UpdateWeights8Avx2(w, w2, x, eh, el, eh2, el2);
  const __m128i xv = _mm_set_epi32(x[9], x[8], x[9], x[8]);
  const __m128i wv = _mm_set_epi32(w2[9], w2[8], w[9], w[8]);
  const __m128i d = _mm_add_epi32(_mm_mullo_epi32(xv, _mm_set_epi32(eh2, eh2, eh, eh)),
                                  _mm_srai_epi32(_mm_mullo_epi32(xv, _mm_set_epi32(el2, el2, el, el)), 12));
  const __m128i v = _mm_max_epi32(_mm_min_epi32(_mm_add_epi32(wv, _mm_srai_epi32(d, 6)), _mm_set1_epi32(kWMax)),
                                  _mm_set1_epi32(-kWMax));
  w[8] = _mm_cvtsi128_si32(v);
  w[9] = _mm_extract_epi32(v, 1);
  w2[8] = _mm_extract_epi32(v, 2);
  w2[9] = _mm_extract_epi32(v, 3);
  alignas(32) uint32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out),
                     UpdateCounters8(_mm256_load_si256(reinterpret_cast<const __m256i*>(counter_value)), target, limit));
  for (int i = 0; i < 8; ++i) words[counter_word[i]] = out[i];
}

bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}
#endif

}  // namespace

int32_t Log2Fixed(uint32_t v) { return Log2FixedInline(v); }

int32_t StretchRatio(uint32_t a, uint32_t b) { return StretchRatioInline(a, b); }

uint32_t Squash(int32_t x) { return SquashInline(x); }

std::vector<uint8_t> Serialize(const StageParams& p) {
  return {p.kind, p.positions, p.table_bits, p.mixer_rate, static_cast<uint8_t>(p.counter_limit & 255),
          static_cast<uint8_t>(p.counter_limit >> 8), p.apm_rate};
}

std::string Problem(const StageParams& p) {
  if (p.kind < 1 || p.kind > kNewestKind) return "unknown adaptive stage kind " + std::to_string(p.kind);
  if (p.positions > kNewestPositions) return "unknown adaptive stage position mode " + std::to_string(p.positions);
  if (p.table_bits < 10 || p.table_bits > 22) return "adaptive stage table size 2^" + std::to_string(p.table_bits) + " (allowed 2^10-2^22)";
  if (p.mixer_rate < 1) return "adaptive stage mixer rate 0";
  if (p.counter_limit < 1 || p.counter_limit > 1023) return "adaptive stage counter limit " + std::to_string(p.counter_limit);
  if (p.apm_rate < 1 || p.apm_rate > 12) return "adaptive stage APM rate " + std::to_string(p.apm_rate);
  return {};
}

StageParams Parse(const uint8_t* data, size_t size) {
  if (size != kSerializedParamsBytes)
    throw std::invalid_argument("adaptive stage record of " + std::to_string(size) + " bytes (expected " +
                                std::to_string(kSerializedParamsBytes) + ")");
  StageParams p;
  p.kind = data[0];
  p.positions = data[1];
  p.table_bits = data[2];
  p.mixer_rate = data[3];
  p.counter_limit = static_cast<uint16_t>(data[4] | (data[5] << 8));
  p.apm_rate = data[6];
  const std::string problem = Problem(p);
  if (!problem.empty()) throw std::invalid_argument(problem);
  return p;
}

namespace {
int TableBits(const StageParams& params, uint64_t subpixels) {
  // Tables no larger than about two slots per subpixel: small images stay cheap.
  int bits = 10;
  while (bits < params.table_bits && (uint64_t{1} << bits) < 2 * subpixels) ++bits;
  return bits;
}
}  // namespace

uint64_t Stage::MemoryBytes(const StageParams& params, uint32_t width, uint32_t height, uint32_t channels) {
  const uint64_t subpixels = uint64_t{width} * height * channels;
  const uint64_t known = params.positions == 3 ? uint64_t{width} * height : 0;
  if (params.kind >= 2)
    return known + (params.positions >= 1 ? subpixels : 0) +
           (uint64_t{kLightContexts} * sizeof(Slot) + 4) * (uint64_t{1} << TableBits(params, subpixels)) +
           uint64_t{3} * kLightDecisions * kConfBuckets * (kLightInputs * 4 + kApmCells * 2) + uint64_t{3} * kLightModelOnly * kConfBuckets * kApmCells * 2 +
           uint64_t{3} * kCands * 16 * 2 +
           (params.kind == 3 ? uint64_t{4} * kKind3Entries + 128 : 0);
  return known + (params.positions >= 1 ? subpixels : 0) + (uint64_t{kContexts} << TableBits(params, subpixels)) * sizeof(Slot) +
         (uint64_t{3} * 8 * kConfBuckets + uint64_t{3} * 256) * kInputs * 4 + uint64_t{3} * 256 * (1 + kConfBuckets) * kApmCells * 2;
}

Stage::Stage(const StageParams& params, uint32_t width, uint32_t height, uint32_t channels)
    : params_(params), width_(width), height_(height), channels_(channels) {
  const std::string problem = Problem(params);
  if (!problem.empty()) throw std::invalid_argument(problem);
  if (channels < 1 || channels > 3 || width == 0 || height == 0)
    throw std::invalid_argument("adaptive stage: image must be 1-3 channels and not empty");
  subpixels_ = uint64_t{width} * height * channels;
  if (params.positions >= 1) plane_.assign(subpixels_, 0);
  if (params.positions == 3) known_.assign(size_t{width} * height, 0);
  const int bits = TableBits(params, subpixels_);
  table_bits_ = bits;
  slot_mask_ = (1u << bits) - 1;
  Slot init;
  init.check = 0;
  std::fill(std::begin(init.node), std::end(init.node), kCounterInit);
  table_slots_ = size_t(params.kind >= 2 ? kLightContexts : kContexts) << bits;
  {
    constexpr size_t kHuge = size_t{1} << 21;
    const size_t bytes = table_slots_ * sizeof(Slot);
    const size_t align = bytes >= kHuge ? kHuge : alignof(Slot);
    void* mem = std::aligned_alloc(align, (bytes + align - 1) / align * align);
    if (mem == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == kHuge) madvise(mem, bytes, MADV_HUGEPAGE);  // a hint: failure changes nothing but speed
#endif
    tables_.reset(static_cast<Slot*>(mem));
    std::fill(tables_.get(), tables_.get() + table_slots_, init);
  }
#ifdef PIXELZIP_STAGE_AVX2
  avx2_ = HaveAvx2();
#endif
  if (params.kind >= 2) {
    lweights_.assign(size_t{3} * kLightDecisions * kConfBuckets * kLightInputs, 65536 / 8);
    for (size_t s = 0; s < size_t{3} * kLightDecisions * kConfBuckets; ++s) lweights_[s * kLightInputs + kLightContexts] = 65536;
    InitApm(lapm_, size_t{3} * kLightDecisions * kConfBuckets);
    InitApm(lapm_model_, size_t{3} * kLightModelOnly * kConfBuckets);
    hits_.assign(size_t{3} * kCands * 16, 1u << 15);
    if (params.kind == 3) {
      bits_ctr_table_.assign(kBitsNearEntries, kCounterInit);
      bits_ctr2_table_.assign(kBitsCentreEntries, kCounterInit);
      dctr_table_.assign(kBiasEntries, kCounterInit);
      bits_far_table_.assign(kBitsFarEntries, kCounterInit);
      bits_far2_table_.assign(kBitsFarCentreEntries, kCounterInit);
      bits_w_table_.assign(kBitsWeightEntries, 0);
      for (size_t s = 0; s < bits_w_table_.size(); s += 4) {  // the model 1, each counter 1/4, the bias 0
        bits_w_table_[s] = 65536;
        bits_w_table_[s + 1] = bits_w_table_[s + 3] = 65536 / 4;
      }
    }
    cands_.assign(size_t{slot_mask_} + 1, 0);
    return;
  }
  weights_.assign(size_t{3} * 8 * kConfBuckets * kInputs, 65536 / 16);
  for (size_t s = 0; s < size_t{3} * 8 * kConfBuckets; ++s) weights_[s * kInputs + kContexts] = 65536;  // the model
  weights2_.assign(size_t{3} * 256 * kInputs, 65536 / 16);
  for (size_t s = 0; s < size_t{3} * 256; ++s) weights2_[s * kInputs + kContexts] = 65536;
  InitApm(apm1_, size_t{3} * 256);
  InitApm(apm2_, size_t{3} * 256 * kConfBuckets);
}

void Stage::Locate(const Position& where) {
  placed_ = false;
  scale_ = group_ = 0;
  channel_ = static_cast<uint32_t>(index_ % channels_);
  if (params_.positions == 1) {
    // Symbol i of the stream is raster subpixel i (whatever the model states: so it was
    // before the models stated positions, for models with symbols outside the pixels too).
    if (index_ < subpixels_) {
      const uint64_t pixel = index_ / channels_;
      pos_y_ = int64_t(pixel / width_), pos_x_ = int64_t(pixel % width_);
      placed_ = true;
    }
  } else if (params_.positions >= 2) {
    if (where.pixel && where.y < height_ && where.x < width_ && where.channel < channels_ &&
        (params_.positions == 3 || index_ < subpixels_)) {
      pos_y_ = where.y, pos_x_ = where.x;
      if (params_.positions == 3) channel_ = where.channel, scale_ = where.scale < 31 ? where.scale : 31, group_ = where.group & 3;
      placed_ = true;
    }
  }
  if (params_.kind >= 2) GatherLight(); else Gather();
}

uint8_t Stage::Pixel(int64_t y, int64_t x, uint32_t c) const {
  return plane_[(static_cast<size_t>(y) * width_ + static_cast<size_t>(x)) * channels_ + c];
}

void Stage::ReadNeighbours() {
  const uint32_t c = channel_;
  if (params_.positions == 3 && placed_) {
    ReadMultiscaleNeighbours();
    return;
  }
  int W = 0, N = 0, NW = 0, NE = 0, WW = 0, NN = 0, ref = 0, ref2 = 0, Wr = 0, Nr = 0;
  if (params_.positions >= 1 && placed_) {
    const int64_t y = pos_y_, x = pos_x_;
    const bool hasW = x > 0, hasN = y > 0;
    const auto at = [&](int64_t yy, int64_t xx, uint32_t cc, int fallback) {
      return (yy >= 0 && xx >= 0 && xx < int64_t{width_}) ? int{Pixel(yy, xx, cc)} : fallback;
    };
    N = hasN ? Pixel(y - 1, x, c) : (hasW ? Pixel(y, x - 1, c) : 0);
    W = hasW ? Pixel(y, x - 1, c) : N;
    NW = at(y - 1, x - 1, c, N);
    NE = at(y - 1, x + 1, c, N);
    WW = at(y, x - 2, c, W);
    NN = at(y - 2, x, c, N);
    if (c > 0) {
      ref = Pixel(y, x, c - 1);
      ref2 = c > 1 ? Pixel(y, x, 0) : 0;
      const int Nref = hasN ? Pixel(y - 1, x, c - 1) : (hasW ? Pixel(y, x - 1, c - 1) : ref);
      Wr = hasW ? Pixel(y, x - 1, c - 1) : Nref;
      Nr = Nref;
    }
  } else {
    W = N = NW = NE = WW = NN = last_[c];
  }
  nb_ = {W, N, NW, NE, WW, NN, ref, ref2, Wr, Nr};
}

void Stage::Gather() {
  // The neighbours of symbol index_ and the contexts that do not depend on the model
  // (0, 1, 2, 4), whose slots are prefetched while the model's CDF is searched.
  ReadNeighbours();
  if (params_.positions == 3 && placed_) {
    GatherMultiscale();
    return;
  }
  const uint32_t c = channel_;
  const auto [W, N, NW, NE, WW, NN, ref, ref2, Wr, Nr] = nb_;
  (void)ref2;
  ctx_[0] = Hash({0, c, uint32_t(W), uint32_t(N)});
  ctx_[1] = Hash({1, c, uint32_t(W), uint32_t(N), uint32_t(NW), uint32_t(NE)});
  ctx_[2] = Hash({2, c, uint32_t(W), uint32_t(N), uint32_t(NW), uint32_t(NE), uint32_t(WW), uint32_t(NN)});
  if (c > 0) {
    ctx_[4] = Hash({4, c, uint32_t((W + ref - Wr) & 255), uint32_t((N + ref - Nr) & 255)});
  } else {
    const int grad = std::abs(W - N) + std::abs(N - NW);
    ctx_[4] = Hash({4, c, uint32_t((W + N - NW) & 255), uint32_t(std::min(grad, 31))});
  }
  for (int i : {0, 1, 2, 4}) __builtin_prefetch(SlotOf(i, ctx_[i]), 1);
  gathered_ = index_;
}

uint32_t Stage::StartSymbol(uint32_t outside_mass) {
  if (gathered_ != index_) Locate(Position{});
  conf_ = ConfidenceBucket(outside_mass);
  return channel_;
}

void Stage::Begin(int median, uint32_t outside_mass) {
  const uint32_t c = StartSymbol(outside_mass);
  if (params_.positions == 3 && placed_) {
    BeginMultiscale(median);
    return;
  }
  const auto [W, N, NW, NE, WW, NN, ref, ref2, Wr, Nr] = nb_;
  (void)Wr;
  (void)Nr;
  const uint32_t m = static_cast<uint32_t>(median);
  ctx_[3] = Hash({3, c, m, uint32_t(conf_)});
  if (c > 0) {
    ctx_[5] = Hash({5, c, uint32_t(ref), uint32_t(ref2), m});
  } else {
    ctx_[5] = Hash({5, c, m, uint32_t(W)});
  }
  // The model's median against the neighbours (bias by local shape), and the local
  // texture by quantised gradients.
  const auto q = [](int d) { return uint32_t(d < -12 ? 0 : d < -4 ? 1 : d < -1 ? 2 : d <= 1 ? 3 : d <= 4 ? 4 : d <= 12 ? 5 : 6); };
  ctx_[6] = Hash({6, c, m, q(W - median), q(N - median), q(NE - median)});
  ctx_[7] = Hash({7, c, q(W - NW), q(N - NW), q(NE - N), q(W - WW), q(N - NN), uint32_t(conf_)});
  low_parent_ = -1;
  SelectSlots(-1);
}

Stage::Slot* Stage::SlotOf(int i, uint64_t h) {
  return tables_.get() + ((size_t(i) << table_bits_) + (h & slot_mask_));
}

void Stage::Claim(int i, uint64_t h) {
  Slot* s = SlotOf(i, h);
  const uint32_t check = static_cast<uint32_t>(h >> 32) | 1u;
  if (s->check != check) {
    s->check = check;
    std::fill(std::begin(s->node), std::end(s->node), kCounterInit);
  }
  slot_[i] = s;
  slot_word_[i] = static_cast<int32_t>((s - tables_.get()) * int32_t(sizeof(Slot) / 4) + 1);  // node[0]
}

void Stage::SelectSlots(int high_nibble) {
  if (high_nibble < 0) {
    for (int i = 0; i < kContexts; ++i) __builtin_prefetch(SlotOf(i, ctx_[i]), 1);
    for (int i = 0; i < kContexts; ++i) Claim(i, ctx_[i]);
    return;
  }
  // The low nibble's hashes were computed (and their slots prefetched) at depth
  // 4 - kLowAhead for every value of the high nibble's last kLowAhead bits when the
  // ancestor node matches.
  const int parent = (16 | high_nibble) >> kLowAhead;
  if (low_parent_ == parent) {
    const uint64_t* h = low_hash_[high_nibble & ((1 << kLowAhead) - 1)];
    for (int i = 0; i < kContexts; ++i) Claim(i, h[i]);
    return;
  }
  for (int i = 0; i < kContexts; ++i) Claim(i, Mix64(ctx_[i] + 0x51u + uint64_t(high_nibble)));
}

void Stage::PrefetchLowNibble(int node) {
  // node: a node of depth 4 - kLowAhead; the high nibble will be ((node << kLowAhead) + b) & 15.
  low_parent_ = node;
  for (int b = 0; b < (1 << kLowAhead); ++b) {
    const uint64_t nib = uint64_t(((node << kLowAhead) + b) & 15);
    for (int i = 0; i < kContexts; ++i) {
      const uint64_t h = Mix64(ctx_[i] + 0x51u + nib);
      low_hash_[b][i] = h;
      __builtin_prefetch(SlotOf(i, h), 1);
    }
  }
}

uint32_t Stage::Predict(int depth, int node, int32_t model_stretch) {
  depth_ = depth;
  node_ = node;
  if (depth == 4 - kLowAhead) PrefetchLowNibble(node);
  if (depth == 4) SelectSlots(node & 15);
  // Node within the current nibble's 15-node subtree: 1 - 15.
  const int sub = depth < 4 ? node : ((node & ((1 << (depth - 4)) - 1)) | (1 << (depth - 4)));
  int32_t* const x = x_.data();
  x[kContexts] = Clamp4095(model_stretch);
  x[kContexts + 1] = 256;
  const int32_t* w = weights_.data() + ((size_t(channel_) * 8 + size_t(depth)) * kConfBuckets + size_t(conf_)) * kInputs;
  const int32_t* w2 = weights2_.data() + (size_t(channel_) * 256 + size_t(node)) * kInputs;
  w_ = const_cast<int32_t*>(w);
  w2_ = const_cast<int32_t*>(w2);
  int64_t dot = 0, dot2 = 0;
#ifdef PIXELZIP_STAGE_AVX2
  if (avx2_) {
    GatherMixAvx2(reinterpret_cast<const uint32_t*>(tables_.get()), slot_word_, sub, counter_word_, counter_value_, x,
                  w, w2, &dot, &dot2);
  } else
#endif
  {
    for (int i = 0; i < kContexts; ++i) {
      uint32_t* ctr = &slot_[i]->node[sub - 1];
      counter_[i] = ctr;
      const uint32_t p22 = *ctr >> 10;
      x[i] = StretchRatioInline(p22, (1u << 22) - p22);
    }
    for (int i = 0; i < kInputs; ++i) {
      dot += int64_t{w[i]} * x[i];
      dot2 += int64_t{w2[i]} * x[i];
    }
  }
  const int32_t st1 = Clamp4095(dot >> 16), st2 = Clamp4095(dot2 >> 16);
  p_mix1_ = SquashInline(st1);
  p_mix2_ = SquashInline(st2);
  const int32_t st = (st1 + st2) / 2;
  p_mix_ = SquashInline(st);
  const size_t c1 = size_t(channel_) * 256 + size_t(node);
  const uint32_t p1 = ApmRead(apm1_, c1, st, &a1_);
  const uint32_t p2 = ApmRead(apm2_, c1 * kConfBuckets + size_t(conf_), st, &a2_);
  const uint32_t p = (2 * p_mix_ + p1 + p2) >> 2;
  return std::clamp<uint32_t>(p, 1, kTotal - 1);
}

uint32_t Stage::PredictMasses(int depth, int node, uint32_t m1, uint32_t m0) {
  return Predict(depth, node, StretchRatioInline(m1, m0));
}

void Stage::Update(int bit) {
  // Mixer (UpdateWeightsScalar: exact in int32).
  const int32_t err = ((bit << 16) - int32_t(p_mix1_)) * int32_t(params_.mixer_rate);
  const int32_t err2 = ((bit << 16) - int32_t(p_mix2_)) * int32_t(params_.mixer_rate);
  const int32_t eh = err >> 12, el = err & 4095, eh2 = err2 >> 12, el2 = err2 & 4095;
  const int32_t* const x = x_.data();
  const int32_t target = bit ? int32_t{kP22Max} : 0;
  const uint32_t limit = params_.counter_limit;
#ifdef PIXELZIP_STAGE_AVX2
  if (avx2_) {  // mixers and counters
    UpdateAvx2(reinterpret_cast<uint32_t*>(tables_.get()), counter_word_, counter_value_, target, limit, w_, w2_, x, eh,
               el, eh2, el2);
    ApmUpdate(apm1_, a1_, bit, params_.apm_rate);
    ApmUpdate(apm2_, a2_, bit, params_.apm_rate);
    return;
  }
#endif
  UpdateWeightsScalar(w_, x, kInputs, eh, el);
  UpdateWeightsScalar(w2_, x, kInputs, eh2, el2);
  // Counters.
  UpdateCountersScalar(counter_.data(), kContexts, target, limit);
  ApmUpdate(apm1_, a1_, bit, params_.apm_rate);
  ApmUpdate(apm2_, a2_, bit, params_.apm_rate);
}

void Stage::End(int symbol) {
  const uint32_t c = channel_;
  if (placed_) {
    const size_t pixel = static_cast<size_t>(pos_y_) * width_ + static_cast<size_t>(pos_x_);
    plane_[pixel * channels_ + c] = static_cast<uint8_t>(symbol);
    if (!known_.empty()) known_[pixel] = 1;
    placed_ = false;
  }
  last_[c] = static_cast<uint8_t>(symbol);
  ++index_;
  if (params_.kind >= 2) {
    for (int k = 0; k < kCands; ++k) {
      if (cand_sym_[k] >= 0) {  // the candidate's hit rate, at rate 1/32
        uint16_t& h = hits_[cand_hit_[k]];
        h = uint16_t(h + (((cand_sym_[k] == symbol ? 65535 : 0) - int32_t(h)) >> 5));
      }
      cand_sym_[k] = -1;
      if (cand_entry_[k] == nullptr) continue;  // End without BeginLight (low-level use)
      uint32_t& seen = *cand_entry_[k];
      const uint32_t repeats = ((seen >> 12) & 1) && (seen & 255) == uint32_t(symbol) ? ((seen >> 8) & 15) : 0;
      seen = (seen & ~uint32_t{8191}) | 1u << 12 | (repeats < 15 ? repeats + 1 : 15) << 8 | uint32_t(symbol);
      cand_entry_[k] = nullptr;
    }
  }
}

// ---- Positions 3: multiscale neighbourhoods ----

namespace {
// The neighbours looked at, in units of the grid's spacing (dy, dx): the 4 and the 4
// diagonal neighbours at distance 1, then the 4 at distance 2. Those already coded
// depend on the group (base: W, N, NW, NE; (even, odd): W, E and the row above;
// (odd, even): N, S and the 4 diagonals; (odd, odd): all 8).
constexpr int kMsOffsets[12][2] = {{0, -1}, {0, 1},  {-1, 0}, {1, 0},  {-1, -1}, {-1, 1},
                                   {1, -1}, {1, 1},  {-2, 0}, {2, 0},  {0, -2},  {0, 2}};
// Local activity 0-6: 0, 1-2, 3-5, 6-11, 12-23, 24-47, 48+.
inline uint32_t ActivityBucket(int a) {
  return uint32_t(a == 0 ? 0 : a <= 2 ? 1 : a <= 5 ? 2 : a <= 11 ? 3 : a <= 23 ? 4 : a <= 47 ? 5 : 6);
}
// A difference quantised to 0-6.
inline uint32_t Q7(int d) { return uint32_t(d < -12 ? 0 : d < -4 ? 1 : d < -1 ? 2 : d <= 1 ? 3 : d <= 4 ? 4 : d <= 12 ? 5 : 6); }

// The prediction from the known neighbours v[] (bits of `known`): the mean of the 4
// neighbours, or of a known opposite pair, or the median edge detector on W, N, NW
// (the base image), or the mean of whatever is known; `fallback` when nothing is.
int MsPredict(const int* v, uint32_t known, int fallback) {
  if ((known & 0xF) == 0xF) return (v[0] + v[1] + v[2] + v[3] + 2) >> 2;
  if ((known & 3) == 3) return (v[0] + v[1] + 1) >> 1;
  if ((known & 0xC) == 0xC) return (v[2] + v[3] + 1) >> 1;
  if ((known & 0x15) == 0x15) {  // W, N, NW
    const int W = v[0], N = v[2], NW = v[4];
    const int lo = std::min(W, N), hi = std::max(W, N);
    return NW >= hi ? lo : NW <= lo ? hi : W + N - NW;
  }
  int sum = 0, n = 0;
  for (int k = 0; k < 12; ++k)
    if (known >> k & 1) sum += v[k], ++n;
  return n > 0 ? (sum + n / 2) / n : fallback;
}

// max - min of the known neighbours at distance 1 (at distance 2 too when fewer than
// two are known at distance 1).
int MsActivity(const int* v, uint32_t known) {
  const uint32_t near = known & 0xFF;
  const uint32_t use = __builtin_popcount(near) >= 2 ? near : known;
  int lo = 255, hi = 0;
  for (int k = 0; k < 12; ++k)
    if (use >> k & 1) lo = std::min(lo, v[k]), hi = std::max(hi, v[k]);
  return hi >= lo ? hi - lo : 0;
}
}  // namespace

void Stage::ReadMultiscaleNeighbours() {
  const uint32_t c = channel_;
  const int64_t s = int64_t{1} << scale_;
  const size_t here = static_cast<size_t>(pos_y_) * width_ + static_cast<size_t>(pos_x_);
  int v[12] = {}, vr[12] = {};
  uint32_t known = 0;
  for (int k = 0; k < 12; ++k) {
    const int64_t yy = pos_y_ + kMsOffsets[k][0] * s, xx = pos_x_ + kMsOffsets[k][1] * s;
    if (yy < 0 || xx < 0 || yy >= int64_t{height_} || xx >= int64_t{width_}) continue;
    const size_t pixel = static_cast<size_t>(yy) * width_ + static_cast<size_t>(xx);
    if (!known_[pixel]) continue;
    known |= 1u << k;
    v[k] = plane_[pixel * channels_ + c];
    if (c > 0) vr[k] = plane_[pixel * channels_ + c - 1];
  }
  const int ref = c > 0 ? plane_[here * channels_ + c - 1] : 0;
  const int ref2 = c > 1 ? plane_[here * channels_] : 0;
  const int fallback = c > 0 ? ref : last_[c];
  // The first 6 known neighbours in kMsOffsets order (their meaning is fixed within a
  // group away from the borders; the pattern of known neighbours is hashed with them).
  int first[6], firstr[6], n = 0;
  for (int k = 0; k < 12 && n < 6; ++k)
    if (known >> k & 1) first[n] = v[k], firstr[n] = vr[k], ++n;
  for (int i = n; i < 6; ++i) first[i] = i > 0 ? first[i - 1] : fallback, firstr[i] = i > 0 ? firstr[i - 1] : ref;
  ms_known_ = known;
  ms_pred_ = MsPredict(v, known, fallback);
  ms_act_ = MsActivity(v, known);
  ms_pred_ref_ = c > 0 ? MsPredict(vr, known, ref) : 0;
  ms_act_ref_ = c > 0 ? MsActivity(vr, known) : 0;
  nb_ = {first[0], first[1], first[2], first[3], first[4], first[5], ref, ref2, firstr[0], firstr[1]};
}

void Stage::GatherMultiscale() {
  const uint32_t c = channel_;
  const auto [a, b, cc, d, e, f, ref, ref2, ar, br] = nb_;
  (void)e, (void)f, (void)ref2, (void)ar, (void)br;
  const uint32_t pat = ms_known_ | group_ << 12;
  ctx_[0] = Hash({20, c, group_, uint32_t((a + b + 1) / 2), ActivityBucket(std::abs(a - b))});
  ctx_[1] = Hash({21, c, pat, uint32_t(a), uint32_t(b), uint32_t(cc), uint32_t(d)});
  ctx_[2] = Hash({22, c, group_, uint32_t(ms_pred_ / 4), ActivityBucket(ms_act_)});
  if (c > 0) {
    ctx_[4] = Hash({24, c, uint32_t((ms_pred_ + ref - ms_pred_ref_) & 255), ActivityBucket(ms_act_), ActivityBucket(ms_act_ref_)});
  } else {
    ctx_[4] = Hash({24, c, group_, uint32_t(ms_pred_), ActivityBucket(ms_act_)});
  }
  for (int i : {0, 1, 2, 4}) __builtin_prefetch(SlotOf(i, ctx_[i]), 1);
  gathered_ = index_;
}

void Stage::BeginMultiscale(int median) {
  const uint32_t c = channel_;
  const auto [a, b, cc, d, e, f, ref, ref2, ar, br] = nb_;
  (void)e, (void)f, (void)ar, (void)br;
  const uint32_t m = static_cast<uint32_t>(median);
  ctx_[3] = Hash({3, c, m, uint32_t(conf_)});
  if (c > 0) {
    ctx_[5] = Hash({5, c, uint32_t(ref), uint32_t(ref2), m});
  } else {
    ctx_[5] = Hash({25, c, m, uint32_t(ms_pred_)});
  }
  ctx_[6] = Hash({26, c, group_, m, Q7(a - median), Q7(b - median), Q7(ms_pred_ - median)});
  ctx_[7] = Hash({27, c, group_, Q7(a - b), c > 0 ? 8 + Q7(ref - ms_pred_ref_) : Q7(cc - d), ActivityBucket(ms_act_),
                  uint32_t(conf_)});
  low_parent_ = -1;
  SelectSlots(-1);
}


// ---- Kind 2: the light stage ----

namespace {
// Signed difference (-255 to 255) quantised to 0-8 (CALIC-like bins), by table.
struct QuantTable {
  uint8_t v[511];
};
constexpr QuantTable MakeQuantTable() {
  QuantTable t{};
  for (int d = -255; d <= 255; ++d)
    t.v[d + 255] = uint8_t(d < -20 ? 0 : d < -8 ? 1 : d < -3 ? 2 : d < -1 ? 3 : d <= 1 ? 4 : d <= 3 ? 5 : d <= 8 ? 6 : d <= 20 ? 7 : 8);
  return t;
}
constexpr QuantTable kQuant = MakeQuantTable();
inline uint64_t QuantDiff(int d) { return kQuant.v[d + 255]; }
inline uint64_t ClampDiff(int d, int r) { return uint64_t((d < -r ? -r : d > r ? r : d) + r); }
// One context's hash from its id (< 256) and up to 56 bits of packed fields.
inline uint64_t LightHash(uint64_t id, uint64_t fields) { return Mix64((fields << 8 | id) + 0x632be59bd9b4e019ull); }

// Stretch of a counter's 22-bit probability by its top 12 bits: the stretch of the
// bin's centre, StretchRatio(p, 2^22 - p) with p = 1024 q + 512 (integers only).
struct Stretch12 {
  int16_t v[4096];
};
constexpr Stretch12 MakeStretch12() {
  Stretch12 t{};
  for (uint32_t q = 0; q < 4096; ++q) {
    const uint32_t p = 1024 * q + 512;
    t.v[q] = static_cast<int16_t>(Clamp4095(Log2FixedInline(p) - Log2FixedInline((1u << 22) - p)));
  }
  return t;
}
constexpr Stretch12 kStretch12 = MakeStretch12();

#ifdef PIXELZIP_STAGE_AVX2
// The light stage's mixer update: UpdateWeightsScalar on 8 weights.
__attribute__((target("avx2"))) void LightUpdateAvx2(int32_t* w, const int32_t* x, int32_t eh, int32_t el) {
  const __m256i vx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i d = _mm256_add_epi32(_mm256_mullo_epi32(vx, _mm256_set1_epi32(eh)),
                                     _mm256_srai_epi32(_mm256_mullo_epi32(vx, _mm256_set1_epi32(el)), 12));
  const __m256i v = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), _mm256_srai_epi32(d, 6));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w),
                      _mm256_max_epi32(_mm256_min_epi32(v, _mm256_set1_epi32(kWMax)), _mm256_set1_epi32(-kWMax)));
}
#endif
}  // namespace

void Stage::GatherLight() {
  // Neighbours, the contexts that do not depend on the model (2 and 4) and the exact
  // neighbours' candidate entry, prefetched while the model's CDF is searched.
  ReadNeighbours();
  const uint64_t c = channel_;
  const auto [W, N, NW, NE, WW, NN, ref, ref2, Wr, Nr] = nb_;
  (void)Wr, (void)Nr;
  cand_hash_ = LightHash(21, c | uint64_t(W) << 2 | uint64_t(N) << 10 | uint64_t(NW) << 18 | uint64_t(NE) << 26);
  ctx_[2] = LightHash(24, c | QuantDiff(W - NW) << 2 | QuantDiff(N - NW) << 6 | QuantDiff(NE - N) << 10 |
                              QuantDiff(W - WW) << 14 | QuantDiff(N - NN) << 18);
  if (c > 0) {
    if (params_.kind == 3) {  // the exact earlier channels and the neighbours' chroma (offsets to their earlier channel)
      ctx_[4] = LightHash(28, c | uint64_t(ref) << 2 | uint64_t(ref2) << 10 | uint64_t((W - Wr) & 511) << 18 |
                                  uint64_t((N - Nr) & 511) << 27);
    } else {
      ctx_[4] = LightHash(26, c | uint64_t(ref) << 2 | uint64_t(ref2) << 10 | uint64_t(W) << 18);
    }
  } else {
    ctx_[4] = LightHash(26, c | uint64_t(W) << 2 | uint64_t(N) << 10 | uint64_t(NW) << 18 | uint64_t(NE) << 26 |
                                uint64_t(WW) << 34 | uint64_t(NN) << 42);
  }
  __builtin_prefetch(&cands_[cand_hash_ & slot_mask_], 1);
  for (int i : {2, 4}) __builtin_prefetch(SlotOf(i, ctx_[i]), 1);
  if (params_.kind == 3) {
    // Where the median search starts: the median edge detector on W, N, NW (channel 0),
    // the previous channel plus the mean of the W and N gradients of the two channels;
    // positions 3: the level's prediction (plus the previous channel's offset).
    int pred;
    if (params_.positions == 3 && placed_) {  // multiscale: the level's prediction
      pred = c > 0 ? ms_pred_ + ref - ms_pred_ref_ : ms_pred_;
    } else if (c > 0) {
      pred = ref + ((W - Wr) + (N - Nr)) / 2;
    } else {
      const int lo = std::min(W, N), hi = std::max(W, N);
      pred = NW >= hi ? lo : NW <= lo ? hi : W + N - NW;
    }
    light_guess_ = std::clamp(pred, 1, 255);
    light_act_ = ActivityBucket(std::abs(W - NW) + std::abs(N - NW) + std::abs(NE - N));
  }
  gathered_ = index_;
}

int Stage::BeginLight(int median, uint32_t outside_mass) {
  const uint32_t c = StartSymbol(outside_mass);
  light_sub_ = 1;
  if (gathered_ != index_) GatherLight();
  const auto [W, N, NW, NE, WW, NN, ref, ref2, Wr, Nr] = nb_;
  (void)WW, (void)NN;
  const int m = median;
  if (params_.kind == 3 && c > 0) {
    ctx_[0] = LightHash(27, uint64_t{c} | uint64_t(m & 255) << 2 | uint64_t(ref) << 10 | uint64_t(ref2) << 18);
  } else {
    ctx_[0] = LightHash(22, uint64_t{c} | uint64_t(m & 255) << 2 | uint64_t(conf_) << 10);
  }
  ctx_[1] = LightHash(23, c | QuantDiff(W - m) << 2 | QuantDiff(N - m) << 6 | QuantDiff(NW - m) << 10 |
                              QuantDiff(NE - m) << 14 | uint64_t(conf_) << 18);
  if (c > 0) {
    ctx_[3] = LightHash(25, c | ClampDiff(ref + W - Wr - m, 12) << 2 | ClampDiff(ref + N - Nr - m, 12) << 8);
  } else {
    ctx_[3] = LightHash(25, c | ClampDiff(W + N - NW - m, 12) << 2 | ClampDiff(W - m, 12) << 8);
  }
  for (int i : {0, 1, 3}) __builtin_prefetch(SlotOf(i, ctx_[i]), 1);
  for (int i = 0; i < kLightContexts; ++i) Claim(i, ctx_[i]);
  if (params_.kind == 3) {  // the rows of the bits within buckets 1-3 (PredictLight), set below
    bits_row_ = ((size_t(c) * 17 + size_t(std::clamp(median - light_guess_, -8, 8) + 8)) * 7 + light_act_) * 2 * kBitsEntries;
    __builtin_prefetch(&bits_ctr_table_[bits_row_], 1);
  }
  // Candidates: the symbols that last followed the exact neighbours W, N, NW, NE (the
  // entry of cands_) and the exact context 4 (node 14 of its slot). Both hold: bit 12
  // valid, bits 8-11 the times in a row the symbol followed, bits 0-7 the symbol
  // (cands_ also bits 13-31 of the hash's upper half as a check). The centre is the
  // candidate whose hit rate (by channel, candidate and repeats) is highest, if it
  // beats both the model's probability of its median and even odds (on noisy photos
  // a weaker candidate costs more than it gains).
  light_center_ = median;
  uint32_t best = std::max<uint32_t>(kTotal - outside_mass, kTotal / 2);
  const uint32_t check = static_cast<uint32_t>(cand_hash_ >> 32) & ~uint32_t{8191};
  uint32_t& entry = cands_[cand_hash_ & slot_mask_];
  if ((entry & ~uint32_t{8191}) != check) entry = check;  // another context's entry: start anew (invalid)
  cand_entry_[0] = &entry;
  cand_entry_[1] = &slot_[4]->node[14];
  // Kind 3, channels 1-2: also the symbol that last followed context 0 (the exact earlier
  // channels and the model's median).
  cand_entry_[2] = params_.kind == 3 && c > 0 ? &slot_[0]->node[14] : nullptr;
  cand_sym_[2] = -1;
  for (int k = 0; k < kCands; ++k) {
    if (cand_entry_[k] == nullptr) continue;
    const uint32_t seen = *cand_entry_[k];
    cand_sym_[k] = -1;
    if (!((seen >> 12) & 1)) continue;
    cand_sym_[k] = int(seen & 255);
    cand_hit_[k] = (size_t(c) * kCands + size_t(k)) * 16 + ((seen >> 8) & 15);
    if (hits_[cand_hit_[k]] > best) best = hits_[cand_hit_[k]], light_center_ = cand_sym_[k];
  }
  if (params_.kind == 3) {
    bits_row2_ = (size_t(c) * 256 + size_t(light_center_)) * 2 * kBitsEntries;
    __builtin_prefetch(&bits_ctr2_table_[bits_row2_], 1);
    bias_row_ = size_t(std::clamp(light_center_ - light_guess_, -8, 8) + 8) * 7 + light_act_;
  }
  return light_center_;
}

uint32_t Stage::PredictLightMasses(int decision, uint32_t in, uint32_t out) {
  return PredictLight(decision, StretchRatioInline(in, out));
}

uint32_t Stage::PredictLight(int decision, int32_t model_stretch) {
  decision_ = decision;
  const int32_t ms = Clamp4095(model_stretch);
  if (decision < 0 && params_.kind == 3 && light_sub_ < 16) {
    // Kind 3: the first 4 bits within a bucket mix the model's stretch with two counters
    // of directly indexed tables and a bias, then the APM. Buckets 1-3: (channel, median -
    // guess clamped to +-8, activity; side, bucket, node) and (channel, centre; side,
    // bucket, node), the 11 nodes of one side in one cache line of each table (the rows
    // prefetched in BeginLight); buckets 4-7: (channel, confidence, activity; side,
    // bucket, node) and (channel, centre; side, bucket, node).
    light_mixed_ = false;
    bits_mixed_ = true;
    const int side = (-1 - decision) >> 6, k = ((-1 - decision) & 63) >> 3;
    if (k <= 3) {
      const size_t e = size_t(side) * kBitsEntries + size_t((1 << k) - k - 2 + light_sub_);
      bits_ctr_[0] = &bits_ctr_table_[bits_row_ + e];
      bits_ctr_[1] = &bits_ctr2_table_[bits_row2_ + e];
    } else {
      const size_t e = (size_t(side) * 4 + size_t(k - 4)) * 16 + size_t(light_sub_);
      bits_ctr_[0] = &bits_far_table_[(((size_t(channel_) * kConfBuckets + size_t(conf_)) * 7 + light_act_) * 128 + e)];
      bits_ctr_[1] = &bits_far2_table_[(size_t(channel_) * 256 + size_t(light_center_)) * 128 + e];
    }
    bits_w_ = &bits_w_table_[(((size_t(channel_) * 2 + size_t(side)) * 8 + size_t(k)) * 16 + size_t(light_sub_)) * 4];
    bx_[0] = ms;
    bx_[1] = kStretch12.v[*bits_ctr_[0] >> 20];
    bx_[2] = 256;
    bx_[3] = kStretch12.v[*bits_ctr_[1] >> 20];
    const int64_t dot = int64_t{bits_w_[0]} * bx_[0] + int64_t{bits_w_[1]} * bx_[1] + int64_t{bits_w_[2]} * bx_[2] +
                        int64_t{bits_w_[3]} * bx_[3];
    const int32_t st = Clamp4095(dot >> 16);
    lp_mix_ = SquashInline(st);
    const size_t ctx = (size_t(channel_) * kLightModelOnly + size_t(-1 - decision)) * kConfBuckets + size_t(conf_);
    const uint32_t pa = ApmRead(lapm_model_, ctx, st, &la_);
    return std::clamp<uint32_t>((lp_mix_ + 3 * pa) >> 2, 1, kTotal - 1);
  }
  bits_mixed_ = false;
  if (decision < 0) {  // model-only: one APM on the model's stretch
    light_mixed_ = false;
    const size_t ctx = (size_t(channel_) * kLightModelOnly + size_t(-1 - decision)) * kConfBuckets + size_t(conf_);
    return std::clamp<uint32_t>(ApmRead(lapm_model_, ctx, ms, &la_), 1, kTotal - 1);
  }
  light_mixed_ = true;
  int32_t* const x = x_.data();
  for (int i = 0; i < kLightContexts; ++i) {
    uint32_t* ctr = &slot_[i]->node[decision];
    counter_[i] = ctr;
    x[i] = kStretch12.v[*ctr >> 20];
  }
  x[kLightContexts] = ms;
  x[kLightContexts + 1] = 256;  // a bias
  x[kLightContexts + 2] = 0;    // (pads the mixer to 8 inputs)
  if (params_.kind == 3) {
    // Kind 3: the mixer's eighth input, a counter of a directly indexed table (channel,
    // the centre less the neighbours' prediction clamped to +-8, activity, decision): what
    // the model's bias against the neighbours says (bias cancellation).
    dctr_ = &dctr_table_[(size_t(channel_) * kBiasRows + bias_row_) * kLightDecisions + size_t(decision)];
    x[kLightContexts + 2] = kStretch12.v[*dctr_ >> 20];
  }
  const size_t set = (size_t(channel_) * kLightDecisions + size_t(decision)) * kConfBuckets + size_t(conf_);
  w_ = lweights_.data() + set * kLightInputs;
  // The dot product is scalar on every CPU: its AVX2 form (8 lanes, two 32x32->64
  // multiplies and a horizontal sum) measured 60 ns per subpixel slower (BM_StageCode/2/16,
  // a longer dependency chain before the coder).
  int64_t dot = 0;
  for (int i = 0; i < kLightInputs; ++i) dot += int64_t{w_[i]} * x[i];
  const int32_t st = Clamp4095(dot >> 16);
  lp_mix_ = SquashInline(st);
  const uint32_t pa = ApmRead(lapm_, set, st, &la_);
  return std::clamp<uint32_t>((lp_mix_ + 3 * pa) >> 2, 1, kTotal - 1);
}

void Stage::UpdateLight(int bit) {
  if (bits_mixed_) {
    const int32_t err = ((bit << 16) - int32_t(lp_mix_)) * int32_t(params_.mixer_rate);
    UpdateWeightsScalar(bits_w_, bx_.data(), 4, err >> 12, err & 4095);
    UpdateCountersScalar(bits_ctr_, 2, bit ? int32_t{kP22Max} : 0, params_.counter_limit);
    ApmUpdate(lapm_model_, la_, bit, params_.apm_rate);
    return;
  }
  if (!light_mixed_) {
    ApmUpdate(lapm_model_, la_, bit, params_.apm_rate);
    return;
  }
  const int32_t err = ((bit << 16) - int32_t(lp_mix_)) * int32_t(params_.mixer_rate);
#ifdef PIXELZIP_STAGE_AVX2
  if (avx2_) {
    LightUpdateAvx2(w_, x_.data(), err >> 12, err & 4095);
  } else
#endif
  {
    UpdateWeightsScalar(w_, x_.data(), kLightInputs, err >> 12, err & 4095);
  }
  // The 5 counters: scalar on every CPU (the 8-lane AVX2 update with 3 lanes unused
  // measured 55 ns per subpixel slower, BM_StageCode/2/16).
  const int32_t target = bit ? int32_t{kP22Max} : 0;
  UpdateCountersScalar(counter_.data(), kLightContexts, target, params_.counter_limit);
  if (params_.kind == 3) UpdateCountersScalar(&dctr_, 1, target, params_.counter_limit);
  ApmUpdate(lapm_, la_, bit, params_.apm_rate);
}

bool Stage::SetSimd(bool on) {
#ifdef PIXELZIP_STAGE_AVX2
  avx2_ = on && HaveAvx2();
#else
  (void)on;
#endif
  return avx2_;
}

uint64_t Stage::Digest() const {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto bytes = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  bytes(&index_, sizeof index_);
  bytes(plane_.data(), plane_.size());
  bytes(known_.data(), known_.size());
  bytes(last_.data(), last_.size());
  bytes(tables_.get(), table_slots_ * sizeof(Slot));
  bytes(weights_.data(), weights_.size() * sizeof(int32_t));
  bytes(weights2_.data(), weights2_.size() * sizeof(int32_t));
  bytes(apm1_.data(), apm1_.size() * 2);
  bytes(apm2_.data(), apm2_.size() * 2);
  bytes(lweights_.data(), lweights_.size() * sizeof(int32_t));
  bytes(lapm_.data(), lapm_.size() * 2);
  bytes(lapm_model_.data(), lapm_model_.size() * 2);
  bytes(hits_.data(), hits_.size() * 2);
  bytes(cands_.data(), cands_.size() * 4);
  bytes(bits_ctr_table_.data(), bits_ctr_table_.size() * 4);
  bytes(bits_ctr2_table_.data(), bits_ctr2_table_.size() * 4);
  bytes(bits_far_table_.data(), bits_far_table_.size() * 4);
  bytes(bits_far2_table_.data(), bits_far2_table_.size() * 4);
  bytes(bits_w_table_.data(), bits_w_table_.size() * 4);
  bytes(dctr_table_.data(), dctr_table_.size() * 4);
  return h;
}

}  // namespace pixelzip::adaptive
