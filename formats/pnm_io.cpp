// PNM: plain (P2, P3) and binary (P5, P6) greymaps and pixmaps, and PAM (P7); any maxval
// 1-65535 (samples up to 255 make an 8-bit Image, larger a 16-bit one).
//
// Netpbm header syntax: the magic, then width, height and maxval as decimal
// numbers separated by whitespace, where '#' starts a comment running to the
// end of the line; exactly one whitespace character separates maxval from
// the raster of a binary file. A plain file's raster is decimal numbers separated by
// whitespace (and comments). PAM (P7) has "KEY value" lines ending with "ENDHDR\n".
// A binary raster holds one byte a sample when maxval < 256, else two (most significant first).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/image_io.h"
#include "formats/image_io_internal.h"

namespace pixelzip {
namespace {

// Numbers above this saturate while parsing (we only need to know they are
// far too large; no valid dimension or maxval comes near it).
constexpr uint64_t kNumberCap = uint64_t{1} << 40;

bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

std::string Describe(uint8_t c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
}

class HeaderReader {
 public:
  HeaderReader(const uint8_t* data, size_t size, const std::string& name, const char* kind)
      : data_(data), size_(size), name_(name), kind_(kind) {}

  size_t pos() const { return pos_; }
  void set_pos(size_t pos) { pos_ = pos; }
  bool AtEnd() const { return pos_ >= size_; }
  uint8_t Peek() const { return data_[pos_]; }

  [[noreturn]] void Fail(ErrorCode code, const std::string& what) const {
    throw Error(code, name_ + ": " + (code == ErrorCode::kTruncatedInput ? "truncated " : "") +
                          (code == ErrorCode::kCorruptInput ? "corrupt " : "") + kind_ + ": " + what);
  }

  // Skips whitespace and '#' comments (to the end of the line).
  void SkipSpaceAndComments() {
    while (pos_ < size_) {
      if (IsSpace(data_[pos_])) {
        ++pos_;
      } else if (data_[pos_] == '#') {
        SkipComment();
      } else {
        break;
      }
    }
  }

  // At a '#': skips the comment up to (not including) its line end, keeping its text
  // when comments are collected.
  void SkipComment() {
    const size_t start = ++pos_;
    while (pos_ < size_ && data_[pos_] != '\n' && data_[pos_] != '\r') ++pos_;
    if (comments_ != nullptr) {
      MetadataItem item;
      item.kind = MetadataItem::Kind::kPnmComment;
      item.data.assign(data_ + start, data_ + pos_);
      comments_->push_back(std::move(item));
    }
  }

  void CollectCommentsInto(std::vector<MetadataItem>* comments) { comments_ = comments; }

  // Skips spaces and tabs only (within a PAM header line).
  void SkipBlanks() {
    while (pos_ < size_ && (data_[pos_] == ' ' || data_[pos_] == '\t')) ++pos_;
  }

  // Reads a decimal number at the current position (saturating at kNumberCap);
  // `text`, when given, receives the digits as written (for messages).
  uint64_t ReadNumber(const char* what, std::string* text = nullptr) {
    if (pos_ >= size_) Fail(ErrorCode::kTruncatedInput, std::string("the header ends before the ") + what);
    if (!IsDigit(data_[pos_])) {
      Fail(ErrorCode::kCorruptInput, std::string("expected the ") + what + ", found " + Describe(data_[pos_]));
    }
    uint64_t value = 0;
    const size_t start = pos_;
    while (pos_ < size_ && IsDigit(data_[pos_])) {
      value = value * 10 + (data_[pos_] - '0');
      if (value > kNumberCap) value = kNumberCap;
      ++pos_;
    }
    if (text != nullptr) text->assign(reinterpret_cast<const char*>(data_ + start), pos_ - start);
    return value;
  }

