// Exactness tests of the Local PixelCNN: the fake-quantised training forward,
// the LibTorch integer path and the CPU engine must agree bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "models/nn/arch/local_pixelcnn/exact.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"
#include "models/nn/arch/local_pixelcnn/module.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "entropy/range_coder.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kSmallHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4";
// The same with 10-bit activations after each ELU (int16 LUT entries in the model file).
constexpr const char* kWideHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=10";
// The same with 16-bit weights (int16 weight entries; scales narrowed by the 2^24 bound).
constexpr const char* kWideWeightsHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=10,weight_bits=16";
// 12-bit activations and 16-bit weights (what the shipped default uses).
constexpr const char* kWidestHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=12,weight_bits=16";

auto MakeFixture(int channels, uint64_t seed, const std::string& hyper = kSmallHyper) {
  return MakeExportedNet(
      seed, channels, 16,
      [&] { return LocalPixelCnn(ConfigOf(LocalPixelCnnShape::FromHyper(hyper, channels))); },
      [](LocalPixelCnn& m) { RandomizeBiases(*m, 0.3); },
      [](LocalPixelCnnImpl& m, const std::vector<torch::Tensor>& b) { return CalibrateScales(m, b); },
      [](LocalPixelCnnImpl& m, const LocalQuantScales& s) { return ExportIntModel(m, s); });
}

// Mean absolute error, in real units, of the integer model's mixture parameters against `reference`.
double MeanParamError(const IntLocalPixelCnn& m, const torch::Tensor& q, const torch::Tensor& reference) {
  auto t = TensorsFromInt(m);
  return (ExactForward(t, q) * t.param_scale - reference).abs().mean().item<double>();
}

// The wider model's mixture parameters are nearer the float model's (narrow's float network, the same weights)
// than narrow's integer model: mean absolute error in real units below 3/4 of narrow's, on a random image.
template <class Narrow>
void ExpectCloserToTheFloatModel(const IntLocalPixelCnn& wide, Narrow& narrow, uint64_t seed) {
  auto q = RandomPixels(1, 3, 24, 24, seed);
  torch::NoGradGuard ng;
  auto reference = narrow.model->forward(q);
  EXPECT_LT(MeanParamError(wide, q, reference), 0.75 * MeanParamError(narrow.exported, q, reference));
}

TEST(LocalPixelCnnExact, FakeQuantForwardEqualsIntegerTorchPath) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 7, hyper);
    auto q = RandomPixels(2, channels, 13, 11, 3);
    SCOPED_TRACE(std::to_string(channels) + " channels");
    ExpectFakeEqualsInteger([&](bool ste) { return ExactForward(TensorsFromFloat(*f.model, f.scales, ste), q); },
                            ExactForward(TensorsFromInt(f.exported), q));
  }
}

TEST(LocalPixelCnnExact, TorchBatchedEqualsCpuIncrementalOnOddSizes) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 11, hyper);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 3}, std::pair{13, 17}, std::pair{2, 31}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(h * 100 + w));
      auto bytes = ToBytes(q);
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      LocalPixelCnnCodingModel cpu(f.file_bytes, "test", Device::kCpu);
      LocalPixelCnnCodingModel tch(f.file_bytes, "test", Device::kTorchCpu);
      const QPlane plane = ToQPlane(view);
      const auto a = cpu.BatchedParams(plane, 0, h, Device::kCpu);
      const auto b = tch.BatchedParams(plane, 0, h, Device::kTorchCpu);
      ASSERT_EQ(a, b) << channels << " " << h << "x" << w;
      // Bands of rows (the encoder's unit of work) give the same numbers as the whole image.
      if (h > 3) {
        const auto top = tch.BatchedParams(plane, 0, 3, Device::kTorchCpu);
        const auto rest = tch.BatchedParams(plane, 3, h, Device::kTorchCpu);
        std::vector<int16_t> joined(top);
        joined.insert(joined.end(), rest.begin(), rest.end());
        EXPECT_EQ(joined, b);
      }
      // Incremental: pixel by pixel, later pixels unknown (zeroed) when each is evaluated.
      QPlane partial = plane;
      std::fill(partial.q.begin(), partial.q.end(), 0);
      LocalPixelCnnCpuEngine ev(f.exported);
      const int P = f.exported.shape.ParamCount();
      std::vector<int16_t> params(P);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          ev.Evaluate(partial, y, x, params.data());
          ASSERT_TRUE(std::equal(params.begin(), params.end(), a.begin() + (size_t(y) * w + x) * P));
          for (int c = 0; c < channels; ++c) partial.q[(size_t(y) * w + x) * channels + c] = plane.at(y, x, c);
        }
    }
  }
}

