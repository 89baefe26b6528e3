// Multiscale PixelCNN ("multiscale-pixelcnn"): the CPU integer engine, the LibTorch
// exact path and the fake-quantised training forward agree bit for bit; coding in
// multiscale group order round-trips through the range coder with O(log N) network
// evaluations; model files are verified at load.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <random>

#include "entropy/range_coder.h"
#include "models/nn/arch/multiscale/engine.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/arch/multiscale/coding_model.h"
#include "models/nn/arch/multiscale/module.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kTinyHyper =
    "base_side=2,hidden=12,inner=16,blocks=2,mixtures=3,base_kernel=3,base_hidden=12,base_inner=16,base_blocks=1";
// The same with 10-bit activations after each ELU, in the base and the group networks.
constexpr const char* kWideHyper =
    "base_side=2,hidden=12,inner=16,blocks=2,mixtures=3,base_kernel=3,base_hidden=12,base_inner=16,base_blocks=1,act_bits=10";
// 12-bit activations and 16-bit weights (int16 weight entries; scales narrowed by the 2^24 bound).
constexpr const char* kWidestHyper =
    "base_side=2,hidden=12,inner=16,blocks=2,mixtures=3,base_kernel=3,base_hidden=12,base_inner=16,base_blocks=1,act_bits=12,"
    "weight_bits=16";

struct Fixture {
  MultiscalePixelCnn model{nullptr};
  MultiscaleScales scales;
  IntMultiscalePixelCnn exported;
  std::vector<uint8_t> file_bytes;
};

Fixture MakeFixture(int channels, uint64_t seed, const std::string& hyper = kTinyHyper) {
  Fixture f;
  torch::manual_seed(seed);
  f.model = MultiscalePixelCnn(MultiscaleShape::FromHyper(hyper, channels));
  {
    torch::NoGradGuard ng;
    for (auto& p : f.model->parameters())
      if (p.dim() == 1) p.uniform_(-0.3, 0.3);
  }
  f.scales = CalibrateMultiscaleScales(*f.model, {RandomPixels(2, channels, 16, 16, seed + 1)});
  f.exported = ExportMultiscaleModel(*f.model, f.scales);
  ModelFile file;
  f.exported.Write(file);
  f.file_bytes = file.Serialize();
  return f;
}

QPlane PlaneOf(const torch::Tensor& q) {  // [1, C, H, W]
  QPlane p;
  p.height = int(q.size(2));
  p.width = int(q.size(3));
  p.channels = int(q.size(1));
  auto v = q[0].permute({1, 2, 0}).to(torch::kInt16).contiguous();
  p.q.assign(v.data_ptr<int16_t>(), v.data_ptr<int16_t>() + v.numel());
  return p;
}

// Parameters [H][W][P] of every pixel from the CPU engine: base steps and group evaluations.
std::vector<int16_t> CpuParamMap(const IntMultiscalePixelCnn& m, const QPlane& plane, int threads) {
  const int H = plane.height, W = plane.width, C = plane.channels, P = m.shape.ParamCount();
  std::vector<int16_t> out(size_t(H) * W * P);
  const int L = MultiscaleLevels(W, H, m.shape.base_side), step = 1 << L;
  QPlane base;
  base.width = (W + step - 1) / step;
  base.height = (H + step - 1) / step;
  base.channels = C;
  for (int y = 0; y < base.height; ++y)
    for (int x = 0; x < base.width; ++x)
      for (int c = 0; c < C; ++c) base.q.push_back(plane.at(y * step, x * step, c));
  LocalPixelCnnCpuEngine ev(m.base);
  for (int y = 0; y < base.height; ++y)
    for (int x = 0; x < base.width; ++x) ev.Evaluate(base, y, x, &out[(size_t(y * step) * W + x * step) * P]);
  for (int l = L; l >= 1; --l) {
    const int s = 1 << (l - 1), hc = (H + 2 * s - 1) / (2 * s), wc = (W + 2 * s - 1) / (2 * s);
    for (int g = 0; g < kMultiscaleGroups; ++g) {
      const auto gp = GroupParamsCpu(m, plane, s, g, threads);
      for (int Y = 0; Y < hc; ++Y)
        for (int X = 0; X < wc; ++X) {
          const int y = s * (2 * Y + GroupPhaseY(g)), x = s * (2 * X + GroupPhaseX(g));
          if (y < H && x < W) std::copy_n(&gp[(size_t(Y) * wc + X) * P], P, &out[(size_t(y) * W + x) * P]);
        }
    }
  }
  return out;
}

