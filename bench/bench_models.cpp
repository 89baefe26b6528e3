// Benchmarks of the exact integer model: one linear layer, the mixture CDF, and
// one incremental decoding step of the shipped default RGB model (or a
// random-weight model of the same shape when none is shipped).
#include <benchmark/benchmark.h>

#include <random>

#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/registry.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"

namespace {
using namespace pixelzip::models::nn;

IntLinear RandomLinear(int out, int in, uint32_t seed) {
  std::mt19937 rng(seed);
  IntLinear l;
  l.out = out;
  l.in = in;
  for (int i = 0; i < out * in; ++i) l.weight.push_back(int16_t(int(rng() % 255) - 127));
  for (int o = 0; o < out; ++o) {
    l.bias.push_back(int32_t(rng() % 1000) - 500);
    l.requant.push_back(RequantFromFactor(1.0 / 256));
  }
  return l;
}

void BM_IntLinear(benchmark::State& state) {
  const int out = int(state.range(0)), in = int(state.range(1));
  auto l = RandomLinear(out, in, 1);
  std::vector<int16_t> x(in), y(out);
  std::mt19937 rng(2);
  for (auto& v : x) v = int16_t(int(rng() % 255) - 127);
  for (auto _ : state) {
    l.Apply(x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in);  // multiply-adds
}
BENCHMARK(BM_IntLinear)->Args({128, 64})->Args({64, 128})->Args({100, 64});

// A mixture CDF (3 channels, 10 mixtures, random parameters from `seed`) prepared for `channel` at every
// step, then handed to use(cdf).
template <class Use>
void MixtureCdfSteps(benchmark::State& state, uint32_t seed, int channel, Use use) {
  const auto tables = MixtureTables::Compute();
  std::mt19937 rng(seed);
  std::vector<int16_t> p(size_t(MixtureParamCountInt(3, 10)));
  for (auto& v : p) v = int16_t(int(rng() % 2001) - 1000);
  MixtureCdf cdf(tables, 3, 10);
  int32_t prev[3] = {10, -20, 0};
  for (auto _ : state) {
    cdf.Prepare(p.data(), channel, prev);
    use(cdf);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_MixtureCdfEncodeSubpixel(benchmark::State& state) {
  int s = 0;
  MixtureCdfSteps(state, 3, 1, [&](const MixtureCdf& cdf) {
    benchmark::DoNotOptimize(cdf.At(s) + cdf.At(s + 1));
    s = (s + 37) & 255;
  });
}
BENCHMARK(BM_MixtureCdfEncodeSubpixel);

void BM_MixtureCdfDecodeSubpixel(benchmark::State& state) {
  uint32_t t = 0;
  MixtureCdfSteps(state, 4, 2, [&](const MixtureCdf& cdf) {
    benchmark::DoNotOptimize(cdf.Find(t));
    t = (t + 7919) & 0xffff;
  });
}
BENCHMARK(BM_MixtureCdfDecodeSubpixel);

// One decoder step of the default RGB model: the network at one pixel.
void BM_DefaultModelPixelStep(benchmark::State& state) {
  auto model = pixelzip::models::ResolveModel("default", pixelzip::Order::kRaster, 3, pixelzip::Device::kCpu);
  auto local = std::dynamic_pointer_cast<const LocalPixelCnnCodingModel>(model);
  if (!local) {
    state.SkipWithError("the default RGB model is not a local-pixelcnn");
    return;
  }
  QPlane plane;
  plane.width = 64;
  plane.height = 64;
  plane.channels = 3;
  std::mt19937 rng(5);
  for (int i = 0; i < 64 * 64 * 3; ++i) plane.q.push_back(int16_t(int(rng() % 511) - 255));
  LocalPixelCnnCpuEngine ev(local->model());
  std::vector<int16_t> params(size_t(local->model().shape.ParamCount()));
  int i = 0;
  for (auto _ : state) {
    ev.Evaluate(plane, 8 + (i / 48) % 48, 8 + i % 48, params.data());
    benchmark::DoNotOptimize(params.data());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DefaultModelPixelStep);

}  // namespace

BENCHMARK_MAIN();
