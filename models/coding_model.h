// The interface between the codec and a probability model.
//
// A CodingModel walks an image's colour subpixels (1 or 3 channels; the codec
// codes alpha itself) in the model's own coding order and, for each one, hands
// an integer CDF to the codec's entropy coder. Encoding and decoding visit the
// same subpixels in the same order with bit-identical CDFs: that is the
// exact-arithmetic contract (docs/design.md section 2).
#pragma once

#include <cstdint>
#include <string>

#include "models/identity.h"
#include "pixelzip/types.h"  // Order, Progress
#include "pixelzip/error.h"

namespace pixelzip::models {

inline constexpr int kCdfBits = 16;
inline constexpr uint32_t kCdfTotal = 1u << kCdfBits;  // 65536
inline constexpr int kSymbols = 256;

// Integer CDF of one subpixel.
// Guarantees: At(0) == 0, At(256) == kCdfTotal, At(s + 1) - At(s) >= 1 for every s.
class SubpixelCdf {
 public:
  virtual ~SubpixelCdf() = default;
  // REQUIRES: 0 <= edge <= 256.
  virtual uint32_t At(int edge) const = 0;
};

// Where a coded symbol sits in the image: every model states it for every symbol, so
// that what codes the symbols (the adaptive stage) can look at the pixels already coded
// around it whatever the coding order (docs/format.md section 3.1).
struct SymbolPosition {
  uint32_t y = 0, x = 0;  // the pixel: row, column
  uint32_t channel = 0;   // 0-2 (the colour channels), or the alpha channel's index
  // Multiscale order: the grid being coded has spacing 2^scale (the base image 2^L, the
  // groups of level l 2^(l - 1)); 0 in raster order.
  uint8_t scale = 0;
  // Multiscale order: 0 the base image, 1-3 the groups (even, odd), (odd, even), (odd, odd)
  // of a level's spacing-2^scale grid; 0 in raster order.
  uint8_t group = 0;
  // False for a symbol that codes no pixel (a class index, a palette entry).
  bool pixel = true;

  static SymbolPosition At(uint32_t y, uint32_t x, uint32_t channel) {
    SymbolPosition p;
    p.y = y, p.x = x, p.channel = channel;
    return p;
  }
  static SymbolPosition None() {
    SymbolPosition p;
    p.pixel = false;
    return p;
  }
};

// Where the encoder's symbols go (the codec's range encoder behind it).
class SymbolSink {
 public:
  virtual ~SymbolSink() = default;
  // REQUIRES: 0 <= symbol < 256.
  virtual void Put(const SymbolPosition& at, const SubpixelCdf& cdf, int symbol) = 0;
};

// Where the decoder's symbols come from (the codec's range decoder behind it).
// Throws pixelzip::Error on corrupt or truncated input.
class SymbolSource {
 public:
  virtual ~SymbolSource() = default;
  // Returns the symbol s with cdf.At(s) <= target < cdf.At(s + 1). `at` as in SymbolSink::Put.
  virtual int Get(const SymbolPosition& at, const SubpixelCdf& cdf) = 0;
};

// Interleaved 8-bit pixels of the channels a model codes.
struct PlaneView {
  uint32_t width = 0, height = 0, channels = 0;
  uint8_t* data = nullptr;  // width * height * channels bytes
  uint8_t& at(uint32_t y, uint32_t x, uint32_t c) const { return data[(size_t{y} * width + x) * channels + c]; }
};

class CodingModel {
 public:
  virtual ~CodingModel() = default;
  virtual const ModelIdentity& Identity() const = 0;
  virtual pixelzip::Order Order() const = 0;
  // Channel counts this model codes (1 and/or 3).
  virtual bool SupportsChannels(uint32_t channels) const = 0;
  // Calls sink.Put for every subpixel of `image`, in coding order.
  // REQUIRES: SupportsChannels(image.channels); image.data is not modified.
  virtual void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const = 0;
  // Fills `image` (dimensions and channels set, data allocated) from `source` in coding order.
  virtual void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const = 0;

  // The wavefront layout (docs/format.md section 3.2): the same conditionals as raster order, the
  // symbols ordered by lines x + k y. Returns k, or 0 when the model cannot code that layout
  // (only raster-order models with a bounded causal window can).
  virtual int WavefrontSlope() const { return 0; }
  // As Encode and Decode, in the wavefront layout. REQUIRES: WavefrontSlope() > 0.
  virtual void EncodeWavefront(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
    (void)image, (void)sink, (void)progress;
    throw Error(ErrorCode::kUnsupported, "this model cannot code the wavefront layout");
  }
  virtual void DecodeWavefront(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
    (void)image, (void)source, (void)progress;
    throw Error(ErrorCode::kUnsupported, "this model cannot code the wavefront layout");
  }
};

}  // namespace pixelzip::models
