// Range coder driven by integer CDFs that the caller supplies.
// Standard library only; knows nothing of images or networks (design.md section 1).
//
// Every distribution has total kTotal = 2^16: symbol s occupies
// [cdf(s), cdf(s + 1)) with cdf(0) = 0, cdf(n) = kTotal and cdf(s + 1) - cdf(s) >= 1.
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
  // REQUIRES: freq >= 1, cum + freq <= kTotal.
  void Encode(uint32_t cum, uint32_t freq);
  // REQUIRES: cdf has num_symbols + 1 entries satisfying the invariants above; 0 <= symbol < num_symbols.
  void EncodeWithTable(const uint32_t* cdf, int num_symbols, int symbol);
  // REQUIRES: cdf satisfies the invariants above over 0..num_symbols.
  void EncodeWithFunction(const CdfFunction& cdf, int num_symbols, int symbol);
  // Flushes the state; the encoder must not be used afterwards.
  std::vector<uint8_t> Finish();
};

class RangeDecoder {
 public:
  // `data` must outlive the decoder. Reads never go past data + size.
  RangeDecoder(const uint8_t* data, size_t size);
  // REQUIRES: same cdf / num_symbols the encoder used for this position.
  // Throws DecodeError when the stream is exhausted or inconsistent.
  int DecodeWithTable(const uint32_t* cdf, int num_symbols);
  // Binary search over cdf(edge); same bytes and symbols as the table form.
  int DecodeWithFunction(const CdfFunction& cdf, int num_symbols);
  // Low-level form: Target() gives a value t in [0, kTotal); the caller finds s
  // with cdf(s) <= t < cdf(s + 1) and calls Consume(cdf(s), cdf(s + 1) - cdf(s)).
  uint32_t Target();
  void Consume(uint32_t cum, uint32_t freq);
  // True when every byte of the stream has been consumed consistently (for trailing-garbage checks).
  bool AtCleanEnd() const;
};

}  // namespace pixelzip::entropy
