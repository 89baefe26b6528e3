// PNM/PAM of any maxval (1-65535), plain (P2, P3) and binary (P5, P6, P7): the samples come
// back as stored, the maxval in ImageMetadata::source, and EncodePnm writes both back; PNG
// output of such an image scales it (with sBIT for 2^k - 1) and says so. And the source's
// PNG colour type and palette (SourceFormat): EncodePng writes the recorded PLTE and tRNS back.
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
using formats_test::CatchError;
using formats_test::PngSuiteDir;
using formats_test::ReadFileBytes;

constexpr uint32_t kMaxvals[] = {1, 3, 15, 100, 255, 256, 1000, 4095, 65534, 65535};

// Samples in 0..maxval that reach both ends.
std::vector<uint32_t> Samples(size_t n, uint32_t maxval, uint32_t seed) {
  std::vector<uint32_t> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1103515245u + 12345u;
    v[i] = (s >> 8) % (maxval + 1);
  }
  v[0] = maxval;
  if (n > 1) v[1] = 0;
  return v;
}

// A PNM or PAM file: magic P2/P3 (plain), P5/P6 (binary) or P7 (PAM, any channel count).
std::string PnmFile(char magic, uint32_t width, uint32_t height, uint32_t channels, uint32_t maxval,
                    const std::vector<uint32_t>& samples, bool tupltype = false) {
  std::string out = std::string("P") + magic + "\n# maxval test\n";
  if (magic == '7') {
    out += "WIDTH " + std::to_string(width) + "\nHEIGHT " + std::to_string(height) + "\nDEPTH " +
           std::to_string(channels) + "\nMAXVAL " + std::to_string(maxval) + "\n" +
           (tupltype ? std::string("TUPLTYPE ") + (channels == 2 ? "GRAYSCALE_ALPHA" : "RGB_ALPHA") + "\n" : "") +
           "ENDHDR\n";
  } else {
    out += std::to_string(width) + " " + std::to_string(height) + "\n" + std::to_string(maxval) + "\n";
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (magic == '2' || magic == '3') {
      out += std::to_string(samples[i]) + (i % 9 == 8 ? "\n" : " ");
    } else {
      if (maxval > 255) out += static_cast<char>(samples[i] >> 8);
      out += static_cast<char>(samples[i] & 255);
    }
  }
  return out;
}

Image Read(const std::string& file, ImageMetadata* metadata = nullptr) {
  return ReadImageBytes(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "test.pnm", metadata);
}

TEST(PnmMaxval, EveryMaxvalPlainAndBinaryReadsAsStoredAndWritesBackTheSame) {
  const uint32_t width = 7, height = 5;
  for (const uint32_t maxval : kMaxvals) {
    for (const char magic : {'2', '3', '5', '6', '7'}) {
      for (const uint32_t channels : magic == '7' ? std::vector<uint32_t>{1, 2, 3, 4}
                                                  : std::vector<uint32_t>{magic == '2' || magic == '5' ? 1u : 3u}) {
        SCOPED_TRACE("P" + std::string(1, magic) + ", maxval " + std::to_string(maxval) + ", " +
                     std::to_string(channels) + " channels");
        const std::vector<uint32_t> samples = Samples(size_t{width} * height * channels, maxval, maxval + channels);
        ImageMetadata metadata;
        const Image image = Read(PnmFile(magic, width, height, channels, maxval, samples), &metadata);
        EXPECT_EQ(image.bit_depth, maxval > 255 ? 16u : 8u);
        ASSERT_EQ(image.channels, channels);
        for (size_t i = 0; i < samples.size(); ++i) ASSERT_EQ(image.sample(i), samples[i]) << i;
        EXPECT_EQ(metadata.source.maxval, maxval == 255 || maxval == 65535 ? 0u : maxval);
        ASSERT_EQ(metadata.items.size(), 1u);  // the comment
        // Written back: the same maxval and samples (binary), the comment kept.
        std::vector<std::string> not_kept;
        const std::vector<uint8_t> out = EncodePnm(image, metadata.items, &not_kept, metadata.source);
        EXPECT_TRUE(not_kept.empty());
        const std::string text(out.begin(), out.end());
        EXPECT_NE(text.find("# maxval test\n"), std::string::npos);
        // EncodePnm's form: P5 and P6, PAM with a TUPLTYPE for 2 and 4 channels.
        const char written = channels == 1 ? '5' : channels == 3 ? '6' : '7';
        EXPECT_EQ(text, PnmFile(written, width, height, channels, maxval, samples, true));
        ImageMetadata again;
        EXPECT_EQ(ReadImageBytes(out.data(), out.size(), "again.pnm", &again), image);
        EXPECT_EQ(again.source, metadata.source);
      }
    }
  }
}

