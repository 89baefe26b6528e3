#include "codec/fallback.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "codec/symbol_coding.h"
#include "entropy/range_coder.h"
#include "models/identity.h"
#include "models/order0_model.h"
#include "pixelzip/error.h"

namespace pixelzip::codec {
namespace {

[[noreturn]] void Corrupt(const std::string& what) { throw Error(ErrorCode::kCorruptInput, what); }

// The specification texts whose SHA-256 is each coding's recorded hash (docs/format.md 3.3).
// Changing a coding's behaviour means changing its text (and so its hash).
constexpr const char* kDeflateSpec =
    "deflate/v1 payload=zlib(rfc1950) rows=height row=filter_type(0-4)+filtered(width*channels) "
    "filters=png(none,sub,up,average,paeth) bpp=channels";
constexpr const char* kPaletteSpec =
    "palette/v1 payload=range-coder n-1:uniform entries:delta-mod-256-per-channel:adaptive-frequencies "
    "indices:order0-adaptive+stage(header-record,1-channel)";

std::array<uint8_t, 32> HashOf(const char* text) { return models::Sha256(text, std::strlen(text)); }

uint8_t Paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  if (pb <= pc) return static_cast<uint8_t>(b);
  return static_cast<uint8_t>(c);
}

// PNG filter `type`'s prediction of byte i of `row` (unfiltered bytes before i), `prev` the
// previous row or zeros.
inline int Predicted(int type, const uint8_t* row, const uint8_t* prev, size_t i, size_t bpp) {
  const int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
  switch (type) {
    case 1: return a;
    case 2: return b;
    case 3: return (a + b) >> 1;
    case 4: return Paeth(a, b, c);
    default: return 0;
  }
}

// Filters `row` (n bytes, `prev` the previous row or zeros) with PNG filter `type` into `out`.
void FilterRow(int type, const uint8_t* row, const uint8_t* prev, size_t n, size_t bpp, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint8_t>(row[i] - Predicted(type, row, prev, i, bpp));
  }
}

// Undoes FilterRow in place: `row` holds the filtered bytes, `prev` the previous decoded row.
void UnfilterRow(int type, uint8_t* row, const uint8_t* prev, size_t n, size_t bpp) {
  for (size_t i = 0; i < n; ++i) {
    row[i] = static_cast<uint8_t>(row[i] + Predicted(type, row, prev, i, bpp));
  }
}

std::vector<uint8_t> Deflate(const std::vector<uint8_t>& raw, int strategy, int level = 9) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15, 9, strategy) != Z_OK)
    throw Error(ErrorCode::kInternal, "zlib deflateInit failed");
  std::vector<uint8_t> out(deflateBound(&z, raw.size()));
  z.next_in = const_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error(ErrorCode::kInternal, "zlib deflate failed");
  return out;
}

// A CDF giving each of the 256 values 256 / 65536.
class UniformCdf final : public models::SubpixelCdf {
 public:
  uint32_t At(int edge) const override { return static_cast<uint32_t>(edge) * 256; }
};

models::PlaneView Plane(uint32_t width, uint32_t height, uint8_t* data) {
  models::PlaneView view;
  view.width = width;
  view.height = height;
  view.channels = 1;
  view.data = data;
  return view;
}

}  // namespace

const std::string& DeflateArchitecture() {
  static const std::string name = "deflate";
  return name;
}
const std::array<uint8_t, 32>& DeflateHash() {
  static const std::array<uint8_t, 32> hash = HashOf(kDeflateSpec);
  return hash;
}
const std::string& PaletteArchitecture() {
  static const std::string name = "palette";
  return name;
}
const std::array<uint8_t, 32>& PaletteHash() {
  static const std::array<uint8_t, 32> hash = HashOf(kPaletteSpec);
  return hash;
}

namespace {
constexpr size_t kLargeRows = size_t{1} << 20;

// The image's rows as the deflate coding stores them (height * (1 + width * channels) bytes
// at `raw`): strategy 0-4, that filter on every row; 5, per row the filter with the least
// sum of |signed residual| (PNG's usual heuristic).
void FilterRows(const Image& image, int strategy, uint8_t* raw) {
  const size_t n = size_t{image.width} * image.channels, bpp = image.channels;
  const std::vector<uint8_t> zeros(n, 0);
  std::vector<uint8_t> candidate(n);
  for (uint32_t y = 0; y < image.height; ++y) {
    const uint8_t* row = image.pixels.data() + y * n;
    const uint8_t* prev = y ? row - n : zeros.data();
    uint8_t* out = raw + y * (n + 1);
    int type = strategy;
    if (strategy == 5) {
      uint64_t best_sum = ~uint64_t{0};
      for (int t = 0; t <= 4; ++t) {
        FilterRow(t, row, prev, n, bpp, candidate.data());
        uint64_t sum = 0;
        for (uint8_t v : candidate) sum += v < 128 ? v : 256 - v;
        if (sum < best_sum) best_sum = sum, type = t;
      }
    }
    out[0] = static_cast<uint8_t>(type);
    FilterRow(type, row, prev, n, bpp, out + 1);
  }
}
}  // namespace

