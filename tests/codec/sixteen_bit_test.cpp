// 16-bit images through Encode/Decode (docs/format.md section 3.4): round trips for every
// channel count, odd sizes and 1x1, the special low-byte modes, the thread count, damage,
// and the memory a huge claimed 16-bit image may cost.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "codec/container.h"
#include "codec/sixteen_bit.h"
#include "decode_memory.h"
#include "pixelzip/codec.h"
#include "test_support.h"

namespace pixelzip {
namespace {

using test::Low;
using test::MakeImage16;

ErrorCode CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::kInternal;
}

TEST(SixteenBit, RoundTripsEveryChannelCountSizeAndLowByteKind) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (auto [w, h] : {std::pair<uint32_t, uint32_t>{1, 1}, {1, 7}, {13, 1}, {17, 9}}) {
      for (Low low : {Low::kNoisy, Low::kTimes257, Low::kShift4, Low::kConstant}) {
        SCOPED_TRACE(std::to_string(channels) + " channels " + std::to_string(w) + "x" + std::to_string(h) +
                     " low kind " + std::to_string(int(low)));
        const Image image = MakeImage16(w, h, channels, low, w + h);
        for (bool adaptive : {false, true}) {
          const EncodeResult r = Encode(image, test::Order0Options(adaptive));
          const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
          EXPECT_EQ(info.bits_per_sample, 16u);
          EXPECT_EQ(info.channels, channels);
          const Image back = Decode(r.stream);
          EXPECT_EQ(back.bit_depth, 16u);
          EXPECT_EQ(back, image);
        }
      }
    }
  }
}

// Small synthetic images whose high bytes deflate best: the split layout with deflated high
// bytes (order 3, layout 0) or the whole 16-bit deflate coding (order 3, layout 1).
TEST(SixteenBit, DeflatedHighBytesAndTheWholeDeflateCodingRoundTrip) {
  EncodeOptions fallback = test::Order0Options(true);
  fallback.fallback = Fallback::kOn;
  // A ramp in both bytes: the whole 16-bit rows deflate to almost nothing.
  const Image ramp = test::SixteenBitGoldenImage(test::SixteenBitGoldens().back());
  EncodeResult r = Encode(ramp, fallback);
  size_t hb = 0;
  EXPECT_EQ(test::HeaderOf(r.stream, &hb).order, codec::kOrderDeflate);
  EXPECT_EQ(r.stream.at(hb), codec::kSixteenBitDeflate);
  EXPECT_EQ(Decode(r.stream), ramp);
  // A ramp in the high bytes, noise in the low: the high bytes deflate, the low are coded.
  Image noisy = ramp;
  uint32_t x = 7;
  for (size_t i = 0; i < noisy.SubpixelCount(); ++i)
    noisy.pixels[2 * i + 1] = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  r = Encode(noisy, fallback);
  EXPECT_EQ(test::HeaderOf(r.stream, &hb).order, codec::kOrderDeflate);
  EXPECT_EQ(r.stream.at(hb), codec::kSixteenBitSplit);
  EXPECT_EQ(Decode(r.stream), noisy);
}

// With the fallbacks on (the default for the default model), and the default model itself.
TEST(SixteenBit, RoundTripsWithFallbacksAndTheDefaultModel) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    const Image image = MakeImage16(12, 10, channels, Low::kNoisy, channels);
    EncodeOptions fallback = test::Order0Options(true);
    fallback.fallback = Fallback::kOn;
    EXPECT_EQ(Decode(Encode(image, fallback).stream), image);
    EXPECT_EQ(Decode(Encode(image).stream), image) << "default model, " << channels << " channels";
  }
}

// 8-bit values scaled by 257 (most 16-bit PngSuite images, and many real files): the low
// bytes cost one mode byte per channel, so the stream is the 8-bit image's plus a few bytes
// (the header differs only in its flag).
TEST(SixteenBit, ScaledEightBitImagesCostAlmostNothingMore) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    const Image sixteen = MakeImage16(20, 15, channels, Low::kTimes257, 3);
    const Image eight = test::MakeImage(20, 15, channels, 3);
    const size_t s16 = Encode(sixteen, test::Order0Options(true)).stream.size();
    const size_t s8 = Encode(eight, test::Order0Options(true)).stream.size();
    // Exactly: the layout byte, the high-byte payload's length (2 LEB128 bytes for 128 to
    // 16383 bytes) and one mode byte per channel.
    ASSERT_GE(s8, 128u + 80u);
    EXPECT_EQ(s16, s8 + 1 + 2 + channels) << channels << " channels";
  }
}

// The low-byte section alone: a mode per channel and nothing else for the special cases;
// the shift mode codes only the nonzero bits (so costs less than the noisy bytes).
TEST(SixteenBit, LowByteSectionModes) {
  const Image x257 = MakeImage16(9, 8, 4, Low::kTimes257);
  EXPECT_EQ(codec::EncodeLowBytes(x257), (std::vector<uint8_t>{1, 1, 1, 1}));
  const Image constant = MakeImage16(9, 8, 3, Low::kConstant);
  EXPECT_EQ(codec::EncodeLowBytes(constant), (std::vector<uint8_t>{2, 0x5a, 2, 0x5a, 2, 0x5a}));
  const Image shifted = MakeImage16(40, 30, 1, Low::kShift4);
  const std::vector<uint8_t> low = codec::EncodeLowBytes(shifted);
  ASSERT_GE(low.size(), 2u);
  EXPECT_EQ(low[0], 0);
  EXPECT_EQ(low[1], 4) << "shift: the low 4 bits are zero";
  EXPECT_LT(low.size(), 40u * 30 * 4 / 8 + 16) << "at most 4 bits a sample";
  for (const Image* image : {&x257, &constant, &shifted}) {
    const std::vector<uint8_t> section = codec::EncodeLowBytes(*image);
    EXPECT_EQ(codec::DecodeLowBytes(codec::HighBytes(*image), section.data(), section.size()), *image);
  }
  // A smooth 16-bit ramp's low bytes are predictable: far under 8 bits a sample.
  Image ramp = MakeImage16(64, 16, 1, Low::kNoisy);
  for (uint32_t y = 0; y < 16; ++y)
    for (uint32_t x = 0; x < 64; ++x) ramp.set_sample(y, x, 0, static_cast<uint16_t>(x * 517 + y * 301));
  EXPECT_LT(codec::EncodeLowBytes(ramp).size(), 64u * 16 / 8);
}

