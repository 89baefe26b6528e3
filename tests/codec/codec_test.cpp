// Round trips, stream info, model bits, error codes and limits of the public codec API.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "decode_memory.h"
#include "models/order0_model.h"
#include "models/registry.h"
#include "pixelzip/codec.h"
#include "test_support.h"

namespace pixelzip {
namespace {

using test::MakeImage;

ErrorCode CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no pixelzip::Error thrown";
  return ErrorCode::kInternal;
}

std::string MessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct Size {
  uint32_t width, height;
};

class RoundTrip : public ::testing::TestWithParam<std::tuple<uint32_t, Size>> {};

TEST_P(RoundTrip, DecodesToTheSamePixels) {
  const auto [channels, size] = GetParam();
  for (uint32_t seed : {1u, 2u}) {
    const Image image = MakeImage(size.width, size.height, channels, seed);
    const EncodeResult encoded = Encode(image, test::Order0Options());
    EXPECT_EQ(Decode(encoded.stream), image);
  }
}

INSTANTIATE_TEST_SUITE_P(Order0, RoundTrip,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u, 4u),
                                            ::testing::Values(Size{1, 1}, Size{1, 29}, Size{29, 1}, Size{17, 13},
                                                              Size{64, 3})),
                         [](const auto& info) {
                           const Size s = std::get<1>(info.param);
                           return "c" + std::to_string(std::get<0>(info.param)) + "_" + std::to_string(s.width) +
                                  "x" + std::to_string(s.height);
                         });

TEST(Codec, RoundTripsExtremeValues) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (int fill : {0, 255}) {
      Image image = MakeImage(23, 19, channels);
      std::fill(image.pixels.begin(), image.pixels.end(), static_cast<uint8_t>(fill));
      EXPECT_EQ(Decode(Encode(image, test::Order0Options()).stream), image) << channels << " channels, fill " << fill;
    }
    Image noise = MakeImage(31, 7, channels);
    uint32_t s = 99;
    for (uint8_t& v : noise.pixels) v = static_cast<uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
    EXPECT_EQ(Decode(Encode(noise, test::Order0Options()).stream), noise) << channels << " channels, noise";
  }
}

TEST(Codec, ReadStreamInfoReportsTheHeader) {
  const Image image = MakeImage(17, 13, 4);
  const EncodeResult encoded = Encode(image, test::Order0Options());
  const StreamInfo info = ReadStreamInfo(encoded.stream.data(), encoded.stream.size());
  EXPECT_EQ(info.version_major, 4u);
  EXPECT_EQ(info.version_minor, 0u);
  EXPECT_EQ(info.architecture, "order0-adaptive");
  EXPECT_EQ(info.weights_sha256, models::Order0Model().Identity().weights_sha256);
  EXPECT_EQ(info.order, Order::kRaster);
  EXPECT_EQ(info.width, 17u);
  EXPECT_EQ(info.height, 13u);
  EXPECT_EQ(info.channels, 4u);
  EXPECT_EQ(info.header_bytes + info.payload_bytes, encoded.stream.size());
  // The compact header (docs/format.md section 2.2): magic and version 8, order, channels and
  // bits 3, width and height one varint byte each, the name with its length byte, the hash 32,
  // an empty stage record 1, the payload length 2 (128 to 16383 bytes), pixel CRC 4, an empty
  // extension 1, header CRC 4.
  ASSERT_GE(info.payload_bytes, 128u);
  ASSERT_LT(info.payload_bytes, 16384u);
  EXPECT_EQ(info.header_bytes, 8u + 3 + 2 + 1 + info.architecture.size() + 32 + 1 + 2 + 4 + 1 + 4);
  EXPECT_EQ(info.pixel_checksum, codec::Crc32(image.pixels.data(), image.pixels.size()));
  // The header alone is enough.
  EXPECT_EQ(ReadStreamInfo(encoded.stream.data(), info.header_bytes).width, 17u);
}

