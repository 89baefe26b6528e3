#include "codec/symbol_coding.h"

#include <array>
#include <cmath>
#include <string>

#include "models/order0_model.h"
#include "pixelzip/error.h"

namespace pixelzip::codec {

void RangeSymbolSink::Put(const models::SymbolPosition&, const models::SubpixelCdf& cdf, int symbol) {
  if (symbol < 0 || symbol >= models::kSymbols)
    throw Error(ErrorCode::kInternal, "model coded symbol " + std::to_string(symbol) + ", outside 0-255");
  const uint32_t lo = cdf.At(symbol);
  const uint32_t hi = cdf.At(symbol + 1);
  if (hi <= lo || hi > models::kCdfTotal) {
    throw Error(ErrorCode::kInternal, "model gave an invalid CDF for symbol " + std::to_string(symbol) + ": [" +
                                          std::to_string(lo) + ", " + std::to_string(hi) + ")");
  }
  encoder_.Encode(lo, hi - lo);
  bits_ += models::kCdfBits - std::log2(static_cast<double>(hi - lo));
}

int RangeSymbolSource::Get(const models::SymbolPosition&, const models::SubpixelCdf& cdf) {
  try {
    return decoder_.DecodeWithCallable([&cdf](int edge) { return cdf.At(edge); }, models::kSymbols);
  } catch (const entropy::DecodeError& e) {
    throw Error(ErrorCode::kCorruptInput, std::string("corrupt payload: ") + e.what());
  }
}

void AdaptiveSymbolSink::Put(const models::SymbolPosition& at, const models::SubpixelCdf& cdf, int symbol) {
  if (symbol < 0 || symbol >= models::kSymbols)
    throw Error(ErrorCode::kInternal, "model coded symbol " + std::to_string(symbol) + ", outside 0-255");
  stage_.Code(StagePosition(at), [&cdf](int edge) { return cdf.At(edge); },
              [&](int lo, int hi, uint32_t p1) {
                const int bit = (lo <= symbol && symbol < hi) ? 1 : 0;
                encoder_.EncodeBit(bit, adaptive::kTotal - p1);
                bits_ += models::kCdfBits - std::log2(static_cast<double>(bit ? p1 : adaptive::kTotal - p1));
                return bit;
              });
}

int AdaptiveSymbolSource::Get(const models::SymbolPosition& at, const models::SubpixelCdf& cdf) {
  try {
    return stage_.Code(StagePosition(at), [&cdf](int edge) { return cdf.At(edge); },
                       [this](int, int, uint32_t p1) { return decoder_.DecodeBit(adaptive::kTotal - p1); });
  } catch (const entropy::DecodeError& e) {
    throw Error(ErrorCode::kCorruptInput, std::string("corrupt payload: ") + e.what());
  }
}

namespace {

// 0 -> 0, 255 -> 1, anything else -> 2.
int AlphaClass(uint8_t a) { return a == 0 ? 0 : a == 255 ? 1 : 2; }

// The one walk over the alpha plane for both directions: `code(position, table, value)` either
// codes `value` or fills it in. Neighbours outside the image count as 255.
template <class CodeFn>
void WalkAlpha(uint32_t width, uint32_t height, uint32_t channels, uint8_t* pixels, const CodeFn& code,
               const Progress& progress) {
  std::array<models::AdaptiveFrequencies, 9> tables;  // default parameters: increment 32, limit 2^16
  const uint32_t a = channels - 1;
  const size_t row = size_t{width} * channels;
  for (uint32_t y = 0; y < height; ++y) {
    uint8_t* line = pixels + y * row;
    const uint8_t* above = y > 0 ? line - row : nullptr;
    for (uint32_t x = 0; x < width; ++x) {
      const uint8_t left = x > 0 ? line[(x - 1) * channels + a] : 255;
      const uint8_t up = above ? above[x * channels + a] : 255;
      models::AdaptiveFrequencies& table = tables[3 * AlphaClass(left) + AlphaClass(up)];
      uint8_t& value = line[x * channels + a];
      code(models::SymbolPosition::At(y, x, a), table, value);
      table.Update(value);
    }
    if (progress) progress(static_cast<double>(y + 1) / height);
  }
}

}  // namespace

void EncodeAlpha(const Image& image, models::SymbolSink& sink, const Progress& progress) {
  // WalkAlpha writes nothing when coding: `code` only reads the value.
  uint8_t* pixels = const_cast<uint8_t*>(image.pixels.data());
  WalkAlpha(image.width, image.height, image.channels, pixels,
            [&sink](const models::SymbolPosition& at, const models::SubpixelCdf& cdf, uint8_t& v) { sink.Put(at, cdf, v); }, progress);
}

void DecodeAlpha(Image& image, models::SymbolSource& source, const Progress& progress) {
  WalkAlpha(image.width, image.height, image.channels, image.pixels.data(),
            [&source](const models::SymbolPosition& at, const models::SubpixelCdf& cdf, uint8_t& v) {
              v = static_cast<uint8_t>(source.Get(at, cdf));
            },
            progress);
}

void DecodeAlphaPlane(uint32_t width, uint32_t height, uint8_t* alpha, models::SymbolSource& source,
                      const Progress& progress) {
  WalkAlpha(width, height, 1, alpha,
            [&source](const models::SymbolPosition& at, const models::SubpixelCdf& cdf, uint8_t& v) {
              v = static_cast<uint8_t>(source.Get(at, cdf));
            },
            progress);
}

}  // namespace pixelzip::codec
