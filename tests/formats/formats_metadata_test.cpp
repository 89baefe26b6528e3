// Metadata: PNG ancillary chunks and PNM comments are read byte for byte with their
// order and place, written back the same way, and whatever cannot be kept is named.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "formats/image_io.h"
#include "png_chunks.h"
#include "test_util.h"

namespace pixelzip {
namespace {

using png_test::AncillaryWithPlaces;
using png_test::Bytes;
using png_test::Chunk;
using png_test::ChunksOf;

std::vector<uint8_t> Pixels(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  return p;
}

TEST(Metadata, PngChunksRoundTripByteForByteInOrderAndPlace) {
  const uint32_t w = 5, h = 4;
  const std::vector<Chunk> after = {{"tEXt", Bytes(std::string("Comment\0after the image", 23))},
                                    {"tIME", {0x07, 0xea, 12, 7, 14, 30, 0}},
                                    {"zTXt", Bytes(std::string("Note\0\0\x78\x9c\x03\x00\x00\x00\x00\x01", 14))}};
  std::vector<Chunk> before = png_test::TypicalChunksBeforeIdat();
  before.push_back({"prVT", Bytes("private, unsafe to copy")});
  const std::vector<uint8_t> input = png_test::RgbPngWithChunks(w, h, Pixels(w * h * 3), before, after);

  ImageMetadata metadata;
  const Image image = ReadImageBytes(input.data(), input.size(), "in.png", &metadata);
  EXPECT_EQ(image.pixels, Pixels(w * h * 3));
  ASSERT_EQ(metadata.not_kept.size(), 1u);
  EXPECT_EQ(metadata.not_kept[0].rfind("prVT chunk: ", 0), 0u) << metadata.not_kept[0];
  ASSERT_EQ(metadata.items.size(), before.size() - 1 + after.size());
  EXPECT_EQ(metadata.items[0].png_type, "iCCP");
  EXPECT_EQ(metadata.items.back().place, MetadataItem::Place::kAfterIdat);

  std::vector<std::string> not_kept;
  const std::vector<uint8_t> output = EncodePng(image, 6, metadata.items, &not_kept);
  EXPECT_TRUE(not_kept.empty());
  std::vector<Chunk> expected = AncillaryWithPlaces(ChunksOf(input));
  expected.erase(std::remove_if(expected.begin(), expected.end(), [](const Chunk& c) { return c.type == "prVT"; }),
                 expected.end());
  EXPECT_EQ(AncillaryWithPlaces(ChunksOf(output)), expected);

  // Read again and written again: the same bytes.
  ImageMetadata again;
  const Image reread = ReadImageBytes(output.data(), output.size(), "out.png", &again);
  EXPECT_EQ(reread, image);
  EXPECT_EQ(again.items, metadata.items);
  EXPECT_TRUE(again.not_kept.empty());
  EXPECT_EQ(EncodePng(reread, 6, again.items, nullptr), output);

  // Without the metadata argument nothing is collected, and PNM output names each chunk.
  EXPECT_EQ(ReadImageBytes(input.data(), input.size(), "in.png"), image);
  not_kept.clear();
  EncodePnm(image, metadata.items, &not_kept);
  ASSERT_EQ(not_kept.size(), metadata.items.size());
  EXPECT_EQ(not_kept[0].rfind("iCCP chunk: PNM has no place for it", 0), 0u) << not_kept[0];
}

// A palette image is widened to RGB: hIST and the palette-index bKGD cannot be kept (named);
// sBIT of an 8-bit RGB image without tRNS can.
TEST(Metadata, ChunksTiedToAWidenedLayoutAreNamedNotKept) {
  const uint32_t w = 3, h = 2;
  std::vector<uint8_t> indices = {0, 1, 2, 2, 1, 0};
  const std::vector<Chunk> palette_png = {png_test::Ihdr(w, h, 8, 3),
                                          {"tEXt", Bytes(std::string("Title\0pal", 9))},
                                          {"PLTE", {255, 0, 0, 0, 255, 0, 0, 0, 255}},
                                          {"bKGD", {1}},
                                          {"hIST", {0, 2, 0, 2, 0, 2}},
                                          png_test::Idat(indices, w),
                                          {"IEND", {}}};
  const std::vector<uint8_t> bytes = png_test::PngFromChunks(palette_png);
  ImageMetadata metadata;
  const Image image = ReadImageBytes(bytes.data(), bytes.size(), "pal.png", &metadata);
  EXPECT_EQ(image.channels, 3u);
  ASSERT_EQ(metadata.items.size(), 1u);
  EXPECT_EQ(metadata.items[0].png_type, "tEXt");
  ASSERT_EQ(metadata.not_kept.size(), 2u);
  EXPECT_EQ(metadata.not_kept[0].rfind("bKGD chunk: ", 0), 0u) << metadata.not_kept[0];
  EXPECT_EQ(metadata.not_kept[1].rfind("hIST chunk: ", 0), 0u) << metadata.not_kept[1];

  const std::vector<uint8_t> rgb = png_test::RgbPngWithChunks(w, h, Pixels(w * h * 3),
                                                              {{"sBIT", {5, 6, 5}}, {"bKGD", {0, 1, 0, 2, 0, 3}}}, {});
  ImageMetadata kept;
  ReadImageBytes(rgb.data(), rgb.size(), "rgb.png", &kept);
  EXPECT_TRUE(kept.not_kept.empty());
  ASSERT_EQ(kept.items.size(), 2u);
  EXPECT_EQ(kept.items[0].png_type, "sBIT");
  EXPECT_EQ(kept.items[1].data, (std::vector<uint8_t>{0, 1, 0, 2, 0, 3}));
}

TEST(Metadata, PnmCommentsRoundTripByteForByte) {
  const std::string px(3 * 2 * 3, 'x');
  const std::vector<std::string> files = {
      "P6\n# made by hand\n#\n#  indented, trailing space \n3 2\n255\n" + px,
      "P5\n# grey\n3 2\n255\n" + std::string(6, 'g'),
      "P7\n# a PAM comment\nWIDTH 3\nHEIGHT 2\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" + std::string(24, 'a'),
  };
  for (const std::string& file : files) {
    const std::vector<uint8_t> bytes(file.begin(), file.end());
    ImageMetadata metadata;
    const Image image = ReadImageBytes(bytes.data(), bytes.size(), "in.pnm", &metadata);
    EXPECT_TRUE(metadata.not_kept.empty());
    ASSERT_FALSE(metadata.items.empty()) << file;
    EXPECT_EQ(metadata.items[0].kind, MetadataItem::Kind::kPnmComment);
    std::vector<std::string> not_kept;
    EXPECT_EQ(EncodePnm(image, metadata.items, &not_kept), bytes) << file;
    EXPECT_TRUE(not_kept.empty());
    // PNG output has no place for PNM comments: each is named.
    not_kept.clear();
    EncodePng(image, 6, metadata.items, &not_kept);
    EXPECT_EQ(not_kept.size(), metadata.items.size());
  }
  // Comments elsewhere in the header are kept too, and written after the magic line.
  const std::string spread = "P5 # after magic\n3 # width\n2\n# before maxval\n255\n" + std::string(6, 'g');
  ImageMetadata metadata;
  const Image image = ReadImageBytes(reinterpret_cast<const uint8_t*>(spread.data()), spread.size(), "s.pgm", &metadata);
  ASSERT_EQ(metadata.items.size(), 3u);
  const std::vector<uint8_t> out = EncodePnm(image, metadata.items, nullptr);
  EXPECT_EQ(std::string(out.begin(), out.end()), "P5\n# after magic\n# width\n# before maxval\n3 2\n255\n" + std::string(6, 'g'));
}

}  // namespace
}  // namespace pixelzip
