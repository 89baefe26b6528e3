// Issue 22: the batched integer kernels (scalar reference against Highway SIMD, G multiply-adds
// per second), the sequential part of decoding per subpixel (mixture CDF and range decoder), and
// whole-image coding with the default model local-pixelcnn-rgb in the wavefront layout (the
// pipeline of wavefront.cpp), 1 and 2 threads (seconds per 768x512 image: read the Time column,
// real time; the CPU column counts the main thread only).
//
//   ./bench/pixelzip_bench_wavefront --benchmark_min_time=1
//   PIXELZIP_BENCH_IMAGE=photo.png ./bench/pixelzip_bench_wavefront --benchmark_filter=Image
//
// Without PIXELZIP_BENCH_IMAGE the image is a synthetic 768x512 RGB picture (smooth gradients,
// edges and noise); with it, the top-left 768x512 (or less) of that PNG/PNM. State the machine
// and whether it was idle when quoting numbers.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "adaptive/stage.h"
#include "entropy/range_coder.h"
#include "formats/image_io.h"
#include "models/nn/arch/local_pixelcnn/batch_engine.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"
#include "models/nn/runtime/int_simd.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/registry.h"
#include "pixelzip/codec.h"

namespace {

using namespace pixelzip;
using namespace pixelzip::models::nn;
using pixelzip::models::kSymbols;
using pixelzip::models::PlaneView;
using pixelzip::models::SubpixelCdf;

IntLinear RandomLayer(int out, int in) {
  std::mt19937_64 rng(7);
  IntLinear l;
  l.out = out;
  l.in = in;
  std::uniform_int_distribution<int> w(-200, 200);
  for (int i = 0; i < out * in; ++i) l.weight.push_back(int16_t(w(rng)));
  l.bias.assign(size_t(out), 1000);
  l.requant.assign(size_t(out), Requant{20000, 24});
  return l;
}

// Args: out, in, rows, kernel (0 scalar, 1 SIMD).
void BM_LinearRows(benchmark::State& state) {
  const int out = int(state.range(0)), in = int(state.range(1)), rows = int(state.range(2));
  const KernelKind kind = state.range(3) ? KernelKind::kSimd : KernelKind::kScalar;
  const IntLinear layer = RandomLayer(out, in);
  const PackedLinear packed(layer);
  const size_t stride = size_t(packed.in_pairs) * 2;
  std::vector<int16_t> a(size_t(rows) * stride), o(size_t(rows) * out);
  std::mt19937_64 rng(3);
  for (auto& v : a) v = int16_t(int(rng() % 4095) - 2047);
  for (auto _ : state) {
    LinearRows(packed, a.data(), stride, size_t(rows), o.data(), size_t(out), kind);
    benchmark::DoNotOptimize(o.data());
  }
  const double macs = double(out) * in * rows;
  state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(kind == KernelKind::kSimd ? "simd " + SimdTargetName() : "scalar");
}
BENCHMARK(BM_LinearRows)
    ->Args({192, 96, 64, 0})->Args({192, 96, 64, 1})
    ->Args({96, 192, 64, 0})->Args({96, 192, 64, 1})
    ->Args({96, 183, 64, 0})->Args({96, 183, 64, 1})
    ->Args({192, 96, 1, 0})->Args({192, 96, 1, 1});

Image BenchImage() {
  if (const char* path = std::getenv("PIXELZIP_BENCH_IMAGE")) {
    const Image full = ReadImageFile(path);
    Image crop;
    crop.width = std::min<uint32_t>(768, full.width);
    crop.height = std::min<uint32_t>(512, full.height);
    crop.channels = 3;
    crop.pixels.resize(size_t(crop.width) * crop.height * 3);
    for (uint32_t y = 0; y < crop.height; ++y)
      for (uint32_t x = 0; x < crop.width; ++x)
        for (uint32_t c = 0; c < 3; ++c)
          crop.pixels[(size_t(y) * crop.width + x) * 3 + c] =
              full.pixels[(size_t(y) * full.width + x) * full.channels + (full.channels >= 3 ? c : 0)];
    return crop;
  }
  Image img;
  img.width = 768;
  img.height = 512;
  img.channels = 3;
  img.pixels.resize(size_t(768) * 512 * 3);
  std::mt19937_64 rng(1);
  for (uint32_t y = 0; y < 512; ++y)
    for (uint32_t x = 0; x < 768; ++x)
      for (uint32_t c = 0; c < 3; ++c) {
        int v = int((x / 3 + y / 2) * (c + 1)) % 256 + ((x / 97 + y / 61) % 2 ? 40 : 0) + int(rng() % 9);
        img.pixels[(size_t(y) * 768 + x) * 3 + c] = uint8_t(std::clamp(v, 0, 255));
      }
  return img;
}

const Image& TheImage() {
  static const Image image = BenchImage();
  return image;
}

// The shipped raster model's parameters for the first 8 rows of TheImage(), pixels in raster
// order: what the sequential-part benchmarks decode.
struct FirstRows {
  const IntLocalPixelCnn* model = nullptr;
  int width = 0, rows = 0, params_per_pixel = 0;
  std::vector<PixelPos> px;
  std::vector<int16_t> params;  // params_per_pixel per pixel of px
};
const FirstRows& TheFirstRows() {
  static const FirstRows rows = [] {
    static const auto opened = models::OpenModel("local-pixelcnn-rgb", Device::kCpu);
    const IntLocalPixelCnn& m = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get())->model();
    const Image& img = TheImage();
    FirstRows r;
    r.model = &m;
    r.width = int(img.width);
    r.rows = std::min(8, int(img.height));
    r.params_per_pixel = m.shape.ParamCount();
    PlaneView view{img.width, img.height, 3, const_cast<uint8_t*>(img.pixels.data())};
    const LocalBatchEngine engine(m, KernelKind::kSimd);
    const PaddedPlane plane = ToPaddedPlane(view, engine.Reach());
    for (int y = 0; y < r.rows; ++y)
      for (int x = 0; x < r.width; ++x) r.px.push_back({y, x});
    r.params.resize(r.px.size() * size_t(r.params_per_pixel));
    LocalBatchEngine::Workspace ws;
    engine.Evaluate(plane, r.px.data(), r.px.size(), r.params.data(), ws);
    return r;
  }();
  return rows;
}

