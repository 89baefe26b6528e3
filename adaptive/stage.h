// The online-adaptive stage between a model and the range coder (issue 21).
//
// For every subpixel the stage receives the model's integer CDF (total 2^16, every
// symbol >= 1) and codes the symbol as binary decisions, each "is the symbol in
// [lo, hi)?". Kind 1: 8 decisions, most significant bit first (below). Kind 2 (the
// light stage, CodeLight): decisions relative to the model's median m: "symbol == m",
// then the side, then Elias-gamma-like buckets of the distance and the bits within
// the bucket, so a near-certain symbol takes one decision; six hashed contexts chosen
// once per symbol (one cache line each), one mixer, one APM.
// Each decision's probability is the model's own (the mass of the upper half of the
// current node over the node's mass, taken exactly from the CDF) refined by
// logistic mixing with adaptive counters indexed by hashed contexts of the pixels
// already coded (W, N, NW, NE, WW, NN, the earlier channels of the pixel, the model's
// median and confidence), then two APM/SSE stages. Every decision is coded with a
// 2-symbol distribution of total 2^16 whose two frequencies are >= 1. Encoder and
// decoder update the same state in the same order, so they stay identical.
//
// Integer arithmetic and constant tables only (tables.h; no libm, no float); the
// state's size depends only on the parameters and the image size; nothing depends on
// threads, batches or devices. Standard library only (no LibTorch, no models/).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace pixelzip::adaptive {

inline constexpr uint32_t kTotal = 1u << 16;

// Recorded in the stream header (docs/format.md section 6); Serialize/Parse are its
// byte layout.
struct StageParams {
  uint8_t kind = 1;          // 1: 8 MSB-first decisions; 2: the light stage (median-relative decisions)
  // Where the stage finds each symbol's neighbours (docs/format.md section 3.1):
  // 0: stream order only (no 2-D neighbours); 1: symbol i of the stream is subpixel i of
  // the image in raster order, channels interleaved; 2: the position the model states
  // (the wavefront layout); 3: the position the model states with its multiscale grid
  // and group, the neighbours at the grid's spacing that are already coded (below and
  // right too), multiscale contexts.
  uint8_t positions = 1;
  uint8_t table_bits = 16;   // log2 of the slots of each context table (10-22), capped by image size
  uint8_t mixer_rate = 5;    // mixer learning rate, 1-255
  uint16_t counter_limit = 255;  // counters adapt at rate 1/(n+1.5), n capped here (1-1023)
  uint8_t apm_rate = 6;      // APM cells move 2^-apm_rate of the way to each bit (1-12)
};
inline constexpr size_t kSerializedParamsBytes = 7;
// The newest stage kind and position mode this build codes; a record beyond them was written
// by a newer pixelzip.
inline constexpr uint8_t kNewestKind = 3;
inline constexpr uint8_t kNewestPositions = 3;
std::vector<uint8_t> Serialize(const StageParams& params);
// Empty string when `params` are valid, else what is wrong.
std::string Problem(const StageParams& params);
// Throws std::invalid_argument (with a message) when the bytes are not a valid record.
StageParams Parse(const uint8_t* data, size_t size);

// 256 * log2(v) in fixed point, v >= 1 (an integer approximation from tables.h).
int32_t Log2Fixed(uint32_t v);
// 256 * log2(a / b) clamped to [-4095, 4095]; a, b >= 1.
int32_t StretchRatio(uint32_t a, uint32_t b);
// 2^16 / (1 + 2^(-x / 256)) from the table, clamped to [1, 2^16 - 1]; x clamped to +-4095.
uint32_t Squash(int32_t x);

// Where a symbol sits (the models' SymbolPosition, models/coding_model.h).
struct Position {
  uint32_t y = 0, x = 0, channel = 0;
  uint8_t scale = 0;  // multiscale: the grid's spacing is 2^scale
  uint8_t group = 0;  // multiscale: 0 the base image, 1-3 the groups (even, odd), (odd, even), (odd, odd)
  bool pixel = false;  // false: the symbol codes no pixel (or its position is not known)

