// Range coder with carry propagation (LZMA-style byte output, widened to a 56-bit window).
//
// State
//   Encoder: low (64-bit: a 56-bit window plus a carry bit at bit 56), range (64-bit),
//   and the carry buffer: `cache` (the last byte shifted out of the window) followed by
//   `pending_ff` bytes of 0xFF. Those bytes are not final until we know whether a carry
//   will still arrive; a carry turns cache into cache + 1 and every 0xFF into 0x00.
//   Decoder: code = value - low (always < range), range, and low modulo 2^56 (only for
//   the clean-end check).
//
// Coding a symbol [cum, cum + freq) out of 2^16
//   step = range >> 16;  low += step * cum;  range = step * freq.
//   The decoder finds the symbol from t = code / step, which is < 2^16 for every stream
//   the encoder writes (a larger t is reported as a corrupt stream).
//   Because range >= 2^48 before each symbol, the part of the interval that no symbol
//   uses (range - step * 2^16 < 2^16) is below 2^-32 of it: the loss per symbol is
//   under 4e-10 bits and only the flush costs measurable size.
//
// Renormalisation
//   While range < 2^48: shift the top byte of the window (bits 48..55) into the carry
//   buffer, low = (low << 8) mod 2^56, range <<= 8. After a symbol range >= 2^32, so this
//   runs at most twice; between symbols range is in [2^48, 2^56]. The decoder mirrors it,
//   shifting one input byte into code per step.
//
// Flush (Finish)
//   Pick the value in [low, low + range) whose 7-byte window has the most trailing zero
//   bytes, write only the m leading window bytes that are not those zeros (0 <= m <= 7,
//   usually 1 or 2), then release the carry buffer. An empty message gives an empty stream.
//
// End-of-input rule
//   The decoder starts by reading 7 bytes and reads one more per renormalisation step.
//   Past the end of its input it reads zero bytes, at most kMaxVirtualBytes = 7 of them
//   (exactly what the trimmed flush needs); needing an 8th throws DecodeError. So a
//   truncated stream either throws or, when only flush bytes are missing, fails
//   AtCleanEnd(). AtCleanEnd() recomputes the flush from the decoder's copy of low and
//   range and is true only when the input is byte for byte what the encoder would write
//   for the symbols decoded so far (it detects trailing garbage and any altered tail).
//
// Safety
//   Every decoder path checks what could break memory safety or termination: the number
//   of symbols, that the decoded interval contains the target and lies inside [0, 2^16),
//   that input ends are respected, and that a decoder that has thrown is not reused
//   silently (it throws again). Table searches only index cdf[0..num_symbols].

#include "entropy/range_coder.h"

#include <algorithm>
#include <utility>

