// "Never grows" on the PngSuite (tests/data/pngsuite): with the fallback codings on, every
// loadable 8-bit PngSuite image codes to a stream no larger than the PNG's pixel data (its
// IDAT payload, plus PLTE and tRNS, which a palette PNG keeps outside IDAT) plus the stream's
// header (8 bytes more for two 32x32 images of 1 and 2 bits per pixel), and decodes to
// exactly its pixels. The one exception is an RGB or grey PNG with a
// tRNS colour key: pixelzip codes its alpha channel, which the PNG does not store.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/image_io.h"
#include "pixelzip/codec.h"
#include "test_support.h"

namespace pixelzip {
namespace {

namespace fs = std::filesystem;

struct PngSizes {
  uint64_t idat = 0, plte_trns = 0;
  int colour_type = 0;
  bool trns = false;
};

PngSizes Sizes(const std::vector<uint8_t>& png) {
  PngSizes s;
  s.colour_type = png.at(25);
  for (size_t i = 8; i + 8 <= png.size();) {
    const uint64_t length = uint64_t{png[i]} << 24 | uint64_t{png[i + 1]} << 16 | uint64_t{png[i + 2]} << 8 | png[i + 3];
    const std::string type(png.begin() + static_cast<std::ptrdiff_t>(i + 4), png.begin() + static_cast<std::ptrdiff_t>(i + 8));
    if (type == "IDAT") s.idat += length;
    if (type == "PLTE" || type == "tRNS") s.plte_trns += length;
    if (type == "tRNS") s.trns = true;
    i += 12 + length;
  }
  return s;
}

TEST(NeverGrows, PngSuiteImagesCodeToAtMostTheirPixelDataPlusTheHeader) {
  int checked = 0, over = 0;
  for (const auto& entry : fs::directory_iterator(std::string(PIXELZIP_TEST_DATA_DIR) + "/pngsuite")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".png" || name[0] == 'x') continue;  // x*: invalid files
    const std::vector<uint8_t> bytes = test::ReadFileBytes(entry.path().string());
    Image image;
    try {
      image = ReadImageBytes(bytes.data(), bytes.size(), name);
    } catch (const Error&) {
      continue;  // not an image this build reads
    }
    SCOPED_TRACE(name);
    const PngSizes png = Sizes(bytes);
    EncodeOptions options = test::Order0Options(true);
    options.fallback = Fallback::kOn;
    const EncodeResult r = Encode(image, options);
    const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
    EXPECT_EQ(Decode(r.stream), image);
    if (png.trns && png.colour_type != 3) continue;  // a colour key: the PNG stores no alpha channel
    // Allowed: the pixel data plus the header, plus 8 bytes for the tiniest images (two 32x32
    // images of 2 and 4 grey levels or colours, whose PNGs pack 1 or 2 bits per pixel, need 1
    // and 2 bytes more: the palette coding spends them on its palette).
    const uint64_t allowed = png.idat + png.plte_trns + info.header_bytes;
    EXPECT_LE(r.stream.size(), allowed + 8) << "coding " << r.architecture << ", IDAT " << png.idat;
    if (r.stream.size() > allowed) ++over;
    ++checked;
  }
  EXPECT_GT(checked, 100);
  EXPECT_LE(over, 2);
}

// A 1-, 2- or 4-bit grey PNG (colour type 0) records its depth (tag 4, docs/format.md section
// 2.1) and comes back through Encode, Decode and EncodePng at that depth with its pixels; the
// record's bytes counted, the stream stays smaller than the PNG file.
TEST(NeverGrows, LowBitGreyPngsComeBackAtTheirDepthAndStaySmallerThanThePng) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(std::string(PIXELZIP_TEST_DATA_DIR) + "/pngsuite")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".png" || name[0] == 'x') continue;  // x*: invalid files
    const std::vector<uint8_t> bytes = test::ReadFileBytes(entry.path().string());
    if (bytes.at(25) != 0 || bytes.at(24) >= 8) continue;  // IHDR: grey below 8 bits only
    SCOPED_TRACE(name);
    ImageMetadata metadata;
    const Image image = ReadImageBytes(bytes.data(), bytes.size(), name, &metadata);
    EncodeOptions options = test::Order0Options(true);
    options.fallback = Fallback::kOn;
    options.source = metadata.source;
    options.metadata = metadata.items;
    const EncodeResult r = Encode(image, options);
    const StreamInfo info = ReadStreamInfo(r.stream.data(), r.stream.size());
    EXPECT_EQ(info.version_minor, 2u);
    EXPECT_EQ(info.source.png_colour_type, 0);
    EXPECT_EQ(info.source.png_bit_depth, bytes[24]);
    const Image decoded = Decode(r.stream);
    EXPECT_EQ(decoded, image);
    const SourceFormat source = ReadSourceFormat(r.stream.data(), r.stream.size(), decoded);
    EXPECT_EQ(source, metadata.source);
    const std::vector<uint8_t> png = EncodePng(decoded, 6, info.metadata, nullptr, source);
    EXPECT_EQ(png.at(24), bytes[24]);  // IHDR bit depth
    EXPECT_EQ(png.at(25), 0);          // IHDR colour type
    EXPECT_EQ(ReadImageBytes(png.data(), png.size(), name), image);
    EXPECT_LT(r.stream.size(), bytes.size()) << "coding " << r.architecture;
    // The record costs 3 + 2 bytes (tag, length, colour type, depth) and the area's varint.
    options.source = SourceFormat{};
    const size_t without = Encode(image, options).stream.size();
    EXPECT_LE(r.stream.size(), without + 5 + (metadata.items.empty() ? 1 : 0));
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace pixelzip
