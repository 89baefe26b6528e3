// The golden streams in tests/data/golden/ pin the format (docs/format.md, section 7):
// valid ones must decode to exactly the stored pixels and re-encode to exactly the
// stored bytes; each invalid one must fail with its specific error code. Each valid file of
// formats 1.x-3.x has a 4.x twin (compact header, CompactGoldenFile): the encoder writes the
// twin, and the twin with its header in the old layout (Legacy) is the old file.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "pixelzip/codec.h"
#include "test_support.h"

namespace pixelzip {
namespace {

const std::string kDir = PIXELZIP_GOLDEN_DIR;

// `stream` is what this build's encoder writes for `stem`: the 4.x twin's bytes, and in the
// old layout the pre-4.0 file's bytes; the twin decodes to `expected` too.
void ExpectReEncodesToBothGoldens(const std::string& stem, const std::vector<uint8_t>& stream, const Image& expected) {
  const std::vector<uint8_t> legacy = test::ReadFileBytes(kDir + "/" + stem + ".pxz");
  const std::vector<uint8_t> compact = test::ReadFileBytes(kDir + "/" + test::CompactGoldenFile(stem));
  EXPECT_EQ(stream, compact) << "the encoder no longer produces the golden bytes: a format change needs a version "
                                "bump (docs/format.md)";
  EXPECT_EQ(test::Legacy(stream), legacy) << "the payload or a header field changed";
  const StreamInfo info = ReadStreamInfo(compact.data(), compact.size());
  EXPECT_EQ(info.version_major, 4u);
  EXPECT_LT(compact.size(), legacy.size());
  EXPECT_EQ(Decode(compact), expected);
}

TEST(Golden, ValidStreamsDecodeToTheirPixelsAndReEncodeToTheirBytes) {
  for (const test::ValidGolden& g : test::ValidGoldens()) {
    SCOPED_TRACE(g.stem);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    ASSERT_EQ(expected.width, g.width);
    ASSERT_EQ(expected.height, g.height);
    ASSERT_EQ(expected.channels, g.channels);
    const Image decoded = Decode(stream);
    EXPECT_EQ(ReadStreamInfo(stream.data(), stream.size()).version_major, g.adaptive ? 2u : 1u);
    EXPECT_EQ(decoded, expected);
    ExpectReEncodesToBothGoldens(g.stem, Encode(expected, test::Order0Options(g.adaptive, g.kind)).stream, expected);
    // The generator still makes the same image (make_golden stays in step with the files).
    EXPECT_EQ(test::MakeImage(g.width, g.height, g.channels, g.seed), expected);
  }
}

TEST(Golden, MultiscaleStreamsDecodeToTheirPixelsAndReEncodeToTheirBytes) {
  if (!test::Ships("multiscale-pixelcnn-rgb"))
    GTEST_SKIP() << "this build does not ship multiscale-pixelcnn-rgb (no neural models)";
  for (const test::MultiscaleGolden& g : test::MultiscaleGoldens()) {
    SCOPED_TRACE(g.stem);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
    EXPECT_EQ(info.version_major, 2u);
    EXPECT_EQ(info.order, Order::kMultiscale);
    EXPECT_TRUE(info.adaptive);
    EXPECT_EQ(Decode(stream), expected);
    ExpectReEncodesToBothGoldens(g.stem, Encode(expected, test::MultiscaleOptions(g)).stream, expected);
    EXPECT_EQ(test::MakeImage(g.width, g.height, g.channels, g.seed), expected);
  }
  // Streams from before positions 3 (the stage in stream order) still decode.
  for (const test::LegacyMultiscaleGolden& g : test::LegacyMultiscaleGoldens()) {
    SCOPED_TRACE(g.stem);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
    EXPECT_EQ(info.order, Order::kMultiscale);
    EXPECT_TRUE(info.adaptive);
    EXPECT_EQ(Decode(stream), expected);
  }
}

// 16-bit streams (docs/format.md section 3.4): decode to their 16-bit pixels, re-encode to
// their bytes.
TEST(Golden, SixteenBitStreamsDecodeToTheirPixelsAndReEncodeToTheirBytes) {
  for (const test::SixteenBitGolden& g : test::SixteenBitGoldens()) {
    SCOPED_TRACE(g.stem);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    ASSERT_EQ(expected.bit_depth, 16u);
    const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
    EXPECT_EQ(info.bits_per_sample, 16u);
    EXPECT_EQ(info.coding, g.coding);
    EXPECT_EQ(Decode(stream), expected);
    const EncodeResult r = Encode(expected, test::SixteenBitOptions(g));
    EXPECT_EQ(r.stream, stream) << "the encoder no longer produces the golden bytes";
    EXPECT_EQ(test::SixteenBitGoldenImage(g), expected);
  }
}

TEST(Golden, WavefrontStreamsDecodeToTheirPixelsAndReEncodeToTheirBytes) {
  for (const test::WavefrontGolden& g : test::WavefrontGoldens()) {
    SCOPED_TRACE(g.stem);
    if (!test::Ships(g.model))
      GTEST_SKIP() << "this build does not ship " << g.model << " (no neural models)";
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
    EXPECT_EQ(info.version_major, 2u);
    EXPECT_EQ(info.order, Order::kRaster);
    EXPECT_EQ(info.layout, Layout::kWavefront);
    EXPECT_EQ(Decode(stream), expected);
    ExpectReEncodesToBothGoldens(g.stem, Encode(expected, test::WavefrontOptions(g)).stream, expected);
    EXPECT_EQ(test::MakeImage(g.width, g.height, g.channels, g.seed), expected);
    EXPECT_EQ(info.adaptive, g.adaptive);
    // The raster layout codes the same conditionals: the same model bits (without the stage,
    // whose contexts depend on the order it sees the pixels in).
    EncodeOptions raster = test::WavefrontOptions(g);
    raster.layout = Layout::kRaster;
    const EncodeResult r = Encode(expected, raster), w = Encode(expected, test::WavefrontOptions(g));
    if (!g.adaptive) {
      EXPECT_NEAR(r.model_bits, w.model_bits, 1e-9 * r.model_bits);
      EXPECT_EQ(codec::LegacyMajorVersionFor(test::HeaderOf(r.stream, nullptr)), 1u);
    }
    EXPECT_EQ(Decode(r.stream), expected);
  }
}

TEST(Golden, FallbackStreamsDecodeToTheirPixelsAndReEncodeToTheirBytes) {
  for (const test::FallbackGolden& g : test::FallbackGoldens()) {
    SCOPED_TRACE(g.stem);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
    EXPECT_EQ(info.version_major, 3u);
    EXPECT_EQ(info.coding, g.coding);
    EXPECT_EQ(Decode(stream), expected);
    const EncodeResult r = Encode(expected, test::FallbackOptions());
    EXPECT_EQ(r.coding, g.coding);
    ExpectReEncodesToBothGoldens(g.stem, r.stream, expected);
    EXPECT_EQ(test::FallbackGoldenImage(g), expected);
  }
}

TEST(Golden, VersionOneStreamWithTheWavefrontOrderByteIsCorrupt) {
  const test::WavefrontGolden& g = test::WavefrontGoldens().front();
  const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
  size_t hb = 0;
  test::HeaderOf(stream, &hb);
  std::vector<uint8_t> v1 = stream;
  v1[4] = 1;  // version_major, u16 little-endian
  v1[5] = 0;
  test::FixHeaderCrc(v1, hb);
  try {
    Decode(v1);
    ADD_FAILURE() << "decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput) << e.what();
  }
}

TEST(Golden, NewerMinorVersionWithExtensionBytesStillDecodes) {
  const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + test::kFutureMinorGolden);
  const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
  EXPECT_EQ(info.version_major, 1u);
  EXPECT_EQ(info.version_minor, 7u);
  const test::ValidGolden& base = test::ValidGoldens().front();
  const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + base.stem + test::PnmExtension(base.channels)));
  EXPECT_EQ(Decode(stream), expected);
}

