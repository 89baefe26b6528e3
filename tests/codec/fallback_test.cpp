// The fallback codings (docs/format.md section 3.3, format 3.0) and the encoder's choice
// of the smallest coding ("never grows"). The reference paths are the pixels themselves:
// every coding must give back exactly the image it was given.
#include <gtest/gtest.h>

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "codec/container.h"
#include "codec/fallback.h"
#include "decode_memory.h"
#include "models/identity.h"
#include "pixelzip/codec.h"
#include "test_support.h"

namespace pixelzip {
namespace {

Image Ramp(uint32_t width, uint32_t height, uint32_t channels) { return test::MakeRamp(width, height, channels); }
Image FewColours(uint32_t width, uint32_t height, uint32_t channels, uint32_t colours, uint32_t seed) {
  return test::MakeFewColours(width, height, channels, colours, seed);
}

EncodeOptions FallbackOn(bool adaptive = true) {
  EncodeOptions options = test::Order0Options(adaptive);
  options.fallback = Fallback::kOn;
  return options;
}

// The identities docs/format.md section 3.3 lists (the SHA-256 of each specification text).
TEST(Fallback, IdentitiesAreTheDocumentedOnes) {
  EXPECT_EQ(codec::DeflateArchitecture(), "deflate");
  EXPECT_EQ(models::HexDigest(codec::DeflateHash()), "bc0bea4bd2cfb5344002d2c55610e625548d312b8879dc4f120fec5c7d2e3a94");
  EXPECT_EQ(codec::PaletteArchitecture(), "palette");
  EXPECT_EQ(models::HexDigest(codec::PaletteHash()), "97b4e158e83886a46492b3ce485cda75f507412d568692d11bb96bb52b3df015");
}

TEST(Fallback, DeflateRoundTripsEveryChannelCountAndSize) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (auto [w, h] : {std::pair<uint32_t, uint32_t>{1, 1}, {1, 9}, {13, 1}, {16, 12}, {67, 33}}) {
      SCOPED_TRACE(std::to_string(channels) + " channels " + std::to_string(w) + "x" + std::to_string(h));
      for (const Image& image : {test::MakeImage(w, h, channels, 7), Ramp(w, h, channels)}) {
        const std::vector<uint8_t> payload = codec::EncodeDeflate(image);
        std::vector<uint8_t> out(image.SubpixelCount(), 0);
        codec::DecodeDeflate(payload.data(), payload.size(), w, h, channels, out.data());
        EXPECT_EQ(out, image.pixels);
      }
    }
  }
}

TEST(Fallback, DeflateRefusesDamagedPayloads) {
  const Image image = test::MakeImage(16, 12, 3, 9);
  const std::vector<uint8_t> payload = codec::EncodeDeflate(image);
  std::vector<uint8_t> out(image.SubpixelCount());
  auto decode = [&](const std::vector<uint8_t>& p, uint32_t height) {
    codec::DecodeDeflate(p.data(), p.size(), 16, height, 3, out.data());
  };
  try {
    decode(payload, 13);  // one row more than the payload holds
    ADD_FAILURE() << "a short payload decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput);
  }
  try {
    decode(payload, 11);  // one row less
    ADD_FAILURE() << "a long payload decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput);
  }
  std::vector<uint8_t> trailing = payload;
  trailing.push_back(0);
  try {
    decode(trailing, 12);
    ADD_FAILURE() << "a payload with a byte after the zlib stream decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput);
  }
}

TEST(Fallback, FindPaletteCountsDistinctPixelsUpTo256) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (uint32_t colours : {1u, 2u, 5u, 16u, 255u, 256u}) {
      SCOPED_TRACE(std::to_string(channels) + " channels, " + std::to_string(colours) + " colours");
      if (channels == 1 && colours > 256) continue;
      const Image image = FewColours(40, 30, channels, colours, colours);
      const auto palette = codec::FindPalette(image);
      ASSERT_TRUE(palette.has_value());
      EXPECT_EQ(palette->size(), colours * channels);
      // Palette order: ascending channel sum.
      for (size_t j = 1; j < colours; ++j) {
        uint32_t a = 0, b = 0;
        for (uint32_t c = 0; c < channels; ++c) a += (*palette)[(j - 1) * channels + c], b += (*palette)[j * channels + c];
        EXPECT_LE(a, b);
      }
    }
  }
  Image many = FewColours(40, 30, 3, 256, 3);
  many.pixels[many.pixels.size() - 1] ^= 0x80;  // a 257th colour
  EXPECT_FALSE(codec::FindPalette(many).has_value());
}

