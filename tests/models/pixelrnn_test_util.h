// Helpers shared by the PixelRNN tests (row_lstm_test.cpp, diagonal_bilstm_test.cpp).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "entropy/range_coder.h"
#include "models/coding_model.h"
#include "models/nn/local_coding_model.h"  // EngineKind
#include "models/nn/model_loader.h"
#include "models/nn/trainer.h"

namespace pixelzip::models::nn::pixelrnn_test {

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

class RangeSink final : public SymbolSink {
 public:
  entropy::RangeEncoder encoder;
  void Put(const SubpixelCdf& cdf, int s) override { encoder.Encode(cdf.At(s), cdf.At(s + 1) - cdf.At(s)); }
};
class RangeSource final : public SymbolSource {
 public:
  explicit RangeSource(const std::vector<uint8_t>& bytes) : decoder(bytes.data(), bytes.size()) {}
  entropy::RangeDecoder decoder;
  int Get(const SubpixelCdf& cdf) override { return decoder.DecodeWithCallable([&](int e) { return cdf.At(e); }, kSymbols); }
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
    if (expect_change && s + 1 < n)
      EXPECT_FALSE(torch::equal(out.view({1, P, -1}).narrow(2, s + 1, 1), out2.narrow(2, s + 1, 1))) << "position " << s + 1;
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
  Coding cpu(file_bytes, "test", EngineKind::kCpu);
  Coding tch(file_bytes, "test", EngineKind::kTorchCpu);
  for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{9, 6}, std::pair{2, 13}, std::pair{11, 1}}) {
    auto q = RandomPixels(1, channels, h, w, uint64_t(h * 100 + w));
    auto bytes = ToBytes(q);
    PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
    const auto batched = tch.AllParams(view, EngineKind::kTorchCpu);
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
    EXPECT_EQ(cpu.AllParams(view, EngineKind::kCpu), batched);
  }
}

// integer(q) on 8 images equals integer() on batches of 1, 3 and 8, with 1 and 2 threads; fake(q) (the
// training path, straight-through gradients) gives the same integers.
inline void ExpectBatchAndThreadInvariance(const std::function<torch::Tensor(const torch::Tensor&)>& integer,
                                           const std::function<torch::Tensor(const torch::Tensor&)>& fake, const torch::Tensor& q) {
  torch::NoGradGuard ng;
  ScopedTorchThreads restore(1);
  auto all = integer(q);
  const int64_t n = q.size(0);
  for (int64_t batch : {1, 3, 8}) {
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < n; i += batch) parts.push_back(integer(q.narrow(0, i, std::min<int64_t>(batch, n - i))));
      EXPECT_TRUE(torch::equal(torch::cat(parts), all)) << "batch " << batch << " threads " << threads;
      EXPECT_TRUE(torch::equal(fake(q.narrow(0, 0, batch)), all.narrow(0, 0, batch))) << "ste batch " << batch << " threads " << threads;
    }
  }
}

// Both encoders (CPU engine, LibTorch) give the same range-coder stream, within 0.1% of the model's code
// length, and the CPU decoder restores the image; 1x1, 9x6 and 5x17 images.
template <class Coding>
void ExpectEncodersAgreeAndRoundTrip(const std::vector<uint8_t>& file_bytes, int channels) {
  for (auto [h, w] : {std::pair{1, 1}, std::pair{9, 6}, std::pair{5, 17}}) {
    auto bytes = ToBytes(RandomPixels(1, channels, h, w, uint64_t(97 * h + w)));
    PlaneView view{uint32_t(w), uint32_t(h), uint32_t(channels), bytes.data()};
    std::vector<uint8_t> streams[2];
    int k = 0;
    for (EngineKind encoder : {EngineKind::kCpu, EngineKind::kTorchCpu}) {
      Coding m(file_bytes, "test", encoder);
      RangeSink sink;
      m.Encode(view, sink, {});
      streams[k++] = sink.encoder.Finish();
    }
    EXPECT_EQ(streams[0], streams[1]) << "the encoders' CDFs differ";
    Coding model(file_bytes, "test", EngineKind::kCpu);
    ExpectRoundTrip(streams[0], ModelCodeLengthBits(model, view), bytes, [&](SymbolSource& source, std::vector<uint8_t>& out) {
      model.Decode(PlaneView{uint32_t(w), uint32_t(h), uint32_t(channels), out.data()}, source, {});
    });
  }
}

}  // namespace pixelzip::models::nn::pixelrnn_test
