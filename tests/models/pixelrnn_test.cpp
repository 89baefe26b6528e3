// Exactness tests of the PixelRNN architectures, Row LSTM and Diagonal BiLSTM: the
// fake-quantised training forward, the LibTorch integer path (row-by-row recurrence,
// or one anti-diagonal at a time, over whole images) and the CPU engine (pixel by
// pixel, previous-row states cached; the Diagonal BiLSTM's backward pass once each
// row is known) agree bit for bit. The typed tests run on both architectures; what
// conformance_test.cpp checks for every architecture (coding round trips, model file
// corruption, thread counts, training) is not repeated here.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include "models/nn/arch/diagonal_bilstm/coding_model.h"
#include "models/nn/arch/diagonal_bilstm/module.h"
#include "models/nn/arch/row_lstm/coding_model.h"
#include "models/nn/arch/row_lstm/module.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

// Larger random weights and biases than at initialisation, so that gates saturate, cells reach their clamp
// and every table region is exercised.
template <class Holder>
void Saturate(Holder& model) {
  for (auto& p : model->parameters()) {
    if (p.dim() == 1) p.uniform_(-1.5, 1.5);
    else p.mul_(2.5);
  }
}

// What the typed tests need of an architecture: its integer model, coding model and CPU engine types, and
// (below) its name, a small shape, and its functions.
template <class IntT, class CodingT, class EngineT>
struct ArchTypes {
  using Int = IntT;
  using Coding = CodingT;
  using Engine = EngineT;
};

struct RowLstmArch : ArchTypes<IntRowLstm, RowLstmCodingModel, RowLstmCpuEngine> {
  static constexpr const char* kName = "row-lstm";
  static constexpr const char* kHyper = "kernel=5,hidden=12,state=10,layers=2,row_kernel=3,head=16,mixtures=3";
  static constexpr double kNllTolerance = 0.25;  // bits per subpixel, integer against float model
  static auto Make(int channels, uint64_t seed) {
    return MakeExportedNet(
        seed, channels, 12, [&] { return RowLstm(RowLstmShape::FromHyper(kHyper, channels)); }, Saturate<RowLstm>,
        CalibrateRowLstm, ExportIntRowLstm);
  }
  static auto FromInt(const Int& m) { return RowLstmTensorsFromInt(m); }
  template <class Net>
  static auto FromFloat(Net& net, const RowLstmScales& s, bool ste) { return RowLstmTensorsFromFloat(*net, s, ste); }
  template <class Tensors>
  static torch::Tensor Forward(const Tensors& t, const torch::Tensor& q) { return RowLstmExactForward(t, q); }
  static std::vector<IntLinear>& Gates(Int& m) { return m.gates; }
};

struct DiagonalBiLstmArch : ArchTypes<IntDiagonalBiLstm, DiagonalBiLstmCodingModel, DiagonalBiLstmCpuEngine> {
  static constexpr const char* kName = "diagonal-bilstm";
  static constexpr const char* kHyper = "kernel=5,hidden=12,state=10,layers=2,head=16,mixtures=3";
  static constexpr double kNllTolerance = 0.5;
  static auto Make(int channels, uint64_t seed) {
    return MakeExportedNet(
        seed, channels, 12, [&] { return DiagonalBiLstm(DiagonalBiLstmShape::FromHyper(kHyper, channels)); },
        Saturate<DiagonalBiLstm>, CalibrateDiagonalBiLstm, ExportIntDiagonalBiLstm);
  }
  static auto FromInt(const Int& m) { return DiagonalBiLstmTensorsFromInt(m); }
  template <class Net>
  static auto FromFloat(Net& net, const RowLstmScales& s, bool ste) { return DiagonalBiLstmTensorsFromFloat(*net, s, ste); }
  template <class Tensors>
  static torch::Tensor Forward(const Tensors& t, const torch::Tensor& q) { return DiagonalBiLstmExactForward(t, q); }
  static std::vector<IntLinear>& Gates(Int& m) { return m.gates_fwd; }
};

template <class Arch>
class PixelRnnTest : public ::testing::Test {};
using PixelRnnArchs = ::testing::Types<RowLstmArch, DiagonalBiLstmArch>;
TYPED_TEST_SUITE(PixelRnnTest, PixelRnnArchs);

// The fake-quantised forwards equal the integer one; the likelihood is close to the float model's (the
// quantisation is not vacuous, nor far off; these weights are 2.5 times the initial ones, so that gates
// saturate: 13.50 against 13.15 bits for RGB in the Diagonal BiLSTM).
TYPED_TEST(PixelRnnTest, FakeQuantForwardEqualsIntegerTorchPath) {
  using A = TypeParam;
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = A::Make(channels, 7);
    auto q = RandomPixels(2, channels, 7, 5, 3);
    torch::NoGradGuard ng;
    auto integer = A::Forward(A::FromInt(f.exported), q);
    auto fake = A::Forward(A::FromFloat(f.model, f.scales, /*ste=*/false), q);
    auto fake_ste = A::Forward(A::FromFloat(f.model, f.scales, /*ste=*/true), q);
    ExpectFakeQuantEqualsInteger(q, fake, fake_ste, integer, A::FromInt(f.exported).param_scale, f.model->forward(q), 3,
                                 A::kNllTolerance);
  }
}