TEST(Golden, MetadataEntriesReadBackAndReEncodeToTheirBytes) {
  const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + test::kMetadataGolden);
  const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
  EXPECT_EQ(info.version_major, 1u);
  EXPECT_EQ(info.version_minor, 1u);
  EXPECT_FALSE(info.metadata_unreadable);
  EXPECT_EQ(info.metadata, test::MetadataGolden());
  const test::ValidGolden& base = test::ValidGoldens().front();
  const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + base.stem + test::PnmExtension(base.channels)));
  EXPECT_EQ(Decode(stream), expected);
  EncodeOptions options = test::Order0Options();
  options.metadata = test::MetadataGolden();
  const std::string stem = std::string(test::kMetadataGolden).substr(0, std::string(test::kMetadataGolden).find('.'));
  ExpectReEncodesToBothGoldens(stem, Encode(expected, options).stream, expected);
  const std::vector<uint8_t> compact = test::ReadFileBytes(kDir + "/" + test::CompactGoldenFile(stem));
  const StreamInfo compact_info = ReadStreamInfo(compact.data(), compact.size());
  EXPECT_EQ(compact_info.version_minor, 1u);
  EXPECT_EQ(compact_info.metadata, test::MetadataGolden());
  // Without metadata the stream is the 4.0 twin of the 1.0 golden, byte for byte.
  EXPECT_EQ(Encode(expected, test::Order0Options()).stream,
            test::ReadFileBytes(kDir + "/" + test::CompactGoldenFile(base.stem)));
}

