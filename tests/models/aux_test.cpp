// PixelCNN with auxiliary variables (arch/aux_pixelcnn/engine.h): the grey constraint and its
// restricted CDF, the conditional local PixelCNN's exactness (batched ==
// incremental, engines, batch/thread counts, fake-quant == integer), both
// variants' coding round trips with identical CDFs at every subpixel, model
// files, and training.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "entropy/range_coder.h"
#include "models/nn/arch/aux_pixelcnn/coding_model.h"
#include "models/nn/arch/aux_pixelcnn/module.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/catalog.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

const char* kTinyGrey = "kernel=5,hidden=12,inner=16,blocks=2,mixtures=3,grey_kernel=3,grey_hidden=8,grey_inner=8,grey_blocks=1";
const char* kTinyPyramid = "base_side=3,kernel=3,hidden=12,inner=16,blocks=2,mixtures=3,base_kernel=3,base_hidden=8,base_inner=8,base_blocks=1";

// A CDF from explicit frequencies (every one >= 1, total 2^16).
class TableCdf final : public SubpixelCdf {
 public:
  explicit TableCdf(std::mt19937& rng, bool peaked) : cum_(kSymbols + 1, 0) {
    std::vector<uint32_t> f(kSymbols, 1);
    uint32_t left = kCdfTotal - kSymbols;
    const int centre = int(rng() % 256);
    while (left > 0) {
      const int s = peaked ? std::clamp(centre + int(rng() % 9) - 4, 0, 255) : int(rng() % 256);
      const uint32_t add = std::min<uint32_t>(left, 1 + rng() % 700);
      f[size_t(s)] += add;
      left -= add;
    }
    for (int s = 0; s < kSymbols; ++s) cum_[size_t(s) + 1] = cum_[size_t(s)] + f[size_t(s)];
  }
  uint32_t At(int e) const override { return cum_[size_t(e)]; }

 private:
  std::vector<uint32_t> cum_;
};

void ExpectValidCdf(const SubpixelCdf& cdf) {
  ASSERT_EQ(cdf.At(0), 0u);
  ASSERT_EQ(cdf.At(kSymbols), kCdfTotal);
  for (int s = 0; s < kSymbols; ++s) ASSERT_GE(cdf.At(s + 1), cdf.At(s) + 1) << s;
}

TEST(AuxGreyConstraint, RangeHoldsExactlyTheConsistentValues) {
  // Exhaustive over R and G, every 5th B: the pixel's own values lie in their ranges.
  for (int r = 0; r < 256; ++r)
    for (int g = 0; g < 256; ++g)
      for (int b = r % 5; b < 256; b += 5) {
        const int grey = GreyOf(r, g, b), coded[3] = {r, g, b};
        for (int c = 0; c < 3; ++c) {
          int lo, hi;
          GreyConsistentRange(grey, c, coded, &lo, &hi);
          ASSERT_LE(lo, coded[c]);
          ASSERT_GE(hi, coded[c]);
        }
      }
  // Tightness: every value of a range (and no value outside) has a completion with the given grey.
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const int grey = int(rng() % 256), coded[3] = {int(rng() % 256), int(rng() % 256), 0};
    for (int c = 0; c < 3; ++c) {
      int lo, hi;
      GreyConsistentRange(grey, c, coded, &lo, &hi);
      for (int v = 0; v < 256; ++v) {
        bool possible = false;
        for (int x1 = 0; x1 < 256 && !possible; ++x1)
          for (int x2 = 0; x2 < 256 && !possible; x2 += (c == 0 ? 1 : 256)) {
            const int r = c == 0 ? v : coded[0], g = c == 0 ? x1 : c == 1 ? v : coded[1];
            const int b = c == 0 ? x2 : c == 1 ? x1 : v;
            possible = GreyOf(r, g, b) == grey;
            if (c == 2) x1 = 256;
          }
        EXPECT_EQ(possible, v >= lo && v <= hi) << "grey " << grey << " channel " << c << " value " << v;
      }
    }
  }
}

