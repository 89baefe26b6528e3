// Exactness tests of PixelCNN++: the fake-quantised training forward, the
// LibTorch integer path and the incremental CPU engine must agree bit for bit,
// on any image size, batch size and thread count.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>


#include "entropy/range_coder.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/arch/pixelcnnpp/module.h"
#include "models/nn/arch/pixelcnnpp/coding_model.h"
#include "models/nn/arch/pixelcnnpp/exact.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kTinyHyper = "filters=8,nr_resnet=1,stages=3,mixtures=4";

auto MakeFixture(int channels, uint64_t seed, const std::string& hyper = kTinyHyper) {
  return MakeExportedNet(
      seed, channels, 16,
      [&] {
        PixelCnnPPConfig c;
        c.shape = PixelCnnPPShape::FromHyper(hyper, channels);
        return PixelCnnPP(c);
      },
      [](PixelCnnPP& m) {
        // Non-zero biases and a larger residual branch, so every path carries signal.
        RandomizeBiases(*m, 0.3);
        for (auto& b : m->blocks[0]) b.conv2_w.mul_(5.0);
        for (auto& b : m->blocks[1]) b.conv2_w.mul_(5.0);
        m->eval();
      },
      [](PixelCnnPPImpl& m, const std::vector<torch::Tensor>& b) { return CalibrateScales(m, b); },
      [](PixelCnnPPImpl& m, const PixelCnnPPScales& s) { return ExportIntModel(m, s); });
}

int64_t BatchedPassPositions(const PixelCnnPPShape& shape, int h, int w) {
  // Positions one batched pass computes, counted as the engine counts them: per first layer,
  // two per block (conv1 and conv2 halves), per resampling, and the head.
  const auto prog = PixelCnnPPProgram::Build(shape);
  int64_t n = 0;
  for (const auto& op : prog.ops)
    n += int64_t(LevelSize(h, op.level)) * LevelSize(w, op.level) * (op.kind == PixelCnnPPOp::kBlock ? 2 : 1);
  return n + int64_t(h) * w;
}

TEST(PixelCnnPPGraph, ProgramMirrorsTheReference) {
  auto shape = PixelCnnPPShape::FromHyper("filters=4,nr_resnet=2,stages=3", 3);
  const auto p = PixelCnnPPProgram::Build(shape);
  // Per stream: 3 stages * 2 blocks down, 2 + 3 + 3 up; 2 downsamplings and 2 upsamplings.
  EXPECT_EQ(p.blocks_per_stream, 6 + 8);
  EXPECT_EQ(p.resamples_per_stream, 4);
  int with_two_skips = 0;
  for (const auto& op : p.ops)
    if (op.kind == PixelCnnPPOp::kBlock && op.skips.size() == 2) {
      ++with_two_skips;
      EXPECT_TRUE(op.ul);
      EXPECT_EQ(p.node_level[size_t(op.skips[0])], op.level);
      EXPECT_EQ(p.node_level[size_t(op.skips[1])], op.level);
    }
  EXPECT_EQ(with_two_skips, 8);
  EXPECT_EQ(p.node_level[size_t(p.final_ul)], 0);
  EXPECT_THROW(PixelCnnPPShape::FromHyper("filters=4,kernel=3", 3), Error);
  EXPECT_THROW(PixelCnnPPShape::FromHyper("filters=0", 3), Error);
  EXPECT_THROW(PixelCnnPPShape::FromHyper("filters=8x", 3), Error);
  EXPECT_THROW(PixelCnnPPShape::FromHyper("", 2), Error);
  EXPECT_EQ(PixelCnnPPShape::FromHyper(shape.ToHyper(), 3).ToHyper(), shape.ToHyper());
}

TEST(PixelCnnPPExact, FloatForwardIsCausal) {
  ScopedTorchThreads one_thread(1);
  // Changing pixels at and after raster position s changes no output before s (and does change later ones).
  auto f = MakeFixture(3, 41);
  torch::NoGradGuard ng;
  auto q = RandomPixels(1, 3, 9, 13, 5);
  auto out = f.model->forward(q);
  for (int s : {0, 17, 58, 116}) {
    auto q2 = q.clone().view({3, -1});
    q2.narrow(1, s, q2.size(1) - s).fill_(255.0);
    auto out2 = f.model->forward(q2.view({1, 3, 9, 13}));
    auto diff = (out2 - out).abs().sum(1).flatten();
    EXPECT_EQ(diff.narrow(0, 0, s + 1).max().item<float>(), 0.0f) << s;
    if (s < 116) {
      EXPECT_GT(diff.narrow(0, s + 1, 117 - s - 1).max().item<float>(), 0.0f) << s;
    }
  }
}

