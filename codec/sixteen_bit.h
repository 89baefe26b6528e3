// 16-bit images (docs/format.md section 3.4): the high byte of every subpixel is coded as an
// 8-bit image exactly as codec.cpp codes any 8-bit image (model, adaptive stage, fallbacks);
// the low bytes follow in a section of their own, coded here given the high bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pixelzip/image.h"

namespace pixelzip::codec {

// The 8-bit image of the high bytes. REQUIRES: image.bit_depth == 16, buffer of ByteCount().
Image HighBytes(const Image& image);

// The low-byte section for `image` (16-bit): a mode per channel, then one range coder stream
// of the low bytes of the channels that need coding. Integer only, deterministic.
std::vector<uint8_t> EncodeLowBytes(const Image& image);

// The 16-bit image from its decoded high bytes (8-bit, `high`) and the low-byte section
// data[0, size). Output memory grows row by row as it is decoded. Throws pixelzip::Error
// kCorruptInput when the section is malformed or does not end cleanly.
Image DecodeLowBytes(const Image& high, const uint8_t* data, size_t size);

// The first byte of a 16-bit payload: its layout.
inline constexpr uint8_t kSixteenBitSplit = 0;    // high bytes (any coding), then low bytes
inline constexpr uint8_t kSixteenBitDeflate = 1;  // the 16-bit rows deflated (order 3 only)

// The split 16-bit payload: kSixteenBitSplit, the LEB128 length of the high-byte payload,
// that payload, the low section.
std::vector<uint8_t> SixteenBitPayload(const uint8_t* high, size_t high_bytes, const std::vector<uint8_t>& low);
// Splits a split 16-bit payload (its layout byte included): *high_offset, *high_bytes locate
// the high-byte payload; the low section is the rest. Throws kCorruptInput when the layout
// byte is not kSixteenBitSplit or the length does not fit the payload.
void SplitSixteenBitPayload(const uint8_t* data, size_t size, size_t* high_offset, uint64_t* high_bytes);

}  // namespace pixelzip::codec
