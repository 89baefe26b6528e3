// Not a benchmark: where the bits go (issue 21, part 1). Two modes.
//
//   pixelzip_adaptive_costmap map [block=B] [scale=S] [out=PREFIX] [png=FILE.png] [top=1]
//                                 [model=NAME] [indices=1] [mixer_rate=R] [apm_rate=A] SOURCE
//     SOURCE: png FILE X Y W H | synth NAME W H SEED [grey] | const V W H [grey]
//   Runs the default raster model once over the image (raster order, as adaptive_dump) and
//   passes every subpixel through the adaptive stage, kind 1 and kind 2 side by side (the
//   codec's default parameters, raster positions). Prints bits per subpixel (ideal code
//   lengths, no header) of the model alone, kind 1 and kind 2, the bits by local activity
//   (as adaptive_sim activity=1) and, with top=1 (slow: 256 CDF evaluations per subpixel), the
//   model's largest symbol probability (mean and largest). With out=PREFIX writes PREFIX.png: three
//   cost maps side by side (model | kind 1 | kind 2), bits per subpixel averaged over BxB
//   blocks (block=1: per pixel; use 8 or 16 for photographs, so that no pixel of the photo is
//   in the map), each block drawn as SxS pixels, on the colour scale of ColourOf. png=FILE
//   writes the image itself (level 9), for the other codecs (never for photos in the repo).
//   model=NAME codes with another model (e.g. order0-adaptive); indices=1 replaces the image by
//   the palette coding's index plane (codec::FindPalette order, one channel), so that with
//   model=order0-adaptive kind 1 is the palette coding's index stream; mixer_rate and apm_rate
//   set both stages' parameters.
//
//   pixelzip_adaptive_costmap head MODEL.pxzm
//   The certainty the shipped local-pixelcnn head can express: the log-scale range of the
//   CDF, the lowest log scale the head layer can output (its bias plus the most negative
//   weighted sum over the head LUT's range), the largest mass one bin then holds and the
//   largest CDF frequency; and the parameters it outputs on perfectly flat images.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "adaptive/stage.h"
#include "codec/fallback.h"
#include "formats/image_io.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/runtime/qplane.h"
#include "models/registry.h"
#include "tests/adaptive/synthetic_images.h"

namespace {
using namespace pixelzip;

constexpr int kBuckets = 7;  // activity 0, 1-2, 3-5, 6-11, 12-23, 24-47, 48+ (as adaptive_sim)
const char* const kBucketNames[kBuckets] = {"0", "1-2", "3-5", "6-11", "12-23", "24-47", "48+"};

class CostSink final : public models::SymbolSink {
 public:
  CostSink(const Image& im, adaptive::Stage& k1, adaptive::Stage& k2, bool top) : top_(top), k1_(k1), k2_(k2) {
    (void)im;
    const size_t n = im.SubpixelCount();
    bits[0].resize(n);
    bits[1].resize(n);
    bits[2].resize(n);
  }
  void Put(const models::SymbolPosition& at, const models::SubpixelCdf& cdf, int symbol) override {
    const adaptive::Position where =
        at.pixel ? adaptive::Position::At(at.y, at.x, at.channel, at.scale, at.group) : adaptive::Position{};
    const uint32_t freq = cdf.At(symbol + 1) - cdf.At(symbol);
    bits[0][index_] = 16 - std::log2(double(freq));
    if (top_) {  // 256 CDF evaluations: slow
      uint32_t top = 0;
      for (int s = 0; s < 256; ++s) top = std::max(top, cdf.At(s + 1) - cdf.At(s));
      top_sum += top;
      max_top = std::max(max_top, top);
    }
    adaptive::Stage* stages[2] = {&k1_, &k2_};
    for (int k = 0; k < 2; ++k) {
      double b = 0;
      stages[k]->Code(where, [&cdf](int e) { return cdf.At(e); }, [&](int lo, int hi, uint32_t p1) {
        const int bit = (lo <= symbol && symbol < hi) ? 1 : 0;
        const uint32_t p = bit ? p1 : adaptive::kTotal - p1;
        b += 16 - std::log2(double(p));
        ++decisions[k];
        if (p == adaptive::kTotal - 1) ++capped[k];  // the coder's most certain decision
        return bit;
      });
      bits[k + 1][index_] = b;
    }
    ++index_;
  }
  std::vector<double> bits[3];  // model, kind 1, kind 2, per subpixel in raster order
  double top_sum = 0, decisions[2] = {}, capped[2] = {};
  uint32_t max_top = 0;