TEST(Fallback, PaletteRoundTripsEveryChannelCount) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (uint32_t colours : {1u, 2u, 7u, 200u}) {
      SCOPED_TRACE(std::to_string(channels) + " channels, " + std::to_string(colours) + " colours");
      const Image image = FewColours(23, 17, channels, colours, 11 + colours);
      const auto palette = codec::FindPalette(image);
      ASSERT_TRUE(palette.has_value());
      const adaptive::StageParams params = codec::PaletteStageParams();
      const std::vector<uint8_t> payload = codec::EncodePalette(image, *palette, params);
      std::vector<uint8_t> out(image.SubpixelCount(), 0);
      codec::DecodePalette(payload.data(), payload.size(), params, 23, 17, channels, out.data());
      EXPECT_EQ(out, image.pixels);
    }
  }
}

// Through the public API: the encoder picks the smallest coding, the header says which, and
// the stream decodes to the image.
TEST(Fallback, EncoderKeepsTheSmallestCodingAndTheStreamDecodes) {
  struct Case {
    Image image;
    Coding expected;
  };
  const std::vector<Case> cases = {
      {Ramp(300, 40, 3), Coding::kDeflate},   // deflate: every row after the first filters to zeros
      {Ramp(300, 40, 4), Coding::kDeflate},  // (over 256 colours: no palette)
      {FewColours(64, 48, 3, 6, 5), Coding::kPalette},
      {FewColours(64, 48, 4, 12, 6), Coding::kPalette},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.image.channels) + " channels, expected coding " +
                 std::to_string(static_cast<int>(c.expected)));
    const EncodeResult model = Encode(c.image, test::Order0Options(true));
    const EncodeResult best = Encode(c.image, FallbackOn());
    EXPECT_EQ(model.coding, Coding::kModel);
    EXPECT_EQ(best.coding, c.expected);
    EXPECT_LT(best.stream.size(), model.stream.size());
    const StreamInfo info = ReadStreamInfo(best.stream.data(), best.stream.size());
    EXPECT_EQ(info.coding, c.expected);
    EXPECT_EQ(info.version_major, 4u);
    EXPECT_EQ(info.architecture, best.architecture);
    EXPECT_EQ(Decode(best.stream), c.image);
    // A caller naming a model gets that model's coding unless it asks for the fallbacks.
    EncodeOptions named = test::Order0Options(true);
    named.fallback = Fallback::kAuto;
    EXPECT_EQ(Encode(c.image, named).stream, model.stream);
    // Deterministic.
    EXPECT_EQ(Encode(c.image, FallbackOn()).stream, best.stream);
  }
}

TEST(Fallback, ModelCodingIsKeptWhenItIsSmallest) {
  // I.i.d. subpixels, 0 with probability about 0.9, else anything: over 256 colours, and an
  // adaptive arithmetic coder spends well under 1 bit where deflate's Huffman codes cannot.
  Image image;
  image.width = image.height = 64;
  image.channels = 3;
  image.pixels.resize(image.SubpixelCount());
  uint32_t state = 5;
  for (uint8_t& v : image.pixels) {
    state = state * 1103515245u + 12345u;
    v = (state >> 16) % 10 == 0 ? static_cast<uint8_t>(state >> 24) : 0;
  }
  const EncodeResult model = Encode(image, test::Order0Options(true));
  const EncodeResult best = Encode(image, FallbackOn());
  EXPECT_EQ(best.coding, Coding::kModel);
  EXPECT_EQ(best.stream, model.stream);
  EXPECT_EQ(Decode(best.stream), image);
}

TEST(Fallback, NeverLargerThanTheDeflatedRows) {
  // The rule: the stream is never larger than the deflate coding, whatever the image.
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (const Image& image : {test::MakeImage(31, 17, channels, 2), Ramp(31, 17, channels),
                               FewColours(31, 17, channels, 3, 4)}) {
      const std::vector<uint8_t> deflate = codec::EncodeDeflate(image);
      const EncodeResult best = Encode(image, FallbackOn());
      size_t header_bytes = 0;
      test::HeaderOf(best.stream, &header_bytes);
      codec::Header h;
      h.architecture = codec::DeflateArchitecture();
      h.weights_sha256 = codec::DeflateHash();
      h.order = codec::kOrderDeflate;
      h.channels = static_cast<uint8_t>(channels);
      h.width = image.width;
      h.height = image.height;
      h.payload_bytes = deflate.size();
      EXPECT_LE(best.stream.size(), codec::WriteHeader(h).size() + deflate.size());
      EXPECT_EQ(Decode(best.stream), image);
    }
  }
}

