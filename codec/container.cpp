#include "codec/container.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "models/registry.h"
#include "pixelzip/error.h"

namespace pixelzip::codec {
namespace {

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
  return buf;
}

[[noreturn]] void Corrupt(const std::string& what) { throw Error(ErrorCode::kCorruptInput, what); }

// Little-endian serialization of the header fields.
class HeaderWriter {
 public:
  static constexpr bool kReading = false;

  void Magic(std::array<uint8_t, 4>& magic) { Bytes(magic, "magic"); }
  void U8(uint8_t& v, const char*) { out_.push_back(v); }
  void U16(uint16_t& v, const char*) { Le(v, 2); }
  void U32(uint32_t& v, const char*) { Le(v, 4); }
  void U64(uint64_t& v, const char*) { Le(v, 8); }
  template <size_t N>
  void Bytes(std::array<uint8_t, N>& a, const char*) { out_.insert(out_.end(), a.begin(), a.end()); }
  // One length byte, then the characters.
  void String8(std::string& s, size_t max_bytes, const char* what) {
    if (s.size() > max_bytes) throw Error(ErrorCode::kInternal, std::string(what) + " is too long for the header");
    uint8_t n = static_cast<uint8_t>(s.size());
    U8(n, what);
    out_.insert(out_.end(), s.begin(), s.end());
  }
  // A uint16 length, then the bytes.
  void Blob16(std::vector<uint8_t>& v, const char* what) {
    if (v.size() > 0xffff) throw Error(ErrorCode::kInternal, std::string(what) + " is too long for the header");
    uint16_t n = static_cast<uint16_t>(v.size());
    U16(n, what);
    out_.insert(out_.end(), v.begin(), v.end());
  }
  // CRC-32 of every byte written so far.
  void HeaderChecksum(uint32_t& crc) {
    crc = Crc32(out_.data(), out_.size());
    U32(crc, "header checksum");
  }

  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  void Le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

// Bounds-checked reader: every read first checks that the bytes exist.
class HeaderReader {
 public:
  static constexpr bool kReading = true;

  HeaderReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // Mismatching bytes are kCorruptInput even when the input is shorter than the magic.
  void Magic(std::array<uint8_t, 4>& magic) {
    const size_t have = std::min(size_, magic.size());
    if (!std::equal(data_, data_ + have, kMagic.begin())) Corrupt("not a pixelzip stream (bad magic bytes)");
    Bytes(magic, "magic");
  }
  void U8(uint8_t& v, const char* what) { v = static_cast<uint8_t>(Le(1, what)); }
  void U16(uint16_t& v, const char* what) { v = static_cast<uint16_t>(Le(2, what)); }
  void U32(uint32_t& v, const char* what) { v = static_cast<uint32_t>(Le(4, what)); }
  void U64(uint64_t& v, const char* what) { v = Le(8, what); }
  template <size_t N>
  void Bytes(std::array<uint8_t, N>& a, const char* what) {
    Need(N, what);
    std::copy(data_ + pos_, data_ + pos_ + N, a.begin());
    pos_ += N;
  }
  void String8(std::string& s, size_t max_bytes, const char* what) {
    uint8_t n = 0;
    U8(n, what);
    if (n == 0 || n > max_bytes) {
      Corrupt(std::string("header field '") + what + "' has length " + std::to_string(n) + " (allowed 1-" +
              std::to_string(max_bytes) + ")");
    }
    Need(n, what);
    s.assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
  }
  void Blob16(std::vector<uint8_t>& v, const char* what) {
    uint16_t n = 0;
    U16(n, what);
    Need(n, what);
    v.assign(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
  }
  void HeaderChecksum(uint32_t& crc) {
    const size_t covered = pos_;
    U32(crc, "header checksum");
    const uint32_t computed = Crc32(data_, covered);
    if (crc != computed)
      Corrupt("header checksum mismatch (stored " + Hex32(crc) + ", computed " + Hex32(computed) + ")");
  }

  size_t position() const { return pos_; }

 private:
  void Need(size_t n, const char* what) {
    if (size_ - pos_ < n) {
      throw Error(ErrorCode::kTruncatedInput, "stream ends inside the header (field '" + std::string(what) +
                                                  "' needs " + std::to_string(n) + " bytes at offset " +
                                                  std::to_string(pos_) + ", " + std::to_string(size_ - pos_) +
                                                  " left)");
    }
  }
  uint64_t Le(int bytes, const char* what) {
    Need(static_cast<size_t>(bytes), what);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Checked as soon as the version is read: a newer major version may lay out
// everything after it differently.
void CheckVersion(const Header& h) {
  const std::string version = std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
  if (h.version_major > kVersionMajor) {
    throw Error(ErrorCode::kUnsupported, "stream was made by a newer pixelzip (format version " + version +
                                             "; this build reads " + std::to_string(kVersionMajor) + ".x)");
  }
  if (h.version_major == 0) Corrupt("invalid format version " + version);
}

// The one description of the header, for both directions (docs/format.md, section 2).
template <class Io>
void DescribeHeader(Io& io, Header& h) {
  io.Magic(h.magic);
  io.U16(h.version_major, "major version");
  io.U16(h.version_minor, "minor version");
  if constexpr (Io::kReading) CheckVersion(h);
  io.String8(h.architecture, kMaxArchitectureBytes, "architecture");
  io.Bytes(h.weights_sha256, "weights hash");
  io.U8(h.order, "coding order");
  io.U8(h.channels, "channels");
  io.U32(h.width, "width");
  io.U32(h.height, "height");
  io.U64(h.payload_bytes, "payload length");
  io.U32(h.pixel_crc32, "pixel checksum");
  io.Blob16(h.extension, "extension");
  io.HeaderChecksum(h.header_crc32);
}

// Checks that need no limits; common to reading and writing.
std::string FieldProblem(const Header& h) {
  if (!models::IsValidArchitectureName(h.architecture))
    return "architecture name is not 1-64 printable ASCII characters";
  if (h.order > kOrderRasterWavefront || (h.order == kOrderRasterWavefront && h.version_major < 2))
    return "unknown coding order " + std::to_string(h.order);
  if (h.channels < 1 || h.channels > 4) return "channel count " + std::to_string(h.channels) + " (allowed 1-4)";
  if (h.width == 0 || h.height == 0)
    return "empty image (" + std::to_string(h.width) + " x " + std::to_string(h.height) + ")";
  return {};
}

[[noreturn]] void OverLimit(const std::string& what) {
  throw Error(ErrorCode::kLimitExceeded, what + " (pixelzip::Limits can raise the limit)");
}

void CheckLimits(const Header& h, const Limits& limits) {
  const std::string dims = std::to_string(h.width) + " x " + std::to_string(h.height);
  if (h.width > limits.max_width || h.height > limits.max_height) {
    OverLimit("image " + dims + " exceeds the dimension limit " + std::to_string(limits.max_width) + " x " +
              std::to_string(limits.max_height));
  }
  const uint64_t pixels = uint64_t{h.width} * h.height;  // < 2^64: both factors < 2^32
  if (pixels > limits.max_pixels) {
    OverLimit("image " + dims + " has " + std::to_string(pixels) + " pixels, over the limit of " +
              std::to_string(limits.max_pixels));
  }
  uint64_t memory = 0;
  const bool fits = DecodeMemoryBytes(h, &memory);
  if (!fits || memory > limits.max_memory_bytes || memory > std::numeric_limits<size_t>::max()) {
    OverLimit("decoding image " + dims + " would need " + (fits ? std::to_string(memory) : "over 2^64") +
              " bytes, over the memory limit of " + std::to_string(limits.max_memory_bytes));
  }
}

// Every CDF gives each of the 256 symbols a frequency >= 1, so no symbol costs less
// than log2(65536 / 65281) > 1/178 bit; the range coder's output is at most a few
// bytes shorter than the ideal length. A payload shorter than this is corrupt; the
// check stops a tiny stream from claiming a huge image.
void CheckPayloadLength(const Header& h) {
  const uint64_t subpixels = uint64_t{h.width} * h.height * h.channels;  // fits: limits checked first
  const uint64_t min_bytes = subpixels / (178 * 8);
  const uint64_t slack = 16;
  if (h.payload_bytes < min_bytes && min_bytes - h.payload_bytes > slack) {
    Corrupt("payload of " + std::to_string(h.payload_bytes) + " bytes is too short for " +
            std::to_string(subpixels) + " subpixels");
  }
}

}  // namespace

std::vector<uint8_t> WriteHeader(const Header& header) {
  const std::string problem = FieldProblem(header);
  if (!problem.empty()) throw Error(ErrorCode::kInternal, "cannot write header: " + problem);
  Header h = header;
  HeaderWriter writer;
  DescribeHeader(writer, h);
  return writer.Take();
}

Header ReadHeader(const uint8_t* data, size_t size, const Limits& limits, size_t* header_bytes) {
  if (data == nullptr && size != 0) throw Error(ErrorCode::kInvalidArgument, "null stream data");
  Header h;
  HeaderReader reader(data, size);
  DescribeHeader(reader, h);
  const std::string problem = FieldProblem(h);
  if (!problem.empty()) Corrupt("invalid header: " + problem);
  CheckLimits(h, limits);
  CheckPayloadLength(h);
  if (header_bytes) *header_bytes = reader.position();
  return h;
}

bool DecodeMemoryBytes(const Header& h, uint64_t* bytes) {
  const uint64_t pixels = uint64_t{h.width} * h.height;
  uint64_t image = 0, colour_plane = 0;
  const bool has_alpha = h.channels == 2 || h.channels == 4;
  if (__builtin_mul_overflow(pixels, uint64_t{h.channels}, &image)) return false;
  if (has_alpha && __builtin_mul_overflow(pixels, uint64_t{h.channels} - 1u, &colour_plane)) return false;
  return !__builtin_add_overflow(image, colour_plane, bytes);
}

uint32_t Crc32(const uint8_t* data, size_t size) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  if (size) crc = crc32_z(crc, data, size);
  return static_cast<uint32_t>(crc);
}

}  // namespace pixelzip::codec
