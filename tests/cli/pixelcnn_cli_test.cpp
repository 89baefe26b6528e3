// The plain PixelCNN end to end through the binary: `pixelzip train --arch pixelcnn` exports a
// (tiny, briefly trained) model file, and an image round-trips with `--model FILE`.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "formats/image_io.h"
#include "test_util.h"

namespace pixelzip::cli {
namespace {

using testing::ReadBytes;
using testing::RunPixelzip;
using testing::RunResult;
using testing::ScratchDir;
using testing::WriteBytes;

TEST(PixelCnnCli, TrainedModelFileRoundTripsWithModelOption) {
  ScratchDir dir;
  const std::string data = dir / "data";
  std::filesystem::create_directory(data);
  for (uint32_t i = 0; i < 3; ++i) WriteBytes(data + "/img" + std::to_string(i) + ".png", EncodePng(testing::MakeImage(24, 20, 3, i + 1)));
  const std::string model = dir / "tiny.pxzm";
  RunResult r = RunPixelzip({"train", "--arch", "pixelcnn", "--hyper", "kernel=3,hidden=6,inner=3,blocks=1,head=6", "--data", data,
                             "--steps", "3", "--batch", "2", "--crop", "8", "--threads", "1", "--export", model});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Image image = testing::MakeImage(13, 9, 3, 5);
  const std::string in = dir / "in.png", packed = dir / "in.pxz", out = dir / "out.png";
  WriteBytes(in, EncodePng(image));
  r = RunPixelzip({"compress", in, "--model", model, "-o", packed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunPixelzip({"info", packed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find("architecture: pixelcnn"), std::string::npos);
  r = RunPixelzip({"decompress", packed, "--model", model, "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadImageFile(out), image);
}

}  // namespace
}  // namespace pixelzip::cli