TEST(Codec, PayloadMatchesModelBits) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    const Image image = MakeImage(96, 64, channels);
    const EncodeResult encoded = Encode(image, test::Order0Options());
    const StreamInfo info = ReadStreamInfo(encoded.stream.data(), encoded.stream.size());
    const double payload_bits = 8.0 * static_cast<double>(info.payload_bytes);
    EXPECT_GT(encoded.model_bits, 0);
    EXPECT_LE(std::abs(payload_bits - encoded.model_bits), 0.001 * encoded.model_bits + 8 * 8)
        << channels << " channels: payload " << payload_bits << " bits, model " << encoded.model_bits << " bits";
  }
}

TEST(Codec, EncodingIsDeterministic) {
  const Image image = MakeImage(40, 30, 3);
  EXPECT_EQ(Encode(image, test::Order0Options()).stream, Encode(image, test::Order0Options()).stream);
}

TEST(Codec, ProgressIsForwardedAndEndsAtOne) {
  for (uint32_t channels : {3u, 4u}) {
    const Image image = MakeImage(20, 10, channels);
    std::vector<double> seen;
    EncodeOptions eo = test::Order0Options();
    eo.progress = [&seen](double f) { seen.push_back(f); };
    const EncodeResult encoded = Encode(image, eo);
    ASSERT_GE(seen.size(), 10u);
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]);
    EXPECT_GE(seen.front(), 0.0);
    EXPECT_DOUBLE_EQ(seen.back(), 1.0);

    seen.clear();
    DecodeOptions dopt;
    dopt.progress = [&seen](double f) { seen.push_back(f); };
    EXPECT_EQ(Decode(encoded.stream, dopt), image);
    ASSERT_GE(seen.size(), 10u);
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]);
    EXPECT_DOUBLE_EQ(seen.back(), 1.0);
  }
}

TEST(Codec, RejectsInvalidImages) {
  Image image = MakeImage(4, 4, 3);
  image.pixels.pop_back();
  EXPECT_EQ(CodeOf([&] { Encode(image); }), ErrorCode::kInvalidArgument);
  image = MakeImage(4, 4, 3);
  image.channels = 5;
  EXPECT_EQ(CodeOf([&] { Encode(image); }), ErrorCode::kInvalidArgument);
  image.channels = 0;
  EXPECT_EQ(CodeOf([&] { Encode(image); }), ErrorCode::kInvalidArgument);
  Image empty;
  empty.channels = 3;
  EXPECT_EQ(CodeOf([&] { Encode(empty); }), ErrorCode::kInvalidArgument);
}

TEST(Codec, UnknownModelNameIsInvalidArgumentAndListsShippedModels) {
  EncodeOptions eo;
  eo.model = "no-such-model";
  const Image image = MakeImage(3, 3, 3);
  EXPECT_EQ(CodeOf([&] { Encode(image, eo); }), ErrorCode::kInvalidArgument);
  EXPECT_NE(MessageOf([&] { Encode(image, eo); }).find("order0-adaptive"), std::string::npos);
}

TEST(Codec, MultiscaleOrderNeedsAMultiscaleModel) {
  EncodeOptions eo;  // the default model
  eo.order = Order::kMultiscale;
  // No grey multiscale model ships (the colour one is exercised by the CLI round trip).
  EXPECT_EQ(CodeOf([&] { Encode(MakeImage(8, 8, 1), eo); }), ErrorCode::kUnsupported);
  eo.model = "order0-adaptive";  // codes raster order only
  EXPECT_EQ(CodeOf([&] { Encode(MakeImage(8, 8, 3), eo); }), ErrorCode::kUnsupported);
}

TEST(Codec, DecodesWithTheModelFoundByHashOrNamed) {
  const Image image = MakeImage(12, 9, 3);
  const EncodeResult encoded = Encode(image, test::Order0Options());
  for (const char* name : {"", "order0-adaptive"}) {
    DecodeOptions dopt;
    dopt.model = name;
    EXPECT_EQ(Decode(encoded.stream, dopt), image) << "model '" << name << "'";
  }
}

