// Synthetic test images made in code (tests must not read ../shared): graphics of the
// kinds pixelzip used to code badly (flat shapes, text-like strokes, palettes,
// screenshots, gradients) and a photo-like image (smooth field plus sensor noise).
// Deterministic for a given seed. Header-only, used by tests/adaptive and bench/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/image.h"

namespace pixelzip::synthetic {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint32_t Next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return static_cast<uint32_t>(s_ >> 11);
  }
  int Uniform(int n) { return static_cast<int>(Next() % static_cast<uint32_t>(n)); }

 private:
  uint64_t s_;
};

inline Image Blank(uint32_t w, uint32_t h, uint32_t c, uint8_t v) {
  Image im;
  im.width = w;
  im.height = h;
  im.channels = c;
  im.pixels.assign(size_t{w} * h * c, v);
  return im;
}

inline void Fill(Image& im, int x0, int y0, int x1, int y1, const uint8_t* colour) {
  for (int y = std::max(0, y0); y < std::min<int>(int(im.height), y1); ++y)
    for (int x = std::max(0, x0); x < std::min<int>(int(im.width), x1); ++x)
      for (uint32_t c = 0; c < im.channels; ++c) im.at(uint32_t(y), uint32_t(x), c) = colour[c % 3];
}

// Flat rectangles and discs of a few colours on a flat background.
inline Image FlatShapes(uint32_t w, uint32_t h, uint32_t c, uint64_t seed) {
  Rng r(seed);
  Image im = Blank(w, h, c, 240);
  for (int i = 0; i < 12; ++i) {
    const uint8_t col[3] = {uint8_t(r.Uniform(256)), uint8_t(r.Uniform(256)), uint8_t(r.Uniform(256))};
    const int x0 = r.Uniform(int(w)), y0 = r.Uniform(int(h)), rw = 4 + r.Uniform(int(w) / 2 + 1), rh = 4 + r.Uniform(int(h) / 2 + 1);
    if (i % 2) {
      Fill(im, x0, y0, x0 + rw, y0 + rh, col);
    } else {
      const int rad = rw / 2;
      for (int y = y0 - rad; y <= y0 + rad; ++y)
        for (int x = x0 - rad; x <= x0 + rad; ++x)
          if ((x - x0) * (x - x0) + (y - y0) * (y - y0) <= rad * rad) Fill(im, x, y, x + 1, y + 1, col);
    }
  }
  return im;
}

// Black "glyphs" (random 5x7 bitmaps, repeated from a small font) in lines on white.
inline Image TextLike(uint32_t w, uint32_t h, uint32_t c, uint64_t seed) {
  Rng r(seed);
  Image im = Blank(w, h, c, 255);
  std::vector<uint64_t> font(40);
  for (auto& g : font) g = (uint64_t(r.Next()) << 32) | r.Next();
  const uint8_t ink[3] = {20, 20, 30};
  for (uint32_t line = 4; line + 9 < h; line += 11)
    for (uint32_t x = 3; x + 6 < w; x += 6) {
      if (r.Uniform(7) == 0) continue;  // a space
      const uint64_t g = font[size_t(r.Uniform(int(font.size())))];
      for (int gy = 0; gy < 7; ++gy)
        for (int gx = 0; gx < 5; ++gx)
          if ((g >> (gy * 5 + gx)) & 1) Fill(im, int(x) + gx, int(line) + gy, int(x) + gx + 1, int(line) + gy + 1, ink);
    }
  return im;
}

