// Range coder driven by integer CDFs that the caller supplies.
// Standard library only; knows nothing of images or networks (docs/design.md section 1).
//
// Every distribution has total kTotal = 2^16: symbol s occupies
// [cdf(s), cdf(s + 1)) with cdf(0) = 0, cdf(n) = kTotal and cdf(s + 1) - cdf(s) >= 1,
// for 1 <= n <= kMaxSymbols symbols.
//
// Stream rules (details in range_coder.cpp and entropy/README.md):
// - The coded size is below the ideal sum of -log2(freq / 2^16) bits plus one byte
//   (plus under 4e-10 bits per symbol: the unused part of the interval is < 2^-32).
// - The encoder's output is canonical: the shortest byte string that decodes to the
//   symbols under the end-of-input rule below. An empty message is an empty stream.
// - The decoder reads at most kMaxVirtualBytes zero bytes past the end of its input;
//   needing one more throws DecodeError. Every malformed input and every CDF that
//   breaks the invariants at the decoded position throws DecodeError; no input can
//   make the decoder read out of bounds, loop or hit undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pixelzip::entropy {

inline constexpr int kProbBits = 16;
inline constexpr uint32_t kTotal = 1u << kProbBits;
// Every symbol has frequency >= 1, so an alphabet has at most kTotal symbols.
inline constexpr int kMaxSymbols = static_cast<int>(kTotal);
// Zero bytes the decoder may read past the end of its input (what the flush relies on).
inline constexpr int kMaxVirtualBytes = 7;

// Thrown by the decoder when input is exhausted or inconsistent. A real check,
// active in every build type.
class DecodeError : public std::runtime_error {
 public:
  explicit DecodeError(const std::string& what) : std::runtime_error(what) {}
};

// CDF given as a function: returns cdf(edge) for 0 <= edge <= num_symbols.
using CdfFunction = std::function<uint32_t(int edge)>;

class RangeEncoder {
 public:
  RangeEncoder() = default;

  // REQUIRES: freq >= 1, cum + freq <= kTotal. Violations throw std::invalid_argument.
  void Encode(uint32_t cum, uint32_t freq);
  // REQUIRES: cdf has num_symbols + 1 entries satisfying the invariants above; 0 <= symbol < num_symbols.
  // Checked: symbol index in range, cdf(symbol + 1) - cdf(symbol) >= 1, cdf(symbol + 1) <= kTotal
  // (std::invalid_argument); other entries are not read.
  void EncodeWithTable(const uint32_t* cdf, int num_symbols, int symbol);
  // REQUIRES: cdf satisfies the invariants above over 0..num_symbols. Calls cdf(symbol), cdf(symbol + 1);
  // checked like the table form.
  void EncodeWithFunction(const CdfFunction& cdf, int num_symbols, int symbol);
  // Binary symbol: bit 0 has frequency freq_zero, bit 1 has kTotal - freq_zero.
  // Same bytes as EncodeWithTable with the table {0, freq_zero, kTotal}.
  // REQUIRES: 1 <= freq_zero < kTotal; bit is 0 or 1.
  void EncodeBit(int bit, uint32_t freq_zero);

  // Flushes the state and returns the whole stream. The encoder must not be used
  // afterwards for the same stream; it is reset, so further calls start a new one.
  std::vector<uint8_t> Finish();

 private:
  void ShiftLow();
  void EmitPending(uint32_t carry);

  uint64_t low_ = 0;                 // bottom of the interval; bits 0..55 + carry bit 56
  uint64_t range_ = uint64_t{1} << 56;  // interval width, in [2^48, 2^56] between symbols
  uint8_t cache_ = 0;                // last shifted-out byte, may still receive a carry
  bool has_cache_ = false;
  uint64_t pending_ff_ = 0;          // 0xFF bytes after cache_ that a carry would turn to 0x00
  std::vector<uint8_t> out_;
};