 private:
  bool top_;
  adaptive::Stage& k1_;
  adaptive::Stage& k2_;
  size_t index_ = 0;
};

// Bits per subpixel -> colour: white at 0, through yellow (0.25), orange (1), red (2.5) and
// purple (5) to near black at 8 and above (anchors interpolated in log2(1 + 4 b)).
void ColourOf(double b, uint8_t rgb[3]) {
  static const double at[] = {0, 0.25, 1, 2.5, 5, 8};
  static const uint8_t col[][3] = {{255, 255, 255}, {255, 236, 140}, {250, 160, 50}, {210, 50, 40}, {110, 20, 90}, {20, 0, 30}};
  const auto f = [](double v) { return std::log2(1 + 4 * v); };
  const double x = f(std::max(0.0, b));
  int j = 0;
  while (j < 4 && x > f(at[j + 1])) ++j;
  double t = (x - f(at[j])) / (f(at[j + 1]) - f(at[j]));
  t = std::clamp(t, 0.0, 1.0);
  for (int c = 0; c < 3; ++c) rgb[c] = uint8_t(std::lround(col[j][c] + t * (col[j + 1][c] - col[j][c])));
}

Image MakeSource(int argc, char** argv, int i) {
  const std::string kind = argv[i];
  if (kind == "png" && argc >= i + 6) {
    const Image full = ReadImageFile(argv[i + 1]);
    const uint32_t x0 = std::stoul(argv[i + 2]), y0 = std::stoul(argv[i + 3]), w = std::stoul(argv[i + 4]),
                   h = std::stoul(argv[i + 5]);
    if (uint64_t{x0} + w > full.width || uint64_t{y0} + h > full.height) throw std::runtime_error("crop outside the image");
    const uint32_t c = full.channels >= 3 ? 3 : 1;
    Image im = synthetic::Blank(w, h, c, 0);
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x)
        for (uint32_t k = 0; k < c; ++k) im.at(y, x, k) = full.at(y0 + y, x0 + x, k);
    return im;
  }
  if (kind == "synth" && argc >= i + 5) {
    const bool grey = argc >= i + 6 && std::string(argv[i + 5]) == "grey";
    return synthetic::Make(argv[i + 1], std::stoul(argv[i + 2]), std::stoul(argv[i + 3]), grey ? 1 : 3,
                           std::stoull(argv[i + 4]));
  }
  if (kind == "const" && argc >= i + 4) {
    const bool grey = argc >= i + 5 && std::string(argv[i + 4]) == "grey";
    return synthetic::Blank(std::stoul(argv[i + 2]), std::stoul(argv[i + 3]), grey ? 1 : 3, uint8_t(std::stoul(argv[i + 1])));
  }
  throw std::runtime_error("bad SOURCE: png FILE X Y W H | synth NAME W H SEED [grey] | const V W H [grey]");
}

