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

// Parses the stage record into h.stage_params; returns what is wrong with it (empty when
// it is valid or there is none).
std::string ParseStageRecord(Header& h) {
  h.stage_params.reset();
  if (h.stage.empty()) return {};
  try {
    h.stage_params = adaptive::Parse(h.stage.data(), h.stage.size());
  } catch (const std::invalid_argument& e) {
    return std::string("adaptive stage record: ") + e.what();
  }
  return {};
}

// Checks that need no limits; common to reading and writing. `stage_problem`: what
// ParseStageRecord said (h.stage_params is set when it is empty and there is a record).
std::string FieldProblem(const Header& h, const std::string& stage_problem) {
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
  if (!stage_problem.empty()) return stage_problem;
  if (h.stage_params && h.stage_params->positions == 2 && h.order != kOrderRasterWavefront)
    return "adaptive stage record: wavefront positions in a stream of order " + std::to_string(h.order);
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
  const bool light = h.stage_params && h.stage_params->kind >= 2;  // kinds 2 and 3
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
  Header h = header;
  const std::string stage_problem = ParseStageRecord(h);
  const std::string problem = FieldProblem(h, stage_problem);
  if (!problem.empty()) throw Error(ErrorCode::kInternal, "cannot write header: " + problem);
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
  // The header checksum matched, so a stage kind or position mode beyond this build's was
  // written on purpose, by a newer pixelzip: unsupported, not corrupt.
  if (h.stage.size() == adaptive::kSerializedParamsBytes &&
      (h.stage[0] > adaptive::kNewestKind || h.stage[1] > adaptive::kNewestPositions)) {
    throw Error(ErrorCode::kUnsupported,
                "stream uses adaptive stage kind " + std::to_string(h.stage[0]) + " with position mode " +
                    std::to_string(h.stage[1]) + ", which this pixelzip does not know (made by a newer pixelzip; "
                    "this one codes kinds 1-" + std::to_string(adaptive::kNewestKind) + ", modes 0-" +
                    std::to_string(adaptive::kNewestPositions) + ")");
  }
  const std::string stage_problem = ParseStageRecord(h);
  const std::string problem = FieldProblem(h, stage_problem);
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
  if (!h.stage.empty() && (!h.stage_params || image / h.channels > (uint64_t{1} << 40))) return false;
  if (h.stage_params) {  // larger than 2^40 pixels fails the sum anyway
    const uint32_t colour = h.order == kOrderPalette ? 1 : h.channels >= 3 ? 3 : 1;
    stage = adaptive::Stage::MemoryBytes(*h.stage_params, h.width, h.height, colour);
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

namespace {

bool ValidPngLayout(int colour_type, int bit_depth) {
  switch (colour_type) {
    case 0: return bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8 || bit_depth == 16;
    case 3: return bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8;
    case 2:
    case 4:
    case 6: return bit_depth == 8 || bit_depth == 16;
  }
  return false;
}

// The entries of tags 1 and 2 for `metadata`, in order, as far as the area's 65535 bytes
// reach with `used` of them taken.
std::vector<uint8_t> MetadataEntries(const std::vector<MetadataItem>& metadata, std::vector<std::string>* not_kept,
                                     size_t used);

void AppendEntry(std::vector<uint8_t>& out, uint8_t tag, const std::vector<uint8_t>& body) {
  out.push_back(tag);
  out.push_back(static_cast<uint8_t>(body.size()));
  out.push_back(static_cast<uint8_t>(body.size() >> 8));
  out.insert(out.end(), body.begin(), body.end());
}

// Tag 3's and 4's bodies (docs/format.md section 2.1), or false when they are malformed.
bool ParseMaxvalEntry(const uint8_t* body, size_t length, SourceFormat* source) {
  if (length != 2) return false;
  const uint32_t maxval = uint32_t{body[0]} | uint32_t{body[1]} << 8;
  if (maxval == 0 || maxval == 255 || maxval == 65535) return false;
  source->maxval = maxval;
  return true;
}

// Tag 4's head: colour type, bit depth, and for a palette (colour type 3) the entry count - 1
// and the tRNS entry count (u16); the palette's entries follow as bits (PaletteBits).
constexpr size_t kPaletteHeadBytes = 5;

bool ParsePngSourceEntry(const uint8_t* body, size_t length, SourceFormat* source) {
  if (length < 2 || !ValidPngLayout(body[0], body[1])) return false;
  source->png_colour_type = body[0];
  source->png_bit_depth = body[1];
  source->plte.clear();
  source->trns.clear();
  if (body[0] != 3) return length == 2;
  if (length < kPaletteHeadBytes) return false;
  const size_t entries = size_t{body[2]} + 1, trns = size_t{body[3]} | size_t{body[4]} << 8;
  return trns <= entries;
}

// The image's distinct pixels as RGBA (alpha 255 without an alpha channel), ascending, when
// it is RGB or RGBA with at most 256 of them; else none.
std::vector<uint32_t> DistinctRgba(const Image& image) {
  const uint32_t c = image.channels;
  std::vector<uint32_t> seen;
  if ((c != 3 && c != 4) || image.bit_depth != 8) return seen;
  const size_t pixels = size_t{image.width} * image.height;
  uint32_t last = 0;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = &image.pixels[i * c];
    const uint32_t v = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | (c == 4 ? p[3] : 255u);
    if (i > 0 && v == last) continue;
    last = v;
    const auto it = std::lower_bound(seen.begin(), seen.end(), v);
    if (it != seen.end() && *it == v) continue;
    if (seen.size() == 256) return {};
    seen.insert(it, v);
  }
  return seen;
}

// Bits of width 0-32, most significant first, packed into bytes from their high bit.
class BitWriter {
 public:
  void Put(uint32_t value, int width) {
    for (int b = width - 1; b >= 0; --b) {
      if (bits_ % 8 == 0) out_.push_back(0);
      if ((value >> b) & 1) out_.back() |= static_cast<uint8_t>(0x80 >> (bits_ % 8));
      ++bits_;
    }
  }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  std::vector<uint8_t> out_;
  size_t bits_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  // False when the bits run out.
  bool Get(int width, uint32_t* value) {
    *value = 0;
    for (int b = 0; b < width; ++b) {
      if (bits_ / 8 >= size_) return false;
      *value = *value << 1 | ((data_[bits_ / 8] >> (7 - bits_ % 8)) & 1);
      ++bits_;
    }
    return true;
  }
  // The bits end in the last byte, and its unused bits are zero.
  bool AtCleanEnd() const {
    if ((bits_ + 7) / 8 != size_) return false;
    return bits_ % 8 == 0 || (data_[size_ - 1] & (0xff >> (bits_ % 8))) == 0;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t bits_ = 0;
};

// Bits to write the numbers 0..n: 0 for n = 0.
int WidthFor(size_t n) {
  int w = 0;
  while (n >> w) ++w;
  return w;
}

// A palette's entries relative to the image's colours (docs/format.md section 2.1, tag 4):
// for each PLTE entry in order, with R the image's distinct RGBA pixels (DistinctRgba) not yet
// named, a number s in 0..|R| of WidthFor(|R|) bits: s < |R| names R[s] (ascending order), which
// leaves R; s = |R| is a literal entry, 24 bits RGB, then 8 bits alpha when the entry has a tRNS value.
std::vector<uint8_t> PaletteBits(const SourceFormat& source, const Image& image) {
  std::vector<uint32_t> remaining = DistinctRgba(image);
  const size_t entries = source.plte.size() / 3;
  BitWriter out;
  for (size_t j = 0; j < entries; ++j) {
    const uint32_t rgb = uint32_t{source.plte[3 * j]} << 16 | uint32_t{source.plte[3 * j + 1]} << 8 |
                         source.plte[3 * j + 2];
    const bool has_alpha = j < source.trns.size();
    const uint32_t v = rgb << 8 | (has_alpha ? source.trns[j] : 255u);
    const int width = WidthFor(remaining.size());
    const auto it = std::lower_bound(remaining.begin(), remaining.end(), v);
    if (it != remaining.end() && *it == v) {
      out.Put(static_cast<uint32_t>(it - remaining.begin()), width);
      remaining.erase(it);
    } else {
      out.Put(static_cast<uint32_t>(remaining.size()), width);
      out.Put(rgb, 24);
      if (has_alpha) out.Put(v & 255, 8);
    }
  }
  return std::move(out.bytes());
}

}  // namespace

std::string SourceFormatProblem(const SourceFormat& source, uint32_t bits_per_sample) {
  const uint32_t full = bits_per_sample == 16 ? 65535 : 255;
  if (source.maxval > full)
    return "maxval " + std::to_string(source.maxval) + " is above the " + std::to_string(bits_per_sample) + "-bit range";
  if (source.maxval == 255 && full != 255)
    return "maxval 255 with 16-bit samples (an image of maxval 255 is 8-bit)";
  if (source.png_colour_type >= 0) {
    if (!ValidPngLayout(source.png_colour_type, source.png_bit_depth))
      return "PNG colour type " + std::to_string(source.png_colour_type) + " with bit depth " +
             std::to_string(source.png_bit_depth);
    const size_t entries = source.plte.size() / 3;
    if (source.png_colour_type == 3 && bits_per_sample != 8) return "a palette for 16-bit samples";
    if (source.png_colour_type == 3 &&
        (source.plte.size() % 3 != 0 || entries < 1 || entries > 256 || source.trns.size() > entries))
      return "a palette of " + std::to_string(source.plte.size()) + " PLTE and " + std::to_string(source.trns.size()) +
             " tRNS bytes (1-256 entries, tRNS at most one byte an entry)";
    if (source.png_colour_type != 3 && (!source.plte.empty() || !source.trns.empty()))
      return "a palette for PNG colour type " + std::to_string(source.png_colour_type);
  }
  return {};
}

bool RecordsSource(const SourceFormat& source) {
  return (source.maxval != 0 && source.maxval != 255 && source.maxval != 65535) || source.png_colour_type >= 0;
}

std::vector<uint8_t> MetadataExtension(const std::vector<MetadataItem>& metadata, const SourceFormat& source,
                                       const Image& image, std::vector<std::string>* not_kept) {
  std::vector<uint8_t> out;
  if (source.maxval != 0 && source.maxval != 255 && source.maxval != 65535) {
    AppendEntry(out, kEntryPnmMaxval, {static_cast<uint8_t>(source.maxval), static_cast<uint8_t>(source.maxval >> 8)});
  }
  if (source.png_colour_type >= 0) {
    std::vector<uint8_t> body = {static_cast<uint8_t>(source.png_colour_type),
                                 static_cast<uint8_t>(source.png_bit_depth)};
    if (source.png_colour_type == 3) {
      body.push_back(static_cast<uint8_t>(source.plte.size() / 3 - 1));
      body.push_back(static_cast<uint8_t>(source.trns.size()));
      body.push_back(static_cast<uint8_t>(source.trns.size() >> 8));
      const std::vector<uint8_t> bits = PaletteBits(source, image);
      body.insert(body.end(), bits.begin(), bits.end());
    }
    AppendEntry(out, kEntryPngSource, body);
  }
  std::vector<uint8_t> rest = MetadataEntries(metadata, not_kept, out.size());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::vector<uint8_t> MetadataExtension(const std::vector<MetadataItem>& metadata,
                                       std::vector<std::string>* not_kept) {
  return MetadataEntries(metadata, not_kept, 0);
}

namespace {
std::vector<uint8_t> MetadataEntries(const std::vector<MetadataItem>& metadata, std::vector<std::string>* not_kept,
                                     size_t used) {
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
    if (item.data.size() > kMaxArea || used + out.size() + kEntryHead + body.size() + item.data.size() > kMaxArea) {
      if (not_kept) {
        not_kept->push_back(DescribeMetadataItem(item) + " (" + std::to_string(item.data.size()) +
                            " bytes): the header's extension area holds at most " + std::to_string(kMaxArea) +
                            " bytes of metadata, " +
                            std::to_string(kMaxArea - std::min(kMaxArea, used + out.size())) + " of them left");
      }
      continue;
    }
    body.insert(body.end(), item.data.begin(), item.data.end());
    AppendEntry(out, tag, body);
  }
  return out;
}
}  // namespace

bool ParseMetadataExtension(const std::vector<uint8_t>& extension, std::vector<MetadataItem>* metadata) {
  return ParseMetadataExtension(extension, metadata, nullptr);
}

namespace {
// Calls visit(tag, body, length) for each entry of the extension area in order (section
// 2.1's framing: u8 tag, u16 length, body). Returns false when the framing is broken (an
// entry's head or body runs past the end) or when `visit` returns false.
template <class Visit>
bool ForEachExtensionEntry(const std::vector<uint8_t>& extension, Visit&& visit) {
  size_t pos = 0;
  while (pos < extension.size()) {
    if (extension.size() - pos < 3) return false;
    const uint8_t tag = extension[pos];
    const size_t length = size_t{extension[pos + 1]} | size_t{extension[pos + 2]} << 8;
    pos += 3;
    if (extension.size() - pos < length) return false;
    const uint8_t* body = extension.data() + pos;
    pos += length;
    if (!visit(tag, body, length)) return false;
  }
  return true;
}
}  // namespace

bool ParseMetadataExtension(const std::vector<uint8_t>& extension, std::vector<MetadataItem>* metadata,
                            SourceFormat* source_out) {
  std::vector<MetadataItem> items;
  SourceFormat source;
  const bool framed = ForEachExtensionEntry(extension, [&](uint8_t tag, const uint8_t* body, size_t length) {
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
    } else if (tag == kEntryPnmMaxval) {
      return ParseMaxvalEntry(body, length, &source);
    } else if (tag == kEntryPngSource) {
      return ParsePngSourceEntry(body, length, &source);
    } else {
      return true;  // a later minor version's entry
    }
    items.push_back(std::move(item));
    return true;
  });
  if (!framed) return false;
  if (metadata) *metadata = std::move(items);
  if (source_out) *source_out = std::move(source);
  return true;
}

bool CompletePalette(const std::vector<uint8_t>& extension, const Image& image, SourceFormat* source) {
  return ForEachExtensionEntry(extension, [&](uint8_t tag, const uint8_t* body, size_t length) {
    if (tag != kEntryPngSource || length < kPaletteHeadBytes || body[0] != 3) return true;
    const size_t entries = size_t{body[2]} + 1, trns = size_t{body[3]} | size_t{body[4]} << 8;
    std::vector<uint32_t> remaining = DistinctRgba(image);
    BitReader in(body + kPaletteHeadBytes, length - kPaletteHeadBytes);
    source->plte.clear();
    source->trns.clear();
    for (size_t j = 0; j < entries; ++j) {
      uint32_t s = 0, rgb = 0, alpha = 255;
      if (!in.Get(WidthFor(remaining.size()), &s) || s > remaining.size()) return false;
      if (s < remaining.size()) {
        rgb = remaining[s] >> 8;
        alpha = remaining[s] & 255;
        remaining.erase(remaining.begin() + s);
        if (j >= trns && alpha != 255) return false;  // an entry without tRNS is opaque
      } else {
        if (!in.Get(24, &rgb) || (j < trns && !in.Get(8, &alpha))) return false;
      }
      source->plte.insert(source->plte.end(), {static_cast<uint8_t>(rgb >> 16), static_cast<uint8_t>(rgb >> 8),
                                               static_cast<uint8_t>(rgb)});
      if (j < trns) source->trns.push_back(static_cast<uint8_t>(alpha));
    }
    return in.AtCleanEnd();
  });
}

uint32_t Crc32(const uint8_t* data, size_t size) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  if (size) crc = crc32_z(crc, data, size);
  return static_cast<uint32_t>(crc);
}

}  // namespace pixelzip::codec
