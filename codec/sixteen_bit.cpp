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
constexpr uint8_t kModeCoded = 0;      // then a u8 shift k (0-7): the low bytes' k low bits are 0; the
                                       // other 8 - k bits of every low byte are coded (below)
constexpr uint8_t kModeEqualHigh = 1;  // low byte == high byte (8-bit values scaled by 257)
constexpr uint8_t kModeConstant = 2;   // one low byte value for the whole channel (then a u8)

// Activity buckets (bit length of the local gradient sum) and predictors.
constexpr int kBuckets = 18;
constexpr int kPredictors = 4;  // MED, gradient a + b - c, average (a + b) / 2, (2a + 2b + d - c) / 4
// Tree contexts: channel x bucket x (prediction clamped into the high byte's range); each a
// binary tree of up to 255 nodes over the folded residual's bits, most significant first.
constexpr int kTreeContexts = 4 * kBuckets * 2;
// Bias contexts: channel x bucket x predictor x sign(b - c) x sign(a - c).
constexpr int kBiasContexts = 4 * kBuckets * kPredictors * 9;
constexpr int kFastLimit = 20, kSlowLimit = 255;
constexpr int kBiasLimit = 64;
constexpr int kErrorDecay = 4;  // predictor errors decay by 1/16 per use

// Adaptive bit: two estimates of P(bit = 1) in 1/65536, each moved by 1/(n + 1.5) of the
// error with n capped (at kFastLimit and kSlowLimit); the probability is their mean.
struct BitModel {
  uint16_t fast = 32768, slow = 32768;
  uint16_t n = 0;
};

struct Rates {
  uint32_t r[kSlowLimit + 1];
  Rates() {
    for (int n = 0; n <= kSlowLimit; ++n) r[n] = static_cast<uint32_t>((uint64_t{2} << 16) / (2 * n + 3));
  }
};
const Rates& RateTable() {
  static const Rates rates;
  return rates;
}

uint32_t FreqZero(const BitModel& m) {
  const uint32_t p1 = (uint32_t{m.fast} + m.slow + 1) / 2;  // in [32, 65504]
  return 65536u - p1;
}

uint16_t Moved(uint16_t p, int bit, uint32_t rate) {
  const int32_t target = bit ? 65536 : 0;
  const int64_t delta = (int64_t{target - int32_t{p}} * rate) / 65536;  // truncates toward 0
  return static_cast<uint16_t>(std::clamp<int64_t>(p + delta, 32, 65504));
}

void Update(BitModel& m, int bit) {
  const Rates& rates = RateTable();
  m.fast = Moved(m.fast, bit, rates.r[std::min<int>(m.n, kFastLimit)]);
  m.slow = Moved(m.slow, bit, rates.r[m.n]);
  if (m.n < kSlowLimit) ++m.n;
}

int BitLength(uint32_t v) { return v == 0 ? 0 : 32 - __builtin_clz(v); }
int Sign3(int32_t v) { return v > 0 ? 2 : v < 0 ? 0 : 1; }

// The state both directions share. Values are the 16-bit values shifted right by the
// channel's k: a subpixel with high byte H lies in [H << n, (H << n) + 2^n) for n = 8 - k.
class LowCoder {
 public:
  LowCoder(uint32_t width, uint32_t channels) : width_(width), channels_(channels) {
    trees_.resize(size_t{kTreeContexts} * 256);
    bias_.resize(size_t{kBiasContexts});
    errors_.resize(size_t{4} * kBuckets * kPredictors);
  }

