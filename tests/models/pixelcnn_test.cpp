// The plain PixelCNN (256-way softmax): the integer softmax CDF, and bit equality of the
// fake-quantised training forward, the LibTorch integer path (encoder) and the incremental CPU
// engine (decoder), subpixel by subpixel.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "entropy/range_coder.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/arch/pixelcnn/module.h"
#include "models/nn/arch/pixelcnn/coding_model.h"
#include "models/nn/runtime/softmax_cdf.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kSmall = "kernel=5,hidden=12,inner=6,blocks=2,head=9";

struct Fixture {
  PixelCnn model{nullptr};
  PixelCnnScales scales;
  IntPixelCnn exported;
  std::vector<uint8_t> file_bytes;
};

Fixture MakeFixture(int channels, uint64_t seed, const std::string& hyper = kSmall) {
  Fixture f;
  torch::manual_seed(seed);
  f.model = PixelCnn(PixelCnnShape::FromHyper(hyper, channels));
  {
    torch::NoGradGuard ng;
    for (auto& p : f.model->parameters())
      if (p.dim() == 1) p.uniform_(-0.3, 0.3);
      else p.mul_(3.0);  // livelier logits than the initialisation's
  }
  f.scales = CalibratePixelCnn(*f.model, {RandomPixels(2, channels, 16, 16, seed + 1)});
  f.exported = ExportPixelCnn(*f.model, f.scales);
  ModelFile file;
  f.exported.Write(file);
  f.file_bytes = file.Serialize();
  return f;
}

void ExpectValidCdf(const SoftmaxCdf& cdf) {
  ASSERT_EQ(cdf.At(0), 0u);
  ASSERT_EQ(cdf.At(256), kCdfTotal);
  for (int s = 0; s < 256; ++s) ASSERT_GE(cdf.At(s + 1), cdf.At(s) + 1) << s;
  for (uint32_t target : {0u, 1u, 30000u, 65534u, 65535u}) {
    const int s = cdf.Find(target);
    ASSERT_LE(cdf.At(s), target);
    ASSERT_GT(cdf.At(s + 1), target);
  }
}

TEST(SoftmaxCdf, ValidForAnyLogits) {
  const auto table = ComputeSoftmaxExpTable();
  ValidateSoftmaxExpTable(table);
  SoftmaxCdf cdf(table);
  std::mt19937 rng(5);
  int16_t logits[256];
  for (int trial = 0; trial < 400; ++trial) {
    for (auto& l : logits) {
      switch (trial % 4) {
        case 0: l = int16_t(int(rng() % 65535) - 32767); break;  // any int16
        case 1: l = int16_t(int(rng() % 200) - 100); break;      // near uniform
        case 2: l = 0; break;                                    // exactly uniform
        default: l = int16_t(int(rng() % 2000)); break;
      }
    }
    if (trial % 4 == 3) logits[rng() % 256] = 32767;  // one certain symbol
    cdf.Prepare(logits);
    ExpectValidCdf(cdf);
  }
  for (auto& l : logits) l = 0;
  cdf.Prepare(logits);
  for (int s = 0; s < 256; ++s) EXPECT_EQ(cdf.At(s + 1) - cdf.At(s), 256u);  // uniform is exact
}

TEST(SoftmaxCdf, CostAgainstFloatSoftmaxIsSmall) {
  const auto table = ComputeSoftmaxExpTable();
  SoftmaxCdf cdf(table);
  std::mt19937 rng(9);
  std::normal_distribution<double> normal;
  for (double spread : {0.5, 2.0, 6.0}) {
    for (int trial = 0; trial < 20; ++trial) {
      // A peaked distribution around a random centre (as a trained model gives) plus noise.
      const double centre = double(rng() % 256), width = 1.0 + double(rng() % 30);
      int16_t logits[256];
      double p[256], z = 0;
      for (int s = 0; s < 256; ++s) {
        const double l = -std::abs(s - centre) / width * spread + 0.3 * normal(rng);
        logits[s] = int16_t(std::lround(l * (1 << kSoftmaxLogitFracBits)));
      }
      for (int s = 0; s < 256; ++s) z += (p[s] = std::exp(double(logits[s]) / (1 << kSoftmaxLogitFracBits)));
      cdf.Prepare(logits);
      double kl = 0;  // expected extra bits of the integer CDF over the exact softmax of the same logits
      for (int s = 0; s < 256; ++s) {
        const double ps = p[s] / z, qs = double(cdf.At(s + 1) - cdf.At(s)) / kCdfTotal;
        if (ps > 0) kl += ps * std::log2(ps / qs);
      }
      EXPECT_LT(kl, 0.01) << "spread " << spread << " width " << width;
      EXPECT_GE(kl, -1e-12);
    }
  }
}

