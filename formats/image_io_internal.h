// Shared between the format readers and writers; not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/image_io.h"

namespace pixelzip::formats_internal {

// Returns width * height * channels, or throws kLimitExceeded (naming
// `name`) if that exceeds kMaxImageBytes. Never overflows: each factor must
// be below 2^32, so the product of the first two fits in 64 bits and the
// check happens before the third multiplication can overflow.
// REQUIRES: width, height, channels < 2^32.
size_t CheckedImageBytes(uint64_t width, uint64_t height, uint64_t channels, const std::string& name);

// Throws kInvalidArgument unless width, height >= 1, width and height
// < 2^31, channels in 1..4 and pixels.size() == SubpixelCount().
// `what` names the caller in the message (e.g. "EncodePng").
void ValidateImageForEncode(const Image& image, const char* what);

// REQUIRES: data begins with the 8-byte PNG signature (size >= 8).
// `metadata` may be null (nothing collected).
Image ReadPng(const uint8_t* data, size_t size, const std::string& name, ImageMetadata* metadata);

// REQUIRES: size >= 2, data[0] == 'P', data[1] in {'2', '3', '5', '6', '7'}. With `metadata`,
// fills metadata->source.maxval (the maxval when it is not 255 or 65535).
Image ReadPnm(const uint8_t* data, size_t size, const std::string& name, ImageMetadata* metadata);

}  // namespace pixelzip::formats_internal
