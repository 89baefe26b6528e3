// The source's format through the pixelzip binary (format 4.2): PNM/PAM of any maxval come
// back byte for byte (PNG output scales them, with a warning), a sample above the maxval is
// refused, a palette PNG comes back with its PLTE and tRNS in order, an RGB PNG as RGB.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/image_io.h"
#include "pixelzip/image.h"
#include "test_util.h"
#include "tests/formats/png_chunks.h"

namespace pixelzip::cli::testing {
namespace {

std::string Text(const RunResult& r) { return std::string(r.out.begin(), r.out.end()); }

// A PNM file as EncodePnm writes it ("P5\n# comment\nW H\nMAXVAL\n" then the raster), or
// the plain form (P2, P3) of the same samples.
std::vector<uint8_t> PnmFile(uint32_t width, uint32_t height, uint32_t channels, uint32_t maxval, bool plain) {
  std::string out = std::string(channels == 1 ? (plain ? "P2" : "P5") : (plain ? "P3" : "P6")) + "\n# from the test\n" +
                    std::to_string(width) + " " + std::to_string(height) + "\n" + std::to_string(maxval) + "\n";
  uint32_t state = maxval;
  for (size_t i = 0; i < size_t{width} * height * channels; ++i) {
    state = state * 1103515245u + 12345u;
    const uint32_t v = i == 0 ? maxval : (state >> 8) % (maxval + 1);
    if (plain) {
      out += std::to_string(v) + "\n";
    } else {
      if (maxval > 255) out += static_cast<char>(v >> 8);
      out += static_cast<char>(v & 255);
    }
  }
  return std::vector<uint8_t>(out.begin(), out.end());
}

TEST(CliSourceFormat, PnmOfAnyMaxvalComesBackByteForByte) {
  ScratchDir dir;
  for (const uint32_t maxval : {1u, 15u, 100u, 255u, 1000u, 4095u, 65534u}) {
    for (const uint32_t channels : {1u, 3u}) {
      for (const bool plain : {false, true}) {
        SCOPED_TRACE("maxval " + std::to_string(maxval) + ", " + std::to_string(channels) + " channels" +
                     (plain ? ", plain" : ""));
        const std::string ext = channels == 1 ? ".pgm" : ".ppm";
        const std::string in = dir / ("in" + ext), out = dir / ("out" + ext);
        WriteBytes(in, PnmFile(11, 6, channels, maxval, plain));
        RunResult r = RunPixelzip({"compress", in, "-f", "-o", dir / "in.pxz"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        r = RunPixelzip({"info", dir / "in.pxz"});
        EXPECT_NE(Text(r).find(maxval == 255 ? "source format: not recorded"
                                             : "source format: PNM maxval " + std::to_string(maxval) + "\n"),
                  std::string::npos)
            << Text(r);
        r = RunPixelzip({"decompress", dir / "in.pxz", "-f", "-o", out});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_TRUE(r.err.empty()) << r.err;
        // Binary out: the same bytes as the binary form of the input.
        EXPECT_EQ(ReadBytes(out), PnmFile(11, 6, channels, maxval, false));
      }
    }
  }
}

TEST(CliSourceFormat, PngOutputOfAPnmMaxvalWarnsAndStripKeepsTheMaxval) {
  ScratchDir dir;
  WriteBytes(dir / "in.pgm", PnmFile(8, 5, 1, 15, false));
  RunResult r = RunPixelzip({"compress", dir / "in.pgm", "--strip", "-o", dir / "in.pxz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunPixelzip({"decompress", dir / "in.pxz", "-o", dir / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.ErrLines(), std::vector<std::string>{"pixelzip: " + dir / "out.png" +
                                                   ": warning: not kept: PNM maxval 15: PNG cannot hold it; the "
                                                   "samples are scaled to 0-255 with an sBIT chunk of 4 bits "
                                                   "(decompress to .pgm, .ppm or .pam to keep it)"});
  const Image png = ReadImageFile(dir / "out.png");
  const Image pgm = ReadImageFile(dir / "in.pgm");
  for (size_t i = 0; i < pgm.SubpixelCount(); ++i) EXPECT_EQ(png.pixels[i], pgm.pixels[i] * 17) << i;
  r = RunPixelzip({"decompress", dir / "in.pxz", "-o", dir / "out.pgm"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint8_t> expected = PnmFile(8, 5, 1, 15, false);
  const std::string comment = "# from the test\n";
  expected.erase(expected.begin() + 3, expected.begin() + 3 + static_cast<std::ptrdiff_t>(comment.size()));  // --strip
  EXPECT_EQ(ReadBytes(dir / "out.pgm"), expected);
}

TEST(CliSourceFormat, ASampleAboveTheMaxvalIsRefused) {
  ScratchDir dir;
  WriteBytes(dir / "bad.pgm", std::vector<uint8_t>{'P', '2', '\n', '2', ' ', '1', '\n', '9', '\n', '3', ' ', '1', '0', '\n'});
  const RunResult r = RunPixelzip({"compress", dir / "bad.pgm"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.ErrLines(), std::vector<std::string>{"pixelzip: " + dir / "bad.pgm" +
                                                   ": corrupt PNM: sample value 10 at x 1, y 0, channel 0 is "
                                                   "above the maxval 9"});
}

// A palette PNG of 8 entries in no particular order (one unused, one a duplicate) with tRNS.
std::vector<uint8_t> PalettePng() {
  const std::vector<uint8_t> plte = {90, 1, 2, 0, 0, 0, 3, 200, 4, 90, 1, 2, 255, 255, 255, 7, 7, 250, 1, 1, 1, 50, 60, 70};
  const std::vector<uint8_t> trns = {255, 0, 128, 255, 9};
  std::vector<uint8_t> indices;
  for (uint32_t i = 0; i < 12 * 7; ++i) indices.push_back(static_cast<uint8_t>((i * 5 + i / 12) % 7 == 3 ? 4 : (i * 5 + i / 12) % 7));
  return png_test::PngFromChunks({png_test::Ihdr(12, 7, 8, 3), {"PLTE", plte}, {"tRNS", trns},
                                  png_test::Idat(indices, 12), {"IEND", {}}});
}

std::vector<png_test::Chunk> Critical(const std::vector<uint8_t>& png) {
  std::vector<png_test::Chunk> out;
  for (png_test::Chunk& c : png_test::ChunksOf(png))
    if (c.type == "IHDR" || c.type == "PLTE" || c.type == "tRNS") out.push_back(c);
  return out;
}

TEST(CliSourceFormat, APalettePngComesBackWithItsPalette) {
  ScratchDir dir;
  const std::vector<uint8_t> in = PalettePng();
  WriteBytes(dir / "in.png", in);
  for (const std::string flags : {"", "--strip"}) {
    SCOPED_TRACE(flags);
    std::vector<std::string> args = {"compress", dir / "in.png", "-f", "-o", dir / "in.pxz"};
    if (!flags.empty()) args.push_back(flags);
    RunResult r = RunPixelzip(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunPixelzip({"info", dir / "in.pxz"});
    EXPECT_NE(Text(r).find("format version: 4.2\n"), std::string::npos) << Text(r);
    EXPECT_NE(Text(r).find("source format: palette PNG, 8-bit\n"), std::string::npos) << Text(r);
    r = RunPixelzip({"decompress", dir / "in.pxz", "-f", "-o", dir / "out.png"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<uint8_t> out = ReadBytes(dir / "out.png");
    EXPECT_EQ(Critical(out), Critical(in));  // IHDR (colour type 3, depth 8), PLTE and tRNS as they were
    EXPECT_EQ(ReadImageBytes(out.data(), out.size(), "out.png"), ReadImageBytes(in.data(), in.size(), "in.png"));
  }
}

TEST(CliSourceFormat, AnRgbPngWithFewColoursComesBackAsRgbAndOldStreamsKeepTheirRule) {
  ScratchDir dir;
  const Image image = ReadImageBytes(PalettePng().data(), PalettePng().size(), "p.png");  // RGBA, 6 colours
  Image rgb = image;
  rgb.channels = 3;
  rgb.pixels.clear();
  for (size_t i = 0; i < image.SubpixelCount(); i += 4) rgb.pixels.insert(rgb.pixels.end(), &image.pixels[i], &image.pixels[i + 3]);
  WriteBytes(dir / "rgb.png", EncodePng(rgb));
  RunResult r = RunPixelzip({"compress", dir / "rgb.png", "-o", dir / "rgb.pxz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunPixelzip({"decompress", dir / "rgb.pxz", "-o", dir / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadBytes(dir / "out.png").at(25), 2);  // RGB, as it came in
  EXPECT_EQ(ReadImageFile(dir / "out.png"), rgb);
  // The same pixels from a PPM: no record, so the rule of older streams: a palette PNG.
  WriteBytes(dir / "rgb.ppm", EncodePnm(rgb));
  r = RunPixelzip({"compress", dir / "rgb.ppm", "-o", dir / "ppm.pxz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunPixelzip({"info", dir / "ppm.pxz"});
  EXPECT_NE(Text(r).find("format version: 4.0\n"), std::string::npos) << Text(r);
  r = RunPixelzip({"decompress", dir / "ppm.pxz", "-o", dir / "ppm.png"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadBytes(dir / "ppm.png").at(25), 3);
  EXPECT_EQ(ReadImageFile(dir / "ppm.png"), rgb);
}

// A 1-, 2- or 4-bit grey PNG (also with tRNS) comes back at its own depth: IHDR (colour type 0,
// the depth) as it was, tRNS kept, the same pixels; the .pxz smaller than the PNG. The same
// pixels from a PGM (no record) come back as 8-bit grey, the rule of older streams.
TEST(CliSourceFormat, ALowBitGreyPngComesBackAtItsDepth) {
  ScratchDir dir;
  for (const std::string name : {"basn0g01.png", "basn0g02.png", "basn0g04.png", "tbbn0g04.png"}) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> in = ReadBytes(std::string(PIXELZIP_PNGSUITE_DIR) + "/" + name);
    WriteBytes(dir / "in.png", in);
    RunResult r = RunPixelzip({"compress", dir / "in.png", "-f", "-o", dir / "in.pxz"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(ReadBytes(dir / "in.pxz").size(), in.size());
    r = RunPixelzip({"info", dir / "in.pxz"});
    EXPECT_NE(Text(r).find("source format: grey PNG, " + std::to_string(in.at(24)) + "-bit\n"), std::string::npos)
        << Text(r);
    r = RunPixelzip({"decompress", dir / "in.pxz", "-f", "-o", dir / "out.png"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<uint8_t> out = ReadBytes(dir / "out.png");
    EXPECT_EQ(Critical(out), Critical(in));  // IHDR (colour type 0, the depth; interlace 0 as in these) and tRNS
    const Image image = ReadImageBytes(in.data(), in.size(), "in.png");
    EXPECT_EQ(ReadImageBytes(out.data(), out.size(), "out.png"), image);
    if (image.channels != 1) continue;
    WriteBytes(dir / "in.pgm", EncodePnm(image));
    r = RunPixelzip({"compress", dir / "in.pgm", "-f", "-o", dir / "pgm.pxz"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunPixelzip({"decompress", dir / "pgm.pxz", "-f", "-o", dir / "pgm.png"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ReadBytes(dir / "pgm.png").at(24), 8);
    EXPECT_EQ(ReadImageFile(dir / "pgm.png"), image);
  }
}

}  // namespace
}  // namespace pixelzip::cli::testing