bool DeflateCannotWin(const Image& image, uint64_t best_bytes) {
  const size_t raw_bytes = size_t{image.height} * (1 + size_t{image.width} * image.channels);
  if (raw_bytes <= kLargeRows || raw_bytes > 0xffffffffu) return false;
  std::vector<uint8_t> raw(raw_bytes);
  FilterRows(image, 5, raw.data());
  return Deflate(raw, Z_DEFAULT_STRATEGY, 6).size() > best_bytes / 10 * 11;
}

std::vector<uint8_t> EncodeDeflate(const Image& image) {
  if (size_t{image.height} * (1 + size_t{image.width} * image.channels) > 0xffffffffu)
    throw Error(ErrorCode::kInvalidArgument, "image too large for the deflate coding");
  const size_t n = size_t{image.width} * image.channels;
  // Strategies 0-4: that filter on every row; 5: per row, the filter with the least sum
  // of |signed residual| (PNG's usual heuristic). Each with zlib's default strategy; the
  // best of them also with Z_FILTERED (what libpng uses for filtered rows). Images of over
  // 1 MiB try strategies 4 and 5 only (deflate at level 9 is slow; photos pick them).
  std::vector<uint8_t> best, best_raw;
  std::vector<uint8_t> raw(image.height * (n + 1));
  const bool large = raw.size() > kLargeRows;
  for (int strategy = large ? 4 : 0; strategy <= 5; ++strategy) {
    FilterRows(image, strategy, raw.data());
    std::vector<uint8_t> z = Deflate(raw, Z_DEFAULT_STRATEGY);
    if (best.empty() || z.size() < best.size()) {
      best = std::move(z);
      best_raw.swap(raw);
      raw.resize(best_raw.size());
    }
  }
  std::vector<uint8_t> filtered = Deflate(best_raw, Z_FILTERED);
  if (filtered.size() < best.size()) best = std::move(filtered);
  return best;
}

void DecodeDeflate(const uint8_t* payload, size_t size, uint32_t width, uint32_t height, uint32_t channels,
                   uint8_t* pixels) {
  const size_t n = size_t{width} * channels, bpp = channels;
  z_stream z{};
  if (inflateInit(&z) != Z_OK) throw Error(ErrorCode::kInternal, "zlib inflateInit failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  z.next_in = const_cast<Bytef*>(payload);
  size_t in_left = size;
  const std::vector<uint8_t> zeros(n, 0);
  std::vector<uint8_t> row(n + 1);
  bool stream_end = false;
  // Feeds zlib at most 1 GiB at a time (avail_in is 32-bit).
  auto inflate_into = [&](uint8_t* out, size_t want) {
    z.next_out = out;
    z.avail_out = static_cast<uInt>(want);
    while (z.avail_out > 0) {
      if (z.avail_in == 0 && in_left > 0) {
        z.avail_in = static_cast<uInt>(std::min<size_t>(in_left, size_t{1} << 30));
        in_left -= z.avail_in;
      }
      const int rc = inflate(&z, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        stream_end = true;
        break;
      }
      if (rc != Z_OK) Corrupt(std::string("corrupt deflate payload: ") + (z.msg ? z.msg : "zlib error"));
      if (z.avail_in == 0 && in_left == 0 && z.avail_out > 0) {
        // zlib may still hold output; one more call with no input tells.
        const int rc2 = inflate(&z, Z_NO_FLUSH);
        if (rc2 == Z_STREAM_END) {
          stream_end = true;
          break;
        }
        if (rc2 != Z_OK || z.avail_out > 0) Corrupt("deflate payload ends before the image's rows");
      }
    }
    if (z.avail_out > 0) Corrupt("deflate payload ends before the image's rows");
  };
  for (uint32_t y = 0; y < height; ++y) {
    if (n + 1 > 0xffffffffu) throw Error(ErrorCode::kLimitExceeded, "row too long for the deflate coding");
    inflate_into(row.data(), n + 1);
    if (row[0] > 4) Corrupt("deflate payload: filter type " + std::to_string(row[0]) + " (allowed 0-4)");
    uint8_t* out = pixels + y * n;
    std::memcpy(out, row.data() + 1, n);
    UnfilterRow(row[0], out, y ? out - n : zeros.data(), n, bpp);
  }
  if (!stream_end) {
    uint8_t extra = 0;
    z.next_out = &extra;
    z.avail_out = 1;
    if (z.avail_in == 0 && in_left > 0) {
      z.avail_in = static_cast<uInt>(std::min<size_t>(in_left, size_t{1} << 30));
      in_left -= z.avail_in;
    }
    const int rc = inflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END || z.avail_out == 0) Corrupt("deflate payload holds more than the image's rows");
  }
  if (z.avail_in != 0 || in_left != 0) Corrupt("bytes after the end of the deflate payload");
}

