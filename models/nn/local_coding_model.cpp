#include "models/nn/local_coding_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "models/nn/exact_torch.h"
#include "models/nn/local_batch.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

struct LocalPixelCnnCodingModel::TorchState {
  LocalTensors tensors;
  torch::Device device{torch::kCPU};
};

namespace {
constexpr int kBandRows = 32;
}

QPlane ToQPlane(const PlaneView& image) {
  QPlane p;
  p.width = int(image.width);
  p.height = int(image.height);
  p.channels = int(image.channels);
  p.q.resize(size_t(image.width) * image.height * image.channels);
  for (size_t i = 0; i < p.q.size(); ++i) p.q[i] = int16_t(2 * int(image.data[i]) - 255);
  return p;
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
    try {
      if (encoder == EngineKind::kTorchCuda && !torch::cuda::is_available())
        throw Error(ErrorCode::kUnsupported, "CUDA was asked for but no CUDA device is available");
      UseExactConvolutions();
      torch_ = std::make_unique<TorchState>();
      torch_->device = encoder == EngineKind::kTorchCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
      torch_->tensors = TensorsFromInt(model_).To(torch_->device);
    } catch (const c10::Error& e) {
      throw Error(ErrorCode::kInternal, std::string("LibTorch: ") + e.what_without_backtrace());
    }
  }
}

LocalPixelCnnCodingModel::~LocalPixelCnnCodingModel() = default;

std::vector<int16_t> LocalPixelCnnCodingModel::BatchedParams(const QPlane& plane, int y0, int y1, EngineKind engine) const {
  const int W = plane.width, C = plane.channels, P = model_.shape.ParamCount();
  std::vector<int16_t> out(size_t(y1 - y0) * W * P);
  if (engine == EngineKind::kCpu) {
    const int threads = std::max(1, std::min<int>(int(std::thread::hardware_concurrency()), y1 - y0));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        PixelEvaluator ev(model_);
        for (int y = y0 + t; y < y1; y += threads)
          for (int x = 0; x < W; ++x) ev.Evaluate(plane, y, x, &out[(size_t(y - y0) * W + x) * P]);
      });
    }
    for (auto& th : pool) th.join();
    return out;
  }
  if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
  try {
    torch::NoGradGuard ng;
    // Rows [y0 - r, y1): the r rows above are context (zero-padded at the top of the image).
    const int r = model_.shape.kernel / 2;
    const int top = std::max(0, y0 - r);
    std::vector<float> q(size_t(y1 - top) * W * C);
    for (int y = top; y < y1; ++y)
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < C; ++c) q[(size_t(y - top) * W + x) * C + c] = plane.at(y, x, c);
    auto qt = torch::from_blob(q.data(), {1, y1 - top, W, C}, torch::kFloat32).permute({0, 3, 1, 2}).contiguous().to(torch_->device);
    auto params = ExactForward(torch_->tensors, qt);  // [1, P, rows, W]
    params = params.index({0, torch::indexing::Slice(), torch::indexing::Slice(y0 - top, torch::indexing::None)})
                 .permute({1, 2, 0}).to(torch::kCPU).to(torch::kInt16).contiguous();
    std::copy(params.data_ptr<int16_t>(), params.data_ptr<int16_t>() + out.size(), out.begin());
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::kInternal, std::string("LibTorch: ") + e.what_without_backtrace());
  }
  return out;
}

void LocalPixelCnnCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const ProgressFn& progress) const {
  const QPlane plane = ToQPlane(image);
  const int W = plane.width, H = plane.height, C = plane.channels, P = model_.shape.ParamCount();
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  int32_t previous[3];
  // The CPU engine: the batched SIMD kernels on all threads (bit-identical to PixelEvaluator).
  std::unique_ptr<LocalBatchEngine> engine;
  std::unique_ptr<PaddedPlane> padded;
  std::unique_ptr<WorkerTeam> team;
  std::vector<LocalBatchEngine::Workspace> ws;
  std::vector<PixelPos> band;
  if (encoder_ == EngineKind::kCpu) {
    engine = std::make_unique<LocalBatchEngine>(model_, KernelKind::kSimd);
    padded = std::make_unique<PaddedPlane>(W, H, C, engine->Reach());
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < C; ++c) padded->at(y, x)[c] = plane.at(y, x, c);
    team = std::make_unique<WorkerTeam>(DefaultCodingThreads());
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
      params = BatchedParams(plane, y0, y1, encoder_);
    }
    for (int y = y0; y < y1; ++y)
      for (int x = 0; x < W; ++x) {
        const int16_t* p = &params[(size_t(y - y0) * W + x) * P];
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(p, c, previous);
          const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
          sink.Put(cdf, v);
          previous[c] = 2 * v - 255;
        }
      }
    if (progress) progress(double(y1) / H);
  }
}

void LocalPixelCnnCodingModel::Decode(const PlaneView& image, SymbolSource& source, const ProgressFn& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  // One pixel at a time (the raster layout allows no batch), with the SIMD kernels.
  const LocalBatchEngine engine(model_, KernelKind::kSimd);
  PaddedPlane padded(W, H, C, engine.Reach());
  LocalBatchEngine::Workspace ws;
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  std::vector<int16_t> params(size_t(model_.shape.ParamCount()));
  int32_t previous[3];
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const PixelPos pos{y, x};
      engine.Evaluate(padded, &pos, 1, params.data(), ws);
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(params.data(), c, previous);
        const int v = source.Get(cdf);
        image.at(uint32_t(y), uint32_t(x), uint32_t(c)) = uint8_t(v);
        previous[c] = 2 * v - 255;
        padded.at(y, x)[c] = int16_t(previous[c]);
      }
    }
    if (progress && (y % 8 == 7 || y == H - 1)) progress(double(y + 1) / H);
  }
}

}  // namespace pixelzip::models::nn
