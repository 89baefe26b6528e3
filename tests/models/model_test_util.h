// Helpers shared by the model tests: random images, the one range sink/source pair over the
// project's range coder, and checks every architecture needs (conformance_test.cpp runs
// the generic ones over the whole catalog).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "entropy/range_coder.h"
#include "models/coding_model.h"
#include "pixelzip/types.h"  // Device
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/runtime/qplane.h"
#include "models/nn/catalog.h"
#include "models/nn/train/trainable.h"
#include "models/nn/train/trainer.h"
#include "pixelzip/error.h"

#include <unistd.h>

namespace pixelzip::models::nn::model_test {

class ScopedTorchThreads {
 public:
  explicit ScopedTorchThreads(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ScopedTorchThreads() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

// Smooth-ish random pixels as q = 2v - 255, float [b, c, h, w].
inline torch::Tensor RandomPixels(int64_t b, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  torch::manual_seed(seed);
  auto base = torch::randint(0, 256, {b, c, h, 1}).to(torch::kFloat32);
  auto steps = torch::randint(-12, 13, {b, c, h, w}).to(torch::kFloat32).cumsum(3);
  return ((base + steps).remainder(256.0) * 2.0 - 255.0);
}

inline std::vector<uint8_t> ToBytes(const torch::Tensor& q) {  // [1, C, H, W] -> HWC bytes
  auto v = ((q[0].permute({1, 2, 0}) + 255.0) / 2.0).round().to(torch::kUInt8).contiguous();
  return std::vector<uint8_t>(v.data_ptr<uint8_t>(), v.data_ptr<uint8_t>() + v.numel());
}

// [1, C, H, W] pixel values q = 2v - 255 -> the QPlane the CPU engines read.
inline QPlane PlaneOf(const torch::Tensor& q) {
  auto v = q[0].permute({1, 2, 0}).to(torch::kInt16).contiguous();
  QPlane p;
  p.height = int(q.size(2));
  p.width = int(q.size(3));
  p.channels = int(q.size(1));
  p.q.assign(v.data_ptr<int16_t>(), v.data_ptr<int16_t>() + v.numel());
  return p;
}

// Integer-valued parameters [1, P, H, W] -> [H][W][P], as the CPU engines give them.
inline std::vector<int16_t> HwcParams(const torch::Tensor& params) {
  auto v = params[0].permute({1, 2, 0}).to(torch::kCPU).to(torch::kInt16).contiguous();
  return std::vector<int16_t>(v.data_ptr<int16_t>(), v.data_ptr<int16_t>() + v.numel());
}

inline std::vector<Image> SyntheticImages(int n, int size, int channels, uint64_t seed) {
  std::vector<Image> out;
  for (int i = 0; i < n; ++i) {
    Image im;
    im.width = im.height = uint32_t(size);
    im.channels = uint32_t(channels);
    im.pixels = ToBytes(RandomPixels(1, channels, size, size, seed + uint64_t(i)));
    out.push_back(std::move(im));
  }
  return out;
}

// The range coder behind a model's Encode / Decode; the sink counts the symbols put. With record_cdfs, every
// CDF put or got (all 257 edges) is kept, in order, so that tests can compare the encoder's CDFs with the decoder's.
class RangeSink final : public SymbolSink {
 public:
  entropy::RangeEncoder encoder;
  int64_t symbols = 0;
  bool record_cdfs = false;
  std::vector<uint32_t> cdfs;
  void Put(const SymbolPosition&, const SubpixelCdf& cdf, int s) override {
    if (record_cdfs)
      for (int e = 0; e <= kSymbols; ++e) cdfs.push_back(cdf.At(e));
    encoder.Encode(cdf.At(s), cdf.At(s + 1) - cdf.At(s));
    ++symbols;
  }
};
class RangeSource final : public SymbolSource {
 public:
  explicit RangeSource(const std::vector<uint8_t>& bytes) : decoder(bytes.data(), bytes.size()) {}
  entropy::RangeDecoder decoder;
  bool record_cdfs = false;
  std::vector<uint32_t> cdfs;
  int Get(const SymbolPosition&, const SubpixelCdf& cdf) override {
    if (record_cdfs)
      for (int e = 0; e <= kSymbols; ++e) cdfs.push_back(cdf.At(e));
    return decoder.DecodeWithCallable([&](int e) { return cdf.At(e); }, kSymbols);
  }
};

// The output at raster position s depends only on positions <= s: changing s.. leaves 0..s alone and (with
// `expect_change`) changes s + 1.
inline void ExpectCausal(const std::function<torch::Tensor(const torch::Tensor&)>& forward, int channels, int h, int w,
                         const std::vector<int>& positions, bool expect_change = true) {
  auto q = RandomPixels(1, channels, h, w, 5);
  auto out = forward(q);
  const int64_t n = int64_t(h) * w, P = out.size(1);
  for (int s : positions) {
    auto changed = q.clone().view({1, channels, -1});
    changed.narrow(2, s, n - s).neg_();
    auto out2 = forward(changed.view({1, channels, h, w})).view({1, P, -1});
    auto upto = out.view({1, P, -1}).narrow(2, 0, s + 1);
    EXPECT_TRUE(torch::equal(upto, out2.narrow(2, 0, s + 1))) << "position " << s;
    if (expect_change && s + 1 < n) {
      EXPECT_FALSE(torch::equal(out.view({1, P, -1}).narrow(2, s + 1, 1), out2.narrow(2, s + 1, 1))) << "position " << s + 1;
    }
  }
}

// Payload within 0.1% of the model's code length, and the stream decodes to `bytes`.
// encode(sink) codes the image; decode(source, out) decodes it.
inline void ExpectRoundTrip(const std::vector<uint8_t>& stream, double model_bits, const std::vector<uint8_t>& bytes,
                            const std::function<void(SymbolSource&, std::vector<uint8_t>&)>& decode) {
  EXPECT_LE(double(stream.size()) * 8.0, model_bits * 1.001 + 64.0);
  EXPECT_GE(double(stream.size()) * 8.0, model_bits - 8.0);
  std::vector<uint8_t> decoded(bytes.size(), 0);
  RangeSource source(stream);
  decode(source, decoded);
  EXPECT_EQ(decoded, bytes);
  EXPECT_TRUE(source.decoder.AtCleanEnd());
}

// The LibTorch batched pass of a `Coding` model equals its CPU engine `Decoder` pixel by pixel (pixels at
// and after (y, x) unknown, zero, when (y, x) is evaluated) on 1x1, 7x5, 9x6, 2x13 and 11x1 images, and
// the CPU encoder's parameters too.
template <class Coding, class Decoder, class IntModel>
void ExpectBatchedEqualsIncremental(const std::vector<uint8_t>& file_bytes, const IntModel& model, int channels) {
  Coding cpu(file_bytes, "test", Device::kCpu);
  Coding tch(file_bytes, "test", Device::kTorchCpu);
  for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{2, 13}, std::pair{11, 1}}) {
    auto q = RandomPixels(1, channels, h, w, uint64_t(h * 100 + w));
    auto bytes = ToBytes(q);
    PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
    const auto batched = tch.AllParams(view, Device::kTorchCpu);
    const int P = model.shape.ParamCount();
    std::vector<int16_t> partial(bytes.size(), 0);
    std::vector<int16_t> params(static_cast<size_t>(P));
    Decoder dec(model, w);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        dec.Evaluate(partial.data(), h, y, x, params.data());
        ASSERT_TRUE(std::equal(params.begin(), params.end(), batched.begin() + (size_t(y) * w + x) * P))
            << channels << " channels " << h << "x" << w << " at " << y << "," << x;
        for (int c = 0; c < channels; ++c) {
          const size_t i = (size_t(y) * w + x) * channels + c;
          partial[i] = int16_t(2 * bytes[i] - 255);
        }
      }
    EXPECT_EQ(cpu.AllParams(view, Device::kCpu), batched);
  }
}