TEST(AuxGreyConstraint, IntervalCdfIsValidAndKeepsEveryConsistentSymbolCodable) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 400; ++trial) {
    TableCdf base(rng, trial % 2 == 0);
    int lo = int(rng() % 256), hi = int(rng() % 256);
    if (trial % 7 == 0) hi = lo;
    if (lo > hi) std::swap(lo, hi);
    IntervalCdf cdf;
    cdf.Restrict(base, lo, hi);
    ExpectValidCdf(cdf);
    uint32_t inside = 0;
    for (int s = 0; s < kSymbols; ++s) {
      const uint32_t f = cdf.At(s + 1) - cdf.At(s);
      if (s < lo || s > hi) EXPECT_EQ(f, 1u) << "outside symbols keep the minimum";
      else inside += f;
    }
    EXPECT_EQ(inside, kCdfTotal - (kSymbols - uint32_t(hi - lo + 1)));
    // Never worse than the base CDF on a symbol inside the interval.
    for (int s = lo; s <= hi; ++s) EXPECT_GE(cdf.At(s + 1) - cdf.At(s), base.At(s + 1) - base.At(s)) << s;
  }
  // The full range is the base CDF itself.
  TableCdf base(rng, true);
  IntervalCdf full;
  full.Restrict(base, 0, 255);
  for (int e = 0; e <= kSymbols; ++e) EXPECT_EQ(full.At(e), base.At(e));
}

TEST(AuxGreyConstraint, FloatConstrainedNllMatchesThePlainMixtureOnFullRanges) {
  torch::manual_seed(4);
  const int K = 3;
  auto params = torch::randn({2, MixtureParamCount(3, K), 5, 7});
  auto q = RandomPixels(2, 3, 5, 7, 12);
  auto plain = DiscretizedMixLogisticNll(q / 255.0, params, K);
  auto full = ConstrainedMixNll(q / 255.0, params, K, torch::zeros_like(q), torch::full_like(q, 255.0));
  EXPECT_TRUE(torch::allclose(plain, full, 2e-3, 0.05)) << plain << full;
  torch::Tensor lo, hi;
  GreyRanges(q, &lo, &hi);
  auto constrained = ConstrainedMixNll(q / 255.0, params, K, lo, hi);
  EXPECT_TRUE((constrained < full).all().item<bool>());
  // The tensor ranges are GreyConsistentRange's.
  auto bytes = ToBytes(q.narrow(0, 0, 1));
  auto lo_hwc = lo[0].permute({1, 2, 0}).contiguous(), hi_hwc = hi[0].permute({1, 2, 0}).contiguous();
  for (int i = 0; i < 35; ++i) {
    const int coded[3] = {bytes[size_t(i) * 3], bytes[size_t(i) * 3 + 1], bytes[size_t(i) * 3 + 2]};
    const int grey = GreyOf(coded[0], coded[1], coded[2]);
    for (int c = 0; c < 3; ++c) {
      int l, h;
      GreyConsistentRange(grey, c, coded, &l, &h);
      EXPECT_EQ(l, int(lo_hwc.data_ptr<float>()[i * 3 + c]));
      EXPECT_EQ(h, int(hi_hwc.data_ptr<float>()[i * 3 + c]));
    }
  }
}

// The conditional local PixelCNN: batched engines == incremental evaluation with the conditioning planes.
TEST(AuxConditionalNet, BatchedEnginesEqualIncrementalOnOddSizes) {
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxPyramidArch, kTinyPyramid, 3, 3, &file);
  const auto m = IntAuxPyramid::Read(ModelFile::Parse(file.data(), file.size(), "test"));
  BatchedLocalNet cpu(m.cond, Device::kCpu), tch(m.cond, Device::kTorchCpu);
  for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{40, 3}}) {
    const QPlane plane = PlaneOf(RandomPixels(1, 3, h, w, uint64_t(h * 31 + w)));
    const QPlane aux = PlaneOf(RandomPixels(1, 3, h, w, uint64_t(h * 37 + w)));
    const auto a = cpu.Params(plane, &aux), b = tch.Params(plane, &aux);
    ASSERT_EQ(a, b) << h << "x" << w;
    QPlane partial = plane;
    std::fill(partial.q.begin(), partial.q.end(), int16_t(0));
    LocalPixelCnnCpuEngine ev(m.cond);
    const int P = m.cond.shape.ParamCount();
    std::vector<int16_t> params(size_t(P), 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        ev.Evaluate(partial, y, x, params.data(), &aux);
        ASSERT_TRUE(std::equal(params.begin(), params.end(), a.begin() + (size_t(y) * w + x) * P)) << y << "," << x;
        for (int c = 0; c < 3; ++c) partial.q[(size_t(y) * w + x) * 3 + c] = plane.at(y, x, c);
      }
  }
}

