// Gated / Conditional PixelCNN as a codec model (models::CodingModel), raster order.
// Encoder: the decoder's integer engine with the pixels known (kCpu), or the exact LibTorch
// pass over bands of rows (kTorchCpu, kCuda; torch_engines.h); for a
// class-conditional model (classes K > 1) it evaluates every class, picks the
// one that codes the image in the fewest bits and codes that index first
// (uniform over K, through the range coder, so its cost is in the rate).
// Decoder: reads the class index, then the incremental CPU engine, pixel by pixel.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/gated_pixelcnn/engine.h"
#include "models/nn/batched_coding_model.h"

namespace pixelzip::models::nn {

// CDF of the class index: symbols [0, K) share the total evenly (the remainder to K-1), every
// other symbol gets 1. REQUIRES: 1 <= K <= 256.
class ClassIndexCdf final : public SubpixelCdf {
 public:
  explicit ClassIndexCdf(int classes);
  uint32_t At(int edge) const override;

 private:
  int classes_;
  uint32_t base_, free_;
};

class GatedPixelCnnCodingModel final : public BatchedCodingModel<IntGatedPixelCnn> {
 public:
  // A gated-pixelcnn model file on a resolved engine; throws what BatchedCodingModel's constructor throws.
  GatedPixelCnnCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~GatedPixelCnnCodingModel() override;

  // Codes the class index (when classes > 1) chosen by ChooseClass, then every subpixel.
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  // Ideal code length in bits of the image's subpixels given each class (the class index not counted).
  std::vector<double> ClassCodeLengths(const PlaneView& image) const;
  // The class with the smallest ClassCodeLengths (the lowest index on ties); 0 when classes == 1.
  int ChooseClass(const PlaneView& image) const;
  // Encode with a given class. REQUIRES: 0 <= class_index < classes.
  void EncodeWithClass(const PlaneView& image, int class_index, SymbolSink& sink, const Progress& progress) const;
  // Mixture parameters of rows [y0, y1) for each class in `classes`: [class][rows][width][P] (the LibTorch
  // pass: the encoder's engine when it is a LibTorch one, else LibTorch on the CPU).
  std::vector<int16_t> BatchedParams(const QPlane& plane, int y0, int y1, const std::vector<int>& classes) const;

 private:
  // The integer engine over the image in decoding order, the pixels known: params(p, y, x) for each pixel.
  template <class Visit>
  void WalkCpu(const PlaneView& image, int class_index, Visit&& visit, const Progress& progress) const;
};

}  // namespace pixelzip::models::nn