  static Position At(uint32_t y, uint32_t x, uint32_t channel, uint8_t scale = 0, uint8_t group = 0) {
    Position p;
    p.y = y, p.x = x, p.channel = channel, p.scale = scale, p.group = group, p.pixel = true;
    return p;
  }
};

// A std::allocator aligned to cache lines (kind 3's counter rows).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

class Stage {
 public:
  // Bytes a Stage with these parameters allocates for this image (for decoder limits).
  static uint64_t MemoryBytes(const StageParams& params, uint32_t width, uint32_t height, uint32_t channels);

  // REQUIRES: Problem(params) empty; channels 1-3 (the colour channels, interleaved).
  // width, height >= 1. Throws std::invalid_argument otherwise.
  Stage(const StageParams& params, uint32_t width, uint32_t height, uint32_t channels);

  // Codes one symbol at `where` (positions 2 and 3 read its neighbours there and keep
  // the symbol there; positions 0 and 1 do not need it; a position outside the image,
  // or of a channel >= channels, counts as no position). `at(edge)` is the model's CDF (0 <= edge <= 256); values are
  // clamped to [0, 2^16] and a non-increasing CDF is tolerated (the refined decisions
  // keep their guarantees whatever `at` returns). `coder(lo, hi, p1)` codes or decodes
  // one decision whose bit 1 means "the symbol is in [lo, hi)" (0 <= lo < hi <= 256;
  // an encoder returns lo <= symbol && symbol < hi) and has probability p1 / 2^16,
  // 1 <= p1 <= 2^16 - 1, and returns the bit. Returns the symbol (0-255).
  template <class At, class Coder>
  int Code(const Position& where, const At& at, Coder&& coder) {
    Locate(where);
    return params_.kind >= 2 ? CodeLight(at, coder) : CodeBinary(at, coder);
  }
  // The same without a position (a symbol that codes no pixel).
  template <class At, class Coder>
  int Code(const At& at, Coder&& coder) {
    return Code(Position{}, at, coder);
  }
  // Low level: the position of the next symbol; reads its neighbours, hashes the
  // contexts that do not depend on the model and prefetches their slots. Begin and
  // BeginLight call it with no position when it was not called for this symbol.
  void Locate(const Position& where);

  // FNV-1a of the whole adaptive state (tests: encoder == decoder).
  uint64_t Digest() const;
  // Tests and benchmarks: false codes with the portable scalar path even where the CPU
  // runs the AVX2 one (both give the same decisions, probabilities and state bit for
  // bit); true (the default) uses AVX2 where the CPU has it. Returns whether AVX2 is used.
  bool SetSimd(bool on);
  uint64_t symbols() const { return index_; }
  // Kinds 2 and 3 (adaptive_sim's bits by decision): the last decision predicted (0-13, or
  // -1 - j for the bits within a bucket, as PredictLight's `decision`).
  int last_light_decision() const { return decision_; }

  // Low level, public for tests and the fuzz target: one decision given the model's
  // stretched probability (log2-odds * 256 of bit 1). Begin() once per symbol, then
  // Predict/Update for each of 8 depths, then End().
  void Begin(int median, uint32_t outside_mass);
  uint32_t Predict(int depth, int node, int32_t model_stretch);
  void Update(int bit);
  void End(int symbol);

  // Kind 2, low level (tests, fuzz): BeginLight once per symbol with the model's median
  // and the model's mass outside it, then PredictLight/UpdateLight per decision
  // (`decision` 0-13 with hashed counters, or -1 - j, j < 128, for the model-only
  // decisions: see CodeLight), then End.
  // Returns the centre of the decisions: the model's median, or a symbol candidate from
  // the exact contexts whose hit rate beats it (docs/format.md section 3.1, step 3).
  int BeginLight(int median, uint32_t outside_mass);
  uint32_t PredictLight(int decision, int32_t model_stretch);
  void UpdateLight(int bit);

 private:
  template <class At, class Coder>
  int CodeBinary(const At& at, Coder& coder);
  template <class At, class Coder>
  int CodeLight(const At& at, Coder& coder);
  static constexpr int kContexts = 8;
  static constexpr int kInputs = kContexts + 2;
  static constexpr int kConfBuckets = 9;
  struct alignas(64) Slot {  // one cache line
    uint32_t check;
    uint32_t node[15];
  };