TYPED_TEST(PixelRnnTest, TorchBatchedEqualsCpuIncrementalOnOddSizes) {
  using A = TypeParam;
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = A::Make(channels, 11);
    ExpectBatchedEqualsIncremental<typename A::Coding, typename A::Engine>(f.file_bytes, f.exported, channels);
  }
}

TYPED_TEST(PixelRnnTest, DecoderRefusesOutOfOrderPixels) {
  using A = TypeParam;
  auto f = A::Make(1, 13);
  typename A::Engine dec(f.exported, 4);
  std::vector<int16_t> q(16, 0), params(size_t(f.exported.shape.ParamCount()));
  EXPECT_THROW(dec.Evaluate(q.data(), 4, 0, 1, params.data()), Error);
}

TYPED_TEST(PixelRnnTest, BatchSizeAndThreadCountDoNotChangeABit) {
  using A = TypeParam;
  auto f = A::Make(3, 5);
  auto t = A::FromInt(f.exported);
  ExpectBatchAndThreadInvariance([&](const torch::Tensor& q) { return A::Forward(t, q); },
                                 [&](const torch::Tensor& q) { return A::Forward(A::FromFloat(f.model, f.scales, true), q); },
                                 RandomPixels(8, 3, 6, 7, 21));
}

TYPED_TEST(PixelRnnTest, ModelFileRoundTripsAndIsRefusedByTheOtherArchitecture) {
  using A = TypeParam;
  auto f = A::Make(3, 23);
  ExpectModelFileRoundTripsAndRefusesCorruption<typename A::Int>(f.file_bytes, A::kName);
  const auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  if (std::string(A::kName) == RowLstmArch::kName) EXPECT_THROW(IntDiagonalBiLstm::Read(parsed), Error);
  else EXPECT_THROW(IntRowLstm::Read(parsed), Error);
}

TYPED_TEST(PixelRnnTest, ModelFileRefusesBrokenBoundsRangesAndTables) {
  using A = TypeParam;
  auto f = A::Make(3, 29);
  {
    auto broken = f.exported;
    A::Gates(broken)[1].bias[0] = 1 << 24;
    ExpectRefused(broken, "exactness bound");
  }
  {
    auto broken = f.exported;  // sum |w| * 127 just over 2^24 for one output channel
    auto& g = A::Gates(broken)[0];
    for (int i = 0; i < g.in; ++i) g.weight[size_t(i)] = 127;
    g.bias[0] = (1 << 24) - 127 * 127 * g.in;
    ExpectRefused(broken, "exactness bound");
  }
  {
    auto broken = f.exported;
    broken.out[0].bias[3] = 1 << 24;
    ExpectRefused(broken, "exactness bound");
  }
  {
    auto broken = f.exported;
    A::Gates(broken)[0].hi = 4000;  // beyond the gate tables
    ExpectRefused(broken, "table range");
  }
  {
    auto broken = f.exported;
    broken.gate_tables.sigmoid[100] = -5;
    ExpectRefused(broken, "gate table");
  }
  {
    auto broken = f.exported;
    std::swap(broken.gate_tables.tanh[10], broken.gate_tables.tanh[3000]);
    ExpectRefused(broken, "not monotone");
  }
  EXPECT_THROW(MakeTrainableNetwork(A::kName, "layers=0", 3), Error);
  EXPECT_THROW(MakeTrainableNetwork(A::kName, "state=0", 3), Error);
  EXPECT_THROW(MakeTrainableNetwork(A::kName, "depth=3", 3), Error);
}

// ---- Row LSTM ----

TEST(RowLstmFloat, OutputDependsOnlyOnEarlierPixels) {
  ScopedTorchThreads one_thread(1);
  auto f = RowLstmArch::Make(3, 41);
  torch::NoGradGuard ng;
  ExpectCausal([&](const torch::Tensor& q) { return f.model->forward(q); }, 3, 7, 9, {0, 4, 13, 30, 62});
}

