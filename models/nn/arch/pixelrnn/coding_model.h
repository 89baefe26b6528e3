// The codec side shared by the PixelRNN models (arch/row_lstm/coding_model.h,
// arch/diagonal_bilstm/coding_model.h), raster order: the encoder runs the model's
// incremental CPU engine over the whole image, or its exact LibTorch forward
// (CPU or CUDA; torch_engines.h), then codes every subpixel with the integer mixture CDF; the
// decoder runs the CPU engine pixel by pixel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/batched_coding_model.h"

namespace pixelzip::models::nn {

// M: the integer model (M::shape a PixelRnnShape, M::tables); CpuEngine: its incremental engine,
// CpuEngine(model, width) and Evaluate(q, height, y, x, params) with the pixels in raster order.
// Instantiated for the Row LSTM and the Diagonal BiLSTM only (coding_model.cpp).
template <class M, class CpuEngine>
class PixelRnnCodingModel : public BatchedCodingModel<M> {
 public:
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;
  // Mixture parameters of every pixel of `image`, [H][W][P], computed by `engine`.
  std::vector<int16_t> AllParams(const PlaneView& image, Device engine) const;

 protected:
  PixelRnnCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, const char* architecture,
                      Device engine, typename BatchedCodingModel<M>::TorchFactory torch)
      : BatchedCodingModel<M>(bytes, source, architecture, pixelzip::Order::kRaster, engine, torch) {}
};

}  // namespace pixelzip::models::nn
