// Reading and writing image files (PNG through libpng, binary PNM/PAM) as
// pixelzip::Image. This is the only part of pixelzip that links libpng.
//
// Every function reports failure by throwing pixelzip::Error; the message
// names the file (or the name given for errors) and the problem. Malformed,
// truncated or hostile input never crashes and never allocates more than
// kMaxImageBytes for pixels.
//
// What is read (see formats/README.md):
//   PNG: bit depths 1, 2, 4, 8, 16; grey, grey+alpha, RGB, RGBA, palette;
//        interlaced or not. Palette -> RGB (RGBA if tRNS is present);
//        grey below 8 bits is scaled to 8 bits (v * 255 / (2^depth - 1));
//        grey + tRNS -> grey+alpha; RGB + tRNS -> RGBA. No gamma or colour
//        transforms: pixel values are those stored in the file.
//        16-bit PNGs stay 16-bit (Image::bit_depth 16, samples big-endian).
//   PNM: P2/P5 (grey), P3/P6 (RGB), plain or binary, and P7/PAM with DEPTH 1..4; any MAXVAL
//        1..65535: up to 255 an 8-bit image, above a 16-bit one, samples as stored (never
//        scaled; ImageMetadata::source.maxval records a maxval other than 255 and 65535).
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

// An image file's metadata (see MetadataItem), and what a reader or writer could
// not keep, each a phrase naming the item and why ("hIST chunk: ...").
//   PNG: kept byte for byte, in order, with their place (before PLTE, before or
//        after IDAT): iCCP sRGB gAMA cHRM cICP mDCv cLLi pHYs eXIf iTXt tEXt zTXt
//        tIME sPLT oFFs pCAL sCAL sTER, bKGD and sBIT when the image keeps its
//        colour type (8-bit grey, grey+alpha, RGB, RGBA without tRNS), and
//        unknown chunks that are safe to copy. Not kept (named): hIST, bKGD and
//        sBIT of widened images, unknown unsafe-to-copy chunks. tRNS becomes the
//        alpha channel.
//   PNM/PAM: header comments, in order ('#' to the end of the line).
// `source` says how the file held its samples (SourceFormat): a PNG's colour type and bit
// depth (with a palette PNG's PLTE and tRNS), a PNM's maxval when it is not 255 or 65535.
struct ImageMetadata {
  std::vector<MetadataItem> items;
  std::vector<std::string> not_kept;
  SourceFormat source;
};

// Reads a PNG or binary PNM/PAM file, chosen by its magic bytes (never by
// its extension). Path "-" reads standard input.
// Guarantees: on return width, height >= 1, channels in 1..4 and
// pixels.size() == ByteCount(). Throws kIo if the file can't be read,
// otherwise whatever ReadImageBytes throws.
Image ReadImageFile(const std::string& path);

// Decodes an in-memory PNG or PNM/PAM file, detected by its magic bytes.
// REQUIRES: data points to size readable bytes (data may be null if size == 0).
// name_for_errors is put at the start of every error message.
// Throws kCorruptInput (malformed; a PNM sample above its maxval), kTruncatedInput (ends early),
// kUnsupported (bitmap PNM P1/P4, unknown format),
// kLimitExceeded (image larger than kMaxImageBytes).
Image ReadImageBytes(const uint8_t* data, size_t size, const std::string& name_for_errors);
// As above, also filling `*metadata` (when not null).
Image ReadImageBytes(const uint8_t* data, size_t size, const std::string& name_for_errors, ImageMetadata* metadata);

// Encodes as PNG: 1 -> grey, 2 -> grey+alpha, 3 -> RGB, 4 -> RGBA, at the image's bit depth
// (8 or 16).
// REQUIRES: width, height >= 1; channels in 1..4; pixels.size() ==
// SubpixelCount(); width, height < 2^31; compression_level in 0..9.
// Violations throw kInvalidArgument.
std::vector<uint8_t> EncodePng(const Image& image, int compression_level = 6);
// With metadata: PNG chunks are written in their places, in order; PNM comments and
// malformed items are left out and named in `*not_kept` (when not null).
std::vector<uint8_t> EncodePng(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept);
// With `palette`: a palette PNG (colour type 3, bit depth 1, 2, 4 or 8 by the palette size)
// when the image is RGB or RGBA and has at most 256 distinct pixels; it reads back as the same
// pixels and channel count (RGB without tRNS; RGBA with tRNS, which lists the non-opaque entries,
// or one opaque entry when every pixel is opaque); otherwise as above.
// bKGD, sBIT and hIST items belong to the source's colour type: left out and named.
std::vector<uint8_t> EncodePng(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept, bool palette);

// With the source's format (SourceFormat): colour type 3 (palette) writes a palette PNG whose
// PLTE and tRNS are the recorded ones, in their order, when every pixel is one of their
// entries (a pixel takes the first entry equal to it), else as `palette` = true above; another
// recorded colour type writes no palette. A maxval below the full range (PNG cannot hold it)
// scales the samples to the full range (v * (2^depth - 1) / maxval, rounded, as the PNG
// specification scales), with an sBIT chunk of k bits when maxval is 2^k - 1, and names the
// maxval in `*not_kept`. Samples above the maxval throw kInvalidArgument.
std::vector<uint8_t> EncodePng(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept, const SourceFormat& source);

// Encodes as binary PNM: P5 for 1 channel, P6 for 3 channels, and PAM (P7,
// TUPLTYPE GRAYSCALE_ALPHA or RGB_ALPHA) for 2 and 4 channels, since P5/P6
// can't carry alpha. MAXVAL is 255, or 65535 for a 16-bit image. ReadImageBytes reads all three.
// REQUIRES: as EncodePng (without the level); violations throw kInvalidArgument.
std::vector<uint8_t> EncodePnm(const Image& image);
// With metadata: PNM comments as '#' lines right after the magic line (a comment holding a
// line break is left out); PNG chunks are left out. What is left out is named in `*not_kept`.
std::vector<uint8_t> EncodePnm(const Image& image, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept);
// With the source's maxval (source.maxval; 0: 255 or 65535 by the bit depth): written as the
// MAXVAL, the raster one byte a sample below 256, else two. Throws kInvalidArgument when a
// sample is above it or it is above the bit depth's range.
std::vector<uint8_t> EncodePnm(const Image& image, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept, const SourceFormat& source);

// Encodes in the given format (EncodePng at its default level, or EncodePnm).
std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format);
std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format, const std::vector<MetadataItem>& metadata,
                                 std::vector<std::string>* not_kept);
std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format, const std::vector<MetadataItem>& metadata,
                                 std::vector<std::string>* not_kept, const SourceFormat& source);

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
