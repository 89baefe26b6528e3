// Tests for entropy/range_coder.h. Every random choice comes from fixed seeds.
#include "entropy/range_coder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/entropy/test_distributions.h"

namespace pixelzip::entropy {
namespace {

using test_support::MakeCdf;
using test_support::Shape;
using test_support::SplitMix64;
using test_support::SymbolAt;

// A message with per-symbol distributions, as the codec produces them.
struct Message {
  int num_symbols = 0;
  std::vector<std::vector<uint32_t>> cdfs;
  std::vector<int> cdf_index;  // which cdf codes position i
  std::vector<int> symbols;

  const std::vector<uint32_t>& CdfAt(size_t i) const { return cdfs[cdf_index[i]]; }
  size_t size() const { return symbols.size(); }
};

Message MakeMessage(Shape shape, int num_symbols, int num_cdfs, size_t length, uint64_t seed) {
  SplitMix64 rng(seed);
  Message message;
  message.num_symbols = num_symbols;
  for (int i = 0; i < num_cdfs; ++i) message.cdfs.push_back(MakeCdf(shape, num_symbols, rng));
  for (size_t i = 0; i < length; ++i) {
    const int which = static_cast<int>(rng.Below(num_cdfs));
    message.cdf_index.push_back(which);
    message.symbols.push_back(SymbolAt(message.cdfs[which], rng.Below(kTotal)));
  }
  return message;
}

std::vector<uint8_t> EncodeWithTables(const Message& m) {
  RangeEncoder encoder;
  for (size_t i = 0; i < m.size(); ++i) encoder.EncodeWithTable(m.CdfAt(i).data(), m.num_symbols, m.symbols[i]);
  return encoder.Finish();
}

std::vector<uint8_t> EncodeWithFunctions(const Message& m) {
  RangeEncoder encoder;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::vector<uint32_t>& cdf = m.CdfAt(i);
    encoder.EncodeWithFunction([&cdf](int edge) { return cdf[edge]; }, m.num_symbols, m.symbols[i]);
  }
  return encoder.Finish();
}

enum class DecodeMode { kTable, kFunction, kCallable, kTargetConsume };

// Decodes m.size() symbols with m's distributions. Throws DecodeError like the decoder.
std::vector<int> Decode(const std::vector<uint8_t>& stream, const Message& m, DecodeMode mode,
                        bool* clean_end = nullptr) {
  RangeDecoder decoder(stream.data(), stream.size());
  std::vector<int> symbols;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::vector<uint32_t>& cdf = m.CdfAt(i);
    switch (mode) {
      case DecodeMode::kTable:
        symbols.push_back(decoder.DecodeWithTable(cdf.data(), m.num_symbols));
        break;
      case DecodeMode::kFunction:
        symbols.push_back(decoder.DecodeWithFunction([&cdf](int edge) { return cdf[edge]; }, m.num_symbols));
        break;
      case DecodeMode::kCallable:
        symbols.push_back(decoder.DecodeWithCallable([&cdf](int edge) { return cdf[edge]; }, m.num_symbols));
        break;
      case DecodeMode::kTargetConsume: {
        const int s = SymbolAt(cdf, decoder.Target());
        decoder.Consume(cdf[s], cdf[s + 1] - cdf[s]);
        symbols.push_back(s);
        break;
      }
    }
  }
  if (clean_end != nullptr) *clean_end = decoder.AtCleanEnd();
  return symbols;
}

double IdealBits(const Message& m) {
  double bits = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::vector<uint32_t>& cdf = m.CdfAt(i);
    bits -= std::log2(static_cast<double>(cdf[m.symbols[i] + 1] - cdf[m.symbols[i]]) / kTotal);
  }
  return bits;
}

const char* ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kUniform: return "uniform";
    case Shape::kRandom: return "random";
    case Shape::kExtreme: return "extreme";
    case Shape::kNearDegenerate: return "near_degenerate";
    case Shape::kPeaked: return "peaked";
  }
  return "?";
}

// ------------------------------------------------------------ round trips

struct RoundTripCase {
  Shape shape;
  int num_symbols;
};

class RoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTrip, AllInterfacesAgree) {
  const RoundTripCase c = GetParam();
  for (uint64_t seed : {1u, 2u, 3u}) {
    const Message m = MakeMessage(c.shape, c.num_symbols, 16, 20000, seed * 1000 + c.num_symbols);
    const std::vector<uint8_t> stream = EncodeWithTables(m);
    EXPECT_EQ(EncodeWithFunctions(m), stream) << "table and function encoders must write the same bytes";
    for (DecodeMode mode :
         {DecodeMode::kTable, DecodeMode::kFunction, DecodeMode::kCallable, DecodeMode::kTargetConsume}) {
      bool clean = false;
      EXPECT_EQ(Decode(stream, m, mode, &clean), m.symbols) << "mode " << static_cast<int>(mode);
      EXPECT_TRUE(clean);
    }
    // Within a few bytes of the ideal size.
    EXPECT_LE(stream.size() * 8.0, IdealBits(m) * 1.0001 + 80);
  }
}

std::vector<RoundTripCase> AllCases() {
  std::vector<RoundTripCase> cases;
  for (Shape shape : {Shape::kUniform, Shape::kRandom, Shape::kExtreme, Shape::kNearDegenerate, Shape::kPeaked})
    for (int n : {1, 2, 3, 17, 255, 256}) cases.push_back({shape, n});
  cases.push_back({Shape::kUniform, kMaxSymbols});
  cases.push_back({Shape::kRandom, 4096});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, RoundTrip, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<RoundTripCase>& info) {
                           return std::string(ShapeName(info.param.shape)) + "_" +
                                  std::to_string(info.param.num_symbols);
                         });

// The first target is the stream's first two bytes, so two-byte streams reach every
// target: compares the table searches (two-level for 256 symbols, binary otherwise)
// and the function search with std::upper_bound for all 2^16 targets.
TEST(RangeCoder, SearchesAreExactForEveryTarget) {
  SplitMix64 rng(2024);
  for (Shape shape : {Shape::kRandom, Shape::kExtreme, Shape::kPeaked, Shape::kUniform}) {
    for (int n : {256, 255, 17, 2}) {
      const std::vector<uint32_t> cdf = MakeCdf(shape, n, rng);
      for (uint32_t t = 0; t < kTotal; ++t) {
        const uint8_t stream[2] = {static_cast<uint8_t>(t >> 8), static_cast<uint8_t>(t)};
        const int expected = SymbolAt(cdf, t);
        RangeDecoder table_decoder(stream, 2);
        ASSERT_EQ(table_decoder.DecodeWithTable(cdf.data(), n), expected) << "n " << n << " t " << t;
        if (t % 61 == 0 || cdf[expected] == t || cdf[expected + 1] == t + 1) {
          RangeDecoder function_decoder(stream, 2);
          ASSERT_EQ(function_decoder.DecodeWithCallable([&cdf](int edge) { return cdf[edge]; }, n), expected);
        }
      }
    }
  }
}

TEST(RangeCoder, EmptyMessageIsEmptyStream) {
  RangeEncoder encoder;
  EXPECT_TRUE(encoder.Finish().empty());
  RangeDecoder decoder(nullptr, 0);
  EXPECT_TRUE(decoder.AtCleanEnd());
  decoder.VerifyCleanEnd();
}

TEST(RangeCoder, SingleSymbol) {
  SplitMix64 rng(7);
  for (int shape = 0; shape < test_support::kNumShapes; ++shape) {
    for (int n : {1, 2, 256}) {
      const std::vector<uint32_t> cdf = MakeCdf(static_cast<Shape>(shape), n, rng);
      for (int symbol = 0; symbol < n; ++symbol) {
        RangeEncoder encoder;
        encoder.EncodeWithTable(cdf.data(), n, symbol);
        const std::vector<uint8_t> stream = encoder.Finish();
        EXPECT_LE(stream.size(), 3u);
        RangeDecoder decoder(stream.data(), stream.size());
        EXPECT_EQ(decoder.DecodeWithTable(cdf.data(), n), symbol);
        EXPECT_TRUE(decoder.AtCleanEnd());
      }
    }
  }
}