  uint8_t Pixel(int64_t y, int64_t x, uint32_t c) const;
  // Positions 3: the neighbours of the current position at the grid's spacing.
  void ReadMultiscaleNeighbours();
  void GatherMultiscale();
  void BeginMultiscale(int median);
  void SelectSlots(int high_nibble);
  // Begin's and BeginLight's first step: sets channel_ and conf_ for symbol index_ and
  // returns its channel.
  uint32_t StartSymbol(uint32_t outside_mass);
  // Reads the neighbours of symbol index_ into nb_, hashes the contexts that do not
  // depend on the model and prefetches their slots (Locate).
  void Gather();
  // The neighbours of symbol index_ into nb_ (both kinds).
  void ReadNeighbours();
  void GatherLight();
  uint32_t PredictLightMasses(int decision, uint32_t in, uint32_t out);
  Slot* SlotOf(int context, uint64_t hash);
  // Points slot_[context] at the hash's slot, resetting it when it held another context.
  void Claim(int context, uint64_t hash);
  // At depth 4 - kLowAhead: hashes and prefetches the low nibble's slots for every high
  // nibble still possible below `node` (2^kLowAhead of them).
  static constexpr int kLowAhead = 1;  // 2 measured 3.5% slower (BM_StageCode/1/16, under load)
  void PrefetchLowNibble(int node);
  // Predict with the model's stretch StretchRatio(m1, m0).
  uint32_t PredictMasses(int depth, int node, uint32_t m1, uint32_t m0);

