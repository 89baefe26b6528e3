// 16-bit images through the pixelzip binary: compress, decompress (PNG and PNM/PAM), verify,
// info and compare on files the test makes; the stream does not depend on --threads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/image_io.h"
#include "pixelzip/image.h"
#include "test_util.h"

namespace pixelzip::cli::testing {
namespace {

// A 16-bit image: MakeImage's values in the high byte, a smooth ramp with noise in the low.
Image MakeImage16(uint32_t width, uint32_t height, uint32_t channels, uint32_t seed) {
  const Image eight = MakeImage(width, height, channels, seed);
  Image image = eight;
  image.bit_depth = 16;
  image.pixels.assign(image.ByteCount(), 0);
  uint32_t state = seed;
  for (size_t i = 0; i < image.SubpixelCount(); ++i) {
    state = state * 1103515245u + 12345u;
    image.set_sample(i, static_cast<uint16_t>(eight.pixels[i] << 8 | ((i * 3 + (state >> 20)) & 0xff)));
  }
  return image;
}

std::string Text(const RunResult& r) { return std::string(r.out.begin(), r.out.end()); }

TEST(CliSixteenBit, CompressDecompressVerifyAndInfo) {
  ScratchDir dir;
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    SCOPED_TRACE(std::to_string(channels) + " channels");
    const Image image = MakeImage16(19, 7, channels, channels);
    const std::string png = dir / "in.png";
    WriteBytes(png, EncodePng(image));
    RunResult r = RunPixelzip({"compress", png, "-f", "-v", "-o", dir / "in.pxz"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(" channel" + std::string(channels == 1 ? "" : "s") + ", 16-bit; "), std::string::npos) << r.err;
    r = RunPixelzip({"info", dir / "in.pxz"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(Text(r).find("bits per sample: 16\n"), std::string::npos) << Text(r);
    for (const std::string out : {"out.png", channels == 1 ? "out.pgm" : channels == 3 ? "out.ppm" : "out.pam"}) {
      r = RunPixelzip({"decompress", dir / "in.pxz", "-f", "-o", dir / out});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const Image back = ReadImageFile(dir / out);
      EXPECT_EQ(back.bit_depth, 16u) << out;
      EXPECT_EQ(back, image) << out;
      r = RunPixelzip({"verify", png, dir / out});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(Text(r).find("identical"), std::string::npos) << Text(r);
      EXPECT_NE(Text(r).find("16-bit"), std::string::npos) << Text(r);
    }
    r = RunPixelzip({"verify", png, dir / "in.pxz"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

// A 16-bit PNM/PAM input (maxval 65535) round-trips too, and verify sees a one-unit change in
// a low byte.
TEST(CliSixteenBit, PnmInputAndVerifySeesLowByteChanges) {
  ScratchDir dir;
  Image image = MakeImage16(11, 9, 3, 4);
  WriteBytes(dir / "in.ppm", EncodePnm(image));
  RunResult r = RunPixelzip({"compress", dir / "in.ppm", "-o", dir / "in.pxz"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunPixelzip({"decompress", dir / "in.pxz", "-o", dir / "out.ppm"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadBytes(dir / "out.ppm"), ReadBytes(dir / "in.ppm"));
  image.set_sample(5, static_cast<uint16_t>(image.sample(5) ^ 1));
  WriteBytes(dir / "changed.ppm", EncodePnm(image));
  r = RunPixelzip({"verify", dir / "in.ppm", dir / "changed.ppm"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(Text(r).find("differ: 1 subpixels"), std::string::npos) << Text(r);
}

TEST(CliSixteenBit, ThreadsDoNotChangeTheStreamAndCompareRuns) {
  ScratchDir dir;
  const Image image = MakeImage16(31, 17, 4, 9);
  WriteBytes(dir / "in.png", EncodePng(image));
  std::vector<std::vector<uint8_t>> streams;
  for (const std::string threads : {"1", "2"}) {
    const RunResult r =
        RunPixelzip({"compress", dir / "in.png", "-f", "-o", dir / ("t" + threads + ".pxz"), "--threads", threads});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    streams.push_back(ReadBytes(dir / ("t" + threads + ".pxz")));
  }
  EXPECT_EQ(streams[0], streams[1]);
  const RunResult r = RunPixelzip({"compare", dir / "in.png", "--order", "raster", "--threads", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Text(r).find("in.png"), std::string::npos) << Text(r);
}

}  // namespace
}  // namespace pixelzip::cli::testing
