// Range coder throughput (entropy/range_coder.h), in symbols per second on one core.
//
// Messages of 2^20 symbols over 256 symbols, each position with its own table drawn
// from 64 random distributions, so that branch predictors cannot learn one table.
// Symbols are sampled with the distribution's own probabilities, as real coding
// would see them. Two kinds of distributions (the benchmark argument):
//   0 peaked: two-sided geometric around a random centre, like a pixel predictor's
//     (about 5 bits per symbol);
//   1 random: independent random frequencies (about 7.7 bits per symbol).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "entropy/range_coder.h"

namespace {

using pixelzip::entropy::CdfFunction;
using pixelzip::entropy::kTotal;
using pixelzip::entropy::RangeDecoder;
using pixelzip::entropy::RangeEncoder;

constexpr int kSymbols = 256;
constexpr int kTables = 64;
constexpr size_t kMessageLength = size_t{1} << 20;

uint64_t NextRandom(uint64_t& state) {  // SplitMix64
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Workload {
  std::vector<std::vector<uint32_t>> tables;  // kSymbols + 1 entries each
  std::vector<uint8_t> table_index;
  std::vector<int> symbols;
  std::vector<uint8_t> stream;

  const uint32_t* TableAt(size_t i) const { return tables[table_index[i]].data(); }
};

enum Distribution { kPeaked = 0, kRandom = 1 };

Workload MakeWorkload(Distribution distribution) {
  Workload w;
  uint64_t rng = 12345;
  for (int t = 0; t < kTables; ++t) {
    const int centre = static_cast<int>(NextRandom(rng) % kSymbols);
    const int spread = 1 + static_cast<int>(NextRandom(rng) % 8);
    std::vector<uint64_t> weight(kSymbols);
    uint64_t total = 0;
    for (int s = 0; s < kSymbols; ++s) {
      if (distribution == kPeaked) {
        const int distance = std::abs(s - centre) / spread;
        weight[s] = distance >= 30 ? 0 : (uint64_t{1} << 30) >> distance;
      } else {
        weight[s] = NextRandom(rng) % (1u << 20);
      }
      total += weight[s];
    }
    std::vector<uint32_t> cdf(kSymbols + 1, 0);
    uint32_t used = kSymbols;
    for (int s = 0; s < kSymbols; ++s) {
      const uint32_t freq = 1 + static_cast<uint32_t>(weight[s] * (kTotal - kSymbols) / total);
      cdf[s + 1] = cdf[s] + freq;
      used += freq - 1;
    }
    for (int s = centre + 1; s <= kSymbols; ++s) cdf[s] += kTotal - used;  // remainder to one symbol
    w.tables.push_back(cdf);
  }
  RangeEncoder encoder;
  for (size_t i = 0; i < kMessageLength; ++i) {
    const uint8_t t = static_cast<uint8_t>(NextRandom(rng) % kTables);
    const std::vector<uint32_t>& cdf = w.tables[t];
    const uint32_t u = static_cast<uint32_t>(NextRandom(rng) % kTotal);
    const int s = static_cast<int>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()) - 1;
    w.table_index.push_back(t);
    w.symbols.push_back(s);
    encoder.EncodeWithTable(cdf.data(), kSymbols, s);
  }
  w.stream = encoder.Finish();
  return w;
}

const Workload& GetWorkload(const benchmark::State& state) {
  static const Workload peaked = MakeWorkload(kPeaked);
  static const Workload random = MakeWorkload(kRandom);
  return state.range(0) == kPeaked ? peaked : random;
}

void Report(benchmark::State& state, const Workload& w) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMessageLength));
  state.SetLabel(state.range(0) == kPeaked ? "peaked" : "random");
  state.counters["bits/symbol"] = 8.0 * w.stream.size() / kMessageLength;
}

// Encodes the workload's message, symbol i with encode_one(encoder, its table, symbol); a template, so
// that each coder entry point is inlined into its own loop.
template <class EncodeOne>
void EncodeMessage(benchmark::State& state, EncodeOne encode_one) {
  const Workload& w = GetWorkload(state);
  for (auto _ : state) {
    RangeEncoder encoder;
    for (size_t i = 0; i < kMessageLength; ++i) encode_one(encoder, w.TableAt(i), w.symbols[i]);
    benchmark::DoNotOptimize(encoder.Finish());
  }
  Report(state, w);
}