  // For subpixel (x, c) of the current row with high byte `high` and n = 8 - k coded bits:
  // the expected n-bit low part and the tree to code the folded residual with. `row`, `up`:
  // the current and previous rows' shifted values (up null on the first row).
  void Predict(const int32_t* row, const int32_t* up, uint32_t x, uint32_t c, uint32_t high, int n,
               int* expected, BitModel** tree) {
    const uint32_t C = channels_;
    int32_t a, b, cc, d;
    const bool left = x > 0;
    if (up == nullptr) {
      a = left ? row[(x - 1) * C + c] : int32_t(high << n | (1u << (n - 1)));
      b = cc = d = a;
    } else {
      b = up[x * C + c];
      a = left ? row[(x - 1) * C + c] : b;
      cc = left ? up[(x - 1) * C + c] : b;
      d = x + 1 < width_ ? up[(x + 1) * C + c] : b;
    }
    if (cc >= std::max(a, b))
      p_[0] = std::min(a, b);
    else if (cc <= std::min(a, b))
      p_[0] = std::max(a, b);
    else
      p_[0] = a + b - cc;
    p_[1] = a + b - cc;
    p_[2] = (a + b + 1) >> 1;
    const int32_t s3 = 2 * a + 2 * b + d - cc + 2;
    p_[3] = s3 >= 0 ? s3 / 4 : -((-s3 + 3) / 4);  // floor(s3 / 4)
    const uint32_t activity = uint32_t(std::abs(a - cc) + std::abs(b - cc) + std::abs(b - d));
    const int bucket = std::min(kBuckets - 1, BitLength(activity));
    errors_at_ = &errors_[size_t(c * kBuckets + bucket) * kPredictors];
    int best = 0;
    for (int k = 1; k < kPredictors; ++k)
      if (errors_at_[k] < errors_at_[best]) best = k;
    bias_at_ = &bias_[((size_t(c * kBuckets + bucket) * kPredictors + best) * 3 + Sign3(b - cc)) * 3 + Sign3(a - cc)];
    int32_t p = p_[best];
    if (bias_at_->n > 0) {
      const int32_t s = bias_at_->sum, m = bias_at_->n;
      p += s >= 0 ? (s + m / 2) / m : -((-s + m / 2) / m);
    }
    const int32_t lo = int32_t(high << n), hi = lo + (1 << n) - 1;
    const bool clamped = p < lo || p > hi;
    p = std::clamp(p, lo, hi);
    *expected = p - lo;
    predicted_ = p;
    *tree = &trees_[size_t((c * kBuckets + bucket) * 2 + clamped) * 256];
  }

  // After coding `value` (shifted), predicted by the last Predict.
  void Learn(int32_t value) {
    Bias& b = *bias_at_;
    b.sum += std::clamp(value - predicted_, -4096, 4096);
    if (++b.n >= kBiasLimit) {
      b.sum = b.sum >= 0 ? b.sum / 2 : -(-b.sum / 2);
      b.n /= 2;
    }
    for (int k = 0; k < kPredictors; ++k) {
      const uint32_t e = uint32_t(std::min(std::abs(value - p_[k]), 65535));
      errors_at_[k] += e - (errors_at_[k] >> kErrorDecay);
    }
  }

 private:
  struct Bias {
    int32_t sum = 0;
    int32_t n = 0;
  };
  uint32_t width_, channels_;
  std::vector<BitModel> trees_;
  std::vector<Bias> bias_;
  std::vector<uint32_t> errors_;
  Bias* bias_at_ = nullptr;
  uint32_t* errors_at_ = nullptr;
  int32_t p_[kPredictors] = {};
  int32_t predicted_ = 0;
};