TEST(PixelCnnPPExact, FakeQuantForwardEqualsIntegerTorchPath) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 7);
    auto q = RandomPixels(2, channels, 13, 11, 3);
    SCOPED_TRACE(std::to_string(channels) + " channels");
    const auto integer = ExactForward(TensorsFromInt(f.exported), q);
    ExpectFakeEqualsInteger([&](bool ste) { return ExactForward(TensorsFromFloat(*f.model, f.scales, ste), q); }, integer);
    // The parameters are not trivially constant.
    EXPECT_GT(integer.std().item<double>(), 1.0);
  }
}

TEST(PixelCnnPPExact, TrainingForwardWithGradientsEqualsIncrementalEngine) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 13);
  auto q = RandomPixels(1, 3, 7, 10, 77);
  auto t = TensorsFromFloat(*f.model, f.scales, /*ste=*/true);
  auto fake = ExactForward(t, q);
  ASSERT_TRUE(fake.requires_grad());
  (fake * t.param_scale).sum().backward();  // the straight-through graph is differentiable
  EXPECT_GT(f.model->blocks[1][0].conv1_w.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(f.model->resample_w[0][0].grad().abs().sum().item<double>(), 0.0);
  const auto plane = PlaneOf(q);
  EXPECT_EQ(EngineParamsForImage(f.exported, plane.q.data(), 7, 10), HwcParams(fake.detach()));
}

TEST(PixelCnnPPExact, TorchBatchedEqualsIncrementalEngineOnOddSizes) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 11);
    PixelCnnPPCodingModel tch(f.file_bytes, "test", Device::kTorchCpu);
    const int P = f.exported.shape.ParamCount();
    for (auto [h, w] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{9, 13}, std::pair{16, 3}, std::pair{2, 17}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(h * 100 + w));
      const QPlane plane = PlaneOf(q);
      const auto batched = tch.BatchedParams(plane, Device::kTorchCpu);
      // Incremental: the engine sees each pixel only after its parameters were produced.
      PixelCnnPPCpuEngine engine(f.exported, h, w);
      int32_t pixel[3];
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const int16_t* p = engine.NextParams();
          ASSERT_TRUE(std::equal(p, p + P, batched.begin() + (size_t(y) * w + x) * P))
              << channels << " channels, " << h << "x" << w << " at (" << y << ", " << x << ")";
          for (int c = 0; c < channels; ++c) pixel[c] = plane.at(y, x, c);
          engine.SetPixel(pixel);
        }
      // Each layer position was computed exactly once: the work of one batched pass.
      EXPECT_EQ(engine.PositionsComputed(), BatchedPassPositions(f.exported.shape, h, w)) << h << "x" << w;
      EXPECT_THROW(engine.NextParams(), Error);
    }
  }
}

TEST(PixelCnnPPExact, OtherShapesAgreeToo) {
  ScopedTorchThreads one_thread(1);
  // The default shape, no residual blocks, a single stage, four stages with a 2x2 coarsest level, grey.
  for (auto [hyper, channels] : {std::pair{"", 3}, std::pair{"filters=4,nr_resnet=0,stages=1,mixtures=1", 3},
                                 std::pair{"filters=5,nr_resnet=2,stages=4,mixtures=2", 1}}) {
    auto f = MakeFixture(channels, 37, hyper);
    for (auto [h, w] : {std::pair{9, 13}, std::pair{4, 1}}) {
      auto q = RandomPixels(1, channels, h, w, 4);
      torch::NoGradGuard ng;
      auto fake = ExactForward(TensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
      const auto plane = PlaneOf(q);
      EXPECT_EQ(EngineParamsForImage(f.exported, plane.q.data(), h, w), HwcParams(fake)) << "'" << hyper << "' " << h << "x" << w;
    }
  }
}

TEST(PixelCnnPPExact, EngineNeedsEveryPixelBeforeTheNext) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(1, 3);
  PixelCnnPPCpuEngine engine(f.exported, 4, 4);
  engine.NextParams();
  EXPECT_THROW(engine.NextParams(), Error);  // the pixel was not given
  int32_t v = 7;
  engine.SetPixel(&v);
  EXPECT_THROW(engine.SetPixel(&v), Error);
}

