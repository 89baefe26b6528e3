// The plain PixelCNN (arch/pixelcnn/engine.h) as a codec model, raster order (R, G, B within a pixel).
// Encoder: the decoder's integer engine with the pixels known (kCpu), or one batched exact LibTorch
// pass per band of rows (kTorchCpu, kCuda; torch_engines.h). Decoder: the CPU integer engine,
// subpixel by subpixel (PixelCnnCpuEngine). Both hand SoftmaxCdf to the coder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/pixelcnn/engine.h"
#include "models/nn/batched_coding_model.h"

namespace pixelzip::models::nn {

class PixelCnnCodingModel final : public BatchedCodingModel<IntPixelCnn> {
 public:
  // A pixelcnn model file on a resolved engine; throws what BatchedCodingModel's constructor throws.
  PixelCnnCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~PixelCnnCodingModel() override;

  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  // Integer logits of rows [y0, y1) of `plane`, [rows][width][256 C], from one LibTorch pass over
  // rows [y0 - ContextRows(), y1) (the encoder's engine when it is a LibTorch one, else LibTorch on the
  // CPU). REQUIRES: 0 <= y0 < y1 <= plane.height.
  std::vector<int16_t> BatchedLogits(const QPlane& plane, int y0, int y1) const;
};

}  // namespace pixelzip::models::nn
