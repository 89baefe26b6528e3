// The low-byte section of 16-bit streams (docs/format.md section 3.4).
#include "codec/sixteen_bit.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "entropy/range_coder.h"
#include "pixelzip/error.h"

namespace pixelzip::codec {
namespace {

[[noreturn]] void Corrupt(const std::string& what) { throw Error(ErrorCode::kCorruptInput, what); }

// Channel modes of the low-byte section.
constexpr uint8_t kModeCoded = 0;      // every low byte coded (below)
constexpr uint8_t kModeEqualHigh = 1;  // low byte == high byte (8-bit values scaled by 257)
constexpr uint8_t kModeConstant = 2;   // one low byte value for the whole channel (then a u8)

// Context: channel (4) x activity bucket (18) x clamped prediction (2); each a binary tree of
// 255 nodes over the folded residual's 8 bits, most significant first.
constexpr int kBuckets = 18;
constexpr int kContexts = 4 * kBuckets * 2;
constexpr int kCountLimit = 30;

// Adaptive bit: p1 = P(bit = 1) in 1/65536, moved by 1/(n + 1.5) of the error, n capped.
struct BitModel {
  uint16_t p1 = 32768;
  uint8_t n = 0;
};

struct Rates {
  uint32_t r[kCountLimit + 1];
  Rates() {
    for (int n = 0; n <= kCountLimit; ++n) r[n] = static_cast<uint32_t>((uint64_t{2} << 16) / (2 * n + 3));
  }
};
const Rates& RateTable() {
  static const Rates rates;
  return rates;
}

uint32_t FreqZero(const BitModel& m) { return 65536u - m.p1; }  // p1 in [32, 65504]

void Update(BitModel& m, int bit) {
  const int32_t target = bit ? 65536 : 0;
  const int32_t p = m.p1;
  const int64_t delta = (int64_t{target - p} * RateTable().r[m.n]) / 65536;  // truncates toward 0
  m.p1 = static_cast<uint16_t>(std::clamp<int64_t>(p + delta, 32, 65504));
  if (m.n < kCountLimit) ++m.n;
}

int BitLength(uint32_t v) { return v == 0 ? 0 : 32 - __builtin_clz(v); }

// The state both directions share: the models, and the prediction for one subpixel.
class LowCoder {
 public:
  explicit LowCoder(uint32_t width, uint32_t channels) : width_(width), channels_(channels) {
    models_.resize(size_t{kContexts} * 256);
  }

  // For subpixel (x, y, c) with high byte `high`: its expected low byte and its context.
  // `row`, `up`: the current and previous rows' 16-bit values (up null on the first row).
  void Predict(const uint16_t* row, const uint16_t* up, uint32_t x, uint32_t c, uint32_t high, int* expected,
               BitModel** tree) {
    const uint32_t C = channels_;
    int32_t a, b, cc, d;
    const bool left = x > 0;
    if (up == nullptr) {
      a = left ? row[(x - 1) * C + c] : int32_t(high << 8 | 0x80);
      b = cc = d = a;
    } else {
      b = up[x * C + c];
      a = left ? row[(x - 1) * C + c] : b;
      cc = left ? up[(x - 1) * C + c] : b;
      d = x + 1 < width_ ? up[(x + 1) * C + c] : b;
    }
    int32_t p;
    if (cc >= std::max(a, b))
      p = std::min(a, b);
    else if (cc <= std::min(a, b))
      p = std::max(a, b);
    else
      p = a + b - cc;
    const int32_t lo = int32_t(high << 8), hi = lo + 255;
    const bool clamped = p < lo || p > hi;
    p = std::clamp(p, lo, hi);
    *expected = p & 255;
    const uint32_t activity = uint32_t(std::abs(a - cc) + std::abs(b - cc) + std::abs(b - d));
    const int bucket = std::min(kBuckets - 1, BitLength(activity));
    *tree = &models_[size_t((c * kBuckets + bucket) * 2 + clamped) * 256];
  }