  StageParams params_;
  uint32_t width_, height_, channels_;
  uint64_t subpixels_;
  uint64_t index_ = 0;
  int64_t pos_y_ = 0, pos_x_ = 0;       // positions 1-3: the pixel of the current symbol
  bool placed_ = false;                 // the current symbol has a pixel (pos_y_, pos_x_, channel_)
  uint32_t scale_ = 0, group_ = 0;      // positions 3: the current symbol's grid and group
  std::vector<uint8_t> plane_;          // the symbols coded so far, at their positions
  std::vector<uint8_t> known_;          // positions 3: 1 for every pixel coded so far
  // Positions 3: which of the 12 neighbours (kMsOffsets) are known, the local
  // prediction, activity and pattern of the current symbol (and of channel - 1 at the
  // same neighbours).
  uint32_t ms_known_ = 0;
  int ms_pred_ = 0, ms_act_ = 0, ms_pred_ref_ = 0, ms_act_ref_ = 0;
  std::array<uint8_t, 3> last_{};       // stream mode: previous symbol of each channel
  uint32_t slot_mask_;
  int table_bits_;
  struct FreeSlots {
    void operator()(Slot* p) const { std::free(p); }
  };
  // kContexts tables of slot_mask_ + 1 slots, 2 MiB aligned (huge pages where the
  // system gives them: the slots are read at random, one cache line each).
  std::unique_ptr<Slot[], FreeSlots> tables_;
  size_t table_slots_ = 0;
  std::array<uint64_t, kContexts> ctx_{};
  std::array<int, 10> nb_{};            // W, N, NW, NE, WW, NN, ref, ref2, Wr, Nr of symbol gathered_
  uint64_t gathered_ = ~uint64_t{0};
  bool avx2_ = false;                   // the AVX2 paths are in use (the CPU has AVX2 and SetSimd allows; same results)
  std::array<Slot*, kContexts> slot_{};
  // Kind 1, AVX2 path: the word index (in uint32_t from the tables' start) of node[0] of
  // each slot_[i] (below 8 * 2^22 slots * 16 words = 2^29); per decision the indexes and
  // values of the 8 counters in use.
  alignas(32) int32_t slot_word_[kContexts] = {};
  alignas(32) int32_t counter_word_[kContexts] = {};
  alignas(32) uint32_t counter_value_[kContexts] = {};
  int low_parent_ = -1;                 // the node (depth 4 - kLowAhead) low_hash_ belongs to, or -1
  uint64_t low_hash_[1 << kLowAhead][kContexts] = {};
  std::vector<int32_t> weights_;        // 3 channels * 8 depths * kConfBuckets sets of kInputs
  std::vector<int32_t> weights2_;       // second mixer: 3 channels * 256 nodes sets of kInputs
  std::vector<uint16_t> apm1_, apm2_;   // 33 cells per context
  // Per symbol / per decision.
  uint32_t channel_ = 0;
  int conf_ = 0;
  int depth_ = 0, node_ = 1;
  std::array<int32_t, kInputs> x_{};
  std::array<uint32_t*, kContexts> counter_{};
  int32_t* w_ = nullptr;
  int32_t* w2_ = nullptr;
  uint32_t p_mix_ = 0, p_mix1_ = 0, p_mix2_ = 0;
  size_t a1_ = 0, a2_ = 0;
  // Kind 2.
  static constexpr int kLightContexts = 5;
  static constexpr int kLightInputs = kLightContexts + 3;  // + the model, a bias and a zero
  static constexpr int kLightDecisions = 14;                // decisions with counters
  static constexpr int kLightModelOnly = 128;                // APM contexts of model-only decisions
  static constexpr int kBitsEntries = 16;  // kind 3: counters per side of one row (11 used: the nodes of buckets 1-3), one cache line
  // Kind 3's directly indexed tables, in entries of 4 bytes, 3 channels each (the constructor
  // allocates them, MemoryBytes counts them): rows (centre or median - guess clamped to +-8,
  // activity bucket 0-6), then the tables below.
  static constexpr size_t kBiasRows = 17 * 7;
  static constexpr size_t kBitsNearEntries = size_t{3} * kBiasRows * 2 * kBitsEntries;    // bits_ctr_table_
  static constexpr size_t kBitsCentreEntries = size_t{3} * 256 * 2 * kBitsEntries;        // bits_ctr2_table_
  static constexpr size_t kBiasEntries = size_t{3} * kBiasRows * kLightDecisions;         // dctr_table_
  static constexpr size_t kBitsFarEntries = size_t{3} * kConfBuckets * 7 * 128;           // bits_far_table_
  static constexpr size_t kBitsFarCentreEntries = size_t{3} * 256 * 128;                  // bits_far2_table_
  static constexpr size_t kBitsWeightEntries = size_t{3} * 2 * 8 * 16 * 4;                // bits_w_table_
  static constexpr size_t kKind3Entries = kBitsNearEntries + kBitsCentreEntries + kBiasEntries + kBitsFarEntries +
                                          kBitsFarCentreEntries + kBitsWeightEntries;
  int decision_ = 0;
  int light_center_ = 0;
  // Kind 3: where the median search starts (GatherLight: the neighbours' prediction), the node within the bucket (1, then 2-3, ...), the activity
  // bucket (0-6) of the neighbours; the bits within a bucket mix the model with two
  // counters of directly indexed tables (PredictLight).
  int light_guess_ = 128;
  int light_sub_ = 1;
  uint32_t light_act_ = 0;
  bool bits_mixed_ = false;
  uint32_t* bits_ctr_[2] = {nullptr, nullptr};
  int32_t* bits_w_ = nullptr;
  std::array<int32_t, 4> bx_{};
  std::vector<uint32_t, CacheLineAllocator<uint32_t>> bits_ctr_table_;   // rows (channel, median - guess clamped to +-8, activity) of 2 sides * kBitsEntries
  std::vector<uint32_t, CacheLineAllocator<uint32_t>> bits_ctr2_table_;  // rows (channel, centre) of 2 sides * kBitsEntries
  std::vector<uint32_t> bits_far_table_;   // buckets 4-7: (channel, confidence, activity; side, bucket, node)
  std::vector<uint32_t> bits_far2_table_;  // buckets 4-7: (channel, centre; side, bucket, node)
  std::vector<int32_t> bits_w_table_;      // (channel, side, bucket, node): 4 weights
  size_t bits_row_ = 0, bits_row2_ = 0;    // this symbol's rows
  // Decisions 0-13 (kind 3): a counter by (channel, centre - guess clamped to +-8,
  // activity; decision) as the mixer's eighth input.
  std::vector<uint32_t> dctr_table_;
  size_t bias_row_ = 0;
  uint32_t* dctr_ = nullptr;
  // Symbol prediction from exact contexts (1 and 6): the candidates' hit rates by
  // channel, context and repeat count (16-bit probabilities), and this symbol's candidates.
  std::vector<uint16_t> hits_;
  static constexpr int kCands = 3;
  int cand_sym_[kCands] = {-1, -1, -1};
  size_t cand_hit_[kCands] = {0, 0, 0};
  uint32_t* cand_entry_[kCands] = {nullptr, nullptr, nullptr};
  std::vector<uint32_t> cands_;         // candidate entries of the exact neighbours, 2^table_bits
  uint64_t cand_hash_ = 0;
  bool light_mixed_ = false;
  std::vector<int32_t> lweights_;       // 3 channels * kLightDecisions * kConfBuckets sets of kLightInputs
  std::vector<uint16_t> lapm_;          // the same contexts, 33 cells each
  std::vector<uint16_t> lapm_model_;    // 3 channels * kLightModelOnly * kConfBuckets contexts, 33 cells each
  size_t la_ = 0;
  uint32_t lp_mix_ = 0;
};