TEST(RangeCoder, OneSymbolAlphabetCostsNothing) {
  const uint32_t cdf[] = {0, kTotal};
  RangeEncoder encoder;
  for (int i = 0; i < 1000; ++i) encoder.EncodeWithTable(cdf, 1, 0);
  const std::vector<uint8_t> stream = encoder.Finish();
  EXPECT_TRUE(stream.empty());
  RangeDecoder decoder(stream.data(), stream.size());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(decoder.DecodeWithTable(cdf, 1), 0);
  EXPECT_TRUE(decoder.AtCleanEnd());
}

TEST(RangeCoder, CertainSymbolsBetweenOthers) {
  // A one-symbol alphabet at the start leaves the range at its maximum, 2^56, with
  // input still to come (a regression test for the branch-free renormalisation).
  const uint32_t certain[] = {0, kTotal};
  const Message m = MakeMessage(Shape::kRandom, 256, 4, 3000, 8);
  RangeEncoder encoder;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i < 5 || i % 7 == 0) encoder.EncodeWithTable(certain, 1, 0);
    encoder.EncodeWithTable(m.CdfAt(i).data(), 256, m.symbols[i]);
  }
  const std::vector<uint8_t> stream = encoder.Finish();
  RangeDecoder decoder(stream.data(), stream.size());
  for (size_t i = 0; i < m.size(); ++i) {
    if (i < 5 || i % 7 == 0) {
      ASSERT_EQ(decoder.DecodeWithTable(certain, 1), 0);
    }
    ASSERT_EQ(decoder.DecodeWithTable(m.CdfAt(i).data(), 256), m.symbols[i]) << i;
  }
  EXPECT_TRUE(decoder.AtCleanEnd());
}

TEST(RangeCoder, BitsMatchTwoSymbolTables) {
  SplitMix64 rng(11);
  RangeEncoder table_encoder;
  RangeEncoder bit_encoder;
  std::vector<uint32_t> freq_zero;
  std::vector<int> bits;
  for (int i = 0; i < 50000; ++i) {
    const uint32_t f0 = i % 7 == 0 ? 1 + rng.Below(3) : 1 + rng.Below(kTotal - 1);  // include extremes
    const int bit = rng.Below(kTotal) >= f0 ? 1 : 0;
    const uint32_t cdf[] = {0, f0, kTotal};
    table_encoder.EncodeWithTable(cdf, 2, bit);
    bit_encoder.EncodeBit(bit, f0);
    freq_zero.push_back(f0);
    bits.push_back(bit);
  }
  const std::vector<uint8_t> stream = table_encoder.Finish();
  EXPECT_EQ(bit_encoder.Finish(), stream);
  RangeDecoder decoder(stream.data(), stream.size());
  for (size_t i = 0; i < bits.size(); ++i) ASSERT_EQ(decoder.DecodeBit(freq_zero[i]), bits[i]) << i;
  EXPECT_TRUE(decoder.AtCleanEnd());
}

TEST(RangeCoder, LongCarryChains) {
  // Runs of top-of-interval symbols make long 0xFF runs in the carry buffer; bottom
  // symbols make 0x00 runs; the mix makes carries ripple through them.
  const uint32_t cdf[] = {0, 1, kTotal - 1, kTotal};
  for (int pattern = 0; pattern < 4; ++pattern) {
    Message m;
    m.num_symbols = 3;
    m.cdfs.push_back(std::vector<uint32_t>(cdf, cdf + 4));
    SplitMix64 rng(pattern);
    for (int i = 0; i < 30000; ++i) {
      int symbol = 1;
      if (pattern == 0) symbol = 2;
      if (pattern == 1) symbol = 0;
      if (pattern == 2) symbol = (i / 500) % 2 == 0 ? 2 : static_cast<int>(rng.Below(3));
      if (pattern == 3) symbol = i % 1000 == 999 ? 1 : 2;
      m.cdf_index.push_back(0);
      m.symbols.push_back(symbol);
    }
    const std::vector<uint8_t> stream = EncodeWithTables(m);
    bool clean = false;
    EXPECT_EQ(Decode(stream, m, DecodeMode::kTable, &clean), m.symbols) << "pattern " << pattern;
    EXPECT_TRUE(clean);
  }
}

