// Gated / Conditional PixelCNN: the fake-quantised training forward, the LibTorch
// integer path (the encoder) and the incremental CPU engine (the decoder) agree bit
// for bit, grey and RGB, with and without class conditioning; model files round
// trip and refuse corruption; training lowers the loss; range-coder round trip
// with the encoder's class choice coded first.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "entropy/range_coder.h"
#include "models/nn/arch/gated_pixelcnn/coding_model.h"
#include "models/nn/arch/gated_pixelcnn/exact.h"
#include "models/nn/arch/gated_pixelcnn/module.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

auto MakeGatedFixture(int channels, int classes, uint64_t seed, int layers = 3, int kernel = 3) {
  return MakeExportedNet(
      seed, channels, 16,
      [&] {
        return GatedPixelCnn(GatedPixelCnnShape::FromHyper("kernel=" + std::to_string(kernel) + ",features=12,layers=" +
                                                               std::to_string(layers) + ",mixtures=3,classes=" + std::to_string(classes),
                                                           channels));
      },
      [](GatedPixelCnn& m) {
        // Non-zero biases and class embeddings so they are exercised.
        for (auto& p : m->parameters())
          if (p.dim() <= 2) p.uniform_(-0.5, 0.5);
      },
      CalibrateGatedScales, ExportGatedModel);
}

TEST(GatedPixelCnnExact, FakeQuantForwardEqualsIntegerTorchPath) {
  for (int channels : {1, 3})
    for (int classes : {1, 4}) {
      auto f = MakeGatedFixture(channels, classes, 7 + classes);
      auto q = RandomPixels(3, channels, 9, 7, 3);
      auto c = torch::tensor(std::vector<int64_t>{0, classes - 1, classes / 2}, torch::kInt64);
      torch::NoGradGuard ng;
      auto fake = GatedExactForward(GatedTensorsFromFloat(*f.model, f.scales, false), q, c);
      auto fake_ste = GatedExactForward(GatedTensorsFromFloat(*f.model, f.scales, true), q, c);
      auto integer = GatedExactForward(GatedTensorsFromInt(f.exported), q, c);
      EXPECT_TRUE(torch::equal(fake, integer)) << channels << " channels, " << classes << " classes";
      EXPECT_TRUE(torch::equal(fake_ste, integer)) << channels << " channels, " << classes << " classes";
      // The fake-quantised forward tracks the float model's likelihood.
      auto params_q = fake * GatedTensorsFromInt(f.exported).param_scale;
      const double nll_q = DiscretizedMixLogisticNll(q / 255.0, params_q, 3).mean().item<double>();
      const double nll_f = DiscretizedMixLogisticNll(q / 255.0, f.model->forward(q, c), 3).mean().item<double>();
      EXPECT_NEAR(nll_q / q[0].numel(), nll_f / q[0].numel(), 0.1) << channels << " channels, " << classes << " classes";
    }
}

TEST(GatedPixelCnnExact, TorchBatchedEqualsCpuIncrementalAtEverySubpixel) {
  for (int channels : {1, 3})
    for (int classes : {1, 3}) {
      auto f = MakeGatedFixture(channels, classes, 11 * channels + classes, 3, channels == 1 ? 5 : 3);
      GatedPixelCnnCodingModel coding(f.file_bytes, "test", Device::kCpu);
      const int P = f.exported.shape.ParamCount();
      for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{70, 3}}) {
        auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(h * 100 + w)));
        PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
        const QPlane plane = ToQPlane(view);
        std::vector<int> all;
        for (int k = 0; k < classes; ++k) all.push_back(k);
        const auto batched = coding.BatchedParams(plane, 0, h, all);
        for (int k = 0; k < classes; ++k) {
          const int16_t* expected = &batched[size_t(k) * h * w * P];
          // Bands of rows give the same numbers as the whole image (the band's context rows suffice).
          if (h > 4) {
            auto top = coding.BatchedParams(plane, 0, 4, {k});
            const auto rest = coding.BatchedParams(plane, 4, h, {k});
            top.insert(top.end(), rest.begin(), rest.end());
            ASSERT_TRUE(std::equal(top.begin(), top.end(), expected)) << "bands, class " << k;
          }
          // Incremental, later pixels unknown (zero) when each is evaluated.
          QPlane partial = plane;
          std::fill(partial.q.begin(), partial.q.end(), 0);
          GatedPixelCnnCpuEngine engine(f.exported, w, k);
          std::vector<int16_t> params(static_cast<size_t>(P), 0);
          for (int y = 0; y < h; ++y) {
            for (int x = 0; x < w; ++x) {
              engine.PixelParams(partial, y, x, params.data());
              ASSERT_TRUE(std::equal(params.begin(), params.end(), expected + (size_t(y) * w + x) * P))
                  << channels << " channels, class " << k << ", " << h << "x" << w << " at " << y << "," << x;
              for (int c = 0; c < channels; ++c) partial.q[(size_t(y) * w + x) * channels + c] = plane.at(y, x, c);
            }
            engine.FinishRow(partial, y);
          }
        }
      }
    }
}

TEST(GatedPixelCnnExact, BatchSizeAndThreadCountDoNotChangeABit) {
  auto f = MakeGatedFixture(3, 5, 5);
  auto q = RandomPixels(8, 3, 9, 10, 21);
  auto c = torch::randint(5, {8}, torch::kInt64);
  auto t = GatedTensorsFromInt(f.exported);
  ExpectBatchSplitsChangeNothing(8, [&](int64_t i, int64_t n) { return GatedExactForward(t, q.narrow(0, i, n), c.narrow(0, i, n)); });
}

