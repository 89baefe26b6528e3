#include "models/nn/arch/gated_pixelcnn/coding_model.h"

#include <algorithm>
#include <cmath>

#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

namespace {
constexpr int kBandRows = 64;
constexpr int kClassChunk = 16;  // classes evaluated in one batch
}  // namespace

ClassIndexCdf::ClassIndexCdf(int classes)
    : classes_(classes), free_(kCdfTotal - uint32_t(kSymbols - classes)) {
  base_ = free_ / uint32_t(classes);
}

uint32_t ClassIndexCdf::At(int edge) const {
  if (edge < classes_) return uint32_t(edge) * base_;
  return free_ + uint32_t(edge - classes_);
}

GatedPixelCnnCodingModel::GatedPixelCnnCodingModel(const std::vector<uint8_t>& bytes, const std::string& source,
                                                   Device encoder)
    : BatchedCodingModel(bytes, source, kGatedPixelCnnArch, pixelzip::Order::kRaster, encoder, &TorchEngines::gated) {}

GatedPixelCnnCodingModel::~GatedPixelCnnCodingModel() = default;

std::vector<int16_t> GatedPixelCnnCodingModel::BatchedParams(const QPlane& plane, int y0, int y1,
                                                             const std::vector<int>& classes) const {
  for (int k : classes)
    if (k < 0 || k >= model_.shape.classes) throw Error(ErrorCode::kInvalidArgument, "class index out of range");
  TorchPassInput in = RowsInput(plane, y0, y1);
  in.classes = classes;
  return AnyTorchParams(in);
}

template <class Visit>
void GatedPixelCnnCodingModel::WalkCpu(const PlaneView& image, int class_index, Visit&& visit,
                                       const Progress& progress) const {
  QPlane plane = EmptyQPlane(int(image.width), int(image.height), int(image.channels));
  const int W = plane.width, H = plane.height, C = plane.channels;
  GatedPixelCnnCpuEngine engine(model_, W, class_index);
  std::vector<int16_t> params(size_t(model_.shape.ParamCount()));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      engine.PixelParams(plane, y, x, params.data());
      visit(params.data(), y, x);
      for (int c = 0; c < C; ++c)
        plane.q[(size_t(y) * W + x) * C + c] = int16_t(2 * int(image.at(uint32_t(y), uint32_t(x), uint32_t(c))) - 255);
    }
    engine.FinishRow(plane, y);
    ReportRow(progress, y, H);
  }
}

std::vector<double> GatedPixelCnnCodingModel::ClassCodeLengths(const PlaneView& image) const {
  const QPlane plane = ToQPlane(image);
  const int W = plane.width, H = plane.height, C = plane.channels, P = model_.shape.ParamCount(), K = model_.shape.classes;
  std::vector<double> bits(size_t(K), 0.0);
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  int32_t previous[3] = {0, 0, 0};
  if (!torch_) {
    for (int k = 0; k < K; ++k) {
      double b = 0;
      WalkCpu(image, k, [&](const int16_t* p, int y, int x) {
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(p, c, previous);
          const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
          b -= std::log2(double(cdf.At(v + 1) - cdf.At(v)) / double(kCdfTotal));
          previous[c] = 2 * v - 255;
        }
      }, {});
      bits[size_t(k)] = b;
    }
    return bits;
  }
  for (int k0 = 0; k0 < K; k0 += kClassChunk) {
    std::vector<int> chunk;
    for (int k = k0; k < std::min(K, k0 + kClassChunk); ++k) chunk.push_back(k);
    for (int y0 = 0; y0 < H; y0 += kBandRows) {
      const int y1 = std::min(H, y0 + kBandRows);
      const auto params = BatchedParams(plane, y0, y1, chunk);
      const size_t per_class = size_t(y1 - y0) * W * P;
      for (size_t i = 0; i < chunk.size(); ++i) {
        double b = 0;
        for (int y = y0; y < y1; ++y)
          for (int x = 0; x < W; ++x) {
            const int16_t* p = &params[i * per_class + (size_t(y - y0) * W + x) * P];
            for (int c = 0; c < C; ++c) {
              cdf.Prepare(p, c, previous);
              const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
              b -= std::log2(double(cdf.At(v + 1) - cdf.At(v)) / double(kCdfTotal));
              previous[c] = 2 * v - 255;
            }
          }
        bits[size_t(chunk[i])] += b;
      }
    }
  }
  return bits;
}

int GatedPixelCnnCodingModel::ChooseClass(const PlaneView& image) const {
  if (model_.shape.classes == 1) return 0;
  const auto bits = ClassCodeLengths(image);
  return int(std::min_element(bits.begin(), bits.end()) - bits.begin());
}

void GatedPixelCnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  EncodeWithClass(image, ChooseClass(image), sink, progress);
}

void GatedPixelCnnCodingModel::EncodeWithClass(const PlaneView& image, int class_index, SymbolSink& sink,
                                               const Progress& progress) const {
  const QPlane plane = ToQPlane(image);
  const int W = plane.width, H = plane.height, C = plane.channels, P = model_.shape.ParamCount();
  if (class_index < 0 || class_index >= model_.shape.classes) throw Error(ErrorCode::kInvalidArgument, "class index out of range");
  if (model_.shape.classes > 1) sink.Put(SymbolPosition::None(), ClassIndexCdf(model_.shape.classes), class_index);
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  if (!torch_) {
    WalkCpu(image, class_index, [&](const int16_t* p, int y, int x) { coder.Encode(image, y, x, p, sink); }, progress);
    return;
  }
  for (int y0 = 0; y0 < H; y0 += kBandRows) {
    const int y1 = std::min(H, y0 + kBandRows);
    const auto params = BatchedParams(plane, y0, y1, {class_index});
    for (int y = y0; y < y1; ++y)
      for (int x = 0; x < W; ++x) {
        const int16_t* p = &params[(size_t(y - y0) * W + x) * P];
        coder.Encode(image, y, x, p, sink);
      }
    if (progress) progress(double(y1) / H);
  }
}

void GatedPixelCnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  int class_index = 0;
  if (model_.shape.classes > 1) {
    class_index = source.Get(SymbolPosition::None(), ClassIndexCdf(model_.shape.classes));
    if (class_index >= model_.shape.classes) throw Error(ErrorCode::kCorruptInput, "class index out of range (corrupt stream)");
  }
  QPlane plane = EmptyQPlane(int(image.width), int(image.height), int(image.channels));
  const int W = plane.width, H = plane.height, C = plane.channels;
  GatedPixelCnnCpuEngine engine(model_, W, class_index);
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  std::vector<int16_t> params(size_t(model_.shape.ParamCount()));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      engine.PixelParams(plane, y, x, params.data());
      coder.Decode(image, y, x, params.data(), source, &plane.q[(size_t(y) * W + x) * C]);
    }
    engine.FinishRow(plane, y);
    ReportRow(progress, y, H);
  }
}

}  // namespace pixelzip::models::nn