// integer(q) on 8 images equals integer() on batches of 1, 3 and 8, with 1 and 2 threads; fake(q) (the
// training path, straight-through gradients) gives the same integers.
// forward(start, count) (images start .. start + count - 1 of a batch of n) computed in batches of 1, 3 and 8
// with 1 and 2 threads equals forward(0, n); after_each(batch, all) runs further checks at each setting.
inline void ExpectBatchSplitsChangeNothing(
    int64_t n, const std::function<torch::Tensor(int64_t start, int64_t count)>& forward,
    const std::function<void(int64_t batch, const torch::Tensor& all)>& after_each = nullptr) {
  torch::NoGradGuard ng;
  ScopedTorchThreads restore(1);
  auto all = forward(0, n);
  for (int64_t batch : {1, 3, 8}) {
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      SCOPED_TRACE("batch " + std::to_string(batch) + " threads " + std::to_string(threads));
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < n; i += batch) parts.push_back(forward(i, std::min<int64_t>(batch, n - i)));
      EXPECT_TRUE(torch::equal(torch::cat(parts), all));
      if (after_each) after_each(batch, all);
    }
  }
}

inline void ExpectBatchAndThreadInvariance(const std::function<torch::Tensor(const torch::Tensor&)>& integer,
                                           const std::function<torch::Tensor(const torch::Tensor&)>& fake, const torch::Tensor& q) {
  ExpectBatchSplitsChangeNothing(
      q.size(0), [&](int64_t start, int64_t count) { return integer(q.narrow(0, start, count)); },
      [&](int64_t batch, const torch::Tensor& all) {
        EXPECT_TRUE(torch::equal(fake(q.narrow(0, 0, batch)), all.narrow(0, 0, batch))) << "ste";
      });
}

