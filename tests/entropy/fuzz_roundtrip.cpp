// libFuzzer target: encodes a message derived from the bytes, decodes it and checks
// the round trip. Oracles: same symbols through every interface; a clean end; table
// and function encoders write the same bytes; the size is within one byte of the
// ideal code length; a stream missing its last byte or carrying an extra byte is
// never taken for the original message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "entropy/range_coder.h"
#include "tests/entropy/fuzz_check.h"
#include "tests/entropy/test_distributions.h"

namespace {

using pixelzip::entropy::DecodeError;
using pixelzip::entropy::kTotal;
using pixelzip::entropy::RangeDecoder;
using pixelzip::entropy::RangeEncoder;
using pixelzip::entropy::test_support::FuzzSetup;
using pixelzip::entropy::test_support::SymbolAt;

struct Decoded {
  bool threw = false;
  bool clean = false;
  std::vector<int> symbols;
};

Decoded DecodeAll(const FuzzSetup& setup, const std::vector<uint8_t>& stream, size_t count, bool low_level) {
  Decoded result;
  try {
    RangeDecoder decoder(stream.data(), stream.size());
    for (size_t i = 0; i < count; ++i) {
      const std::vector<uint32_t>& cdf = setup.CdfAt(i);
      if (low_level) {
        const int s = SymbolAt(cdf, decoder.Target());
        decoder.Consume(cdf[s], cdf[s + 1] - cdf[s]);
        result.symbols.push_back(s);
      } else {
        result.symbols.push_back(decoder.DecodeWithTable(cdf.data(), setup.num_symbols));
      }
    }
    result.clean = decoder.AtCleanEnd();
  } catch (const DecodeError&) {
    result.threw = true;
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < FuzzSetup::kHeaderBytes) return 0;
  const size_t count = size - FuzzSetup::kHeaderBytes;
  FuzzSetup setup(data, count);
  if (setup.malformed) return 0;  // the encoder rejects invalid tables; see fuzz_decode
  const int n = setup.num_symbols;

  // Byte b selects symbol floor(b * n / 256) (every symbol reachable for n <= 256).
  std::vector<int> symbols;
  for (size_t i = 0; i < count; ++i) symbols.push_back((data[FuzzSetup::kHeaderBytes + i] * n) >> 8);

  RangeEncoder table_encoder;
  RangeEncoder function_encoder;
  RangeEncoder bit_encoder;
  double ideal_bits = 0;
  for (size_t i = 0; i < count; ++i) {
    const std::vector<uint32_t>& cdf = setup.CdfAt(i);
    table_encoder.EncodeWithTable(cdf.data(), n, symbols[i]);
    function_encoder.EncodeWithFunction([&cdf](int edge) { return cdf.at(edge); }, n, symbols[i]);
    if (n == 2) bit_encoder.EncodeBit(symbols[i], cdf[1]);
    ideal_bits -= std::log2(static_cast<double>(cdf[symbols[i] + 1] - cdf[symbols[i]]) / kTotal);
  }
  const std::vector<uint8_t> stream = table_encoder.Finish();
  PIXELZIP_FUZZ_CHECK(function_encoder.Finish() == stream);
  if (n == 2) PIXELZIP_FUZZ_CHECK(bit_encoder.Finish() == stream);
  // At most one byte above the ideal (the per-symbol loss is below 2^-31 bits).
  PIXELZIP_FUZZ_CHECK(stream.size() * 8.0 <= ideal_bits + 8 + 1e-6 * (1 + static_cast<double>(count)));

  for (bool low_level : {false, true}) {
    const Decoded decoded = DecodeAll(setup, stream, count, low_level);
    PIXELZIP_FUZZ_CHECK(!decoded.threw);
    PIXELZIP_FUZZ_CHECK(decoded.clean);
    PIXELZIP_FUZZ_CHECK(decoded.symbols == symbols);
  }

  if (!stream.empty()) {
    const std::vector<uint8_t> shorter(stream.begin(), stream.end() - 1);
    const Decoded decoded = DecodeAll(setup, shorter, count, false);
    PIXELZIP_FUZZ_CHECK(decoded.threw || !decoded.clean || decoded.symbols != symbols);
  }
  std::vector<uint8_t> longer = stream;
  longer.push_back(data[0]);
  const Decoded decoded = DecodeAll(setup, longer, count, false);
  PIXELZIP_FUZZ_CHECK(decoded.threw || !decoded.clean || decoded.symbols != symbols);
  return 0;
}
