// Shared by the adaptive stage's tests and fuzz target: integer model CDFs, and coding
// a whole image through encoder and decoder stages.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <utility>
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

// The multiscale coding order (models/nn/arch/multiscale/coding_model.h) with each
// pixel's position: the base image (spacing 2^L, L the smallest level with both sides
// of the base <= base_side) in raster order, then for each level the groups (even,
// odd), (odd, even), (odd, odd) of its grid in raster order.
inline std::vector<Position> MultiscaleWalk(uint32_t width, uint32_t height, uint32_t base_side = 4) {
  int L = 0;
  while (((width + (1u << L) - 1) >> L) > base_side || ((height + (1u << L) - 1) >> L) > base_side) ++L;
  std::vector<Position> walk;
  const uint32_t step = 1u << L;
  for (uint32_t y = 0; y < height; y += step)
    for (uint32_t x = 0; x < width; x += step) walk.push_back(Position::At(y, x, 0, uint8_t(L), 0));
  for (int l = L; l >= 1; --l) {
    const uint32_t s = 1u << (l - 1);
    for (int g = 0; g < 3; ++g) {
      const uint32_t py = g == 0 ? 0 : 1, px = g == 1 ? 0 : 1;
      for (uint32_t y = py * s; y < height; y += 2 * s)
        for (uint32_t x = px * s; x < width; x += 2 * s) walk.push_back(Position::At(y, x, 0, uint8_t(l - 1), uint8_t(1 + g)));
    }
  }
  return walk;
}

// The subpixels of an image in the multiscale order, each with its position.
inline std::vector<std::pair<size_t, Position>> MultiscaleSubpixels(uint32_t width, uint32_t height, uint32_t channels) {
  std::vector<std::pair<size_t, Position>> out;
  for (Position p : MultiscaleWalk(width, height)) {
    for (uint32_t c = 0; c < channels; ++c) {
      p.channel = c;
      out.push_back({(size_t{p.y} * width + p.x) * channels + c, p});
    }
  }
  return out;
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

// As EncodeImage, in the multiscale order with each symbol's position; the stand-in
// model's peak is the symbol coded last in the same channel (128 for the first).
inline CodedImage EncodeMultiscale(const StageParams& params, const std::vector<uint8_t>& pixels, uint32_t width,
                                   uint32_t height, uint32_t channels, int spread) {
  Stage stage(params, width, height, channels);
  entropy::RangeEncoder enc;
  CodedImage out;
  int last[3] = {128, 128, 128};
  for (const auto& [i, where] : MultiscaleSubpixels(width, height, channels)) {
    const std::vector<uint32_t> cdf = PeakedCdf(last[where.channel], spread);
    const int sym = pixels[i];
    out.model_bits += 16 - Log2(double(cdf[size_t(sym) + 1] - cdf[size_t(sym)]));
    stage.Code(where, [&cdf](int e) { return cdf[size_t(e)]; }, [&](int lo, int hi, uint32_t p1) {
      const int bit = (lo <= sym && sym < hi) ? 1 : 0;
      enc.EncodeBit(bit, kTotal - p1);
      out.stage_bits += 16 - Log2(double(bit ? p1 : kTotal - p1));
      return bit;
    });
    last[where.channel] = sym;
  }
  out.stream = enc.Finish();
  out.digest = stage.Digest();
  return out;
}

inline std::vector<uint8_t> DecodeMultiscale(const StageParams& params, const std::vector<uint8_t>& stream,
                                             uint32_t width, uint32_t height, uint32_t channels, int spread,
                                             uint64_t* digest) {
  Stage stage(params, width, height, channels);
  entropy::RangeDecoder dec(stream.data(), stream.size());
  std::vector<uint8_t> pixels(size_t{width} * height * channels);
  int last[3] = {128, 128, 128};
  for (const auto& [i, where] : MultiscaleSubpixels(width, height, channels)) {
    const std::vector<uint32_t> cdf = PeakedCdf(last[where.channel], spread);
    pixels[i] = static_cast<uint8_t>(stage.Code(where, [&cdf](int e) { return cdf[size_t(e)]; },
                                                [&](int, int, uint32_t p1) { return dec.DecodeBit(kTotal - p1); }));
    last[where.channel] = pixels[i];
  }
  if (!dec.AtCleanEnd()) pixels.clear();
  *digest = stage.Digest();
  return pixels;
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
