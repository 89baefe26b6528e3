// The pixelzip binary end to end: round trips, stdin/stdout, refusing to
// overwrite, corrupt input, info, verify, compare (rates beside PNG's) and
// --help. Every image is made here.
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "command_util.h"
#include "commands.h"
#include "formats/image_io.h"
#include "pixelzip/codec.h"
#include "pixelzip/image.h"
#include "test_util.h"
#include "../formats/png_chunks.h"

namespace pixelzip::cli {
namespace {

using testing::Exists;
using testing::MakeImage;
using testing::ReadBytes;
using testing::RunPixelzip;
using testing::RunResult;
using testing::RunSpec;
using testing::ScratchDir;
using testing::WriteBytes;

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + ", stderr: [" + r.err + "]";
}

// A failed run: the expected exit code, exactly one stderr line
// "pixelzip: FILE: ...", and nothing on stdout.
void ExpectOneLineError(const RunResult& r, int exit_code, const std::string& file) {
  EXPECT_EQ(r.exit_code, exit_code) << Describe(r);
  const auto lines = r.ErrLines();
  ASSERT_EQ(lines.size(), 1u) << Describe(r);
  EXPECT_EQ(lines[0].rfind("pixelzip: " + file + ": ", 0), 0u) << lines[0];
  EXPECT_GT(lines[0].size(), ("pixelzip: " + file + ": ").size()) << "no problem stated";
  EXPECT_TRUE(r.out.empty());
}

// Only the named files are in the directory: no temporary leftovers.
void ExpectDirHolds(const ScratchDir& dir, std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  EXPECT_EQ(dir.List(), names);
}

Image ReadImage(const std::string& path) { return ReadImageFile(path); }

bool IsLowerHex(const std::string& s, size_t length) {
  return s.size() == length &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); });
}

class CliTest : public ::testing::Test {
 protected:
  // Writes MakeImage(...) as PNG or PNM and returns its path.
  std::string WriteImage(const std::string& name, const Image& image) {
    const std::string path = dir_ / name;
    WriteBytes(path, FormatForPath(path) == FileFormat::kPng ? EncodePng(image) : EncodePnm(image));
    return path;
  }
  // A valid .pxz of a small RGB image.
  std::string MakeStream(const std::string& name = "s.pxz") {
    const std::string png = WriteImage("for-stream.png", MakeImage(21, 13, 3, 7));
    const RunResult r = RunPixelzip({"compress", png, "-o", dir_ / name});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::remove(png.c_str());
    return dir_ / name;
  }

  ScratchDir dir_;
};

// ---- Round trips ----

struct RoundTripCase {
  uint32_t channels;
  const char* extension;
};
void PrintTo(const RoundTripCase& c, std::ostream* os) { *os << c.channels << " channels, " << c.extension; }

class CliRoundTripTest : public CliTest, public ::testing::WithParamInterface<RoundTripCase> {};

TEST_P(CliRoundTripTest, CompressThenDecompressGivesIdenticalPixels) {
  const RoundTripCase c = GetParam();
  const Image image = MakeImage(37, 23, c.channels, c.channels);
  const std::string in = WriteImage(std::string("in") + c.extension, image);
  const std::vector<uint8_t> in_bytes = ReadBytes(in);

  RunResult r = RunPixelzip({"compress", in});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.err.empty()) << "compress prints nothing on success without -v: " << r.err;
  ASSERT_TRUE(Exists(in + ".pxz"));

  const std::string out = dir_ / (std::string("out") + c.extension);
  r = RunPixelzip({"decompress", in + ".pxz", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.err.empty()) << r.err;

  EXPECT_EQ(ReadImage(out), image);
  EXPECT_EQ(ReadBytes(in), in_bytes) << "the input was modified";
  ExpectDirHolds(dir_, {std::string("in") + c.extension, std::string("in") + c.extension + ".pxz",
                        std::string("out") + c.extension});
}

INSTANTIATE_TEST_SUITE_P(Formats, CliRoundTripTest,
                         ::testing::Values(RoundTripCase{1, ".png"}, RoundTripCase{2, ".png"},
                                           RoundTripCase{3, ".png"}, RoundTripCase{4, ".png"},
                                           RoundTripCase{1, ".pgm"}, RoundTripCase{3, ".ppm"},
                                           RoundTripCase{4, ".pam"}),
                         [](const ::testing::TestParamInfo<RoundTripCase>& info) {
                           return std::to_string(info.param.channels) + "ch_" + std::string(info.param.extension + 1);
                         });

TEST_F(CliTest, OddSizesRoundTrip) {
  for (auto [w, h] : std::vector<std::pair<uint32_t, uint32_t>>{{1, 1}, {1, 9}, {9, 1}, {3, 2}}) {
    const Image image = MakeImage(w, h, 3, w * 10 + h);
    const std::string in = WriteImage("odd.png", image);
    RunResult r = RunPixelzip({"compress", in, "-o", dir_ / "odd.pxz", "--force"});
    ASSERT_EQ(r.exit_code, 0) << w << "x" << h << ": " << Describe(r);
    r = RunPixelzip({"decompress", dir_ / "odd.pxz", "-o", dir_ / "odd-out.png", "--force"});
    ASSERT_EQ(r.exit_code, 0) << w << "x" << h << ": " << Describe(r);
    EXPECT_EQ(ReadImage(dir_ / "odd-out.png"), image) << w << "x" << h;
  }
}