// A screenshot-like image: title bar, panels, buttons, text lines, a gradient strip.
inline Image ScreenshotLike(uint32_t w, uint32_t h, uint32_t c, uint64_t seed) {
  Image im = TextLike(w, h, c, seed);
  const uint8_t bar[3] = {40, 90, 160}, panel[3] = {225, 228, 232}, button[3] = {70, 160, 90};
  Fill(im, 0, 0, int(w), int(h) / 12 + 2, bar);
  Fill(im, 0, int(h) / 12 + 2, int(w) / 5, int(h), panel);
  Rng r(seed + 7);
  for (int i = 0; i < 5; ++i) {
    const int x = int(w) / 4 + r.Uniform(int(w) / 2 + 1), y = int(h) / 6 + r.Uniform(int(h) / 2 + 1);
    Fill(im, x, y, x + int(w) / 8, y + 8, button);
  }
  for (uint32_t y = h - h / 10; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x)
      for (uint32_t k = 0; k < c; ++k) im.at(y, x, k) = uint8_t((x * 255) / (w > 1 ? w - 1 : 1));
  return im;
}

// Every pixel one of 8 palette colours, in noisy blobs (like a dithered GIF).
inline Image PaletteImage(uint32_t w, uint32_t h, uint32_t c, uint64_t seed) {
  Rng r(seed);
  uint8_t pal[8][3];
  for (auto& p : pal)
    for (auto& v : p) v = uint8_t(r.Uniform(256));
  Image im = Blank(w, h, c, 0);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      int k = int(((x / 16) + (y / 16) * 3) % 8);
      if (r.Uniform(10) == 0) k = r.Uniform(8);
      for (uint32_t ch = 0; ch < c; ++ch) im.at(y, x, ch) = pal[k][ch % 3];
    }
  return im;
}

// Smooth diagonal gradients with sharp boundaries between four areas.
inline Image Gradients(uint32_t w, uint32_t h, uint32_t c, uint64_t /*seed*/) {
  Image im = Blank(w, h, c, 0);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x)
      for (uint32_t ch = 0; ch < c; ++ch) {
        const uint32_t q = (x * 2 >= w) + 2 * (y * 2 >= h);
        im.at(y, x, ch) = uint8_t((x * (ch + 1) + y * (q + 1) + 50 * q) & 255);
      }
  return im;
}

// Photo-like: a sum of smooth waves (integer-only), colour correlated, plus noise.
inline Image PhotoLike(uint32_t w, uint32_t h, uint32_t c, uint64_t seed) {
  Rng r(seed);
  Image im = Blank(w, h, c, 0);
  // Smooth field by repeated box blurs of random values on a coarse grid, bilinear up.
  const uint32_t gw = w / 8 + 2, gh = h / 8 + 2;
  std::vector<int> grid(size_t(gw) * gh);
  for (auto& g : grid) g = 30 + r.Uniform(196);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      const uint32_t gx = x / 8, gy = y / 8, fx = x % 8, fy = y % 8;
      const int a = grid[gy * gw + gx], b = grid[gy * gw + gx + 1], cc = grid[(gy + 1) * gw + gx],
                d = grid[(gy + 1) * gw + gx + 1];
      const int v = (a * int(8 - fx) * int(8 - fy) + b * int(fx) * int(8 - fy) + cc * int(8 - fx) * int(fy) +
                     d * int(fx) * int(fy)) / 64;
      for (uint32_t ch = 0; ch < c; ++ch) {
        const int noise = r.Uniform(9) - 4;
        const int tint = ch == 0 ? 10 : ch == 1 ? 0 : -12;
        const int val = v + tint + noise;
        im.at(y, x, ch) = uint8_t(val < 0 ? 0 : val > 255 ? 255 : val);
      }
    }
  return im;
}

inline const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {"flat", "text", "screenshot", "palette", "gradients", "photolike"};
  return names;
}

inline Image Make(const std::string& name, uint32_t w, uint32_t h, uint32_t c, uint64_t seed) {
  if (name == "flat") return FlatShapes(w, h, c, seed);
  if (name == "text") return TextLike(w, h, c, seed);
  if (name == "screenshot") return ScreenshotLike(w, h, c, seed);
  if (name == "palette") return PaletteImage(w, h, c, seed);
  if (name == "gradients") return Gradients(w, h, c, seed);
  return PhotoLike(w, h, c, seed);
}

}  // namespace pixelzip::synthetic
