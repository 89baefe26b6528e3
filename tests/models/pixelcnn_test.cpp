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

auto MakeFixture(int channels, uint64_t seed, const std::string& hyper = kSmall) {
  return MakeExportedNet(
      seed, channels, 16, [&] { return PixelCnn(PixelCnnShape::FromHyper(hyper, channels)); },
      [](PixelCnn& m) {
        RandomizeBiases(*m, 0.3);
        for (auto& p : m->parameters())
          if (p.dim() != 1) p.mul_(3.0);  // livelier logits than the initialisation's
      },
      CalibratePixelCnn, ExportPixelCnn);
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
    PixelCnnCodingModel coding(f.file_bytes, "test", Device::kTorchCpu);
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
  PixelCnnCodingModel coding(f.file_bytes, "test", Device::kTorchCpu);
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
  auto t = PixelCnnTensorsFromInt(f.exported);
  ExpectBatchAndThreadInvariance([&](const torch::Tensor& q) { return PixelCnnExactForward(t, q); },
                                 [&](const torch::Tensor& q) {
                                   return PixelCnnExactForward(PixelCnnTensorsFromFloat(*f.model, f.scales, true), q);
                                 },
                                 RandomPixels(8, 3, 9, 10, 21));
}

TEST(PixelCnnModelFile, RoundTripsAndRefusesCorruption) {
  ExpectModelFileRoundTripsAndRefusesCorruption<IntPixelCnn>(MakeFixture(3, 23).file_bytes, "pixelcnn");
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

// A briefly trained model (far from uniform): its integer softmax CDFs code like the fake-quantised forward's
// float softmax of the same integer logits (conformance_test.cpp checks the loss falls and the export).
TEST(PixelCnnTraining, IntegerSoftmaxCdfCodesLikeTheFakeQuantisedSoftmax) {
  ScopedTorchThreads one_thread(1);
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork("pixelcnn", kSmall, 3);
  auto q = RandomPixels(4, 3, 12, 12, 77);
  EXPECT_EQ(net->Forward(q, false).sizes(), (std::vector<int64_t>{4, 768, 12, 12}));
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(5e-3));
  TrainSteps(*net, opt, q, false, 25);
  net->Calibrate({q});
  TrainSteps(*net, opt, q, true, 10);
  auto model = ModelFromBytes(net->ExportModelFile(), "exported", Device::kCpu);
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
