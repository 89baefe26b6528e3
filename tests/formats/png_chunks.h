// Building PNG files chunk by chunk (independently of libpng, so that the tests
// control every chunk, its order and its place) and listing a PNG's chunks.
// Shared by the formats and CLI tests; needs zlib.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pixelzip::png_test {

struct Chunk {
  std::string type;
  std::vector<uint8_t> data;
  bool operator==(const Chunk& o) const { return type == o.type && data == o.data; }
};

inline std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

inline void PutBe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Signature, then each chunk with its length and CRC.
inline std::vector<uint8_t> PngFromChunks(const std::vector<Chunk>& chunks) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  for (const Chunk& c : chunks) {
    PutBe32(out, static_cast<uint32_t>(c.data.size()));
    std::vector<uint8_t> body(c.type.begin(), c.type.end());
    body.insert(body.end(), c.data.begin(), c.data.end());
    out.insert(out.end(), body.begin(), body.end());
    PutBe32(out, static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
  }
  return out;
}

inline Chunk Ihdr(uint32_t width, uint32_t height, uint8_t depth, uint8_t colour_type) {
  Chunk c{"IHDR", {}};
  PutBe32(c.data, width);
  PutBe32(c.data, height);
  c.data.insert(c.data.end(), {depth, colour_type, 0, 0, 0});
  return c;
}

// IDAT of 8-bit rows (`row_bytes` each, filter 0).
inline Chunk Idat(const std::vector<uint8_t>& pixels, size_t row_bytes) {
  std::vector<uint8_t> raw;
  for (size_t y = 0; y * row_bytes < pixels.size(); ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), pixels.begin() + static_cast<std::ptrdiff_t>(y * row_bytes),
               pixels.begin() + static_cast<std::ptrdiff_t>((y + 1) * row_bytes));
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  Chunk c{"IDAT", std::vector<uint8_t>(size)};
  if (compress2(c.data.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 9) != Z_OK)
    throw std::runtime_error("compress2 failed");
  c.data.resize(size);
  return c;
}

// Every chunk of a PNG, in order (IDAT data concatenated into one entry per run).
inline std::vector<Chunk> ChunksOf(const std::vector<uint8_t>& png) {
  std::vector<Chunk> chunks;
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    const uint32_t length = uint32_t{png[pos]} << 24 | uint32_t{png[pos + 1]} << 16 | uint32_t{png[pos + 2]} << 8 |
                            uint32_t{png[pos + 3]};
    Chunk c{std::string(png.begin() + static_cast<std::ptrdiff_t>(pos + 4),
                        png.begin() + static_cast<std::ptrdiff_t>(pos + 8)),
            std::vector<uint8_t>(png.begin() + static_cast<std::ptrdiff_t>(pos + 8),
                                 png.begin() + static_cast<std::ptrdiff_t>(pos + 8 + length))};
    if (c.type == "IDAT" && !chunks.empty() && chunks.back().type == "IDAT") {
      chunks.back().data.insert(chunks.back().data.end(), c.data.begin(), c.data.end());
    } else {
      chunks.push_back(std::move(c));
    }
    pos += 12 + length;
  }
  return chunks;
}

// The ancillary chunks, with IDAT/PLTE as markers of place ("IDAT" and "PLTE" entries
// with empty data), so that order and place compare in one go.
inline std::vector<Chunk> AncillaryWithPlaces(const std::vector<Chunk>& chunks) {
  std::vector<Chunk> out;
  for (const Chunk& c : chunks) {
    if (c.type == "IDAT" || c.type == "PLTE") {
      out.push_back({c.type, {}});
    } else if (c.type[0] >= 'a' && c.type[0] <= 'z' && c.type != "tRNS") {
      out.push_back(c);
    }
  }
  return out;
}

// An RGB 8-bit PNG of `pixels` (width x height x 3) with `before` chunks between IHDR and
// IDAT and `after` chunks between IDAT and IEND.
inline std::vector<uint8_t> RgbPngWithChunks(uint32_t width, uint32_t height, const std::vector<uint8_t>& pixels,
                                             const std::vector<Chunk>& before, const std::vector<Chunk>& after) {
  std::vector<Chunk> chunks = {Ihdr(width, height, 8, 2)};
  chunks.insert(chunks.end(), before.begin(), before.end());
  chunks.push_back(Idat(pixels, size_t{width} * 3));
  chunks.insert(chunks.end(), after.begin(), after.end());
  chunks.push_back({"IEND", {}});
  return PngFromChunks(chunks);
}

// A set of meaningful ancillary chunks, as an image editor might write them.
inline std::vector<Chunk> TypicalChunksBeforeIdat() {
  std::vector<uint8_t> iccp = Bytes(std::string("Test profile\0\0", 14));
  const std::vector<uint8_t> profile(300, 0x42);
  uLongf size = compressBound(static_cast<uLong>(profile.size()));
  std::vector<uint8_t> z(size);
  compress2(z.data(), &size, profile.data(), static_cast<uLong>(profile.size()), 9);
  iccp.insert(iccp.end(), z.begin(), z.begin() + static_cast<std::ptrdiff_t>(size));
  return {
      {"iCCP", iccp},
      {"gAMA", {0, 0, 0xb1, 0x8f}},
      {"cHRM", std::vector<uint8_t>(32, 1)},
      {"cICP", {1, 13, 0, 1}},
      {"pHYs", {0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 1}},
      {"eXIf", Bytes(std::string("MM\0*\0\0\0\x08\0\0", 10))},
      {"iTXt", Bytes(std::string("XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>", 34))},
      {"tEXt", Bytes(std::string("Title\0A test", 12))},
      {"prVt", Bytes("private, safe to copy")},
  };
}

// A palette PNG made chunk by chunk: `entries` RGB triples, `trns` alpha entries (none: no
// tRNS chunk), `indices` one per pixel, packed to `depth` bits.
inline std::vector<uint8_t> PalettePngFile(uint32_t width, uint32_t height, int depth,
                                           const std::vector<uint8_t>& entries, const std::vector<uint8_t>& trns, const std::vector<uint8_t>& indices) {
  const size_t row_bytes = (size_t{width} * depth + 7) / 8;
  std::vector<uint8_t> packed(row_bytes * height, 0);
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x) {
      const size_t bit = size_t{x} * depth;
      packed[y * row_bytes + bit / 8] |= static_cast<uint8_t>(indices[size_t{y} * width + x] << (8 - depth - bit % 8));
    }
  std::vector<Chunk> chunks = {Ihdr(width, height, static_cast<uint8_t>(depth), 3), {"PLTE", entries}};
  if (!trns.empty()) chunks.push_back({"tRNS", trns});
  chunks.push_back(Idat(packed, row_bytes));
  chunks.push_back({"IEND", {}});
  return PngFromChunks(chunks);
}

}  // namespace pixelzip::png_test
