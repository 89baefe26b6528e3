// PngSuite (tests/data/pngsuite): every valid image loads with the right
// pixels (16-bit ones as 16-bit images); every x*.png is refused.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/image_io.h"
#include "test_util.h"

namespace pixelzip {
namespace {

namespace fs = std::filesystem;
using formats_test::CatchError;
using formats_test::PngSuiteDir;
using formats_test::ReadFileBytes;

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// What the test learns from a PNG's chunks, independently of the library.
struct PngFacts {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 0;
  int color_type = 0;
  bool has_trns = false;
};

PngFacts ReadFacts(const std::vector<uint8_t>& bytes) {
  PngFacts f;
  EXPECT_GE(bytes.size(), 33u);
  if (bytes.size() < 33) return f;
  f.width = Be32(&bytes[16]);
  f.height = Be32(&bytes[20]);
  f.bit_depth = bytes[24];
  f.color_type = bytes[25];
  for (size_t pos = 8; pos + 8 <= bytes.size();) {
    const uint32_t length = Be32(&bytes[pos]);
    const std::string type(reinterpret_cast<const char*>(&bytes[pos + 4]), 4);
    if (type == "tRNS") f.has_trns = true;
    if (type == "IDAT" || length > bytes.size()) break;
    pos += 12 + size_t{length};
  }
  return f;
}

uint32_t ExpectedChannels(const PngFacts& f) {
  switch (f.color_type) {
    case 0: return f.has_trns ? 2 : 1;
    case 2: return f.has_trns ? 4 : 3;
    case 3: return f.has_trns ? 4 : 3;
    case 4: return 2;
    case 6: return 4;
  }
  return 0;
}

std::vector<std::string> SuiteFiles() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(PngSuiteDir())) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().extension() == ".png") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Image Load(const std::string& name) { return ReadImageFile(PngSuiteDir() + "/" + name); }

// A minimal reader for the netpbm-made reference files (P5, P6, P7 with
// MAXVAL 255), kept separate from the library's PNM reader.
Image ReadReference(const std::string& path) {
  const std::vector<uint8_t> bytes = ReadFileBytes(path);
  std::string text(bytes.begin(), bytes.end());
  Image image;
  size_t data_start = 0;
  if (text.compare(0, 2, "P7") == 0) {
    const size_t end = text.find("ENDHDR\n");
    std::istringstream header(text.substr(3, end - 3));
    std::string key;
    while (header >> key) {
      if (key == "WIDTH") header >> image.width;
      else if (key == "HEIGHT") header >> image.height;
      else if (key == "DEPTH") header >> image.channels;
      else std::getline(header, key);  // MAXVAL, TUPLTYPE
    }
    data_start = end + 7;
  } else {
    std::istringstream header(text);
    std::string magic;
    int maxval = 0;
    header >> magic >> image.width >> image.height >> maxval;
    EXPECT_EQ(maxval, 255) << path;
    image.channels = magic == "P5" ? 1 : 3;
    data_start = static_cast<size_t>(header.tellg()) + 1;
  }
  image.pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  EXPECT_EQ(image.pixels.size(), image.SubpixelCount()) << path;
  return image;
}

TEST(PngSuiteTest, EveryValidImageLoads) {
  int valid = 0, loaded = 0, sixteen = 0;
  for (const std::string& name : SuiteFiles()) {
    if (name[0] == 'x') continue;
    ++valid;
    const PngFacts facts = ReadFacts(ReadFileBytes(PngSuiteDir() + "/" + name));
    try {
      const Image image = Load(name);
      EXPECT_EQ(image.width, facts.width) << name;
      EXPECT_EQ(image.height, facts.height) << name;
      EXPECT_EQ(image.channels, ExpectedChannels(facts)) << name;
      EXPECT_EQ(image.bit_depth, facts.bit_depth == 16 ? 16u : 8u) << name;
      EXPECT_EQ(image.pixels.size(), image.SubpixelCount() * (facts.bit_depth == 16 ? 2 : 1)) << name;
      sixteen += facts.bit_depth == 16;
      ++loaded;
    } catch (const Error& e) {
      ADD_FAILURE() << name << " did not load: " << e.what();
    }
  }
  std::cout << "PngSuite: " << valid << " valid files, " << loaded << " loaded, " << sixteen << " of them 16-bit\n";
  EXPECT_EQ(valid, 161);
  EXPECT_EQ(loaded, 161);
  EXPECT_EQ(sixteen, 33);
}