  // Reads a run of non-whitespace characters (for PAM keywords).
  std::string ReadWord() {
    const size_t start = pos_;
    while (pos_ < size_ && !IsSpace(data_[pos_])) ++pos_;
    return std::string(reinterpret_cast<const char*>(data_ + start), pos_ - start);
  }

  // The rest of the current line with surrounding blanks removed; leaves the
  // position at the line end.
  std::string ReadRestOfLine() {
    SkipBlanks();
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') ++pos_;
    size_t end = pos_;
    while (end > start && IsSpace(data_[end - 1])) --end;
    return std::string(reinterpret_cast<const char*>(data_ + start), end - start);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
  const char* kind_;
  std::vector<MetadataItem>* comments_ = nullptr;
};

struct PnmHeader {
  uint64_t width = 0;
  uint64_t height = 0;
  uint64_t channels = 0;
  uint64_t maxval = 0;
  // The numbers as written in the file (values above saturate at kNumberCap).
  std::string width_text = "0", height_text = "0", channels_text = "0", maxval_text = "0";
};

// A number from the file for a message: as written, leading zeros included; a very long
// one is shortened in the middle, with its digit count.
std::string AsWritten(const std::string& digits) {
  constexpr size_t kShown = 48;
  if (digits.size() <= kShown) return digits;
  return digits.substr(0, 20) + "..." + digits.substr(digits.size() - 20) + " (" + std::to_string(digits.size()) +
         " digits)";
}

void CheckDimensionsAndMaxval(const PnmHeader& h, HeaderReader& r, const std::string& name) {
  if (h.width == 0 || h.height == 0) {
    r.Fail(ErrorCode::kCorruptInput,
           "width and height must be at least 1 (got " + AsWritten(h.width_text) + "x" + AsWritten(h.height_text) +
               ")");
  }
  if (h.maxval == 0 || h.maxval > 65535) {
    r.Fail(ErrorCode::kCorruptInput, "maxval must be in 1..65535 (got " + AsWritten(h.maxval_text) + ")");
  }
  if (h.width > 0xffffffffu || h.height > 0xffffffffu) {
    throw Error(ErrorCode::kLimitExceeded, name + ": image dimensions " + AsWritten(h.width_text) + "x" +
                                               AsWritten(h.height_text) + " are too large");
  }
}

// P5 / P6: after the magic, width height maxval and one whitespace character.
PnmHeader ReadPnmHeader(HeaderReader& r, uint64_t channels) {
  PnmHeader h;
  h.channels = channels;
  r.set_pos(2);
  r.SkipSpaceAndComments();
  h.width = r.ReadNumber("width", &h.width_text);
  r.SkipSpaceAndComments();
  h.height = r.ReadNumber("height", &h.height_text);
  r.SkipSpaceAndComments();
  h.maxval = r.ReadNumber("maxval", &h.maxval_text);
  if (r.AtEnd()) r.Fail(ErrorCode::kTruncatedInput, "the file ends after the header, before the pixel data");
  if (r.Peek() == '#') {
    // A comment before the delimiting newline; the newline is the delimiter.
    r.SkipComment();
    if (r.AtEnd()) r.Fail(ErrorCode::kTruncatedInput, "the file ends after the header, before the pixel data");
  } else if (!IsSpace(r.Peek())) {
    r.Fail(ErrorCode::kCorruptInput, "expected whitespace after maxval, found " + Describe(r.Peek()));
  }
  r.set_pos(r.pos() + 1);  // the single whitespace character before the raster
  return h;
}

// P7 (PAM): "KEY value" lines, '#' comment lines, up to "ENDHDR\n".
PnmHeader ReadPamHeader(HeaderReader& r) {
  PnmHeader h;
  std::string tupltype;
  bool have_width = false, have_height = false, have_depth = false, have_maxval = false;
  r.set_pos(2);
  while (true) {
    r.SkipSpaceAndComments();
    if (r.AtEnd()) r.Fail(ErrorCode::kTruncatedInput, "the header ends before ENDHDR");
    const std::string key = r.ReadWord();
    if (key == "ENDHDR") {
      r.SkipBlanks();
      if (r.AtEnd()) r.Fail(ErrorCode::kTruncatedInput, "the file ends after the header, before the pixel data");
      if (r.Peek() == '\r') r.set_pos(r.pos() + 1);
      if (r.AtEnd()) r.Fail(ErrorCode::kTruncatedInput, "the file ends after the header, before the pixel data");
      if (r.Peek() != '\n') r.Fail(ErrorCode::kCorruptInput, "expected a newline after ENDHDR");
      r.set_pos(r.pos() + 1);
      break;
    }
    if (key == "TUPLTYPE") {
      const std::string t = r.ReadRestOfLine();
      tupltype = tupltype.empty() ? t : tupltype + " " + t;
      continue;
    }
    uint64_t* field = nullptr;
    std::string* text = nullptr;
    bool* seen = nullptr;
    if (key == "WIDTH") {
      field = &h.width, text = &h.width_text, seen = &have_width;
    } else if (key == "HEIGHT") {
      field = &h.height, text = &h.height_text, seen = &have_height;
    } else if (key == "DEPTH") {
      field = &h.channels, text = &h.channels_text, seen = &have_depth;
    } else if (key == "MAXVAL") {
      field = &h.maxval, text = &h.maxval_text, seen = &have_maxval;
    } else {
      r.Fail(ErrorCode::kCorruptInput, "unknown header line '" + key.substr(0, 32) + "'");
    }
    if (*seen) r.Fail(ErrorCode::kCorruptInput, key + " appears twice in the header");
    *seen = true;
    r.SkipBlanks();
    *field = r.ReadNumber(key == "DEPTH" ? "depth" : key == "MAXVAL" ? "maxval" : key == "WIDTH" ? "width" : "height",
                          text);
    r.SkipBlanks();
    if (!r.AtEnd() && r.Peek() != '\n' && r.Peek() != '\r') {
      r.Fail(ErrorCode::kCorruptInput, "unexpected " + Describe(r.Peek()) + " after " + key);
    }
  }
  if (!have_width || !have_height || !have_depth || !have_maxval) {
    r.Fail(ErrorCode::kCorruptInput, "the header lacks WIDTH, HEIGHT, DEPTH or MAXVAL");
  }
  if (h.channels == 0) r.Fail(ErrorCode::kCorruptInput, "DEPTH must be at least 1");
  if (h.channels > 4) {
    r.Fail(ErrorCode::kUnsupported, "DEPTH " + AsWritten(h.channels_text) + " is not supported (only 1 to 4)");
  }
  static const char* const kTuplTypes[5] = {"", "GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"};
  if (!tupltype.empty()) {
    int depth_of_type = 0;
    for (int d = 1; d <= 4; ++d) {
      if (tupltype == kTuplTypes[d]) depth_of_type = d;
    }
    if (depth_of_type == 0) {
      r.Fail(ErrorCode::kUnsupported, "TUPLTYPE '" + tupltype.substr(0, 32) +
                                          "' is not supported (only GRAYSCALE, GRAYSCALE_ALPHA, RGB, RGB_ALPHA)");
    }
    if (static_cast<uint64_t>(depth_of_type) != h.channels) {
      r.Fail(ErrorCode::kCorruptInput,
             "TUPLTYPE " + tupltype + " does not match DEPTH " + std::to_string(h.channels));
    }
  }
  return h;
}

}  // namespace

namespace formats_internal {

Image ReadPnm(const uint8_t* data, size_t size, const std::string& name, ImageMetadata* metadata) {
  const char magic = static_cast<char>(data[1]);
  const bool pam = magic == '7';
  const bool plain = magic == '2' || magic == '3';
  HeaderReader r(data, size, name, pam ? "PAM" : "PNM");
  std::vector<MetadataItem> comments;
  if (metadata != nullptr) r.CollectCommentsInto(&comments);
  if (size < 3) r.Fail(ErrorCode::kTruncatedInput, "the file ends inside the header");
  if (!IsSpace(data[2]) && data[2] != '#') {
    throw Error(ErrorCode::kUnsupported, name + ": unrecognised file format (starts like PNM but the magic is not "
                                                "followed by whitespace)");
  }
  const PnmHeader h = pam ? ReadPamHeader(r) : ReadPnmHeader(r, magic == '5' || magic == '2' ? 1 : 3);
  CheckDimensionsAndMaxval(h, r, name);
  const uint64_t sample_bytes = h.maxval > 255 ? 2 : 1;  // 16-bit samples: big-endian, as stored
  const size_t bytes = CheckedImageBytes(h.width, h.height, h.channels * sample_bytes, name);
  const size_t samples = bytes / sample_bytes;
  const bool full_range = h.maxval == 255 || h.maxval == 65535;
  Image image;
  image.width = static_cast<uint32_t>(h.width);
  image.height = static_cast<uint32_t>(h.height);
  image.channels = static_cast<uint32_t>(h.channels);
  image.bit_depth = sample_bytes == 2 ? 16 : 8;
  auto over_maxval = [&](size_t i, uint64_t value) {
    const size_t pixel = i / h.channels;
    r.Fail(ErrorCode::kCorruptInput, "sample value " + std::to_string(value) + " at x " +
                                         std::to_string(pixel % h.width) + ", y " + std::to_string(pixel / h.width) +
                                         ", channel " + std::to_string(i % h.channels) + " is above the maxval " +
                                         std::to_string(h.maxval));
  };
  if (plain) {
    // Each sample is at least one digit and one separator: a file too short for the image is
    // refused before its pixels are allocated.
    if ((size - r.pos() + 1) / 2 < samples) {
      r.Fail(ErrorCode::kTruncatedInput, "the plain raster has room for at most " +
                                             std::to_string((size - r.pos() + 1) / 2) + " of the " +
                                             std::to_string(samples) + " samples a " + std::to_string(h.width) +
                                             "x" + std::to_string(h.height) + " image needs");
    }
    image.pixels.resize(bytes);
    for (size_t i = 0; i < samples; ++i) {
      r.SkipSpaceAndComments();
      if (r.AtEnd()) {
        r.Fail(ErrorCode::kTruncatedInput, "the plain raster ends after " + std::to_string(i) + " of the " +
                                               std::to_string(samples) + " samples");
      }
      const uint64_t value = r.ReadNumber("sample");
      if (value > h.maxval) over_maxval(i, value);
      if (!r.AtEnd() && !IsSpace(r.Peek()) && r.Peek() != '#') {
        r.Fail(ErrorCode::kCorruptInput, "expected whitespace after a sample, found " + Describe(r.Peek()));
      }
      image.set_sample(i, static_cast<uint16_t>(value));
    }
    r.SkipSpaceAndComments();
    if (!r.AtEnd()) {
      throw Error(ErrorCode::kUnsupported, name + ": data after the image (multi-image PNM files are not supported)");
    }
  } else {
    const size_t available = size - r.pos();
    if (available < bytes) {
      r.Fail(ErrorCode::kTruncatedInput, "the pixel data has " + std::to_string(available) + " of the " +
                                             std::to_string(bytes) + " bytes a " + std::to_string(h.width) + "x" +
                                             std::to_string(h.height) + " image needs");
    }
    for (size_t i = r.pos() + bytes; i < size; ++i) {
      if (!IsSpace(data[i])) {
        throw Error(ErrorCode::kUnsupported, name + ": data after the image (multi-image PNM files are not supported)");
      }
    }
    image.pixels.assign(data + r.pos(), data + r.pos() + bytes);
    if (!full_range) {
      for (size_t i = 0; i < samples; ++i) {
        if (image.sample(i) > h.maxval) over_maxval(i, image.sample(i));
      }
    }
  }
  if (metadata != nullptr) {
    metadata->items.insert(metadata->items.end(), comments.begin(), comments.end());
    metadata->source = SourceFormat{};
    if (!full_range) metadata->source.maxval = static_cast<uint32_t>(h.maxval);
  }
  return image;
}

}  // namespace formats_internal

std::vector<uint8_t> EncodePnm(const Image& image) { return EncodePnm(image, {}, nullptr); }

std::vector<uint8_t> EncodePnm(const Image& image, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept) {
  return EncodePnm(image, metadata, not_kept, SourceFormat{});
}

std::vector<uint8_t> EncodePnm(const Image& image, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept, const SourceFormat& source) {
  formats_internal::ValidateImageForEncode(image, "EncodePnm");
  const uint32_t full = image.bit_depth == 16 ? 65535 : 255;
  const uint32_t maxval_value = source.maxval != 0 ? source.maxval : full;
  if (maxval_value > full) {
    throw Error(ErrorCode::kInvalidArgument, "EncodePnm: maxval " + std::to_string(maxval_value) + " is above the " +
                                                 std::to_string(image.bit_depth) + "-bit image's range");
  }
  const size_t samples = image.SubpixelCount();
  if (maxval_value != full) {
    for (size_t i = 0; i < samples; ++i) {
      if (image.sample(i) > maxval_value) {
        throw Error(ErrorCode::kInvalidArgument, "EncodePnm: sample " + std::to_string(i) + " (" +
                                                     std::to_string(image.sample(i)) + ") is above the maxval " +
                                                     std::to_string(maxval_value));
      }
    }
  }
  const std::string dims = std::to_string(image.width) + " " + std::to_string(image.height);
  // Comments go right after the magic line, one per line, in order.
  std::string comments;
  for (const MetadataItem& item : metadata) {
    const bool one_line = std::none_of(item.data.begin(), item.data.end(), [](uint8_t c) { return c == '\n' || c == '\r'; });
    if (item.kind == MetadataItem::Kind::kPnmComment && one_line) {
      comments += "#" + std::string(item.data.begin(), item.data.end()) + "\n";
    } else if (not_kept != nullptr) {
      not_kept->push_back(DescribeMetadataItem(item) + (item.kind == MetadataItem::Kind::kPnmComment
                                                            ? ": a comment cannot hold a line break"
                                                            : ": PNM has no place for it (decompress to PNG to keep it)"));
    }
  }
  const std::string maxval = std::to_string(maxval_value);
  std::string header;
  switch (image.channels) {
    case 1: header = "P5\n" + comments + dims + "\n" + maxval + "\n"; break;
    case 3: header = "P6\n" + comments + dims + "\n" + maxval + "\n"; break;
    default:
      header = "P7\n" + comments + "WIDTH " + std::to_string(image.width) + "\nHEIGHT " + std::to_string(image.height) +
               "\nDEPTH " + std::to_string(image.channels) + "\nMAXVAL " + maxval + "\nTUPLTYPE " +
               (image.channels == 2 ? "GRAYSCALE_ALPHA" : "RGB_ALPHA") + "\nENDHDR\n";
      break;
  }
  // One byte a sample below maxval 256, else two (most significant first), whatever the
  // image's bit depth.
  const bool wide = maxval_value > 255;
  std::vector<uint8_t> out;
  out.reserve(header.size() + samples * (wide ? 2 : 1));
  out.insert(out.end(), header.begin(), header.end());
  if (wide == (image.bit_depth == 16)) {
    out.insert(out.end(), image.pixels.begin(), image.pixels.end());
  } else {
    for (size_t i = 0; i < samples; ++i) {
      const uint16_t v = image.sample(i);
      if (wide) out.push_back(static_cast<uint8_t>(v >> 8));
      out.push_back(static_cast<uint8_t>(v));
    }
  }
  return out;
}

}  // namespace pixelzip
