// The auxiliary-variable PixelCNNs (arch/aux_pixelcnn/engine.h) as codec models. Container coding
// order 0 (sequential, one network step per coded pixel); the subpixel order
// within the stream is the architecture's own (arch/aux_pixelcnn/engine.h, docs/models.md).
// Encoder: one batched pass per network and level (CPU engine on all cores, or
// the exact LibTorch path, torch_engines.h). Decoder: the CPU engine, pixel by pixel.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/nn/arch/aux_pixelcnn/engine.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

class TorchPass;

// A local PixelCNN (with or without conditioning planes) ready for batched evaluation.
class BatchedLocalNet {
 public:
  // Throws Error(kUnsupported) when kCuda is asked and no CUDA device exists.
  BatchedLocalNet(const IntLocalPixelCnn& net, Device engine);
  ~BatchedLocalNet();
  // Mixture parameters [H][W][P] of every pixel of `plane` as if coded in raster order with all of `plane`
  // known. REQUIRES: aux as for LocalPixelCnnCpuEngine::Evaluate. Bit-equal for every engine.
  std::vector<int16_t> Params(const QPlane& plane, const QPlane* aux) const;

 private:
  const IntLocalPixelCnn& net_;
  Device engine_;
  std::unique_ptr<TorchPass> torch_;  // null for kCpu
};

class AuxGreyCodingModel final : public CodingModel {
 public:
  // Throws Error(kModelInvalid) when `file_bytes` is not a valid aux-grey model file.
  AuxGreyCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return pixelzip::Order::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return channels == 3; }
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  const IntAuxGrey& model() const { return model_; }
  // Ideal code length (bits) of the grey image and of the colour given the grey image; with
  // `restrict_to_grey` false the colour CDFs are the plain mixture's (what the restriction saves).
  void CodeLengthBits(const PlaneView& image, bool restrict_to_grey, double* grey_bits, double* colour_bits) const;

 private:
  IntAuxGrey model_;
  ModelIdentity identity_;
  std::unique_ptr<BatchedLocalNet> grey_net_, colour_net_;
};

class AuxPyramidCodingModel final : public CodingModel {
 public:
  // Throws Error(kModelInvalid) when `file_bytes` is not a valid aux-pyramid model file.
  AuxPyramidCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return pixelzip::Order::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return int(channels) == model_.channels(); }
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  const IntAuxPyramid& model() const { return model_; }

 private:
  IntAuxPyramid model_;
  ModelIdentity identity_;
  std::unique_ptr<BatchedLocalNet> base_net_, cond_net_;
};

}  // namespace pixelzip::models::nn