TEST(PixelCnnPPExact, BatchSizeAndThreadCountDoNotChangeABit) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 5);
  auto q = RandomPixels(8, 3, 9, 10, 21);
  torch::NoGradGuard ng;
  auto t = TensorsFromInt(f.exported);
  auto all = ExactForward(t, q);
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (int64_t batch : {1, 3, 8}) {
      // Batch 1 on the first three images only (the slow part under 2 threads on a busy machine).
      const int64_t n = batch == 1 ? 3 : 8;
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < n; i += batch) parts.push_back(ExactForward(t, q.narrow(0, i, std::min<int64_t>(batch, n - i))));
      EXPECT_TRUE(torch::equal(torch::cat(parts), all.narrow(0, 0, n))) << "batch " << batch << " threads " << threads;
    }
  }
  at::set_num_threads(1);
  // And the CPU engine on one of the images.
  const auto plane = PlaneOf(q.narrow(0, 5, 1));
  EXPECT_EQ(EngineParamsForImage(f.exported, plane.q.data(), 9, 10), HwcParams(all.narrow(0, 5, 1)));
}

// (conformance_test.cpp checks the round trip with either encoder.)
TEST(PixelCnnPPCoding, DecoderReportsProgressToTheEnd) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(1, 19);
  auto bytes = ToBytes(RandomPixels(1, 1, 6, 9, 195));
  PixelCnnPPCodingModel model(f.file_bytes, "test", Device::kCpu);
  const auto stream = EncodeStream(model, bytes, 9, 6, 1);
  std::vector<uint8_t> decoded(bytes.size(), 0);
  RangeSource source(stream);
  double last_progress = 0;
  model.Decode(PlaneView{9, 6, 1, decoded.data()}, source, [&](double p) { last_progress = p; });
  EXPECT_EQ(decoded, bytes);
  EXPECT_EQ(last_progress, 1.0);
}

TEST(PixelCnnPPModelFile, RoundTripsAndRefusesCorruptionAndAWrongLayerSize) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 23);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntPixelCnnPP>(f.file_bytes, "pixelcnn++");
  // A well-formed file with a layer of the wrong size is refused, naming the layer.
  auto broken = f.exported;
  broken.blocks[1][0].conv1.in -= 1;
  broken.blocks[1][0].conv1.weight.resize(size_t(broken.blocks[1][0].conv1.out) * broken.blocks[1][0].conv1.in);
  ExpectRefused(broken, "ul.block0.conv1");
}

// Refused for `what`, naming the layer.
void ExpectBoundRefused(const IntPixelCnnPP& broken, const std::string& layer, const std::string& what) {
  ExpectRefused(broken, what);
  ExpectRefused(broken, layer);
}

TEST(PixelCnnPPModelFile, RefusesAModelThatFailsTheAccumulationBound) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 29);
  {
    auto broken = f.exported;
    broken.blocks[0][0].conv1.bias[0] = 1 << 24;  // sum|w|*max|a| + |b| >= 2^24
    ExpectBoundRefused(broken, "u.block0.conv1", "exactness bound");
  }
  {
    auto broken = f.exported;
    for (auto& w : broken.blocks[1][1].conv2.weight) w = 127;  // 8 * 2 * 4 taps * 127 * 127 * ... fits; push with the bias
    broken.blocks[1][1].conv2.bias[3] = (1 << 24) - 100;
    ExpectBoundRefused(broken, "ul.block1.conv2", "exactness bound");
  }
  {
    auto broken = f.exported;
    broken.first_ul_right.bias[2] = (1 << 24) - 10;  // the two parts together exceed 2^24
    ExpectBoundRefused(broken, "first_ul", "exactness bound");
  }
  {
    auto broken = f.exported;
    broken.resample[0][1].bias[0] = 1 << 24;  // byte-split fp32 bound of a 16-bit-input layer
    ExpectBoundRefused(broken, "u.resample1", "exactness bound");
  }
  {
    auto broken = f.exported;
    for (auto& v : broken.blocks[0][0].gate.table) v = int16_t(-v);  // a gate must lie in [0, 1]
    ExpectBoundRefused(broken, "u.block0.gate", "outside [0, 127]");
  }
}