TEST(Codec, DefaultModelRoundTrips) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    const Image image = MakeImage(7, 5, channels);
    // With the fallbacks the tiny image may be coded without the model; it still decodes.
    EXPECT_EQ(Decode(Encode(image).stream), image);
    EncodeOptions model_only;
    model_only.fallback = Fallback::kOff;
    const EncodeResult encoded = Encode(image, model_only);  // whatever model is the default
    const StreamInfo info = ReadStreamInfo(encoded.stream.data(), encoded.stream.size());
    EXPECT_EQ(info.architecture,
              models::OpenModel(models::DefaultModelName(Order::kRaster, channels >= 3 ? 3 : 1), Device::kCpu)
                  ->Identity()
                  .architecture);
    EXPECT_EQ(Decode(encoded.stream), image);
    DecodeOptions dopt;
    dopt.model = "default";
    EXPECT_EQ(Decode(encoded.stream, dopt), image);
  }
}

// A second order0 model with other parameters: same architecture, other weights hash.
const std::string& VariantName() {
  static const std::string name = [] {
    const models::AdaptiveFrequencies::Params params{16, 1u << 15};
    models::ShippedModelEntry entry;
    entry.name = "order0-test-variant";
    entry.identity = models::Order0Model(params).Identity();
    entry.colour_channels = {1, 3};
    entry.factory = [params](Device) { return std::make_shared<const models::Order0Model>(params); };
    models::RegisterShippedModel(entry);
    return entry.name;
  }();
  return name;
}

TEST(Codec, DecodingWithAnotherModelIsAModelMismatchNamingBoth) {
  const Image image = MakeImage(12, 9, 3);
  EncodeOptions eo;
  eo.model = VariantName();
  const EncodeResult encoded = Encode(image, eo);
  EXPECT_EQ(Decode(encoded.stream), image);  // found by its hash

  DecodeOptions dopt;
  dopt.model = "order0-adaptive";
  EXPECT_EQ(CodeOf([&] { Decode(encoded.stream, dopt); }), ErrorCode::kModelMismatch);
  const std::string message = MessageOf([&] { Decode(encoded.stream, dopt); });
  const std::string variant_hash = models::HexDigest(models::Order0Model({16, 1u << 15}).Identity().weights_sha256);
  const std::string default_hash = models::HexDigest(models::Order0Model().Identity().weights_sha256);
  EXPECT_NE(message.find(variant_hash), std::string::npos) << message;
  EXPECT_NE(message.find(default_hash), std::string::npos) << message;
}

TEST(Codec, LimitsAreCheckedBeforeDecoding) {
  const Image image = MakeImage(40, 30, 4);
  const std::vector<uint8_t> stream = Encode(image, test::Order0Options()).stream;
  DecodeOptions dopt;
  dopt.limits.max_width = 39;
  EXPECT_EQ(CodeOf([&] { Decode(stream, dopt); }), ErrorCode::kLimitExceeded);
  dopt.limits = Limits{};
  dopt.limits.max_height = 29;
  EXPECT_EQ(CodeOf([&] { Decode(stream, dopt); }), ErrorCode::kLimitExceeded);
  dopt.limits = Limits{};
  dopt.limits.max_pixels = 40 * 30 - 1;
  EXPECT_EQ(CodeOf([&] { Decode(stream, dopt); }), ErrorCode::kLimitExceeded);
  EXPECT_EQ(CodeOf([&] { ReadStreamInfo(stream.data(), stream.size(), dopt.limits); }), ErrorCode::kLimitExceeded);
  dopt.limits = Limits{};
  dopt.limits.max_memory_bytes = 40 * 30 * (4 + 3) - 1;  // the image and its colour plane
  EXPECT_EQ(CodeOf([&] { Decode(stream, dopt); }), ErrorCode::kLimitExceeded);
  dopt.limits.max_memory_bytes += 1;
  EXPECT_EQ(Decode(stream, dopt), image);
}

