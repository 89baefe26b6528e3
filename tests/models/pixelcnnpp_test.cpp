// Exactness tests of PixelCNN++: the fake-quantised training forward, the
// LibTorch integer path and the incremental CPU engine must agree bit for bit,
// on any image size, batch size and thread count.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include <unistd.h>

#include "entropy/range_coder.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/arch/pixelcnnpp/module.h"
#include "models/nn/arch/pixelcnnpp/coding_model.h"
#include "models/nn/arch/pixelcnnpp/exact.h"
#include "models/nn/train/trainable.h"
#include "models/nn/train/trainer.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kTinyHyper = "filters=8,nr_resnet=1,stages=3,mixtures=4";

struct Fixture {
  PixelCnnPP model{nullptr};
  PixelCnnPPScales scales;
  IntPixelCnnPP exported;
  std::vector<uint8_t> file_bytes;
};

Fixture MakeFixture(int channels, uint64_t seed, const std::string& hyper = kTinyHyper) {
  Fixture f;
  torch::manual_seed(seed);
  PixelCnnPPConfig c;
  c.shape = PixelCnnPPShape::FromHyper(hyper, channels);
  f.model = PixelCnnPP(c);
  {
    // Non-zero biases and a larger residual branch, so every path carries signal.
    torch::NoGradGuard ng;
    for (auto& p : f.model->parameters())
      if (p.dim() == 1) p.uniform_(-0.3, 0.3);
    for (auto& b : f.model->blocks[0]) b.conv2_w.mul_(5.0);
    for (auto& b : f.model->blocks[1]) b.conv2_w.mul_(5.0);
  }
  f.model->eval();
  f.scales = CalibrateScales(*f.model, {RandomPixels(2, channels, 16, 16, seed + 1)});
  f.exported = ExportIntModel(*f.model, f.scales);
  ModelFile file;
  f.exported.Write(file);
  f.file_bytes = file.Serialize();
  return f;
}

QPlane PlaneOf(const torch::Tensor& q) {  // [1, C, H, W] -> QPlane
  auto v = q[0].permute({1, 2, 0}).to(torch::kInt16).contiguous();
  QPlane p;
  p.height = int(q.size(2));
  p.width = int(q.size(3));
  p.channels = int(q.size(1));
  p.q.assign(v.data_ptr<int16_t>(), v.data_ptr<int16_t>() + v.numel());
  return p;
}

std::vector<int16_t> HwcParams(const torch::Tensor& params) {  // [1, P, H, W] -> [H][W][P]
  auto v = params[0].permute({1, 2, 0}).to(torch::kInt16).contiguous();
  return std::vector<int16_t>(v.data_ptr<int16_t>(), v.data_ptr<int16_t>() + v.numel());
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
    torch::NoGradGuard ng;
    auto fake = ExactForward(TensorsFromFloat(*f.model, f.scales, /*ste=*/false), q);
    auto fake_ste = ExactForward(TensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
    auto integer = ExactForward(TensorsFromInt(f.exported), q);
    EXPECT_TRUE(torch::equal(fake, integer)) << "channels " << channels;
    EXPECT_TRUE(torch::equal(fake_ste, integer)) << "channels " << channels;
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
    PixelCnnPPCodingModel tch(f.file_bytes, "test", EngineKind::kTorchCpu);
    const int P = f.exported.shape.ParamCount();
    for (auto [h, w] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{9, 13}, std::pair{16, 3}, std::pair{2, 17}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(h * 100 + w));
      const QPlane plane = PlaneOf(q);
      const auto batched = tch.BatchedParams(plane, EngineKind::kTorchCpu);
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

TEST(PixelCnnPPExact, IntegerCdfMatchesFloatLikelihood) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 17);
  auto q = RandomPixels(1, 3, 12, 12, 8);
  torch::NoGradGuard ng;
  auto t = TensorsFromInt(f.exported);
  auto params = ExactForward(t, q) * t.param_scale;
  const double float_bits = DiscretizedMixLogisticNll(q / 255.0, params, f.exported.shape.mixtures).sum().item<double>() / std::log(2.0);
  auto bytes = ToBytes(q);
  PlaneView view{12, 12, 3, bytes.data()};
  PixelCnnPPCodingModel coded(f.file_bytes, "test", EngineKind::kCpu);
  const double int_bits = ModelCodeLengthBits(coded, view);
  EXPECT_NEAR(int_bits / 432.0, float_bits / 432.0, 0.02);
}

TEST(PixelCnnPPCoding, RangeCoderRoundTripThroughTheCodingModel) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 19);
    for (auto [h, w] : {std::pair{6, 9}, std::pair{11, 4}}) {
      auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(31 * h + w)));
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      std::vector<uint8_t> streams[2];
      int k = 0;
      for (EngineKind encoder : {EngineKind::kCpu, EngineKind::kTorchCpu}) {
        PixelCnnPPCodingModel m(f.file_bytes, "test", encoder);
        RangeSink sink;
        m.Encode(view, sink, {});
        streams[k++] = sink.encoder.Finish();
      }
      EXPECT_EQ(streams[0], streams[1]) << "the encoders' CDFs differ";
      PixelCnnPPCodingModel decoder(f.file_bytes, "test", EngineKind::kCpu);
      std::vector<uint8_t> decoded(bytes.size(), 0);
      PlaneView out{uint32_t(w), uint32_t(h), uint32_t(channels), decoded.data()};
      RangeSource source(streams[0]);
      double last_progress = 0;
      decoder.Decode(out, source, [&](double p) { last_progress = p; });
      EXPECT_EQ(decoded, bytes) << channels << " channels " << h << "x" << w;
      EXPECT_TRUE(source.decoder.AtCleanEnd());
      EXPECT_EQ(last_progress, 1.0);
    }
  }
}

