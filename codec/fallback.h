// The cheap codings the encoder compares with the model's (docs/format.md section 3.3,
// format 3.0): the pixels PNG-filtered and deflated with zlib (order byte 3), and the
// palette coding (order byte 4) for images of at most 256 distinct pixels. Neither uses a
// model: each is fully specified in docs/format.md and identified in the header by its
// own architecture name and the SHA-256 of its specification text.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adaptive/stage.h"
#include "pixelzip/image.h"

namespace pixelzip::codec {

// "deflate": the identity recorded in a deflate stream's header.
const std::string& DeflateArchitecture();
const std::array<uint8_t, 32>& DeflateHash();
// "palette": the identity recorded in a palette stream's header.
const std::string& PaletteArchitecture();
const std::array<uint8_t, 32>& PaletteHash();

// The deflate payload: zlib stream (level 9) of the image's rows, each a PNG filter type
// byte (0-4) and the row filtered with it (bytes per pixel = channels). The encoder tries
// each of the five filters for all rows and PNG's per-row minimum-sum heuristic, and keeps
// the smallest stream. REQUIRES: a valid image.
std::vector<uint8_t> EncodeDeflate(const Image& image);
// True when the deflate coding should not be tried: the image's rows are over 1 MiB and one
// zlib pass at level 6 (libpng's default) of PNG's per-row choice is over 11/10 of
// `best_bytes` (level 9 and the other filters rarely gain a tenth over it). Much cheaper than
// EncodeDeflate there. Always false on smaller images, where EncodeDeflate is cheap anyway.
bool DeflateCannotWin(const Image& image, uint64_t best_bytes);
// Fills `pixels` (width * height * channels bytes, zero on entry; written in order, so a
// lazily committed buffer costs memory only for what decodes). Throws pixelzip::Error
// kCorruptInput when the payload is not one zlib stream that ends exactly at its end and
// inflates to exactly the rows, or holds a filter type above 4.
void DecodeDeflate(const uint8_t* payload, size_t size, uint32_t width, uint32_t height, uint32_t channels,
                   uint8_t* pixels);

// The distinct pixels of `image` in palette order (ascending sum of the channels, then
// ascending bytes), each `channels` bytes; nullopt when there are more than 256.
std::optional<std::vector<uint8_t>> FindPalette(const Image& image);
// The stage record palette streams are written with (raster positions, one channel).
adaptive::StageParams PaletteStageParams();
// The palette payload (one range coder stream): the palette, then the index plane coded by
// order0-adaptive through the adaptive stage `params`. REQUIRES: palette from FindPalette.
std::vector<uint8_t> EncodePalette(const Image& image, const std::vector<uint8_t>& palette,
                                   const adaptive::StageParams& params);
// Decodes a palette payload into `pixels` (width * height * channels bytes). Throws
// pixelzip::Error kCorruptInput for a damaged payload (an index beyond the palette, a coder
// error, bytes after the coded end).
void DecodePalette(const uint8_t* payload, size_t size, const adaptive::StageParams& params, uint32_t width,
                   uint32_t height, uint32_t channels, uint8_t* pixels);

}  // namespace pixelzip::codec