// The model's CDF at edges 0 - 256 (at(edge), capped at kTotal), each edge asked of the
// model at most once.
template <class At>
class MemoCdf {
 public:
  explicit MemoCdf(const At& at) : at_(at) {}
  void Set(int edge, uint32_t v) {
    memo_[edge] = v;
    have_[edge >> 6] |= uint64_t{1} << (edge & 63);
  }
  uint32_t operator()(int edge) {
    const uint64_t bit = uint64_t{1} << (edge & 63);
    if (have_[edge >> 6] & bit) return memo_[edge];
    const uint32_t v = static_cast<uint32_t>(at_(edge));
    have_[edge >> 6] |= bit;
    return memo_[edge] = v > kTotal ? kTotal : v;
  }

 private:
  const At& at_;
  uint32_t memo_[257];
  uint64_t have_[5] = {0, 0, 0, 0, 0};
};

template <class At, class Coder>
int Stage::CodeLight(const At& at, Coder& coder) {
  MemoCdf<At> cdf(at);
  cdf.Set(0, 0);  // edges 0 and 256 are 0 and 2^16 by definition
  cdf.Set(256, kTotal);
  // Mass of symbols [a, b) (at least 1 whatever the CDF).
  const auto mass = [&cdf](int a, int b) -> uint32_t {
    const uint32_t ca = cdf(a), cb = cdf(b);
    return cb > ca ? cb - ca : 1;
  };
  int lo = 0, hi = 256;
  if (params_.kind == 3) {
    // Kind 3: gallop from the guess (a prediction from the neighbours) to a bracket
    // cdf(lo) <= 2^15 < cdf(hi), then halve it: the same median as the binary search
    // below for a non-decreasing CDF, in about 2 + 2 log2(|median - guess| + 1) evaluations.
    const int g = light_guess_;
    if (cdf(g) <= kTotal / 2) {
      lo = g;
      for (int step = 1;; step *= 2) {
        const int t = lo + step;
        if (t >= 256) { hi = 256; break; }
        if (cdf(t) > kTotal / 2) { hi = t; break; }
        lo = t;
      }
    } else {
      hi = g;
      for (int step = 1;; step *= 2) {
        const int t = hi - step;
        if (t <= 0) { lo = 0; break; }
        if (cdf(t) <= kTotal / 2) { lo = t; break; }
        hi = t;
      }
    }
  }
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (cdf(mid) <= kTotal / 2) lo = mid; else hi = mid;
  }
  const uint32_t at_median = mass(lo, lo + 1);
  // The centre m: the model's median, or the symbol the stage predicts from the exact
  // neighbours (decisions 12 and 13 then take the place of 0 and 1).
  const int m = BeginLight(lo, kTotal - (at_median > kTotal ? kTotal : at_median));
  const int alt = m != lo ? 12 : 0;
  const uint32_t at_m = mass(m, m + 1);
  const auto decide = [&](int decision, int a, int b, uint32_t in, uint32_t out) -> int {
    const uint32_t p1 = PredictLightMasses(decision, in, out);
    const int bit = coder(a, b, p1) ? 1 : 0;
    UpdateLight(bit);
    return bit;
  };
  // 1. The median itself.
  if (decide(alt, m, m + 1, at_m, kTotal - (at_m >= kTotal ? kTotal - 1 : at_m))) {
    End(m);
    return m;
  }
  // 2. The side: above (1) or below (0) the median.
  int side;
  if (m == 0) side = 1;
  else if (m == 255) side = 0;
  else side = decide(alt + 1, m + 1, 256, mass(m + 1, 256), mass(0, m));
  // Distances e = |symbol - m| - 1 in [0, len); e in [ea, eb) is the symbol interval:
  const int len = side ? 255 - m : m;
  const auto lo_of = [m, side](int ea, int eb) { return side ? m + 1 + ea : m - eb; };
  const auto hi_of = [m, side](int ea, int eb) { return side ? m + 1 + eb : m - ea; };
  // 3. Buckets [2^k - 1, 2^(k+1) - 1), one "in bucket k" decision each until one says yes
  // (the last bucket that fits needs none).
  int k = 0, ea = 0, eb = 1;
  for (;;) {
    if (eb >= len) { eb = len; break; }
    const int a = lo_of(ea, eb), b = hi_of(ea, eb);
    const int ra = lo_of(eb, len), rb = hi_of(eb, len);
    if (decide(2 + side * 5 + (k < 4 ? k : 4), a, b, mass(a, b), mass(ra, rb))) break;
    ++k;
    ea = eb;
    eb = 2 * eb + 1;
  }
  // 4. Within the bucket, halves (upper half of the distances first), model and APM only.
  int j = 0;
  light_sub_ = 1;
  while (eb - ea > 1) {
    const int mid = ea + (eb - ea) / 2;
    const int a = lo_of(mid, eb), b = hi_of(mid, eb);
    const int ra = lo_of(ea, mid), rb = hi_of(ea, mid);
    const int bit = decide(-1 - ((side * 8 + k) * 8 + j), a, b, mass(a, b), mass(ra, rb));
    if (bit) ea = mid;
    else eb = mid;
    light_sub_ = 2 * light_sub_ + bit;
    ++j;
  }
  const int sym = side ? m + 1 + ea : m - 1 - ea;
  End(sym);
  return sym;
}