// (conformance_test.cpp checks that training lowers the loss and the trainer's export.)
TEST(PixelCnnPPTraining, DropoutTrainsAndIsChecked) {
  ScopedTorchThreads one_thread(1);
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork("pixelcnn++", std::string(kTinyHyper) + ",dropout=10", 3);
  auto batch = RandomPixels(8, 3, 12, 12, 99);
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(3e-3));
  const auto [f0, f1] = TrainSteps(*net, opt, batch, false, 25);
  EXPECT_LT(f1, f0 - 0.3) << "float loss with dropout did not fall: " << f0 << " -> " << f1;
  EXPECT_THROW(MakeTrainableNetwork("pixelcnn++", "dropout=150", 3), Error);
}

// Measurements for the report: run with --gtest_also_run_disabled_tests --gtest_filter='*Measure*'.
TEST(PixelCnnPPBench, DISABLED_Measure) {
  ScopedTorchThreads threads(std::getenv("PXZ_THREADS") ? std::atoi(std::getenv("PXZ_THREADS")) : 1);
  const auto shape = PixelCnnPPShape::FromHyper("", 3);
  std::printf("default %s: %lld parameters, %.0f multiply-adds per pixel (768x512), %.0f (32x32)\n", shape.ToHyper().c_str(),
              (long long)PixelCnnPPParameterCount(shape), PixelCnnPPMacsPerPixel(shape, 512, 768), PixelCnnPPMacsPerPixel(shape, 32, 32));
  auto net = MakeTrainableNetwork("pixelcnn++", "", 3);
  auto batch = RandomPixels(16, 3, 32, 32, 1);
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(1e-3));
  for (bool quantized : {false, true}) {
    if (quantized) net->Calibrate({batch});
    double seconds = 0;
    const int steps = 4;
    for (int i = 0; i <= steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto loss = DiscretizedMixLogisticNll(batch / 255.0, net->Forward(batch, quantized), 10).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (i > 0) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    std::printf("training %s forward+backward, batch 16 of 32x32: %.1f crops/s\n", quantized ? "QAT" : "float", 16.0 * steps / seconds);
  }
  auto bytes = net->ExportModelFile();
  const auto model = IntPixelCnnPP::Read(ModelFile::Parse(bytes.data(), bytes.size(), "bench"));
  auto q = RandomPixels(1, 3, 64, 64, 2);
  const auto plane = PlaneOf(q);
  PixelCnnPPCpuEngine engine(model, 64, 64);
  int32_t pixel[3];
  size_t max_state = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 64 * 64; ++i) {
    engine.NextParams();
    for (int c = 0; c < 3; ++c) pixel[c] = plane.q[size_t(i) * 3 + size_t(c)];
    engine.SetPixel(pixel);
    max_state = std::max(max_state, engine.StateBytes());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("incremental decoding 64x64: %.3f ms per pixel, state %.2f MB\n", 1e3 * secs / 4096, max_state / 1e6);
  auto t = TensorsFromInt(model);
  torch::NoGradGuard ng;
  const auto tb = std::chrono::steady_clock::now();
  auto batched = ExactForward(t, q);
  std::printf("batched exact LibTorch pass 64x64: %.3f ms per pixel\n",
              1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - tb).count() / 4096);
  EXPECT_EQ(EngineParamsForImage(model, plane.q.data(), 64, 64), HwcParams(batched));
  // Decoder state on a 768x512 image (first 40 rows: the rings reach their size within a few rows).
  PixelCnnPPCpuEngine big(model, 512, 768);
  size_t big_state = 0;
  for (int i = 0; i < 768 * 40; ++i) {
    big.NextParams();
    pixel[0] = pixel[1] = pixel[2] = (i * 7) % 511 - 255;
    big.SetPixel(pixel);
    if (i % 768 == 0) big_state = std::max(big_state, big.StateBytes());
  }
  std::printf("decoder state on 768x512: %.2f MB\n", big_state / 1e6);
}

}  // namespace
}  // namespace pixelzip::models::nn
