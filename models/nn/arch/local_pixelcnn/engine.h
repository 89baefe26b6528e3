// The exact integer Local PixelCNN: the model a file is coded with. Loaded
// from a model file (runtime/model_file.h), proven exact at load, evaluated per pixel
// on the CPU (this file) or for whole images with LibTorch (torch/exact_ops.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/nn/runtime/int_layers.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/runtime/qplane.h"

namespace pixelzip::models::nn {

struct LocalPixelCnnShape {
  int channels = 3, kernel = 7, hidden = 64, inner = 128, blocks = 4, mixtures = 10;
  int aux = 0;  // conditioning planes (hyperparameter "aux", written only when > 0), seen through kAuxTaps
  // Bits of the activations after each nonlinearity (hyperparameter "act_bits", 8 to 12, written only
  // when not 8): values in [-ActMax(), ActMax()]. With int8 weights the 2^24 bound holds for any layer of
  // at most 258 inputs at 10 bits (258 * 127 * 511 < 2^24); above 10 bits (or with wider weights) the
  // exporter narrows weight scales where the bound needs it. The loader proves it per layer.
  int act_bits = 8;
  int32_t ActMax() const { return (int32_t{1} << (act_bits - 1)) - 1; }
  // Bits of the layer weights (hyperparameter "weight_bits", 8 to 16, written only when not 8): values in
  // [-WeightMax(), WeightMax()]. Wider weights are scaled per output channel so that the 2^24 bound holds
  // (the exporter narrows a channel's scale where the bound needs it); the loader proves it per layer.
  int weight_bits = 8;
  int32_t WeightMax() const { return (int32_t{1} << (weight_bits - 1)) - 1; }
  // Causal taps (dy, dx) of the masked kernel, dy <= 0, in raster order.
  std::vector<std::pair<int, int>> Taps() const;
  static constexpr int kAuxTaps = 9;  // the 3x3 window (dy, dx in -1..1, raster order) of each conditioning plane
  int Conv0Inputs() const { return int(Taps().size()) * channels + channels + kAuxTaps * aux; }
  int ParamCount() const { return MixtureParamCountInt(channels, mixtures); }
  std::string ToHyper() const;
  static LocalPixelCnnShape FromHyper(const std::string& hyper, int channels);  // throws kModelInvalid
};

inline constexpr const char* kLocalPixelCnnArch = "local-pixelcnn";

struct IntLocalPixelCnn {
  LocalPixelCnnShape shape;
  IntLinear conv0;                       // features: taps x channels (q = 2v - 255), then MED per channel,
                                         // then the 3x3 window x aux planes (q range, zero outside)
  std::vector<IntLut> lut_pre, lut_mid;  // per block: h -> a, t -> a2
  std::vector<IntLinear> conv1, conv2;   // per block: a -> t (int16), a2 -> residual increment
  IntLut lut_head;
  IntLinear head;                        // -> mixture parameters (fixed point, runtime/mixture_cdf.h)
  MixtureTables tables;

  // Validates every size, range and the exactness bound of every layer; throws kModelInvalid.
  void Validate() const;
  // Entries are named prefix + name ("" for a local-pixelcnn model file; e.g. "base." when embedded in another model).
  void Write(ModelFile& f, const std::string& prefix = "") const;
  static IntLocalPixelCnn Read(const ModelFile& f, const std::string& prefix = "");
};

// CPU engine. Thread-compatible: use one LocalPixelCnnCpuEngine per thread.
class LocalPixelCnnCpuEngine {
 public:
  explicit LocalPixelCnnCpuEngine(const IntLocalPixelCnn& model);
  // Mixture parameters of pixel (y, x). REQUIRES: every pixel before (y, x) in raster
  // order is set in `plane` (later pixels are never read); when shape.aux > 0, `aux` has
  // shape.aux channels and plane's size (its 3x3 window around (y, x) is read), else it is null.
  void Evaluate(const QPlane& plane, int y, int x, int16_t* params, const QPlane* aux = nullptr);

 private:
  const IntLocalPixelCnn& m_;
  std::vector<std::pair<int, int>> taps_;
  std::vector<int16_t> features_, h_, a_, t_, inc_;
};

}  // namespace pixelzip::models::nn
