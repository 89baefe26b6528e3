#include "models/nn/arch/pixelrnn/coding_model.h"

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

std::vector<int16_t> PixelRnnCodingModel::AllParams(const PlaneView& image, EngineKind engine) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = shape().ParamCount();
  std::vector<int16_t> q(size_t(W) * H * C);
  for (size_t i = 0; i < q.size(); ++i) q[i] = int16_t(2 * int(image.data[i]) - 255);
  if (engine != EngineKind::kCpu) return TorchParams(q, H, W);
  std::vector<int16_t> out(size_t(W) * H * P);
  auto dec = NewEngine(W);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) dec->Evaluate(q.data(), H, y, x, &out[(size_t(y) * W + x) * P]);
  return out;
}

void PixelRnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = shape().ParamCount();
  const auto params = AllParams(image, encoder_);
  MixtureCdf cdf(tables(), C, shape().mixtures);
  int32_t previous[3];
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int16_t* p = &params[(size_t(y) * W + x) * P];
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(p, c, previous);
        const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
        sink.Put(cdf, v);
        previous[c] = 2 * v - 255;
      }
    }
    if (progress && (y % 8 == 7 || y == H - 1)) progress(double(y + 1) / H);
  }
}

void PixelRnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  std::vector<int16_t> q(size_t(W) * H * C, 0);
  auto dec = NewEngine(W);
  MixtureCdf cdf(tables(), C, shape().mixtures);
  std::vector<int16_t> params(size_t(shape().ParamCount()));
  int32_t previous[3];
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      dec->Evaluate(q.data(), H, y, x, params.data());
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(params.data(), c, previous);
        const int v = source.Get(cdf);
        image.at(uint32_t(y), uint32_t(x), uint32_t(c)) = uint8_t(v);
        previous[c] = 2 * v - 255;
        q[(size_t(y) * W + x) * C + c] = int16_t(previous[c]);
      }
    }
    if (progress && (y % 8 == 7 || y == H - 1)) progress(double(y + 1) / H);
  }
}

}  // namespace pixelzip::models::nn
