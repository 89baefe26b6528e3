// The in-memory image every part of pixelzip exchanges: 8 or 16 bits per subpixel,
// row-major, channels interleaved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pixelzip {

// 1 = grey, 2 = grey + alpha, 3 = RGB, 4 = RGBA.
//
// bit_depth 8 (the default): `pixels` holds one byte per subpixel.
// bit_depth 16: `pixels` holds two bytes per subpixel, most significant first (as PNG
// and PNM store them), so pixels.size() == 2 * SubpixelCount(); read and write the
// values with sample() / set_sample(). at() is for 8-bit images only.
struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 0;
  std::vector<uint8_t> pixels;  // size() == width * height * channels * BytesPerSample()
  uint32_t bit_depth = 8;       // 8 or 16

  size_t SubpixelCount() const { return size_t{width} * height * channels; }
  size_t BytesPerSample() const { return bit_depth > 8 ? 2 : 1; }
  // The size pixels must have: SubpixelCount() * BytesPerSample().
  size_t ByteCount() const { return SubpixelCount() * BytesPerSample(); }
  // REQUIRES: bit_depth == 8, y < height, x < width, c < channels.
  uint8_t& at(uint32_t y, uint32_t x, uint32_t c) { return pixels[(size_t{y} * width + x) * channels + c]; }
  uint8_t at(uint32_t y, uint32_t x, uint32_t c) const { return pixels[(size_t{y} * width + x) * channels + c]; }
  // The value of subpixel `i` (0 .. SubpixelCount() - 1) at either depth.
  uint16_t sample(size_t i) const {
    return bit_depth > 8 ? static_cast<uint16_t>(pixels[2 * i] << 8 | pixels[2 * i + 1]) : pixels[i];
  }
  uint16_t sample(uint32_t y, uint32_t x, uint32_t c) const { return sample((size_t{y} * width + x) * channels + c); }
  // REQUIRES: v < 2^bit_depth.
  void set_sample(size_t i, uint16_t v) {
    if (bit_depth > 8) {
      pixels[2 * i] = static_cast<uint8_t>(v >> 8);
      pixels[2 * i + 1] = static_cast<uint8_t>(v);
    } else {
      pixels[i] = static_cast<uint8_t>(v);
    }
  }
  void set_sample(uint32_t y, uint32_t x, uint32_t c, uint16_t v) { set_sample((size_t{y} * width + x) * channels + c, v); }
  bool operator==(const Image& o) const {
    return width == o.width && height == o.height && channels == o.channels && bit_depth == o.bit_depth &&
           pixels == o.pixels;
  }
};

// One piece of an image file's metadata, kept byte for byte (docs/format.md, section 2.1):
// a PNG ancillary chunk, or a PNM/PAM header comment. Not needed to decode the pixels.
struct MetadataItem {
  enum class Kind : uint8_t { kPngChunk = 1, kPnmComment = 2 };
  // Where a PNG chunk stood: before PLTE, between PLTE and IDAT, after IDAT.
  enum class Place : uint8_t { kBeforePlte = 0, kBeforeIdat = 1, kAfterIdat = 2 };
  Kind kind = Kind::kPngChunk;
  std::string png_type;               // kPngChunk: the 4-letter chunk type, e.g. "iCCP"
  Place place = Place::kBeforePlte;   // kPngChunk only
  std::vector<uint8_t> data;          // the chunk's data; a comment's text (after '#', no line end)
  bool operator==(const MetadataItem& o) const {
    return kind == o.kind && png_type == o.png_type && place == o.place && data == o.data;
  }
};

// How the image file held its samples, beyond what Image says, kept in the stream
// (docs/format.md section 2.1, tags 3 and 4) so that a decoder writes the same kind of file
// back. It describes the pixels, not metadata: compress --strip keeps it.
struct SourceFormat {
  // PNM/PAM: the file's maxval when it is below the bit depth's full range (1-254 for an
  // 8-bit image, 256-65534 for a 16-bit one); every sample is at most it. 0: the full range
  // (maxval 255 or 65535), or no PNM source.
  uint32_t maxval = 0;
  // PNG: the source's colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA) and bit
  // depth (1, 2, 4, 8 or 16); png_colour_type -1: not recorded (a PNM source, or a stream
  // without the entry).
  int png_colour_type = -1;
  int png_bit_depth = 0;
  // Colour type 3: the PLTE chunk's data (3 bytes an entry, 1-256 entries, in file order) and
  // the tRNS chunk's (one alpha an entry for the first entries; empty without tRNS).
  std::vector<uint8_t> plte, trns;

  bool empty() const { return maxval == 0 && png_colour_type < 0; }
  bool operator==(const SourceFormat& o) const {
    return maxval == o.maxval && png_colour_type == o.png_colour_type && png_bit_depth == o.png_bit_depth &&
           plte == o.plte && trns == o.trns;
  }
};

// "iCCP chunk" / "PNM comment": how messages name an item.
inline std::string DescribeMetadataItem(const MetadataItem& item) {
  return item.kind == MetadataItem::Kind::kPngChunk ? item.png_type + " chunk" : std::string("PNM comment");
}

}  // namespace pixelzip