// Decodes the workload's stream, symbol i with decode_one(decoder, its table).
template <class DecodeOne>
void DecodeMessage(benchmark::State& state, DecodeOne decode_one) {
  const Workload& w = GetWorkload(state);
  for (auto _ : state) {
    RangeDecoder decoder(w.stream.data(), w.stream.size());
    int checksum = 0;
    for (size_t i = 0; i < kMessageLength; ++i) checksum += decode_one(decoder, w.TableAt(i));
    benchmark::DoNotOptimize(checksum);
    if (!decoder.AtCleanEnd()) state.SkipWithError("decode mismatch");
  }
  Report(state, w);
}

void BM_EncodeTable(benchmark::State& state) {
  EncodeMessage(state, [](RangeEncoder& e, const uint32_t* cdf, int s) { e.EncodeWithTable(cdf, kSymbols, s); });
}

void BM_DecodeTable(benchmark::State& state) {
  DecodeMessage(state, [](RangeDecoder& d, const uint32_t* cdf) { return d.DecodeWithTable(cdf, kSymbols); });
}

void BM_EncodeFunction(benchmark::State& state) {
  EncodeMessage(state, [](RangeEncoder& e, const uint32_t* cdf, int s) {
    e.EncodeWithFunction([cdf](int edge) { return cdf[edge]; }, kSymbols, s);
  });
}

// std::function, as the declared API takes it.
void BM_DecodeFunction(benchmark::State& state) {
  DecodeMessage(state, [](RangeDecoder& d, const uint32_t* cdf) {
    const CdfFunction function = [cdf](int edge) { return cdf[edge]; };
    return d.DecodeWithFunction(function, kSymbols);
  });
}

// Any callable, inlined into the search (no std::function).
void BM_DecodeCallable(benchmark::State& state) {
  DecodeMessage(state, [](RangeDecoder& d, const uint32_t* cdf) {
    return d.DecodeWithCallable([cdf](int edge) { return cdf[edge]; }, kSymbols);
  });
}

// Binary decisions: a random probability of zero per position, bits drawn with it.
struct BitWorkload {
  std::vector<uint32_t> freq_zero;
  std::vector<uint8_t> bits;
  BitWorkload() : freq_zero(kMessageLength), bits(kMessageLength) {
    uint64_t rng = 99;
    for (size_t i = 0; i < kMessageLength; ++i) {
      freq_zero[i] = 1 + static_cast<uint32_t>(NextRandom(rng) % (kTotal - 1));
      bits[i] = NextRandom(rng) % kTotal >= freq_zero[i];
    }
  }
};

void BM_EncodeBit(benchmark::State& state) {
  const BitWorkload w;
  for (auto _ : state) {
    RangeEncoder encoder;
    for (size_t i = 0; i < kMessageLength; ++i) encoder.EncodeBit(w.bits[i], w.freq_zero[i]);
    benchmark::DoNotOptimize(encoder.Finish());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMessageLength));
}

void BM_DecodeBit(benchmark::State& state) {
  const BitWorkload w;
  RangeEncoder encoder;
  for (size_t i = 0; i < kMessageLength; ++i) encoder.EncodeBit(w.bits[i], w.freq_zero[i]);
  const std::vector<uint8_t> stream = encoder.Finish();
  const int ones = static_cast<int>(std::count(w.bits.begin(), w.bits.end(), 1));
  for (auto _ : state) {
    RangeDecoder decoder(stream.data(), stream.size());
    int checksum = 0;
    for (size_t i = 0; i < kMessageLength; ++i) checksum += decoder.DecodeBit(w.freq_zero[i]);
    benchmark::DoNotOptimize(checksum);
    if (checksum != ones) state.SkipWithError("decode mismatch");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMessageLength));
}

BENCHMARK(BM_EncodeTable)->Arg(kPeaked)->Arg(kRandom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeTable)->Arg(kPeaked)->Arg(kRandom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeFunction)->Arg(kPeaked)->Arg(kRandom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeFunction)->Arg(kPeaked)->Arg(kRandom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeCallable)->Arg(kPeaked)->Arg(kRandom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeBit)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeBit)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