TEST(PixelCnnExact, FakeQuantForwardEqualsIntegerTorchPath) {
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 7);
    auto q = RandomPixels(2, channels, 13, 11, 3);
    auto integer = PixelCnnExactForward(PixelCnnTensorsFromInt(f.exported), q);
    auto fake_ste = PixelCnnExactForward(PixelCnnTensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
    torch::NoGradGuard ng;
    auto fake = PixelCnnExactForward(PixelCnnTensorsFromFloat(*f.model, f.scales, /*ste=*/false), q);
    EXPECT_TRUE(torch::equal(fake, integer)) << "channels " << channels;
    EXPECT_TRUE(torch::equal(fake_ste.detach(), integer)) << "channels " << channels;
    // The logits are not all the same (the test would prove little otherwise).
    EXPECT_GT(integer.max().item<float>() - integer.min().item<float>(), 64.f);
  }
}

TEST(PixelCnnExact, BatchedEqualsIncrementalAtEverySubpixelOnOddSizes) {
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 11);
    PixelCnnCodingModel coding(f.file_bytes, "test", EngineKind::kTorchCpu);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{2, 17}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(h * 100 + w));
      auto bytes = ToBytes(q);
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      const QPlane plane = ToQPlane(view);
      const auto batched = coding.BatchedLogits(plane, 0, h);
      const int L = f.exported.shape.Logits();
      // Bands of rows (the encoder's unit of work) give the same numbers as the whole image.
      for (int split = 1; split < h; split += 3) {
        auto joined = coding.BatchedLogits(plane, 0, split);
        const auto rest = coding.BatchedLogits(plane, split, h);
        joined.insert(joined.end(), rest.begin(), rest.end());
        ASSERT_EQ(joined, batched) << "split at row " << split;
      }
      // Incremental: subpixel by subpixel; later subpixels unknown (zero) when each is evaluated.
      QPlane partial = plane;
      std::fill(partial.q.begin(), partial.q.end(), 0);
      PixelCnnCpuEngine stepper(f.exported, w);
      int16_t logits[256];
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < channels; ++c) {
            stepper.Step(partial, y, x, c, logits);
            const int16_t* expected = &batched[(size_t(y) * w + x) * L + size_t(c) * 256];
            ASSERT_TRUE(std::equal(logits, logits + 256, expected)) << channels << " ch " << h << "x" << w << " at " << y << "," << x << "," << c;
            partial.q[(size_t(y) * w + x) * channels + c] = plane.at(y, x, c);
          }
    }
  }
}

TEST(PixelCnnExact, DefaultShapeBatchedEqualsIncremental) {
  auto f = MakeFixture(3, 13, "");
  PixelCnnCodingModel coding(f.file_bytes, "test", EngineKind::kTorchCpu);
  auto q = RandomPixels(1, 3, 11, 9, 4);
  auto bytes = ToBytes(q);
  PlaneView view{9, 11, 3, bytes.data()};
  const QPlane plane = ToQPlane(view);
  const auto batched = coding.BatchedLogits(plane, 0, 11);
  PixelCnnCpuEngine stepper(f.exported, 9);
  int16_t logits[256];
  for (int y = 0; y < 11; ++y)
    for (int x = 0; x < 9; ++x)
      for (int c = 0; c < 3; ++c) {
        stepper.Step(plane, y, x, c, logits);  // later subpixels are never read: the full plane gives the same
        ASSERT_TRUE(std::equal(logits, logits + 256, &batched[(size_t(y) * 9 + x) * 768 + size_t(c) * 256])) << y << "," << x << "," << c;
      }
}

TEST(PixelCnnExact, BatchSizeAndThreadCountDoNotChangeABit) {
  auto f = MakeFixture(3, 5);
  auto q = RandomPixels(8, 3, 9, 10, 21);
  torch::NoGradGuard ng;
  auto t = PixelCnnTensorsFromInt(f.exported);
  const int saved = at::get_num_threads();
  at::set_num_threads(1);
  auto all = PixelCnnExactForward(t, q);
  for (int64_t batch : {1, 3, 8}) {
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < 8; i += batch) parts.push_back(PixelCnnExactForward(t, q.narrow(0, i, std::min<int64_t>(batch, 8 - i))));
      EXPECT_TRUE(torch::equal(torch::cat(parts), all)) << "batch " << batch << " threads " << threads;
    }
  }
  at::set_num_threads(saved);
}

TEST(PixelCnnCoding, RoundTripAndPayloadEqualsModelBits) {
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 41);
    auto model = ModelFromBytes(f.file_bytes, "test", Device::kCpu);
    EXPECT_EQ(model->Identity().architecture, kPixelCnnArch);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{23, 19}, std::pair{5, 40}}) {
      auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(97 * h + w)));
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      RangeSink sink;
      model->Encode(view, sink, {});
      const auto stream = sink.encoder.Finish();
      const double bits = ModelCodeLengthBits(*model, view);
      EXPECT_LE(double(stream.size()) * 8.0, bits * 1.001 + 64.0);
      EXPECT_GE(double(stream.size()) * 8.0, bits - 8.0);
      std::vector<uint8_t> decoded(bytes.size(), 0);
      PlaneView out{uint32_t(w), uint32_t(h), uint32_t(channels), decoded.data()};
      RangeSource source(stream);
      model->Decode(out, source, {});
      EXPECT_EQ(decoded, bytes) << channels << " channels " << h << "x" << w;
      EXPECT_TRUE(source.decoder.AtCleanEnd());
    }
  }
}