TEST(RowLstmExact, CellKeepsItsStatedRangesAndFollowsTheFloatRecurrence) {
  const auto t = GateTables::Compute();
  std::mt19937 rng(5);
  double worst = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    auto z = [&] { return int32_t(rng() % 4097) - 2048; };
    const int32_t zi = z(), zf = z(), zo = z(), zg = z();
    const int32_t c_prev = int32_t(rng() % 65535) - 32767;
    int16_t c = 0, h = 0;
    RowLstmCell(t, zi, zf, zo, zg, c_prev, &c, &h);
    ASSERT_LE(std::abs(int(c)), kInt16Max);
    ASSERT_LE(std::abs(int(h)), kHiddenMax);
    auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v / 256.0)); };
    const double cf = std::clamp(sig(zf) * c_prev / 4096.0 + sig(zi) * std::tanh(zg / 256.0), -32767 / 4096.0, 32767 / 4096.0);
    const double hf = sig(zo) * std::tanh(cf);
    EXPECT_NEAR(c / 4096.0, cf, 2e-3);
    worst = std::max(worst, std::abs(h / 127.0 - hf));
  }
  EXPECT_LT(worst, 0.02);  // h is int8: half a step plus the tanh-index rounding
}

TEST(RowLstmShapeTest, HyperparametersChecked) {
  EXPECT_THROW(RowLstmShape::FromHyper("row_kernel=4", 3), Error);
  EXPECT_EQ(RowLstmShape::FromHyper(RowLstmArch::kHyper, 3).ToHyper(), RowLstmArch::kHyper);
}

// Measurements for the report: PXZ_HYPER=... run with --gtest_also_run_disabled_tests --gtest_filter='*RowLstmBench*'.
TEST(RowLstmBench, DISABLED_Measure) {
  ScopedTorchThreads threads(1);
  const std::string hyper = std::getenv("PXZ_HYPER") ? std::getenv("PXZ_HYPER") : "";
  const auto shape = RowLstmShape::FromHyper(hyper, 3);
  auto net = MakeTrainableNetwork("row-lstm", hyper, 3);
  int64_t params = 0;
  for (const auto& p : net->module().parameters()) params += p.numel();
  std::printf("%s: %lld parameters, %lld multiply-adds per pixel\n", shape.ToHyper().c_str(), (long long)params,
              (long long)shape.MacsPerPixel());
  auto batch = RandomPixels(32, 3, 32, 32, 1);
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(1e-3));
  net->Calibrate({batch});
  for (bool quantized : {false, true}) {
    const auto t0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();
    const int steps = 3;
    for (int i = 0; i < steps; ++i) {
      auto loss = DiscretizedMixLogisticNll(batch / 255.0, net->Forward(batch, quantized), net->mixtures()).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
    std::printf("%s step (batch 32 of 32x32): %.3f s wall, %.3f s CPU\n", quantized ? "QAT" : "float", wall,
                double(std::clock() - c0) / CLOCKS_PER_SEC / steps);
  }
}

// ---- Diagonal BiLSTM ----

TEST(DiagonalBiLstmFloat, OutputDependsOnlyOnEarlierPixels) {
  ScopedTorchThreads one_thread(1);
  auto f = DiagonalBiLstmArch::Make(3, 41);
  torch::NoGradGuard ng;
  // (Not s = 8: the last pixel of a row reaches the next row's first pixels only through conv0's window,
  // as in the paper; see docs/models.md.)
  ExpectCausal([&](const torch::Tensor& q) { return f.model->forward(q); }, 3, 7, 9, {0, 4, 7, 9, 13, 30, 62});
  // The integer forward too (it never sees a later pixel either; its saturated gates may hide a change).
  auto t = DiagonalBiLstmTensorsFromInt(f.exported);
  ExpectCausal([&](const torch::Tensor& q) { return DiagonalBiLstmExactForward(t, q); }, 3, 6, 5, {0, 4, 5, 17, 29}, false);
}

// The training forward on CUDA (straight-through gradients; skipped where no CUDA device is present)
// equals the integer path on the CPU (conformance_test.cpp compares the coding models' streams).
TEST(DiagonalBiLstmExact, CudaTrainingForwardEqualsCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (int channels : {1, 3}) {
    auto f = DiagonalBiLstmArch::Make(channels, 17);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{9, 6}, std::pair{13, 17}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(7 * h + w));
      auto fake = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, true).To(torch::Device(torch::kCUDA)),
                                             q.to(torch::kCUDA));
      auto integer = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromInt(f.exported), q);
      EXPECT_TRUE(torch::equal(fake.to(torch::kCPU), integer)) << "ste on CUDA, " << channels << " channels " << h << "x" << w;
    }
  }
}

TEST(DiagonalBiLstmShapeTest, HyperparametersChecked) {
  EXPECT_THROW(DiagonalBiLstmShape::FromHyper("row_kernel=3", 3), Error);  // a Row LSTM key
  EXPECT_THROW(DiagonalBiLstmShape::FromHyper("kernel=4", 3), Error);
  EXPECT_EQ(DiagonalBiLstmShape::FromHyper(DiagonalBiLstmArch::kHyper, 3).ToHyper(), DiagonalBiLstmArch::kHyper);
}

}  // namespace
}  // namespace pixelzip::models::nn
