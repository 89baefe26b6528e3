#include "models/nn/arch/local_pixelcnn/coding_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "models/nn/torch/batched.h"
#include "models/nn/torch/exact_ops.h"
#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

struct LocalPixelCnnCodingModel::TorchState {
  LocalTensors tensors;
  torch::Device device{torch::kCPU};
};

namespace {
constexpr int kBandRows = 32;
}

LocalPixelCnnCodingModel::LocalPixelCnnCodingModel(const std::vector<uint8_t>& bytes, const std::string& source,
                                                   EngineKind encoder)
    : encoder_(encoder) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  model_ = IntLocalPixelCnn::Read(file);
  if (model_.shape.aux != 0)
    throw Error(ErrorCode::kModelInvalid, source + ": a local-pixelcnn model with conditioning planes cannot code alone");
  identity_.architecture = kLocalPixelCnnArch;
  identity_.weights_sha256 = file.Sha256();
  if (encoder != EngineKind::kCpu) {
    torch_ = std::make_unique<TorchState>();
    torch_->device = ExactDevice(encoder);
    torch_->tensors = TorchGuarded([&] { return TensorsFromInt(model_).To(torch_->device); });
  }
}

LocalPixelCnnCodingModel::~LocalPixelCnnCodingModel() = default;

std::vector<int16_t> LocalPixelCnnCodingModel::BatchedParams(const QPlane& plane, int y0, int y1, EngineKind engine) const {
  const int W = plane.width, P = model_.shape.ParamCount();
  std::vector<int16_t> out(size_t(y1 - y0) * W * P);
  if (engine == EngineKind::kCpu) {
    const int threads = std::max(1, std::min<int>(int(std::thread::hardware_concurrency()), y1 - y0));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        LocalPixelCnnCpuEngine ev(model_);
        for (int y = y0 + t; y < y1; y += threads)
          for (int x = 0; x < W; ++x) ev.Evaluate(plane, y, x, &out[(size_t(y - y0) * W + x) * P]);
      });
    }
    for (auto& th : pool) th.join();
    return out;
  }
  if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
  return TorchGuarded([&] {
    torch::NoGradGuard ng;
    // Rows [y0 - r, y1): the r rows above are context (zero-padded at the top of the image).
    const int top = std::max(0, y0 - model_.shape.kernel / 2);
    return RowParams(ExactForward(torch_->tensors, PlaneRows(plane, top, y1, torch_->device)), y0 - top);
  });
}

void LocalPixelCnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const QPlane plane = ToQPlane(image);
  const int W = plane.width, H = plane.height, C = plane.channels, P = model_.shape.ParamCount();
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  for (int y0 = 0; y0 < H; y0 += kBandRows) {
    const int y1 = std::min(H, y0 + kBandRows);
    const auto params = BatchedParams(plane, y0, y1, encoder_);
    for (int y = y0; y < y1; ++y)
      for (int x = 0; x < W; ++x) {
        const int16_t* p = &params[(size_t(y - y0) * W + x) * P];
        coder.Encode(image, y, x, p, sink);
      }
    if (progress) progress(double(y1) / H);
  }
}

void LocalPixelCnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  // The plane grows a row at a time: its capacity is reserved up front (address space; the pages
  // are committed as rows are written), so a corrupt stream that claims a huge image costs memory
  // only for the rows it decodes. The engine reads only rows above and pixels to the left.
  QPlane plane;
  plane.width = int(image.width);
  plane.height = 0;
  plane.channels = int(image.channels);
  plane.q.reserve(size_t(image.width) * image.height * image.channels);
  const int W = plane.width, H = int(image.height), C = plane.channels;
  LocalPixelCnnCpuEngine ev(model_);
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  std::vector<int16_t> params(size_t(model_.shape.ParamCount()));
  for (int y = 0; y < H; ++y) {
    plane.q.resize(size_t(y + 1) * W * C);
    plane.height = y + 1;
    for (int x = 0; x < W; ++x) {
      ev.Evaluate(plane, y, x, params.data());
      coder.Decode(image, y, x, params.data(), source, &plane.q[(size_t(y) * W + x) * C]);
    }
    ReportRow(progress, y, H);
  }
}

}  // namespace pixelzip::models::nn