 private:
  uint32_t width_, channels_;
  std::vector<BitModel> models_;
};

// Residual folding: r = (low - expected) mod 256 -> 0, -1, 1, -2, ... as 0, 1, 2, 3, ...
int Fold(int r) { return r < 128 ? 2 * r : 2 * (256 - r) - 1; }
int Unfold(int e) { return (e & 1) ? 256 - (e + 1) / 2 : e / 2; }

}  // namespace

Image HighBytes(const Image& image) {
  Image high;
  high.width = image.width;
  high.height = image.height;
  high.channels = image.channels;
  const size_t n = image.SubpixelCount();
  high.pixels.resize(n);
  for (size_t i = 0; i < n; ++i) high.pixels[i] = image.pixels[2 * i];
  return high;
}

std::vector<uint8_t> EncodeLowBytes(const Image& image) {
  const uint32_t C = image.channels, W = image.width, H = image.height;
  const size_t n = image.SubpixelCount();
  std::vector<uint8_t> modes(C, kModeEqualHigh), constant(C);
  std::vector<bool> is_constant(C, true);
  for (uint32_t c = 0; c < C; ++c) constant[c] = image.pixels[2 * c + 1];
  for (size_t i = 0; i < n; ++i) {
    const uint32_t c = static_cast<uint32_t>(i % C);
    const uint8_t hi = image.pixels[2 * i], lo = image.pixels[2 * i + 1];
    if (lo != hi) modes[c] = kModeCoded;
    if (lo != constant[c]) is_constant[c] = false;
  }
  std::vector<uint8_t> out;
  bool any_coded = false;
  for (uint32_t c = 0; c < C; ++c) {
    if (modes[c] != kModeEqualHigh && is_constant[c]) modes[c] = kModeConstant;
    out.push_back(modes[c]);
    if (modes[c] == kModeConstant) out.push_back(constant[c]);
    any_coded = any_coded || modes[c] == kModeCoded;
  }
  if (!any_coded) return out;
  entropy::RangeEncoder encoder;
  LowCoder coder(W, C);
  std::vector<uint16_t> up(size_t{W} * C), row(size_t{W} * C);
  for (uint32_t y = 0; y < H; ++y) {
    for (uint32_t x = 0; x < W; ++x) {
      for (uint32_t c = 0; c < C; ++c) {
        const size_t i = (size_t{y} * W + x) * C + c;
        const uint32_t hi = image.pixels[2 * i], lo = image.pixels[2 * i + 1];
        row[size_t{x} * C + c] = static_cast<uint16_t>(hi << 8 | lo);
        if (modes[c] != kModeCoded) continue;
        int expected = 0;
        BitModel* tree = nullptr;
        coder.Predict(row.data(), y > 0 ? up.data() : nullptr, x, c, hi, &expected, &tree);
        const int e = Fold((int(lo) - expected) & 255);
        int node = 1;
        for (int k = 7; k >= 0; --k) {
          const int bit = (e >> k) & 1;
          encoder.EncodeBit(bit, FreqZero(tree[node]));
          Update(tree[node], bit);
          node = 2 * node + bit;
        }
      }
    }
    std::swap(up, row);
  }
  const std::vector<uint8_t> coded = encoder.Finish();
  out.insert(out.end(), coded.begin(), coded.end());
  return out;
}

Image DecodeLowBytes(const Image& high, const uint8_t* data, size_t size) {
  const uint32_t C = high.channels, W = high.width, H = high.height;
  std::vector<uint8_t> modes(C), constant(C);
  size_t pos = 0;
  bool any_coded = false;
  for (uint32_t c = 0; c < C; ++c) {
    if (pos >= size) Corrupt("16-bit low-byte section ends inside its channel modes");
    modes[c] = data[pos++];
    if (modes[c] > kModeConstant) Corrupt("16-bit low-byte section: unknown channel mode " + std::to_string(modes[c]));
    if (modes[c] == kModeConstant) {
      if (pos >= size) Corrupt("16-bit low-byte section ends inside its channel modes");
      constant[c] = data[pos++];
    }
    any_coded = any_coded || modes[c] == kModeCoded;
  }
  if (!any_coded && pos != size) Corrupt("16-bit low-byte section holds bytes after its channel modes");
  Image image;
  image.width = W;
  image.height = H;
  image.channels = C;
  image.bit_depth = 16;
  // Reserved as address space; pages count only as rows are appended.
  image.pixels.reserve(high.SubpixelCount() * 2);
  entropy::RangeDecoder decoder(data + pos, size - pos);
  LowCoder coder(W, C);
  std::vector<uint16_t> up(size_t{W} * C), row(size_t{W} * C);
  std::vector<uint8_t> bytes(size_t{W} * C * 2);
  try {
    for (uint32_t y = 0; y < H; ++y) {
      for (uint32_t x = 0; x < W; ++x) {
        for (uint32_t c = 0; c < C; ++c) {
          const size_t i = (size_t{y} * W + x) * C + c;
          const uint32_t hi = high.pixels[i];
          uint32_t lo = 0;
          if (modes[c] == kModeEqualHigh) {
            lo = hi;
          } else if (modes[c] == kModeConstant) {
            lo = constant[c];
          } else {
            int expected = 0;
            BitModel* tree = nullptr;
            coder.Predict(row.data(), y > 0 ? up.data() : nullptr, x, c, hi, &expected, &tree);
            int node = 1;
            for (int k = 0; k < 8; ++k) {
              const int bit = decoder.DecodeBit(FreqZero(tree[node]));
              Update(tree[node], bit);
              node = 2 * node + bit;
            }
            lo = static_cast<uint32_t>((expected + Unfold(node - 256)) & 255);
          }
          row[size_t{x} * C + c] = static_cast<uint16_t>(hi << 8 | lo);
          bytes[(size_t{x} * C + c) * 2] = static_cast<uint8_t>(hi);
          bytes[(size_t{x} * C + c) * 2 + 1] = static_cast<uint8_t>(lo);
        }
      }
      image.pixels.insert(image.pixels.end(), bytes.begin(), bytes.end());
      std::swap(up, row);
    }
    if (any_coded && !decoder.AtCleanEnd())
      Corrupt("16-bit low-byte section holds more than the image (its coded end does not match)");
  } catch (const entropy::DecodeError& e) {
    Corrupt(std::string("16-bit low-byte section: ") + e.what());
  }
  return image;
}

std::vector<uint8_t> SixteenBitPayload(const uint8_t* high, size_t high_bytes, const std::vector<uint8_t>& low) {
  std::vector<uint8_t> out;
  uint64_t v = high_bytes;
  do {
    out.push_back(static_cast<uint8_t>((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    v >>= 7;
  } while (v != 0);
  out.insert(out.end(), high, high + high_bytes);
  out.insert(out.end(), low.begin(), low.end());
  return out;
}

void SplitSixteenBitPayload(const uint8_t* data, size_t size, size_t* high_offset, uint64_t* high_bytes) {
  uint64_t v = 0;
  size_t pos = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= size) Corrupt("16-bit payload ends inside the high-byte length");
    if (shift > 63) Corrupt("16-bit payload: high-byte length too long");
    const uint8_t b = data[pos++];
    if (shift == 63 && (b & 0x7e) != 0) Corrupt("16-bit payload: high-byte length over 2^64");
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      if (b == 0 && pos > 1) Corrupt("16-bit payload: high-byte length not in its shortest form");
      break;
    }
  }
  if (v > size - pos) Corrupt("16-bit payload: the high-byte payload runs past the end of the payload");
  *high_offset = pos;
  *high_bytes = v;
}

}  // namespace pixelzip::codec
