// The exact integer Gated PixelCNN / Conditional PixelCNN (van den Oord et al.
// 2016, "Conditional Image Generation with PixelCNN Decoders"): the model a
// file is coded with. Loaded from a model file, proven exact at load,
// evaluated incrementally on the CPU (this file) or for whole images with
// LibTorch (arch/gated_pixelcnn/exact.h).
//
// Per layer l (0 <= l < layers), F = features, r = kernel / 2:
//   vertical:   pre = requant(Vconv_l(v_{l-1} over rows y-r..y, cols x-r..x+r) + b + Vcond_l[k])  (int16, scale 8/32767)
//               v_l = gate(pre) = RoundShift(tanh_lut(pre[:F]) * sigmoid_lut(pre[F:]), 7)          (int8, |v| <= 126)
//   horizontal: pre = requant(Hconv_l(a_l at (y, x-r..x)) + link_l(v_l at (y-1, x)) + b + Hcond_l[k])
//               h_{l+1} = clamp(h_l + requant(Res_l(gate(pre))), +-32767)                          (int16 residual stream)
//   layer 0 reads the pixels q = 2v - 255 instead: Vconv_0 over rows y-r..y, Hconv_0 over (y, x-r..x-1);
//   a_l = act_lut_l(h_l) (identity clamped to int8) for l >= 1; h_0 = 0.
//   head: mixture parameters = Head(elu_lut(h_L)) (runtime/mixture_cdf.h fixed point).
// The vertical stack at row y sees rows <= y only; the horizontal stack reads it
// shifted down one row, so pixel (y, x) depends only on pixels before it in raster
// order, with no blind spot. k is the class index (conditioning; 0 when classes == 1).
// tanh_lut gives round(127 tanh), sigmoid_lut round(127 sigmoid): the gate's integer
// product lies in [-16129, 16129] and is rounded to [-126, 126].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/runtime/int_layers.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

inline constexpr const char* kGatedPixelCnnArch = "gated-pixelcnn";
inline constexpr double kGatePreRange = 8.0;  // pre-activations are clamped to [-8, 8]: tanh, sigmoid saturate in int8
inline constexpr int kGateShift = 7;          // gate output = RoundShift(t * s, 7), t in [-127, 127], s in [0, 127]

struct GatedPixelCnnShape {
  int channels = 3, kernel = 3, features = 32, layers = 5, mixtures = 10, classes = 1;
  int Radius() const { return kernel / 2; }
  int VerticalInputs(int layer) const { return (Radius() + 1) * kernel * (layer == 0 ? channels : features); }
  // Horizontal taps: x-r..x-1 on layer 0 (pixels), x-r..x after; then the F link features.
  int HorizontalTaps(int layer) const { return layer == 0 ? Radius() : Radius() + 1; }
  int HorizontalInputs(int layer) const { return HorizontalTaps(layer) * (layer == 0 ? channels : features) + features; }
  int ParamCount() const { return MixtureParamCountInt(channels, mixtures); }
  std::string ToHyper() const;
  static GatedPixelCnnShape FromHyper(const std::string& hyper, int channels);  // throws kModelInvalid
};

struct IntGatedPixelCnn {
  GatedPixelCnnShape shape;
  std::vector<IntLinear> vconv, hconv, res;            // per layer
  std::vector<std::vector<int32_t>> vcond, hcond;      // per layer: [classes][2F] added to the bias
  std::vector<IntLut> act_lut;                         // per layer; entry 0 unused (layer 0 reads pixels)
  IntLut tanh_lut, sigmoid_lut, head_lut;
  IntLinear head;
  MixtureTables tables;

  // Validates every size, range and the exactness bound of every layer and class; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntGatedPixelCnn Read(const ModelFile& f);
};

// The gate: RoundShift(tanh_lut(a) * sigmoid_lut(b), 7), in [-126, 126].
inline int16_t GateProduct(int16_t t, int16_t s) { return int16_t(RoundShift(int64_t(t) * s, kGateShift)); }

// Incremental CPU engine for one image and one class. Row caches: the vertical
// stack's last r+1 rows per layer and the horizontal stack's current row.
// Thread-compatible: one engine per thread.
class GatedPixelCnnCpuEngine {
 public:
  // REQUIRES: 0 <= class_index < model.shape.classes; width >= 1.
  GatedPixelCnnCpuEngine(const IntGatedPixelCnn& model, int width, int class_index);
  // Mixture parameters of pixel (y, x). REQUIRES: FinishRow was called for rows 0..y-1 in order,
  // PixelParams was called for (y, 0..x-1) in order, and every pixel before (y, x) is set in `plane`.
  void PixelParams(const QPlane& plane, int y, int x, int16_t* params);
  // Computes the vertical stack of row y. REQUIRES: every pixel of rows <= y is set; rows 0..y-1 finished.
  void FinishRow(const QPlane& plane, int y);

 private:
  const IntGatedPixelCnn& m_;
  int width_, rows_;
  std::vector<IntLinear> vconv_, hconv_;               // with the class's conditioning folded into the bias
  std::vector<std::vector<int16_t>> vrows_;            // per layer: (r+1) rows x width x F gate outputs (ring)
  std::vector<std::vector<int16_t>> hact_;             // per layer: width x F (layer 0 unused)
  std::vector<int16_t> feat_, pre_, gate_, inc_, h_, a_;
  const int16_t* VRow(int layer, int y) const;         // nullptr when y < 0
};

}  // namespace pixelzip::models::nn
