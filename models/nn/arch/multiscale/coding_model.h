// Multiscale PixelCNN as a codec model (models::CodingModel), multiscale group order.
// Encoder and decoder run the same batched computation per group (the decoder knows
// every conditioning pixel of a group before it): 3 L group-network evaluations plus
// one base-network step per base pixel (at most base_side^2), i.e. O(log N).
//
// Subpixel order handed to SymbolSink / SymbolSource: the base image (pixels at
// multiples of 2^L) in raster order; then for l = L..1 (s = 2^(l-1)) the groups
// (even, odd), (odd, even), (odd, odd) of the spacing-s grid, each in raster order
// over its pixels; within a pixel the channels R, G, B (or the one grey channel).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/multiscale/engine.h"
#include "models/nn/batched_coding_model.h"

namespace pixelzip::models::nn {

class MultiscaleCodingModel final : public BatchedCodingModel<IntMultiscalePixelCnn> {
 public:
  // A multiscale-pixelcnn model file on a resolved engine; throws what BatchedCodingModel's constructor throws.
  // `engine` computes the group networks on both sides (kCpu: the integer CPU engine on `threads` threads,
  // 0 = DefaultCodingThreads() when coding: --threads, PIXELZIP_THREADS or all cores); every engine gives
  // the same integers. The base always runs on the CPU engine.
  MultiscaleCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device engine,
                        int threads = 0);
  ~MultiscaleCodingModel() override;

  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

  // Parameters [hc][wc][P] of group g at spacing s (see GroupParamsCpu), computed by `engine`; the CPU
  // engine can compute coarse rows [y0, y1) only (a LibTorch engine computes the whole group).
  std::vector<int16_t> GroupParams(const QPlane& plane, int s, int g, Device engine, int y0 = 0,
                                   int y1 = -1) const;

  // Network evaluations since construction (for tests and benchmarks): whole-plane group evaluations
  // and single-pixel base steps.
  int64_t group_evaluations() const { return group_evaluations_.load(); }
  int64_t base_evaluations() const { return base_evaluations_.load(); }

 private:
  int Threads() const;  // threads_, or DefaultCodingThreads() when 0
  template <class Visit>
  void Walk(const PlaneView& image, QPlane& plane, Visit&& visit, const Progress& progress) const;

  int threads_;
  mutable std::atomic<int64_t> group_evaluations_{0}, base_evaluations_{0};
};

}  // namespace pixelzip::models::nn