// Residual folding modulo 2^n: r = (low - expected) mod 2^n -> 0, -1, 1, -2, ... as 0, 1, 2, 3, ...
int Fold(int r, int n) {
  const int m = 1 << n;
  return r < m / 2 ? 2 * r : 2 * (m - r) - 1;
}
int Unfold(int e, int n) { return (e & 1) ? (1 << n) - (e + 1) / 2 : e / 2; }

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
  const size_t count = image.SubpixelCount();
  std::vector<uint8_t> modes(C, kModeEqualHigh), constant(C), bits(C, 0);
  std::vector<bool> is_constant(C, true);
  for (uint32_t c = 0; c < C; ++c) constant[c] = image.pixels[2 * c + 1];
  for (size_t i = 0; i < count; ++i) {
    const uint32_t c = static_cast<uint32_t>(i % C);
    const uint8_t hi = image.pixels[2 * i], lo = image.pixels[2 * i + 1];
    if (lo != hi) modes[c] = kModeCoded;
    if (lo != constant[c]) is_constant[c] = false;
    bits[c] |= lo;
  }
  std::vector<uint8_t> out;
  std::vector<int> shift(C, 0);
  bool any_coded = false;
  for (uint32_t c = 0; c < C; ++c) {
    if (modes[c] != kModeEqualHigh && is_constant[c]) modes[c] = kModeConstant;
    out.push_back(modes[c]);
    if (modes[c] == kModeConstant) out.push_back(constant[c]);
    if (modes[c] == kModeCoded) {
      while (shift[c] < 7 && ((bits[c] >> shift[c]) & 1) == 0) ++shift[c];  // bits[c] != 0: not constant 0
      out.push_back(static_cast<uint8_t>(shift[c]));
      any_coded = true;
    }
  }
  if (!any_coded) return out;
  entropy::RangeEncoder encoder;
  LowCoder coder(W, C);
  std::vector<int32_t> up(size_t{W} * C), row(size_t{W} * C);
  for (uint32_t y = 0; y < H; ++y) {
    for (uint32_t x = 0; x < W; ++x) {
      for (uint32_t c = 0; c < C; ++c) {
        const size_t i = (size_t{y} * W + x) * C + c;
        const uint32_t hi = image.pixels[2 * i], lo = image.pixels[2 * i + 1];
        if (modes[c] != kModeCoded) continue;
        const int k = shift[c], n = 8 - k;
        const int32_t value = int32_t((hi << 8 | lo) >> k);
        int expected = 0;
        BitModel* tree = nullptr;
        coder.Predict(row.data(), y > 0 ? up.data() : nullptr, x, c, hi, n, &expected, &tree);
        const int e = Fold((int(lo >> k) - expected) & ((1 << n) - 1), n);
        int node = 1;
        for (int j = n - 1; j >= 0; --j) {
          const int bit = (e >> j) & 1;
          encoder.EncodeBit(bit, FreqZero(tree[node]));
          Update(tree[node], bit);
          node = 2 * node + bit;
        }
        coder.Learn(value);
        row[size_t{x} * C + c] = value;
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
  std::vector<int> shift(C, 0);
  size_t pos = 0;
  bool any_coded = false;
  auto next = [&]() -> uint8_t {
    if (pos >= size) Corrupt("16-bit low-byte section ends inside its channel modes");
    return data[pos++];
  };
  for (uint32_t c = 0; c < C; ++c) {
    modes[c] = next();
    if (modes[c] > kModeConstant) Corrupt("16-bit low-byte section: unknown channel mode " + std::to_string(modes[c]));
    if (modes[c] == kModeConstant) constant[c] = next();
    if (modes[c] == kModeCoded) {
      shift[c] = next();
      if (shift[c] > 7) Corrupt("16-bit low-byte section: shift " + std::to_string(shift[c]) + " (allowed 0-7)");
      any_coded = true;
    }
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
  std::vector<int32_t> up(size_t{W} * C), row(size_t{W} * C);
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
            const int k = shift[c], n = 8 - k;
            int expected = 0;
            BitModel* tree = nullptr;
            coder.Predict(row.data(), y > 0 ? up.data() : nullptr, x, c, hi, n, &expected, &tree);
            int node = 1;
            for (int j = 0; j < n; ++j) {
              const int bit = decoder.DecodeBit(FreqZero(tree[node]));
              Update(tree[node], bit);
              node = 2 * node + bit;
            }
            lo = static_cast<uint32_t>((expected + Unfold(node - (1 << n), n)) & ((1 << n) - 1)) << k;
            const int32_t value = int32_t((hi << 8 | lo) >> k);
            coder.Learn(value);
            row[size_t{x} * C + c] = value;
          }
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
  std::vector<uint8_t> out = {kSixteenBitSplit};
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
  if (size == 0 || data[0] != kSixteenBitSplit) Corrupt("16-bit payload: unknown layout byte");
  uint64_t v = 0;
  size_t pos = 1;
  for (int shift = 0;; shift += 7) {
    if (pos >= size) Corrupt("16-bit payload ends inside the high-byte length");
    if (shift > 63) Corrupt("16-bit payload: high-byte length too long");
    const uint8_t b = data[pos++];
    if (shift == 63 && (b & 0x7e) != 0) Corrupt("16-bit payload: high-byte length over 2^64");
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      if (b == 0 && pos > 2) Corrupt("16-bit payload: high-byte length not in its shortest form");
      break;
    }
  }
  if (v > size - pos) Corrupt("16-bit payload: the high-byte payload runs past the end of the payload");
  *high_offset = pos;
  *high_bytes = v;
}

}  // namespace pixelzip::codec
