// Bad input of every kind is refused with a pixelzip::Error naming the file;
// nothing crashes, nothing allocates a size taken on trust.
#include <zlib.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/image_io.h"
#include "test_util.h"

namespace pixelzip {
namespace {

using formats_test::CatchError;
using formats_test::PngSuiteDir;
using formats_test::ReadFileBytes;

Error ReadError(const std::vector<uint8_t>& bytes, const std::string& name = "test.bin") {
  return CatchError([&] { ReadImageBytes(bytes.data(), bytes.size(), name); });
}

Error ReadError(const std::string& text, const std::string& name = "test.bin") {
  return ReadError(std::vector<uint8_t>(text.begin(), text.end()), name);
}

bool Mentions(const Error& e, const std::string& s) { return std::string(e.what()).find(s) != std::string::npos; }

// Either decodes to a consistent image or throws pixelzip::Error; anything
// else (another exception type, a crash) fails.
void ExpectDecodesOrRefuses(const std::vector<uint8_t>& bytes, const std::string& what) {
  try {
    const Image image = ReadImageBytes(bytes.data(), bytes.size(), "fuzz");
    EXPECT_GE(image.width, 1u) << what;
    EXPECT_GE(image.height, 1u) << what;
    EXPECT_GE(image.channels, 1u) << what;
    EXPECT_LE(image.channels, 4u) << what;
    EXPECT_EQ(image.pixels.size(), image.SubpixelCount()) << what;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("fuzz: ", 0), 0u) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": non-pixelzip exception: " << e.what();
  }
}

void PutBe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void AppendChunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  PutBe32(png, static_cast<uint32_t>(data.size()));
  const size_t type_pos = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, png.data() + type_pos, static_cast<uInt>(data.size() + 4)));
  PutBe32(png, crc);
}

// A syntactically valid PNG start with the given IHDR and a small IDAT.
std::vector<uint8_t> PngWithHeader(uint32_t width, uint32_t height, uint8_t depth, uint8_t color_type) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  PutBe32(ihdr, width);
  PutBe32(ihdr, height);
  ihdr.insert(ihdr.end(), {depth, color_type, 0, 0, 0});
  AppendChunk(png, "IHDR", ihdr);
  if (color_type == 3) AppendChunk(png, "PLTE", {0, 0, 0, 255, 255, 255});
  AppendChunk(png, "IDAT", {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
  AppendChunk(png, "IEND", {});
  return png;
}

// Recomputes every chunk CRC so mutations reach past the CRC check.
void FixCrcs(std::vector<uint8_t>& png) {
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    const uint32_t length = (uint32_t{png[pos]} << 24) | (uint32_t{png[pos + 1]} << 16) |
                            (uint32_t{png[pos + 2]} << 8) | png[pos + 3];
    if (length > png.size() - pos - 12) return;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, png.data() + pos + 4, length + 4));
    for (int i = 0; i < 4; ++i) png[pos + 8 + length + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    pos += 12 + size_t{length};
  }
}

// ------------------------------------------------------------------- PNG

TEST(PngRobustnessTest, TruncatedAtEveryLength) {
  for (const char* file : {"basn2c08.png", "basi6a08.png", "basn3p02.png", "tbbn0g04.png"}) {
    const std::vector<uint8_t> bytes = ReadFileBytes(PngSuiteDir() + "/" + file);
    ASSERT_GT(bytes.size(), 50u);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
      const Error e = ReadError(prefix, file);
      EXPECT_EQ(e.code(), ErrorCode::kTruncatedInput) << file << " cut at " << cut << ": " << e.what();
      EXPECT_TRUE(Mentions(e, file)) << e.what();
    }
    // The whole file still loads.
    EXPECT_NO_THROW(ReadImageBytes(bytes.data(), bytes.size(), file));
  }
}

TEST(PngRobustnessTest, RandomBytesRefused) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> bytes(rng() % 400);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    const Error e = ReadError(bytes, "random.bin");
    EXPECT_TRUE(Mentions(e, "random.bin")) << e.what();
  }
  // Random bytes after a correct signature.
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> bytes = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    bytes.resize(8 + rng() % 400);
    for (size_t j = 8; j < bytes.size(); ++j) bytes[j] = static_cast<uint8_t>(rng());
    const Error e = ReadError(bytes, "random.png");
    EXPECT_TRUE(e.code() == ErrorCode::kCorruptInput || e.code() == ErrorCode::kTruncatedInput) << e.what();
    EXPECT_TRUE(Mentions(e, "random.png")) << e.what();
  }
}