std::vector<int16_t> TorchParamMap(const torch::Tensor& params) {  // [1, P, H, W] -> [H][W][P]
  auto v = params[0].permute({1, 2, 0}).to(torch::kInt16).contiguous();
  return std::vector<int16_t>(v.data_ptr<int16_t>(), v.data_ptr<int16_t>() + v.numel());
}

TEST(MultiscaleGeometry, LevelsFromSize) {
  EXPECT_EQ(MultiscaleLevels(1, 1, 32), 0);
  EXPECT_EQ(MultiscaleLevels(32, 7, 32), 0);
  EXPECT_EQ(MultiscaleLevels(33, 1, 32), 1);
  EXPECT_EQ(MultiscaleLevels(768, 512, 32), 5);
  EXPECT_EQ(MultiscaleLevels(768, 512, 8), 7);
  EXPECT_EQ(MultiscaleLevels(5, 3, 2), 2);
}

TEST(MultiscaleExact, CpuEngineEqualsTorchPathOnOddSizes) {
  torch::NoGradGuard ng;
  for (const char* hyper : {kTinyHyper, kWideHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 5, hyper);
    const auto tensors = MultiscaleTensorsFromInt(f.exported);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{1, 7}, std::pair{7, 1}, std::pair{5, 3}, std::pair{13, 17},
                        std::pair{33, 20}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(100 * h + w));
      const QPlane plane = PlaneOf(q);
      const auto torch_map = TorchParamMap(MultiscaleForwardExact(tensors, q));
      const auto cpu1 = CpuParamMap(f.exported, plane, 1);
      ASSERT_EQ(cpu1, torch_map) << channels << " channels " << h << "x" << w;
      EXPECT_EQ(CpuParamMap(f.exported, plane, 3), cpu1) << "thread count changed the result";
      // The coding model's per-group LibTorch evaluation (grid only) equals the CPU engine.
      MultiscaleCodingModel tch(f.file_bytes, "test", EngineKind::kTorchCpu);
      const int L = MultiscaleLevels(w, h, f.exported.shape.base_side);
      for (int l = L; l >= 1; --l)
        for (int g = 0; g < kMultiscaleGroups; ++g)
          EXPECT_EQ(tch.GroupParams(plane, 1 << (l - 1), g, EngineKind::kTorchCpu),
                    GroupParamsCpu(f.exported, plane, 1 << (l - 1), g, 2));
    }
  }
}

TEST(MultiscaleExact, DefaultShapeCpuEngineEqualsTorchPath) {
  torch::NoGradGuard ng;
  auto f = MakeFixture(3, 19, "");
  auto q = RandomPixels(1, 3, 37, 71, 23);
  EXPECT_EQ(TorchParamMap(MultiscaleForwardExact(MultiscaleTensorsFromInt(f.exported), q)),
            CpuParamMap(f.exported, PlaneOf(q), 2));
}

TEST(MultiscaleExact, BatchSizeChangesNothing) {
  torch::NoGradGuard ng;
  auto f = MakeFixture(3, 9);
  const auto tensors = MultiscaleTensorsFromInt(f.exported);
  auto q = RandomPixels(3, 3, 13, 17, 4);
  auto batched = MultiscaleForwardExact(tensors, q);
  for (int64_t b = 0; b < 3; ++b)
    EXPECT_TRUE(torch::equal(batched.narrow(0, b, 1), MultiscaleForwardExact(tensors, q.narrow(0, b, 1)))) << b;
}

