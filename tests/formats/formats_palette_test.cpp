// Palette PNG writing (EncodePng with `palette`): the pixels read back exactly, in a
// palette PNG (colour type 3) of the smallest bit depth, where a palette PNG can hold them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/image_io.h"
#include "tests/formats/png_chunks.h"
#include "tests/formats/test_util.h"

namespace pixelzip {
namespace {

namespace fs = std::filesystem;
using formats_test::PngSuiteDir;
using formats_test::ReadFileBytes;

// IHDR's bit depth and colour type bytes (the IHDR chunk is first, at a fixed offset).
int BitDepth(const std::vector<uint8_t>& png) { return png.at(24); }
int ColourType(const std::vector<uint8_t>& png) { return png.at(25); }

Image FewColours(uint32_t width, uint32_t height, uint32_t channels, uint32_t colours, bool transparent) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(image.SubpixelCount());
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      const uint32_t k = (x * 7 + y * 3 + (x * y) % 5) % colours;
      for (uint32_t c = 0; c < channels; ++c) image.at(y, x, c) = static_cast<uint8_t>(k * (37 + 50 * c) + c);
      if (channels == 4) image.at(y, x, 3) = transparent && k % 3 == 0 ? static_cast<uint8_t>(k * 11) : 255;
    }
  }
  return image;
}

TEST(PalettePng, RgbAndRgbaWithFewColoursBecomePalettePngsThatReadBackExactly) {
  for (uint32_t channels : {3u, 4u}) {
    for (uint32_t colours : {1u, 2u, 3u, 4u, 5u, 16u, 17u, 200u, 256u}) {
      SCOPED_TRACE(std::to_string(channels) + " channels, " + std::to_string(colours) + " colours");
      const Image image = FewColours(31, 19, channels, colours, true);
      if (channels == 4 && colours < 4) continue;  // no transparent pixel in so few colours
      const std::vector<uint8_t> png = EncodePng(image, 9, {}, nullptr, true);
      EXPECT_EQ(ColourType(png), 3);
      EXPECT_EQ(BitDepth(png), colours <= 2 ? 1 : colours <= 4 ? 2 : colours <= 16 ? 4 : 8);
      EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "palette.png"), image);
      if (colours <= 16) {  // (a big palette costs its PLTE)
        EXPECT_LT(png.size(), EncodePng(image, 9).size());
      }
    }
  }
}

TEST(PalettePng, ImagesAPaletteCannotHoldStayAsTheyAre) {
  // More than 256 colours; grey (a palette reads back as RGB).
  Image many = FewColours(40, 20, 3, 1, false);
  for (size_t i = 0; i < 800; ++i) many.pixels[i * 3] = static_cast<uint8_t>(i), many.pixels[i * 3 + 1] = static_cast<uint8_t>(i >> 8);
  const Image grey = FewColours(20, 10, 1, 5, false);
  for (const Image* image : std::vector<const Image*>{&many, &grey}) {
    const std::vector<uint8_t> png = EncodePng(*image, 6, {}, nullptr, true);
    EXPECT_EQ(png, EncodePng(*image, 6));
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "x.png"), *image);
  }
}

TEST(PalettePng, OpaqueRgbaBecomesAPalettePngWithAnOpaqueTrnsAndReadsBackAsRgba) {
  for (uint32_t colours : {1u, 2u, 5u, 200u}) {
    SCOPED_TRACE(std::to_string(colours) + " colours");
    const Image opaque = FewColours(20, 10, 4, colours, false);
    const std::vector<uint8_t> png = EncodePng(opaque, 6, {}, nullptr, true);
    EXPECT_EQ(ColourType(png), 3);
    const auto chunks = png_test::ChunksOf(png);
    const auto trns = std::find_if(chunks.begin(), chunks.end(), [](const auto& c) { return c.type == "tRNS"; });
    ASSERT_NE(trns, chunks.end());
    EXPECT_EQ(trns->data, std::vector<uint8_t>{255});
    const Image back = ReadImageBytes(png.data(), png.size(), "x.png");
    EXPECT_EQ(back.channels, 4u);
    EXPECT_EQ(back, opaque);
  }
}

struct PaletteCase {
  std::string name;
  int depth;
  std::vector<uint8_t> entries, trns;
};