// A 754 KB stream whose header claims 16384 x 16384 x 4 and whose random payload passes
// the plausibility check: the decoder must report corruption having committed memory only
// for what it decoded, not the 1.75 GiB the header claims (measured in a child process).
void ExpectHugeClaimCostsMemoryOnlyForWhatDecodes(const EncodeOptions& options) {
  std::vector<uint8_t> stream = Encode(MakeImage(4, 4, 4), options).stream;
  size_t hb = 0;
  codec::Header h = test::HeaderOf(stream, &hb);
  h.width = h.height = 16384;
  const uint64_t subpixels = uint64_t{h.width} * h.height * h.channels;
  std::vector<uint8_t> payload(subpixels / 1424);
  uint32_t x = 12345;
  for (uint8_t& b : payload) b = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  h.payload_bytes = payload.size();
  stream = codec::WriteHeader(h);
  stream.insert(stream.end(), payload.begin(), payload.end());
  test::ExpectCorruptWithin200MiB(stream, "random");
}

TEST(Codec, AHugeClaimedImageCostsMemoryOnlyForWhatDecodes) {
  ExpectHugeClaimCostsMemoryOnlyForWhatDecodes(test::Order0Options());
}

// The same through the default raster model's wavefront decoder and its padded plane.
TEST(Codec, AHugeClaimedWavefrontImageCostsMemoryOnlyForWhatDecodes) {
  if (!test::Ships("local-pixelcnn-rgb"))
    GTEST_SKIP() << "this build does not ship local-pixelcnn-rgb (no neural models)";
  EncodeOptions options;
  options.model = "local-pixelcnn-rgb";
  options.layout = Layout::kWavefront;
  options.adaptive = false;
  ExpectHugeClaimCostsMemoryOnlyForWhatDecodes(options);
}

// The same through the multiscale model, whose decoder fills its plane of q values coarse
// levels first: a plane committed up front would be 1.5 GiB here.
TEST(Codec, AHugeClaimedMultiscaleImageCostsMemoryOnlyForWhatDecodes) {
  if (!test::Ships("multiscale-pixelcnn-rgb"))
    GTEST_SKIP() << "this build does not ship multiscale-pixelcnn-rgb (no neural models)";
  EncodeOptions options;
  options.model = "multiscale-pixelcnn-rgb";
  options.order = Order::kMultiscale;
  options.adaptive = false;
  ExpectHugeClaimCostsMemoryOnlyForWhatDecodes(options);
}

