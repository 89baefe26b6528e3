// The codec side shared by the PixelRNN models (arch/row_lstm/coding_model.h,
// arch/diagonal_bilstm/coding_model.h), raster order: the encoder runs the model's
// incremental CPU engine over the whole image, or its exact LibTorch forward
// (CPU or CUDA; torch_engines.h), then codes every subpixel with the integer mixture CDF; the
// decoder runs the CPU engine pixel by pixel.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/nn/arch/row_lstm/engine.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

class TorchPass;

class PixelRnnCodingModel : public CodingModel {
 public:
  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return pixelzip::Order::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return int(channels) == shape().channels; }
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;
  // Mixture parameters of every pixel of `image`, [H][W][P], computed by `engine`.
  std::vector<int16_t> AllParams(const PlaneView& image, Device engine) const;

 protected:
  // One image's incremental CPU engine (pixels in raster order).
  class PixelEngine {
   public:
    virtual ~PixelEngine() = default;
    virtual void Evaluate(const int16_t* q, int height, int y, int x, int16_t* params) = 0;
  };
  template <class Decoder, class Model>
  class EngineOf final : public PixelEngine {
   public:
    EngineOf(const Model& m, int width) : d_(m, width) {}
    void Evaluate(const int16_t* q, int height, int y, int x, int16_t* params) override { d_.Evaluate(q, height, y, x, params); }

   private:
    Decoder d_;
  };

  explicit PixelRnnCodingModel(Device encoder);
  ~PixelRnnCodingModel() override;
  virtual const PixelRnnShape& shape() const = 0;
  virtual const MixtureTables& tables() const = 0;
  virtual std::unique_ptr<PixelEngine> NewEngine(int width) const = 0;

  ModelIdentity identity_;
  Device engine_;
  std::unique_ptr<TorchPass> torch_;  // the LibTorch engine's whole-image pass; null for kCpu
};

}  // namespace pixelzip::models::nn