// Both encoders (CPU engine, LibTorch) give the same range-coder stream, within 0.1% of the model's code
// length, and the CPU decoder restores the image; 1x1, 9x6 and 5x17 images.
// The range-coder stream of `bytes` (w x h x channels) under `model`.
inline std::vector<uint8_t> EncodeStream(const CodingModel& model, std::vector<uint8_t>& bytes, int w, int h, int channels) {
  RangeSink sink;
  model.Encode(PlaneView{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()}, sink, {});
  return sink.encoder.Finish();
}

// `model` decodes `stream` to `bytes` (w x h x channels) and stops at the stream's clean end.
inline void ExpectDecodes(const CodingModel& model, const std::vector<uint8_t>& stream, const std::vector<uint8_t>& bytes, int w,
                          int h, int channels) {
  std::vector<uint8_t> decoded(bytes.size(), 0);
  RangeSource source(stream);
  model.Decode(PlaneView{uint32_t(w), uint32_t(h), uint32_t(channels), decoded.data()}, source, {});
  EXPECT_EQ(decoded, bytes) << channels << " channels " << h << "x" << w;
  EXPECT_TRUE(source.decoder.AtCleanEnd());
}

// Every encoder in `encoders` (models made by make(engine)) gives the same range-coder stream of a random
// h x w image, within 0.1% of the model's code length, and the CPU model's decoder restores the image.
inline void ExpectEncodersAgreeAndRoundTrip(const std::function<std::shared_ptr<const CodingModel>(Device)>& make,
                                            int channels, int h, int w,
                                            std::initializer_list<Device> encoders = {Device::kCpu, Device::kTorchCpu}) {
  auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(97 * h + w)));
  const auto model = make(Device::kCpu);
  const auto stream = EncodeStream(*model, bytes, w, h, channels);
  for (Device encoder : encoders)
    EXPECT_EQ(EncodeStream(*make(encoder), bytes, w, h, channels), stream)
        << "encoder " << int(encoder) << ": the encoders' CDFs differ, " << h << "x" << w;
  PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
  ExpectRoundTrip(stream, ModelCodeLengthBits(*model, view), bytes, [&](SymbolSource& source, std::vector<uint8_t>& out) {
    model->Decode(PlaneView{uint32_t(w), uint32_t(h), uint32_t(channels), out.data()}, source, {});
  });
}

// The same for a coding model class, on 1x1, 9x6 and 5x17 images.
template <class Coding>
void ExpectEncodersAgreeAndRoundTrip(const std::vector<uint8_t>& file_bytes, int channels) {
  for (auto [h, w] : {std::pair{1, 1}, std::pair{9, 6}, std::pair{5, 17}})
    ExpectEncodersAgreeAndRoundTrip(
        [&](Device e) { return std::make_shared<const Coding>(file_bytes, "test", e); }, channels, h, w);
}