// Pins the format: these bytes must never change (docs/design.md section 4: golden streams).
TEST(RangeCoder, GoldenStream) {
  RangeEncoder encoder;
  std::vector<uint32_t> uniform(257);
  for (int i = 0; i <= 256; ++i) uniform[i] = 256u * i;
  for (int s : {0, 1, 2, 255, 128}) encoder.EncodeWithTable(uniform.data(), 256, s);
  const uint32_t skewed[] = {0, 3, 65000, kTotal};
  for (int s : {1, 1, 0, 2, 1}) encoder.EncodeWithTable(skewed, 3, s);
  encoder.EncodeBit(1, 12345);
  const std::vector<uint8_t> stream = encoder.Finish();
  std::string hex;
  for (uint8_t b : stream) {
    char buffer[3];
    std::snprintf(buffer, sizeof buffer, "%02x", b);
    hex += buffer;
  }
  EXPECT_EQ(hex, "000102ff800008e9");
}

// ------------------------------------------------------------ rate

TEST(RangeCoder, RateWithinOneHundredthPercentOfIdeal) {
  constexpr size_t kSymbols = 1000000;
  for (Shape shape : {Shape::kRandom, Shape::kPeaked, Shape::kUniform, Shape::kExtreme}) {
    const Message m = MakeMessage(shape, 256, 16, kSymbols, 20240401);
    const std::vector<uint8_t> stream = EncodeWithTables(m);
    const double ideal_bits = IdealBits(m);
    const double overhead_bits = stream.size() * 8.0 - ideal_bits;
    std::printf("[ rate     ] %-8s 256 symbols, %zu coded: %zu bytes, ideal %.1f bytes, overhead %+.2f bytes (%+.6f%%)\n",
                ShapeName(shape), kSymbols, stream.size(), ideal_bits / 8, overhead_bits / 8,
                100.0 * overhead_bits / ideal_bits);
    EXPECT_LE(overhead_bits, 1e-4 * ideal_bits + 8 * 8);  // the requirement: 0.01% plus a few bytes
    EXPECT_LE(overhead_bits, 8.001);  // what the design gives: at most one byte (range_coder.cpp)
    EXPECT_GE(overhead_bits, -8.0);  // a code cannot beat the ideal by more than the rounding of its last byte
    bool clean = false;
    ASSERT_EQ(Decode(stream, m, DecodeMode::kTable, &clean), m.symbols);
    EXPECT_TRUE(clean);
  }
}

// ------------------------------------------------------------ bad input

TEST(RangeCoder, TruncatedStreamsThrow) {
  const Message m = MakeMessage(Shape::kRandom, 256, 8, 5000, 99);
  const std::vector<uint8_t> stream = EncodeWithTables(m);
  for (size_t cut = 1; cut <= stream.size(); ++cut) {
    const std::vector<uint8_t> truncated(stream.begin(), stream.end() - cut);
    bool clean = false;
    std::vector<int> symbols;
    bool threw = false;
    try {
      symbols = Decode(truncated, m, DecodeMode::kTable, &clean);
    } catch (const DecodeError&) {
      threw = true;
    }
    // Never mistaken for the original message.
    EXPECT_FALSE(!threw && clean && symbols == m.symbols) << "cut " << cut;
    // Cutting more than the flush (at most kMaxVirtualBytes) runs out of input.
    if (cut > static_cast<size_t>(kMaxVirtualBytes)) {
      EXPECT_TRUE(threw) << "cut " << cut;
    }
  }
}

TEST(RangeCoder, TrailingBytesAreNotACleanEnd) {
  const Message m = MakeMessage(Shape::kPeaked, 256, 8, 5000, 5);
  const std::vector<uint8_t> stream = EncodeWithTables(m);
  for (uint8_t extra : {0x00, 0x01, 0xFF}) {
    std::vector<uint8_t> longer = stream;
    longer.push_back(extra);
    bool clean = true;
    std::vector<int> symbols = Decode(longer, m, DecodeMode::kTable, &clean);
    EXPECT_EQ(symbols, m.symbols);  // a byte past the flush point does not change the symbols
    EXPECT_FALSE(clean);
    RangeDecoder decoder(longer.data(), longer.size());
    for (size_t i = 0; i < m.size(); ++i) decoder.DecodeWithTable(m.CdfAt(i).data(), 256);
    EXPECT_THROW(decoder.VerifyCleanEnd(), DecodeError);
  }
}