TEST(PnmMaxval, SamplesAboveTheMaxvalAreRefused) {
  struct Case {
    std::string file;
    const char* message;
  };
  const std::vector<Case> cases = {
      {PnmFile('5', 2, 1, 1, 10, {3, 11}), "sample value 11 at x 1, y 0, channel 0 is above the maxval 10"},
      {PnmFile('2', 2, 1, 1, 10, {3, 11}), "sample value 11 at x 1, y 0, channel 0 is above the maxval 10"},
      {PnmFile('6', 1, 1, 3, 1, {1, 1, 2}), "channel 2 is above the maxval 1"},
      {PnmFile('3', 1, 2, 3, 1000, {1000, 0, 0, 0, 1001, 0}), "sample value 1001 at x 0, y 1, channel 1"},
      {PnmFile('7', 1, 1, 2, 4095, {4095, 4096}), "sample value 4096"},
      {PnmFile('5', 1, 1, 1, 65534, {65535}), "above the maxval 65534"},
      {"P2\n2 1\n10\n3 99999999999999999999999\n", "above the maxval 10"},
  };
  for (const Case& c : cases) {
    const Error e = CatchError([&] { Read(c.file); });
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
  }
}

TEST(PnmMaxval, MalformedPlainRastersAreRefused) {
  struct Case {
    std::string file;
    ErrorCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"P2\n3 1\n10\n1 2", ErrorCode::kTruncatedInput, "room for at most 2 of the 3 samples"},
      {"P2\n3 1\n10\n1 2            ", ErrorCode::kTruncatedInput, "ends after 2 of the 3 samples"},
      {"P2\n2 1\n10\n1 x", ErrorCode::kCorruptInput, "expected the sample, found 'x'"},
      {"P2\n2 1\n10\n1,2 ", ErrorCode::kCorruptInput, "expected whitespace after a sample, found ','"},
      {"P2\n2 1\n10\n1 2 3", ErrorCode::kUnsupported, "data after the image"},
      {"P3\n100000 100000\n255\n1 2 3", ErrorCode::kLimitExceeded, "limit"},
      {"P1\n2 1\n0 1\n", ErrorCode::kUnsupported, "P1"},
      {"P4\n8 1\n\xff", ErrorCode::kUnsupported, "P4"},
  };
  for (const Case& c : cases) {
    const Error e = CatchError([&] { Read(c.file); });
    EXPECT_EQ(e.code(), c.code) << c.file << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
  }
}

TEST(PnmMaxval, PlainRasterCommentsAndWhitespaceAreAccepted) {
  ImageMetadata metadata;
  const Image image = Read("P2\n# one\n3 1 7\n1\t2 # two\n\r\n7\n", &metadata);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{1, 2, 7}));
  ASSERT_EQ(metadata.items.size(), 2u);
  EXPECT_EQ(std::string(metadata.items[1].data.begin(), metadata.items[1].data.end()), " two");
  EXPECT_EQ(metadata.source.maxval, 7u);
}

TEST(PnmMaxval, EncodersRefuseSamplesAboveTheMaxval) {
  Image image;
  image.width = 2;
  image.height = 1;
  image.channels = 1;
  image.pixels = {3, 11};
  SourceFormat source;
  source.maxval = 10;
  EXPECT_EQ(CatchError([&] { EncodePnm(image, {}, nullptr, source); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CatchError([&] { EncodePng(image, 6, {}, nullptr, source); }).code(), ErrorCode::kInvalidArgument);
  source.maxval = 300;  // above an 8-bit image's range
  EXPECT_EQ(CatchError([&] { EncodePnm(image, {}, nullptr, source); }).code(), ErrorCode::kInvalidArgument);
}

TEST(PnmMaxval, PngOutputScalesToTheFullRangeWithSbitForTwoToTheKMinusOne) {
  for (const uint32_t maxval : kMaxvals) {
    SCOPED_TRACE("maxval " + std::to_string(maxval));
    const std::vector<uint32_t> samples = Samples(3 * 4 * 3, maxval, maxval);
    ImageMetadata metadata;
    const Image image = Read(PnmFile('6', 4, 3, 3, maxval, samples), &metadata);
    std::vector<std::string> not_kept;
    const std::vector<uint8_t> png = EncodePng(image, 6, {}, &not_kept, metadata.source);
    const Image back = ReadImageBytes(png.data(), png.size(), "out.png");
    ASSERT_EQ(back.bit_depth, image.bit_depth);
    const uint32_t full = image.bit_depth == 16 ? 65535 : 255;
    for (size_t i = 0; i < samples.size(); ++i) {
      ASSERT_EQ(back.sample(i), (uint64_t{samples[i]} * full + maxval / 2) / maxval) << i;
    }
    std::vector<png_test::Chunk> sbit;
    for (const png_test::Chunk& c : png_test::ChunksOf(png))
      if (c.type == "sBIT") sbit.push_back(c);
    const bool full_range = maxval == 255 || maxval == 65535;
    const bool power = ((maxval + 1) & maxval) == 0;
    if (full_range) {
      EXPECT_TRUE(not_kept.empty());
      EXPECT_TRUE(sbit.empty());
      EXPECT_EQ(back, image);
    } else {
      ASSERT_EQ(not_kept.size(), 1u);
      EXPECT_NE(not_kept[0].find("PNM maxval " + std::to_string(maxval) + ": PNG cannot hold it"), std::string::npos)
          << not_kept[0];
      ASSERT_EQ(sbit.size(), power ? 1u : 0u);
      if (power) {
        int k = 0;
        while ((1u << k) - 1 < maxval) ++k;
        EXPECT_EQ(sbit[0].data, std::vector<uint8_t>(3, static_cast<uint8_t>(k)));
      }
    }
  }
}

// ------------------------------------------------------------ the source's PNG format

std::vector<png_test::Chunk> ChunksOfType(const std::vector<uint8_t>& png, const std::string& type) {
  std::vector<png_test::Chunk> out;
  for (const png_test::Chunk& c : png_test::ChunksOf(png))
    if (c.type == type) out.push_back(c);
  return out;
}

TEST(SourceFormat, PalettePngsComeBackWithTheirPlteAndTrnsInOrder) {
  int tested = 0;
  for (const auto& entry : fs::directory_iterator(PngSuiteDir())) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 8 || name.substr(name.size() - 4) != ".png" || name[0] == 'x' || name.find("3p") == std::string::npos)
      continue;
    SCOPED_TRACE(name);
    const std::vector<uint8_t> file = ReadFileBytes(entry.path().string());
    ImageMetadata metadata;
    const Image image = ReadImageBytes(file.data(), file.size(), name, &metadata);
    ASSERT_EQ(metadata.source.png_colour_type, 3);
    EXPECT_EQ(metadata.source.png_bit_depth, file.at(24));
    const std::vector<uint8_t> png = EncodePng(image, 6, {}, nullptr, metadata.source);
    EXPECT_EQ(png.at(25), 3);
    EXPECT_EQ(png.at(24), file.at(24));
    EXPECT_EQ(ChunksOfType(png, "PLTE"), ChunksOfType(file, "PLTE"));
    EXPECT_EQ(ChunksOfType(png, "tRNS"), ChunksOfType(file, "tRNS"));
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "out.png"), image);
    ++tested;
  }
  EXPECT_GE(tested, 50);
}

