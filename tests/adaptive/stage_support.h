// Shared by the adaptive stage's tests and fuzz target: integer model CDFs, and coding
// a whole image through encoder and decoder stages.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "adaptive/stage.h"
#include "entropy/range_coder.h"

namespace pixelzip::adaptive::test {

// A valid SubpixelCdf-like table (257 edges, total 2^16, every symbol >= 1) peaked at
// `center` with width `spread` (>= 1): a stand-in for a model.
inline std::vector<uint32_t> PeakedCdf(int center, int spread) {
  std::vector<uint64_t> w(256);
  uint64_t sum = 0;
  for (int s = 0; s < 256; ++s) {
    const int64_t d = s - center;
    w[s] = uint64_t{1} + (uint64_t{1} << 20) / uint64_t(1 + d * d * 16 / (int64_t{spread} * spread));
    sum += w[s];
  }
  std::vector<uint32_t> cdf(257, 0);
  uint64_t acc = 0;
  for (int s = 0; s < 256; ++s) {
    acc += w[s];
    cdf[s + 1] = static_cast<uint32_t>(acc * (kTotal - 256) / sum) + uint32_t(s + 1);
  }
  return cdf;
}

// The stand-in model's CDF for subpixel i of an interleaved image: peaked at the left
// neighbour (or 128), fixed spread. Deterministic from already coded symbols only.
inline std::vector<uint32_t> StandInCdf(const std::vector<uint8_t>& pixels, size_t i, uint32_t width, uint32_t channels,
                                        int spread) {
  const size_t pixel = i / channels;
  const int center = pixel % width > 0 ? pixels[i - channels] : 128;
  return PeakedCdf(center, spread);
}

struct CodedImage {
  std::vector<uint8_t> stream;
  double stage_bits = 0, model_bits = 0;
  uint64_t digest = 0;
};

inline double Log2(double v) {
  // The tests' bit accounting only (not coding).
  return __builtin_log2(v);
}

// Codes every subpixel of `pixels` through a Stage with the stand-in model.
inline CodedImage EncodeImage(const StageParams& params, const std::vector<uint8_t>& pixels, uint32_t width,
                              uint32_t height, uint32_t channels, int spread) {
  Stage stage(params, width, height, channels);
  entropy::RangeEncoder enc;
  CodedImage out;
  for (size_t i = 0; i < pixels.size(); ++i) {
    const std::vector<uint32_t> cdf = StandInCdf(pixels, i, width, channels, spread);
    const int sym = pixels[i];
    out.model_bits += 16 - Log2(double(cdf[size_t(sym) + 1] - cdf[size_t(sym)]));
    stage.Code([&cdf](int e) { return cdf[size_t(e)]; }, [&](int lo, int hi, uint32_t p1) {
      const int bit = (lo <= sym && sym < hi) ? 1 : 0;
      enc.EncodeBit(bit, kTotal - p1);
      out.stage_bits += 16 - Log2(double(bit ? p1 : kTotal - p1));
      return bit;
    });
  }
  out.stream = enc.Finish();
  out.digest = stage.Digest();
  return out;
}

// Decodes what EncodeImage wrote; *digest gets the decoder stage's final state.
inline std::vector<uint8_t> DecodeImage(const StageParams& params, const std::vector<uint8_t>& stream, uint32_t width,
                                        uint32_t height, uint32_t channels, int spread, uint64_t* digest) {
  Stage stage(params, width, height, channels);
  entropy::RangeDecoder dec(stream.data(), stream.size());
  std::vector<uint8_t> pixels(size_t{width} * height * channels);
  for (size_t i = 0; i < pixels.size(); ++i) {
    const std::vector<uint32_t> cdf = StandInCdf(pixels, i, width, channels, spread);
    pixels[i] = static_cast<uint8_t>(
        stage.Code([&cdf](int e) { return cdf[size_t(e)]; }, [&](int, int, uint32_t p1) { return dec.DecodeBit(kTotal - p1); }));
  }
  if (!dec.AtCleanEnd()) pixels.clear();
  *digest = stage.Digest();
  return pixels;
}

}  // namespace pixelzip::adaptive::test
