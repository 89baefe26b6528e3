// Exactness tests of the Local PixelCNN: the fake-quantised training forward,
// the LibTorch integer path and the CPU engine must agree bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "models/nn/torch/exact_ops.h"
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

struct Fixture {
  LocalPixelCnn model{nullptr};
  LocalQuantScales scales;
  IntLocalPixelCnn exported;
  std::vector<uint8_t> file_bytes;
};

constexpr const char* kSmallHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4";
// The same with 10-bit activations after each ELU (int16 LUT entries in the model file).
constexpr const char* kWideHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=10";
// The same with 16-bit weights (int16 weight entries; scales narrowed by the 2^24 bound).
constexpr const char* kWideWeightsHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=10,weight_bits=16";
// 12-bit activations and 16-bit weights (what the shipped default uses).
constexpr const char* kWidestHyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=12,weight_bits=16";

Fixture MakeFixture(int channels, uint64_t seed, const std::string& hyper = kSmallHyper) {
  Fixture f;
  torch::manual_seed(seed);
  auto shape = LocalPixelCnnShape::FromHyper(hyper, channels);
  LocalPixelCnnConfig c;
  c.channels = channels;
  c.kernel = shape.kernel;
  c.hidden = shape.hidden;
  c.inner = shape.inner;
  c.blocks = shape.blocks;
  c.mixtures = shape.mixtures;
  c.act_bits = shape.act_bits;
  c.weight_bits = shape.weight_bits;
  f.model = LocalPixelCnn(c);
  // Non-zero biases so they are exercised.
  {
    torch::NoGradGuard ng;
    for (auto& p : f.model->parameters())
      if (p.dim() == 1) p.uniform_(-0.3, 0.3);
  }
  f.scales = CalibrateScales(*f.model, {RandomPixels(2, channels, 16, 16, seed + 1)});
  f.exported = ExportIntModel(*f.model, f.scales);
  ModelFile file;
  f.exported.Write(file);
  f.file_bytes = file.Serialize();
  return f;
}

// Mean absolute error, in real units, of the integer model's mixture parameters against `reference`.
double MeanParamError(const IntLocalPixelCnn& m, const torch::Tensor& q, const torch::Tensor& reference) {
  auto t = TensorsFromInt(m);
  return (ExactForward(t, q) * t.param_scale - reference).abs().mean().item<double>();
}

TEST(LocalPixelCnnExact, FakeQuantForwardEqualsIntegerTorchPath) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 7, hyper);
    auto q = RandomPixels(2, channels, 13, 11, 3);
    torch::NoGradGuard ng;
    auto fake = ExactForward(TensorsFromFloat(*f.model, f.scales, /*ste=*/false), q);
    auto fake_ste = ExactForward(TensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
    auto integer = ExactForward(TensorsFromInt(f.exported), q);
    EXPECT_TRUE(torch::equal(fake, integer)) << "channels " << channels;
    EXPECT_TRUE(torch::equal(fake_ste, integer)) << "channels " << channels;
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
      LocalPixelCnnCodingModel cpu(f.file_bytes, "test", EngineKind::kCpu);
      LocalPixelCnnCodingModel tch(f.file_bytes, "test", EngineKind::kTorchCpu);
      const QPlane plane = ToQPlane(view);
      const auto a = cpu.BatchedParams(plane, 0, h, EngineKind::kCpu);
      const auto b = tch.BatchedParams(plane, 0, h, EngineKind::kTorchCpu);
      ASSERT_EQ(a, b) << channels << " " << h << "x" << w;
      // Bands of rows (the encoder's unit of work) give the same numbers as the whole image.
      if (h > 3) {
        const auto top = tch.BatchedParams(plane, 0, 3, EngineKind::kTorchCpu);
        const auto rest = tch.BatchedParams(plane, 3, h, EngineKind::kTorchCpu);
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
  auto q = RandomPixels(8, 3, 9, 10, 21);
  torch::NoGradGuard ng;
  auto t = TensorsFromInt(f.exported);
  auto all = ExactForward(t, q);
  for (int64_t batch : {1, 3, 8}) {
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < 8; i += batch) parts.push_back(ExactForward(t, q.narrow(0, i, std::min<int64_t>(batch, 8 - i))));
      EXPECT_TRUE(torch::equal(torch::cat(parts), all)) << "batch " << batch << " threads " << threads;
    }
  }
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

TEST(LocalPixelCnnExact, IntegerCdfMatchesFloatLikelihood) {
  // The integer CDF's code length is within a small margin of the float model's.
  auto f = MakeFixture(3, 17);
  auto q = RandomPixels(1, 3, 12, 12, 8);
  torch::NoGradGuard ng;
  auto t = TensorsFromInt(f.exported);
  auto params = ExactForward(t, q) * t.param_scale;
  const double float_bits = DiscretizedMixLogisticNll(q / 255.0, params, f.exported.shape.mixtures).sum().item<double>() / std::log(2.0);
  auto bytes = ToBytes(q);
  PlaneView view{12, 12, 3, bytes.data()};
  LocalPixelCnnCodingModel coded(f.file_bytes, "test", EngineKind::kCpu);
  const double int_bits = ModelCodeLengthBits(coded, view);
  EXPECT_NEAR(int_bits / 432.0, float_bits / 432.0, 0.02);
}

