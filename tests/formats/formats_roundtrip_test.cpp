// Write -> read round trips, format choice and file I/O.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/image_io.h"
#include "test_util.h"

namespace pixelzip {
namespace {

namespace fs = std::filesystem;
using formats_test::CatchError;
using formats_test::MakeTestImage;
using formats_test::PngSuiteDir;
using formats_test::ReadFileBytes;

Image Decode(const std::vector<uint8_t>& bytes) { return ReadImageBytes(bytes.data(), bytes.size(), "mem"); }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pixelzip_formats_XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Size {
  uint32_t width, height;
};
const Size kSizes[] = {{1, 1}, {1, 7}, {13, 1}, {17, 3}, {64, 48}};

TEST(PngRoundTripTest, OneToFourChannels) {
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (const Size& s : kSizes) {
      for (int level : {0, 1, 6, 9}) {
        const Image image = MakeTestImage(s.width, s.height, channels, channels * 100 + s.width);
        const std::vector<uint8_t> png = EncodePng(image, level);
        ASSERT_GE(png.size(), 8u);
        EXPECT_EQ(png[1], 'P');
        EXPECT_EQ(Decode(png), image) << channels << " channels, " << s.width << "x" << s.height << ", level "
                                      << level;
      }
    }
  }
}

TEST(PngRoundTripTest, PngSuiteImagesSurviveReencoding) {
  for (const char* name : {"basn0g01.png", "basi3p04.png", "tbbn0g04.png", "tbrn2c08.png", "basn6a08.png"}) {
    const Image image = ReadImageFile(PngSuiteDir() + "/" + name);
    EXPECT_EQ(Decode(EncodePng(image)), image) << name;
    EXPECT_EQ(Decode(EncodePnm(image)), image) << name;
  }
}

TEST(PnmRoundTripTest, OneToFourChannels) {
  const char* const kMagic[5] = {"", "P5", "P7", "P6", "P7"};
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    for (const Size& s : kSizes) {
      const Image image = MakeTestImage(s.width, s.height, channels, channels + s.height);
      const std::vector<uint8_t> pnm = EncodePnm(image);
      EXPECT_EQ(std::string(pnm.begin(), pnm.begin() + 2), kMagic[channels]);
      EXPECT_EQ(pnm.size() - image.pixels.size(),
                std::string(pnm.begin(), pnm.end() - static_cast<std::ptrdiff_t>(image.pixels.size())).size());
      EXPECT_EQ(Decode(pnm), image) << channels << " channels";
    }
  }
}

TEST(PnmRoundTripTest, ExactHeaders) {
  Image grey = MakeTestImage(3, 2, 1, 1);
  std::vector<uint8_t> bytes = EncodePnm(grey);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 11), "P5\n3 2\n255\n");
  Image rgba = MakeTestImage(3, 2, 4, 1);
  bytes = EncodePnm(rgba);
  const std::string header = "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n";
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header.size())), header);
}

TEST(EncodeTest, InvalidImagesRefused) {
  Image bad = MakeTestImage(4, 4, 3, 1);
  bad.pixels.pop_back();
  for (const Image& image : {bad, MakeTestImage(4, 4, 5, 1), Image{}}) {
    EXPECT_EQ(CatchError([&] { EncodePng(image); }).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(CatchError([&] { EncodePnm(image); }).code(), ErrorCode::kInvalidArgument);
  }
  const Image ok = MakeTestImage(2, 2, 1, 1);
  EXPECT_EQ(CatchError([&] { EncodePng(ok, 10); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CatchError([&] { EncodePng(ok, -1); }).code(), ErrorCode::kInvalidArgument);
}

TEST(FormatForPathTest, ChoosesByExtension) {
  EXPECT_EQ(FormatForPath("a.png"), FileFormat::kPng);
  EXPECT_EQ(FormatForPath("a.PNG"), FileFormat::kPng);
  EXPECT_EQ(FormatForPath("dir/a.ppm"), FileFormat::kPnm);
  EXPECT_EQ(FormatForPath("a.pgm"), FileFormat::kPnm);
  EXPECT_EQ(FormatForPath("a.PNM"), FileFormat::kPnm);
  EXPECT_EQ(FormatForPath("a.pam"), FileFormat::kPnm);
  EXPECT_EQ(FormatForPath("a.jpg"), FileFormat::kPng);
  EXPECT_EQ(FormatForPath("noext"), FileFormat::kPng);
  EXPECT_EQ(FormatForPath("dir.ppm/noext"), FileFormat::kPng);
  EXPECT_EQ(FormatForPath("-"), FileFormat::kPng);
}

TEST(FileIoTest, WriteThenReadBothFormats) {
  TempDir dir;
  for (uint32_t channels = 1; channels <= 4; ++channels) {
    const Image image = MakeTestImage(9, 5, channels, channels);
    for (const char* name : {"out.png", "out.ppm", "out.pam"}) {
      const std::string path = dir.File(name);
      WriteImageFile(image, path);
      const std::vector<uint8_t> bytes = ReadFileBytes(path);
      const bool is_png = bytes.size() > 1 && bytes[0] == 0x89;
      EXPECT_EQ(is_png, FormatForPath(path) == FileFormat::kPng) << name;
      EXPECT_EQ(ReadImageFile(path), image) << name;
    }
  }
}

TEST(FileIoTest, DetectsByMagicNotExtension) {
  TempDir dir;
  const Image image = MakeTestImage(6, 4, 3, 9);
  const std::string png_named_ppm = dir.File("really_png.ppm");
  WriteImageFile(image, png_named_ppm, FileFormat::kPng);
  EXPECT_EQ(ReadFileBytes(png_named_ppm)[0], 0x89);
  EXPECT_EQ(ReadImageFile(png_named_ppm), image);
  const std::string pnm_named_png = dir.File("really_pnm.png");
  WriteImageFile(image, pnm_named_png, FileFormat::kPnm);
  EXPECT_EQ(ReadFileBytes(pnm_named_png)[0], 'P');
  EXPECT_EQ(ReadImageFile(pnm_named_png), image);
}

TEST(FileIoTest, IoErrorsNameThePath) {
  TempDir dir;
  const std::string missing = dir.File("missing.png");
  Error e = CatchError([&] { ReadImageFile(missing); });
  EXPECT_EQ(e.code(), ErrorCode::kIo);
  EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();

  const std::string directory = dir.File("");
  e = CatchError([&] { ReadImageFile(directory); });
  EXPECT_EQ(e.code(), ErrorCode::kIo) << e.what();

  const std::string unwritable = dir.File("no/such/dir/out.png");
  e = CatchError([&] { WriteImageFile(MakeTestImage(2, 2, 1, 1), unwritable); });
  EXPECT_EQ(e.code(), ErrorCode::kIo);
  EXPECT_NE(std::string(e.what()).find(unwritable), std::string::npos) << e.what();
}

TEST(FileIoTest, DashReadsStdin) {
  TempDir dir;
  const Image image = MakeTestImage(5, 5, 2, 3);
  const std::string path = dir.File("in.png");
  WriteImageFile(image, path);
  ASSERT_NE(std::freopen(path.c_str(), "rb", stdin), nullptr);
  EXPECT_EQ(ReadImageFile("-"), image);
  // Now at end of input: an empty stdin is a clear error naming <stdin>.
  const Error e = CatchError([] { ReadImageFile("-"); });
  EXPECT_EQ(e.code(), ErrorCode::kTruncatedInput);
  EXPECT_NE(std::string(e.what()).find("<stdin>"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace pixelzip