TEST(LocalPixelCnnExact, BatchSizeAndThreadCountDoNotChangeABit) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(3, 5, hyper);
    auto t = TensorsFromInt(f.exported);
    ExpectBatchAndThreadInvariance([&](const torch::Tensor& q) { return ExactForward(t, q); },
                                   [&](const torch::Tensor& q) { return ExactForward(TensorsFromFloat(*f.model, f.scales, true), q); },
                                   RandomPixels(8, 3, 9, 10, 21));
  }
}

TEST(LocalPixelCnnExact, MixtureCdfIsValidForAnyParameters) {
  const auto tables = MixtureTables::Compute();
  std::mt19937 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    const int C = trial % 2 ? 3 : 1, K = 1 + trial % 10;
    std::vector<int16_t> p(size_t(MixtureParamCountInt(C, K)));
    for (auto& v : p) v = int16_t(int(rng() % 65535) - 32767);
    if (trial % 3 == 0)
      for (auto& v : p) v = int16_t(int(rng() % 2001) - 1000);
    MixtureCdf cdf(tables, C, K);
    int32_t prev[3] = {int32_t(rng() % 511) - 255, int32_t(rng() % 511) - 255, 0};
    for (int c = 0; c < C; ++c) {
      cdf.Prepare(p.data(), c, prev);
      ASSERT_EQ(cdf.At(0), 0u);
      ASSERT_EQ(cdf.At(256), kCdfTotal);
      for (int s = 0; s < 256; ++s) ASSERT_GE(cdf.At(s + 1), cdf.At(s) + 1);
      for (uint32_t target : {0u, 1u, 30000u, 65535u}) {
        const int s = cdf.Find(target);
        ASSERT_LE(cdf.At(s), target);
        ASSERT_GT(cdf.At(s + 1), target);
      }
    }
  }
}

// The wider activations and weights too (conformance_test.cpp codes two of these shapes), and taller and
// wider images.
TEST(LocalPixelCnnCoding, RoundTripAndPayloadEqualsModelBits) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 41, hyper);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{40, 33}, std::pair{7, 64}})
      ExpectEncodersAgreeAndRoundTrip(
          [&](Device e) { return std::make_shared<const LocalPixelCnnCodingModel>(f.file_bytes, "test", e); }, channels, h, w);
  }
}

TEST(LocalPixelCnnModelFile, RoundTripsAndRefusesCorruption) {
  ExpectModelFileRoundTripsAndRefusesCorruption<IntLocalPixelCnn>(MakeFixture(3, 23).file_bytes, "local-pixelcnn");
}

TEST(LocalPixelCnnModelFile, WideActivationsRoundTripAndAreCloserToTheFloatModel) {
  auto narrow = MakeFixture(3, 31);
  auto wide = MakeFixture(3, 31, kWideHyper);  // the same weights (same seed), 10-bit activations
  EXPECT_EQ(wide.exported.shape.act_bits, 10);
  EXPECT_EQ(wide.exported.shape.ToHyper(), kWideHyper);
  EXPECT_EQ(narrow.exported.shape.ToHyper(), kSmallHyper);  // 8 bits: the hyperparameter is not written
  int16_t widest = 0;
  for (const auto& l : wide.exported.lut_mid)
    for (int16_t v : l.table) widest = std::max<int16_t>(widest, int16_t(std::abs(v)));
  EXPECT_GT(widest, 127);
  EXPECT_LE(widest, 511);
  auto parsed = ModelFile::Parse(wide.file_bytes.data(), wide.file_bytes.size(), "wide");
  EXPECT_TRUE(parsed.Has("block0.lut_mid.table16"));
  ExpectModelFileRoundTripsAndRefusesCorruption<IntLocalPixelCnn>(wide.file_bytes, "local-pixelcnn");
  // The point of the wider activations: the integer model's mixture parameters are nearer the float model's.
  ExpectCloserToTheFloatModel(wide.exported, narrow, 77);
}