TEST(MultiscaleExact, FakeQuantForwardEqualsIntegerModel) {
  for (const char* hyper : {kTinyHyper, kWideHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 13, hyper);
    auto q = RandomPixels(2, channels, 19, 14, 8);
    torch::NoGradGuard ng;
    auto integer = MultiscaleForwardExact(MultiscaleTensorsFromInt(f.exported), q);
    EXPECT_TRUE(torch::equal(MultiscaleForwardExact(MultiscaleTensorsFromFloat(*f.model, f.scales, false), q), integer));
    EXPECT_TRUE(torch::equal(MultiscaleForwardExact(MultiscaleTensorsFromFloat(*f.model, f.scales, true), q), integer));
  }
}

TEST(MultiscaleExact, CudaEqualsCpuEngine) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard ng;
  UseExactConvolutions();
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 17);
    const auto tensors = MultiscaleTensorsFromInt(f.exported).To(torch::Device(torch::kCUDA));
    for (auto [h, w] : {std::pair{1, 1}, std::pair{13, 17}, std::pair{33, 20}}) {
      auto q = RandomPixels(2, channels, h, w, uint64_t(7 * h + w));
      auto cuda = MultiscaleForwardExact(tensors, q.to(torch::kCUDA)).to(torch::kCPU);
      for (int64_t b = 0; b < 2; ++b)
        EXPECT_EQ(TorchParamMap(cuda.narrow(0, b, 1)), CpuParamMap(f.exported, PlaneOf(q.narrow(0, b, 1)), 2))
            << channels << " channels " << h << "x" << w;
    }
  }
}

TEST(MultiscaleCoding, RoundTripGreyAndRgb) {
  for (const char* hyper : {kTinyHyper, kWideHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 21, hyper);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{1, 9}, std::pair{9, 1}, std::pair{5, 3}, std::pair{23, 17},
                        std::pair{40, 33}}) {
      auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(31 * h + w)));
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      std::vector<uint8_t> streams[2];
      int k = 0;
      for (EngineKind engine : {EngineKind::kCpu, EngineKind::kTorchCpu}) {
        MultiscaleCodingModel m(f.file_bytes, "test", engine);
        RangeSink sink;
        m.Encode(view, sink, {});
        EXPECT_EQ(sink.symbols, int64_t(h) * w * channels);
        streams[k++] = sink.encoder.Finish();
      }
      ASSERT_EQ(streams[0], streams[1]) << "the engines' CDFs differ";
      MultiscaleCodingModel model(f.file_bytes, "test", EngineKind::kCpu, 2);
      const double bits = ModelCodeLengthBits(model, view);
      EXPECT_LE(double(streams[0].size()) * 8.0, bits * 1.001 + 64.0);
      for (EngineKind engine : {EngineKind::kCpu, EngineKind::kTorchCpu}) {
        MultiscaleCodingModel dec(f.file_bytes, "test", engine);
        std::vector<uint8_t> decoded(bytes.size(), 0);
        PlaneView out{uint32_t(w), uint32_t(h), uint32_t(channels), decoded.data()};
        RangeSource source(streams[0]);
        dec.Decode(out, source, {});
        EXPECT_EQ(decoded, bytes) << channels << " channels " << h << "x" << w;
        EXPECT_TRUE(source.decoder.AtCleanEnd());
      }
    }
  }
}

TEST(MultiscaleCoding, DecodeNeedsLogarithmicNetworkEvaluations) {
  auto f = MakeFixture(1, 33, "base_side=4,hidden=4,inner=4,blocks=1,mixtures=1,base_kernel=3,base_hidden=4,base_inner=4,base_blocks=1");
  for (int n : {16, 64, 256}) {
    auto bytes = ToBytes(RandomPixels(1, 1, n, n, uint64_t(n)));
    PlaneView view{uint32_t(n), uint32_t(n), 1, bytes.data()};
    MultiscaleCodingModel enc(f.file_bytes, "test", EngineKind::kCpu);
    RangeSink sink;
    enc.Encode(view, sink, {});
    const auto stream = sink.encoder.Finish();
    MultiscaleCodingModel dec(f.file_bytes, "test", EngineKind::kCpu);
    std::vector<uint8_t> decoded(bytes.size(), 0);
    PlaneView out{uint32_t(n), uint32_t(n), 1, decoded.data()};
    RangeSource source(stream);
    dec.Decode(out, source, {});
    ASSERT_EQ(decoded, bytes);
    const int L = MultiscaleLevels(n, n, 4);
    EXPECT_EQ(L, int(std::log2(n)) - 2);
    EXPECT_EQ(dec.group_evaluations(), 3 * L) << n;  // 3 per doubling of resolution
    EXPECT_EQ(dec.base_evaluations(), 16) << n;      // base_side^2, whatever the image size
  }
}

