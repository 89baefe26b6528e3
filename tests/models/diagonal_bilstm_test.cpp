// Exactness tests of the Diagonal BiLSTM (PixelRNN): the fake-quantised training
// forward, the LibTorch integer path (one anti-diagonal at a time over whole
// images) and the CPU engine (pixel by pixel, each row's backward pass once the
// row is known) agree bit for bit; the model is causal in raster order.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "models/nn/diagonal_bilstm.h"
#include "models/nn/diagonal_bilstm_coding_model.h"
#include "models/nn/logistic_mixture.h"
#include "models/nn/model_file.h"
#include "models/nn/model_loader.h"
#include "models/nn/trainable.h"
#include "models/nn/trainer.h"
#include "pixelzip/error.h"
#include "tests/models/pixelrnn_test_util.h"

#include <unistd.h>

namespace pixelzip::models::nn {
namespace {

using namespace pixelrnn_test;

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
    auto fake = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, /*ste=*/false), q);
    auto fake_ste = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromFloat(*f.model, f.scales, /*ste=*/true), q);
    auto integer = DiagonalBiLstmExactForward(DiagonalBiLstmTensorsFromInt(f.exported), q);
    EXPECT_TRUE(torch::equal(fake, integer)) << "channels " << channels;
    EXPECT_TRUE(torch::equal(fake_ste, integer)) << "channels " << channels;
    // Close to the float model (the quantisation is not vacuous, nor far off; these weights are 2.5 times
    // the initial ones, so that gates saturate: 13.50 against 13.15 bits for RGB).
    auto params_int = integer * DiagonalBiLstmTensorsFromInt(f.exported).param_scale;
    auto params_float = f.model->forward(q);
    const double nll_int = DiscretizedMixLogisticNll(q / 255.0, params_int, 3).sum().item<double>();
    const double nll_float = DiscretizedMixLogisticNll(q / 255.0, params_float, 3).sum().item<double>();
    EXPECT_NEAR(nll_int / q.numel(), nll_float / q.numel(), 0.5) << "channels " << channels;
  }
}

TEST(DiagonalBiLstmExact, TorchBatchedEqualsCpuIncrementalOnOddSizes) {
  ScopedTorchThreads one_thread(1);
  for (int channels : {1, 3}) {
    auto f = MakeFixture(channels, 11);
    ExpectBatchedEqualsIncremental<DiagonalBiLstmCodingModel, DiagonalBiLstmDecoder>(f.file_bytes, f.exported, channels);
  }
}

TEST(DiagonalBiLstmExact, DecoderRefusesOutOfOrderPixels) {
  auto f = MakeFixture(1, 13);
  DiagonalBiLstmDecoder dec(f.exported, 4);
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
  auto parsed = ModelFile::Parse(f.file_bytes.data(), f.file_bytes.size(), "test");
  auto again = IntDiagonalBiLstm::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), f.file_bytes);
  auto loaded = ModelFromBytes(f.file_bytes, "test", Device::kCpu);
  EXPECT_EQ(loaded->Identity().architecture, "diagonal-bilstm");
  EXPECT_THROW(IntRowLstm::Read(parsed), Error);  // not a row-lstm file
  for (size_t pos : {size_t(0), size_t(20), f.file_bytes.size() / 2, f.file_bytes.size() - 1}) {
    auto bad = f.file_bytes;
    bad[pos] ^= 0x40;
    EXPECT_THROW(ModelFile::Parse(bad.data(), bad.size(), "bad"), Error) << pos;
  }
  auto cut = f.file_bytes;
  cut.resize(cut.size() - 40);
  EXPECT_THROW(ModelFile::Parse(cut.data(), cut.size(), "cut"), Error);
}

void ExpectRefused(const IntDiagonalBiLstm& broken, const std::string& what) {
  ModelFile file;
  broken.Write(file);
  try {
    IntDiagonalBiLstm::Read(file);
    FAIL() << "model accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
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

TEST(DiagonalBiLstmTraining, LossFallsFloatAndQuantised) {
  ScopedTorchThreads one_thread(1);
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork("diagonal-bilstm", kTinyHyper, 3);
  auto batch = RandomPixels(8, 3, 10, 10, 99);
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(3e-3));
  auto train = [&](bool quantized, int steps) {
    double first = 0, last = 0;
    for (int i = 0; i < steps; ++i) {
      auto loss = DiscretizedMixLogisticNll(batch / 255.0, net->Forward(batch, quantized), net->mixtures()).mean() / 300.0 / std::log(2.0);
      opt.zero_grad();
      loss.backward();
      opt.step();
      (i == 0 ? first : last) = loss.item<double>();
    }
    return std::pair{first, last};
  };
  const auto [f0, f1] = train(false, 30);
  EXPECT_LT(f1, f0 - 0.3) << "float loss did not fall: " << f0 << " -> " << f1;
  net->Calibrate({batch});
  ASSERT_TRUE(net->calibrated());
  const auto [q0, q1] = train(true, 15);
  EXPECT_LT(q1, q0 - 0.05) << "quantised loss did not fall: " << q0 << " -> " << q1;
  auto again = MakeTrainableNetwork("diagonal-bilstm", kTinyHyper, 3);
  again->LoadScales(net->ScalesTensor());
  EXPECT_TRUE(torch::equal(again->ScalesTensor(), net->ScalesTensor()));
  EXPECT_THROW(again->LoadScales(torch::zeros({3}, torch::kFloat64)), Error);
}

TEST(DiagonalBiLstmTraining, TrainerExportsAnIntegerModelThatCodesLikeTheFakeQuantisedOne) {
  ScopedTorchThreads one_thread(1);
  const auto dir = std::filesystem::temp_directory_path() / ("diagonal_bilstm_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TrainOptions o;
  o.architecture = "diagonal-bilstm";
  o.hyper = kTinyHyper;
  o.steps = 8;
  o.batch = 4;
  o.crop = 10;
  o.warmup_steps = 2;
  o.eval_every = 8;
  o.checkpoint_every = 8;
  o.threads = 1;
  o.progress_bar = false;
  o.qat = true;
  o.checkpoint_path = (dir / "ckpt.pt").string();
  o.export_path = (dir / "model.pxzm").string();
  const auto report = Train(SyntheticImages(3, 16, 3, 5), SyntheticImages(1, 12, 3, 50), o);
  EXPECT_GT(report.float_bpd, 0.0);
  EXPECT_NEAR(report.integer_bpd, report.float_bpd, 0.05);
  auto loaded = ModelFromBytes(ModelFile::Load(o.export_path).Serialize(), o.export_path, Device::kCpu);
  EXPECT_EQ(loaded->Identity().architecture, "diagonal-bilstm");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pixelzip::models::nn
