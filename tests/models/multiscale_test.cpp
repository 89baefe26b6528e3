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

auto MakeFixture(int channels, uint64_t seed, const std::string& hyper = kTinyHyper) {
  return MakeExportedNet(
      seed, channels, 16, [&] { return MultiscalePixelCnn(MultiscaleShape::FromHyper(hyper, channels)); },
      [](MultiscalePixelCnn& m) { RandomizeBiases(*m, 0.3); }, CalibrateMultiscaleScales, ExportMultiscaleModel);
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
      const auto torch_map = HwcParams(MultiscaleForwardExact(tensors, q));
      const auto cpu1 = CpuParamMap(f.exported, plane, 1);
      ASSERT_EQ(cpu1, torch_map) << channels << " channels " << h << "x" << w;
      EXPECT_EQ(CpuParamMap(f.exported, plane, 3), cpu1) << "thread count changed the result";
      // The coding model's per-group LibTorch evaluation (grid only) equals the CPU engine.
      MultiscaleCodingModel tch(f.file_bytes, "test", Device::kTorchCpu);
      const int L = MultiscaleLevels(w, h, f.exported.shape.base_side);
      for (int l = L; l >= 1; --l)
        for (int g = 0; g < kMultiscaleGroups; ++g)
          EXPECT_EQ(tch.GroupParams(plane, 1 << (l - 1), g, Device::kTorchCpu),
                    GroupParamsCpu(f.exported, plane, 1 << (l - 1), g, 2));
    }
  }
}

TEST(MultiscaleExact, DefaultShapeCpuEngineEqualsTorchPath) {
  torch::NoGradGuard ng;
  auto f = MakeFixture(3, 19, "");
  auto q = RandomPixels(1, 3, 37, 71, 23);
  EXPECT_EQ(HwcParams(MultiscaleForwardExact(MultiscaleTensorsFromInt(f.exported), q)),
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
        EXPECT_EQ(HwcParams(cuda.narrow(0, b, 1)), CpuParamMap(f.exported, PlaneOf(q.narrow(0, b, 1)), 2))
            << channels << " channels " << h << "x" << w;
    }
  }
}

// Wider activations and weights, odd sizes, and the LibTorch engine as the decoder too (conformance_test.cpp
// codes the tiny shape).
TEST(MultiscaleCoding, RoundTripGreyAndRgbWithEitherDecoderEngine) {
  for (const char* hyper : {kTinyHyper, kWideHyper, kWidestHyper})
  for (int channels : {1, 3}) {
    SCOPED_TRACE(hyper);
    auto f = MakeFixture(channels, 21, hyper);
    auto make = [&](Device e) { return std::make_shared<const MultiscaleCodingModel>(f.file_bytes, "test", e); };
    for (auto [h, w] : {std::pair{1, 1}, std::pair{1, 9}, std::pair{9, 1}, std::pair{5, 3}, std::pair{23, 17},
                        std::pair{40, 33}}) {
      ExpectEncodersAgreeAndRoundTrip(make, channels, h, w);
      auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(31 * h + w)));
      ExpectDecodes(*make(Device::kTorchCpu), EncodeStream(*make(Device::kCpu), bytes, w, h, channels), bytes, w, h,
                    channels);
    }
  }
}

TEST(MultiscaleCoding, DecodeNeedsLogarithmicNetworkEvaluations) {
  auto f = MakeFixture(1, 33, "base_side=4,hidden=4,inner=4,blocks=1,mixtures=1,base_kernel=3,base_hidden=4,base_inner=4,base_blocks=1");
  for (int n : {16, 64, 256}) {
    auto bytes = ToBytes(RandomPixels(1, 1, n, n, uint64_t(n)));
    MultiscaleCodingModel dec(f.file_bytes, "test", Device::kCpu);
    ExpectDecodes(dec, EncodeStream(MultiscaleCodingModel(f.file_bytes, "test", Device::kCpu), bytes, n, n, 1), bytes, n, n, 1);
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
  MultiscaleCodingModel enc(f.file_bytes, "test", Device::kCpu);
  RangeSink sink;
  auto t0 = now();
  enc.Encode(view, sink, {});
  auto t1 = now();
  const auto stream = sink.encoder.Finish();
  std::printf("encode (CPU engine): %.2f s, %zu bytes (%.3f bpsp)\n", secs(t0, t1), stream.size(),
              8.0 * double(stream.size()) / double(bytes.size()));
  for (Device engine : {Device::kCpu, Device::kTorchCpu}) {
    MultiscaleCodingModel dec(f.file_bytes, "test", engine);
    std::vector<uint8_t> decoded(bytes.size(), 0);
    PlaneView out{768, 512, 3, decoded.data()};
    RangeSource source(stream);
    auto t2 = now();
    dec.Decode(out, source, {});
    auto t3 = now();
    ASSERT_EQ(decoded, bytes);
    std::printf("decode (%s): %.2f s, %lld group evaluations, %lld base steps\n",
                engine == Device::kCpu ? "CPU engine" : "LibTorch CPU", secs(t2, t3),
                (long long)dec.group_evaluations(), (long long)dec.base_evaluations());
  }
}

TEST(MultiscaleModelFile, RoundTripAndCorruptionRefused) {
  auto f = MakeFixture(3, 41);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntMultiscalePixelCnn>(f.file_bytes, kMultiscalePixelCnnArch);
  const auto file = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  EXPECT_EQ(file.Text("base.architecture"), "local-pixelcnn");
  auto model = ModelFromBytes(f.file_bytes, "test", Device::kCpu);
  EXPECT_TRUE(model->SupportsChannels(3));
  EXPECT_FALSE(model->SupportsChannels(1));
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
      MultiscaleCodingModel bad(bytes, "bound", Device::kCpu);
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

TEST(MultiscaleModelFile, WideActivationsRoundTripAndAreChecked) {
  auto f = MakeFixture(3, 61, kWideHyper);
  EXPECT_EQ(f.exported.shape.act_bits, 10);
  EXPECT_EQ(f.exported.base.shape.act_bits, 10);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntMultiscalePixelCnn>(f.file_bytes, kMultiscalePixelCnnArch);
  int16_t widest = 0;
  for (const auto& l : f.exported.groups[2].lut_mid)
    for (int16_t v : l.table) widest = std::max<int16_t>(widest, int16_t(std::abs(v)));
  EXPECT_GT(widest, 127);
  auto broken = f.exported;
  broken.groups[1].lut_head.table[4095] = 512;
  ExpectRefused(broken, "");
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
  ExpectModelFileRoundTripsAndRefusesCorruption<IntMultiscalePixelCnn>(f.file_bytes, kMultiscalePixelCnnArch);
  // Every group layer satisfies the bound (as the loader proved), with weights wider than int8.
  int widest = 0;
  for (const auto& n : f.exported.groups)
    for (int16_t w : n.conv0.weight) widest = std::max(widest, std::abs(int(w)));
  EXPECT_GT(widest, 127);
  auto broken = f.exported;
  broken.groups[2].conv1[0].weight[0] = -32768;
  ExpectRefused(broken, "");
  auto narrow = MakeFixture(3, 67, kWideHyper);
  auto too_wide = narrow.exported;
  too_wide.groups[0].head.weight[0] = 200;  // beyond int8 in an int8-weight model
  ExpectRefused(too_wide, "");
}

}  // namespace
}  // namespace pixelzip::models::nn
