#include "models/nn/arch/local_pixelcnn/coding_model.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "models/nn/arch/local_pixelcnn/batch_engine.h"
#include "models/nn/arch/local_pixelcnn/torch_line.h"
#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

namespace {
constexpr int kBandRows = 32;
}

LocalPixelCnnCodingModel::LocalPixelCnnCodingModel(const std::vector<uint8_t>& bytes, const std::string& source,
                                                   Device encoder)
    : BatchedCodingModel(bytes, source, kLocalPixelCnnArch, pixelzip::Order::kRaster, encoder, nullptr) {
  if (model_.shape.aux != 0)
    throw Error(ErrorCode::kModelInvalid, source + ": a local-pixelcnn model with conditioning planes cannot code alone");
  PrepareTorch(&TorchEngines::local);
  if (encoder != Device::kCpu) torch_line_ = RequireTorchEngines().local_line(model_, encoder);
}

LocalPixelCnnCodingModel::~LocalPixelCnnCodingModel() = default;

std::vector<int16_t> LocalPixelCnnCodingModel::BatchedParams(const QPlane& plane, int y0, int y1, Device engine) const {
  const int W = plane.width, P = model_.shape.ParamCount();
  std::vector<int16_t> out(size_t(y1 - y0) * W * P);
  if (engine == Device::kCpu) {
    const int threads = std::max(1, std::min<int>(DefaultCodingThreads(), y1 - y0));
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
  return TorchParams(RowsInput(plane, y0, y1));
}

void LocalPixelCnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  // The CPU engine: the batched SIMD kernels on all threads (bit-identical to LocalPixelCnnCpuEngine).
  std::unique_ptr<LocalBatchEngine> engine;
  std::unique_ptr<PaddedPlane> padded;
  std::unique_ptr<WorkerTeam> team;
  std::vector<LocalBatchEngine::Workspace> ws;
  std::vector<PixelPos> band;
  QPlane plane;  // the LibTorch path's input
  if (engine_ == Device::kCpu) {
    engine = std::make_unique<LocalBatchEngine>(model_, KernelKind::kSimd);
    padded = std::make_unique<PaddedPlane>(ToPaddedPlane(image, engine->Reach()));
    team = std::make_unique<WorkerTeam>(DefaultCodingThreads());
  } else {
    plane = ToQPlane(image);
  }
  std::vector<int16_t> params;
  for (int y0 = 0; y0 < H; y0 += kBandRows) {
    const int y1 = std::min(H, y0 + kBandRows);
    if (engine) {
      band.clear();
      for (int y = y0; y < y1; ++y)
        for (int x = 0; x < W; ++x) band.push_back(PixelPos{y, x});
      params.resize(band.size() * size_t(P));
      engine->EvaluateParallel(*padded, band.data(), band.size(), params.data(), *team, ws);
    } else {
      params = BatchedParams(plane, y0, y1, engine_);
    }
    for (int y = y0; y < y1; ++y)
      for (int x = 0; x < W; ++x) {
        const int16_t* p = &params[(size_t(y - y0) * W + x) * P];
        coder.Encode(image, y, x, p, sink);
      }
    if (progress) progress(double(y1) / H);
  }
}

void LocalPixelCnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  // One pixel at a time (the raster layout allows no batch), with the SIMD kernels.
  const LocalBatchEngine engine(model_, KernelKind::kSimd);
  PaddedPlane padded(W, H, C, engine.Reach());
  LocalBatchEngine::Workspace ws;
  MixturePixelCoder coder(model_.tables, C, model_.shape.mixtures);
  std::vector<int16_t> params(size_t(model_.shape.ParamCount()));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const PixelPos pos{y, x};
      engine.Evaluate(padded, &pos, 1, params.data(), ws);
      coder.Decode(image, y, x, params.data(), source, padded.at(y, x));
    }
    ReportRow(progress, y, H);
  }
}

}  // namespace pixelzip::models::nn