TEST(GatedPixelCnnExact, ConditioningChangesTheDistribution) {
  auto f = MakeGatedFixture(1, 3, 13);
  auto q = RandomPixels(1, 1, 6, 6, 2).expand({3, 1, 6, 6}).contiguous();
  torch::NoGradGuard ng;
  auto out = GatedExactForward(GatedTensorsFromInt(f.exported), q, torch::arange(3, torch::kInt64));
  EXPECT_FALSE(torch::equal(out[0], out[1]));
  EXPECT_FALSE(torch::equal(out[1], out[2]));
}

TEST(GatedPixelCnnModelFile, RoundTripsAndRefusesCorruption) {
  auto f = MakeGatedFixture(3, 4, 23);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntGatedPixelCnn>(f.file_bytes, kGatedPixelCnnArch);
  auto model = ModelFromBytes(f.file_bytes, "test", Device::kCpu);
  EXPECT_TRUE(model->SupportsChannels(3));
  EXPECT_FALSE(model->SupportsChannels(1));
}

TEST(GatedPixelCnnModelFile, RefusesAModelThatFailsTheAccumulationBound) {
  auto f = MakeGatedFixture(1, 3, 29);
  for (int which = 0; which < 2; ++which) {
    auto broken = f.exported;
    if (which == 0) broken.hconv[1].bias[0] = 1 << 24;
    else broken.vcond[2][5] = 1 << 22, broken.vconv[2].bias[5] = (1 << 24) - (1 << 22);  // only with the class's conditioning
    ExpectRefused(broken, "exactness bound");
  }
}

TEST(GatedPixelCnnTraining, LossFallsWithAndWithoutConditioning) {
  for (int classes : {1, 3}) {
    torch::manual_seed(3);
    auto net = MakeTrainableNetwork("gated-pixelcnn", "kernel=3,features=8,layers=2,mixtures=2,classes=" + std::to_string(classes), 1);
    ASSERT_EQ(net->classes(), classes);
    auto q = RandomPixels(4, 1, 8, 8, 5);
    if (classes > 1) net->SetClasses(torch::tensor(std::vector<int64_t>{0, 1, 2, 1}, torch::kInt64));
    auto params = net->module().parameters();
    torch::optim::Adam opt(params, torch::optim::AdamOptions(5e-3));
    auto loss_of = [&] { return DiscretizedMixLogisticNll(q / 255.0, net->Forward(q, false), 2).mean() / double(q[0].numel()); };
    const double before = loss_of().item<double>();
    for (int i = 0; i < 40; ++i) {
      auto loss = loss_of();
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    EXPECT_LT(loss_of().item<double>(), before - 0.1) << classes << " classes";
    // Quantisation-aware forward after calibration: finite loss with gradients.
    net->Calibrate({q});
    auto lq = DiscretizedMixLogisticNll(q / 255.0, net->Forward(q, true), 2).mean();
    lq.backward();
    EXPECT_TRUE(std::isfinite(lq.item<double>()));
    const auto file = net->ExportModelFile();
    EXPECT_NO_THROW(ModelFromBytes(file, "exported", Device::kCpu));
  }
}

TEST(GatedPixelCnnCoding, ClassIndexCdfIsValid) {
  for (int k : {1, 2, 10, 255, 256}) {
    ClassIndexCdf cdf(k);
    ASSERT_EQ(cdf.At(0), 0u);
    ASSERT_EQ(cdf.At(256), kCdfTotal);
    for (int s = 0; s < 256; ++s) ASSERT_GE(cdf.At(s + 1), cdf.At(s) + 1);
  }
}

TEST(GatedPixelCnnCoding, RoundTripWithTheEncodersClassChoice) {
  for (int channels : {1, 3})
    for (int classes : {1, 4}) {
      auto f = MakeGatedFixture(channels, classes, 41 + channels + classes);
      GatedPixelCnnCodingModel model(f.file_bytes, "test", Device::kCpu);
      for (auto [h, w] : {std::pair{1, 1}, std::pair{11, 9}}) {
        auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(97 * h + w)));
        PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
        const auto per_class = model.ClassCodeLengths(view);
        ASSERT_EQ(int(per_class.size()), classes);
        const int chosen = model.ChooseClass(view);
        EXPECT_EQ(per_class[size_t(chosen)], *std::min_element(per_class.begin(), per_class.end()));
        // The rate counts the class index: uniform over K.
        const double index_bits = classes > 1 ? -std::log2(double(ClassIndexCdf(classes).At(1)) / kCdfTotal) : 0.0;
        EXPECT_NEAR(ModelCodeLengthBits(model, view), per_class[size_t(chosen)] + index_bits, 1e-6);
        for (int k = 0; k < classes; ++k) {
          RangeSink sink;
          if (k == chosen) model.Encode(view, sink, {});
          else model.EncodeWithClass(view, k, sink, {});
          SCOPED_TRACE("class " + std::to_string(k));
          ExpectDecodes(model, sink.encoder.Finish(), bytes, w, h, channels);
        }
      }
    }
}

}  // namespace
}  // namespace pixelzip::models::nn
