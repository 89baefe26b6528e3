#include "codec/container.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "adaptive/stage.h"
#include "codec/fallback.h"
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
  // Unsigned LEB128: 7 bits a byte, least significant first, the high bit set on every byte
  // but the last; the shortest form (docs/format.md section 2.2).
  void Varint(uint64_t& v, uint64_t max, const char* what) {
    if (v > max) throw Error(ErrorCode::kInternal, std::string(what) + " is too large for the header");
    uint64_t rest = v;
    while (rest >= 0x80) {
      out_.push_back(static_cast<uint8_t>(rest | 0x80));
      rest >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(rest));
  }
  void Varint32(uint32_t& v, const char* what) {
    uint64_t wide = v;
    Varint(wide, 0xffffffffu, what);
  }
  // A varint length (at most max_bytes), then the bytes.
  void VarBlob(std::vector<uint8_t>& v, size_t max_bytes, const char* what) {
    uint64_t n = v.size();
    Varint(n, max_bytes, what);
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
  // Corrupt when the value is over `max` or not in its shortest form (a last byte of 0 after
  // the first): each value has exactly one encoding, so the header bytes are canonical.
  void Varint(uint64_t& v, uint64_t max, const char* what) {
    v = 0;
    for (int shift = 0;; shift += 7) {
      uint8_t byte = 0;
      U8(byte, what);
      const uint64_t bits = byte & 0x7f;
      if (shift == 63 && (bits > 1 || (byte & 0x80))) VarintOver(what, max);  // past 64 bits
      v |= bits << shift;
      if (byte & 0x80) continue;
      if (byte == 0 && shift > 0) Corrupt(std::string("header field '") + what + "' is not in its shortest form");
      break;
    }
    if (v > max) VarintOver(what, max);
  }
  void Varint32(uint32_t& v, const char* what) {
    uint64_t wide = 0;
    Varint(wide, 0xffffffffu, what);
    v = static_cast<uint32_t>(wide);
  }
  void VarBlob(std::vector<uint8_t>& v, size_t max_bytes, const char* what) {
    uint64_t n = 0;
    Varint(n, max_bytes, what);
    Need(static_cast<size_t>(n), what);
    v.assign(data_ + pos_, data_ + pos_ + n);
    pos_ += static_cast<size_t>(n);
  }
  void HeaderChecksum(uint32_t& crc) {
    const size_t covered = pos_;
    U32(crc, "header checksum");
    const uint32_t computed = Crc32(data_, covered);
    if (crc != computed)
      Corrupt("header checksum mismatch (stored " + Hex32(crc) + ", computed " + Hex32(computed) + ")");
  }

  size_t position() const { return pos_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void Need(size_t n, const char* what) {
    if (size_ - pos_ < n) {
      throw Error(ErrorCode::kTruncatedInput, "stream ends inside the header (field '" + std::string(what) +
                                                  "' needs " + std::to_string(n) + " bytes at offset " +
                                                  std::to_string(pos_) + ", " + std::to_string(size_ - pos_) +
                                                  " left)");
    }
  }
  [[noreturn]] static void VarintOver(const char* what, uint64_t max) {
    Corrupt(std::string("header field '") + what + "' is over its largest value " + std::to_string(max));
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

// A header parsed as far as its checksum with every major version this build reads but
// `read_major` written into its version field: a stream whose version field is damaged (from
// a newer major, or into another major this build reads) parses with the major it was written
// with, and its header_crc32 matches only then (the checksum covers the version field). A
// genuinely newer stream matches no other major. Returns that major version, or 0.
uint32_t MajorVersionDamaged(const uint8_t* data, size_t size, uint32_t read_major);

// Checked as soon as the version is read: a newer major version may lay out
// everything after it differently.
void CheckVersion(const Header& h, const uint8_t* data, size_t size) {
  const std::string version = std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
  if (h.version_major > kVersionMajor) {
    if (const uint32_t intended = MajorVersionDamaged(data, size, h.version_major)) {
      Corrupt("damaged header: the format version field reads " + version +
              ", but the header checksum matches only with major version " + std::to_string(intended));
    }
    throw Error(ErrorCode::kUnsupported, "stream was made by a newer pixelzip (format version " + version +
                                             "; this build reads " + std::to_string(kVersionMajor) + ".x)");
  }
  if (h.version_major == 0) Corrupt("invalid format version " + version);
}

// The compact layout of 4.x after the version (docs/format.md section 2.2). The fallback
// codings (order 3, 4) name no model: a reader fills in their own identity.
template <class Io>
void DescribeCompactHeader(Io& io, Header& h) {
  io.U8(h.order, "coding order");
  io.U8(h.channels, "channels");
  io.U8(h.bits_per_sample, "bits per sample");
  io.Varint32(h.width, "width");
  io.Varint32(h.height, "height");
  if (h.order < kOrderDeflate) {
    io.String8(h.architecture, kMaxArchitectureBytes, "architecture");
    io.Bytes(h.weights_sha256, "weights hash");
  } else if constexpr (Io::kReading) {
    if (h.order == kOrderDeflate) {
      h.architecture = DeflateArchitecture();
      h.weights_sha256 = DeflateHash();
    } else if (h.order == kOrderPalette) {
      h.architecture = PaletteArchitecture();
      h.weights_sha256 = PaletteHash();
    }
  }
  io.VarBlob(h.stage, kMaxStageRecordBytes, "adaptive stage");
  io.Varint(h.payload_bytes, ~uint64_t{0}, "payload length");
  io.U32(h.pixel_crc32, "pixel checksum");
  io.VarBlob(h.extension, 0xffff, "extension");
  io.HeaderChecksum(h.header_crc32);
}

// The one description of the header, for both directions (docs/format.md, section 2).
template <class Io>
void DescribeHeader(Io& io, Header& h) {
  io.Magic(h.magic);
  io.U16(h.version_major, "major version");
  io.U16(h.version_minor, "minor version");
  if constexpr (Io::kReading) CheckVersion(h, io.data(), io.size());
  if (h.version_major >= kCompactMajor) return DescribeCompactHeader(io, h);
  io.String8(h.architecture, kMaxArchitectureBytes, "architecture");
  io.Bytes(h.weights_sha256, "weights hash");
  io.U8(h.order, "coding order");
  io.U8(h.channels, "channels");
  io.U32(h.width, "width");
  io.U32(h.height, "height");
  io.U64(h.payload_bytes, "payload length");
  io.U32(h.pixel_crc32, "pixel checksum");
  if (h.version_major >= 2) io.Blob16(h.stage, "adaptive stage");
  io.Blob16(h.extension, "extension");
  io.HeaderChecksum(h.header_crc32);
}

uint32_t MajorVersionDamaged(const uint8_t* data, size_t size, uint32_t read_major) {
  constexpr size_t kLongestHeader = size_t{1} << 18;  // over any layout's largest header
  if (size < 8) return 0;
  std::vector<uint8_t> copy(data, data + std::min(size, kLongestHeader));
  for (uint32_t major = 1; major <= kVersionMajor; ++major) {
    if (major == read_major) continue;
    copy[4] = static_cast<uint8_t>(major);
    copy[5] = static_cast<uint8_t>(major >> 8);
    try {
      Header h;
      HeaderReader reader(copy.data(), copy.size());
      DescribeHeader(reader, h);
      return major;
    } catch (const Error&) {
    }
  }
  return 0;
}

// Checks that need no limits; common to reading and writing.
std::string FieldProblem(const Header& h) {
  if (h.order > kOrderPalette || (h.order >= kOrderRasterWavefront && h.version_major < MinMajorVersionFor(h.order)))
    return "unknown coding order " + std::to_string(h.order);
  if (!models::IsValidArchitectureName(h.architecture))
    return "architecture name is not 1-64 printable ASCII characters";
  if (h.bits_per_sample != 8 && (h.bits_per_sample != 16 || h.version_major < kCompactMajor))
    return "bits per sample " + std::to_string(h.bits_per_sample) + " (allowed 8 or 16)";
  if (h.version_major >= kCompactMajor && h.order == kOrderDeflate &&
      (h.architecture != DeflateArchitecture() || h.weights_sha256 != DeflateHash()))
    return "the deflate coding names a model";
  if (h.version_major >= kCompactMajor && h.order == kOrderPalette &&
      (h.architecture != PaletteArchitecture() || h.weights_sha256 != PaletteHash()))
    return "the palette coding names a model";
  if (h.order == kOrderPalette && h.stage.empty()) return "palette coding without its adaptive stage record";
  if (h.order == kOrderDeflate && !h.stage.empty()) return "deflate coding with an adaptive stage record";
  if (h.channels < 1 || h.channels > 4) return "channel count " + std::to_string(h.channels) + " (allowed 1-4)";
  if (h.width == 0 || h.height == 0)
    return "empty image (" + std::to_string(h.width) + " x " + std::to_string(h.height) + ")";
  if (!h.stage.empty()) {
    try {
      const adaptive::StageParams p = adaptive::Parse(h.stage.data(), h.stage.size());
      if (p.positions == 2 && h.order != kOrderRasterWavefront)
        return "adaptive stage record: wavefront positions in a stream of order " + std::to_string(h.order);
    } catch (const std::invalid_argument& e) {
      return std::string("adaptive stage record: ") + e.what();
    }
  }
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
  // With the adaptive stage (2.x) a subpixel is 8 binary decisions (kind 1) or at least
  // one (kinds 2 and 3, the light stages) of at least log2(65536 / 65535) bit each: over 1/45500
  // byte, or over 1/364000 byte. (The record's kind byte is checked before this.) The
  // palette coding (3.x) codes one index per pixel that way; deflate expands at most
  // 1032:1, so it is also covered.
  const bool light = h.stage.size() == adaptive::kSerializedParamsBytes && h.stage[0] >= 2;  // kinds 2 and 3
  const uint64_t per_decision = light ? 364000 : 45500;
  const uint64_t pixels = uint64_t{h.width} * h.height;
  const uint64_t min_bytes = h.order >= kOrderDeflate   ? pixels / per_decision
                             : h.version_major >= 2 ? subpixels / per_decision
                                                    : subpixels / (178 * 8);
  const uint64_t slack = 16;
  if (h.payload_bytes < min_bytes && min_bytes - h.payload_bytes > slack) {
    Corrupt("payload of " + std::to_string(h.payload_bytes) + " bytes is too short for " +
            std::to_string(subpixels) + " subpixels");
  }
}

}  // namespace

uint16_t LegacyMajorVersionFor(const Header& header) {
  const uint16_t by_order = MinMajorVersionFor(header.order);
  return header.stage.empty() ? by_order : std::max<uint16_t>(by_order, 2);
}

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
  try {
    DescribeHeader(reader, h);
  } catch (const Error& e) {
    // A header whose version field was damaged into another major this build reads (e.g.
    // 1 -> 4) fails to parse in that major's layout: if it parses, checksum included, with
    // another major, that is the damage (as CheckVersion does for a major beyond this build's).
    if (h.version_major >= 1 && h.version_major <= kVersionMajor &&
        (e.code() == ErrorCode::kTruncatedInput || e.code() == ErrorCode::kCorruptInput)) {
      const uint32_t intended = MajorVersionDamaged(data, size, h.version_major);
      if (intended != 0) {
        Corrupt("damaged header: the format version field reads " + std::to_string(h.version_major) + "." +
                std::to_string(h.version_minor) + ", but the header checksum matches only with major version " +
                std::to_string(intended));
      }
    }
    throw;
  }
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
  // The fallback codings decode straight into the image (the palette's indices go into
  // its first bytes); only the model coding has a separate colour plane.
  if (has_alpha && h.order < kOrderDeflate &&
      __builtin_mul_overflow(pixels, uint64_t{h.channels} - 1u, &colour_plane))
    return false;
  uint64_t stage = 0;
  if (!h.stage.empty() && image / h.channels <= (uint64_t{1} << 40)) {  // larger fails the sum anyway
    try {
      const uint32_t colour = h.order == kOrderPalette ? 1 : h.channels >= 3 ? 3 : 1;
      stage = adaptive::Stage::MemoryBytes(adaptive::Parse(h.stage.data(), h.stage.size()), h.width, h.height, colour);
    } catch (const std::invalid_argument&) {
      return false;
    }
  } else if (!h.stage.empty()) {
    return false;
  }
  // A 16-bit image (section 3.4): the high bytes decode as an 8-bit image as above, then the
  // 16-bit image (two bytes a subpixel) is assembled beside it.
  uint64_t sixteen = 0;
  if (h.bits_per_sample == 16 && __builtin_mul_overflow(image, uint64_t{2}, &sixteen)) return false;
  return !__builtin_add_overflow(image, colour_plane, bytes) && !__builtin_add_overflow(*bytes, stage, bytes) &&
         !__builtin_add_overflow(*bytes, sixteen, bytes);
}

namespace {
bool IsChunkType(const std::string& t) {
  return t.size() == 4 && std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
         });
}
}  // namespace