int Map(int argc, char** argv) {
  int block = 1, scale = 1, mixer_rate = 0, apm_rate = 0;
  bool top = false, indices = false;
  std::string model_name = "default";
  std::string out, png;
  int i = 2;
  for (; i < argc && std::strchr(argv[i], '='); ++i) {
    const std::string a = argv[i];
    const std::string k = a.substr(0, a.find('=')), v = a.substr(a.find('=') + 1);
    if (k == "block") block = std::max(1, std::stoi(v));
    else if (k == "scale") scale = std::max(1, std::stoi(v));
    else if (k == "out") out = v;
    else if (k == "png") png = v;
    else if (k == "top") top = v != "0";
    else if (k == "model") model_name = v;
    else if (k == "indices") indices = v != "0";
    else if (k == "mixer_rate") mixer_rate = std::stoi(v);
    else if (k == "apm_rate") apm_rate = std::stoi(v);
    else throw std::runtime_error("unknown key " + k);
  }
  if (i >= argc) throw std::runtime_error("no SOURCE");
  Image im = MakeSource(argc, argv, i);
  if (!png.empty()) {
    const std::vector<uint8_t> bytes = EncodePng(im, 9);
    std::FILE* f = std::fopen(png.c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) throw std::runtime_error("cannot write " + png);
    std::fclose(f);
  }
  if (indices) {  // the palette coding's index plane (codec/fallback.h): one channel, palette order
    const auto palette = codec::FindPalette(im);
    if (!palette) throw std::runtime_error("more than 256 distinct pixels: no index plane");
    const uint32_t c = im.channels, n = uint32_t(palette->size() / c);
    Image plane = synthetic::Blank(im.width, im.height, 1, 0);
    for (size_t i = 0; i < size_t{im.width} * im.height; ++i)
      for (uint32_t j = 0; j < n; ++j)
        if (std::equal(&im.pixels[i * c], &im.pixels[i * c] + c, &(*palette)[size_t{j} * c])) {
          plane.pixels[i] = uint8_t(j);
          break;
        }
    im = std::move(plane);
  }
  const auto model = models::ResolveModel(model_name, Order::kRaster, im.channels, Device::kCpu);
  adaptive::StageParams p1, p2;  // the codec's defaults, raster positions
  p1.kind = 1;
  p2.kind = 2;
  if (mixer_rate > 0) p1.mixer_rate = p2.mixer_rate = uint8_t(mixer_rate);
  if (apm_rate > 0) p1.apm_rate = p2.apm_rate = uint8_t(apm_rate);
  adaptive::Stage k1(p1, im.width, im.height, im.channels), k2(p2, im.width, im.height, im.channels);
  CostSink sink(im, k1, k2, top);
  models::PlaneView view;
  view.width = im.width;
  view.height = im.height;
  view.channels = im.channels;
  view.data = im.pixels.data();
  model->Encode(view, sink, {});

  const uint32_t W = im.width, H = im.height, C = im.channels;
  const double n = double(im.SubpixelCount());
  double total[3] = {};
  for (int k = 0; k < 3; ++k)
    for (double b : sink.bits[k]) total[k] += b;
  std::printf("%s %ux%ux%u: model %.4f kind1 %.4f kind2 %.4f bits/subpixel; decisions/subpixel kind1 %.2f kind2 %.2f\n",
              argv[i], W, H, C, total[0] / n, total[1] / n, total[2] / n, sink.decisions[0] / n, sink.decisions[1] / n);
  std::printf("  total bits: model %.1f kind1 %.1f kind2 %.1f; per subpixel kind1 %.3e kind2 %.3e\n", total[0], total[1],
              total[2], total[1] / n, total[2] / n);
  // Decisions coded at the cap p = (2^16 - 1) / 2^16 (2.2e-5 bits each): what a wider total would save at most.
  const double cap_bits = 16 - std::log2(65535.0);
  std::printf("  decisions at the 2^16 - 1 cap: kind1 %.1f%% (%.1f bits), kind2 %.1f%% (%.1f bits)\n",
              100 * sink.capped[0] / std::max(1.0, sink.decisions[0]), sink.capped[0] * cap_bits,
              100 * sink.capped[1] / std::max(1.0, sink.decisions[1]), sink.capped[1] * cap_bits);
  if (top)
    std::printf("  model: mean largest symbol probability %.5f, largest %.5f (%u / 65536, %.4f bits)\n",
                sink.top_sum / n / 65536, sink.max_top / 65536.0, sink.max_top, 16 - std::log2(double(sink.max_top)));
  // By local activity |W - NW| + |N - NW| + |NE - N|, same channel, pixels off the left, right and top edge.
  double bn[kBuckets] = {}, bb[3][kBuckets] = {};
  for (uint32_t y = 1; y < H; ++y)
    for (uint32_t x = 1; x + 1 < W; ++x)
      for (uint32_t c = 0; c < C; ++c) {
        const auto px = [&](uint32_t yy, uint32_t xx) { return int(im.at(yy, xx, c)); };
        const int a = std::abs(px(y, x - 1) - px(y - 1, x - 1)) + std::abs(px(y - 1, x) - px(y - 1, x - 1)) +
                      std::abs(px(y - 1, x + 1) - px(y - 1, x));
        const int b = a == 0 ? 0 : a <= 2 ? 1 : a <= 5 ? 2 : a <= 11 ? 3 : a <= 23 ? 4 : a <= 47 ? 5 : 6;
        const size_t s = (size_t{y} * W + x) * C + c;
        bn[b] += 1;
        for (int k = 0; k < 3; ++k) bb[k][b] += sink.bits[k][s];
      }
  double all = 0, mall = 0;
  for (int b = 0; b < kBuckets; ++b) all += bn[b], mall += bb[0][b];
  std::printf("  activity  share   model   kind1   kind2  model_share_of_bits\n");
  for (int b = 0; b < kBuckets; ++b)
    if (bn[b] > 0)
      std::printf("  %-8s %6.1f%% %7.4f %7.4f %7.4f %6.1f%%\n", kBucketNames[b], 100 * bn[b] / all, bb[0][b] / bn[b],
                  bb[1][b] / bn[b], bb[2][b] / bn[b], 100 * bb[0][b] / mall);
  if (out.empty()) return 0;
  // The maps: blocks of block x block pixels (partial blocks at the edges averaged over what
  // they hold), each drawn scale x scale, three maps with a 4-pixel white gap.
  const uint32_t bw = (W + block - 1) / block, bh = (H + block - 1) / block, gap = 4;
  Image map = synthetic::Blank(3 * bw * scale + 2 * gap, bh * scale, 3, 255);
  for (int k = 0; k < 3; ++k)
    for (uint32_t by = 0; by < bh; ++by)
      for (uint32_t bx = 0; bx < bw; ++bx) {
        double sum = 0, cnt = 0;
        for (uint32_t y = by * block; y < std::min(H, (by + 1) * block); ++y)
          for (uint32_t x = bx * block; x < std::min(W, (bx + 1) * block); ++x)
            for (uint32_t c = 0; c < C; ++c) sum += sink.bits[k][(size_t{y} * W + x) * C + c], cnt += 1;
        uint8_t rgb[3];
        ColourOf(sum / cnt, rgb);
        for (uint32_t yy = 0; yy < uint32_t(scale); ++yy)
          for (uint32_t xx = 0; xx < uint32_t(scale); ++xx)
            for (int c = 0; c < 3; ++c) map.at(by * scale + yy, k * (bw * scale + gap) + bx * scale + xx, c) = rgb[c];
      }
  const std::vector<uint8_t> bytes = EncodePng(map, 9);
  const std::string path = out + ".png";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) throw std::runtime_error("cannot write " + path);
  std::fclose(f);
  std::printf("  wrote %s (%ux%u blocks of %ux%u pixels)\n", path.c_str(), bw, bh, block, block);
  return 0;
}