TEST(AuxConditionalNet, BatchSizeAndThreadCountDoNotChangeABit) {
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxGreyArch, kTinyGrey, 3, 5, &file);
  const auto m = IntAuxGrey::Read(ModelFile::Parse(file.data(), file.size(), "test"));
  auto q = RandomPixels(8, 3, 9, 10, 21);
  auto g = GreyOfQ(q);
  auto t = TensorsFromInt(m.colour);
  ExpectBatchSplitsChangeNothing(8, [&](int64_t i, int64_t n) { return ExactForward(t, q.narrow(0, i, n), g.narrow(0, i, n)); });
  at::set_num_threads(1);  // the other tests: one thread (spinning workers crawl on a loaded machine)
}

TEST(AuxGreyExact, FakeQuantForwardEqualsIntegerEngine) {
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxGreyArch, kTinyGrey, 3, 7, &file);
  AuxGreyCodingModel coded(file, "test", Device::kCpu);
  auto q = RandomPixels(1, 3, 9, 6, 3);
  torch::Tensor fake;
  {
    torch::NoGradGuard ng;
    fake = net->Forward(q, true);
  }
  const auto scales = exact_ops::ParamScales(3, coded.model().colour.shape.mixtures);
  auto fixed = (fake / torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1})).round();
  const QPlane grey = PlaneOf(GreyOfQ(q));
  const auto integer = BatchedLocalNet(coded.model().colour, Device::kCpu).Params(PlaneOf(q), &grey);
  auto expect = torch::tensor(std::vector<float>(integer.begin(), integer.end())).view({1, 9, 6, -1}).permute({0, 3, 1, 2});
  EXPECT_TRUE(torch::equal(fixed, expect));
}

TEST(AuxPyramidExact, FakeQuantForwardEqualsIntegerEngineAtEveryPixel) {
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxPyramidArch, kTinyPyramid, 3, 8, &file);
  AuxPyramidCodingModel coded(file, "test", Device::kCpu);
  const auto& m = coded.model();
  const int H = 13, W = 10, C = 3, P = m.cond.shape.ParamCount();
  auto q = RandomPixels(1, C, H, W, 4);
  torch::Tensor fake;
  {
    torch::NoGradGuard ng;
    fake = net->Forward(q, true);
  }
  const auto scales = exact_ops::ParamScales(C, m.cond.shape.mixtures);
  auto fixed = (fake / torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1})).round();
  fixed = fixed[0].permute({1, 2, 0}).contiguous();  // [H, W, P]
  const QPlane full = PlaneOf(q);
  const int L = PyramidLevels(W, H, m.base_side);
  ASSERT_EQ(L, 3);
  std::vector<std::vector<int16_t>> params(size_t(L) + 1);
  params[size_t(L)] = BatchedLocalNet(m.base, Device::kCpu).Params(PyramidLevel(full, L), nullptr);
  for (int l = 0; l < L; ++l) {
    const QPlane level = PyramidLevel(full, l), lower = PyramidLevel(full, l + 1);
    const QPlane aux = UpsampleNearest(lower, level.width, level.height);
    params[size_t(l)] = BatchedLocalNet(m.cond, Device::kCpu).Params(level, &aux);
  }
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      int l = 0;  // the level that codes (y, x)
      while (l < L && y % (2 << l) == 0 && x % (2 << l) == 0) ++l;
      const int s = 1 << l, wl = (W + s - 1) / s;
      const int16_t* expect = &params[size_t(l)][(size_t(y / s) * wl + x / s) * P];
      for (int k = 0; k < P; ++k) ASSERT_EQ(fixed[y][x][k].item<float>(), float(expect[k])) << y << "," << x << " level " << l;
    }
}

