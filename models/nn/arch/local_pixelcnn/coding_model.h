// Local PixelCNN as a codec model (models::CodingModel), raster order.
// Encoder: one batched pass per band of rows (the integer SIMD batch engine on all cores, or the
// exact LibTorch pass of the LibTorch library, torch_engines.h, for the LibTorch engines). Decoder: the CPU engine, pixel by pixel.
// Wavefront layout (wavefront.cpp): one batch per line, on the CPU engine, or on
// the LibTorch line engine (torch_line.h) when the model was made with a LibTorch
// engine (kTorchCpu, kCuda), for encoding and decoding alike.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/batched_coding_model.h"
#include "models/nn/runtime/int_simd.h"

namespace pixelzip::models::nn {

class LocalTorchLineEngine;

class LocalPixelCnnCodingModel final : public BatchedCodingModel<IntLocalPixelCnn> {
 public:
  // A local-pixelcnn model file on a resolved engine; throws what BatchedCodingModel's constructor throws,
  // and Error(kModelInvalid) for one with conditioning planes (those code only inside aux-pixelcnn).
  LocalPixelCnnCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~LocalPixelCnnCodingModel() override;

  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;
  // Wavefront layout (wavefront.cpp): k = kernel / 2 + 1.
  int WavefrontSlope() const override { return model_.shape.kernel / 2 + 1; }
  void EncodeWavefront(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void DecodeWavefront(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;
  // The same with a chosen thread count and kernel on the CPU engine (tests and benchmarks; the overrides
  // use DefaultCodingThreads() and the SIMD kernels, or the LibTorch line engine when there is one).
  void EncodeWavefrontWith(const PlaneView& image, SymbolSink& sink, const Progress& progress, int threads,
                           KernelKind kernel) const;
  void DecodeWavefrontWith(const PlaneView& image, SymbolSource& source, const Progress& progress, int threads,
                           KernelKind kernel) const;

  // The LibTorch line engine of the wavefront layout; nullptr when the engine is kCpu.
  const LocalTorchLineEngine* torch_line() const { return torch_line_.get(); }
  // Mixture parameters for rows [y0, y1) of `plane`, [rows][width][P], computed by `engine`.
  std::vector<int16_t> BatchedParams(const QPlane& plane, int y0, int y1, Device engine) const;

 private:
  std::unique_ptr<LocalTorchLineEngine> torch_line_;
  template <class Body>
  void WithLineEvaluator(bool use_torch, int threads, KernelKind kernel, const Body& body) const;
  template <class Eval>
  void EncodeWavefrontBy(const PlaneView& image, SymbolSink& sink, const Progress& progress, int reach,
                         const Eval& eval) const;
  template <class Eval>
  void DecodeWavefrontBy(const PlaneView& image, SymbolSource& source, const Progress& progress, int reach,
                         const Eval& eval) const;
};

}  // namespace pixelzip::models::nn