int Head(const char* path) {
  using namespace models::nn;
  const ModelFile file = ModelFile::Load(path);
  const IntLocalPixelCnn m = IntLocalPixelCnn::Read(file);
  const auto& s = m.shape;
  const int K = s.mixtures, C = s.channels;
  int16_t amin = 32767, amax = -32768;
  for (int16_t v : m.lut_head.table) amin = std::min(amin, v), amax = std::max(amax, v);
  std::printf("%s: %d channels, %d mixtures, hidden %d, act_bits %d, weight_bits %d\n", path, C, K, s.hidden, s.act_bits,
              s.weight_bits);
  std::printf("head LUT output range [%d, %d]; head output clamp [%d, %d]; CDF log-scale clamp [%d, %d] (/256)\n", amin,
              amax, m.head.lo, m.head.hi, kLogScaleMin, kLogScaleMax);
  // Lowest output of each log-scale row over every input vector in the LUT's range.
  int lowest_all = kLogScaleMax;
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < K; ++k) {
      const int o = K + C * K + c * K + k;
      int64_t lo = m.head.bias[o];
      for (int j = 0; j < m.head.in; ++j) {
        const int64_t w = m.head.weight[size_t(o) * m.head.in + j];
        lo += std::min(w * amin, w * amax);
      }
      const int32_t q = ApplyRequant(lo, m.head.requant[o], m.head.lo, m.head.hi);
      lowest_all = std::min(lowest_all, std::max(q, kLogScaleMin));
      if (k == 0 || c == 0)
        std::printf("  log-scale output channel %d component %d: lowest reachable %d (%.3f)\n", c, k, q, q / 256.0);
    }
  std::printf("lowest log scale any component can reach (after the CDF's clamp): %d (%.3f)\n", lowest_all,
              lowest_all / 256.0);
  // Largest bin mass and frequency: every component at log scale ls, mean at a bin centre.
  MixtureCdf cdf(m.tables, C, K);
  std::vector<int16_t> params(size_t(MixtureParamCountInt(C, K)), 0);
  for (int ls : {kLogScaleMin, lowest_all, -6 * 256, -5 * 256, -4 * 256}) {
    for (int k = 0; k < K; ++k) {
      params[size_t(k)] = 0;                                                   // equal logits
      for (int c = 0; c < C; ++c) params[size_t(K + c * K + k)] = 0;           // mean q = 0: between bins 127 and 128
      for (int c = 0; c < C; ++c) params[size_t(K + C * K + c * K + k)] = int16_t(ls);
    }
    // Mean at the centre of bin 128: q = 1, in q/16 units 16.
    for (int k = 0; k < K; ++k) params[size_t(K + k)] = 16;
    cdf.Prepare(params.data(), 0, nullptr);
    const uint32_t f = cdf.At(129) - cdf.At(128);
    const double s_real = std::exp(ls / 256.0);
    const double half = 1.0 / 255.0 / s_real;  // half a bin in units of the scale
    const double mass = 2 / (1 + std::exp(-half)) - 1;
    std::printf("  log scale %.3f: scale %.3g (in [-1,1] units), one bin holds %.5f of a logistic (%.4f bits); "
                "CDF frequency %u / 65536 = %.5f (%.4f bits)\n",
                ls / 256.0, s_real, mass, -std::log2(mass), f, f / 65536.0, 16 - std::log2(double(f)));
  }
  // What the network outputs on perfectly flat images (a pixel far from the edges).
  for (int v : {0, 64, 128, 200, 255}) {
    const int size = 41;
    QPlane plane = EmptyQPlane(size, size, C);
    for (auto& q : plane.q) q = int16_t(2 * v - 255);
    LocalPixelCnnCpuEngine engine(m);
    std::vector<int16_t> out(size_t(s.ParamCount()));
    engine.Evaluate(plane, 30, 20, out.data());
    int32_t prev[3] = {2 * v - 255, 2 * v - 255, 2 * v - 255};
    std::printf("  flat %3d:", v);
    for (int c = 0; c < C; ++c) {
      cdf.Prepare(out.data(), c, prev);
      const uint32_t f = cdf.At(v + 1) - cdf.At(v);
      int best = 0;
      for (int k = 1; k < K; ++k) if (out[size_t(k)] > out[size_t(best)]) best = k;
      std::printf(" ch%d p=%.4f (%.3f bits), top component log scale %.3f;", c, f / 65536.0,
                  16 - std::log2(double(f)), out[size_t(K + C * K + c * K + best)] / 256.0);
    }
    std::printf("\n");
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::string(argv[1]) == "map") return Map(argc, argv);
    if (argc == 3 && std::string(argv[1]) == "head") return Head(argv[2]);
    std::fprintf(stderr, "usage: pixelzip_adaptive_costmap map [block=B] [scale=S] [out=PREFIX] [png=FILE] [top=1] SOURCE\n"
                         "       pixelzip_adaptive_costmap head MODEL.pxzm\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pixelzip_adaptive_costmap: %s\n", e.what());
    return 1;
  }
}