// The sequential part of decoding, per subpixel: MixtureCdf::Prepare and the range decoder's search
// (about 9 CDF evaluations), on the parameters the shipped model gives the first 8 rows of the image.
// (A SIMD mixture CDF, components in vector lanes, measured slower here: 557 against 494 ns per
// subpixel, CPU time under load; the search's CDF evaluations depend on one another.)
void BM_MixtureCdfDecode(benchmark::State& state) {
  const FirstRows& first = TheFirstRows();
  const IntLocalPixelCnn& m = *first.model;
  const Image& img = TheImage();
  const int W = first.width, C = 3, P = first.params_per_pixel;
  const std::vector<PixelPos>& px = first.px;
  const std::vector<int16_t>& params = first.params;
  entropy::RangeEncoder enc;
  MixtureCdf cdf(m.tables, C, m.shape.mixtures);
  int32_t prev[3];
  for (size_t i = 0; i < px.size(); ++i)
    for (int c = 0; c < C; ++c) {
      cdf.Prepare(&params[i * size_t(P)], c, prev);
      const int v = img.pixels[(size_t(px[i].y) * W + size_t(px[i].x)) * 3 + size_t(c)];
      enc.Encode(cdf.At(v), cdf.At(v + 1) - cdf.At(v));
      prev[c] = 2 * v - 255;
    }
  const std::vector<uint8_t> stream = enc.Finish();
  for (auto _ : state) {
    entropy::RangeDecoder dec(stream.data(), stream.size());
    for (size_t i = 0; i < px.size(); ++i)
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(&params[i * size_t(P)], c, prev);
        const SubpixelCdf& base = cdf;
        const int v = dec.DecodeWithCallable([&](int e) { return base.At(e); }, kSymbols);
        prev[c] = 2 * v - 255;
      }
    benchmark::DoNotOptimize(prev);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(px.size()) * C);
  state.SetLabel("per subpixel");
}
BENCHMARK(BM_MixtureCdfDecode);