// Every single-bit change of a fallback stream's payload is caught (a coder error, a bad
// filter type, zlib's Adler-32, or the pixel checksum), except in the padding bits after
// deflate's final block, which zlib ignores: those decode to exactly the original pixels.
TEST(Fallback, DamagedFallbackPayloadsAreCorrupt) {
  for (const Image& image : {Ramp(300, 10, 3), FewColours(20, 12, 4, 5, 8)}) {
    const EncodeResult r = Encode(image, FallbackOn());
    ASSERT_NE(r.coding, Coding::kModel);
    size_t header_bytes = 0;
    test::HeaderOf(r.stream, &header_bytes);
    int harmless = 0;
    for (size_t at = header_bytes; at < r.stream.size(); ++at) {
      for (uint8_t flip : {0x01, 0x80}) {
        std::vector<uint8_t> damaged = r.stream;
        damaged[at] ^= flip;
        try {
          const Image out = Decode(damaged);
          EXPECT_EQ(out, image) << "payload byte " << at << " ^ " << int(flip) << " decoded to other pixels";
          EXPECT_EQ(r.coding, Coding::kDeflate) << "payload byte " << at << " ^ " << int(flip) << " decoded";
          ++harmless;
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kCorruptInput) << "byte " << at << ": " << e.what();
        }
      }
    }
    EXPECT_LE(harmless, 2);  // at most the padding bits of one byte
  }
}

TEST(Fallback, HeaderIdentityMustMatchTheCoding) {
  const EncodeResult r = Encode(Ramp(300, 10, 3), FallbackOn());
  ASSERT_EQ(r.coding, Coding::kDeflate);
  size_t header_bytes = 0;
  codec::Header h = test::HeaderOf(r.stream, &header_bytes);
  h.weights_sha256[0] ^= 1;
  // The compact header (4.x) names no model for a fallback coding: it cannot hold another.
  EXPECT_THROW(codec::WriteHeader(h), Error);
  // A 3.x header does: another hash there is corrupt.
  h.version_major = 3;
  try {
    Decode(test::WithHeader(r.stream, h));
    ADD_FAILURE() << "a deflate stream with another hash decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput);
  }
  // Order 3 in a 2.x stream is an unknown order.
  h = test::HeaderOf(r.stream, &header_bytes);
  h.version_major = 2;
  EXPECT_THROW(codec::WriteHeader(h), Error);
}

// A deflate stream claiming 16384 x 16384 x 4 (1 GiB) whose payload inflates to 64 rows of
// zeros and then is garbage: the decoder must report corruption having committed memory
// only for what it decoded (measured in a child process, as in codec_test.cpp).
TEST(Fallback, AHugeClaimedDeflateImageCostsMemoryOnlyForWhatDecodes) {
  const EncodeResult r = Encode(Ramp(300, 10, 4), FallbackOn());
  ASSERT_EQ(r.coding, Coding::kDeflate);
  size_t header_bytes = 0;
  codec::Header h = test::HeaderOf(r.stream, &header_bytes);
  h.width = h.height = 16384;
  const size_t row = 1 + size_t{h.width} * 4;
  std::vector<uint8_t> rows(64 * row, 0);
  z_stream z{};
  ASSERT_EQ(deflateInit(&z, 9), Z_OK);
  std::vector<uint8_t> payload(deflateBound(&z, rows.size()) + 64);
  z.next_in = rows.data();
  z.avail_in = static_cast<uInt>(rows.size());
  z.next_out = payload.data();
  z.avail_out = static_cast<uInt>(payload.size());
  ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);  // a valid start; the stream never ends
  payload.resize(z.total_out);
  deflateEnd(&z);
  uint32_t x = 12345;
  while (payload.size() < uint64_t{h.width} * h.height / 45500 + 64)
    payload.push_back(static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24));
  h.payload_bytes = payload.size();
  std::vector<uint8_t> stream = codec::WriteHeader(h);
  stream.insert(stream.end(), payload.begin(), payload.end());
  test::ExpectCorruptWithin200MiB(stream, "damaged");
}

}  // namespace
}  // namespace pixelzip