// A damaged major version (the header CRC matches version 1) is corruption; a real newer
// version is unsupported.
TEST(Codec, ADamagedVersionFieldIsCorruptionNotANewerFormat) {
  const std::vector<uint8_t> valid = Encode(MakeImage(6, 5, 3), test::Order0Options()).stream;
  for (int bit = 0; bit < 16; ++bit) {
    std::vector<uint8_t> s = valid;
    s[4 + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    if (s[4] == 0 && s[5] == 0) continue;  // major 0: corrupt anyway
    EXPECT_EQ(CodeOf([&] { Decode(s); }), ErrorCode::kCorruptInput) << "bit " << bit;
    EXPECT_NE(MessageOf([&] { Decode(s); }).find("damaged"), std::string::npos) << "bit " << bit;
  }
  size_t hb = 0;
  codec::Header h = test::HeaderOf(valid, &hb);
  h.version_major = codec::kVersionMajor + 1;
  EXPECT_EQ(CodeOf([&] { Decode(test::WithHeader(valid, h)); }), ErrorCode::kUnsupported);
  // A newer layout whose bytes hold no matching CRC at all: unsupported as well.
  std::vector<uint8_t> s = test::WithHeader(valid, h);
  s[hb - 1] ^= 0xff;
  EXPECT_EQ(CodeOf([&] { Decode(s); }), ErrorCode::kUnsupported);
}

TEST(Metadata, ItemsRoundTripThroughTheHeaderAndUnknownTagsAreSkipped) {
  const Image image = MakeImage(7, 5, 3);
  EncodeOptions options = test::Order0Options();
  const std::vector<uint8_t> plain = Encode(image, options).stream;
  options.metadata = test::MetadataGolden();
  const EncodeResult with = Encode(image, options);
  EXPECT_TRUE(with.metadata_not_kept.empty());
  const StreamInfo info = ReadStreamInfo(with.stream.data(), with.stream.size());
  EXPECT_EQ(info.version_minor, 1u);
  EXPECT_EQ(info.metadata, test::MetadataGolden());
  EXPECT_EQ(Decode(with.stream), image);
  EXPECT_EQ(ReadStreamInfo(plain.data(), plain.size()).version_minor, 0u);

  size_t hb = 0;
  codec::Header h = test::HeaderOf(plain, &hb);
  h.version_minor = 3;
  h.extension = {9, 2, 0, 'x', 'y', 2, 3, 0, 'a', 'b', 'c'};
  const std::vector<uint8_t> later = test::WithHeader(plain, h);
  const StreamInfo later_info = ReadStreamInfo(later.data(), later.size());
  EXPECT_FALSE(later_info.metadata_unreadable);
  ASSERT_EQ(later_info.metadata.size(), 1u);
  EXPECT_EQ(later_info.metadata[0].kind, MetadataItem::Kind::kPnmComment);
  EXPECT_EQ(later_info.metadata[0].data, (std::vector<uint8_t>{'a', 'b', 'c'}));
  EXPECT_EQ(Decode(later), image);
}

TEST(Metadata, WhatDoesNotFitTheExtensionAreaIsNamed) {
  const Image image = MakeImage(3, 3, 1);
  EncodeOptions options = test::Order0Options();
  MetadataItem big;
  big.png_type = "iCCP";
  big.data.assign(40000, 7);
  options.metadata = {big, big};
  options.metadata[1].png_type = "eXIf";
  const EncodeResult r = Encode(image, options);
  ASSERT_EQ(r.metadata_not_kept.size(), 1u);
  EXPECT_EQ(r.metadata_not_kept[0].rfind("eXIf chunk (40000 bytes)", 0), 0u) << r.metadata_not_kept[0];
  const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
  ASSERT_EQ(info.metadata.size(), 1u);
  EXPECT_EQ(info.metadata[0], big);
  EXPECT_EQ(Decode(r.stream), image);
}

TEST(Codec, EveryTruncationIsTruncatedInput) {
  const std::vector<uint8_t> stream = Encode(MakeImage(9, 7, 4), test::Order0Options()).stream;
  for (size_t n = 0; n < stream.size(); ++n) {
    // A copy of exactly n bytes, so that reading past it is caught by sanitizers.
    const std::vector<uint8_t> cut(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(CodeOf([&] { Decode(cut.data(), cut.size()); }), ErrorCode::kTruncatedInput) << "cut at " << n;
  }
}

TEST(Codec, EverySingleByteCorruptionIsAnError) {
  const Image image = MakeImage(9, 7, 4);
  const std::vector<uint8_t> stream = Encode(image, test::Order0Options()).stream;
  for (size_t i = 0; i < stream.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> bad = stream;
      bad[i] ^= flip;
      const ErrorCode code = CodeOf([&] { Decode(bad); });
      EXPECT_TRUE(code == ErrorCode::kCorruptInput || code == ErrorCode::kTruncatedInput ||
                  code == ErrorCode::kUnsupported || code == ErrorCode::kLimitExceeded ||
                  code == ErrorCode::kModelMismatch)
          << "byte " << i << " ^ " << int(flip) << ": " << ErrorCodeName(code);
    }
  }
}

TEST(Codec, NullOrEmptyInputIsTruncated) {
  EXPECT_EQ(CodeOf([] { Decode(nullptr, 0); }), ErrorCode::kTruncatedInput);
  EXPECT_EQ(CodeOf([] { ReadStreamInfo(nullptr, 0); }), ErrorCode::kTruncatedInput);
}

TEST(Codec, ShippedModelNamesListsOrder0) {
  const std::vector<std::string> names = ShippedModelNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "order0-adaptive"), names.end());
}

}  // namespace
}  // namespace pixelzip