TEST(PixelCnnPPModelFile, RoundTripsAndRefusesCorruption) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 23);
  auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  auto again = IntPixelCnnPP::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), f.file_bytes);
  auto loaded = ModelFromBytes(f.file_bytes, "test", Device::kCpu);
  EXPECT_EQ(loaded->Identity().architecture, "pixelcnn++");
  for (size_t pos : {size_t(0), size_t(20), f.file_bytes.size() / 2, f.file_bytes.size() - 1}) {
    auto bad = f.file_bytes;
    bad[pos] ^= 0x40;
    EXPECT_THROW(ModelFromBytes(bad, "bad", Device::kCpu), Error) << pos;
  }
  auto cut = f.file_bytes;
  cut.resize(cut.size() - 40);
  EXPECT_THROW(ModelFromBytes(cut, "cut", Device::kCpu), Error);
  // A well-formed file with a layer of the wrong size is refused, naming the layer.
  auto broken = again;
  broken.blocks[1][0].conv1.in -= 1;
  broken.blocks[1][0].conv1.weight.resize(size_t(broken.blocks[1][0].conv1.out) * broken.blocks[1][0].conv1.in);
  ModelFile bf;
  broken.Write(bf);
  try {
    IntPixelCnnPP::Read(bf);
    FAIL() << "model with a wrong layer size accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("ul.block0.conv1"), std::string::npos) << e.what();
  }
}

void ExpectBoundRefused(const IntPixelCnnPP& broken, const std::string& layer, const std::string& what) {
  ModelFile file;
  broken.Write(file);
  try {
    IntPixelCnnPP::Read(file);
    FAIL() << "model accepted with " << layer << " broken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(layer), std::string::npos) << e.what();
  }
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

TEST(PixelCnnPPTraining, LossFallsFloatAndQuantised) {
  ScopedTorchThreads one_thread(1);
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork("pixelcnn++", std::string(kTinyHyper) + ",dropout=10", 3);
  auto batch = RandomPixels(8, 3, 12, 12, 99);
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(3e-3));
  auto loss_of = [&](bool quantized) {
    return DiscretizedMixLogisticNll(batch / 255.0, net->Forward(batch, quantized), net->mixtures()).mean() / (3 * 144) / std::log(2.0);
  };
  auto train = [&](bool quantized, int steps) {
    double first = 0, last = 0;
    for (int i = 0; i < steps; ++i) {
      auto loss = loss_of(quantized);
      opt.zero_grad();
      loss.backward();
      opt.step();
      (i == 0 ? first : last) = loss.item<double>();
    }
    return std::pair{first, last};
  };
  const auto [f0, f1] = train(false, 25);
  EXPECT_LT(f1, f0 - 0.3) << "float loss did not fall: " << f0 << " -> " << f1;
  net->Calibrate({batch});
  ASSERT_TRUE(net->calibrated());
  const auto [q0, q1] = train(true, 15);
  EXPECT_LT(q1, q0 - 0.05) << "quantised loss did not fall: " << q0 << " -> " << q1;
  // Scales survive a checkpoint round trip; a wrong-sized scale tensor is refused.
  auto again = MakeTrainableNetwork("pixelcnn++", kTinyHyper, 3);
  again->LoadScales(net->ScalesTensor());
  EXPECT_TRUE(torch::equal(again->ScalesTensor(), net->ScalesTensor()));
  EXPECT_THROW(again->LoadScales(torch::zeros({5}, torch::kFloat64)), Error);
  EXPECT_THROW(MakeTrainableNetwork("pixelcnn++", "dropout=150", 3), Error);
}

TEST(PixelCnnPPTraining, TrainerExportsAnIntegerModelThatCodesLikeTheFakeQuantisedOne) {
  ScopedTorchThreads one_thread(1);
  const auto dir = std::filesystem::temp_directory_path() / ("pixelcnnpp_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TrainOptions o;
  o.architecture = "pixelcnn++";
  o.hyper = kTinyHyper;
  o.steps = 12;
  o.batch = 4;
  o.crop = 12;
  o.warmup_steps = 2;
  o.eval_every = 12;
  o.checkpoint_every = 12;
  o.threads = 1;
  o.progress_bar = false;
  o.qat = true;
  o.checkpoint_path = (dir / "ckpt.pt").string();
  o.export_path = (dir / "model.pxzm").string();
  const auto report = Train(SyntheticImages(3, 20, 3, 5), SyntheticImages(1, 16, 3, 50), o);
  EXPECT_GT(report.float_bpd, 0.0);
  // The integer CDFs cost at most a little more than the fake-quantised likelihood.
  EXPECT_NEAR(report.integer_bpd, report.float_bpd, 0.05);
  auto loaded = ModelFromBytes(ModelFile::Load(o.export_path).Serialize(), o.export_path, Device::kCpu);
  EXPECT_EQ(loaded->Identity().architecture, "pixelcnn++");
  std::filesystem::remove_all(dir);
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
