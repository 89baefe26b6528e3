#include "models/nn/arch/pixelcnnpp/coding_model.h"

#include <algorithm>

#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

PixelCnnPPCodingModel::PixelCnnPPCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, Device encoder)
    : BatchedCodingModel(bytes, source, kPixelCnnPPArch, pixelzip::Order::kRaster, encoder, &TorchEngines::pixelcnnpp) {}

PixelCnnPPCodingModel::~PixelCnnPPCodingModel() = default;

std::vector<int16_t> PixelCnnPPCodingModel::BatchedParams(const QPlane& plane, Device engine) const {
  const int W = plane.width, H = plane.height;
  if (engine == Device::kCpu) return EngineParamsForImage(model_, plane.q.data(), H, W);
  return TorchParams(RowsInput(plane, 0, H));
}

void PixelCnnPPCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  auto code_pixel = [&](const int16_t* p, int y, int x) {
    coder.Encode(image, y, x, p, sink);
  };
  if (engine_ == Device::kCpu) {
    // The decoder's own computation, with the pixels known.
    PixelCnnPPCpuEngine engine(model_, H, W);
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < W; ++x) {
        code_pixel(engine.NextParams(), y, x);
        engine.SetPixel(coder.previous());
      }
      ReportRow(progress, y, H);
    }
    return;
  }
  const auto params = BatchedParams(ToQPlane(image), engine_);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) code_pixel(&params[(size_t(y) * W + x) * P], y, x);
    ReportRow(progress, y, H);
  }
}

void PixelCnnPPCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  PixelCnnPPCpuEngine engine(model_, H, W);
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int16_t* p = engine.NextParams();
      coder.Decode(image, y, x, p, source);
      engine.SetPixel(coder.previous());
    }
    ReportRow(progress, y, H);
  }
}

}  // namespace pixelzip::models::nn