std::optional<std::vector<uint8_t>> FindPalette(const Image& image) {
  const uint32_t c = image.channels;
  const size_t pixels = size_t{image.width} * image.height;
  std::vector<uint32_t> seen;  // packed pixels, kept sorted; at most 257
  for (size_t i = 0; i < pixels; ++i) {
    uint32_t v = 0;
    for (uint32_t k = 0; k < c; ++k) v = v << 8 | image.pixels[i * c + k];
    const auto it = std::lower_bound(seen.begin(), seen.end(), v);
    if (it != seen.end() && *it == v) continue;
    if (seen.size() == 256) return std::nullopt;
    seen.insert(it, v);
  }
  auto sum = [c](uint32_t v) {
    uint32_t s = 0;
    for (uint32_t k = 0; k < c; ++k) s += (v >> (8 * k)) & 255;
    return s;
  };
  std::stable_sort(seen.begin(), seen.end(), [&](uint32_t a, uint32_t b) { return sum(a) < sum(b); });
  std::vector<uint8_t> palette(seen.size() * c);
  for (size_t j = 0; j < seen.size(); ++j)
    for (uint32_t k = 0; k < c; ++k) palette[j * c + k] = static_cast<uint8_t>(seen[j] >> (8 * (c - 1 - k)));
  return palette;
}

adaptive::StageParams PaletteStageParams() {
  adaptive::StageParams p;
  p.positions = 1;
  return p;
}

std::vector<uint8_t> EncodePalette(const Image& image, const std::vector<uint8_t>& palette,
                                   const adaptive::StageParams& params) {
  const uint32_t c = image.channels;
  const size_t n = palette.size() / c, pixels = size_t{image.width} * image.height;
  entropy::RangeEncoder encoder;
  RangeSymbolSink sink(encoder);
  sink.Put(models::SymbolPosition::None(), UniformCdf(), static_cast<int>(n - 1));
  std::vector<models::AdaptiveFrequencies> tables(c);
  for (size_t j = 0; j < n; ++j) {
    for (uint32_t k = 0; k < c; ++k) {
      const int delta = (palette[j * c + k] - (j ? palette[(j - 1) * c + k] : 0)) & 255;
      sink.Put(models::SymbolPosition::None(), tables[k], delta);
      tables[k].Update(delta);
    }
  }
  std::map<uint32_t, uint8_t> index_of;
  for (size_t j = 0; j < n; ++j) {
    uint32_t v = 0;
    for (uint32_t k = 0; k < c; ++k) v = v << 8 | palette[j * c + k];
    index_of[v] = static_cast<uint8_t>(j);
  }
  std::vector<uint8_t> indices(pixels);
  uint32_t last_v = ~0u;
  uint8_t last_i = 0;
  for (size_t i = 0; i < pixels; ++i) {
    uint32_t v = 0;
    for (uint32_t k = 0; k < c; ++k) v = v << 8 | image.pixels[i * c + k];
    if (v != last_v) last_v = v, last_i = index_of.at(v);
    indices[i] = last_i;
  }
  adaptive::Stage stage(params, image.width, image.height, 1);
  AdaptiveSymbolSink adaptive_sink(encoder, stage);
  models::Order0Model().Encode(Plane(image.width, image.height, indices.data()), adaptive_sink, {});
  return encoder.Finish();
}

void DecodePalette(const uint8_t* payload, size_t size, const adaptive::StageParams& params, uint32_t width,
                   uint32_t height, uint32_t c, uint8_t* pixels) {
  entropy::RangeDecoder decoder(payload, size);
  RangeSymbolSource source(decoder);
  const size_t n = static_cast<size_t>(source.Get(models::SymbolPosition::None(), UniformCdf())) + 1;
  std::vector<uint8_t> palette(n * c);
  std::vector<models::AdaptiveFrequencies> tables(c);
  for (size_t j = 0; j < n; ++j) {
    for (uint32_t k = 0; k < c; ++k) {
      const int delta = source.Get(models::SymbolPosition::None(), tables[k]);
      tables[k].Update(delta);
      palette[j * c + k] = static_cast<uint8_t>((j ? palette[(j - 1) * c + k] : 0) + delta);
    }
  }
  // The indices are decoded into the first width * height bytes of `pixels`, then expanded
  // in place from the end (pixel i's bytes start at i * c >= i).
  const size_t count = size_t{width} * height;
  adaptive::Stage stage(params, width, height, 1);
  AdaptiveSymbolSource adaptive_source(decoder, stage);
  models::Order0Model().Decode(Plane(width, height, pixels), adaptive_source, {});
  if (!decoder.AtCleanEnd()) Corrupt("payload holds more than the image (its coded end does not match)");
  for (size_t i = count; i-- > 0;) {
    const size_t index = pixels[i];
    if (index >= n) Corrupt("palette index " + std::to_string(index) + " beyond the palette's " + std::to_string(n));
    std::memmove(pixels + i * c, palette.data() + index * c, c);
  }
}

}  // namespace pixelzip::codec