// Encodes with both encoder engines, decodes, and checks identical CDFs at every subpixel.
template <typename Model>
void ExpectRoundTrip(const std::vector<uint8_t>& file, int channels, int h, int w, uint64_t seed) {
  auto bytes = ToBytes(RandomPixels(1, channels, h, w, seed));
  PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
  RangeSink sinks[2];
  sinks[0].record_cdfs = sinks[1].record_cdfs = true;
  int k = 0;
  for (Device encoder : {Device::kCpu, Device::kTorchCpu}) Model(file, "test", encoder).Encode(view, sinks[k++], {});
  const auto stream = sinks[0].encoder.Finish();
  ASSERT_EQ(stream, sinks[1].encoder.Finish()) << "the encoders' CDFs differ";
  ASSERT_EQ(sinks[0].cdfs, sinks[1].cdfs);
  ASSERT_EQ(sinks[0].cdfs.size(), size_t(h) * w * (channels + (std::is_same_v<Model, AuxGreyCodingModel> ? 1 : 0)) * 257);
  Model model(file, "test", Device::kCpu);
  std::vector<uint8_t> decoded(bytes.size(), 0);
  PlaneView out{uint32_t(w), uint32_t(h), uint32_t(channels), decoded.data()};
  RangeSource source(stream);
  source.record_cdfs = true;
  model.Decode(out, source, {});
  EXPECT_EQ(decoded, bytes) << h << "x" << w;
  EXPECT_TRUE(source.decoder.AtCleanEnd());
  EXPECT_TRUE(sinks[0].cdfs == source.cdfs) << "decoder CDFs differ from the encoder's";
  const double bits = ModelCodeLengthBits(model, view);
  EXPECT_LE(double(stream.size()) * 8.0, bits * 1.001 + 64.0);
}

TEST(AuxGreyCoding, RoundTripOnOddSizesWithIdenticalCdfs) {
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxGreyArch, kTinyGrey, 3, 11, &file);
  for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{33, 40}})
    ExpectRoundTrip<AuxGreyCodingModel>(file, 3, h, w, uint64_t(h * 7 + w));
}

TEST(AuxGreyCoding, RestrictionToTheGreyImageSavesBits) {
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxGreyArch, kTinyGrey, 3, 13, &file);
  AuxGreyCodingModel model(file, "test", Device::kCpu);
  auto bytes = ToBytes(RandomPixels(1, 3, 12, 11, 5));
  PlaneView view{11, 12, 3, bytes.data()};
  double grey = 0, restricted = 0, grey2 = 0, plain = 0;
  model.CodeLengthBits(view, true, &grey, &restricted);
  model.CodeLengthBits(view, false, &grey2, &plain);
  EXPECT_EQ(grey, grey2);
  EXPECT_LT(restricted, plain);
  EXPECT_NEAR(ModelCodeLengthBits(model, view), grey + restricted, 1e-6 * (grey + restricted));
  // The float training loss counts the same two parts (integer CDFs cost a little more than float).
  torch::NoGradGuard ng;
  auto q = torch::from_blob(bytes.data(), {1, 12, 11, 3}, torch::kUInt8).permute({0, 3, 1, 2}).to(torch::kFloat32) * 2.0 - 255.0;
  const double float_bits = net->Nll(q, true).item<double>() / std::log(2.0);
  EXPECT_NEAR((grey + restricted) / 396.0, float_bits / 396.0, 0.05);
}

TEST(AuxGreyCoding, DecoderRefusesAPixelInconsistentWithItsGrey) {
  int lo, hi;
  const int coded[3] = {255, 255, 0};
  GreyConsistentRange(0, 2, coded, &lo, &hi);
  EXPECT_GT(lo, hi);
}

