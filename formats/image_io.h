// Reading and writing image files (PNG through libpng, binary PNM/PAM) as
// pixelzip::Image. This is the only part of pixelzip that links libpng.
//
// Every function reports failure by throwing pixelzip::Error; the message
// names the file (or the name given for errors) and the problem. Malformed,
// truncated or hostile input never crashes and never allocates more than
// kMaxImageBytes for pixels.
//
// What is read (see formats/README.md):
//   PNG: bit depths 1, 2, 4, 8; grey, grey+alpha, RGB, RGBA, palette;
//        interlaced or not. Palette -> RGB (RGBA if tRNS is present);
//        grey below 8 bits is scaled to 8 bits (v * 255 / (2^depth - 1));
//        grey + tRNS -> grey+alpha; RGB + tRNS -> RGBA. No gamma or colour
//        transforms: pixel values are those stored in the file.
//        16-bit PNGs are refused with kUnsupported.
//   PNM: P5 (grey), P6 (RGB) and P7/PAM with DEPTH 1..4, MAXVAL 255 only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/error.h"
#include "pixelzip/image.h"

namespace pixelzip {

// The largest pixel buffer (width * height * channels bytes) a reader will
// allocate; anything larger is refused with kLimitExceeded before allocation.
constexpr uint64_t kMaxImageBytes = uint64_t{1} << 31;

enum class FileFormat { kPng, kPnm };

// Reads a PNG or binary PNM/PAM file, chosen by its magic bytes (never by
// its extension). Path "-" reads standard input.
// Guarantees: on return width, height >= 1, channels in 1..4 and
// pixels.size() == SubpixelCount(). Throws kIo if the file can't be read,
// otherwise whatever ReadImageBytes throws.
Image ReadImageFile(const std::string& path);

// Decodes an in-memory PNG or PNM/PAM file, detected by its magic bytes.
// REQUIRES: data points to size readable bytes (data may be null if size == 0).
// name_for_errors is put at the start of every error message.
// Throws kCorruptInput (malformed), kTruncatedInput (ends early),
// kUnsupported (16-bit PNG, PNM maxval other than 255, unknown format),
// kLimitExceeded (image larger than kMaxImageBytes).
Image ReadImageBytes(const uint8_t* data, size_t size, const std::string& name_for_errors);

// Encodes as PNG: 1 -> grey, 2 -> grey+alpha, 3 -> RGB, 4 -> RGBA, 8 bits.
// REQUIRES: width, height >= 1; channels in 1..4; pixels.size() ==
// SubpixelCount(); width, height < 2^31; compression_level in 0..9.
// Violations throw kInvalidArgument.
std::vector<uint8_t> EncodePng(const Image& image, int compression_level = 6);

// Encodes as binary PNM: P5 for 1 channel, P6 for 3 channels, and PAM (P7,
// TUPLTYPE GRAYSCALE_ALPHA or RGB_ALPHA) for 2 and 4 channels, since P5/P6
// can't carry alpha. MAXVAL is always 255. ReadImageBytes reads all three.
// REQUIRES: as EncodePng (without the level); violations throw kInvalidArgument.
std::vector<uint8_t> EncodePnm(const Image& image);

// Encodes in the given format (EncodePng at its default level, or EncodePnm).
std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format);

// Chooses the output format from the extension, case-insensitively:
// .ppm, .pgm, .pnm, .pam -> kPnm; .png and anything else (including "-"
// and no extension) -> kPng.
FileFormat FormatForPath(const std::string& path);

// Encodes in FormatForPath(path) and writes the bytes to path ("-" means
// standard output). Not atomic: an existing file is overwritten and a
// failed write may leave a partial file; temp-file-and-rename is the
// caller's job. Throws kIo on any write failure, kInvalidArgument as the
// encoders do.
void WriteImageFile(const Image& image, const std::string& path);

// As above, with an explicit format (for writing to a temporary name whose
// extension doesn't say the format).
void WriteImageFile(const Image& image, const std::string& path, FileFormat format);

}  // namespace pixelzip