// A randomly initialised network of `arch` with non-zero biases, calibrated on random pixels; its model file in *file.
inline std::unique_ptr<TrainableNetwork> MakeCalibratedNet(const std::string& arch, const std::string& hyper, int channels,
                                                          uint64_t seed, std::vector<uint8_t>* file) {
  torch::manual_seed(seed);
  auto net = MakeTrainableNetwork(arch, hyper, channels);
  {
    torch::NoGradGuard ng;
    for (auto& p : net->module().parameters())
      if (p.dim() == 1) p.uniform_(-0.3, 0.3);
  }
  net->Calibrate({RandomPixels(2, channels, 16, 16, seed + 1)});
  *file = net->ExportModelFile();
  return net;
}

// A float network of one architecture with its calibrated quantisation scales, the integer model exported
// from them and that model's file.
template <class Net, class Scales, class IntModel>
struct ExportedNet {
  Net model{nullptr};
  Scales scales;
  IntModel exported;
  std::vector<uint8_t> file_bytes;
};

// Biases uniform in [-r, r], so that they are exercised (a perturbation for MakeExportedNet).
inline void RandomizeBiases(torch::nn::Module& m, double r) {
  for (auto& p : m.parameters())
    if (p.dim() == 1) p.uniform_(-r, r);
}

// Seeds LibTorch with `seed`, builds make() (a module holder), lets perturb(holder) change its fresh weights
// (no gradients), calibrates it on two random side x side images (calibrate(module, batches) -> scales) and
// exports it (export_model(module, scales) -> integer model).
template <class Make, class Perturb, class Calibrate, class Export>
auto MakeExportedNet(uint64_t seed, int channels, int side, Make make, Perturb perturb, Calibrate calibrate,
                     Export export_model) {
  torch::manual_seed(seed);
  auto model = make();
  {
    torch::NoGradGuard ng;
    perturb(model);
  }
  auto scales = calibrate(*model, std::vector<torch::Tensor>{RandomPixels(2, channels, side, side, seed + 1)});
  auto exported = export_model(*model, scales);
  auto bytes = ModelFileBytes(exported);
  return ExportedNet<decltype(model), decltype(scales), decltype(exported)>{model, scales, exported, bytes};
}

// The fake-quantised forward fake(ste), with straight-through gradients off and on, equals `integer` bit for bit.
inline void ExpectFakeEqualsInteger(const std::function<torch::Tensor(bool ste)>& fake, const torch::Tensor& integer) {
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(fake(false), integer)) << "ste off";
  EXPECT_TRUE(torch::equal(fake(true), integer)) << "ste on";
}

// The fake-quantised forwards (ste off and on) equal the integer one, and the integer model's likelihood is
// within `tolerance` bits per subpixel of the float model's (params_float) on q.
inline void ExpectFakeQuantEqualsInteger(const torch::Tensor& q, const torch::Tensor& fake, const torch::Tensor& fake_ste,
                                         const torch::Tensor& integer, const torch::Tensor& param_scale,
                                         const torch::Tensor& params_float, int mixtures, double tolerance) {
  EXPECT_TRUE(torch::equal(fake, integer));
  EXPECT_TRUE(torch::equal(fake_ste, integer));
  const double nll_int = DiscretizedMixLogisticNll(q / 255.0, integer * param_scale, mixtures).sum().item<double>();
  const double nll_float = DiscretizedMixLogisticNll(q / 255.0, params_float, mixtures).sum().item<double>();
  EXPECT_NEAR(nll_int / q.numel(), nll_float / q.numel(), tolerance);
}

// The file re-serialises to the same bytes, loads as `arch`, and corrupt or cut copies are refused.
template <class IntModel>
void ExpectModelFileRoundTripsAndRefusesCorruption(const std::vector<uint8_t>& file_bytes, const std::string& arch) {
  auto parsed = ModelFile::Parse(file_bytes.data(), file_bytes.size(), "test");
  auto again = IntModel::Read(parsed);
  ModelFile out;
  again.Write(out);
  EXPECT_EQ(out.Serialize(), file_bytes);
  auto loaded = ModelFromBytes(file_bytes, "test", Device::kCpu);
  EXPECT_EQ(loaded->Identity().architecture, arch);
  for (size_t pos : {size_t(0), size_t(20), file_bytes.size() / 2, file_bytes.size() - 1}) {
    auto bad = file_bytes;
    bad[pos] ^= 0x40;
    EXPECT_THROW(ModelFile::Parse(bad.data(), bad.size(), "bad"), Error) << pos;
  }
  auto cut = file_bytes;
  cut.resize(cut.size() - 40);
  EXPECT_THROW(ModelFile::Parse(cut.data(), cut.size(), "cut"), Error);
}

