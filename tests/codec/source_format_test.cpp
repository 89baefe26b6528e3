// EncodeOptions::source (format 4.2, docs/format.md section 2.1, tags 3 and 4): recorded,
// read back (ReadStreamInfo, ReadSourceFormat), checked against the image on both sides.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/container.h"
#include "test_support.h"

namespace pixelzip {
namespace {

// Samples 0..maxval: a gradient with noise, both ends present.
Image MaxvalImage(uint32_t width, uint32_t height, uint32_t channels, uint32_t maxval) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.bit_depth = maxval > 255 ? 16 : 8;
  image.pixels.resize(image.ByteCount());
  uint32_t state = maxval * 2654435761u + channels;
  for (size_t i = 0; i < image.SubpixelCount(); ++i) {
    state = state * 1103515245u + 12345u;
    const size_t pixel = i / channels;
    const uint64_t smooth = (pixel % width + pixel / width) * uint64_t{maxval} / (width + height);
    image.set_sample(i, static_cast<uint16_t>(std::min<uint64_t>(maxval, smooth + (state >> 16) % 3)));
  }
  image.set_sample(0, static_cast<uint16_t>(maxval));
  image.set_sample(1, 0);
  return image;
}

Error Thrown(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "did not throw";
  return Error(ErrorCode::kInternal, "none");
}

TEST(SourceFormatCodec, EveryMaxvalRoundTripsAndIsRecorded) {
  for (const uint32_t maxval : {1u, 3u, 15u, 100u, 255u, 256u, 1000u, 4095u, 65534u, 65535u}) {
    for (const uint32_t channels : {1u, 3u}) {
      SCOPED_TRACE("maxval " + std::to_string(maxval) + ", " + std::to_string(channels) + " channels");
      const Image image = MaxvalImage(13, 7, channels, maxval);
      EncodeOptions options = test::Order0Options(true);
      options.source.maxval = maxval;
      const EncodeResult r = Encode(image, options);
      const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
      const bool full = maxval == 255 || maxval == 65535;
      EXPECT_EQ(info.version_minor, full ? 0u : 2u);
      EXPECT_EQ(info.source.maxval, full ? 0u : maxval);
      const Image decoded = Decode(r.stream);
      EXPECT_EQ(decoded, image);
      EXPECT_EQ(ReadSourceFormat(r.stream.data(), r.stream.size(), decoded).maxval, full ? 0u : maxval);
    }
  }
}

TEST(SourceFormatCodec, SamplesAboveTheMaxvalOrAMalformedRecordAreRefused) {
  const Image image = MaxvalImage(5, 4, 1, 200);
  EncodeOptions options = test::Order0Options();
  options.source.maxval = 199;
  Error e = Thrown([&] { Encode(image, options); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("(200) is above the source's maxval 199"), std::string::npos) << e.what();
  options.source.maxval = 300;  // above 8 bits
  EXPECT_EQ(Thrown([&] { Encode(image, options); }).code(), ErrorCode::kInvalidArgument);
  options.source = SourceFormat{};
  options.source.png_colour_type = 3;  // a palette without entries
  options.source.png_bit_depth = 8;
  EXPECT_EQ(Thrown([&] { Encode(image, options); }).code(), ErrorCode::kInvalidArgument);
  options.source.png_colour_type = 2;  // RGB at 4 bits
  options.source.png_bit_depth = 4;
  EXPECT_EQ(Thrown([&] { Encode(image, options); }).code(), ErrorCode::kInvalidArgument);
  Image sixteen = MaxvalImage(5, 4, 1, 200);
  sixteen.bit_depth = 16;
  sixteen.pixels.assign(sixteen.ByteCount(), 0);
  options.source = SourceFormat{};
  options.source.maxval = 255;  // an image of maxval 255 is 8-bit
  EXPECT_EQ(Thrown([&] { Encode(sixteen, options); }).code(), ErrorCode::kInvalidArgument);
  options.source = SourceFormat{};
  options.source.png_colour_type = 3;  // palettes are 8-bit
  options.source.png_bit_depth = 8;
  options.source.plte = {1, 2, 3};
  EXPECT_EQ(Thrown([&] { Encode(sixteen, options); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_NO_THROW(Encode(image, options));
}

// The palette record names the image's colours by number and writes the others out: any
// order, duplicates, unused entries, tRNS shorter than PLTE come back exactly.
TEST(SourceFormatCodec, PaletteRecordsComeBackExactly) {
  Image image = test::MakeImage(10, 6, 4);
  const uint8_t colours[3][4] = {{1, 2, 3, 255}, {4, 5, 6, 0}, {7, 8, 9, 99}};
  for (size_t i = 0; i < 60; ++i)
    for (uint32_t c = 0; c < 4; ++c) image.pixels[4 * i + c] = colours[(i + i / 10) % 3][c];
  std::vector<SourceFormat> records(4);
  for (SourceFormat& s : records) {
    s.png_colour_type = 3;
    s.png_bit_depth = 8;
  }
  records[0].plte = {7, 8, 9, 4, 5, 6, 1, 2, 3};
  records[0].trns = {99, 0};
  records[1].plte = {1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50, 60, 70};  // a duplicate and an unused entry
  records[1].trns = {255, 255, 0, 99, 3};
  records[2].plte = {4, 5, 6, 7, 8, 9, 1, 2, 3, 0, 0, 0};
  records[2].trns = {0, 99};  // entry 3 unused, opaque
  for (int j = 0; j < 256; ++j) {  // the largest palette: the image's colours among 253 others
    const int v = j < 3 ? (j == 0 ? 4 : j == 1 ? 7 : 1) : j;
    records[3].plte.insert(records[3].plte.end(), {uint8_t(v), uint8_t(j < 3 ? v + 1 : 255 - j), uint8_t(j < 3 ? v + 2 : j / 2)});
    records[3].trns.push_back(j == 0 ? 0 : j == 1 ? 99 : j == 2 ? 255 : uint8_t(j));
  }
  for (size_t k = 0; k < records.size(); ++k) {
    SCOPED_TRACE("record " + std::to_string(k));
    EncodeOptions options = test::Order0Options(true);
    options.source = records[k];
    const EncodeResult r = Encode(image, options);
    const Image decoded = Decode(r.stream);
    EXPECT_EQ(decoded, image);
    EXPECT_EQ(ReadSourceFormat(r.stream.data(), r.stream.size(), decoded), records[k]);
    const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
    EXPECT_EQ(info.version_minor, 2u);
    EXPECT_EQ(info.source.png_colour_type, 3);
    // The record's size: entry head 3, body head 5, then the bits.
    const std::vector<uint8_t> plain = Encode(image, test::Order0Options(true)).stream;
    const size_t entries = records[k].plte.size() / 3;
    EXPECT_LE(r.stream.size() - plain.size(), 1 + 3 + 5 + (entries * 9 + 3 * 32 * entries) / 8 + 1);
  }
  // Three entries that are exactly the image's colours cost 3 + 5 + 1 bytes (2 + 2 + 1 bits;
  // E's varint stays one byte).
  EncodeOptions options = test::Order0Options(true);
  options.source = records[0];
  const EncodeResult r = Encode(image, options);
  const std::vector<uint8_t> plain = Encode(image, test::Order0Options(true)).stream;
  EXPECT_EQ(r.stream.size() - plain.size(), 3u + 5u + 1u);
  // ReadSourceFormat wants the stream's own image.
  Image other = image;
  other.channels = 3;
  other.pixels.resize(other.ByteCount());
  EXPECT_EQ(Thrown([&] { ReadSourceFormat(r.stream.data(), r.stream.size(), other); }).code(),
            ErrorCode::kInvalidArgument);
}

TEST(SourceFormatCodec, SourceEntriesComeBeforeMetadataAndAlwaysFit) {
  const Image image = MaxvalImage(6, 5, 3, 100);
  EncodeOptions options = test::Order0Options();
  options.source.maxval = 100;
  MetadataItem big;
  big.kind = MetadataItem::Kind::kPngChunk;
  big.png_type = "zTXt";
  big.data.assign(65535 - 3 - 5, 'x');  // fills the area but for the maxval entry
  options.metadata = {big, big};
  const EncodeResult r = Encode(image, options);
  EXPECT_EQ(r.metadata_not_kept.size(), 2u);  // neither fits beside the maxval entry
  const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
  EXPECT_EQ(info.source.maxval, 100u);
  big.data.resize(65535 - 5 - 3 - 5);
  options.metadata = {big};
  const EncodeResult fits = Encode(image, options);
  EXPECT_TRUE(fits.metadata_not_kept.empty());
  EXPECT_EQ(ReadStreamInfo(fits.stream.data(), fits.stream.size()).metadata.size(), 1u);
}

// Small maxvals are cheap: the fallbacks (palette, the stage alone) see few distinct values.
TEST(SourceFormatCodec, SmallMaxvalsCostLittle) {
  for (const uint32_t maxval : {1u, 3u, 15u}) {
    SCOPED_TRACE("maxval " + std::to_string(maxval));
    const Image image = MaxvalImage(64, 48, 1, maxval);
    EncodeOptions options;  // the default model, with the fallbacks
    options.source.maxval = maxval;
    const EncodeResult r = Encode(image, options);
    EXPECT_EQ(Decode(r.stream), image);
    int bits = 0;
    while ((1u << bits) - 1 < maxval) ++bits;
    // At most the raw sample bits (the image is a noisy gradient) and the header.
    EXPECT_LT(r.stream.size(), image.SubpixelCount() * bits / 8 + 100) << "coded by " << r.architecture;
  }
}

}  // namespace
}  // namespace pixelzip
