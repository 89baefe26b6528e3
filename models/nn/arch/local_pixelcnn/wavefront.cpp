// The wavefront layout of the Local PixelCNN (docs/format.md section 3.2): raster
// conditionals, symbols ordered by lines t = x + k y (k = kernel / 2 + 1), pixels
// of a line in increasing y, channels in order inside a pixel. The decoder
// evaluates each line's pixels as one batch on all threads, then range-decodes
// them; the encoder evaluates groups of lines (bounded memory) and emits them.
// The evaluation is the CPU batch engine (SIMD kernels on all threads) or, when the
// model was made with a LibTorch engine, the exact LibTorch line engine on its device
// (torch_line.h); both give the same parameters bit for bit, hence the same stream.
#include <algorithm>

#include "models/nn/arch/local_pixelcnn/batch_engine.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"
#include "models/nn/arch/local_pixelcnn/torch_line.h"
#include "models/nn/runtime/mixture_cdf.h"

namespace pixelzip::models::nn {

namespace {
constexpr size_t kEncodeGroupPixels = 8192;  // pixels evaluated per encoder batch (~1.6 MB of parameters)
}

// Calls body(reach, eval) with the line evaluator: the LibTorch line engine when the model has
// one (and `use_torch`), else the CPU batch engine with `threads` and `kernel`.
template <class Body>
void LocalPixelCnnCodingModel::WithLineEvaluator(bool use_torch, int threads, KernelKind kernel,
                                                 const Body& body) const {
  if (use_torch && torch_line_) {
    const LocalTorchLineEngine& e = *torch_line_;
    body(e.Reach(), [&](const PaddedPlane& p, const PixelPos* px, size_t n, int16_t* out) { e.Evaluate(p, px, n, out); });
    return;
  }
  const LocalBatchEngine engine(model_, kernel);
  WorkerTeam team(threads);
  std::vector<LocalBatchEngine::Workspace> ws;
  body(engine.Reach(), [&](const PaddedPlane& p, const PixelPos* px, size_t n, int16_t* out) {
    engine.EvaluateParallel(p, px, n, out, team, ws);
  });
}

void LocalPixelCnnCodingModel::EncodeWavefront(const PlaneView& image, SymbolSink& sink,
                                               const Progress& progress) const {
  WithLineEvaluator(true, DefaultCodingThreads(), KernelKind::kSimd,
                    [&](int reach, const auto& eval) { EncodeWavefrontBy(image, sink, progress, reach, eval); });
}

void LocalPixelCnnCodingModel::DecodeWavefront(const PlaneView& image, SymbolSource& source,
                                               const Progress& progress) const {
  WithLineEvaluator(true, DefaultCodingThreads(), KernelKind::kSimd,
                    [&](int reach, const auto& eval) { DecodeWavefrontBy(image, source, progress, reach, eval); });
}

void LocalPixelCnnCodingModel::EncodeWavefrontWith(const PlaneView& image, SymbolSink& sink,
                                                   const Progress& progress, int threads, KernelKind kernel) const {
  WithLineEvaluator(false, threads, kernel,
                    [&](int reach, const auto& eval) { EncodeWavefrontBy(image, sink, progress, reach, eval); });
}

void LocalPixelCnnCodingModel::DecodeWavefrontWith(const PlaneView& image, SymbolSource& source,
                                                   const Progress& progress, int threads, KernelKind kernel) const {
  WithLineEvaluator(false, threads, kernel,
                    [&](int reach, const auto& eval) { DecodeWavefrontBy(image, source, progress, reach, eval); });
}

template <class Eval>
void LocalPixelCnnCodingModel::EncodeWavefrontBy(const PlaneView& image, SymbolSink& sink, const Progress& progress,
                                                 int reach, const Eval& eval) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  const PaddedPlane plane = ToPaddedPlane(image, reach);
  const Wavefront wf{W, H, WavefrontSlope()};
  const int64_t lines = wf.Lines();
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  std::vector<PixelPos> pixels;
  std::vector<int16_t> params;
  int32_t previous[3];
  for (int64_t t = 0; t < lines;) {
    pixels.clear();
    while (t < lines && pixels.size() < kEncodeGroupPixels) wf.Line(t++, pixels);
    params.resize(pixels.size() * size_t(P));
    eval(plane, pixels.data(), pixels.size(), params.data());
    for (size_t i = 0; i < pixels.size(); ++i) {
      const int16_t* p = &params[i * size_t(P)];
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(p, c, previous);
        const int v = image.at(uint32_t(pixels[i].y), uint32_t(pixels[i].x), uint32_t(c));
        sink.Put(cdf, v);
        previous[c] = 2 * v - 255;
      }
    }
    if (progress) progress(double(t) / double(lines));
  }
}

template <class Eval>
void LocalPixelCnnCodingModel::DecodeWavefrontBy(const PlaneView& image, SymbolSource& source, const Progress& progress,
                                                 int reach, const Eval& eval) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  PaddedPlane plane(W, H, C, reach);
  const Wavefront wf{W, H, WavefrontSlope()};
  const int64_t lines = wf.Lines();
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  std::vector<PixelPos> pixels;
  std::vector<int16_t> params;
  int32_t previous[3];
  for (int64_t t = 0; t < lines; ++t) {
    pixels.clear();
    wf.Line(t, pixels);
    params.resize(pixels.size() * size_t(P));
    eval(plane, pixels.data(), pixels.size(), params.data());
    for (size_t i = 0; i < pixels.size(); ++i) {
      const int16_t* p = &params[i * size_t(P)];
      int16_t* q = plane.at(pixels[i].y, pixels[i].x);
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(p, c, previous);
        const int v = source.Get(cdf);
        image.at(uint32_t(pixels[i].y), uint32_t(pixels[i].x), uint32_t(c)) = uint8_t(v);
        previous[c] = 2 * v - 255;
        q[c] = int16_t(previous[c]);
      }
    }
    if (progress && (t % 64 == 63 || t == lines - 1)) progress(double(t + 1) / double(lines));
  }
}

}  // namespace pixelzip::models::nn