// Writing `broken` and reading it back is refused with kModelInvalid, the message containing `what`.
template <class IntModel>
void ExpectRefused(const IntModel& broken, const std::string& what) {
  ModelFile file;
  broken.Write(file);
  try {
    IntModel::Read(file);
    FAIL() << "model accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

// `steps` optimiser steps of net on one batch (its Nll in bits per subpixel, fake-quantised with `quantized`);
// returns the loss before the first step and before the last.
inline std::pair<double, double> TrainSteps(TrainableNetwork& net, torch::optim::Optimizer& opt, const torch::Tensor& batch,
                                            bool quantized, int steps) {
  double first = 0, last = 0;
  for (int i = 0; i < steps; ++i) {
    auto loss = net.Nll(batch, quantized).mean() / double(batch[0].numel()) / std::log(2.0);
    opt.zero_grad();
    loss.backward();
    opt.step();
    (i == 0 ? first : last) = loss.item<double>();
  }
  return std::pair{first, last};
}

// 30 float and (after calibration) 15 quantised Adam steps (learning rate 5e-3) on one batch lower the loss
// (Nll, bits per subpixel: by 0.3 and 0.1; every conformance case falls by at least 0.43 and 0.2); the scales
// round-trip through a checkpoint tensor, and one of the wrong size is refused.
inline void ExpectLossFallsFloatAndQuantised(const std::string& arch, const std::string& hyper, int channels = 3) {
  ScopedTorchThreads one_thread(1);
  torch::manual_seed(3);
  auto net = MakeTrainableNetwork(arch, hyper, channels);
  auto batch = RandomPixels(8, channels, 10, 10, 99);
  torch::optim::Adam opt(net->module().parameters(), torch::optim::AdamOptions(5e-3));
  auto train = [&](bool quantized, int steps) { return TrainSteps(*net, opt, batch, quantized, steps); };
  const auto [f0, f1] = train(false, 30);
  EXPECT_LT(f1, f0 - 0.3) << "float loss did not fall: " << f0 << " -> " << f1;
  net->Calibrate({batch});
  ASSERT_TRUE(net->calibrated());
  const auto [q0, q1] = train(true, 15);
  EXPECT_LT(q1, q0 - 0.1) << "quantised loss did not fall: " << q0 << " -> " << q1;
  auto again = MakeTrainableNetwork(arch, hyper, channels);
  again->LoadScales(net->ScalesTensor());
  EXPECT_TRUE(torch::equal(again->ScalesTensor(), net->ScalesTensor()));
  EXPECT_THROW(again->LoadScales(torch::zeros({net->ScalesTensor().numel() + 1}, torch::kFloat64)), Error);
}

// `steps` quantisation-aware trainer steps export a model of `arch` whose code length is within 0.05 bpd of
// the fake-quantised likelihood.
inline void ExpectTrainerExportsAnIntegerModel(const std::string& arch, const std::string& hyper, int steps,
                                               int channels = 3) {
  ScopedTorchThreads one_thread(1);
  const auto dir = std::filesystem::temp_directory_path() / (arch + "_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TrainOptions o;
  o.architecture = arch;
  o.hyper = hyper;
  o.steps = steps;
  o.batch = 4;
  o.crop = 10;
  o.warmup_steps = 2;
  o.eval_every = steps;
  o.checkpoint_every = steps;
  o.threads = 1;
  o.progress_bar = false;
  o.qat = true;
  o.checkpoint_path = (dir / "ckpt.pt").string();
  o.export_path = (dir / "model.pxzm").string();
  const auto report = Train(SyntheticImages(3, 16, channels, 5), SyntheticImages(1, 12, channels, 50), o);
  EXPECT_GT(report.float_bpd, 0.0);
  EXPECT_NEAR(report.integer_bpd, report.float_bpd, 0.05);
  auto loaded = ModelFromBytes(ModelFile::Load(o.export_path).Serialize(), o.export_path, Device::kCpu);
  EXPECT_EQ(loaded->Identity().architecture, arch);
  std::filesystem::remove_all(dir);
}

}  // namespace pixelzip::models::nn::model_test
