// Exactness tests of the Diagonal BiLSTM (PixelRNN): the fake-quantised training
// forward, the LibTorch integer path (one anti-diagonal at a time over whole
// images) and the CPU engine (pixel by pixel, each row's backward pass once the
// row is known) agree bit for bit; the model is causal in raster order.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "models/nn/arch/diagonal_bilstm/module.h"
#include "models/nn/arch/diagonal_bilstm/coding_model.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/catalog.h"
#include "models/nn/train/trainable.h"
#include "models/nn/train/trainer.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

#include <unistd.h>

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

constexpr const char* kTinyHyper = "kernel=5,hidden=12,state=10,layers=2,head=16,mixtures=3";

struct Fixture {
  DiagonalBiLstm model{nullptr};
  RowLstmScales scales;
  IntDiagonalBiLstm exported;
  std::vector<uint8_t> file_bytes;
};

Fixture MakeFixture(int channels, uint64_t seed, const std::string& hyper = kTinyHyper) {
  Fixture f;
  torch::manual_seed(seed);
  f.model = DiagonalBiLstm(DiagonalBiLstmShape::FromHyper(hyper, channels));
  {
    // Larger random weights and biases than at initialisation, so that gates saturate, cells reach
    // their clamp and every table region is exercised.
    torch::NoGradGuard ng;
    for (auto& p : f.model->parameters()) {
      if (p.dim() == 1) p.uniform_(-1.5, 1.5);
      else p.mul_(2.5);
    }
  }
  f.scales = CalibrateDiagonalBiLstm(*f.model, {RandomPixels(2, channels, 12, 12, seed + 1)});
  f.exported = ExportIntDiagonalBiLstm(*f.model, f.scales);
  ModelFile file;
  f.exported.Write(file);
  f.file_bytes = file.Serialize();
  return f;
}

TEST(DiagonalBiLstmFloat, OutputDependsOnlyOnEarlierPixels) {
  ScopedTorchThreads one_thread(1);
  auto f = MakeFixture(3, 41);
  torch::NoGradGuard ng;
  // (Not s = 8: the last pixel of a row reaches the next row's first pixels only through conv0's window,
  // as in the paper; see docs/models.md.)
  ExpectCausal([&](const torch::Tensor& q) { return f.model->forward(q); }, 3, 7, 9, {0, 4, 7, 9, 13, 30, 62});
  // The integer forward too (it never sees a later pixel either; its saturated gates may hide a change).
  auto t = DiagonalBiLstmTensorsFromInt(f.exported);
  ExpectCausal([&](const torch::Tensor& q) { return DiagonalBiLstmExactForward(t, q); }, 3, 6, 5, {0, 4, 5, 17, 29}, false);
}

TEST(DiagonalBiLstmExact, FakeQuantForwardEqualsIntegerTorchPath) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 7);
    auto q = RandomPixels(2, channels, 7, 5, 3);
    torch::NoGradGuard ng;
    // The likelihood is close to the float model's (the quantisation is not vacuous, nor far off; these weights
    // are 2.5 times the initial ones, so that gates saturate: 13.50 against 13.15 bits for RGB).
    auto integer = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromInt(f.exported), q);
    auto fake = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, /*ste=*/false), q);
    auto fake_ste = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
    ExpectFakeQuantEqualsInteger(q, fake, fake_ste, integer,
                                 DiagonalBiLstmTensorsFromInt(f.exported).param_scale, f.model->forward(q), 3, 0.5);
  }
}

TEST(DiagonalBiLstmExact, TorchBatchedEqualsCpuIncrementalOnOddSizes) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 11);
    ExpectBatchedEqualsIncremental<DiagonalBiLstmCodingModel, DiagonalBiLstmCpuEngine>(f.file_bytes, f.exported, channels);
  }
}