namespace pixelzip::entropy {
namespace {

constexpr int kWindowBits = 56;
constexpr int kWindowBytes = kWindowBits / 8;
constexpr uint64_t kWindowMask = (uint64_t{1} << kWindowBits) - 1;
constexpr uint64_t kBottom = uint64_t{1} << (kWindowBits - 8);  // renormalise below this
constexpr uint64_t kTopByteFF = uint64_t{0xFF} << (kWindowBits - 8);

static_assert(kWindowBytes == kMaxVirtualBytes, "flush trimming relies on this");

struct FlushPoint {
  uint64_t value;  // in [low, low + range); may carry into bit 56
  int num_bytes;   // window bytes to write; the rest of the window is zero
};

// The value in [low, low + range) whose window has the most trailing zero bytes.
// Depends on low only modulo 2^56, so encoder and decoder agree.
FlushPoint ChooseFlushPoint(uint64_t low, uint64_t range) {
  for (int num_bytes = 0; num_bytes < kWindowBytes; ++num_bytes) {
    const int zero_bits = 8 * (kWindowBytes - num_bytes);
    const uint64_t unit_mask = (uint64_t{1} << zero_bits) - 1;
    const uint64_t round_up = (unit_mask + 1 - (low & unit_mask)) & unit_mask;
    if (round_up < range) return {low + round_up, num_bytes};
  }
  return {low, kWindowBytes};
}

// Leading zero bits of x; REQUIRES: x != 0.
inline int CountLeadingZeros(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_clzll(x);
#else
  int n = 0;
  for (uint64_t bit = uint64_t{1} << 63; (x & bit) == 0; bit >>= 1) ++n;
  return n;
#endif
}

void CheckSymbolCount(int num_symbols, int symbol) {
  if (num_symbols < 1 || num_symbols > kMaxSymbols)
    throw std::invalid_argument("range coder: number of symbols out of range");
  if (symbol < 0 || symbol >= num_symbols)
    throw std::invalid_argument("range coder: symbol out of range");
}

}  // namespace

// ---------------------------------------------------------------- encoder

void RangeEncoder::Encode(uint32_t cum, uint32_t freq) {
  if (freq == 0 || freq > kTotal || cum > kTotal - freq)
    throw std::invalid_argument("range coder: need freq >= 1 and cum + freq <= 2^16");
  const uint64_t step = range_ >> kProbBits;
  low_ += step * cum;
  range_ = step * freq;
  while (range_ < kBottom) {
    range_ <<= 8;
    ShiftLow();
  }
}

void RangeEncoder::EncodeWithTable(const uint32_t* cdf, int num_symbols, int symbol) {
  CheckSymbolCount(num_symbols, symbol);
  const uint32_t cum = cdf[symbol];
  const uint32_t next = cdf[symbol + 1];
  if (next < cum) throw std::invalid_argument("range coder: CDF table is not increasing");
  Encode(cum, next - cum);
}

void RangeEncoder::EncodeWithFunction(const CdfFunction& cdf, int num_symbols, int symbol) {
  CheckSymbolCount(num_symbols, symbol);
  const uint32_t cum = cdf(symbol);
  const uint32_t next = cdf(symbol + 1);
  if (next < cum) throw std::invalid_argument("range coder: CDF function is not increasing");
  Encode(cum, next - cum);
}

void RangeEncoder::EncodeBit(int bit, uint32_t freq_zero) {
  if (bit != 0 && bit != 1) throw std::invalid_argument("range coder: bit must be 0 or 1");
  if (freq_zero == 0 || freq_zero >= kTotal)
    throw std::invalid_argument("range coder: need 1 <= freq_zero < 2^16");
  if (bit == 0) {
    Encode(0, freq_zero);
  } else {
    Encode(freq_zero, kTotal - freq_zero);
  }
}

void RangeEncoder::EmitPending(uint32_t carry) {
  // A carry never reaches the first byte of the stream (the interval stays inside [0, 1)),
  // so with no cache yet the carry is 0.
  if (has_cache_) out_.push_back(static_cast<uint8_t>(cache_ + carry));
  for (; pending_ff_ > 0; --pending_ff_) out_.push_back(static_cast<uint8_t>(0xFF + carry));
}

void RangeEncoder::ShiftLow() {
  if (low_ < kTopByteFF || low_ > kWindowMask) {
    // The top byte is final unless it is 0xFF without a carry: release the buffer.
    EmitPending(static_cast<uint32_t>(low_ >> kWindowBits));
    cache_ = static_cast<uint8_t>(low_ >> (kWindowBits - 8));
    has_cache_ = true;
  } else {
    ++pending_ff_;
  }
  low_ = (low_ << 8) & kWindowMask;
}

std::vector<uint8_t> RangeEncoder::Finish() {
  const FlushPoint flush = ChooseFlushPoint(low_, range_);
  low_ = flush.value;
  for (int i = 0; i < flush.num_bytes; ++i) ShiftLow();
  EmitPending(static_cast<uint32_t>(low_ >> kWindowBits));
  std::vector<uint8_t> stream = std::move(out_);
  *this = RangeEncoder();
  return stream;
}

// ---------------------------------------------------------------- decoder

RangeDecoder::RangeDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
  if (data == nullptr && size != 0) throw std::invalid_argument("range decoder: null data");
  for (int i = 0; i < kWindowBytes; ++i) code_ = (code_ << 8) | NextByte();
}

void RangeDecoder::Fail(const char* what) { throw DecodeError(std::string("range decoder: ") + what); }

inline uint8_t RangeDecoder::NextByte() {
  if (pos_ < size_) return data_[pos_++];
  if (virtual_bytes_ >= kMaxVirtualBytes) Fail("unexpected end of input");
  ++virtual_bytes_;
  return 0;
}

inline void RangeDecoder::Renormalize() {
  // After Advance() range_ is in [2^32, 2^56] (7 to 31 leading zeros), so 0, 1 or 2
  // bytes are due: one per 8 leading zeros beyond 15. With two input bytes at hand,
  // take them without branches.
  if (size_ - pos_ >= 2) {
    const int num_bytes = std::max(0, (CountLeadingZeros(range_) >> 3) - 1);
    const int shift = 8 * num_bytes;
    const uint64_t next_two = (uint64_t{data_[pos_]} << 8) | data_[pos_ + 1];
    code_ = (code_ << shift) | (next_two >> (16 - shift));
    low_ = (low_ << shift) & kWindowMask;
    range_ <<= shift;
    pos_ += static_cast<size_t>(num_bytes);
    return;
  }
  while (range_ < kBottom) {
    const uint8_t byte = NextByte();  // may throw; then range_ stays below kBottom
    code_ = (code_ << 8) | byte;
    low_ = (low_ << 8) & kWindowMask;
    range_ <<= 8;
  }
}