TEST(SixteenBit, TheStreamDoesNotDependOnTheThreadCount) {
  const Image image = MakeImage16(23, 11, 3, Low::kNoisy, 5);
  EncodeOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const std::vector<uint8_t> a = Encode(image, one).stream, b = Encode(image, two).stream;
  EXPECT_EQ(a, b);
  DecodeOptions d1, d2;
  d1.threads = 1;
  d2.threads = 2;
  EXPECT_EQ(Decode(a, d1), image);
  EXPECT_EQ(Decode(a, d2), image);
}

TEST(SixteenBit, InvalidImagesAreRefused) {
  Image image = MakeImage16(4, 3, 3, Low::kNoisy);
  image.bit_depth = 12;
  EXPECT_EQ(CodeOf([&] { Encode(image); }), ErrorCode::kInvalidArgument);
  image.bit_depth = 16;
  image.pixels.resize(image.SubpixelCount());  // an 8-bit buffer
  EXPECT_EQ(CodeOf([&] { Encode(image); }), ErrorCode::kInvalidArgument);
}

// Damage anywhere in a 16-bit payload (the length, the high bytes, the low-byte section) is
// reported as an error, never as different pixels.
TEST(SixteenBit, DamageIsReported) {
  const Image image = MakeImage16(16, 12, 3, Low::kNoisy);
  const std::vector<uint8_t> stream = Encode(image, test::Order0Options(true)).stream;
  size_t hb = 0;
  const codec::Header h = test::HeaderOf(stream, &hb);
  ASSERT_EQ(h.bits_per_sample, 16);
  for (size_t at = hb; at < stream.size(); ++at) {
    std::vector<uint8_t> damaged = stream;
    damaged[at] ^= 0x21;
    try {
      EXPECT_FALSE(Decode(damaged) == image);
      ADD_FAILURE() << "byte " << at << " damaged decoded without an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorruptInput) << "byte " << at << ": " << e.what();
    }
  }
  // A high-byte length past the end of the payload; an unknown layout byte; the deflate
  // layout in a stream whose order is not 3.
  std::vector<uint8_t> damaged = stream;
  ASSERT_EQ(damaged[hb], 0);
  damaged[hb + 1] = 0xff;
  damaged[hb + 2] = 0x7f;
  EXPECT_EQ(CodeOf([&] { Decode(damaged); }), ErrorCode::kCorruptInput);
  for (uint8_t layout : {2, 1}) {
    damaged = stream;
    damaged[hb] = layout;
    EXPECT_EQ(CodeOf([&] { Decode(damaged); }), ErrorCode::kCorruptInput) << int(layout);
  }
  // The same header read as 8-bit: the payload does not decode as an 8-bit image.
  codec::Header eight = h;
  eight.bits_per_sample = 8;
  EXPECT_EQ(CodeOf([&] { Decode(test::WithHeader(stream, eight)); }), ErrorCode::kCorruptInput);
}

// The memory rule for 16-bit streams: a header claiming 16384 x 16384 x 4 at 16 bits with a
// random payload costs memory only for what decodes (docs/format.md step 11).
TEST(SixteenBit, AHugeClaimedImageCostsMemoryOnlyForWhatDecodes) {
  std::vector<uint8_t> stream = Encode(MakeImage16(4, 4, 4, Low::kNoisy), test::Order0Options()).stream;
  size_t hb = 0;
  codec::Header h = test::HeaderOf(stream, &hb);
  ASSERT_EQ(h.bits_per_sample, 16);
  h.width = h.height = 16384;
  const uint64_t subpixels = uint64_t{h.width} * h.height * h.channels;
  std::vector<uint8_t> random(subpixels / 1424);
  uint32_t x = 12345;
  for (uint8_t& b : random) b = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  const std::vector<uint8_t> low = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3};
  const std::vector<uint8_t> payload = codec::SixteenBitPayload(random.data(), random.size(), low);
  h.payload_bytes = payload.size();
  stream = codec::WriteHeader(h);
  stream.insert(stream.end(), payload.begin(), payload.end());
  test::ExpectCorruptWithin200MiB(stream, "random");
}

// The decoder's memory limit counts the 16-bit image: twice the bytes of an 8-bit one.
TEST(SixteenBit, TheMemoryLimitCountsTheSixteenBitImage) {
  const Image image = MakeImage16(40, 30, 3, Low::kNoisy);
  const std::vector<uint8_t> stream = Encode(image, test::Order0Options()).stream;
  DecodeOptions dopt;
  dopt.limits.max_memory_bytes = 40 * 30 * 3 * 3 - 1;  // the high bytes and the 16-bit image
  EXPECT_EQ(CodeOf([&] { Decode(stream, dopt); }), ErrorCode::kLimitExceeded);
  dopt.limits.max_memory_bytes += 1;
  EXPECT_EQ(Decode(stream, dopt), image);
}

}  // namespace
}  // namespace pixelzip