TEST(LocalPixelCnnCoding, RoundTripAndPayloadEqualsModelBits) {
  for (const char* hyper : {kSmallHyper, kWideHyper, kWideWeightsHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 41, hyper);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{40, 33}, std::pair{7, 64}}) {
      auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(97 * h + w)));
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      std::vector<uint8_t> streams[2];
      int k = 0;
      for (EngineKind encoder : {EngineKind::kCpu, EngineKind::kTorchCpu}) {
        LocalPixelCnnCodingModel m(f.file_bytes, "test", encoder);
        RangeSink sink;
        m.Encode(view, sink, {});
        streams[k++] = sink.encoder.Finish();
      }
      EXPECT_EQ(streams[0], streams[1]) << "the encoders' CDFs differ";
      LocalPixelCnnCodingModel model(f.file_bytes, "test", EngineKind::kCpu);
      const double bits = ModelCodeLengthBits(model, view);
      // Rate equals bits/dim: the payload is within 0.1% (plus the coder's flush bytes) of -log2 p(x).
      EXPECT_LE(double(streams[0].size()) * 8.0, bits * 1.001 + 64.0);
      EXPECT_GE(double(streams[0].size()) * 8.0, bits - 8.0);
      std::vector<uint8_t> decoded(bytes.size(), 0);
      PlaneView out{uint32_t(w), uint32_t(h), uint32_t(channels), decoded.data()};
      RangeSource source(streams[0]);
      model.Decode(out, source, {});
      EXPECT_EQ(decoded, bytes) << channels << " channels " << h << "x" << w;
      EXPECT_TRUE(source.decoder.AtCleanEnd());
    }
  }
}

TEST(LocalPixelCnnModelFile, RoundTripsAndRefusesCorruption) {
  auto f = MakeFixture(3, 23);
  auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  auto again = IntLocalPixelCnn::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), f.file_bytes);
  for (size_t pos : {size_t(0), size_t(20), f.file_bytes.size() / 2, f.file_bytes.size() - 1}) {
    auto bad = f.file_bytes;
    bad[pos] ^= 0x40;
    EXPECT_THROW(ModelFile::Parse(bad.data(), bad.size(), "bad"), Error) << pos;
  }
  auto cut = f.file_bytes;
  cut.resize(cut.size() - 40);
  EXPECT_THROW(ModelFile::Parse(cut.data(), cut.size(), "cut"), Error);
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
  auto again = IntLocalPixelCnn::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), wide.file_bytes);
  // The point of the wider activations: the integer model's mixture parameters are nearer the float
  // model's (mean absolute error in real units over a random image).
  auto q = RandomPixels(1, 3, 24, 24, 77);
  torch::NoGradGuard ng;
  auto reference = narrow.model->forward(q);
  auto error = [&](Fixture& f) { return MeanParamError(f.exported, q, reference); };
  EXPECT_LT(error(wide), 0.75 * error(narrow));
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
    ModelFile file;
    broken.Write(file);  // an int16 table16 entry for the narrow model too
    try {
      IntLocalPixelCnn::Read(file);
      FAIL() << "model accepted: " << hyper;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelInvalid) << e.what();
    }
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
  auto again = IntLocalPixelCnn::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), wide.file_bytes);
  auto q = RandomPixels(1, 3, 24, 24, 79);
  torch::NoGradGuard ng;
  auto reference = narrow.model->forward(q);
  auto error = [&](Fixture& f) { return MeanParamError(f.exported, q, reference); };
  EXPECT_LT(error(wide), 0.75 * error(narrow));
}

TEST(LocalPixelCnnModelFile, RefusesWeightsBeyondTheWeightRange) {
  for (const char* hyper : {kSmallHyper, kWideWeightsHyper, kWidestHyper}) {
    auto f = MakeFixture(3, 43, hyper);
    auto broken = f.exported;
    broken.head.weight[5] = int16_t(std::min(broken.shape.WeightMax() + 1, 32767));
    if (broken.shape.WeightMax() == 32767) broken.head.weight[5] = -32768;
    ModelFile file;
    broken.Write(file);  // an int16 weight16 entry for the narrow model too
    try {
      IntLocalPixelCnn::Read(file);
      FAIL() << "model accepted: " << hyper;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelInvalid) << e.what();
    }
  }
}

TEST(LocalPixelCnnModelFile, RefusesAModelThatFailsTheAccumulationBound) {
  auto f = MakeFixture(3, 29);
  auto broken = f.exported;
  broken.conv1[0].bias[0] = 1 << 24;  // sum|w|*max|a| + |b| >= 2^24
  ModelFile file;
  broken.Write(file);
  try {
    IntLocalPixelCnn::Read(file);
    FAIL() << "model accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("exactness bound"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pixelzip::models::nn