TEST(PngRobustnessTest, MutatedFilesDecodeOrRefuse) {
  std::mt19937 rng(99);
  int refused = 0, decoded = 0;
  for (const char* file : {"basn2c08.png", "basi6a08.png", "basn3p04.png", "tbbn0g04.png", "s09i3p02.png",
                           "basi0g01.png"}) {
    const std::vector<uint8_t> original = ReadFileBytes(PngSuiteDir() + "/" + file);
    for (int i = 0; i < 600; ++i) {
      std::vector<uint8_t> bytes = original;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bytes[8 + rng() % (bytes.size() - 8)] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
      if (i % 2 == 0) FixCrcs(bytes);
      try {
        ReadImageBytes(bytes.data(), bytes.size(), "fuzz");
        ++decoded;
      } catch (const Error&) {
        ++refused;
      }
      ExpectDecodesOrRefuses(bytes, std::string(file) + " mutation " + std::to_string(i));
    }
  }
  std::cout << "mutated PNGs: " << decoded << " decoded, " << refused << " refused\n";
  EXPECT_GT(refused, 0);
}

TEST(PngRobustnessTest, HugeDimensionsRefusedBeforeAllocation) {
  // 46341^2 > 2^31: one byte per pixel is already over the limit.
  Error e = ReadError(PngWithHeader(46341, 46341, 8, 0), "huge.png");
  EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded) << e.what();
  EXPECT_TRUE(Mentions(e, "huge.png")) << e.what();
  // Fits as grey (2^30 bytes would be allowed) but not as RGBA; here 2^31 + 4 bytes.
  e = ReadError(PngWithHeader(32769, 16384, 8, 6), "rgba.png");
  EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded) << e.what();
  // PNG's own maximum, 2^31 - 1 in both directions.
  e = ReadError(PngWithHeader(0x7fffffff, 0x7fffffff, 8, 2), "max.png");
  EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded) << e.what();
  // Palette images grow to RGB: the check uses the expanded size.
  e = ReadError(PngWithHeader(40000, 40000, 1, 3), "palette.png");
  EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded) << e.what();
}

TEST(PngRobustnessTest, DimensionsTooLargeForTheFileRefusedBeforeAllocation) {
  // Within kMaxImageBytes, but 10^8 bytes can't inflate from a few bytes.
  const Error e = ReadError(PngWithHeader(10000, 10000, 8, 0), "short.png");
  EXPECT_EQ(e.code(), ErrorCode::kTruncatedInput) << e.what();
  EXPECT_TRUE(Mentions(e, "short.png: truncated PNG: the file is too short to hold a 10000x10000 image")) << e.what();
}

TEST(PngRobustnessTest, BadHeadersRefusedAsCorrupt) {
  // Width 0, width beyond 2^31 - 1, bit depth 3, colour type 5, RGB at 4 bits.
  for (const auto& png : {PngWithHeader(0, 10, 8, 0), PngWithHeader(0x80000000u, 1, 8, 0),
                          PngWithHeader(10, 10, 3, 0), PngWithHeader(10, 10, 8, 5), PngWithHeader(10, 10, 4, 2)}) {
    const Error e = ReadError(png, "bad.png");
    EXPECT_EQ(e.code(), ErrorCode::kCorruptInput) << e.what();
    EXPECT_TRUE(Mentions(e, "bad.png: corrupt PNG")) << e.what();
  }
}

TEST(PngRobustnessTest, SmallValidSyntheticImageLoads) {
  // 1x1 grey, one zero byte compressed: filter byte 0 + pixel 0.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  PutBe32(ihdr, 1);
  PutBe32(ihdr, 1);
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});
  AppendChunk(png, "IHDR", ihdr);
  uint8_t raw[2] = {0, 77};
  std::vector<uint8_t> z(64);
  uLongf zlen = z.size();
  ASSERT_EQ(compress(z.data(), &zlen, raw, 2), Z_OK);
  z.resize(zlen);
  AppendChunk(png, "IDAT", z);
  AppendChunk(png, "IEND", {});
  const Image image = ReadImageBytes(png.data(), png.size(), "one.png");
  EXPECT_EQ(image.width, 1u);
  EXPECT_EQ(image.channels, 1u);
  EXPECT_EQ(image.pixels, std::vector<uint8_t>{77});
}