// Every PngSuite image's kept chunks come back byte for byte, in order and place,
// through EncodePng; the chunks not kept are named, and only those the rules name.
TEST(PngSuiteTest, MetadataRoundTripsThroughEveryLoadableImage) {
  int with_metadata = 0;
  for (const std::string& name : SuiteFiles()) {
    if (name[0] == 'x') continue;
    const std::vector<uint8_t> bytes = ReadFileBytes(PngSuiteDir() + "/" + name);
    ImageMetadata metadata;
    const Image image = ReadImageBytes(bytes.data(), bytes.size(), name, &metadata);
    EXPECT_EQ(image, Load(name)) << name;
    for (const std::string& why : metadata.not_kept) {
      const std::string type = why.substr(0, 4);
      EXPECT_TRUE(type == "hIST" || type == "bKGD" || type == "sBIT" || (type[3] & 0x20) == 0) << name << ": " << why;
    }
    std::vector<std::string> not_kept;
    const std::vector<uint8_t> out = EncodePng(image, 6, metadata.items, &not_kept);
    EXPECT_TRUE(not_kept.empty()) << name;
    ImageMetadata again;
    EXPECT_EQ(ReadImageBytes(out.data(), out.size(), name, &again), image) << name;
    EXPECT_EQ(again.items, metadata.items) << name;
    EXPECT_TRUE(again.not_kept.empty()) << name;
    with_metadata += !metadata.items.empty();
  }
  std::cout << "PngSuite: " << with_metadata << " images with kept metadata\n";
  EXPECT_GT(with_metadata, 20);
}

TEST(PngSuiteTest, EveryInvalidImageIsRefusedWithItsName) {
  int invalid = 0;
  for (const std::string& name : SuiteFiles()) {
    if (name[0] != 'x') continue;
    ++invalid;
    const Error e = CatchError([&] { Load(name); });
    EXPECT_TRUE(e.code() == ErrorCode::kCorruptInput || e.code() == ErrorCode::kTruncatedInput)
        << name << ": " << ErrorCodeName(e.code()) << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    std::cout << "  " << e.what() << "\n";
  }
  std::cout << "PngSuite: " << invalid << " x*.png files refused\n";
  EXPECT_EQ(invalid, 14);
}

// basiXXXX (Adam7 interlaced) must equal basnXXXX pixel for pixel; the same
// for the other interlaced/non-interlaced pairs (s01i3p01 / s01n3p01, ...).
TEST(PngSuiteTest, InterlacedEqualsNonInterlaced) {
  const std::vector<std::string> files = SuiteFiles();
  const std::set<std::string> all(files.begin(), files.end());
  int pairs = 0;
  for (const std::string& name : files) {
    if (name.size() != 12 || name[3] != 'i' || name[0] == 'x') continue;
    std::string plain = name;
    plain[3] = 'n';
    if (all.count(plain) == 0) continue;
    EXPECT_EQ(Load(name), Load(plain)) << name << " differs from " << plain;
    ++pairs;
  }
  std::cout << "PngSuite: " << pairs << " interlaced/plain pairs compared\n";
  EXPECT_GE(pairs, 28);  // 13 basi (3 of them 16-bit) + 15 sNNi
}

// Pixels against references made independently with netpbm (see
// tests/data/pngsuite/reference/README.md).
TEST(PngSuiteTest, PixelsMatchNetpbmReferences) {
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(PngSuiteDir() + "/reference")) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".pnm" && ext != ".pam") continue;
    const std::string stem = entry.path().stem().string();
    const Image expected = ReadReference(entry.path().string());
    const Image actual = Load(stem + ".png");
    EXPECT_EQ(actual.width, expected.width) << stem;
    EXPECT_EQ(actual.height, expected.height) << stem;
    EXPECT_EQ(actual.channels, expected.channels) << stem;
    EXPECT_TRUE(actual.pixels == expected.pixels) << stem << ": pixels differ from the netpbm reference";
    ++compared;
  }
  EXPECT_EQ(compared, 13);
}

