// Exactness tests of the Row LSTM (PixelRNN): the fake-quantised training
// forward, the LibTorch integer path (row-by-row recurrence over whole images)
// and the CPU engine (pixel by pixel, previous-row states cached) agree bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <random>

#include "entropy/range_coder.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/arch/row_lstm/module.h"
#include "models/nn/arch/row_lstm/coding_model.h"
#include "models/nn/train/trainable.h"
#include "models/nn/train/trainer.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

#include <unistd.h>

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kTinyHyper = "kernel=5,hidden=12,state=10,layers=2,row_kernel=3,head=16,mixtures=3";

struct Fixture {
  RowLstm model{nullptr};
  RowLstmScales scales;
  IntRowLstm exported;
  std::vector<uint8_t> file_bytes;
};

Fixture MakeFixture(int channels, uint64_t seed, const std::string& hyper = kTinyHyper) {
  Fixture f;
  torch::manual_seed(seed);
  f.model = RowLstm(RowLstmShape::FromHyper(hyper, channels));
  {
    // Larger random weights and biases than at initialisation, so that gates saturate, cells reach
    // their clamp and every table region is exercised.
    torch::NoGradGuard ng;
    for (auto& p : f.model->parameters()) {
      if (p.dim() == 1) p.uniform_(-1.5, 1.5);
      else p.mul_(2.5);
    }
  }
  f.scales = CalibrateRowLstm(*f.model, {RandomPixels(2, channels, 12, 12, seed + 1)});
  f.exported = ExportIntRowLstm(*f.model, f.scales);
  ModelFile file;
  f.exported.Write(file);
  f.file_bytes = file.Serialize();
  return f;
}

TEST(RowLstmFloat, OutputDependsOnlyOnEarlierPixels) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 41);
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

TEST(RowLstmExact, FakeQuantForwardEqualsIntegerTorchPath) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 7);
    auto q = RandomPixels(2, channels, 7, 5, 3);
    torch::NoGradGuard ng;
    // The likelihood is close to the float model's (the quantisation is not vacuous, nor far off).
    auto integer = RowLstmExactForward(RowLstmTensorsFromInt(f.exported), q);
    auto fake = RowLstmExactForward(RowLstmTensorsFromFloat(*f.model, f.scales, /*ste=*/false), q);
    auto fake_ste = RowLstmExactForward(RowLstmTensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
    ExpectFakeQuantEqualsInteger(q, fake, fake_ste, integer,
                                 RowLstmTensorsFromInt(f.exported).param_scale, f.model->forward(q), 3, 0.25);
  }
}

TEST(RowLstmExact, TorchBatchedEqualsCpuIncrementalOnOddSizes) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 11);
    ExpectBatchedEqualsIncremental<RowLstmCodingModel, RowLstmCpuEngine>(f.file_bytes, f.exported, channels);
  }
}

TEST(RowLstmExact, DecoderRefusesOutOfOrderPixels) {
  auto f = MakeFixture(1, 13);
  RowLstmCpuEngine dec(f.exported, 4);
  std::vector<int16_t> q(16, 0), params(size_t(f.exported.shape.ParamCount()));
  EXPECT_THROW(dec.Evaluate(q.data(), 4, 0, 1, params.data()), Error);
}

TEST(RowLstmExact, BatchSizeAndThreadCountDoNotChangeABit) {
  auto f = MakeFixture(3, 5);
  auto t = RowLstmTensorsFromInt(f.exported);
  ExpectBatchAndThreadInvariance([&](const torch::Tensor& q) { return RowLstmExactForward(t, q); },
                                 [&](const torch::Tensor& q) { return RowLstmExactForward(RowLstmTensorsFromFloat(*f.model, f.scales, true), q); },
                                 RandomPixels(8, 3, 6, 7, 21));
}

TEST(RowLstmCoding, RoundTripWithEitherEncoderAndPayloadEqualsModelBits) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 43);
    ExpectEncodersAgreeAndRoundTrip<RowLstmCodingModel>(f.file_bytes, channels);
  }
}

TEST(RowLstmModelFile, RoundTripsAndRefusesCorruption) {
  auto f = MakeFixture(3, 23);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntRowLstm>(f.file_bytes, "row-lstm");
}

TEST(RowLstmModelFile, RefusesBrokenBoundsRangesAndTables) {
  auto f = MakeFixture(3, 29);
  {
    auto broken = f.exported;
    broken.gates[1].bias[0] = 1 << 24;
    ExpectRefused(broken, "exactness bound");
  }
  {
    auto broken = f.exported;
    broken.gates[0].hi = 4000;  // beyond the gate tables
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
  EXPECT_THROW(RowLstmShape::FromHyper("layers=0", 3), Error);
  EXPECT_THROW(RowLstmShape::FromHyper("row_kernel=4", 3), Error);
  EXPECT_THROW(RowLstmShape::FromHyper("depth=3", 3), Error);
  EXPECT_THROW(MakeTrainableNetwork("row-lstm", "state=0", 3), Error);
}

TEST(RowLstmTraining, LossFallsFloatAndQuantised) { ExpectLossFallsFloatAndQuantised("row-lstm", kTinyHyper); }

TEST(RowLstmTraining, TrainerExportsAnIntegerModelThatCodesLikeTheFakeQuantisedOne) {
  ExpectTrainerExportsAnIntegerModel("row-lstm", kTinyHyper, 10);
}

}  // namespace
}  // namespace pixelzip::models::nn

namespace pixelzip::models::nn {
namespace {

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

}  // namespace
}  // namespace pixelzip::models::nn