TEST(SourceFormat, ARecordedNonPaletteTypeWritesNoPaletteAndAPaletteThatDoesNotFitIsRebuilt) {
  Image image;
  image.width = 3;
  image.height = 1;
  image.channels = 3;
  image.pixels = {1, 2, 3, 4, 5, 6, 1, 2, 3};  // two colours
  SourceFormat rgb;
  rgb.png_colour_type = 2;
  rgb.png_bit_depth = 8;
  std::vector<uint8_t> png = EncodePng(image, 6, {}, nullptr, rgb);
  EXPECT_EQ(png.at(25), 2);  // RGB, as it came in (the old rule would write a palette)
  EXPECT_EQ(EncodePng(image, 6, {}, nullptr, true).at(25), 3);
  // A palette with the colours in another order, a duplicate and an unused entry: written as recorded.
  SourceFormat pal;
  pal.png_colour_type = 3;
  pal.png_bit_depth = 4;
  pal.plte = {9, 9, 9, 4, 5, 6, 1, 2, 3, 4, 5, 6};
  png = EncodePng(image, 6, {}, nullptr, pal);
  EXPECT_EQ(png.at(25), 3);
  EXPECT_EQ(png.at(24), 4);
  ASSERT_EQ(ChunksOfType(png, "PLTE").size(), 1u);
  EXPECT_EQ(ChunksOfType(png, "PLTE")[0].data, pal.plte);
  EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "out.png"), image);
  // A pixel that is no entry: the palette is built from the pixels instead.
  pal.plte = {1, 2, 3};
  png = EncodePng(image, 6, {}, nullptr, pal);
  EXPECT_EQ(png.at(25), 3);
  EXPECT_EQ(ChunksOfType(png, "PLTE")[0].data.size(), 6u);
  EXPECT_EQ(ReadImageBytes(png.data(), png.size(), "out.png"), image);
}

TEST(SourceFormat, ThePngReaderRecordsEveryColourType) {
  const std::vector<std::pair<std::string, int>> files = {
      {"basn0g08.png", 0}, {"basn2c08.png", 2}, {"basn3p08.png", 3}, {"basn4a08.png", 4}, {"basn6a16.png", 6}};
  for (const auto& [name, type] : files) {
    const std::vector<uint8_t> file = ReadFileBytes(PngSuiteDir() + "/" + name);
    ImageMetadata metadata;
    ReadImageBytes(file.data(), file.size(), name, &metadata);
    EXPECT_EQ(metadata.source.png_colour_type, type) << name;
    EXPECT_EQ(metadata.source.png_bit_depth, file.at(24)) << name;
    EXPECT_EQ(metadata.source.plte.empty(), type != 3) << name;
    EXPECT_EQ(metadata.source.maxval, 0u);
  }
}

}  // namespace
}  // namespace pixelzip