// Low bit-depth grey is scaled to the full 8-bit range by bit replication
// (1-bit -> 0/255, 2-bit -> multiples of 85, 4-bit -> multiples of 17).
TEST(PngSuiteTest, LowBitDepthGreyUsesFullRange) {
  const std::map<std::string, int> step = {{"basn0g01.png", 255}, {"basn0g02.png", 85}, {"basn0g04.png", 17}};
  for (const auto& [name, s] : step) {
    const Image image = Load(name);
    ASSERT_EQ(image.channels, 1u);
    std::set<int> values;
    for (uint8_t v : image.pixels) {
      EXPECT_EQ(v % s, 0) << name;
      values.insert(v);
    }
    EXPECT_GE(values.size(), 2u) << name;
    EXPECT_EQ(values.count(0), 1u) << name;
    if (s == 255) {
      EXPECT_EQ(values, (std::set<int>{0, 255})) << name;
    }
  }
}

// A 1-, 2- or 4-bit grey PNG (with tRNS too) writes back, given its SourceFormat, at its own
// bit depth: IHDR says grey of that depth, tRNS is there exactly when it was, and the file
// reads back to the same pixels.
TEST(PngSuiteTest, LowBitGreyWritesBackAtItsOwnDepth) {
  int count = 0, with_trns = 0;
  for (const std::string& name : SuiteFiles()) {
    if (name[0] == 'x') continue;  // the invalid ones
    const std::vector<uint8_t> bytes = ReadFileBytes(PngSuiteDir() + "/" + name);
    const PngFacts in = ReadFacts(bytes);
    if (in.color_type != 0 || in.bit_depth >= 8) continue;
    SCOPED_TRACE(name);
    ImageMetadata metadata;
    const Image image = ReadImageBytes(bytes.data(), bytes.size(), name, &metadata);
    EXPECT_EQ(metadata.source.png_colour_type, 0);
    EXPECT_EQ(metadata.source.png_bit_depth, in.bit_depth);
    const std::vector<uint8_t> png = EncodePng(image, 6, metadata.items, nullptr, metadata.source);
    const PngFacts out = ReadFacts(png);
    EXPECT_EQ(out.color_type, 0);
    EXPECT_EQ(out.bit_depth, in.bit_depth);
    EXPECT_EQ(out.has_trns, in.has_trns);
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), name), image);
    // Without the record: 8-bit, as before.
    EXPECT_EQ(ReadFacts(EncodePng(image)).bit_depth, 8);
    ++count;
    with_trns += in.has_trns;
  }
  EXPECT_GE(count, 10);
  EXPECT_GE(with_trns, 1);  // tbbn0g04
}

// A record of a low-bit grey source that does not fit the pixels writes 8 bits, losing nothing.
TEST(PngSuiteTest, LowBitGreyRecordThatDoesNotFitFallsBackToEightBits) {
  SourceFormat grey2;
  grey2.png_colour_type = 0;
  grey2.png_bit_depth = 2;
  auto depth_and_back = [&](const Image& image) {
    const std::vector<uint8_t> png = EncodePng(image, 6, {}, nullptr, grey2);
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "test.png"), image);
    return ReadFacts(png).bit_depth;
  };
  Image grey;
  grey.width = 4;
  grey.height = 2;
  grey.channels = 1;
  grey.pixels = {0, 85, 170, 255, 255, 170, 85, 0};
  EXPECT_EQ(depth_and_back(grey), 2);
  grey.pixels[3] = 254;  // no multiple of 85
  EXPECT_EQ(depth_and_back(grey), 8);
  Image alpha;  // grey+alpha: one transparent grey that no opaque pixel has -> tRNS
  alpha.width = 4;
  alpha.height = 1;
  alpha.channels = 2;
  alpha.pixels = {0, 255, 85, 0, 170, 255, 85, 0};
  EXPECT_EQ(depth_and_back(alpha), 2);
  alpha.pixels[1] = 0;  // two transparent greys: tRNS cannot say it
  EXPECT_EQ(depth_and_back(alpha), 8);
  alpha.pixels = {0, 255, 85, 255, 170, 255, 85, 128};  // partly transparent
  EXPECT_EQ(depth_and_back(alpha), 8);
  alpha.pixels = {0, 255, 85, 255, 170, 255, 85, 255};  // all opaque: tRNS of the unused 255
  EXPECT_EQ(depth_and_back(alpha), 2);
  alpha.pixels = {0, 255, 85, 255, 170, 255, 255, 255};  // all opaque, every level used
  EXPECT_EQ(depth_and_back(alpha), 8);
  alpha.pixels = {0, 255, 85, 255, 170, 255, 85, 0};  // transparent grey also opaque elsewhere
  alpha.pixels[4] = 85;
  EXPECT_EQ(depth_and_back(alpha), 8);
}

