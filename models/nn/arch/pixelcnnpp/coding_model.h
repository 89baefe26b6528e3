// PixelCNN++ as a codec model (models::CodingModel), raster order.
// Decoder: the incremental CPU engine (arch/pixelcnnpp/engine.h), one step per pixel.
// Encoder: the same engine over the known image (kCpu), or one batched exact
// LibTorch pass over the whole image (kTorchCpu / kCuda); all give the same
// integers (docs/design.md section 2).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/arch/pixelcnnpp/engine.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

class TorchPass;

class PixelCnnPPCodingModel final : public CodingModel {
 public:
  // `file_bytes`: a serialized ModelFile (verified here). Throws Error(kModelInvalid) when it is not a
  // valid pixelcnn++ model; Error(kUnsupported) when kCuda is asked and no CUDA device exists.
  PixelCnnPPCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~PixelCnnPPCodingModel() override;

  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return pixelzip::Order::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return int(channels) == model_.shape.channels; }
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  const IntPixelCnnPP& model() const { return model_; }
  // Mixture parameters of every pixel of `plane`, [H][W][P], computed by `engine`
  // (kCpu: the incremental engine; otherwise the batched LibTorch pass, which needs that engine
  // prepared: the constructor's `encoder`).
  std::vector<int16_t> BatchedParams(const QPlane& plane, Device engine) const;

 private:
  IntPixelCnnPP model_;
  ModelIdentity identity_;
  Device engine_;
  std::unique_ptr<TorchPass> torch_;  // the LibTorch engines' pass (torch_engines.h); null for kCpu
};

}  // namespace pixelzip::models::nn