// The adaptive stage is on by default (format 2.0); --no-adaptive writes a stream without it
// (2.0 too, as the default model writes the wavefront layout). Both decode.
TEST_F(CliTest, AdaptiveStageOnAndOffRoundTrip) {
  const Image image = MakeImage(19, 11, 3, 8);
  const std::string in = WriteImage("a.png", image);
  for (const bool off : {false, true}) {
    std::vector<std::string> args = {"compress", in, "-o", dir_ / "a.pxz", "--force", "--no-fallback"};
    if (off) args.push_back("--no-adaptive");
    RunResult r = RunPixelzip(args);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    r = RunPixelzip({"info", dir_ / "a.pxz"});
    const std::string out(r.out.begin(), r.out.end());
    EXPECT_NE(out.find(off ? "adaptive stage: no" : "adaptive stage: yes"), std::string::npos) << out;
    // 4.2: the PNG's colour type (RGB) is recorded, as the image has at most 256 colours.
    EXPECT_NE(out.find("format version: 4.2"), std::string::npos) << out;
    EXPECT_NE(out.find("source format: RGB PNG, 8-bit"), std::string::npos) << out;
    EXPECT_NE(out.find("layout: wavefront"), std::string::npos) << out;
    r = RunPixelzip({"decompress", dir_ / "a.pxz", "-o", dir_ / "a-out.png", "--force"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(ReadImage(dir_ / "a-out.png"), image) << (off ? "off" : "on");
  }
}

// Resuming a checkpoint with --hyper that changes only act_bits recalibrates and trains the wider
// integer model (quantisation-aware); its model file holds int16 tables and round-trips an image.
TEST_F(CliTest, TrainResumedWithWiderActivationsRoundTrips) {
  std::filesystem::create_directories(dir_ / "data");
  for (int i = 0; i < 3; ++i) WriteImage("data/t" + std::to_string(i) + ".png", MakeImage(12, 12, 3, 40 + i));
  const std::string hyper = "kernel=3,hidden=6,inner=8,blocks=1,mixtures=2";
  std::vector<std::string> common{"train", "--data", dir_ / "data", "--batch", "2", "--crop", "8", "--threads", "1",
                                  "--checkpoint", dir_ / "lp.ckpt"};
  auto args = common;
  args.insert(args.end(), {"--hyper", hyper, "--steps", "2"});
  RunResult r = RunPixelzip(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  args = common;
  args.insert(args.end(), {"--hyper", hyper + ",act_bits=10", "--steps", "4", "--qat", "--ema-decay", "0.9",
                           "--export", dir_ / "lp.pxzm"});
  r = RunPixelzip(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find("replaced"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resumed"), std::string::npos) << r.err;
  std::ifstream model_in(dir_ / "lp.pxzm", std::ios::binary);
  const std::string model_bytes((std::istreambuf_iterator<char>(model_in)), std::istreambuf_iterator<char>());
  EXPECT_NE(model_bytes.find("act_bits=10"), std::string::npos);
  EXPECT_NE(model_bytes.find(".table16"), std::string::npos);
  const Image image = MakeImage(9, 6, 3, 78);
  const std::string in = WriteImage("in.png", image);
  r = RunPixelzip({"compress", in, "--model", dir_ / "lp.pxzm", "-o", dir_ / "in.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"decompress", dir_ / "in.pxz", "--model", dir_ / "lp.pxzm", "-o", dir_ / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(dir_ / "out.png"), image);
  // A hyperparameter change that alters the parameter shapes cannot resume the checkpoint.
  args = common;
  args.insert(args.end(), {"--hyper", "kernel=3,hidden=7,inner=8,blocks=1,mixtures=2", "--steps", "5"});
  r = RunPixelzip(args);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
}

TEST_F(CliTest, MultiscaleOrderRoundTrips) {
  const Image image = MakeImage(33, 18, 3, 5);
  const std::string in = WriteImage("in.png", image);
  RunResult r = RunPixelzip({"compress", in, "--order", "multiscale", "-o", dir_ / "m.pxz", "--no-fallback"});
  if (r.exit_code == kExitUnsupported || r.exit_code == kExitModel) {
    GTEST_SKIP() << "the default model has no multiscale order yet: " << r.err;
  }
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"info", dir_ / "m.pxz"});
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find("order: multiscale"), std::string::npos);
  // Through the adaptive stage (given the model's positions: docs/format.md section 3.1).
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find("adaptive stage: yes"), std::string::npos);
  r = RunPixelzip({"decompress", dir_ / "m.pxz", "-o", dir_ / "m.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(dir_ / "m.png"), image);
}

// A model file made by `pixelzip train` (a tiny PixelRNN, a few steps) codes with `--model FILE`
// and decoding with the same file restores the image.
void TrainedModelFileRoundTrips(const ScratchDir& dir, const std::string& arch, const std::string& hyper,
                                const std::function<std::string(const std::string&, const Image&)>& write_image) {
  std::filesystem::create_directories(dir / "data");
  for (int i = 0; i < 3; ++i) write_image("data/t" + std::to_string(i) + ".png", MakeImage(12, 12, 3, 30 + i));
  RunResult r = RunPixelzip({"train", "--data", dir / "data", "--arch", arch, "--hyper", hyper, "--steps", "3", "--batch", "2",
                             "--crop", "8", "--threads", "1", "--checkpoint", dir / "rl.ckpt", "--export", dir / "rl.pxzm"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const Image image = MakeImage(9, 6, 3, 77);
  const std::string in = write_image("in.png", image);
  r = RunPixelzip({"compress", in, "--model", dir / "rl.pxzm", "-o", dir / "in.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"info", dir / "in.pxz"});
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find(arch), std::string::npos);
  r = RunPixelzip({"decompress", dir / "in.pxz", "--model", dir / "rl.pxzm", "-o", dir / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(dir / "out.png"), image);
}

TEST_F(CliTest, TrainedRowLstmModelFileRoundTrips) {
  TrainedModelFileRoundTrips(dir_, "row-lstm", "kernel=3,hidden=6,state=5,layers=2,row_kernel=3,head=8,mixtures=2",
                             [&](const std::string& n, const Image& im) { return WriteImage(n, im); });
}

TEST_F(CliTest, TrainedDiagonalBiLstmModelFileRoundTrips) {
  TrainedModelFileRoundTrips(dir_, "diagonal-bilstm", "kernel=3,hidden=6,state=5,layers=2,head=8,mixtures=2",
                             [&](const std::string& n, const Image& im) { return WriteImage(n, im); });
}

TEST_F(CliTest, DeviceCpuRoundTrips) {
  const Image image = MakeImage(16, 16, 3, 9);
  const std::string in = WriteImage("in.png", image);
  RunResult r = RunPixelzip({"compress", in, "--device", "cpu", "--model", "default"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"decompress", in + ".pxz", "--device", "cpu", "-o", dir_ / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(dir_ / "out.png"), image);
}

// --threads: the stream and the decoded image do not depend on the thread count (raster with the
// wavefront layout, raster layout, multiscale), and compare takes it too.
TEST_F(CliTest, ThreadsDoNotChangeTheOutput) {
  const Image image = MakeImage(40, 29, 3, 5);
  const std::string in = WriteImage("in.png", image);
  for (const std::vector<std::string>& how : {std::vector<std::string>{"--order", "raster"},
                                              std::vector<std::string>{"--order", "multiscale"}}) {
    SCOPED_TRACE(how[1]);
    std::vector<std::vector<uint8_t>> streams;
    for (const std::string threads : {"1", "3", "0"}) {
      std::vector<std::string> args{"compress", in, "-f", "-o", dir_ / ("t" + threads + ".pxz"), "--threads", threads};
      args.insert(args.end(), how.begin(), how.end());
      const RunResult r = RunPixelzip(args);
      ASSERT_EQ(r.exit_code, 0) << Describe(r);
      streams.push_back(ReadBytes(dir_ / ("t" + threads + ".pxz")));
    }
    EXPECT_EQ(streams[0], streams[1]);
    EXPECT_EQ(streams[0], streams[2]);
    for (const std::string threads : {"1", "2"}) {
      const RunResult r = RunPixelzip({"decompress", dir_ / "t3.pxz", "-f", "-o", dir_ / "out.png", "--threads", threads});
      ASSERT_EQ(r.exit_code, 0) << Describe(r);
      EXPECT_EQ(ReadImage(dir_ / "out.png"), image);
    }
  }
  const RunResult r = RunPixelzip({"compare", in, "--order", "raster", "--threads", "2"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(RunPixelzip({"compress", in, "-f", "--threads", "-1"}).exit_code, 0);
}

// The binary links the light library only: no LibTorch among its shared libraries (the plugin
// brings LibTorch in for train and --device cuda).
TEST_F(CliTest, BinaryLinksNoLibTorch) {
  FILE* p = popen((std::string("ldd '") + PIXELZIP_BINARY + "' 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("libc.so"), std::string::npos) << out;
  EXPECT_EQ(out.find("libtorch"), std::string::npos) << out;
  EXPECT_EQ(out.find("libc10"), std::string::npos) << out;
}

// --device cuda goes through the LibTorch plugin; without a GPU it fails in one line naming CUDA.
TEST_F(CliTest, DeviceCudaWithoutAGpuFailsCleanly) {
  if (Exists("/proc/driver/nvidia/version")) GTEST_SKIP() << "an NVIDIA driver is present";
  const std::string in = WriteImage("in.png", MakeImage(8, 8, 3, 1));
  const RunResult r = RunPixelzip({"compress", in, "--device", "cuda"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(r.ErrLines().size(), 1u) << Describe(r);
  EXPECT_NE(r.err.find("CUDA"), std::string::npos) << Describe(r);
  EXPECT_FALSE(Exists(in + ".pxz"));
}

// ---- Default names, stdin and stdout ----

TEST_F(CliTest, DefaultOutputNames) {
  const Image image = MakeImage(12, 8, 3);
  WriteImage("a.ppm", image);
  ASSERT_EQ(RunPixelzip({"compress", dir_ / "a.ppm"}).exit_code, 0);
  ASSERT_TRUE(Exists(dir_ / "a.ppm.pxz"));
  std::rename((dir_ / "a.ppm").c_str(), (dir_ / "original.ppm").c_str());
  // a.ppm.pxz -> a.ppm (PNM, from the name)
  RunResult r = RunPixelzip({"decompress", dir_ / "a.ppm.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadBytes(dir_ / "a.ppm")[1], '6') << "PNM output expected";
  EXPECT_EQ(ReadImage(dir_ / "a.ppm"), image);
  // b.pxz -> b.png; something.bin -> something.bin.png
  std::rename((dir_ / "a.ppm.pxz").c_str(), (dir_ / "b.pxz").c_str());
  r = RunPixelzip({"decompress", dir_ / "b.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(dir_ / "b.png"), image);
  const std::vector<uint8_t> png = ReadBytes(dir_ / "b.png");
  EXPECT_EQ(std::string(png.begin() + 1, png.begin() + 4), "PNG");
  std::rename((dir_ / "b.pxz").c_str(), (dir_ / "c.bin").c_str());
  r = RunPixelzip({"decompress", dir_ / "c.bin"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(dir_ / "c.bin.png"), image);
}

TEST_F(CliTest, StdinToStdoutAndBack) {
  const Image image = MakeImage(19, 11, 3, 3);
  const std::string in = WriteImage("in.png", image);
  RunResult r = RunPixelzip({"compress", "-"}, RunSpec{in});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_FALSE(r.out.empty());
  WriteBytes(dir_ / "piped.pxz", r.out);

  r = RunPixelzip({"decompress", "-"}, RunSpec{dir_ / "piped.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_GT(r.out.size(), 8u);
  EXPECT_EQ(std::string(r.out.begin() + 1, r.out.begin() + 4), "PNG") << "PNG on stdout by default";
  EXPECT_EQ(ReadImageBytes(r.out.data(), r.out.size(), "stdout"), image);

  r = RunPixelzip({"decompress", "-", "--format", "pnm"}, RunSpec{dir_ / "piped.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(std::string(r.out.begin(), r.out.begin() + 2), "P6");
  EXPECT_EQ(ReadImageBytes(r.out.data(), r.out.size(), "stdout"), image);
  ExpectDirHolds(dir_, {"in.png", "piped.pxz"});
}

TEST_F(CliTest, DashOutputWritesStdoutForAFileInput) {
  const Image image = MakeImage(10, 10, 1);
  const std::string in = WriteImage("in.pgm", image);
  RunResult r = RunPixelzip({"compress", in, "-o", "-"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  WriteBytes(dir_ / "x.pxz", r.out);
  r = RunPixelzip({"decompress", dir_ / "x.pxz", "-o", "-"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImageBytes(r.out.data(), r.out.size(), "stdout"), image);
  ExpectDirHolds(dir_, {"in.pgm", "x.pxz"});
}

TEST_F(CliTest, RefusesBinaryOutputToATerminal) {
  const std::string in = WriteImage("in.png", MakeImage(8, 8, 3));
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) GTEST_SKIP() << "no pseudo-terminals here";
  close(master);
  close(slave);
  RunSpec tty;
  tty.stdin_file = in;
  tty.stdout_is_tty = true;
  RunResult r = RunPixelzip({"compress", "-"}, tty);
  EXPECT_EQ(r.exit_code, kExitUsage) << Describe(r);
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("terminal"), std::string::npos) << r.err;
  tty.stdin_file.clear();
  r = RunPixelzip({"decompress", MakeStream(), "-o", "-"}, tty);
  EXPECT_EQ(r.exit_code, kExitUsage) << Describe(r);
  EXPECT_NE(r.err.find("terminal"), std::string::npos) << r.err;
}

// ---- Never overwrite without --force; never touch the input ----

TEST_F(CliTest, RefusesToOverwriteWithoutForce) {
  const Image image = MakeImage(14, 9, 3);
  const std::string in = WriteImage("in.png", image);
  const std::vector<uint8_t> keep = {'k', 'e', 'e', 'p'};
  WriteBytes(dir_ / "in.png.pxz", keep);

  RunResult r = RunPixelzip({"compress", in});
  ExpectOneLineError(r, kExitExists, dir_ / "in.png.pxz");
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(ReadBytes(dir_ / "in.png.pxz"), keep);
  ExpectDirHolds(dir_, {"in.png", "in.png.pxz"});

  r = RunPixelzip({"compress", in, "--force"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(ReadBytes(dir_ / "in.png.pxz"), keep);

  // decompress to the original's name: refused, original untouched.
  const std::vector<uint8_t> original = ReadBytes(in);
  r = RunPixelzip({"decompress", dir_ / "in.png.pxz"});
  ExpectOneLineError(r, kExitExists, in);
  EXPECT_EQ(ReadBytes(in), original);
  r = RunPixelzip({"decompress", dir_ / "in.png.pxz", "-f"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(in), image);
  ExpectDirHolds(dir_, {"in.png", "in.png.pxz"});
}

TEST_F(CliTest, NeverOverwritesTheInputEvenWithForce) {
  const std::string in = WriteImage("in.png", MakeImage(8, 8, 3));
  const std::vector<uint8_t> original = ReadBytes(in);
  RunResult r = RunPixelzip({"compress", in, "-o", in, "--force"});
  ExpectOneLineError(r, kExitUsage, in);
  EXPECT_EQ(ReadBytes(in), original);
  ExpectDirHolds(dir_, {"in.png"});
}

// -o naming a symbolic link or a device node, with -f: the link and the node stay what they are.
TEST_F(CliTest, WritesThroughLinksAndDeviceNodesNeverReplacingThem) {
  const Image image = MakeImage(10, 7, 3);
  const std::string in = WriteImage("in.png", image);
  WriteBytes(dir_ / "target.pxz", {'o', 'l', 'd'});
  ASSERT_EQ(symlink("target.pxz", (dir_ / "link.pxz").c_str()), 0);
  RunResult r = RunPixelzip({"compress", in, "-o", dir_ / "link.pxz", "--model", "order0-adaptive"});
  ExpectOneLineError(r, kExitExists, dir_ / "link.pxz");
  r = RunPixelzip({"compress", in, "-o", dir_ / "link.pxz", "--model", "order0-adaptive", "-f"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(std::filesystem::is_symlink(dir_ / "link.pxz"));
  EXPECT_EQ(Decode(ReadBytes(dir_ / "target.pxz")), image);
  ExpectDirHolds(dir_, {"in.png", "link.pxz", "target.pxz"});

  // A node like /dev/null, made here so that a regression cannot replace the real one.
  if (mknod((dir_ / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "cannot mknod here";
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"-f"}}) {
    std::vector<std::string> args = {"compress", in, "-o", dir_ / "null", "--model", "order0-adaptive"};
    args.insert(args.end(), extra.begin(), extra.end());
    r = RunPixelzip(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    struct stat st {};
    ASSERT_EQ(lstat((dir_ / "null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced";
  }
  ExpectDirHolds(dir_, {"in.png", "link.pxz", "null", "target.pxz"});
}

// ---- Palette PNGs come back as palette PNGs, whichever coding the encoder chose ----

TEST_F(CliTest, PalettePngsComeBackAsPalettePngs) {
  struct Case {
    std::string name;
    int depth;
    std::vector<uint8_t> entries, trns;
  };
  std::vector<uint8_t> colour, grey, opaque(16, 255), partial;
  for (int j = 0; j < 16; ++j) {
    colour.insert(colour.end(), {uint8_t(j * 41 + 3), uint8_t(j * 97 + 11), uint8_t(255 - j)});
    grey.insert(grey.end(), {uint8_t(j * 17), uint8_t(j * 17), uint8_t(j * 17)});
    partial.push_back(j % 2 ? 255 : uint8_t(j * 9));
  }
  const std::vector<Case> cases = {{"colour", 4, colour, {}},
                                   {"grey", 4, grey, {}},
                                   {"grey-opaque-trns", 4, grey, opaque},
                                   {"colour-opaque-trns", 4, colour, opaque},
                                   {"colour-partial-trns", 4, colour, partial},
                                   {"grey-partial-trns", 4, grey, partial}};
  // Enough pixels and noise in the indices that the codings differ: default settings (any
  // coding may win), the model alone (--no-fallback) and another model (no fallbacks).
  const uint32_t width = 40, height = 24;
  std::vector<uint8_t> indices(size_t{width} * height);
  uint32_t r = 12345;
  for (auto& v : indices) v = uint8_t((r = r * 1103515245u + 12345u) >> 28);
  const std::vector<std::vector<std::string>> settings = {{}, {"--no-fallback"}, {"--model", "order0-adaptive"}};
  for (const Case& c : cases) {
    const std::string in = dir_ / (c.name + ".png");
    WriteBytes(in, png_test::PalettePngFile(width, height, c.depth, c.entries, c.trns, indices));
    const Image image = ReadImage(in);
    for (size_t s = 0; s < settings.size(); ++s) {
      SCOPED_TRACE(c.name + ", settings " + std::to_string(s));
      const std::string pxz = dir_ / (c.name + std::to_string(s) + ".pxz"), out = dir_ / (c.name + std::to_string(s) + ".out.png");
      std::vector<std::string> args = {"compress", "-q", in, "-o", pxz};
      args.insert(args.end(), settings[s].begin(), settings[s].end());
      RunResult run = RunPixelzip(args);
      ASSERT_EQ(run.exit_code, 0) << Describe(run);
      run = RunPixelzip({"decompress", pxz, "-o", out});
      ASSERT_EQ(run.exit_code, 0) << Describe(run);
      EXPECT_TRUE(run.err.empty()) << run.err;
      const std::vector<uint8_t> png = ReadBytes(out);
      ASSERT_GT(png.size(), 26u);
      EXPECT_EQ(png[25], 3) << "colour type";
      const auto chunks = png_test::ChunksOf(png);
      EXPECT_EQ(std::any_of(chunks.begin(), chunks.end(), [](const auto& k) { return k.type == "tRNS"; }), !c.trns.empty());
      EXPECT_EQ(ReadImage(out), image);
    }
  }
}

TEST_F(CliTest, FewColourPngWithBkgdKeepsItsColourTypeAndTheChunk) {
  // bKGD (and sBIT) come only from PNGs that are not palette PNGs (the reader drops a palette
  // PNG's): such an image stays RGB, so that the chunk is kept, though it has few colours.
  const Image image = MakeImage(9, 6, 3);
  const std::vector<png_test::Chunk> before = {{"bKGD", {0, 1, 0, 2, 0, 3}}};
  const std::string in = dir_ / "bkgd.png";
  WriteBytes(in, png_test::RgbPngWithChunks(image.width, image.height, image.pixels, before, {}));
  RunResult r = RunPixelzip({"compress", in});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"decompress", in + ".pxz", "-o", dir_ / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << r.err;
  const std::vector<uint8_t> png = ReadBytes(dir_ / "out.png");
  ASSERT_GT(png.size(), 26u);
  EXPECT_EQ(png[25], 2) << "colour type";
  EXPECT_EQ(png_test::AncillaryWithPlaces(png_test::ChunksOf(png)),
            png_test::AncillaryWithPlaces(png_test::ChunksOf(ReadBytes(in))));
  EXPECT_EQ(ReadImage(dir_ / "out.png"), image);
}

// ---- Metadata: kept by default, restored on decode, dropped with --strip, named when lost ----

TEST_F(CliTest, PngMetadataComesBackByteForByte) {
  const Image image = MakeImage(9, 6, 3);
  std::vector<png_test::Chunk> before = png_test::TypicalChunksBeforeIdat();
  before.push_back({"dSIG", png_test::Bytes("a signature, unsafe to copy")});
  const std::vector<png_test::Chunk> after = {{"tEXt", png_test::Bytes(std::string("Comment\0at the end", 18))}};
  const std::string in = dir_ / "in.png";
  WriteBytes(in, png_test::RgbPngWithChunks(image.width, image.height, image.pixels, before, after));

  RunResult r = RunPixelzip({"compress", in, "--model", "order0-adaptive"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
  EXPECT_EQ(r.ErrLines()[0], "pixelzip: " + in + ": warning: not kept: dSIG chunk: an unknown chunk that is not safe "
                             "to copy once the image data is rewritten (PNG specification, 5.4)");
  r = RunPixelzip({"info", in + ".pxz"});
  // 4.2: with the source's colour type (RGB: 54 pixels, which a stream without it would
  // decode to a palette PNG).
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find("format version: 4.2"), std::string::npos);
  r = RunPixelzip({"decompress", in + ".pxz", "-o", dir_ / "out.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << r.err;
  std::vector<png_test::Chunk> expected = png_test::AncillaryWithPlaces(png_test::ChunksOf(ReadBytes(in)));
  expected.erase(std::remove_if(expected.begin(), expected.end(), [](const auto& c) { return c.type == "dSIG"; }),
                 expected.end());
  // An RGB PNG comes back as one (no PLTE), though its 54 pixels would fit a palette.
  EXPECT_EQ(png_test::AncillaryWithPlaces(png_test::ChunksOf(ReadBytes(dir_ / "out.png"))), expected);
  EXPECT_EQ(ReadImage(dir_ / "out.png"), image);

  // Decoding to PNM names what PNM cannot hold; -q silences it.
  r = RunPixelzip({"decompress", in + ".pxz", "-o", dir_ / "out.ppm"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.ErrLines().size(), before.size() - 1 + after.size()) << r.err;
  r = RunPixelzip({"decompress", in + ".pxz", "-o", dir_ / "out.ppm", "-f", "-q"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << r.err;

  // --strip on compress: a 1.0 stream, and a PNG without the chunks; -q: no warning.
  r = RunPixelzip({"compress", in, "--model", "order0-adaptive", "--strip", "-q", "-o", dir_ / "stripped.pxz"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << r.err;
  r = RunPixelzip({"decompress", dir_ / "stripped.pxz", "-o", dir_ / "stripped.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(png_test::AncillaryWithPlaces(png_test::ChunksOf(ReadBytes(dir_ / "stripped.png"))),
            (std::vector<png_test::Chunk>{{"IDAT", {}}}));  // --strip keeps the source's colour type
  // --strip on decompress: the stream keeps them, the image does not get them.
  r = RunPixelzip({"decompress", in + ".pxz", "--strip", "-o", dir_ / "stripped2.png"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadBytes(dir_ / "stripped2.png"), ReadBytes(dir_ / "stripped.png"));
}

TEST_F(CliTest, PnmCommentsComeBack) {
  const Image image = MakeImage(4, 3, 3);
  std::string file = "P6\n# one\n# two\n4 3\n255\n";
  file.append(image.pixels.begin(), image.pixels.end());
  WriteBytes(dir_ / "in.ppm", std::vector<uint8_t>(file.begin(), file.end()));
  RunResult r = RunPixelzip({"compress", dir_ / "in.ppm", "--model", "order0-adaptive"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"decompress", dir_ / "in.ppm.pxz", "-o", dir_ / "out.ppm"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadBytes(dir_ / "out.ppm"), ReadBytes(dir_ / "in.ppm"));
}

// ---- Several inputs, --rm/-k, -c, the image-extension warning ----

TEST_F(CliTest, SeveralInputsEachToItsOwnOutput) {
  const Image a = MakeImage(6, 5, 3, 1), b = MakeImage(7, 4, 1, 2);
  const std::string pa = WriteImage("a.png", a), pb = WriteImage("b.pgm", b);
  RunResult r = RunPixelzip({"compress", pa, pb, "--model", "order0-adaptive"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ExpectDirHolds(dir_, {"a.png", "a.png.pxz", "b.pgm", "b.pgm.pxz"});
  // -k is the default; --rm removes each input once its output is complete.
  std::remove(pa.c_str());
  std::remove(pb.c_str());
  r = RunPixelzip({"decompress", pa + ".pxz", pb + ".pxz", "-k"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImage(pa), a);
  EXPECT_EQ(ReadImage(pb), b);
  std::remove(pa.c_str());
  std::remove(pb.c_str());
  r = RunPixelzip({"decompress", pa + ".pxz", pb + ".pxz", "--rm"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ExpectDirHolds(dir_, {"a.png", "b.pgm"});
  EXPECT_EQ(RunPixelzip({"compress", pa, "--rm", "-k"}).exit_code, kExitUsage);

  // A failing input is reported and the others are still done; the first failure's code is returned.
  WriteBytes(dir_ / "bad.png", {'n', 'o', 'p', 'e'});
  r = RunPixelzip({"compress", dir_ / "bad.png", pa, "--model", "order0-adaptive", "--rm"});
  EXPECT_EQ(r.exit_code, kExitUnsupported) << Describe(r);
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
  EXPECT_EQ(r.ErrLines()[0].rfind("pixelzip: " + dir_ / "bad.png" + ": ", 0), 0u) << r.err;
  ExpectDirHolds(dir_, {"a.png.pxz", "b.pgm", "bad.png"});
  EXPECT_EQ(Decode(ReadBytes(pa + ".pxz")), a);

  // -o and -c name one output.
  EXPECT_EQ(RunPixelzip({"compress", pa + ".pxz", dir_ / "b.pgm", "-o", dir_ / "x.pxz"}).exit_code, kExitUsage);
  EXPECT_EQ(RunPixelzip({"decompress", pa + ".pxz", pa + ".pxz", "-c"}).exit_code, kExitUsage);
  EXPECT_EQ(RunPixelzip({"decompress", pa + ".pxz", "-c", "-o", dir_ / "y.png"}).exit_code, kExitUsage);
}

TEST_F(CliTest, DashCWritesToStdoutAndKeepsTheInputEvenWithRm) {
  const Image image = MakeImage(5, 5, 4);
  const std::string in = WriteImage("in.png", image);
  RunResult r = RunPixelzip({"compress", in, "-c", "--model", "order0-adaptive", "--rm"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Decode(r.out), image);
  EXPECT_TRUE(Exists(in)) << "--rm removed an input whose output went to stdout";
  EXPECT_NE(r.err.find("--rm"), std::string::npos) << r.err;
  WriteBytes(dir_ / "s.pxz", r.out);
  r = RunPixelzip({"decompress", dir_ / "s.pxz", "-c", "--format", "pnm"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadImageBytes(r.out.data(), r.out.size(), "stdout"), image);
}

TEST_F(CliTest, WarnsWhenAPxzIsGivenAnImageName) {
  const std::string in = WriteImage("in.png", MakeImage(4, 4, 3));
  RunResult r = RunPixelzip({"compress", in, "-o", dir_ / "out.png", "--model", "order0-adaptive"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".pxz"), std::string::npos) << r.err;
  r = RunPixelzip({"compress", in, "-o", dir_ / "out2.png", "--model", "order0-adaptive", "-q"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(CliTest, EffortPicksOrderAndModel) {
  std::string order, model;
  int stage_kind = 0;
  EffortChoice(0, 3, &order, &model, &stage_kind);
  EXPECT_EQ(order + " " + model + " " + std::to_string(stage_kind), "raster order0-adaptive 3");
  EffortChoice(9, 3, &order, &model, &stage_kind);
  EXPECT_EQ(order + " " + model + " " + std::to_string(stage_kind), "raster default 1");
  EffortChoice(5, 3, &order, &model, &stage_kind);
  EXPECT_EQ(order + " " + model + " " + std::to_string(stage_kind), "raster default 3");
  EffortChoice(2, 3, &order, &model, &stage_kind);
  EXPECT_EQ(model, "default");
  EXPECT_EQ(stage_kind, 3);
  const std::string in = WriteImage("in.png", MakeImage(8, 6, 3));
  RunResult r = RunPixelzip({"compress", in, "-e", "0"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunPixelzip({"info", in + ".pxz"});
  const std::string info(r.out.begin(), r.out.end());
  EXPECT_NE(info.find("architecture: order0-adaptive"), std::string::npos) << info;
  EXPECT_EQ(RunPixelzip({"compress", in, "-e", "1", "--order", "raster", "-f"}).exit_code, kExitUsage);
  EXPECT_EQ(RunPixelzip({"compress", in, "-e", "10", "-f"}).exit_code, kExitUsage);
}

TEST(CliProgress, LineShowsElapsedEtaAndRate) {
  EXPECT_EQ(FormatProgressLine("compressing a.png", 0.25, 12.0, 4.0),
            "compressing a.png [======                  ]  25%  0:12, ETA 0:36, 0.08 MP/s");
  EXPECT_EQ(FormatProgressLine("x", 1.0, 3725.0, 0), "x [========================] 100%  1:02:05");
}

// ---- Bad input: one line naming the file, a distinct exit code, no output ----

TEST_F(CliTest, CorruptStreamsFailCleanly) {
  const std::string good_path = MakeStream("good.pxz");
  const std::vector<uint8_t> good = ReadBytes(good_path);
  ASSERT_GT(good.size(), 16u);
  std::map<std::string, std::vector<uint8_t>> cases;
  cases["empty"] = {};
  cases["magic-only"] = std::vector<uint8_t>(good.begin(), good.begin() + 4);
  cases["half"] = std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2);
  cases["minus-one"] = std::vector<uint8_t>(good.begin(), good.end() - 1);
  cases["garbage"] = std::vector<uint8_t>(200, 0xA5);
  cases["trailing"] = good;
  cases["trailing"].push_back(0);
  for (size_t pos : {size_t{0}, size_t{5}, size_t{9}, good.size() / 2, good.size() - 1}) {
    std::vector<uint8_t> flipped = good;
    flipped[pos] ^= 0x10;
    cases["flip" + std::to_string(pos)] = flipped;
  }
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir_ / (name + ".pxz");
    WriteBytes(path, bytes);
    const RunResult r = RunPixelzip({"decompress", path, "-o", dir_ / "out.png"});
    EXPECT_NE(r.exit_code, 0) << Describe(r);
    EXPECT_TRUE(r.exit_code == kExitCorrupt || r.exit_code == kExitUnsupported || r.exit_code == kExitModel ||
                r.exit_code == kExitLimit)
        << Describe(r);
    ExpectOneLineError(r, r.exit_code, path);
    EXPECT_FALSE(Exists(dir_ / "out.png")) << "partial output left behind";
    EXPECT_EQ(ReadBytes(path), bytes) << "the input was modified";
    std::remove(path.c_str());
  }
  ExpectDirHolds(dir_, {"good.pxz"});
  // A truncated file is corrupt input: exit code 4 exactly.
  WriteBytes(dir_ / "cut.pxz", cases["half"]);
  ExpectOneLineError(RunPixelzip({"decompress", dir_ / "cut.pxz"}), kExitCorrupt, dir_ / "cut.pxz");
}

TEST_F(CliTest, ChecksumCatchesAFlippedPayloadByte) {
  const std::string path = MakeStream();
  std::vector<uint8_t> bytes = ReadBytes(path);
  bytes[bytes.size() - 2] ^= 0x01;
  WriteBytes(path, bytes);
  ExpectOneLineError(RunPixelzip({"decompress", path, "-o", dir_ / "out.png"}), kExitCorrupt, path);
  EXPECT_FALSE(Exists(dir_ / "out.png"));
}

TEST_F(CliTest, CorruptImagesFailCleanly) {
  const std::vector<uint8_t> png = EncodePng(MakeImage(30, 20, 3));
  WriteBytes(dir_ / "cut.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  ExpectOneLineError(RunPixelzip({"compress", dir_ / "cut.png"}), kExitCorrupt, dir_ / "cut.png");
  WriteBytes(dir_ / "text.png", std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o', '\n'});
  RunResult r = RunPixelzip({"compress", dir_ / "text.png"});
  EXPECT_NE(r.exit_code, 0);
  ExpectOneLineError(r, r.exit_code, dir_ / "text.png");
  ExpectDirHolds(dir_, {"cut.png", "text.png"});
  // stdin is named <stdin>
  ExpectOneLineError(RunPixelzip({"compress", "-", "-o", dir_ / "x.pxz"}, RunSpec{dir_ / "cut.png"}), kExitCorrupt,
                     "<stdin>");
  EXPECT_FALSE(Exists(dir_ / "x.pxz"));
}

TEST_F(CliTest, MissingFilesAndDirectories) {
  ExpectOneLineError(RunPixelzip({"compress", dir_ / "nope.png"}), kExitIo, dir_ / "nope.png");
  ExpectOneLineError(RunPixelzip({"decompress", dir_ / "nope.pxz"}), kExitIo, dir_ / "nope.pxz");
  ExpectOneLineError(RunPixelzip({"info", dir_ / "nope.pxz"}), kExitIo, dir_ / "nope.pxz");
  const std::string in = WriteImage("in.png", MakeImage(8, 8, 3));
  ExpectOneLineError(RunPixelzip({"compress", in, "-o", dir_ / "no/dir/x.pxz"}), kExitIo, dir_ / "no/dir/x.pxz");
  ExpectOneLineError(RunPixelzip({"compress", dir_.path(), "-o", dir_ / "x.pxz"}), kExitIo, dir_.path());
  ExpectOneLineError(RunPixelzip({"compress", in, "-o", dir_.path(), "--force"}), kExitIo, dir_.path());
  ExpectDirHolds(dir_, {"in.png"});
}

TEST_F(CliTest, UnknownModelFailsCleanly) {
  const std::string in = WriteImage("in.png", MakeImage(8, 8, 3));
  RunResult r = RunPixelzip({"compress", in, "--model", "no-such-model"});
  ExpectOneLineError(r, kExitModel, "no-such-model");
  r = RunPixelzip({"compress", in, "--model", dir_ / "missing.model"});
  ExpectOneLineError(r, r.exit_code, dir_ / "missing.model");
  EXPECT_NE(r.exit_code, 0);
  ExpectDirHolds(dir_, {"in.png"});
}

TEST_F(CliTest, UsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"compress"},
                                             {"compress", "a.png", "--order", "zigzag"},
                                             {"compress", "a.png", "--device", "tpu"},
                                             {"compress", "a.png", "--bogus"},
                                             {"decompress", "a.pxz", "--format", "gif"},
                                             {"info"},
                                             {"verify", "a.png"},
                                             {"compare"},
                                             {"compare", "a.png", "--order", "zigzag"},
                                             {"compare", "a.png", "--device", "tpu"}}) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE(joined);
    const RunResult r = RunPixelzip(args);
    EXPECT_EQ(r.exit_code, kExitUsage) << Describe(r);
    ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("pixelzip: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
  }
}

// ---- info, verify, verbose, --help ----

TEST_F(CliTest, InfoPrintsTheHeaderFields) {
  const Image image = MakeImage(21, 13, 3, 7);
  const std::string path = MakeStream();
  const RunResult r = RunPixelzip({"info", path});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string out(r.out.begin(), r.out.end());
  std::map<std::string, std::string> fields;  // "key: value" lines
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    const size_t colon = line.find(": ");
    if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 2);
    start = end + 1;
  }
  for (const char* key : {"file", "format version", "architecture", "weights sha256", "order", "width", "height",
                          "channels", "header bytes", "payload bytes", "file bytes", "pixel checksum",
                          "bits per subpixel"}) {
    EXPECT_TRUE(fields.count(key)) << "missing field '" << key << "' in:\n" << out;
  }
  EXPECT_EQ(fields["file"], path);
  EXPECT_EQ(fields["width"], "21");
  EXPECT_EQ(fields["height"], "13");
  EXPECT_EQ(fields["channels"], "3");
  EXPECT_EQ(fields["order"], "raster");
  EXPECT_FALSE(fields["architecture"].empty());
  EXPECT_TRUE(IsLowerHex(fields["weights sha256"], 64)) << fields["weights sha256"];
  EXPECT_TRUE(IsLowerHex(fields["pixel checksum"], 8)) << fields["pixel checksum"];
  const std::string version = fields["format version"];
  const size_t dot = version.find('.');
  EXPECT_TRUE(dot != std::string::npos && dot > 0 && dot + 1 < version.size() &&
              std::all_of(version.begin(), version.end(), [](char ch) { return ch == '.' || std::isdigit(ch); }))
      << version;
  EXPECT_EQ(fields["file bytes"], std::to_string(ReadBytes(path).size()));
  const double bits = std::stod(fields["bits per subpixel"]);
  EXPECT_NEAR(bits, 8.0 * ReadBytes(path).size() / (21 * 13 * 3), 1e-3);
  EXPECT_GT(std::stoull(fields["payload bytes"]), 0u);
  EXPECT_LT(std::stoull(fields["payload bytes"]) + std::stoull(fields["header bytes"]),
            ReadBytes(path).size() + 1);
  EXPECT_TRUE(r.err.empty());
  (void)image;
}

TEST_F(CliTest, InfoRejectsCorruptHeaders) {
  WriteBytes(dir_ / "bad.pxz", std::vector<uint8_t>(64, 0x42));
  const RunResult r = RunPixelzip({"info", dir_ / "bad.pxz"});
  EXPECT_NE(r.exit_code, 0);
  ExpectOneLineError(r, r.exit_code, dir_ / "bad.pxz");
}

TEST_F(CliTest, VerboseReportsTheRate) {
  const std::string in = WriteImage("in.png", MakeImage(16, 12, 3));
  RunResult r = RunPixelzip({"compress", in, "-v"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("bits/subpixel"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("16x12"), std::string::npos) << r.err;
  r = RunPixelzip({"decompress", in + ".pxz", "-o", dir_ / "o.png", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find("16x12"), std::string::npos) << r.err;
}

TEST_F(CliTest, VerifyTellsIdenticalFromDifferent) {
  const Image image = MakeImage(15, 10, 3);
  Image other = image;
  other.at(4, 7, 1) ^= 1;
  const std::string a = WriteImage("a.png", image), b = WriteImage("b.ppm", image), c = WriteImage("c.png", other);
  RunResult r = RunPixelzip({"verify", a, b});
  EXPECT_EQ(r.exit_code, kExitOk) << Describe(r);
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find("identical"), std::string::npos);
  r = RunPixelzip({"verify", a, c});
  EXPECT_EQ(r.exit_code, kExitDifferent) << Describe(r);
  EXPECT_NE(std::string(r.out.begin(), r.out.end()).find("x=7 y=4"), std::string::npos)
      << std::string(r.out.begin(), r.out.end());
  // a .pxz is decoded
  ASSERT_EQ(RunPixelzip({"compress", a}).exit_code, 0);
  EXPECT_EQ(RunPixelzip({"verify", "-q", a + ".pxz", b}).exit_code, kExitOk);
  EXPECT_EQ(RunPixelzip({"verify", "-q", c, a + ".pxz"}).exit_code, kExitDifferent);
  EXPECT_EQ(RunPixelzip({"verify", "-", b}, RunSpec{a}).exit_code, kExitOk);
  // different shapes
  WriteImage("d.png", MakeImage(15, 10, 1));
  EXPECT_EQ(RunPixelzip({"verify", "-q", a, dir_ / "d.png"}).exit_code, kExitDifferent);
}

TEST_F(CliTest, HelpForEverySubcommand) {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"", {"compress", "decompress", "info", "verify", "compare", "Exit codes"}},
      {"compress", {"IN", "--output", "--order", "raster", "multiscale", "--model", "--device", "--force", "-v"}},
      {"decompress", {"IN", "--output", "--format", "--model", "--device", "--force"}},
      {"info", {"FILE"}},
      {"verify", {"A", "B", "--quiet"}},
      {"compare", {"FILES", "--order", "both", "--model", "--device", "--json"}},
      {"models", {"models"}}};
  for (const auto& [sub, words] : expected) {
    SCOPED_TRACE(sub);
    std::vector<std::string> args;
    if (!sub.empty()) args.push_back(sub);
    args.push_back("--help");
    const RunResult r = RunPixelzip(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    const std::string out(r.out.begin(), r.out.end());
    EXPECT_NE(out.find("Usage"), std::string::npos) << out;
    // The exit-code table is in the top-level help only; subcommands point to it.
    EXPECT_EQ(out.find("internal error (a bug in pixelzip)") != std::string::npos, sub.empty()) << out;
    for (const std::string& w : words) EXPECT_NE(out.find(w), std::string::npos) << w << " missing in:\n" << out;
  }
  const RunResult v = RunPixelzip({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(std::string(v.out.begin(), v.out.end()).rfind("pixelzip ", 0), 0u);
}

TEST_F(CliTest, ModelsListsTheShippedModels) {
  const RunResult r = RunPixelzip({"models"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string out(r.out.begin(), r.out.end());
  ASSERT_FALSE(out.empty());
  // A header line, then "name order channels default" per model.
  EXPECT_EQ(out.rfind("name ", 0), 0u) << out;
  const std::string second = out.substr(out.find('\n') + 1);
  const std::string first = second.substr(0, second.find(' '));
  EXPECT_NE(out.find("order0-adaptive"), std::string::npos) << out;
  // Exactly one default per order and channel count that some model codes; info names the model alike.
  EXPECT_NE(out.find("yes ("), std::string::npos) << out;
  // The first shipped model can be named explicitly (when it codes RGB in raster order).
  const std::string in = WriteImage("in.png", MakeImage(9, 7, 3));
  const RunResult c = RunPixelzip({"compress", in, "--model", first});
  if (c.exit_code == kExitUnsupported) GTEST_SKIP() << first << " does not code RGB raster: " << c.err;
  ASSERT_EQ(c.exit_code, 0) << Describe(c);
  EXPECT_EQ(RunPixelzip({"verify", "-q", in, in + ".pxz"}).exit_code, 0);
}


// ---- compare: pixelzip's rate beside PNG's ----

std::string Out(const RunResult& r) { return std::string(r.out.begin(), r.out.end()); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) words.push_back(line.substr(i, j - i));
    i = j;
  }
  return words;
}

// The table row whose first word is `first`, split into words; empty if none.
std::vector<std::string> RowOf(const std::string& table, const std::string& first) {
  for (const std::string& line : Lines(table)) {
    std::vector<std::string> words = Words(line);
    if (!words.empty() && words[0] == first) return words;
  }
  return {};
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Braces and brackets balance outside strings, and every string is closed.
bool JsonBalanced(const std::string& json) {
  std::string stack;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      stack += c;
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != (c == '}' ? '{' : '[')) return false;
      stack.pop_back();
    }
  }
  return !in_string && stack.empty();
}

class CliCompareTest : public CliTest {
 protected:
  // Two small images (grey 12x9, RGB 10x7) as PNG in `folder` (created).
  void WriteImages(const std::string& folder, const std::string& grey_name, const std::string& rgb_name) {
    std::filesystem::create_directories(dir_ / folder);
    grey_ = WriteImage(folder + "/" + grey_name, MakeImage(12, 9, 1, 3));
    rgb_ = WriteImage(folder + "/" + rgb_name, MakeImage(10, 7, 3, 4));
  }
  // The .pxz `pixelzip compress --model order0-adaptive` makes of `image`.
  std::vector<uint8_t> Compressed(const std::string& image) {
    const std::string out = dir_ / "size-check.pxz";
    const RunResult r = RunPixelzip({"compress", image, "--model", "order0-adaptive", "-o", out, "--force"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::vector<uint8_t> stream = ReadBytes(out);
    std::remove(out.c_str());
    return stream;
  }
  uint64_t CompressedSize(const std::string& image) { return Compressed(image).size(); }
  // Bits of the range-coded payload of that .pxz (the file less its header).
  uint64_t PayloadBits(const std::string& image) {
    const std::vector<uint8_t> stream = Compressed(image);
    return 8 * ReadStreamInfo(stream.data(), stream.size()).payload_bytes;
  }
  static double Bpsp(uint64_t bytes, uint64_t subpixels) { return 8.0 * bytes / subpixels; }

  std::string grey_, rgb_;
  static constexpr uint64_t kGreySubpixels = 12 * 9, kRgbSubpixels = 10 * 7 * 3;
};

TEST_F(CliCompareTest, TableRatesEqualTheCompressedSizes) {
  WriteImages("imgs", "a-grey.png", "b-rgb.png");
  WriteBytes(dir_ / "imgs/notes.txt", {'h', 'i'});  // not an image: not listed
  std::filesystem::create_directory(dir_ / "imgs/sub");
  WriteImage("imgs/sub/deep.png", MakeImage(5, 5, 3));  // not listed: folders are not searched recursively
  const RunResult r = RunPixelzip({"compare", "--model", "order0-adaptive", dir_ / "imgs"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << r.err;  // no progress bar: stderr is not a terminal
  const std::string out = Out(r);
  const std::vector<std::string> lines = Lines(out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("cpu: ", 0), 0u) << out;
  EXPECT_NE(lines[0].find(" threads"), std::string::npos) << out;
  EXPECT_NE(out.find("raster: order0-adaptive"), std::string::npos) << out;
  EXPECT_NE(out.find("multiscale: n/a"), std::string::npos) << out;
  EXPECT_EQ(out.find("deep.png"), std::string::npos) << out;
  EXPECT_EQ(out.find("notes.txt"), std::string::npos) << out;

  const uint64_t grey_pxz = CompressedSize(grey_), rgb_pxz = CompressedSize(rgb_);
  // image size given -9 | raster: bpsp ratio payload model ovh enc dec | multiscale: the same
  const std::vector<std::string> grey = RowOf(out, grey_), rgb = RowOf(out, rgb_);
  ASSERT_EQ(grey.size(), 18u) << out;
  ASSERT_EQ(rgb.size(), 18u) << out;
  EXPECT_LT(out.find(grey_), out.find(rgb_)) << "sorted by name";
  EXPECT_EQ(grey[1], "12x9x1");
  EXPECT_EQ(rgb[1], "10x7x3");
  struct Case {
    const std::vector<std::string>& row;
    const std::string& path;
    uint64_t pxz, subpixels;
  };
  for (const Case& c : {Case{grey, grey_, grey_pxz, kGreySubpixels}, Case{rgb, rgb_, rgb_pxz, kRgbSubpixels}}) {
    SCOPED_TRACE(c.path);
    const uint64_t given = ReadBytes(c.path).size();
    const uint64_t png9 = EncodePng(ReadImage(c.path), 9).size();
    EXPECT_NEAR(std::stod(c.row[2]), Bpsp(given, c.subpixels), 5e-5);
    EXPECT_NEAR(std::stod(c.row[3]), Bpsp(png9, c.subpixels), 5e-5);
    EXPECT_NEAR(std::stod(c.row[4]), Bpsp(c.pxz, c.subpixels), 5e-5);
    EXPECT_NEAR(std::stod(c.row[5]), double(c.pxz) / std::min(given, png9), 5e-4);
    // payload bits, model bits, overhead in percent of the model bits
    EXPECT_EQ(std::stoull(c.row[6]), PayloadBits(c.path));
    const double model_bits = std::stod(c.row[7]);
    EXPECT_GT(model_bits, 0.0);
    EXPECT_LE(model_bits, std::stod(c.row[6]) + 1.0) << "a payload shorter than the ideal code length";
    EXPECT_NEAR(std::stod(c.row[8]), 100.0 * (std::stod(c.row[6]) - model_bits) / model_bits,
                5e-5 + 100.0 * 0.05 / model_bits)
        << "model bits are printed to 0.1";
    EXPECT_GE(std::stod(c.row[9]), 0.0);
    EXPECT_GE(std::stod(c.row[10]), 0.0);
    for (size_t i = 11; i < 18; ++i) EXPECT_EQ(c.row[i], "n/a") << "multiscale column " << i;
  }
  // total: no size; sums of bits over sums of subpixels, sums of payload and model bits
  const std::vector<std::string> total = RowOf(out, "total");
  ASSERT_EQ(total.size(), 17u) << out;
  EXPECT_NEAR(std::stod(total[3]), Bpsp(grey_pxz + rgb_pxz, kGreySubpixels + kRgbSubpixels), 5e-5);
  EXPECT_EQ(std::stoull(total[5]), std::stoull(grey[6]) + std::stoull(rgb[6]));
  EXPECT_NEAR(std::stod(total[6]), std::stod(grey[7]) + std::stod(rgb[7]), 0.16);
  EXPECT_NEAR(std::stod(total[8]) + std::stod(total[9]),
              std::stod(grey[9]) + std::stod(rgb[9]) + std::stod(grey[10]) + std::stod(rgb[10]), 0.01);
  for (size_t i = 10; i < 17; ++i) EXPECT_EQ(total[i], "n/a");
}

TEST_F(CliCompareTest, JsonHasTheExpectedShape) {
  WriteImages("in", "grey.png", "rgb \"quoted\\.png");
  const RunResult r = RunPixelzip({"compare", "--json", "--model", "order0-adaptive", grey_, rgb_});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string json = Out(r);
  EXPECT_TRUE(JsonBalanced(json)) << json;
  EXPECT_EQ(json.rfind("{\"images\": [", 0), 0u) << json;
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(json[json.size() - 2], '}');
  EXPECT_EQ(Count(json, "\"file\": "), 2u) << json;
  EXPECT_NE(json.find("\"file\": \"" + grey_ + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("rgb \\\"quoted\\\\.png\""), std::string::npos) << "escaped name in " << json;
  EXPECT_NE(json.find("\"total\": {\"images\": 2, \"subpixels\": " + std::to_string(kGreySubpixels + kRgbSubpixels)),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"machine\": {\"cpu\": \""), std::string::npos) << json;
  EXPECT_NE(json.find("\"threads\": "), std::string::npos) << json;
  for (const std::string& path : {grey_, rgb_}) {
    SCOPED_TRACE(path);
    const std::string bytes = std::to_string(CompressedSize(path));
    EXPECT_NE(json.find("\"raster_bytes\": " + bytes + ", "), std::string::npos) << json;
    EXPECT_NE(json.find("\"png_given_bytes\": " + std::to_string(ReadBytes(path).size()) + ", "), std::string::npos)
        << json;
  }
  for (const char* key : {"width", "height", "channels", "subpixels", "png_given_bpsp", "png9_bytes", "png9_bpsp",
                          "png_best_bytes", "raster_bpsp", "raster_ratio_to_png", "raster_encode_s",
                          "raster_decode_s"}) {
    EXPECT_GE(Count(json, std::string("\"") + key + "\": "), 2u) << key;
  }
  for (const char* key : {"raster_payload_bits", "raster_model_bits", "raster_overhead_percent"}) {
    EXPECT_EQ(Count(json, std::string("\"") + key + "\": "), 3u) << key << ": both images and the total";
    EXPECT_EQ(Count(json, std::string("\"") + key + "\": null"), 0u) << key;
  }
  for (const std::string& path : {grey_, rgb_}) {
    EXPECT_NE(json.find("\"raster_payload_bits\": " + std::to_string(PayloadBits(path)) + ", "), std::string::npos)
        << path << " in " << json;
  }
  EXPECT_EQ(Count(json, "\"raster_model\": \"order0-adaptive\""), 2u) << json;
  // multiscale is n/a: null in both images and the total
  for (const char* key : {"multiscale_bytes", "multiscale_bpsp", "multiscale_ratio_to_png", "multiscale_payload_bits",
                          "multiscale_model_bits", "multiscale_overhead_percent", "multiscale_encode_s",
                          "multiscale_decode_s"}) {
    EXPECT_EQ(Count(json, std::string("\"") + key + "\": null"), 3u) << key << " in " << json;
  }
  // the total's raster rate: sum of bits over sum of subpixels
  const size_t total = json.find("\"total\": ");
  const size_t at = json.find("\"raster_bpsp\": ", total);
  ASSERT_NE(at, std::string::npos) << json;
  EXPECT_NEAR(std::stod(json.substr(at + 15)),
              Bpsp(CompressedSize(grey_) + CompressedSize(rgb_), kGreySubpixels + kRgbSubpixels), 1e-5);
}

// The number after the first `"key": ` at or after `from`; NaN when absent or null.
double JsonValue(const std::string& json, const std::string& key, size_t from = 0) {
  const std::string quoted = "\"" + key + "\": ";
  const size_t at = json.find(quoted, from);
  if (at == std::string::npos || json.compare(at + quoted.size(), 4, "null") == 0) return std::nan("");
  return std::stod(json.substr(at + quoted.size()));
}

// Issue 6: with the shipped default models, in both orders, the range coder's
// payload is within 0.1% of the integer model's ideal code length -log2 p(x).
TEST_F(CliCompareTest, PayloadIsWithinATenthOfAPercentOfTheModelBits) {
  const std::string sample = PIXELZIP_SAMPLE_IMAGE;  // a 256x192 photograph
  const RunResult r = RunPixelzip({"compare", "--json", sample});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string json = Out(r);
  const size_t total = json.find("\"total\": ");
  ASSERT_NE(total, std::string::npos) << json;
  for (const std::string order : {"raster", "multiscale"}) {
    SCOPED_TRACE(order);
    const double payload = JsonValue(json, order + "_payload_bits"), model = JsonValue(json, order + "_model_bits"),
                 overhead = JsonValue(json, order + "_overhead_percent");
    ASSERT_FALSE(std::isnan(payload) || std::isnan(model) || std::isnan(overhead)) << json;
    EXPECT_GT(model, 256 * 192 * 3 * 0.5) << "a photograph costs more than half a bit per subpixel";
    EXPECT_NEAR(overhead, 100.0 * (payload - model) / model, 1e-5);
    EXPECT_LT(std::abs(overhead), 0.1) << "payload " << payload << " bits, model " << model << " bits";
    // One image: the total says the same.
    EXPECT_EQ(JsonValue(json, order + "_payload_bits", total), payload);
    EXPECT_NEAR(JsonValue(json, order + "_overhead_percent", total), overhead, 1e-6);
  }
}

TEST_F(CliCompareTest, RasterOnlyAndPnmInput) {
  const std::string ppm = WriteImage("rgb.ppm", MakeImage(6, 5, 3, 2));
  const RunResult r = RunPixelzip({"compare", "--order", "raster", "--model", "order0-adaptive", ppm});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string out = Out(r);
  EXPECT_EQ(out.find("multiscale"), std::string::npos) << out;
  const std::vector<std::string> row = RowOf(out, ppm), total = RowOf(out, "total");
  ASSERT_EQ(row.size(), 11u) << out;
  EXPECT_EQ(row[2], "n/a") << "a PNM is not a PNG as given";
  EXPECT_NEAR(std::stod(row[4]), Bpsp(CompressedSize(ppm), 6 * 5 * 3), 5e-5);
  ASSERT_EQ(total.size(), 10u) << out;
  EXPECT_EQ(total[1], "n/a");
}

TEST_F(CliCompareTest, FailuresAreOneLine) {
  const std::string good = WriteImage("good.png", MakeImage(6, 5, 3));
  ExpectOneLineError(RunPixelzip({"compare", "--model", "order0-adaptive", good, dir_ / "nope.png"}), kExitIo,
                     dir_ / "nope.png");
  WriteBytes(dir_ / "bad.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
  const RunResult corrupt = RunPixelzip({"compare", "--model", "order0-adaptive", good, dir_ / "bad.png"});
  EXPECT_NE(corrupt.exit_code, 0);
  ExpectOneLineError(corrupt, corrupt.exit_code, dir_ / "bad.png");
  std::filesystem::create_directory(dir_ / "empty");
  ExpectOneLineError(RunPixelzip({"compare", dir_ / "empty"}), kExitUsage, dir_ / "empty");
  ExpectOneLineError(RunPixelzip({"compare", "--model", "no-such-model", good}), kExitModel, "no-such-model");
  // Only an order no model codes: an error, not a table of n/a.
  const RunResult ms = RunPixelzip({"compare", "--order", "multiscale", "--model", "order0-adaptive", good});
  EXPECT_EQ(ms.exit_code, kExitUnsupported) << Describe(ms);
  EXPECT_EQ(ms.ErrLines().size(), 1u) << ms.err;
  EXPECT_TRUE(ms.out.empty());
}

// ---- gated-pixelcnn: train a class-conditional model from labelled IDX files, then code with --model FILE ----

namespace {
void PutBigEndian32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}
}  // namespace

TEST_F(CliTest, GatedPixelCnnConditionalModelTrainedFromIdxRoundTripsWithModelFile) {
  const uint32_t n = 12, h = 10, w = 9;
  std::vector<uint8_t> images{0, 0, 8, 3}, labels{0, 0, 8, 1};
  PutBigEndian32(images, n);
  PutBigEndian32(images, h);
  PutBigEndian32(images, w);
  PutBigEndian32(labels, n);
  for (uint32_t i = 0; i < n; ++i) {
    const Image im = MakeImage(w, h, 1, i + 1);
    images.insert(images.end(), im.pixels.begin(), im.pixels.end());
    labels.push_back(uint8_t(i % 3));
  }
  WriteBytes(dir_ / "images.idx", images);
  WriteBytes(dir_ / "labels.idx", labels);
  const std::string model = dir_ / "cond.pxzm";
  RunResult r = RunPixelzip({"train", "--arch", "gated-pixelcnn", "--hyper", "kernel=3,features=4,layers=2,mixtures=2,classes=3",
                             "--data", dir_ / "images.idx", "--labels", dir_ / "labels.idx", "--held-out", "2", "--steps", "3",
                             "--batch", "4", "--crop", "8", "--threads", "1", "--checkpoint", dir_ / "cond.ckpt", "--export", model});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_TRUE(Exists(model));
  // A (valid) labels file with fewer labels than images is refused.
  labels.pop_back();
  labels[7] = uint8_t(n - 1);  // the count's low byte
  WriteBytes(dir_ / "short.idx", labels);
  r = RunPixelzip({"train", "--arch", "gated-pixelcnn", "--hyper", "classes=3", "--data", dir_ / "images.idx", "--labels",
                   dir_ / "short.idx", "--steps", "1"});
  EXPECT_NE(r.exit_code, 0);
  for (uint32_t seed : {3u, 8u}) {
    const Image image = MakeImage(13, 11, 1, seed);
    const std::string in = WriteImage("g" + std::to_string(seed) + ".png", image);
    r = RunPixelzip({"compress", in, "--model", model, "-o", in + ".pxz"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    r = RunPixelzip({"info", in + ".pxz"});
    EXPECT_NE(Out(r).find("gated-pixelcnn"), std::string::npos) << Out(r);
    r = RunPixelzip({"decompress", in + ".pxz", "--model", model, "-o", dir_ / "out.png", "--force"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(ReadImage(dir_ / "out.png"), image);
  }
}

}  // namespace
}  // namespace pixelzip::cli

namespace pixelzip::cli {
namespace {

// `pixelzip train --arch aux-grey|aux-pyramid --export F` then compress/decompress with `--model F`.
TEST(CliAuxModels, TrainExportAndRoundTripWithModelFile) {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "train");
  for (uint32_t i = 0; i < 3; ++i) WriteBytes(dir / ("train/im" + std::to_string(i) + ".png"), EncodePng(MakeImage(20, 18, 3, 30 + i)));
  const Image image = MakeImage(13, 9, 3, 7);
  WriteBytes(dir / "in.png", EncodePng(image));
  for (const std::string arch : {"aux-grey", "aux-pyramid"}) {
    const std::string model = dir / (arch + ".pxzm");
    const std::string hyper = arch == "aux-grey" ? "hidden=8,inner=8,blocks=1,grey_hidden=8,grey_inner=8,grey_blocks=1"
                                                 : "base_side=3,hidden=8,inner=8,blocks=1,base_hidden=8,base_inner=8,base_blocks=1";
    RunResult r = RunPixelzip({"train", "--arch", arch, "--hyper", hyper, "--data", dir / "train", "--held-out", "1",
                               "--steps", "2", "--batch", "2", "--crop", "16", "--threads", "1", "--export", model});
    ASSERT_EQ(r.exit_code, 0) << arch << ": " << Describe(r);
    r = RunPixelzip({"compress", dir / "in.png", "--model", model, "-o", dir / "a.pxz", "--force"});
    ASSERT_EQ(r.exit_code, 0) << arch << ": " << Describe(r);
    r = RunPixelzip({"decompress", dir / "a.pxz", "--model", model, "-o", dir / "out.png", "--force"});
    ASSERT_EQ(r.exit_code, 0) << arch << ": " << Describe(r);
    EXPECT_EQ(ReadImage(dir / "out.png"), image) << arch;
  }
}

}  // namespace
}  // namespace pixelzip::cli