// Palette PNGs of every bit depth: colour, all-grey palettes, tRNS with every entry opaque,
// tRNS with partial and full transparency, tRNS shorter than the palette.
std::vector<PaletteCase> PaletteCases() {
  std::vector<PaletteCase> cases;
  for (int depth : {1, 2, 4, 8}) {
    const int n = depth == 8 ? 200 : 1 << depth;
    std::vector<uint8_t> colour, grey, opaque(size_t(n), 255), partial, shorter;
    for (int j = 0; j < n; ++j) {
      colour.insert(colour.end(), {uint8_t(j * 41 + 3), uint8_t(j * 97 + 11), uint8_t(255 - j)});
      const uint8_t g = uint8_t(j * 255 / (n - 1));
      grey.insert(grey.end(), {g, g, g});
      partial.push_back(j % 3 == 0 ? 255 : j % 3 == 1 ? uint8_t(j * 13) : 0);
    }
    shorter = {0};
    const std::string d = std::to_string(depth) + "-bit ";
    cases.push_back({d + "colour", depth, colour, {}});
    cases.push_back({d + "grey palette", depth, grey, {}});
    cases.push_back({d + "grey palette, tRNS all opaque", depth, grey, opaque});
    cases.push_back({d + "colour, tRNS all opaque", depth, colour, opaque});
    cases.push_back({d + "colour, partial transparency", depth, colour, partial});
    cases.push_back({d + "grey palette, one transparent entry", depth, grey, shorter});
  }
  return cases;
}

TEST(PalettePng, PalettePngsOfEveryKindAreWrittenBackAsPalettePngs) {
  for (const PaletteCase& c : PaletteCases()) {
    SCOPED_TRACE(c.name);
    const uint32_t width = 23, height = 9, n = uint32_t(c.entries.size() / 3);
    std::vector<uint8_t> indices(size_t{width} * height);
    for (size_t i = 0; i < indices.size(); ++i) indices[i] = uint8_t((i * 7 + i / width) % n);
    const std::vector<uint8_t> file = png_test::PalettePngFile(width, height, c.depth, c.entries, c.trns, indices);
    const Image image = ReadImageBytes(file.data(), file.size(), "in.png");
    ASSERT_EQ(image.channels, c.trns.empty() ? 3u : 4u);
    const std::vector<uint8_t> png = EncodePng(image, 9, {}, nullptr, true);
    EXPECT_EQ(ColourType(png), 3);
    const auto chunks = png_test::ChunksOf(png);
    const bool has_trns = std::any_of(chunks.begin(), chunks.end(), [](const auto& k) { return k.type == "tRNS"; });
    EXPECT_EQ(has_trns, !c.trns.empty());
    EXPECT_LE(BitDepth(png), c.depth);
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "out.png"), image);
  }
}

TEST(PalettePng, EveryPngSuitePaletteImageRoundTripsAsAPalettePng) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(PngSuiteDir())) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 8 || name[0] == 'x' || name.find("3p") == std::string::npos) continue;
    SCOPED_TRACE(name);
    const std::vector<uint8_t> bytes = ReadFileBytes(entry.path().string());
    const Image image = ReadImageBytes(bytes.data(), bytes.size(), name);
    const std::vector<uint8_t> png = EncodePng(image, 9, {}, nullptr, true);
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), name), image);
    EXPECT_EQ(ColourType(png), 3);  // also RGBA read from a tRNS whose entries are all opaque
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

TEST(PalettePng, SourceColourTypeChunksAreLeftOutAndNamed) {
  MetadataItem bkgd;
  bkgd.png_type = "bKGD";
  bkgd.data = {0, 1, 0, 2, 0, 3};
  MetadataItem text;
  text.png_type = "tEXt";
  text.place = MetadataItem::Place::kBeforeIdat;
  const std::string t = std::string("Comment") + '\0' + "kept";
  text.data.assign(t.begin(), t.end());
  std::vector<std::string> not_kept;
  const Image image = FewColours(10, 10, 3, 6, false);
  const std::vector<uint8_t> png = EncodePng(image, 6, {bkgd, text}, &not_kept, true);
  ASSERT_EQ(not_kept.size(), 1u);
  EXPECT_NE(not_kept[0].find("bKGD"), std::string::npos);
  ImageMetadata metadata;
  EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "x.png", &metadata), image);
  ASSERT_EQ(metadata.items.size(), 1u);
  EXPECT_EQ(metadata.items[0].png_type, "tEXt");
}

}  // namespace
}  // namespace pixelzip