// The palette image's pixels are its PLTE entries, read here from the file.
TEST(PngSuiteTest, PalettePixelsComeFromPlte) {
  const std::vector<uint8_t> bytes = ReadFileBytes(PngSuiteDir() + "/basn3p08.png");
  std::set<std::vector<uint8_t>> palette;
  for (size_t pos = 8; pos + 8 <= bytes.size();) {
    const uint32_t length = Be32(&bytes[pos]);
    if (std::string(reinterpret_cast<const char*>(&bytes[pos + 4]), 4) == "PLTE") {
      for (uint32_t i = 0; i + 3 <= length; i += 3) {
        palette.insert({bytes[pos + 8 + i], bytes[pos + 9 + i], bytes[pos + 10 + i]});
      }
    }
    pos += 12 + size_t{length};
  }
  ASSERT_EQ(palette.size(), 256u);
  const Image image = Load("basn3p08.png");
  ASSERT_EQ(image.channels, 3u);
  std::set<std::vector<uint8_t>> used;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    std::vector<uint8_t> rgb(image.pixels.begin() + i, image.pixels.begin() + i + 3);
    EXPECT_TRUE(palette.count(rgb)) << "pixel " << i / 3 << " is not a palette colour";
    used.insert(rgb);
  }
  EXPECT_EQ(used.size(), 256u);  // basn3p08 uses all 256 colours
}

// tRNS turns into an alpha channel: fully transparent exactly where the
// stored colour equals the tRNS colour.
TEST(PngSuiteTest, TrnsBecomesAlpha) {
  const Image grey = Load("tbbn0g04.png");
  ASSERT_EQ(grey.channels, 2u);
  const Image rgb = Load("tbrn2c08.png");
  ASSERT_EQ(rgb.channels, 4u);
  int transparent = 0;
  for (size_t i = 0; i < rgb.pixels.size(); i += 4) {
    EXPECT_TRUE(rgb.pixels[i + 3] == 0 || rgb.pixels[i + 3] == 255);
    transparent += rgb.pixels[i + 3] == 0;
  }
  EXPECT_GT(transparent, 0);
}

// Every 16-bit PngSuite image writes back as a 16-bit PNG and as a 16-bit PNM/PAM that
// read back to the same samples.
TEST(PngSuiteTest, SixteenBitImagesRoundTripThroughPngAndPnm) {
  int count = 0;
  for (const std::string& name : SuiteFiles()) {
    if (name[0] == 'x') continue;
    if (ReadFacts(ReadFileBytes(PngSuiteDir() + "/" + name)).bit_depth != 16) continue;
    const Image image = Load(name);
    ASSERT_EQ(image.bit_depth, 16u) << name;
    const std::vector<uint8_t> png = EncodePng(image, 6);
    EXPECT_EQ(png.at(24), 16) << name << ": IHDR bit depth";
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), name), image) << name;
    const std::vector<uint8_t> pnm = EncodePnm(image);
    EXPECT_EQ(ReadImageBytes(pnm.data(), pnm.size(), name), image) << name;
    ++count;
  }
  EXPECT_EQ(count, 33);
}

}  // namespace
}  // namespace pixelzip