// Timing of the default shape on a 768x512 RGB image with random weights (run by hand:
// --gtest_also_run_disabled_tests --gtest_filter='*Timing*').
TEST(MultiscaleCoding, DISABLED_Timing768x512) {
  auto f = MakeFixture(3, 51, "");
  auto bytes = ToBytes(RandomPixels(1, 3, 512, 768, 5));
  PlaneView view{768, 512, 3, bytes.data()};
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  MultiscaleCodingModel enc(f.file_bytes, "test", EngineKind::kCpu);
  RangeSink sink;
  auto t0 = now();
  enc.Encode(view, sink, {});
  auto t1 = now();
  const auto stream = sink.encoder.Finish();
  std::printf("encode (CPU engine): %.2f s, %zu bytes (%.3f bpsp)\n", secs(t0, t1), stream.size(),
              8.0 * double(stream.size()) / double(bytes.size()));
  for (EngineKind engine : {EngineKind::kCpu, EngineKind::kTorchCpu}) {
    MultiscaleCodingModel dec(f.file_bytes, "test", engine);
    std::vector<uint8_t> decoded(bytes.size(), 0);
    PlaneView out{768, 512, 3, decoded.data()};
    RangeSource source(stream);
    auto t2 = now();
    dec.Decode(out, source, {});
    auto t3 = now();
    ASSERT_EQ(decoded, bytes);
    std::printf("decode (%s): %.2f s, %lld group evaluations, %lld base steps\n",
                engine == EngineKind::kCpu ? "CPU engine" : "LibTorch CPU", secs(t2, t3),
                (long long)dec.group_evaluations(), (long long)dec.base_evaluations());
  }
}

TEST(MultiscaleModelFile, RoundTripAndCorruptionRefused) {
  auto f = MakeFixture(3, 41);
  const auto file = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  EXPECT_EQ(file.Text("architecture"), kMultiscalePixelCnnArch);
  EXPECT_EQ(file.Text("base.architecture"), "local-pixelcnn");
  const auto again = IntMultiscalePixelCnn::Read(file);
  ModelFile rewritten;
  again.Write(rewritten);
  EXPECT_EQ(rewritten.Serialize(), f.file_bytes);
  auto model = ModelFromBytes(f.file_bytes, "test", Device::kCpu);
  EXPECT_EQ(model->Order(), pixelzip::Order::kMultiscale);
  EXPECT_TRUE(model->SupportsChannels(3));
  EXPECT_FALSE(model->SupportsChannels(1));
  for (size_t pos : {size_t(20), f.file_bytes.size() / 2, f.file_bytes.size() - 1}) {
    auto bad = f.file_bytes;
    bad[pos] ^= 0x10;
    EXPECT_THROW(MultiscaleCodingModel(bad, "corrupt", EngineKind::kCpu), Error) << pos;
  }
  auto truncated = f.file_bytes;
  truncated.resize(truncated.size() / 3);
  EXPECT_THROW(ModelFromBytes(truncated, "truncated", Device::kCpu), Error);
}

TEST(MultiscaleModelFile, AccumulationBoundViolationRefused) {
  auto f = MakeFixture(3, 43);
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    auto m = f.exported;
    m.groups[g].conv0.bias[0] = (1 << 24) - 1;  // sum|w| * 255 + |b| >= 2^24
    ModelFile file;
    m.Write(file);
    const auto bytes = file.Serialize();
    try {
      MultiscaleCodingModel bad(bytes, "bound", EngineKind::kCpu);
      ADD_FAILURE() << "a model failing the exactness bound was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
      EXPECT_NE(std::string(e.what()).find("2^24"), std::string::npos) << e.what();
    }
  }
  auto m = f.exported;
  m.groups[1].head.weight.assign(m.groups[1].head.weight.size(), 127);
  m.groups[1].head.bias.assign(m.groups[1].head.bias.size(), (1 << 24) - 1000);
  EXPECT_THROW(m.Validate(), Error);
}