// The same sequential part through the adaptive stage (arg: its kind, 1 the default, 2 the light
// stage; arg 2: 1 AVX2 where the CPU has it, 0 the scalar path): MixtureCdf::Prepare, the stage's
// CDF evaluations and decisions and the range decoder's DecodeBit, per subpixel, on the same
// parameters. Against BM_MixtureCdfDecode: the stage's cost on the decoding (consumer) thread.
void BM_StageMixtureCdfDecode(benchmark::State& state) {
  const FirstRows& first = TheFirstRows();
  const IntLocalPixelCnn& m = *first.model;
  const Image& img = TheImage();
  const int W = first.width, rows = first.rows, C = 3, P = first.params_per_pixel;
  const std::vector<PixelPos>& px = first.px;
  const std::vector<int16_t>& params = first.params;
  adaptive::StageParams sp;
  sp.kind = uint8_t(state.range(0));
  const bool simd = state.range(1) != 0;
  MixtureCdf cdf(m.tables, C, m.shape.mixtures);
  const SubpixelCdf& base = cdf;
  const auto at = [&base](int e) { return base.At(e); };
  int32_t prev[3];
  std::vector<uint8_t> stream;
  {
    adaptive::Stage stage(sp, uint32_t(W), uint32_t(rows), 3);
    if (stage.SetSimd(simd) != simd) {
      state.SkipWithError("this CPU has no AVX2 path");
      return;
    }
    entropy::RangeEncoder enc;
    for (size_t i = 0; i < px.size(); ++i)
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(&params[i * size_t(P)], c, prev);
        const int v = img.pixels[(size_t(px[i].y) * W + size_t(px[i].x)) * 3 + size_t(c)];
        stage.Code(at, [&](int lo, int hi, uint32_t p1) {
          const int bit = lo <= v && v < hi ? 1 : 0;
          enc.EncodeBit(bit, adaptive::kTotal - p1);
          return bit;
        });
        prev[c] = 2 * v - 255;
      }
    stream = enc.Finish();
  }
  for (auto _ : state) {
    state.PauseTiming();
    auto stage = std::make_unique<adaptive::Stage>(sp, uint32_t(W), uint32_t(rows), 3);
    stage->SetSimd(simd);
    state.ResumeTiming();
    entropy::RangeDecoder dec(stream.data(), stream.size());
    for (size_t i = 0; i < px.size(); ++i)
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(&params[i * size_t(P)], c, prev);
        const int v = stage->Code(at, [&](int, int, uint32_t p1) { return dec.DecodeBit(adaptive::kTotal - p1); });
        prev[c] = 2 * v - 255;
      }
    benchmark::DoNotOptimize(prev);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(px.size()) * C);
  state.SetLabel("per subpixel");
}
BENCHMARK(BM_StageMixtureCdfDecode)->Args({1, 1})->Args({1, 0})->Args({2, 1})->Args({3, 1});

void SetThreads(int threads) { setenv("PIXELZIP_THREADS", std::to_string(threads).c_str(), 1); }

// Args: threads, adaptive stage (0: the model alone, 1: the default stage).
void BM_ImageEncodeWavefront(benchmark::State& state) {
  SetThreads(int(state.range(0)));
  EncodeOptions options;
  options.model = "local-pixelcnn-rgb";
  options.layout = Layout::kWavefront;
  options.adaptive = state.range(1) != 0;
  size_t bytes = 0;
  for (auto _ : state) bytes = Encode(TheImage(), options).stream.size();
  state.counters["bpsp"] = double(bytes) * 8.0 / double(TheImage().pixels.size());
  state.SetLabel(std::to_string(TheImage().width) + "x" + std::to_string(TheImage().height) + " " + SimdTargetName());
}
BENCHMARK(BM_ImageEncodeWavefront)
    ->Args({1, 0})->Args({2, 0})->Args({1, 1})->Args({2, 1})
    ->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

// Args: threads, adaptive stage (0: the model alone, 1: the default stage, 2: the light stage).
// "Time" is wall time, "CPU" the process's CPU time (every thread); the stage's share of the
// decode time is 1 - time(stage 0) / time(stage 1) on the same thread count.
void BM_ImageDecodeWavefront(benchmark::State& state) {
  SetThreads(2);
  EncodeOptions options;
  options.model = "local-pixelcnn-rgb";
  options.layout = Layout::kWavefront;
  options.adaptive = state.range(1) != 0;
  if (state.range(1) != 0) options.adaptive_kind = uint8_t(state.range(1));
  const std::vector<uint8_t> stream = Encode(TheImage(), options).stream;
  SetThreads(int(state.range(0)));
  for (auto _ : state) {
    const Image out = Decode(stream);
    if (out.pixels != TheImage().pixels) state.SkipWithError("decoded image differs");
  }
  state.counters["bpsp"] = double(stream.size()) * 8.0 / double(TheImage().pixels.size());
  state.SetLabel(std::to_string(TheImage().width) + "x" + std::to_string(TheImage().height) + " " + SimdTargetName());
}
BENCHMARK(BM_ImageDecodeWavefront)
    ->Args({1, 0})->Args({2, 0})->Args({1, 1})->Args({2, 1})->Args({2, 2})
    ->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime()->MeasureProcessCPUTime();

// Existing (raster layout, version 1.0) streams: one network step per pixel, SIMD kernels, one thread.
void BM_ImageDecodeRasterLayout(benchmark::State& state) {
  SetThreads(2);
  EncodeOptions options;
  options.model = "local-pixelcnn-rgb";
  options.layout = Layout::kRaster;
  const std::vector<uint8_t> stream = Encode(TheImage(), options).stream;
  for (auto _ : state) {
    const Image out = Decode(stream);
    if (out.pixels != TheImage().pixels) state.SkipWithError("decoded image differs");
  }
  state.counters["bpsp"] = double(stream.size()) * 8.0 / double(TheImage().pixels.size());
  state.SetLabel(std::to_string(TheImage().width) + "x" + std::to_string(TheImage().height) + " " + SimdTargetName());
}
BENCHMARK(BM_ImageDecodeRasterLayout)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