TEST(RangeCoder, AlteredLastByteIsNotACleanEnd) {
  const Message m = MakeMessage(Shape::kRandom, 256, 8, 3000, 6);
  std::vector<uint8_t> stream = EncodeWithTables(m);
  ASSERT_FALSE(stream.empty());
  stream.back() ^= 0x01;
  bool clean = true;
  try {
    std::vector<int> symbols = Decode(stream, m, DecodeMode::kTable, &clean);
    EXPECT_FALSE(clean && symbols == m.symbols);
  } catch (const DecodeError&) {
  }
}

TEST(RangeCoder, ReadingPastTheEndThrows) {
  std::vector<uint32_t> uniform(257);
  for (int i = 0; i <= 256; ++i) uniform[i] = 256u * i;
  RangeDecoder decoder(nullptr, 0);
  // 7 virtual bytes cover the first symbol (8 bits); the second needs more.
  EXPECT_EQ(decoder.DecodeWithTable(uniform.data(), 256), 0);
  EXPECT_THROW(decoder.DecodeWithTable(uniform.data(), 256), DecodeError);
  // A decoder that has thrown keeps throwing instead of decoding garbage.
  EXPECT_THROW(decoder.DecodeWithTable(uniform.data(), 256), DecodeError);
  EXPECT_THROW(decoder.Target(), DecodeError);
  EXPECT_FALSE(decoder.AtCleanEnd());
}

TEST(RangeCoder, RandomBytesThrowOrDecodeWithinBounds) {
  SplitMix64 rng(1234);
  const Message m = MakeMessage(Shape::kRandom, 256, 8, 2000, 77);
  int threw = 0;
  for (int trial = 0; trial < 300; ++trial) {
    // Exact-size heap copy so that AddressSanitizer catches any over-read.
    std::vector<uint8_t> bytes(rng.Below(600));
    for (auto& b : bytes) b = static_cast<uint8_t>(rng.Next());
    try {
      const std::vector<int> symbols = Decode(bytes, m, DecodeMode::kTable);
      for (int s : symbols) ASSERT_TRUE(s >= 0 && s < 256);
    } catch (const DecodeError&) {
      ++threw;
    }
  }
  EXPECT_GT(threw, 250);  // 2000 symbols need ~1.8 kB; shorter inputs run out
}

TEST(RangeCoder, InvalidTablesThrowDecodeError) {
  const std::vector<uint8_t> stream(16, 0x80);  // target near the middle of the first symbol's range
  auto decode_first = [&stream](const std::vector<uint32_t>& cdf, int n) {
    RangeDecoder decoder(stream.data(), stream.size());
    return decoder.DecodeWithTable(cdf.data(), n);
  };
  auto decode_first_function = [&stream](const std::vector<uint32_t>& cdf, int n) {
    RangeDecoder decoder(stream.data(), stream.size());
    return decoder.DecodeWithFunction([&cdf](int edge) { return cdf[edge]; }, n);
  };
  const uint32_t target = 0x8080;  // the first target of `stream`
  // Invalid at the decoded position: must throw.
  const std::vector<std::vector<uint32_t>> must_throw = {
      {0, 100, 200},                 // ends below kTotal: the target lies beyond the last symbol
      {0, 30000, 32000, 100},        // decreasing at the decoded symbol
      {0, 10, kTotal + 5},           // beyond kTotal
      {0, 0xFFFFFFFFu, kTotal},      // huge entry
      {40000, 50000, kTotal},        // cdf(0) above the target
  };
  for (const auto& cdf : must_throw) {
    const int n = static_cast<int>(cdf.size()) - 1;
    EXPECT_THROW(decode_first(cdf, n), DecodeError) << "table ending " << cdf[n];
    EXPECT_THROW(decode_first_function(cdf, n), DecodeError) << "function ending " << cdf[n];
  }
  // Invalid elsewhere but consistent where the target falls: both forms agree on a
  // symbol whose interval contains the target (only the decoded position is checked).
  const std::vector<std::vector<uint32_t>> consistent_here = {
      {0, 40000, 30000, kTotal},
      {0, 32768, 32768, kTotal},
  };
  for (const auto& cdf : consistent_here) {
    const int n = static_cast<int>(cdf.size()) - 1;
    const int s = decode_first(cdf, n);
    EXPECT_EQ(decode_first_function(cdf, n), s);
    ASSERT_TRUE(s >= 0 && s < n);
    EXPECT_TRUE(cdf[s] <= target && target < cdf[s + 1]);
  }
  const std::vector<uint32_t> good = {0, kTotal};
  EXPECT_THROW(decode_first(good, 0), DecodeError);
  EXPECT_THROW(decode_first(good, -1), DecodeError);
  EXPECT_THROW(decode_first_function(good, kMaxSymbols + 1), DecodeError);
  RangeDecoder decoder(stream.data(), stream.size());
  EXPECT_THROW(decoder.DecodeBit(0), DecodeError);
  EXPECT_THROW(decoder.DecodeBit(kTotal), DecodeError);
}