TEST(LocalPixelCnnExact, ActivationTablesClipTheTopTenThousandthOnlyUpToTenBits) {
  auto x = torch::arange(0, 100000, torch::kFloat32) / 1000.0;  // 0 .. 99.999
  EXPECT_FLOAT_EQ(exact_ops::ActivationRange(x, 12), 99.999f);
  EXPECT_FLOAT_EQ(exact_ops::ActivationRange(x, 11), 99.999f);
  EXPECT_NEAR(exact_ops::ActivationRange(x, 10), 99.989, 0.002);
  EXPECT_NEAR(exact_ops::ActivationRange(x, 8), 99.989, 0.002);
  // Calibrated at 12 bits, no activation of the calibration batch reaches past its table's largest output.
  auto f = MakeFixture(3, 41, kWidestHyper);
  auto q = RandomPixels(2, 3, 16, 16, 42);
  std::vector<torch::Tensor> trace;
  {
    torch::NoGradGuard ng;
    f.model->forward(q, &trace);
  }
  const auto s = CalibrateScales(*f.model, {q});
  const double act_max = double(f.model->config().ActMax());
  EXPECT_GE(s.act_head * act_max * (1 + 1e-9), torch::elu(trace.back()).max().item<double>());
  for (int i = 0; i < f.model->config().blocks; ++i) {
    EXPECT_GE(s.act_pre[size_t(i)] * act_max * (1 + 1e-9), torch::elu(trace[size_t(i == 0 ? 0 : 2 * i)]).max().item<double>());
    EXPECT_GE(s.act_mid[size_t(i)] * act_max * (1 + 1e-9), torch::elu(trace[size_t(1 + 2 * i)]).max().item<double>());
  }
}

TEST(LocalPixelCnnModelFile, RefusesLutValuesBeyondTheActivationRange) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper}) {
    auto f = MakeFixture(3, 37, hyper);
    auto broken = f.exported;
    broken.lut_mid[1].table[4000] = int16_t(broken.shape.ActMax() + 1);
    SCOPED_TRACE(hyper);
    ExpectRefused(broken, "");  // an int16 table16 entry for the narrow model too
  }
}

TEST(LocalPixelCnnModelFile, WideWeightsKeepTheBoundRoundTripAndAreCloserToTheFloatModel) {
  auto narrow = MakeFixture(3, 41, kWideHyper);
  auto wide = MakeFixture(3, 41, kWideWeightsHyper);  // the same weights (same seed), 16-bit weights
  EXPECT_EQ(wide.exported.shape.weight_bits, 16);
  EXPECT_EQ(wide.exported.shape.ToHyper(), kWideWeightsHyper);
  // conv0 has 39 inputs of |q| <= 255: 16-bit weights at full scale would break the bound, so the
  // exporter narrowed each channel's scale to it, and used most of it.
  const auto& c0 = wide.exported.conv0;
  int64_t fullest = 0;
  int widest = 0;
  for (int o = 0; o < c0.out; ++o) {
    int64_t sum = std::llabs(int64_t(c0.bias[size_t(o)]));
    for (int i = 0; i < c0.in; ++i) {
      const int w = std::abs(int(c0.weight[size_t(o) * c0.in + i]));
      sum += int64_t(w) * 255;
      widest = std::max(widest, w);
    }
    EXPECT_LT(sum, int64_t{1} << 24) << "channel " << o;
    fullest = std::max(fullest, sum);
  }
  EXPECT_GT(fullest, int64_t{1} << 23);
  EXPECT_GT(widest, 127);
  EXPECT_LT(widest, 32767);
  auto parsed = ModelFile::Parse(wide.file_bytes.data(), wide.file_bytes.size(), "wide");
  EXPECT_TRUE(parsed.Has("conv0.weight16"));
  EXPECT_TRUE(parsed.Has("head.weight16"));
  EXPECT_FALSE(parsed.Has("conv0.weight"));
  ExpectModelFileRoundTripsAndRefusesCorruption<IntLocalPixelCnn>(wide.file_bytes, "local-pixelcnn");
  ExpectCloserToTheFloatModel(wide.exported, narrow, 79);
}

TEST(LocalPixelCnnModelFile, RefusesWeightsBeyondTheWeightRange) {
  for (const char* hyper : {kSmallHyper, kWideWeightsHyper, kWidestHyper}) {
    auto f = MakeFixture(3, 43, hyper);
    auto broken = f.exported;
    broken.head.weight[5] = int16_t(std::min(broken.shape.WeightMax() + 1, 32767));
    if (broken.shape.WeightMax() == 32767) broken.head.weight[5] = -32768;
    SCOPED_TRACE(hyper);
    ExpectRefused(broken, "");  // an int16 weight16 entry for the narrow model too
  }
}

TEST(LocalPixelCnnModelFile, RefusesAModelThatFailsTheAccumulationBound) {
  auto f = MakeFixture(3, 29);
  auto broken = f.exported;
  broken.conv1[0].bias[0] = 1 << 24;  // sum|w|*max|a| + |b| >= 2^24
  ExpectRefused(broken, "exactness bound");
}

}  // namespace
}  // namespace pixelzip::models::nn