std::vector<uint8_t> MetadataExtension(const std::vector<MetadataItem>& metadata,
                                       std::vector<std::string>* not_kept) {
  constexpr size_t kMaxArea = 0xffff, kEntryHead = 3;
  std::vector<uint8_t> out;
  for (const MetadataItem& item : metadata) {
    std::vector<uint8_t> body;
    uint8_t tag = 0;
    if (item.kind == MetadataItem::Kind::kPngChunk) {
      if (!IsChunkType(item.png_type) || static_cast<uint8_t>(item.place) > 2) {
        if (not_kept) not_kept->push_back("a PNG chunk with an invalid type or place");
        continue;
      }
      tag = kEntryPngChunk;
      body.assign(item.png_type.begin(), item.png_type.end());
      body.push_back(static_cast<uint8_t>(item.place));
    } else {
      tag = kEntryPnmComment;
    }
    if (item.data.size() > kMaxArea || out.size() + kEntryHead + body.size() + item.data.size() > kMaxArea) {
      if (not_kept) {
        not_kept->push_back(DescribeMetadataItem(item) + " (" + std::to_string(item.data.size()) +
                            " bytes): the header's extension area holds at most " + std::to_string(kMaxArea) +
                            " bytes of metadata, " + std::to_string(kMaxArea - std::min(kMaxArea, out.size())) +
                            " of them left");
      }
      continue;
    }
    body.insert(body.end(), item.data.begin(), item.data.end());
    out.push_back(tag);
    out.push_back(static_cast<uint8_t>(body.size()));
    out.push_back(static_cast<uint8_t>(body.size() >> 8));
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

bool ParseMetadataExtension(const std::vector<uint8_t>& extension, std::vector<MetadataItem>* metadata) {
  std::vector<MetadataItem> items;
  size_t pos = 0;
  while (pos < extension.size()) {
    if (extension.size() - pos < 3) return false;
    const uint8_t tag = extension[pos];
    const size_t length = size_t{extension[pos + 1]} | size_t{extension[pos + 2]} << 8;
    pos += 3;
    if (extension.size() - pos < length) return false;
    const uint8_t* body = extension.data() + pos;
    pos += length;
    MetadataItem item;
    if (tag == kEntryPngChunk) {
      if (length < 5) return false;
      item.kind = MetadataItem::Kind::kPngChunk;
      item.png_type.assign(reinterpret_cast<const char*>(body), 4);
      if (!IsChunkType(item.png_type) || body[4] > 2) return false;
      item.place = static_cast<MetadataItem::Place>(body[4]);
      item.data.assign(body + 5, body + length);
    } else if (tag == kEntryPnmComment) {
      item.kind = MetadataItem::Kind::kPnmComment;
      item.data.assign(body, body + length);
    } else {
      continue;  // a later minor version's entry
    }
    items.push_back(std::move(item));
  }
  if (metadata) *metadata = std::move(items);
  return true;
}

uint32_t Crc32(const uint8_t* data, size_t size) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  if (size) crc = crc32_z(crc, data, size);
  return static_cast<uint32_t>(crc);
}

}  // namespace pixelzip::codec