TEST(MultiscaleTraining, TinyModelLossFallsAndExports) {
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork(kMultiscalePixelCnnArch,
                                  "base_side=4,hidden=8,inner=8,blocks=1,mixtures=2,base_kernel=3,base_hidden=8,base_inner=8,base_blocks=1", 3);
  auto q = RandomPixels(4, 3, 16, 16, 77);
  auto loss_of = [&](bool quantized) {
    return DiscretizedMixLogisticNll(q / 255.0, net->Forward(q, quantized), net->mixtures()).mean() / double(q[0].numel());
  };
  EXPECT_EQ(net->Forward(q, false).sizes(), (std::vector<int64_t>{4, MixtureParamCount(3, 2), 16, 16}));
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
  // Scales survive a checkpoint; the export is a multiscale coding model.
  net->LoadScales(net->ScalesTensor());
  const auto bytes = net->ExportModelFile();
  auto model = ModelFromBytes(bytes, "exported", Device::kCpu);
  EXPECT_EQ(model->Order(), pixelzip::Order::kMultiscale);
  EXPECT_EQ(model->Identity().architecture, kMultiscalePixelCnnArch);
}

TEST(MultiscaleModelFile, WideActivationsRoundTripAndAreChecked) {
  auto f = MakeFixture(3, 61, kWideHyper);
  EXPECT_EQ(f.exported.shape.act_bits, 10);
  EXPECT_EQ(f.exported.base.shape.act_bits, 10);
  auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "wide");
  auto again = IntMultiscalePixelCnn::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), f.file_bytes);
  int16_t widest = 0;
  for (const auto& l : f.exported.groups[2].lut_mid)
    for (int16_t v : l.table) widest = std::max<int16_t>(widest, int16_t(std::abs(v)));
  EXPECT_GT(widest, 127);
  auto broken = f.exported;
  broken.groups[1].lut_head.table[4095] = 512;
  ModelFile bad;
  broken.Write(bad);
  EXPECT_THROW(IntMultiscalePixelCnn::Read(bad), Error);
}

TEST(MultiscaleModelFile, WideWeightsRoundTripKeepTheBoundAndAreChecked) {
  auto f = MakeFixture(3, 67, kWidestHyper);
  EXPECT_EQ(f.exported.shape.weight_bits, 16);
  EXPECT_EQ(f.exported.base.shape.weight_bits, 16);
  EXPECT_EQ(f.exported.shape.ToHyper(), kWidestHyper);
  auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "wide");
  EXPECT_TRUE(parsed.Has("group0.conv0.weight16"));
  EXPECT_TRUE(parsed.Has("group2.head.weight16"));
  EXPECT_TRUE(parsed.Has("base.head.weight16"));
  auto again = IntMultiscalePixelCnn::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), f.file_bytes);
  // Every group layer satisfies the bound (as the loader proved), with weights wider than int8.
  int widest = 0;
  for (const auto& n : f.exported.groups)
    for (int16_t w : n.conv0.weight) widest = std::max(widest, std::abs(int(w)));
  EXPECT_GT(widest, 127);
  auto broken = f.exported;
  broken.groups[2].conv1[0].weight[0] = -32768;
  ModelFile bad;
  broken.Write(bad);
  EXPECT_THROW(IntMultiscalePixelCnn::Read(bad), Error);
  auto narrow = MakeFixture(3, 67, kWideHyper);
  auto too_wide = narrow.exported;
  too_wide.groups[0].head.weight[0] = 200;  // beyond int8 in an int8-weight model
  ModelFile bad2;
  too_wide.Write(bad2);
  EXPECT_THROW(IntMultiscalePixelCnn::Read(bad2), Error);
}

}  // namespace
}  // namespace pixelzip::models::nn