TEST(AuxPyramidCoding, RoundTripOnOddSizesWithIdenticalCdfs) {
  for (int channels : {1, 3}) {
    std::vector<uint8_t> file;
    auto net = MakeCalibratedNet(kAuxPyramidArch, kTinyPyramid, channels, 17 + channels, &file);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{2, 13}, std::pair{37, 26}})
      ExpectRoundTrip<AuxPyramidCodingModel>(file, channels, h, w, uint64_t(h * 11 + w));
  }
}

TEST(AuxPyramidGeometry, LevelsAndUpsampling) {
  EXPECT_EQ(PyramidLevels(3, 3, 3), 0);
  EXPECT_EQ(PyramidLevels(7, 5, 3), 2);
  EXPECT_EQ(PyramidLevels(768, 512, 8), 7);
  const QPlane full = PlaneOf(RandomPixels(1, 2, 7, 5, 1));
  const QPlane l1 = PyramidLevel(full, 1), l2 = PyramidLevel(full, 2);
  EXPECT_EQ(l1.width, 3);
  EXPECT_EQ(l1.height, 4);
  EXPECT_EQ(l2.at(1, 1, 1), full.at(4, 4, 1));
  const QPlane up = UpsampleNearest(l2, l1.width, l1.height);
  for (int y = 0; y < l1.height; ++y)
    for (int x = 0; x < l1.width; ++x) {
      EXPECT_EQ(up.at(y, x, 0), l2.at(y / 2, x / 2, 0));
      if (!PyramidCodes(y, x)) {
        EXPECT_EQ(l1.at(y, x, 1), l2.at(y / 2, x / 2, 1));
      }
    }
}

TEST(AuxModelFile, RoundTripAndCorruptionRefused) {
  std::vector<uint8_t> grey_file, pyramid_file;
  MakeCalibratedNet(kAuxGreyArch, kTinyGrey, 3, 23, &grey_file);
  MakeCalibratedNet(kAuxPyramidArch, kTinyPyramid, 3, 23, &pyramid_file);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntAuxGrey>(grey_file, kAuxGreyArch);
  ExpectModelFileRoundTripsAndRefusesCorruption<IntAuxPyramid>(pyramid_file, kAuxPyramidArch);
  // A sub-network failing the exactness bound, or in the wrong role, is refused.
  std::vector<uint8_t> file;
  auto net = MakeCalibratedNet(kAuxGreyArch, kTinyGrey, 3, 29, &file);
  auto m = IntAuxGrey::Read(ModelFile::Parse(file.data(), file.size(), "test"));
  auto broken = m;
  broken.colour.conv0.bias[0] = (1 << 24) - 1;
  EXPECT_THROW(broken.Validate(), Error);
  std::swap(broken.grey, broken.colour);
  ModelFile swapped;
  broken.Write(swapped);
  const auto bytes = swapped.Serialize();
  EXPECT_THROW(ModelFromBytes(bytes, "swapped", Device::kCpu), Error);
  // A conditional network cannot code alone as a local-pixelcnn model.
  ModelFile lone;
  m.colour.Write(lone);
  const auto lone_bytes = lone.Serialize();
  EXPECT_THROW(ModelFromBytes(lone_bytes, "lone", Device::kCpu), Error);
}

// (conformance_test.cpp checks that training lowers the loss and the trainer's export.)
TEST(AuxTraining, HyperparametersAndChannelsChecked) {
  EXPECT_THROW(MakeTrainableNetwork(kAuxGreyArch, "", 1), Error);
  EXPECT_THROW(MakeTrainableNetwork(kAuxGreyArch, "aux=2", 3), Error);
  EXPECT_THROW(MakeTrainableNetwork(kAuxPyramidArch, "base_side=0", 3), Error);
  EXPECT_THROW(MakeTrainableNetwork("local-pixelcnn", "aux=1", 3), Error);
}

}  // namespace
}  // namespace pixelzip::models::nn
