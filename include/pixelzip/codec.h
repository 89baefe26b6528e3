// pixelzip's public API: encode an Image to a .pxz stream in memory and back.
// All failures throw pixelzip::Error.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/error.h"
#include "pixelzip/image.h"
#include "pixelzip/types.h"  // Order, Device, Limits, Progress

namespace pixelzip {

// Order of the symbols in the payload for raster order (docs/format.md section 3.2). The
// wavefront layout codes the same conditionals (the same rate) in an order whose lines a
// decoder evaluates in batches on all cores; only models with a bounded causal window
// (local-pixelcnn) have it. kAuto: wavefront where the model has it, else raster.
enum class Layout : uint8_t { kAuto = 0, kRaster = 1, kWavefront = 2 };

// How a stream's pixels are coded (docs/format.md section 3.3): by a model (the header's
// model; order0-adaptive through the adaptive stage is the cheap "stage alone" choice), or
// without one by a fallback coding the encoder chose because it was smaller (format 3.0).
enum class Coding : uint8_t {
  kModel = 0,
  kDeflate = 1,  // PNG-filtered rows deflated with zlib
  kPalette = 2,  // at most 256 distinct pixels: the palette, then coded indices
};

// Whether Encode also tries the cheap codings and keeps the smallest stream ("never
// grows"): the deflate and palette codings and, with the adaptive stage, order0-adaptive
// through the stage. kAuto: only when the model is "default" (a caller who names a model
// gets that model's coding); kOn: always; kOff: never.
enum class Fallback : uint8_t { kAuto = 0, kOn = 1, kOff = 2 };

struct EncodeOptions {
  std::string model = "default";  // a shipped model's name, or a model file's path
  Order order = Order::kRaster;
  Layout layout = Layout::kAuto;  // for Order::kRaster
  Device device = Device::kAuto;
  // Threads the model's engines may use (0: PIXELZIP_THREADS when set, else every core). The stream
  // does not depend on it.
  int threads = 0;
  // The online-adaptive stage between the model and the range coder (docs/format.md
  // section 6; format 2.0). false writes a format 1.0 stream coded by the model alone.
  bool adaptive = true;
  // Which stage (docs/format.md section 3.1): 1, the first stage (8 decisions per
  // subpixel; the best rate), 2, the light stage (decisions relative to the model's
  // median; about a third of kind 1's decode cost, a higher rate), or 3 (the default),
  // the light stage with a galloping median search, bias cancellation, counters
  // within the distance buckets and, for channels 1-2, contexts of the exact earlier
  // channels (faster than 2, within about 1% of kind 1's rate on the held-out photos
  // and on chroma-subsampled versions of them; docs/adaptive.md).
  uint8_t adaptive_kind = 3;
  Progress progress;
  // Kept in the header's extension area (format 1.1), in order, as far as its 65535 bytes
  // reach; what does not fit is named in EncodeResult::metadata_not_kept. Empty: a 1.0 stream.
  std::vector<MetadataItem> metadata;
  // How the image file held its samples (ImageMetadata::source): kept in the header's
  // extension area (format 4.2, docs/format.md section 2.1) ahead of the metadata. A maxval
  // below the full range must be at least every sample (else kInvalidArgument). A PNG colour
  // type other than 3 (palette) is kept only where it decides the decoder's output: for an
  // 8-bit RGB or RGBA image of at most 256 colours (which a stream without it decodes to a
  // palette PNG); elsewhere it is left out (5 bytes saved, and the stream stays 4.0 or 4.1).
  SourceFormat source;
  Fallback fallback = Fallback::kAuto;
};

struct DecodeOptions {
  std::string model;  // empty: found by the stream's weights hash among shipped models
  Device device = Device::kAuto;
  int threads = 0;  // as EncodeOptions::threads; the decoded image does not depend on it
  Limits limits;
  Progress progress;
};

// What a stream's header says (see docs/format.md).
struct StreamInfo {
  uint32_t version_major = 0, version_minor = 0;
  std::string architecture;
  std::array<uint8_t, 32> weights_sha256{};
  Order order = Order::kRaster;
  Layout layout = Layout::kRaster;  // kRaster or kWavefront
  Coding coding = Coding::kModel;   // kModel: `architecture` is the model (16-bit: the high bytes'
                                    // coding, or kDeflate for the 16-bit rows deflated)
  uint32_t width = 0, height = 0, channels = 0;
  uint32_t bits_per_sample = 8;  // 8, or 16 (the decoded Image's bit_depth)
  uint64_t payload_bytes = 0;
  uint32_t pixel_checksum = 0;
  uint64_t header_bytes = 0;
  bool adaptive = false;  // coded through the adaptive stage (format 2.0)
  std::vector<MetadataItem> metadata;  // from the extension area (format 1.1 and later)
  SourceFormat source;                 // from the extension area (format 4.2; empty before)
  bool metadata_unreadable = false;    // the extension area's entries did not parse; none returned
  uint64_t extension_bytes = 0;
};

struct EncodeResult {
  std::vector<uint8_t> stream;  // the complete .pxz file
  double model_bits = 0;        // sum of -log2 p(subpixel) under the integer model (colour + alpha);
                                // for a fallback coding, 8 * its payload bytes
  Coding coding = Coding::kModel;      // what the stream holds
  std::string architecture;            // the model's, or the fallback coding's, as in the header
  std::vector<std::string> metadata_not_kept;  // EncodeOptions::metadata items left out, and why
};

// 8- and 16-bit images (Image::bit_depth). A 16-bit image's high bytes are coded as the
// 8-bit image they form, with every option above; its low bytes follow, coded by a small
// context model given the high bytes (docs/format.md section 3.4). Decode returns an image
// of the stream's bit depth.
EncodeResult Encode(const Image& image, const EncodeOptions& options = {});
Image Decode(const uint8_t* data, size_t size, const DecodeOptions& options = {});
inline Image Decode(const std::vector<uint8_t>& stream, const DecodeOptions& options = {}) {
  return Decode(stream.data(), stream.size(), options);
}
// Parses and validates the header only (magic, version, header checksum, limits).
// StreamInfo::source leaves a palette's plte and trns empty (ReadSourceFormat fills them).
StreamInfo ReadStreamInfo(const uint8_t* data, size_t size, const Limits& limits = {});
// The source format the stream records (EncodeOptions::source), a palette PNG's PLTE and tRNS
// included (recorded relative to the image's colours): `decoded` must be Decode's image of
// the same stream (else kInvalidArgument). Empty when the stream records none or its
// metadata is unreadable; kCorruptInput when the record does not fit the image.
SourceFormat ReadSourceFormat(const uint8_t* data, size_t size, const Image& decoded);

// Names of the models compiled into this build, for --model and error messages.
std::vector<std::string> ShippedModelNames();

}  // namespace pixelzip