// The encoder's CUDA pass (skipped where no CUDA device is present) equals the CPU engine, and so does the
// training forward on CUDA (straight-through gradients).
TEST(DiagonalBiLstmExact, CudaEqualsCpuEngine) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 17);
    DiagonalBiLstmCodingModel cpu(f.file_bytes, "test", EngineKind::kCpu);
    DiagonalBiLstmCodingModel cuda(f.file_bytes, "test", EngineKind::kTorchCuda);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{9, 6}, std::pair{13, 17}}) {
      auto q = RandomPixels(1, channels, h, w, uint64_t(7 * h + w));
      auto bytes = ToBytes(q);
      PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
      EXPECT_EQ(cuda.AllParams(view, EngineKind::kTorchCuda), cpu.AllParams(view, EngineKind::kCpu)) << channels << " channels " << h << "x" << w;
      auto fake = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, true).To(torch::Device(torch::kCUDA)),
                                             q.to(torch::kCUDA));
      auto integer = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromInt(f.exported), q);
      EXPECT_TRUE(torch::equal(fake.to(torch::kCPU), integer)) << "ste on CUDA, " << channels << " channels " << h << "x" << w;
    }
  }
}

TEST(DiagonalBiLstmExact, DecoderRefusesOutOfOrderPixels) {
  auto f = MakeFixture(1, 13);
  DiagonalBiLstmCpuEngine dec(f.exported, 4);
  std::vector<int16_t> q(16, 0), params(size_t(f.exported.shape.ParamCount()));
  EXPECT_THROW(dec.Evaluate(q.data(), 4, 0, 1, params.data()), Error);
}

TEST(DiagonalBiLstmExact, BatchSizeAndThreadCountDoNotChangeABit) {
  auto f = MakeFixture(3, 5);
  auto t = DiagonalBiLstmTensorsFromInt(f.exported);
  ExpectBatchAndThreadInvariance([&](const torch::Tensor& q) { return DiagonalBiLstmExactForward(t, q); },
                                 [&](const torch::Tensor& q) { return DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, true), q); },
                                 RandomPixels(8, 3, 6, 7, 21));
}

TEST(DiagonalBiLstmCoding, RoundTripWithEitherEncoderAndPayloadEqualsModelBits) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 43);
    ExpectEncodersAgreeAndRoundTrip<DiagonalBiLstmCodingModel>(f.file_bytes, channels);
  }
}

TEST(DiagonalBiLstmModelFile, RoundTripsAndRefusesCorruption) {
  auto f = MakeFixture(3, 23);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntDiagonalBiLstm>(f.file_bytes, "diagonal-bilstm");
  EXPECT_THROW(IntRowLstm::Read(ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test")), Error);  // not a row-lstm file
}

TEST(DiagonalBiLstmModelFile, RefusesBrokenBoundsRangesAndTables) {
  auto f = MakeFixture(3, 29);
  {
    auto broken = f.exported;
    broken.gates_bwd[1].bias[0] = 1 << 24;
    ExpectRefused(broken, "exactness bound");
  }
  {
    auto broken = f.exported;  // sum |w| * 127 just over 2^24 for one output channel
    auto& g = broken.gates_fwd[0];
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
    broken.gates_fwd[0].hi = 4000;  // beyond the gate tables
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
  EXPECT_THROW(DiagonalBiLstmShape::FromHyper("layers=0", 3), Error);
  EXPECT_THROW(DiagonalBiLstmShape::FromHyper("row_kernel=3", 3), Error);  // a Row LSTM key
  EXPECT_THROW(DiagonalBiLstmShape::FromHyper("kernel=4", 3), Error);
  EXPECT_THROW(MakeTrainableNetwork("diagonal-bilstm", "state=0", 3), Error);
  EXPECT_EQ(DiagonalBiLstmShape::FromHyper(f.exported.shape.ToHyper(), 3).ToHyper(), kTinyHyper);
}

TEST(DiagonalBiLstmTraining, LossFallsFloatAndQuantised) { ExpectLossFallsFloatAndQuantised("diagonal-bilstm", kTinyHyper); }

TEST(DiagonalBiLstmTraining, TrainerExportsAnIntegerModelThatCodesLikeTheFakeQuantisedOne) {
  ExpectTrainerExportsAnIntegerModel("diagonal-bilstm", kTinyHyper, 8);
}

}  // namespace
}  // namespace pixelzip::models::nn
