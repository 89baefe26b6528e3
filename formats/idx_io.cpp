#include "formats/idx_io.h"

#include <zlib.h>

#include <cstdint>
#include <memory>

#include "formats/image_io.h"
#include "pixelzip/error.h"

namespace pixelzip {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

class IdxReader {
 public:
  explicit IdxReader(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (!file_) throw Error(ErrorCode::kIo, path + ": cannot open");
  }
  void Read(uint8_t* out, size_t n) {
    while (n > 0) {
      const unsigned chunk = unsigned(std::min<size_t>(n, size_t{1} << 30));
      const int got = gzread(file_.get(), out, chunk);
      if (got < 0) throw Error(ErrorCode::kCorruptInput, path_ + ": corrupt gzip data");
      if (got == 0) throw Error(ErrorCode::kTruncatedInput, path_ + ": IDX file ends early");
      out += got;
      n -= size_t(got);
    }
  }
  uint32_t U32() {
    uint8_t b[4];
    Read(b, 4);
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  }
  // Reads the header; returns the dimensions. Requires unsigned-byte data with `dims` dimensions.
  std::vector<uint32_t> Header(uint32_t dims) {
    const uint32_t magic = U32();
    if (magic != (0x0800u | dims))
      throw Error(ErrorCode::kCorruptInput, path_ + ": not an unsigned-byte IDX file with " + std::to_string(dims) + " dimensions");
    std::vector<uint32_t> d;
    uint64_t total = 1;
    for (uint32_t i = 0; i < dims; ++i) {
      d.push_back(U32());
      total *= d.back();
      if (d.back() == 0 || total > kMaxImageBytes) throw Error(ErrorCode::kLimitExceeded, path_ + ": IDX dimensions empty or too large");
    }
    return d;
  }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
};

}  // namespace

std::vector<Image> ReadIdxImages(const std::string& path) {
  IdxReader r(path);
  const auto d = r.Header(3);
  std::vector<Image> images(d[0]);
  for (auto& im : images) {
    im.width = d[2];
    im.height = d[1];
    im.channels = 1;
    im.pixels.resize(im.SubpixelCount());
    r.Read(im.pixels.data(), im.pixels.size());
  }
  return images;
}

std::vector<int> ReadIdxLabels(const std::string& path) {
  IdxReader r(path);
  const auto d = r.Header(1);
  std::vector<uint8_t> bytes(d[0]);
  r.Read(bytes.data(), bytes.size());
  return std::vector<int>(bytes.begin(), bytes.end());
}

}  // namespace pixelzip