template <class At, class Coder>
int Stage::CodeBinary(const At& at, Coder& coder) {
  // Each edge is asked of the model at most once per symbol (the median search and the
  // descent share their first steps when the symbol is near the median).
  MemoCdf<At> cdf(at);
  // The model's median: the largest m with cdf(m) <= 2^15.
  int lo = 0, hi = 256;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (cdf(mid) <= kTotal / 2) lo = mid; else hi = mid;
  }
  const uint32_t a = cdf(lo > 0 ? lo - 1 : 0), b = cdf(lo + 2 < 256 ? lo + 2 : 256);
  Begin(lo, b >= a ? kTotal - (b - a) : kTotal);
  // Eight decisions, most significant bit first.
  int sym = 0, node = 1;
  uint32_t clo = 0, chi = kTotal;
  for (int d = 0; d < 8; ++d) {
    const int mid = sym + (128 >> d);
    uint32_t cm = cdf(mid);
    cm = cm < clo ? clo : cm > chi ? chi : cm;
    const uint32_t m0 = cm - clo, m1 = chi - cm;
    const uint32_t p1 = PredictMasses(d, node, m1 > 0 ? m1 : 1, m0 > 0 ? m0 : 1);
    const int bit = coder(mid, sym + (256 >> d), p1) ? 1 : 0;
    Update(bit);
    node = 2 * node + bit;
    if (bit) { sym = mid; clo = cm; } else { chi = cm; }
  }
  End(sym);
  return sym;
}

}  // namespace pixelzip::adaptive