TEST(FormatDetectionTest, UnknownAndEmptyInputRefused) {
  Error e = ReadError(std::vector<uint8_t>{}, "empty.png");
  EXPECT_EQ(e.code(), ErrorCode::kTruncatedInput);
  EXPECT_TRUE(Mentions(e, "empty.png")) << e.what();

  e = ReadError(std::string("\xff\xd8\xff\xe0 JFIF........"), "photo.jpg");
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(Mentions(e, "photo.jpg: unrecognised file format")) << e.what();

  e = ReadError(std::string("P1\n1 1\n0\n"), "plain.pbm");
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(Mentions(e, "P1")) << e.what();

  e = ReadError(std::string("P4\n8 1\n\xff"), "bits.pbm");
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);

  e = ReadError(std::string("\x89PNG\r\n\x1a"), "short.png");
  EXPECT_EQ(e.code(), ErrorCode::kTruncatedInput);

  e = ReadError(std::string("\x89PNG\n\n\x1a\n0000000000000000"), "lf.png");
  EXPECT_EQ(e.code(), ErrorCode::kCorruptInput);
  EXPECT_TRUE(Mentions(e, "lf.png: corrupt PNG: bad signature")) << e.what();
}

// ------------------------------------------------------------------- PNM

struct PnmCase {
  std::string bytes;
  ErrorCode code;
  const char* message_part;
};

TEST(PnmRobustnessTest, MalformedHeadersRefused) {
  const std::string px4(4, 'x');
  const std::vector<PnmCase> cases = {
      {"P5\n100000 100000\n255\n" + px4, ErrorCode::kLimitExceeded, "limit"},
      {"P6\n65536 32768\n255\n" + px4, ErrorCode::kLimitExceeded, "limit"},
      {"P5\n99999999999999999999999 1\n255\n" + px4, ErrorCode::kLimitExceeded, "too large"},
      // Numbers beyond 64 bits are shown as written, not clamped.
      {"P5\n99999999999999999999999 1\n255\n" + px4, ErrorCode::kLimitExceeded, "99999999999999999999999x1"},
      {"P5\n2 2\n123456789012345678901234567890\n" + px4, ErrorCode::kCorruptInput,
       "got 123456789012345678901234567890)"},
      {"P5\n2 2\n" + std::string(100, '7') + "\n" + px4, ErrorCode::kCorruptInput, "(100 digits)"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 00000000000000000000000000000000000000005\nMAXVAL 255\nENDHDR\n",
       ErrorCode::kUnsupported, "DEPTH 00000000000000000000000000000000000000005 is"},
      {"P5\n2 2\n65535\n" + px4, ErrorCode::kTruncatedInput, "8 bytes"},
      // Any maxval 1-65535 reads; samples above it ('x' is 120, "xx" 30840) are corrupt.
      {"P5\n2 2\n1000\n" + px4 + px4, ErrorCode::kCorruptInput, "sample value 30840 at x 0, y 0, channel 0 is above the maxval 1000"},
      {"P5\n2 2\n15\n" + px4, ErrorCode::kCorruptInput, "above the maxval 15"},
      {"P5\n2 2\n0\n" + px4, ErrorCode::kCorruptInput, "maxval"},
      {"P5\n2 2\n70000\n" + px4, ErrorCode::kCorruptInput, "maxval"},
      {"P5\n0 2\n255\n", ErrorCode::kCorruptInput, "at least 1"},
      {"P5\n-2 2\n255\n" + px4, ErrorCode::kCorruptInput, "width"},
      {"P5\n2 x\n255\n" + px4, ErrorCode::kCorruptInput, "height"},
      {"P5\n2 2\n255x" + px4, ErrorCode::kCorruptInput, "whitespace after maxval"},
      {"P5\n2 2\n255\nxxx", ErrorCode::kTruncatedInput, "3 of the 4 bytes"},
      {"P6\n2 2\n255\n" + px4, ErrorCode::kTruncatedInput, "4 of the 12 bytes"},
      {"P5\n2 2\n255", ErrorCode::kTruncatedInput, "before the pixel data"},
      {"P5\n2 2\n", ErrorCode::kTruncatedInput, "maxval"},
      {"P5\n2", ErrorCode::kTruncatedInput, "height"},
      {"P5", ErrorCode::kTruncatedInput, "header"},
      {"P5 # comment to the end", ErrorCode::kTruncatedInput, "width"},
      {"P5x2 2 255\n" + px4, ErrorCode::kUnsupported, "unrecognised"},
      {"P5\n2 2\n255\n" + px4 + "P5\n2 2\n255\n" + px4, ErrorCode::kUnsupported, "multi-image"},
      // PAM
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 5\nMAXVAL 255\nENDHDR\n", ErrorCode::kUnsupported, "DEPTH 5"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 0\nMAXVAL 255\nENDHDR\n", ErrorCode::kCorruptInput, "DEPTH"},
      {"P7\nWIDTH 2\nHEIGHT 2\nMAXVAL 255\nENDHDR\n" + px4, ErrorCode::kCorruptInput, "lacks"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\n" + px4, ErrorCode::kCorruptInput, "unknown header line"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\n", ErrorCode::kTruncatedInput, "ENDHDR"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nENDHDR", ErrorCode::kTruncatedInput, "before the pixel"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nENDHDR\nxx", ErrorCode::kTruncatedInput, "2 of the 4"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 4095\nENDHDR\n" + px4 + px4, ErrorCode::kCorruptInput, "above the maxval 4095"},
      {"P7\nWIDTH 2\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nENDHDR\n" + px4, ErrorCode::kCorruptInput, "twice"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 4\nMAXVAL 255\nTUPLTYPE CMYK\nENDHDR\n" + px4 + px4 + px4 + px4,
       ErrorCode::kUnsupported, "CMYK"},
      {"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + px4, ErrorCode::kCorruptInput,
       "does not match"},
      {"P7\nWIDTH 99999\nHEIGHT 99999\nDEPTH 4\nMAXVAL 255\nENDHDR\n" + px4, ErrorCode::kLimitExceeded, "limit"},
  };
  for (const PnmCase& c : cases) {
    const Error e = ReadError(c.bytes, "bad.pnm");
    EXPECT_EQ(e.code(), c.code) << "input: " << c.bytes.substr(0, 60) << "\nmessage: " << e.what();
    EXPECT_TRUE(Mentions(e, c.message_part)) << "expected '" << c.message_part << "' in: " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.pnm: ", 0), 0u) << e.what();
  }
}

