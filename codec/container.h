// The .pxz container header (docs/format.md is the specification). One routine,
// DescribeHeader in container.cpp, lists the fields for both writing and reading.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adaptive/stage.h"
#include "pixelzip/codec.h"

namespace pixelzip::codec {

inline constexpr std::array<uint8_t, 4> kMagic = {0x89, 'P', 'X', 'Z'};
// The newest major version this build reads. Version 2 adds the adaptive stage record and
// coding order 2 (raster conditionals, wavefront layout); a stream that uses neither is still
// written as 1.0 (byte for byte what 1.x writers wrote), which 1.x readers decode. Version 3
// (the 2.x layout) adds the fallback codings, order bytes 3 (deflate) and 4 (palette); it is
// written only for streams that use one. Version 4 is the compact header (varint sizes, no
// model reference for the fallback codings, the sample depth): every new stream is written as 4.x.
inline constexpr uint16_t kVersionMajor = 4;
// The first major version with the compact header layout (docs/format.md section 2.2).
inline constexpr uint16_t kCompactMajor = 4;
inline constexpr uint16_t kVersionMinor = 0;
// The minor version a stream with metadata entries in its extension area gets (section 2.1);
// a stream without metadata stays kVersionMinor, byte for byte as before.
inline constexpr uint16_t kVersionMinorMetadata = 1;
// The minor version a stream with source-format entries (tags 3 and 4) gets (section 2.1).
inline constexpr uint16_t kVersionMinorSource = 2;
// Extension entry tags (section 2.1).
inline constexpr uint8_t kEntryPngChunk = 1;
inline constexpr uint8_t kEntryPnmComment = 2;
inline constexpr uint8_t kEntryPnmMaxval = 3;  // SourceFormat::maxval (minor 2)
inline constexpr uint8_t kEntryPngSource = 4;  // SourceFormat's PNG colour type, depth, palette (minor 2)
inline constexpr size_t kMaxArchitectureBytes = 64;
// Order byte values (docs/format.md section 2): 0 raster, 1 multiscale (Order), and
inline constexpr uint8_t kOrderRasterWavefront = 2;  // raster conditionals, wavefront layout (major >= 2)
inline constexpr uint8_t kOrderDeflate = 3;  // no model: PNG-filtered rows, zlib (major >= 3; fallback.h)
inline constexpr uint8_t kOrderPalette = 4;  // no model: palette and coded indices (major >= 3; fallback.h)
// The major version a 1.x-3.x writer gave a stream of this order byte (3 for the fallback
// codings, 2 for the wavefront layout, else 1; 2 also for any stream with a stage record):
// the smallest major version that knows the order byte.
inline constexpr uint16_t MinMajorVersionFor(uint8_t order) {
  return order >= kOrderDeflate ? 3 : order == kOrderRasterWavefront ? 2 : 1;
}
// The largest stage record and name-less header fields of the compact layout (section 2.2).
inline constexpr size_t kMaxStageRecordBytes = 255;

struct Header {
  std::array<uint8_t, 4> magic = kMagic;
  uint16_t version_major = kVersionMajor;  // 1-3: the fixed layout of section 2; 4: compact (2.2)
  uint16_t version_minor = kVersionMinor;
  std::string architecture;             // 1-64 printable ASCII characters, no spaces; for the
  std::array<uint8_t, 32> weights_sha256{};  // fallback codings their own (fallback.h), not written
                                             // in the compact layout
  uint8_t order = 0;                    // Order, kOrderRasterWavefront, kOrderDeflate or kOrderPalette
  uint8_t channels = 0;                 // 1-4
  uint8_t bits_per_sample = 8;          // 8 (every 1.x-3.x stream) or 16 (4.0 on: the payload is
                                        // docs/format.md section 3.4's)
  uint32_t width = 0, height = 0;       // >= 1 each
  uint64_t payload_bytes = 0;
  uint32_t pixel_crc32 = 0;             // zlib CRC-32 of the decoded Image::pixels (2 bytes a subpixel at 16 bits)
  std::vector<uint8_t> stage;           // from 2.0: the adaptive stage record (adaptive::Serialize);
                                        // empty: coded by the model alone
  std::optional<adaptive::StageParams> stage_params;  // `stage` parsed: set by ReadHeader when
                                        // the record is not empty; WriteHeader writes `stage` only
  std::vector<uint8_t> extension;       // minor-version additions; version 1.0 writes none
  uint32_t header_crc32 = 0;            // CRC-32 of every header byte before this field
};

// The major version a 1.x-3.x writer gave a stream with this header: MinMajorVersionFor its
// order byte, and at least 2 with a stage record. (Tests rewrite new streams in the old layouts.)
uint16_t LegacyMajorVersionFor(const Header& header);

// Serializes `header` (computing header_crc32). REQUIRES: fields valid as documented
// above (throws pixelzip::Error kInternal otherwise).
std::vector<uint8_t> WriteHeader(const Header& header);

// Reads the header at the start of data[0, size) and validates it: magic, version
// (a newer major is kUnsupported), header CRC, field ranges (kCorruptInput), `limits`
// (kLimitExceeded), and that the payload length is plausible for the pixel count.
// Input that ends inside the header is kTruncatedInput. Bytes after the header are
// not looked at. Never reads outside data[0, size).
Header ReadHeader(const uint8_t* data, size_t size, const Limits& limits, size_t* header_bytes);

// Bytes a decoder allocates for an image with this header (its pixels, and a colour
// plane when there is alpha); false if that overflows uint64, or when the header has a
// stage record but no stage_params (ReadHeader sets them).
bool DecodeMemoryBytes(const Header& header, uint64_t* bytes);

// The extension area holding `metadata` as entries (docs/format.md, section 2.1), in order;
// an item that does not fit in the area's 65535 bytes (or is malformed: a PNG chunk type that
// is not 4 ASCII letters) is left out and described in `*not_kept` ("iCCP chunk (70000 bytes):
// ...").
std::vector<uint8_t> MetadataExtension(const std::vector<MetadataItem>& metadata,
                                       std::vector<std::string>* not_kept);
// As above, the source-format entries (tags 3 and 4, when `source` records them) first, so
// that they always fit; a palette's entries are written relative to `image`'s colours.
// REQUIRES: SourceFormatProblem(source, image.bit_depth) is empty.
std::vector<uint8_t> MetadataExtension(const std::vector<MetadataItem>& metadata, const SourceFormat& source,
                                       const Image& image, std::vector<std::string>* not_kept);

// Whether MetadataExtension writes entries of tags 3 or 4 for `source` (a maxval other than 0,
// 255 and 65535, or a PNG colour type): the stream is then version 4.2.
bool RecordsSource(const SourceFormat& source);

// Empty when `source` can be recorded for an image of this sample depth, else what is wrong
// (a maxval of 255 or 65535 is the full range: recorded as none).
std::string SourceFormatProblem(const SourceFormat& source, uint32_t bits_per_sample);

// The metadata in an extension area of version 1.1 or later, skipping entries of unknown
// tags. Returns false (and no items) when the entries do not exactly fill the area: the
// metadata is then unreadable, which does not stop the pixels from decoding.
bool ParseMetadataExtension(const std::vector<uint8_t>& extension, std::vector<MetadataItem>* metadata);
// As above, also filling `*source` (when not null) from the source-format entries; a
// palette's plte and trns stay empty until CompletePalette fills them.
bool ParseMetadataExtension(const std::vector<uint8_t>& extension, std::vector<MetadataItem>* metadata,
                            SourceFormat* source);
// Fills source->plte and trns from a palette entry (tag 4, colour type 3) in `extension`,
// given the stream's decoded image. True when there is none; false when its bits do not fit
// the image (a literal or a named colour missing, bits left over): a corrupt stream.
// REQUIRES: ParseMetadataExtension(extension, ...) returned true.
bool CompletePalette(const std::vector<uint8_t>& extension, const Image& image, SourceFormat* source);

// zlib CRC-32 of `size` bytes (any size).
uint32_t Crc32(const uint8_t* data, size_t size);

}  // namespace pixelzip::codec
