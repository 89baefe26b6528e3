#include "models/nn/arch/pixelrnn/coding_model.h"

#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

PixelRnnCodingModel::PixelRnnCodingModel(Device encoder) : engine_(encoder) {}
PixelRnnCodingModel::~PixelRnnCodingModel() = default;

std::vector<int16_t> PixelRnnCodingModel::AllParams(const PlaneView& image, Device engine) const {
  const int W = int(image.width), H = int(image.height), P = shape().ParamCount();
  const QPlane q = ToQPlane(image);  // [H][W][C], 2v - 255
  if (engine != Device::kCpu) {
    if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
    TorchPassInput in;
    in.plane = &q;
    in.y0 = 0;
    in.y1 = H;
    return torch_->Params(in);
  }
  std::vector<int16_t> out(size_t(W) * H * P);
  auto dec = NewEngine(W);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) dec->Evaluate(q.q.data(), H, y, x, &out[(size_t(y) * W + x) * P]);
  return out;
}

void PixelRnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = shape().ParamCount();
  const auto params = AllParams(image, engine_);
  MixturePixelCoder coder(tables(), C, shape().mixtures);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int16_t* p = &params[(size_t(y) * W + x) * P];
      coder.Encode(image, y, x, p, sink);
    }
    ReportRow(progress, y, H);
  }
}

void PixelRnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  std::vector<int16_t> q(size_t(W) * H * C, 0);
  auto dec = NewEngine(W);
  MixturePixelCoder coder(tables(), C, shape().mixtures);
  std::vector<int16_t> params(size_t(shape().ParamCount()));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      dec->Evaluate(q.data(), H, y, x, params.data());
      coder.Decode(image, y, x, params.data(), source, &q[(size_t(y) * W + x) * C]);
    }
    ReportRow(progress, y, H);
  }
}

}  // namespace pixelzip::models::nn
