// Not a benchmark: replays dumps written by adaptive_dump through the adaptive stage
// with the parameters given, and prints the model's and the stage's ideal code length
// in bits per subpixel (-log2 of each coded frequency / 2^16).
// With activity=1 it also prints, for raster dumps, the bits by local activity
// |W - NW| + |N - NW| + |NE - N| (same channel) in buckets.
// With groups=1 it prints, for multiscale dumps with positions, the bits by group and grid scale.
//   adaptive_sim [key=value ...] DUMP...   keys: activity groups kind positions table_bits mixer_rate counter_limit apm_rate off temp
// (temp=T replays a miscalibrated model: each pdf raised to 100 / T and renormalised; floating point, in the simulator only).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "adaptive/stage.h"

int main(int argc, char** argv) {
  pixelzip::adaptive::StageParams p;
  bool off = false, activity = false;
  constexpr int kBuckets = 7;  // activity 0, 1-2, 3-5, 6-11, 12-23, 24-47, 48+
  double b_n[kBuckets] = {}, b_model[kBuckets] = {}, b_stage[kBuckets] = {};
  double total_model = 0, total_stage = 0, total_n = 0;
  double dec_bits[6] = {}, dec_n[6] = {};
  double ch_n[4] = {}, ch_model[4] = {}, ch_stage[4] = {};  // by channel (raster dumps: i % channels)  // centre, side, buckets below, buckets above, first bit in bucket, later bits
  bool by_group = false;
  int temp = 100;  // temp=T: replay a miscalibrated model, the pdf raised to 100 / T (T > 100 wider, < 100 sharper)  // multiscale dumps with positions: bits by group and grid scale
  double g_n[12] = {}, g_model[12] = {}, g_stage[12] = {};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      const std::string k = a.substr(0, eq);
      const int v = std::stoi(a.substr(eq + 1));
      if (k == "kind") p.kind = uint8_t(v);
      else if (k == "positions") p.positions = uint8_t(v);
      else if (k == "table_bits") p.table_bits = uint8_t(v);
      else if (k == "mixer_rate") p.mixer_rate = uint8_t(v);
      else if (k == "counter_limit") p.counter_limit = uint16_t(v);
      else if (k == "apm_rate") p.apm_rate = uint8_t(v);
      else if (k == "off") off = v != 0;
      else if (k == "activity") activity = v != 0;
      else if (k == "groups") by_group = v != 0;
      else if (k == "temp") temp = v;
      else { std::fprintf(stderr, "unknown key %s\n", k.c_str()); return 2; }
      continue;
    }
    std::FILE* f = std::fopen(a.c_str(), "rb");
    if (!f) { std::fprintf(stderr, "cannot read %s\n", a.c_str()); return 1; }
    char magic[4];
    uint32_t head[4];
    if (std::fread(magic, 1, 4, f) != 4 || std::fread(head, 4, 4, f) != 4) return 1;
    pixelzip::adaptive::StageParams q = p;
    const bool v2 = std::memcmp(magic, "PXD2", 4) == 0;  // with positions
    if (head[3] != 0 && q.positions != 3) q.positions = 0;  // multiscale: stream order, or the models' positions
    pixelzip::adaptive::Stage stage(q, head[0], head[1], head[2]);
    const uint64_t n = uint64_t{head[0]} * head[1] * head[2];
    uint32_t cdf[257];
    std::vector<uint8_t> plane(n);
    uint16_t v[255];
    uint8_t sym;
    double model_bits = 0, stage_bits = 0, decisions = 0, evals = 0;
    for (uint64_t i = 0; i < n; ++i) {
      if (std::fread(v, 2, 255, f) != 255 || std::fread(&sym, 1, 1, f) != 1) { std::fprintf(stderr, "short dump\n"); return 1; }
      pixelzip::adaptive::Position where;
      if (v2) {
        uint32_t yx[2];
        uint8_t rest[4];
        if (std::fread(yx, 4, 2, f) != 2 || std::fread(rest, 1, 4, f) != 4) { std::fprintf(stderr, "short dump\n"); return 1; }
        if (rest[3]) where = pixelzip::adaptive::Position::At(yx[0], yx[1], rest[0], rest[1], rest[2]);
      }
      cdf[0] = 0;
      for (int e = 1; e < 256; ++e) cdf[e] = v[e - 1];
      cdf[256] = 65536;
      if (temp != 100) {  // a miscalibrated model: the pdf raised to 100 / temp, renormalised
        double pdf[256], sum = 0;
        for (int s = 0; s < 256; ++s) sum += pdf[s] = std::pow(double(cdf[s + 1] - cdf[s]), 100.0 / temp);
        double acc = 0;
        for (int s = 0; s < 255; ++s) {
          acc += pdf[s];
          cdf[s + 1] = uint32_t(s + 1 + std::floor(acc / sum * (65536 - 256)));
        }
      }
      const double mb = 16 - std::log2(double(cdf[sym + 1] - cdf[sym]));
      model_bits += mb;
      plane[i] = sym;
      int bucket = -1;
      if (activity && head[3] == 0) {
        const uint64_t C = head[2], Wd = head[0], x = (i / C) % Wd, y = (i / C) / Wd;
        if (x > 0 && y > 0 && x + 1 < Wd) {
          const auto px = [&](uint64_t yy, uint64_t xx) { return int(plane[(yy * Wd + xx) * C + i % C]); };
          const int a = std::abs(px(y, x - 1) - px(y - 1, x - 1)) + std::abs(px(y - 1, x) - px(y - 1, x - 1)) +
                        std::abs(px(y - 1, x + 1) - px(y - 1, x));
          bucket = a == 0 ? 0 : a <= 2 ? 1 : a <= 5 ? 2 : a <= 11 ? 3 : a <= 23 ? 4 : a <= 47 ? 5 : 6;
          b_n[bucket] += 1;
          b_model[bucket] += mb;
        }
      }
      const double before = stage_bits;
      if (off) continue;
      stage.Code(where, [&](int e) { ++evals; return cdf[e]; }, [&](int lo, int hi, uint32_t p1) {
        ++decisions;
        const int bit = (lo <= sym && sym < hi) ? 1 : 0;
        const double db = 16 - std::log2(double(bit ? p1 : 65536 - p1));
        stage_bits += db;
        {
          const int d = stage.last_light_decision();
          const int t = d >= 0 ? (d >= 12 ? d - 12 : d < 2 ? d : d < 7 ? 2 : 3) : 4 + ((-1 - d) % 8 == 0 ? 0 : 1);
          dec_bits[t] += db, dec_n[t] += 1;
        }
        return bit;
      });
      if (bucket >= 0) b_stage[bucket] += stage_bits - before;
      if (head[3] == 0 && head[2] <= 4) {
        const uint64_t ch = i % head[2];
        ch_n[ch] += 1, ch_model[ch] += mb, ch_stage[ch] += stage_bits - before;
      }
      if (by_group && where.pixel) {
        const int gi = where.group * 3 + (where.scale < 2 ? where.scale : 2);
        g_n[gi] += 1, g_model[gi] += mb, g_stage[gi] += stage_bits - before;
      }
    }
    std::fclose(f);
    std::printf("%-40s model %.4f stage %.4f (%+.2f%%) decisions/subpixel %.2f cdf evaluations/subpixel %.2f\n", a.c_str(),
                model_bits / n, stage_bits / n, 100 * (stage_bits / model_bits - 1), decisions / n, evals / n);
    total_model += model_bits;
    total_stage += stage_bits;
    total_n += n;
  }
  std::printf("TOTAL model %.4f stage %.4f (%+.2f%%)\n", total_model / total_n, total_stage / total_n,
              100 * (total_stage / total_model - 1));
  if (p.kind >= 2) {
    const char* names[6] = {"centre", "side", "bucket-", "bucket+", "bit1", "bits2+"};
    for (int t = 0; t < 6; ++t)
      std::printf("%-8s decisions/subpixel %.3f bits/subpixel %.4f\n", names[t], dec_n[t] / total_n, dec_bits[t] / total_n);
  }
  for (int ch = 0; ch < 4; ++ch)
    if (ch_n[ch] > 0)
      std::printf("channel %d model %.4f stage %.4f bits/subpixel\n", ch, ch_model[ch] / ch_n[ch], ch_stage[ch] / ch_n[ch]);
  if (by_group) {
    std::printf("group scale  share  model_bpsp  stage_bpsp\n");
    for (int gi = 0; gi < 12; ++gi)
      if (g_n[gi] > 0)
        std::printf("%5d %5s %6.1f%%  %9.4f  %9.4f\n", gi / 3, gi % 3 == 2 ? "2+" : gi % 3 ? "1" : "0",
                    100 * g_n[gi] / total_n, g_model[gi] / g_n[gi], g_stage[gi] / g_n[gi]);
  }
  if (activity) {
    const char* names[kBuckets] = {"0", "1-2", "3-5", "6-11", "12-23", "24-47", "48+"};
    double all = 0;
    for (double v : b_n) all += v;
    std::printf("activity  share  model_bpsp  stage_bpsp  model_share_of_bits\n");
    double mall = 0;
    for (double v : b_model) mall += v;
    for (int b = 0; b < kBuckets; ++b)
      if (b_n[b] > 0)
        std::printf("%-8s %6.1f%%  %9.4f  %9.4f  %6.1f%%\n", names[b], 100 * b_n[b] / all, b_model[b] / b_n[b],
                    b_stage[b] / b_n[b], 100 * b_model[b] / mall);
  }
  return 0;
}