// Decodes a stream written by RangeEncoder, given the same distributions in the same
// order. After any DecodeError the decoder is spent: later calls throw again (except
// after a Consume() that rejected its arguments, which leaves the state unchanged).
class RangeDecoder {
 public:
  // `data` must outlive the decoder (may be null when size == 0). Reads never go
  // past data + size.
  RangeDecoder(const uint8_t* data, size_t size);
  // REQUIRES: same cdf / num_symbols the encoder used for this position.
  // Checked: 1 <= num_symbols <= kMaxSymbols and, at the decoded symbol s,
  // cdf[s] <= target < cdf[s + 1] <= kTotal. Reads only cdf[0..num_symbols].
  // Throws DecodeError when the stream is exhausted or inconsistent, or the table is invalid there.
  int DecodeWithTable(const uint32_t* cdf, int num_symbols);
  // Binary search over cdf(edge); same bytes and symbols as the table form.
  // Calls cdf with 0 <= edge <= num_symbols only, about log2(num_symbols) + 1 times.
  int DecodeWithFunction(const CdfFunction& cdf, int num_symbols);
  // Same as DecodeWithFunction for any callable uint32_t(int), without std::function.
  template <typename Cdf>
  int DecodeWithCallable(const Cdf& cdf, int num_symbols);
  // REQUIRES: 1 <= freq_zero < kTotal (else DecodeError). Inverse of RangeEncoder::EncodeBit.
  int DecodeBit(uint32_t freq_zero);

  // Low-level form: Target() gives a value t in [0, kTotal); the caller finds s
  // with cdf(s) <= t < cdf(s + 1) and calls Consume(cdf(s), cdf(s + 1) - cdf(s)).
  // Target() throws DecodeError on a corrupt stream. Consume() throws DecodeError
  // unless freq >= 1, cum <= t < cum + freq <= kTotal; and std::logic_error unless
  // the previous call was Target().
  uint32_t Target();
  void Consume(uint32_t cum, uint32_t freq);

  // True when every byte of the stream has been consumed consistently (for trailing-garbage checks):
  // the input is exactly what RangeEncoder::Finish() returns for the symbols decoded so far.
  bool AtCleanEnd() const;
  // Throws DecodeError unless AtCleanEnd().
  void VerifyCleanEnd() const;

 private:
  uint32_t ComputeTarget();                     // Target() without the call-order bookkeeping
  void Advance(uint32_t target, uint32_t cum, uint32_t freq);  // Consume() without it
  int SearchTable(const uint32_t* cdf, int num_symbols, uint32_t target) const;
  void Renormalize();
  uint8_t NextByte();
  [[noreturn]] static void Fail(const char* what);

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;            // next byte of data_ to read
  int virtual_bytes_ = 0;     // zero bytes supplied past the end so far
  uint64_t range_ = uint64_t{1} << 56;
  uint64_t code_ = 0;         // value - low, always < range_
  uint64_t low_ = 0;          // encoder's low modulo 2^56, for AtCleanEnd()
  uint64_t step_ = 0;         // range_ >> kProbBits, set by Target()
  uint32_t target_ = 0;
  bool target_ready_ = false;
};

template <typename Cdf>
int RangeDecoder::DecodeWithCallable(const Cdf& cdf, int num_symbols) {
  if (num_symbols < 1 || num_symbols > kMaxSymbols) Fail("number of symbols out of range");
  const uint32_t t = Target();
  // Invariant: cdf(lo) <= t < cdf(hi). The edges 0 and num_symbols are evaluated only
  // if the search ends next to them. Selects instead of branches: the comparison is
  // unpredictable.
  int lo = 0;
  int hi = num_symbols;
  uint32_t cum_lo = 0;
  uint32_t cum_hi = 0;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    const uint32_t c = static_cast<uint32_t>(cdf(mid));
    const bool below = c <= t;
    lo = below ? mid : lo;
    cum_lo = below ? c : cum_lo;
    hi = below ? hi : mid;
    cum_hi = below ? cum_hi : c;
  }
  if (lo == 0) cum_lo = static_cast<uint32_t>(cdf(0));
  if (hi == num_symbols) cum_hi = static_cast<uint32_t>(cdf(num_symbols));
  if (cum_hi < cum_lo) Fail("CDF function is not increasing");
  Consume(cum_lo, cum_hi - cum_lo);
  return lo;
}

}  // namespace pixelzip::entropy
