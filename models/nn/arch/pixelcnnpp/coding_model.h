// PixelCNN++ as a codec model (models::CodingModel), raster order.
// Decoder: the incremental CPU engine (arch/pixelcnnpp/engine.h), one step per pixel.
// Encoder: the same engine over the known image (kCpu), or one batched exact
// LibTorch pass over the whole image (kTorchCpu / kCuda); all give the same
// integers (docs/design.md section 2).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/arch/pixelcnnpp/engine.h"
#include "models/nn/batched_coding_model.h"

namespace pixelzip::models::nn {

class PixelCnnPPCodingModel final : public BatchedCodingModel<IntPixelCnnPP> {
 public:
  // A pixelcnn++ model file on a resolved engine; throws what BatchedCodingModel's constructor throws.
  PixelCnnPPCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~PixelCnnPPCodingModel() override;

  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  // Mixture parameters of every pixel of `plane`, [H][W][P], computed by `engine`
  // (kCpu: the incremental engine; otherwise the batched LibTorch pass, which needs that engine
  // prepared: the constructor's `encoder`).
  std::vector<int16_t> BatchedParams(const QPlane& plane, Device engine) const;
};

}  // namespace pixelzip::models::nn
