// The plain PixelCNN (arch/pixelcnn/engine.h) as a codec model, raster order (R, G, B within a pixel).
// Encoder: the decoder's integer engine with the pixels known (kCpu), or one batched exact LibTorch
// pass per band of rows (kTorchCpu, kCuda; torch_engines.h). Decoder: the CPU integer engine,
// subpixel by subpixel (PixelCnnCpuEngine). Both hand SoftmaxCdf to the coder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/nn/arch/pixelcnn/engine.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

class TorchPass;

class PixelCnnCodingModel final : public CodingModel {
 public:
  // `file_bytes`: a serialized ModelFile (verified here). Throws Error(kModelInvalid) when it is not a valid
  // pixelcnn model; Error(kUnsupported) when kCuda is asked and no CUDA device exists, or a LibTorch
  // engine is asked and this build has none.
  PixelCnnCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~PixelCnnCodingModel() override;

  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return pixelzip::Order::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return int(channels) == model_.shape.channels; }
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  const IntPixelCnn& model() const { return model_; }
  // Integer logits of rows [y0, y1) of `plane`, [rows][width][256 C], from one LibTorch pass over
  // rows [y0 - ContextRows(), y1) (the encoder's engine when it is a LibTorch one, else LibTorch on the
  // CPU). REQUIRES: 0 <= y0 < y1 <= plane.height.
  std::vector<int16_t> BatchedLogits(const QPlane& plane, int y0, int y1) const;

 private:
  IntPixelCnn model_;
  ModelIdentity identity_;
  std::unique_ptr<TorchPass> torch_;  // null for kCpu
};

}  // namespace pixelzip::models::nn