TEST(PnmRobustnessTest, HeaderVariantsAccepted) {
  // Comments anywhere in the header, varied whitespace, comment after maxval.
  const std::vector<std::string> headers = {
      "P5\n2 2\n255\n",
      "P5 2 2 255 ",
      "P5\n# made by hand\n2 # width\n  2\t# height\n255\n",
      "P5\n2\r\n2\r\n255\n",
      "P5\n2 2\n255# comment\n",
      "P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n",
      "P7\n# comment\nHEIGHT 2\nWIDTH 2\nMAXVAL 255\nDEPTH 1\nENDHDR\n",
  };
  for (const std::string& header : headers) {
    const std::string bytes = header + "\x01\x02\x03\x04";
    const std::vector<uint8_t> data(bytes.begin(), bytes.end());
    const Image image = ReadImageBytes(data.data(), data.size(), "ok.pgm");
    EXPECT_EQ(image.width, 2u) << header;
    EXPECT_EQ(image.height, 2u) << header;
    EXPECT_EQ(image.channels, 1u) << header;
    EXPECT_EQ(image.pixels, (std::vector<uint8_t>{1, 2, 3, 4})) << header;
  }
  // Trailing whitespace after the raster is tolerated.
  const std::string bytes = std::string("P5\n1 1\n255\n\x07") + "\n";
  const std::vector<uint8_t> data(bytes.begin(), bytes.end());
  EXPECT_EQ(ReadImageBytes(data.data(), data.size(), "ok.pgm").pixels, std::vector<uint8_t>{7});
}

TEST(PnmRobustnessTest, MutatedHeadersDecodeOrRefuse) {
  std::mt19937 rng(7);
  const std::string base = "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n" +
                           std::string(12, 'a');
  const std::string base2 = "P6\n# c\n3 2\n255\n" + std::string(18, 'b');
  for (const std::string& original : {base, base2}) {
    for (int i = 0; i < 3000; ++i) {
      std::vector<uint8_t> bytes(original.begin(), original.end());
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < edits; ++k) {
        const size_t pos = rng() % bytes.size();
        switch (rng() % 3) {
          case 0: bytes[pos] = static_cast<uint8_t>(rng()); break;
          case 1: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos)); break;
          default: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pos), "0123456789 #\n"[rng() % 13]);
        }
        if (bytes.empty()) break;
      }
      ExpectDecodesOrRefuses(bytes, "pnm mutation");
    }
  }
}

}  // namespace
}  // namespace pixelzip
