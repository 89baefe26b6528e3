// libFuzzer target: decodes arbitrary bytes with distributions derived from the bytes.
// Oracles: no crash, leak or undefined behaviour (sanitizers); every decoded symbol is
// in range; for valid distributions the table, function and Target/Consume decoders
// (and DecodeBit for two symbols) agree symbol for symbol and error for error; and a
// stream that decodes to a clean end is exactly what the encoder writes for those symbols.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "entropy/range_coder.h"
#include "tests/entropy/fuzz_check.h"
#include "tests/entropy/test_distributions.h"

namespace {

using pixelzip::entropy::CdfFunction;
using pixelzip::entropy::DecodeError;
using pixelzip::entropy::RangeDecoder;
using pixelzip::entropy::RangeEncoder;
using pixelzip::entropy::test_support::FuzzSetup;
using pixelzip::entropy::test_support::SymbolAt;

constexpr size_t kMaxDecoded = 4096;
constexpr int kMaxReencodes = 4;

// One decode step; nullopt when the decoder throws DecodeError.
template <typename Step>
std::optional<int> Try(Step step) {
  try {
    return step();
  } catch (const DecodeError&) {
    return std::nullopt;
  }
}

void FuzzMalformed(const FuzzSetup& setup, const uint8_t* stream, size_t size) {
  RangeDecoder table_decoder(stream, size);
  RangeDecoder function_decoder(stream, size);
  bool table_alive = true;
  bool function_alive = true;
  for (size_t i = 0; i < kMaxDecoded && (table_alive || function_alive); ++i) {
    const std::vector<uint32_t>& cdf = setup.CdfAt(i);
    if (table_alive) {
      const auto s = Try([&] { return table_decoder.DecodeWithTable(cdf.data(), setup.num_symbols); });
      table_alive = s.has_value();
      if (s) PIXELZIP_FUZZ_CHECK(*s >= 0 && *s < setup.num_symbols);
    }
    if (function_alive) {
      const CdfFunction function = [&cdf](int edge) {
        PIXELZIP_FUZZ_CHECK(edge >= 0 && static_cast<size_t>(edge) < cdf.size());
        return cdf[edge];
      };
      const auto s = Try([&] { return function_decoder.DecodeWithFunction(function, setup.num_symbols); });
      function_alive = s.has_value();
      if (s) PIXELZIP_FUZZ_CHECK(*s >= 0 && *s < setup.num_symbols);
    }
  }
  (void)table_decoder.AtCleanEnd();
  (void)function_decoder.AtCleanEnd();
}

void FuzzValid(const FuzzSetup& setup, const uint8_t* stream, size_t size) {
  const int n = setup.num_symbols;
  RangeDecoder table_decoder(stream, size);
  RangeDecoder function_decoder(stream, size);
  RangeDecoder low_level_decoder(stream, size);
  RangeDecoder bit_decoder(stream, size);
  std::vector<int> symbols;
  int reencodes = 0;
  for (size_t i = 0; i < kMaxDecoded; ++i) {
    const std::vector<uint32_t>& cdf = setup.CdfAt(i);
    const auto by_table = Try([&] { return table_decoder.DecodeWithTable(cdf.data(), n); });
    const auto by_function = Try([&] {
      return function_decoder.DecodeWithFunction(
          [&cdf](int edge) {
            PIXELZIP_FUZZ_CHECK(edge >= 0 && static_cast<size_t>(edge) < cdf.size());
            return cdf[edge];
          },
          static_cast<int>(cdf.size()) - 1);
    });
    const auto by_target = Try([&] {
      const int s = SymbolAt(cdf, low_level_decoder.Target());
      low_level_decoder.Consume(cdf[s], cdf[s + 1] - cdf[s]);
      return s;
    });
    PIXELZIP_FUZZ_CHECK(by_table == by_function);
    PIXELZIP_FUZZ_CHECK(by_table == by_target);
    if (n == 2) PIXELZIP_FUZZ_CHECK(by_table == Try([&] { return bit_decoder.DecodeBit(cdf[1]); }));
    if (!by_table) break;
    PIXELZIP_FUZZ_CHECK(*by_table >= 0 && *by_table < n);
    symbols.push_back(*by_table);

    const bool clean = table_decoder.AtCleanEnd();
    PIXELZIP_FUZZ_CHECK(clean == function_decoder.AtCleanEnd());
    PIXELZIP_FUZZ_CHECK(clean == low_level_decoder.AtCleanEnd());
    if (clean && reencodes++ < kMaxReencodes) {
      // A clean end means the input is the canonical encoding of the symbols so far.
      RangeEncoder encoder;
      for (size_t j = 0; j < symbols.size(); ++j) encoder.EncodeWithTable(setup.CdfAt(j).data(), n, symbols[j]);
      const std::vector<uint8_t> reencoded = encoder.Finish();
      PIXELZIP_FUZZ_CHECK(reencoded == std::vector<uint8_t>(stream, stream + size));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < FuzzSetup::kHeaderBytes) return 0;
  const FuzzSetup setup(data, kMaxDecoded);
  const uint8_t* stream = data + FuzzSetup::kHeaderBytes;
  const size_t stream_size = size - FuzzSetup::kHeaderBytes;
  if (setup.malformed) {
    FuzzMalformed(setup, stream, stream_size);
  } else {
    FuzzValid(setup, stream, stream_size);
  }
  return 0;
}
