// The exact integer PixelCNN++: the model a file is coded with (architecture
// "pixelcnn++"), proven exact at load, evaluated pixel by pixel on the CPU with
// caches (this file) or for whole images with LibTorch (arch/pixelcnnpp/exact.h).
//
// Integer design (docs/design.md section 2). Streams u, ul and conv outputs are int16
// (|v| <= 32767); LUT outputs are int8 (|v| <= 127) held in int16.
//  * first layers: input features q = 2v - 255 per colour channel and a constant
//    255 channel (the reference's channel of ones), zero outside the image;
//    acc = [not shifted in](b + sum w*a) (ul: the sum of its two shifted parts),
//    requantised to the u / ul stream.
//  * gated block on stream x (scale s_x), skips a_k:
//      ex  = [elu_pos(x) | elu_neg(-x)]                        int8, two LUTs
//      c1  = Requant(b1 + conv(ex) + nin([elu(a_k) | elu(-a_k)]...)) int16; the nin is
//            folded into conv1 as extra inputs read at the current position only
//      c1e = [elu_pos(c1) | elu_neg(-c1)]                      int8
//      (a|b) = Requant(b2 + conv(c1e))                         int16, 2F channels
//      out = clamp(x + clamp(Requant(a * sigmoid_lut(b))))     sigmoid LUT in [0, 127] = [0, 1]
//  * stride-2 resamplings read the int16 stream directly: the CPU accumulates
//    int16 x int8 in int32 (proven sum|w| * 32767 + |b| < 2^31), the LibTorch path
//    splits the input into bytes x = 256 * hi + lo (|hi| <= 128, lo in [-128, 127])
//    and runs two exact fp32 GEMMs (proven sum|w| * 128 + |b| < 2^24);
//  * head: params = Requant(b + W * elu_lut(ul)), fixed point of runtime/mixture_cdf.h.
// Every linear layer with int8 inputs is proven sum|w| * max|a| + |b| < 2^24 at load.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/nn/runtime/int_layers.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/arch/pixelcnnpp/graph.h"

namespace pixelzip::models::nn {

// Weight layout of every IntLinear here ("CPU order"): input index = tap * in_channels + channel,
// taps in ForEachTap order (ky * kw + kx), followed by the per-position extra inputs (skips).
struct IntPPBlock {
  IntLut in_pos, in_neg;                   // concat_elu of the block input: elu(x), elu(-x)
  std::vector<IntLut> skip_pos, skip_neg;  // per skip source
  IntLinear conv1;                         // out F; in taps * 2F + skips * 2F
  IntLut mid_pos, mid_neg;                 // concat_elu of conv1's output
  IntLinear conv2;                         // out 2F (a | b); in taps * 2F
  IntLut gate;                             // sigmoid of b, values in [0, 127]
  std::vector<Requant> gate_requant;       // per channel: a * gate -> stream units
};

struct IntPixelCnnPP {
  PixelCnnPPShape shape;
  IntLinear first_u, first_ul_down, first_ul_right;  // first_ul_right's requant and clamp equal first_ul_down's
  std::vector<IntPPBlock> blocks[2];                 // per stream (0 = u, 1 = ul), program order
  std::vector<IntLinear> resample[2];                // per stream: downsamplings, then upsamplings
  IntLut head_lut;
  IntLinear head;                                    // -> mixture parameters (fixed point, runtime/mixture_cdf.h)
  MixtureTables tables;

  // Validates every size, range and the exactness bound of every layer; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntPixelCnnPP Read(const ModelFile& f);  // Read + Validate
};

// Incremental CPU engine (Fast PixelCNN++, Ramachandran et al. 2017).
//
// Scheduler: every layer output ("task": first layers, each block's conv1 and conv2 halves,
// each resampling, the head) has a per-row cursor; positions of a row are computed left to
// right. A position is computed as soon as every input position it reads has been computed
// (checked exactly against the producers' cursors; pixels count as computed once SetPixel gave
// them), tasks visited in topological order at every step. So each position is computed exactly
// once, at the first step where it is computable: total work equals one batched pass, and
// nothing ever reads a pixel that has not been coded. A row of a task starts only after the
// row above it started (true for this graph: readiness grows with the row); should the head
// ever not be ready at its step, NextParams throws kInternal rather than guess.
//
// State: each map (pixels, every stream node, each block's concat_elu maps) keeps a ring of
// rows. A row slot is reused only when no consumer task can still read the old row (all
// consumer rows that read it are complete), otherwise the ring grows by a row, so the ring
// holds the live window only: a few rows per map. For the default model (filters=32,
// nr_resnet=2, stages=3) on a 768x512 RGB image that is about 10 MB (StateBytes() reports it),
// against about 1.8 GB for full int16 maps of every layer (2348 values per pixel).
class PixelCnnPPCpuEngine {
 public:
  // REQUIRES: `model` validated and outliving the engine; height, width >= 1.
  PixelCnnPPCpuEngine(const IntPixelCnnPP& model, int height, int width);
  ~PixelCnnPPCpuEngine();
  PixelCnnPPCpuEngine(const PixelCnnPPCpuEngine&) = delete;
  PixelCnnPPCpuEngine& operator=(const PixelCnnPPCpuEngine&) = delete;

  // Mixture parameters (shape.ParamCount() values) of the next pixel in raster order, valid until
  // the next call. REQUIRES: SetPixel was called once after every earlier NextParams.
  const int16_t* NextParams();
  // The coded values q = 2v - 255 (shape.channels of them) of the pixel NextParams described last.
  void SetPixel(const int32_t* q);
  // Bytes held by the caches now (ring buffers, cursors).
  size_t StateBytes() const;
  // Layer output positions computed so far (one batched pass computes them all once).
  int64_t PositionsComputed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Mixture parameters [H][W][P] of every pixel of `q` ([H][W][C] values 2v - 255) by running the
// incremental engine over the known image (what the decoder computes, in the same order).
std::vector<int16_t> EngineParamsForImage(const IntPixelCnnPP& model, const int16_t* q, int height, int width);

}  // namespace pixelzip::models::nn
