// The exact integer Multiscale PixelCNN (Reed et al. 2017, "Parallel Multiscale
// Autoregressive Density Estimation"), coding in multiscale group order
// (docs/design.md section 3.2; the order is specified in docs/models.md).
//
// Order: the base image (pixels at multiples of 2^L) in raster order, coded by an
// embedded local-pixelcnn; then for spacing s = 2^(l-1), l = L..1, three groups of
// the spacing-s grid: (even, odd), (odd, even), (odd, odd) positions. Each group's
// pixels are predicted together by one non-causal network over the coarse grid
// (spacing 2s) whose input channels are the already known phases of the 2x2
// space-to-depth split; weights are shared across levels.
//
// This file: geometry, the integer model (file format, exactness proof at load)
// and the plain C++ CPU engine over whole planes (the reference). The LibTorch
// path is arch/multiscale/module.h; both must agree bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/runtime/int_layers.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

inline constexpr const char* kMultiscalePixelCnnArch = "multiscale-pixelcnn";
inline constexpr int kMultiscaleGroups = 3;
inline constexpr int kMultiscaleMaxLevels = 24;

// Levels L: the smallest L >= 0 with max(ceil(height / 2^L), ceil(width / 2^L)) <= base_side.
int MultiscaleLevels(int width, int height, int base_side);

// Phase (row, column parity) of group g's target pixels on the spacing-s grid: (0,1), (1,0), (1,1).
inline int GroupPhaseY(int g) { return g == 0 ? 0 : 1; }
inline int GroupPhaseX(int g) { return g == 1 ? 0 : 1; }
// Known input phases of group g, in channel order: (0,0), then (0,1) for g >= 1, then (1,0) for g == 2.
inline int GroupInputPhases(int g) { return g + 1; }
inline int InputPhaseY(int k) { return k == 2 ? 1 : 0; }
inline int InputPhaseX(int k) { return k == 1 ? 1 : 0; }

struct MultiscaleShape {
  int channels = 3;
  int base_side = 8;                           // longest side of the base image (determines L)
  int hidden = 32, inner = 64, blocks = 2;     // group networks
  int mixtures = 5;                            // shared by base and groups
  int base_kernel = 5, base_hidden = 32, base_inner = 64, base_blocks = 2;
  int act_bits = 8;                            // activations after each ELU, base and groups (see LocalPixelCnnShape)
  int32_t ActMax() const { return (int32_t{1} << (act_bits - 1)) - 1; }
  int weight_bits = 8;                         // layer weights, base and groups (see LocalPixelCnnShape)
  int32_t WeightMax() const { return (int32_t{1} << (weight_bits - 1)) - 1; }
  int ParamCount() const { return MixtureParamCountInt(channels, mixtures); }
  int Conv0Inputs(int g) const { return GroupInputPhases(g) * channels * 9; }
  LocalPixelCnnShape BaseShape() const;
  std::string ToHyper() const;
  static MultiscaleShape FromHyper(const std::string& hyper, int channels);  // throws kModelInvalid
};

// One group network: 3x3 conv over the known phases (q = 2v - 255) to `hidden` (int16 residual stream),
// residual blocks of ELU LUT -> 1x1 conv -> ELU LUT -> 1x1 conv, ELU LUT -> 1x1 head.
// conv0 features are ordered [input channel = phase * C + c][ky][kx] (the LibTorch weight layout).
struct IntGroupNet {
  IntLinear conv0;
  std::vector<IntLut> lut_pre, lut_mid;
  std::vector<IntLinear> conv1, conv2;
  IntLut lut_head;
  IntLinear head;
};

struct IntMultiscalePixelCnn {
  MultiscaleShape shape;
  IntLocalPixelCnn base;                        // file entries "base.*"; its mixture tables serve all groups
  IntGroupNet groups[kMultiscaleGroups];        // file entries "group<g>.*"

  const MixtureTables& tables() const { return base.tables; }
  // Validates sizes and ranges and proves sum|w|*max|a|+|b| < 2^24 for every layer; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntMultiscalePixelCnn Read(const ModelFile& f);
};

// Mixture parameters [hc][wc][P] of group g at spacing s over the coarse grid (hc = ceil(H / 2s),
// wc = ceil(W / 2s)); entry (Y, X) belongs to pixel (s(2Y + py), s(2X + px)) (parameters of positions
// outside the image are computed too and ignored). Reads only the known phases' pixels of `plane`
// (the pixels at multiples of 2s and the earlier groups of this level). CPU engine, `threads` >= 1.
// With y0, y1: only coarse rows [y0, min(y1, hc)), as [y1 - y0][wc][P] (bit-equal to those rows of
// the whole), so that a caller can walk a group in bands of bounded memory.
std::vector<int16_t> GroupParamsCpu(const IntMultiscalePixelCnn& m, const QPlane& plane, int s, int g, int threads,
                                    int y0 = 0, int y1 = -1);

}  // namespace pixelzip::models::nn
