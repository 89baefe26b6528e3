// libFuzzer target: the adaptive stage on model CDFs and symbols taken from the input
// bytes (any CDF, valid or not). Oracles: every decision's p1 is in [1, 2^16 - 1];
// decoding the encoder's stream with a fresh stage gives the symbols back, ends cleanly,
// and leaves the same state (Digest); decoding arbitrary bytes never misbehaves. Every
// positions mode (0-3) is covered, with positions in and outside the image.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "adaptive/stage.h"
#include "entropy/range_coder.h"

#define PIXELZIP_STAGE_CHECK(cond) \
  do {                             \
    if (!(cond)) std::abort();     \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pixelzip::adaptive;
  if (size < 10) return 0;
  StageParams p;
  p.positions = data[0] & 1;
  if (data[0] & 4) p.positions += 2;  // 2, 3: the positions below
  p.kind = (data[0] & 2) ? ((data[0] & 8) ? 3 : 2) : 1;  // kind 3 where kind 2 was with bit 3 set
  p.table_bits = uint8_t(10 + data[1] % 3);
  p.mixer_rate = uint8_t(data[2] | 1);
  p.counter_limit = uint16_t(1 + (data[3] << 2));
  p.apm_rate = uint8_t(1 + data[4] % 12);
  const uint32_t w = 1 + data[5] % 8, h = 1 + data[6] % 8, c = 1 + data[7] % 3;
  data += 8;
  size -= 8;
  // Each subpixel takes 1 symbol byte and 1 CDF-shape byte; a shape byte >= 128 reads
  // 16 arbitrary CDF samples from the input (interpolated), others a peaked CDF.
  // Each also gets a position from its bytes: mostly inside the image, in any order and
  // with repeats, sometimes one row or column outside it or of a channel beyond it.
  struct Sub { std::vector<uint32_t> cdf; int sym; Position where; };
  std::vector<Sub> subs;
  size_t pos = 0;
  while (pos + 2 <= size && subs.size() < size_t{w} * h * c + 4) {
    Sub s;
    s.sym = data[pos];
    const uint8_t shape = data[pos + 1];
    const uint32_t i = uint32_t(subs.size());
    if (shape % 7 != 0)
      s.where = Position::At((i * 7 + uint32_t(s.sym)) % (h + 1), (i * 3 + shape) % (w + 1), (i + shape / 64) % (c + 1),
                             uint8_t(shape % 5), uint8_t(s.sym % 5));
    pos += 2;
    s.cdf.assign(257, 0);
    if (shape >= 128 && pos + 32 <= size) {
      for (int e = 0; e <= 256; ++e) {
        const size_t k = size_t(e / 17) * 2;
        s.cdf[size_t(e)] = uint32_t(data[pos + k] | (data[pos + k + 1] << 8)) + uint32_t(e);
      }
      pos += 32;
    } else {
      const int center = shape * 2, spread = 1 + shape % 13;
      uint64_t acc = 0, sum = 0;
      std::vector<uint64_t> wt(256);
      for (int v = 0; v < 256; ++v) sum += wt[size_t(v)] = 1 + 4096 / (1 + (v - center) * (v - center) / spread);
      for (int v = 0; v < 256; ++v) s.cdf[size_t(v) + 1] = uint32_t((acc += wt[size_t(v)]) * 65280 / sum) + uint32_t(v + 1);
    }
    subs.push_back(s);
  }
  Stage enc_stage(p, w, h, c);
  pixelzip::entropy::RangeEncoder enc;
  for (const Sub& s : subs) {
    const int got = enc_stage.Code(s.where, [&s](int e) { return s.cdf[size_t(e)]; }, [&](int lo, int hi, uint32_t p1) {
      PIXELZIP_STAGE_CHECK(p1 >= 1 && p1 < kTotal);
      const int bit = (lo <= s.sym && s.sym < hi) ? 1 : 0;
      enc.EncodeBit(bit, kTotal - p1);
      return bit;
    });
    PIXELZIP_STAGE_CHECK(got == s.sym);
  }
  const std::vector<uint8_t> stream = enc.Finish();
  Stage dec_stage(p, w, h, c);
  pixelzip::entropy::RangeDecoder dec(stream.data(), stream.size());
  for (const Sub& s : subs) {
    const int got = dec_stage.Code(s.where, [&s](int e) { return s.cdf[size_t(e)]; },
                                   [&](int, int, uint32_t p1) { return dec.DecodeBit(kTotal - p1); });
    PIXELZIP_STAGE_CHECK(got == s.sym);
  }
  PIXELZIP_STAGE_CHECK(dec.AtCleanEnd());
  PIXELZIP_STAGE_CHECK(dec_stage.Digest() == enc_stage.Digest());
  // Arbitrary bytes as a payload: decodes or throws DecodeError, nothing else.
  Stage junk_stage(p, w, h, c);
  pixelzip::entropy::RangeDecoder junk(data, size);
  try {
    for (const Sub& s : subs) {
      const int got = junk_stage.Code(s.where, [&s](int e) { return s.cdf[size_t(e)]; },
                                      [&](int, int, uint32_t p1) { return junk.DecodeBit(kTotal - p1); });
      PIXELZIP_STAGE_CHECK(got >= 0 && got < 256);
    }
  } catch (const pixelzip::entropy::DecodeError&) {
  }
  return 0;
}