inline uint32_t RangeDecoder::ComputeTarget() {
  // range_ < kBottom only after a failed renormalisation: refuse to go on.
  if (range_ < kBottom) Fail("decoder used after an error");
  step_ = range_ >> kProbBits;
  const uint64_t t = code_ / step_;
  if (t >= kTotal) Fail("corrupt stream (target outside the distribution)");
  return static_cast<uint32_t>(t);
}

inline void RangeDecoder::Advance(uint32_t t, uint32_t cum, uint32_t freq) {
  // Together these imply freq >= 1 and cum + freq <= kTotal, keeping code_ < range_.
  if (cum > t || t - cum >= freq || freq > kTotal - cum)
    Fail("invalid CDF at the decoded symbol (interval must contain the target, freq >= 1, end <= 2^16)");
  const uint64_t offset = step_ * cum;
  code_ -= offset;
  low_ = (low_ + offset) & kWindowMask;
  range_ = step_ * freq;
  Renormalize();
}

uint32_t RangeDecoder::Target() {
  target_ = ComputeTarget();
  target_ready_ = true;
  return target_;
}

void RangeDecoder::Consume(uint32_t cum, uint32_t freq) {
  if (!target_ready_) throw std::logic_error("range decoder: Consume() without Target()");
  target_ready_ = false;
  Advance(target_, cum, freq);
}

// The last s in [0, num_symbols) with cdf[s] <= target when cdf is increasing; for any
// table, some s in [0, num_symbols) (Advance() then checks the interval). Reads only
// cdf[1..num_symbols - 1].
inline int RangeDecoder::SearchTable(const uint32_t* cdf, int num_symbols, uint32_t target) const {
  if (num_symbols == 256) {
    // Two levels of 15 independent comparisons (no dependent load chain, no branches;
    // the second level vectorises): first the block of 16 symbols, then the symbol in
    // it. Measured 1.25x the binary search's decode speed; blocks of 32 are as fast, 8 or
    // 64 slower.
    constexpr int kBlock = 16;
    int block = 0;
    for (int k = 1; k < 256 / kBlock; ++k) block += cdf[kBlock * k] <= target ? 1 : 0;
    const uint32_t* block_cdf = cdf + kBlock * block;
    int within = 0;
    for (int j = 1; j < kBlock; ++j) within += block_cdf[j] <= target ? 1 : 0;
    return kBlock * block + within;
  }
  // Branch-free binary search.
  const uint32_t* base = cdf;
  int len = num_symbols;
  while (len > 1) {
    const int half = len >> 1;
    base = (base[half] <= target) ? base + half : base;
    len -= half;
  }
  return static_cast<int>(base - cdf);
}

int RangeDecoder::DecodeWithTable(const uint32_t* cdf, int num_symbols) {
  if (num_symbols < 1 || num_symbols > kMaxSymbols) Fail("number of symbols out of range");
  const uint32_t t = ComputeTarget();
  const int s = SearchTable(cdf, num_symbols, t);
  Advance(t, cdf[s], cdf[s + 1] - cdf[s]);  // a decreasing pair wraps to a huge freq, which Advance rejects
  return s;
}

int RangeDecoder::DecodeWithFunction(const CdfFunction& cdf, int num_symbols) {
  return DecodeWithCallable(cdf, num_symbols);
}

int RangeDecoder::DecodeBit(uint32_t freq_zero) {
  if (freq_zero == 0 || freq_zero >= kTotal) Fail("need 1 <= freq_zero < 2^16");
  const uint32_t t = ComputeTarget();
  const int bit = t >= freq_zero ? 1 : 0;
  if (bit == 0) {
    Advance(t, 0, freq_zero);
  } else {
    Advance(t, freq_zero, kTotal - freq_zero);
  }
  return bit;
}

bool RangeDecoder::AtCleanEnd() const {
  if (range_ < kBottom) return false;  // a renormalisation failed
  const FlushPoint flush = ChooseFlushPoint(low_, range_);
  if ((flush.value & kWindowMask) != ((low_ + code_) & kWindowMask)) return false;
  const size_t bytes_read = pos_ + static_cast<size_t>(virtual_bytes_);  // >= kWindowBytes
  return size_ == bytes_read - kWindowBytes + static_cast<size_t>(flush.num_bytes);
}

void RangeDecoder::VerifyCleanEnd() const {
  if (!AtCleanEnd()) Fail("stream does not end where the decoded symbols end (truncated or trailing bytes)");
}

}  // namespace pixelzip::entropy