// Source-format entries (format 4.2): decode to their pixels, read back their records (a
// palette's PLTE and tRNS completed from the image), re-encode to their bytes; the damaged
// ones are corrupt.
TEST(Golden, SourceFormatStreamsDecodeReadBackTheirRecordAndReEncodeToTheirBytes) {
  for (const test::SourceGolden& g : test::SourceGoldens()) {
    SCOPED_TRACE(g.stem);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.stem + ".pxz");
    const Image expected = test::ParsePnm(test::ReadFileBytes(kDir + "/" + g.stem + test::PnmExtension(g.channels)));
    EXPECT_EQ(test::SourceGoldenImage(g), expected);
    const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
    EXPECT_EQ(info.version_major, 4u);
    EXPECT_EQ(info.version_minor, 2u);
    EXPECT_FALSE(info.metadata_unreadable);
    EXPECT_EQ(info.source.maxval, g.source.maxval);
    EXPECT_EQ(info.source.png_colour_type, g.source.png_colour_type);
    EXPECT_TRUE(info.source.plte.empty());  // completed only with the image
    const Image decoded = Decode(stream);
    EXPECT_EQ(decoded, expected);
    EXPECT_EQ(ReadSourceFormat(stream.data(), stream.size(), decoded), g.source);
    EXPECT_EQ(Encode(expected, test::SourceOptions(g)).stream, stream) << "the encoder no longer produces the golden bytes";
    // Without the record: the stream of the same coding with no extension (minor 0).
    const std::vector<uint8_t> plain = Encode(expected, test::Order0Options()).stream;
    EXPECT_EQ(ReadStreamInfo(plain.data(), plain.size()).version_minor, 0u);
    EXPECT_LT(plain.size(), stream.size());
  }
  for (const char* name : {test::kSourceAboveMaxvalGolden, test::kSourceBadPaletteGolden}) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + name);
    EXPECT_NO_THROW(ReadStreamInfo(stream.data(), stream.size()));
    try {
      Decode(stream);
      ADD_FAILURE() << "decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorruptInput) << e.what();
    }
  }
}

TEST(Golden, ExtensionBytesThatAreNotEntriesAreIgnored) {
  const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + test::kFutureMinorGolden);
  const StreamInfo info = ReadStreamInfo(stream.data(), stream.size());
  EXPECT_TRUE(info.metadata_unreadable);
  EXPECT_TRUE(info.metadata.empty());
}

class InvalidGolden : public ::testing::TestWithParam<test::InvalidGolden> {};

TEST_P(InvalidGolden, FailsWithItsErrorCode) {
  const test::InvalidGolden& g = GetParam();
  const std::vector<uint8_t> stream = test::ReadFileBytes(kDir + "/" + g.file);
  try {
    // An exact-size copy (the vector itself), so that any over-read is a sanitizer error.
    Decode(stream.data(), stream.size());
    ADD_FAILURE() << g.file << " decoded without error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), g.code) << g.file << ": got " << ErrorCodeName(e.code()) << " (" << e.what()
                                << "), expected " << ErrorCodeName(g.code);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, InvalidGolden, ::testing::ValuesIn(test::InvalidGoldens()),
                         [](const auto& info) {
                           std::string name = info.param.file;
                           name = name.substr(0, name.find('.'));
                           return name;
                         });

}  // namespace
}  // namespace pixelzip