TEST(PixelCnnModelFile, RoundTripsAndRefusesCorruption) {
  auto f = MakeFixture(3, 23);
  auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  auto again = IntPixelCnn::Read(parsed);
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

void ExpectRefused(const IntPixelCnn& m, const std::string& message) {
  ModelFile file;
  m.Write(file);
  try {
    IntPixelCnn::Read(file);
    FAIL() << "model accepted; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(PixelCnnModelFile, RefusesBrokenModels) {
  auto f = MakeFixture(3, 29);
  {
    auto m = f.exported;
    m.conv1[0].bias[0] = 1 << 24;
    ExpectRefused(m, "exactness bound");
  }
  {
    auto m = f.exported;  // conv_in output 0 (group R) seeing the current pixel's R: a mask-A violation
    const int k = m.shape.kernel, r = k / 2;
    m.conv_in.weight[size_t(r * k + r)] = 5;
    ExpectRefused(m, "mask");
  }
  {
    auto m = f.exported;  // head2's R logits seeing the G group of the head
    m.head2.weight[size_t(m.head2.in - 1)] = 3;
    ExpectRefused(m, "mask");
  }
  {
    auto m = f.exported;
    m.conv2[1].hi = 200;  // not an int8 ReLU
    ExpectRefused(m, "range");
  }
  {
    auto m = f.exported;
    m.exp_table[10] = m.exp_table[9] + 1;
    ExpectRefused(m, "exp table");
  }
}

TEST(PixelCnnTraining, LossFallsFloatAndQuantisedAndExports) {
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork("pixelcnn", kSmall, 3);
  auto q = RandomPixels(4, 3, 12, 12, 77);
  auto loss_of = [&](bool quantized) { return net->Nll(q, quantized).mean() / double(q[0].numel()); };
  EXPECT_EQ(net->Forward(q, false).sizes(), (std::vector<int64_t>{4, 768, 12, 12}));
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(5e-3));
  const double first = loss_of(false).item<double>();
  for (int i = 0; i < 25; ++i) {
    opt.zero_grad();
    auto loss = loss_of(false);
    loss.backward();
    opt.step();
  }
  const double trained = loss_of(false).item<double>();
  EXPECT_LT(trained, first - 0.05) << first << " -> " << trained;
  net->Calibrate({q});
  ASSERT_TRUE(net->calibrated());
  const double qat_before = loss_of(true).item<double>();
  for (int i = 0; i < 10; ++i) {
    opt.zero_grad();
    auto loss = loss_of(true);
    loss.backward();
    opt.step();
  }
  const double qat_after = loss_of(true).item<double>();
  EXPECT_LT(qat_after, qat_before) << qat_before << " -> " << qat_after;
  net->LoadScales(net->ScalesTensor());
  const auto bytes = net->ExportModelFile();
  auto model = ModelFromBytes(bytes, "exported", Device::kCpu);
  EXPECT_EQ(model->Order(), pixelzip::Order::kRaster);
  EXPECT_EQ(model->Identity().architecture, kPixelCnnArch);
  // The exported model's integer CDFs code like the fake-quantised forward's float softmax
  // (the same integer logits): the integer CDF costs little.
  auto img = ToBytes(q.narrow(0, 0, 1));
  PlaneView view{12, 12, 3, img.data()};
  torch::NoGradGuard ng;
  const double fake_bits = net->Nll(q.narrow(0, 0, 1), true).item<double>() / std::log(2.0);
  EXPECT_NEAR(ModelCodeLengthBits(*model, view) / 432.0, fake_bits / 432.0, 0.02);
  EXPECT_LT(fake_bits / 432.0, 7.5) << "the model is too close to uniform to test anything";
}

TEST(PixelCnnShapeTest, HyperparametersParsedAndChecked) {
  const auto s = PixelCnnShape::FromHyper("kernel=3,hidden=6,inner=3,blocks=1,head=6", 3);
  EXPECT_EQ(PixelCnnShape::FromHyper(s.ToHyper(), 3).ToHyper(), s.ToHyper());
  EXPECT_THROW(PixelCnnShape::FromHyper("hidden=7", 3), Error);  // not a multiple of 3
  EXPECT_NO_THROW(PixelCnnShape::FromHyper("hidden=7,inner=5,head=11", 1));
  EXPECT_THROW(PixelCnnShape::FromHyper("kernel=4", 1), Error);
  EXPECT_THROW(PixelCnnShape::FromHyper("mixtures=3", 1), Error);
  EXPECT_THROW(MakeTrainableNetwork("pixelcnn", "hidden=0", 3), Error);
}

}  // namespace
}  // namespace pixelzip::models::nn
