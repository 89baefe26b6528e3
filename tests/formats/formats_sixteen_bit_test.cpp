// 16-bit images in the formats layer: PNG (every colour type, tRNS) and PNM/PAM with
// maxval 65535 read and write 16-bit samples, most significant byte first.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "formats/image_io.h"
#include "tests/formats/png_chunks.h"

namespace pixelzip {
namespace {

using png_test::Chunk;

// A 16-bit image whose samples use both bytes fully (values up to 65535).
Image Make16(uint32_t width, uint32_t height, uint32_t channels, uint32_t seed) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.bit_depth = 16;
  image.pixels.resize(image.ByteCount());
  uint32_t state = seed * 2654435761u + 7u;
  for (size_t i = 0; i < image.SubpixelCount(); ++i) {
    state = state * 1103515245u + 12345u;
    image.set_sample(i, static_cast<uint16_t>((i * 997 + (state >> 12)) & 0xffff));
  }
  return image;
}

TEST(SixteenBit, SampleAccessorsAreBigEndian) {
  Image image = Make16(2, 1, 1, 1);
  image.set_sample(0, 0x1234);
  image.set_sample(0, 1, 0, 0xfedc);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0x12, 0x34, 0xfe, 0xdc}));
  EXPECT_EQ(image.sample(0, 0, 0), 0x1234);
  EXPECT_EQ(image.sample(1), 0xfedc);
  EXPECT_EQ(image.ByteCount(), 4u);
}

TEST(SixteenBit, PngRoundTripsEveryChannelCountAndOddSizes) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (auto [w, h] : {std::pair<uint32_t, uint32_t>{1, 1}, {7, 5}, {33, 2}}) {
      const Image image = Make16(w, h, channels, channels * 100 + w);
      const std::vector<uint8_t> png = EncodePng(image, 6);
      EXPECT_EQ(png.at(24), 16) << "IHDR bit depth";
      const Image back = ReadImageBytes(png.data(), png.size(), "t.png");
      EXPECT_EQ(back.bit_depth, 16u);
      EXPECT_EQ(back, image) << channels << " channels, " << w << "x" << h;
      // Asking for a palette PNG changes nothing for 16-bit images.
      const std::vector<uint8_t> again = EncodePng(image, 6, {}, nullptr, true);
      EXPECT_EQ(ReadImageBytes(again.data(), again.size(), "t.png"), image);
    }
  }
}

TEST(SixteenBit, PnmAndPamRoundTripWithMaxval65535) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    const Image image = Make16(5, 3, channels, channels);
    const std::vector<uint8_t> pnm = EncodePnm(image);
    const std::string text(pnm.begin(), pnm.end());
    EXPECT_NE(text.find(channels == 1 || channels == 3 ? "\n65535\n" : "MAXVAL 65535\n"), std::string::npos) << text;
    EXPECT_EQ(ReadImageBytes(pnm.data(), pnm.size(), "t.pnm"), image) << channels;
  }
}

// Hand-made files (not written by libpng or by EncodePnm): the sample values come out as
// stored, most significant byte first.
TEST(SixteenBit, HandMadeFilesReadAsStored) {
  const std::vector<uint8_t> raw = {0x01, 0x02, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x7f};  // 2x2 grey
  const std::vector<uint8_t> png = png_test::PngFromChunks({png_test::Ihdr(2, 2, 16, 0), png_test::Idat(raw, 4), {"IEND", {}}});
  const Image from_png = ReadImageBytes(png.data(), png.size(), "hand.png");
  ASSERT_EQ(from_png.bit_depth, 16u);
  ASSERT_EQ(from_png.channels, 1u);
  EXPECT_EQ(from_png.sample(0), 0x0102);
  EXPECT_EQ(from_png.sample(1), 0xfffe);
  EXPECT_EQ(from_png.sample(2), 0x8000);
  EXPECT_EQ(from_png.sample(3), 0x007f);
  std::string pgm = "P5\n2 2\n65535\n";
  pgm.append(raw.begin(), raw.end());
  const Image from_pgm = ReadImageBytes(reinterpret_cast<const uint8_t*>(pgm.data()), pgm.size(), "hand.pgm");
  EXPECT_EQ(from_pgm, from_png);
}

// tRNS in a 16-bit grey or RGB PNG becomes a 16-bit alpha channel: 0 where the pixel is the
// tRNS value, 65535 elsewhere.
TEST(SixteenBit, TrnsBecomesSixteenBitAlpha) {
  const std::vector<uint8_t> grey = {0x12, 0x34, 0xab, 0xcd};  // 2x1
  const std::vector<uint8_t> png = png_test::PngFromChunks(
      {png_test::Ihdr(2, 1, 16, 0), {"tRNS", {0x12, 0x34}}, png_test::Idat(grey, 4), {"IEND", {}}});
  const Image image = ReadImageBytes(png.data(), png.size(), "trns.png");
  ASSERT_EQ(image.channels, 2u);
  ASSERT_EQ(image.bit_depth, 16u);
  EXPECT_EQ(image.sample(0), 0x1234);
  EXPECT_EQ(image.sample(1), 0);
  EXPECT_EQ(image.sample(2), 0xabcd);
  EXPECT_EQ(image.sample(3), 0xffff);
}

TEST(SixteenBit, BadBitDepthOrBufferIsRefused) {
  Image image = Make16(3, 2, 3, 1);
  image.bit_depth = 12;
  EXPECT_THROW(EncodePng(image), Error);
  image.bit_depth = 16;
  image.pixels.pop_back();
  EXPECT_THROW(EncodePnm(image), Error);
  image.pixels.resize(image.SubpixelCount());  // an 8-bit buffer for a 16-bit image
  EXPECT_THROW(EncodePng(image), Error);
}

}  // namespace
}  // namespace pixelzip
