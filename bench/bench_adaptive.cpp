// The adaptive stage's cost per subpixel (issue 21): Stage::Code over a synthetic
// stream of model CDFs (a discretised logistic around a drifting mean), with the
// range coder left out (its cost is in bench_entropy). Items = subpixels. The arguments
// are the stage kind (1: 8 MSB-first decisions; 2: the light stage), table_bits and the
// code path (1: AVX2 where the CPU has it, the codec's; 0: the portable scalar path, same
// results); the counter "decisions" is the binary decisions per subpixel. The whole-image
// decode with and without the stage (its share of the decode time) is in bench_wavefront.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "adaptive/stage.h"

namespace {

// 256 integer CDFs of increasing spread, each a valid SubpixelCdf (total 2^16, every symbol >= 1).
std::vector<std::vector<uint32_t>> MakeCdfs() {
  std::vector<std::vector<uint32_t>> cdfs;
  for (int mean = 0; mean < 256; ++mean) {
    std::vector<uint32_t> w(256);
    uint64_t sum = 0;
    for (int s = 0; s < 256; ++s) {
      const int d = s > mean ? s - mean : mean - s;
      w[s] = 1 + (d < 24 ? (24 - d) * (24 - d) * 8 : 0);
      sum += w[s];
    }
    std::vector<uint32_t> cdf(257, 0);
    uint64_t acc = 0;
    for (int s = 0; s < 256; ++s) {
      acc += w[s];
      cdf[s + 1] = static_cast<uint32_t>((acc * (65536 - 256)) / sum) + uint32_t(s + 1);
    }
    cdf[256] = 65536;
    cdfs.push_back(cdf);
  }
  return cdfs;
}

void BM_StageCode(benchmark::State& state) {
  const auto cdfs = MakeCdfs();
  const uint32_t w = 256, h = 256, c = 3;
  std::vector<uint8_t> symbols(size_t{w} * h * c);
  uint32_t r = 1;
  for (size_t i = 0; i < symbols.size(); ++i) {
    r = r * 1103515245u + 12345u;
    symbols[i] = uint8_t(((i / 3) % w + (i / 3 / w)) / 2 + (r >> 28));
  }
  pixelzip::adaptive::StageParams params;
  params.kind = uint8_t(state.range(0));
  params.table_bits = uint8_t(state.range(1));
  size_t i = 0;
  uint64_t decisions = 0;
  const bool simd = state.range(2) != 0;
  auto stage = std::make_unique<pixelzip::adaptive::Stage>(params, w, h, c);
  if (stage->SetSimd(simd) != simd) {
    state.SkipWithError("this CPU has no AVX2 path");
    return;
  }
  uint64_t sink = 0;
  for (auto _ : state) {
    if (i == symbols.size()) {
      state.PauseTiming();
      stage = std::make_unique<pixelzip::adaptive::Stage>(params, w, h, c);
      stage->SetSimd(simd);
      i = 0;
      state.ResumeTiming();
    }
    const int sym = symbols[i];
    const auto& cdf = cdfs[size_t((sym + 3) & 255)];
    sink += uint64_t(stage->Code([&cdf](int e) { return cdf[size_t(e)]; },
                                 [sym, &decisions](int lo, int hi, uint32_t p1) {
                                   ++decisions;
                                   return (lo <= sym && sym < hi ? 1 : 0) + 0 * int(p1);
                                 }));
    ++i;
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  state.counters["decisions"] = benchmark::Counter(double(decisions) / double(state.iterations()));
}
BENCHMARK(BM_StageCode)
    ->Args({1, 16, 1})->Args({1, 16, 0})->Args({1, 12, 1})
    ->Args({2, 16, 1})->Args({2, 16, 0})->Args({2, 14, 1})->Args({2, 12, 1})
    ->Args({3, 16, 1})->Args({3, 16, 0});

}  // namespace

BENCHMARK_MAIN();
