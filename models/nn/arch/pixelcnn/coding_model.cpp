#include "models/nn/arch/pixelcnn/coding_model.h"

#include <algorithm>

#include "models/nn/runtime/pixel_coder.h"
#include "models/nn/runtime/softmax_cdf.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
constexpr int kBandPixels = 8192;  // rows per encoder pass: max(1, kBandPixels / width)

// The CPU engine over `image`, subpixel by subpixel in raster order: each subpixel's value
// is `code(cdf, y, x, c)` (the encoder puts the known value, the decoder gets it).
template <class Code>
void StepRaster(const IntPixelCnn& model, const PlaneView& image, const Progress& progress, Code code) {
  QPlane plane = EmptyQPlane(int(image.width), int(image.height), int(image.channels));
  const int W = plane.width, H = plane.height, C = plane.channels;
  PixelCnnCpuEngine stepper(model, W);
  SoftmaxCdf cdf(model.exp_table);
  int16_t logits[256];
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) {
        stepper.Step(plane, y, x, c, logits);
        cdf.Prepare(logits);
        const int v = code(cdf, y, x, c);
        plane.q[(size_t(y) * W + x) * C + c] = int16_t(2 * v - 255);
      }
    ReportRow(progress, y, H);
  }
}
}  // namespace

PixelCnnCodingModel::PixelCnnCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, Device encoder)
    : BatchedCodingModel(bytes, source, kPixelCnnArch, pixelzip::Order::kRaster, encoder, &TorchEngines::pixelcnn) {}

PixelCnnCodingModel::~PixelCnnCodingModel() = default;

std::vector<int16_t> PixelCnnCodingModel::BatchedLogits(const QPlane& plane, int y0, int y1) const {
  return AnyTorchParams(RowsInput(plane, y0, y1));
}

void PixelCnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  if (!torch_) {
    // The decoder's computation, the pixels known.
    StepRaster(model_, image, progress, [&](const SoftmaxCdf& cdf, int y, int x, int c) {
      const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
      sink.Put(SymbolPosition::At(uint32_t(y), uint32_t(x), uint32_t(c)), cdf, v);
      return v;
    });
    return;
  }
  const QPlane plane = ToQPlane(image);
  const int W = plane.width, H = plane.height, C = plane.channels, L = model_.shape.Logits();
  const int band = std::max(1, kBandPixels / std::max(1, W));
  SoftmaxCdf cdf(model_.exp_table);
  for (int y0 = 0; y0 < H; y0 += band) {
    const int y1 = std::min(H, y0 + band);
    const auto logits = BatchedLogits(plane, y0, y1);
    for (int y = y0; y < y1; ++y)
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(&logits[(size_t(y - y0) * W + x) * L + size_t(c) * 256]);
          sink.Put(SymbolPosition::At(uint32_t(y), uint32_t(x), uint32_t(c)), cdf, image.at(uint32_t(y), uint32_t(x), uint32_t(c)));
        }
    if (progress) progress(double(y1) / H);
  }
}

void PixelCnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  StepRaster(model_, image, progress, [&](const SoftmaxCdf& cdf, int y, int x, int c) {
    const int v = source.Get(SymbolPosition::At(uint32_t(y), uint32_t(x), uint32_t(c)), cdf);
    image.at(uint32_t(y), uint32_t(x), uint32_t(c)) = uint8_t(v);
    return v;
  });
}

}  // namespace pixelzip::models::nn