TEST(RangeCoder, ConsumeChecksItsArguments) {
  const std::vector<uint8_t> stream(16, 0x80);
  RangeDecoder decoder(stream.data(), stream.size());
  EXPECT_THROW(decoder.Consume(0, kTotal), std::logic_error);  // no Target() yet
  const uint32_t t = decoder.Target();
  EXPECT_EQ(t, 0x8080u);
  EXPECT_THROW(decoder.Consume(t + 1, 5), DecodeError);  // does not contain t
  decoder.Target();
  EXPECT_THROW(decoder.Consume(t, 0), DecodeError);  // zero frequency
  decoder.Target();
  EXPECT_THROW(decoder.Consume(t, kTotal), DecodeError);  // past kTotal
  decoder.Target();
  decoder.Consume(t, 1);
}

TEST(RangeCoder, EncoderRejectsInvalidArguments) {
  RangeEncoder encoder;
  EXPECT_THROW(encoder.Encode(0, 0), std::invalid_argument);
  EXPECT_THROW(encoder.Encode(kTotal, 1), std::invalid_argument);
  EXPECT_THROW(encoder.Encode(1, kTotal), std::invalid_argument);
  EXPECT_THROW(encoder.Encode(0xFFFFFFFFu, 2), std::invalid_argument);  // would wrap
  const uint32_t cdf[] = {0, 100, 50, kTotal};
  EXPECT_THROW(encoder.EncodeWithTable(cdf, 3, 1), std::invalid_argument);
  EXPECT_THROW(encoder.EncodeWithTable(cdf, 3, 3), std::invalid_argument);
  EXPECT_THROW(encoder.EncodeWithTable(cdf, 3, -1), std::invalid_argument);
  EXPECT_THROW(encoder.EncodeWithTable(cdf, 0, 0), std::invalid_argument);
  EXPECT_THROW(encoder.EncodeBit(2, 100), std::invalid_argument);
  EXPECT_THROW(encoder.EncodeBit(0, 0), std::invalid_argument);
  EXPECT_THROW(encoder.EncodeBit(1, kTotal), std::invalid_argument);
  // Rejected calls leave the stream untouched.
  EXPECT_TRUE(encoder.Finish().empty());
}

TEST(RangeCoder, FinishResetsTheEncoder) {
  const Message m = MakeMessage(Shape::kRandom, 256, 4, 1000, 3);
  RangeEncoder encoder;
  for (size_t i = 0; i < m.size(); ++i) encoder.EncodeWithTable(m.CdfAt(i).data(), 256, m.symbols[i]);
  const std::vector<uint8_t> first = encoder.Finish();
  for (size_t i = 0; i < m.size(); ++i) encoder.EncodeWithTable(m.CdfAt(i).data(), 256, m.symbols[i]);
  EXPECT_EQ(encoder.Finish(), first);
}

}  // namespace
}  // namespace pixelzip::entropy
