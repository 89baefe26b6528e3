// The plain PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural
// Networks"), exact integer model: a k x k mask-A convolution, residual blocks
// (1x1 down to `inner`, 3x3 mask B, 1x1 up to `hidden`, ReLU before each), two
// 1x1 mask-B output layers and a 256-way softmax per subpixel (runtime/softmax_cdf.h).
// Colour: channels are split into R, G, B groups; a group sees the context and,
// at the current pixel, the groups before it (mask A) or up to itself (mask B).
//
// Integers: pixel inputs q = 2v - 255; an int16 residual stream; int8 ReLU
// activations (an IntLinear clamped to [0, 127] is ReLU + requantisation; the
// residual stream enters a block through ReLU and an integer requantisation);
// int8 weights, int32 accumulation; int16 logits in 1/16 nat.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/runtime/int_layers.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

inline constexpr const char* kPixelCnnArch = "pixelcnn";

struct PixelCnnShape {
  int channels = 3;  // 1 or 3
  int kernel = 7;    // first (mask A) convolution, odd
  int hidden = 48;   // residual stream width (the paper's 2h)
  int inner = 24;    // width inside a residual block (h)
  int blocks = 5;
  int head = 48;     // width of the hidden 1x1 output layer
  std::string ToHyper() const;
  // Throws kModelInvalid for an unknown key, a value out of range, or a width not divisible by `channels`.
  static PixelCnnShape FromHyper(const std::string& hyper, int channels);
  int Logits() const { return 256 * channels; }
  // Rows above the current one that a position's output depends on (for banded evaluation).
  int ContextRows() const { return kernel / 2 + blocks; }
  int64_t MacsPerPixel() const;  // multiply-adds of one full evaluation, masked taps included
};

// Channel group (colour) of channel i of a layer with n channels: i / (n / channels).
inline int ChannelGroup(int i, int n, int channels) { return i / (n / channels); }
// 1 where a masked k x k weight [o][i][ky][kx] may be non-zero: taps before the centre in raster
// order, and at the centre the input groups before (mask A) or up to (mask B) the output's group.
bool PixelCnnTapAllowed(int o, int n_out, int i, int n_in, int ky, int kx, int k, int channels, bool mask_a);

struct IntPixelCnn {
  PixelCnnShape shape;
  IntLinear conv_in;                       // q (C x k x k) -> residual h (int16)
  std::vector<Requant> pre;                // per block: relu(h) -> int8
  std::vector<IntLinear> conv1, conv2, conv3;  // 1x1 -> int8 (ReLU), 3x3 -> int8 (ReLU), 1x1 -> int16 increment
  Requant head_pre;                        // relu(h) -> int8
  IntLinear head1, head2;                  // 1x1 -> int8 (ReLU), 1x1 -> int16 logits (1/16 nat)
  std::vector<int32_t> exp_table;          // runtime/softmax_cdf.h

  // Sizes, masks (masked weights are 0), ReLU ranges, requantisation constants, the exactness
  // bound of every layer and the exp table; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntPixelCnn Read(const ModelFile& f);
};

// relu(h) requantised to [0, 127].
inline int16_t ReluRequant(int32_t h, const Requant& r) { return int16_t(ApplyRequant(h > 0 ? h : 0, r, 0, kInt8Max)); }

// Incremental CPU engine of the decoder: one subpixel at a time in raster order (R, G, B within a
// pixel), computing only the current channel group of every layer at the current position; the 3x3
// convolutions read a two-row cache of their input. Thread-compatible: one per thread.
class PixelCnnCpuEngine {
 public:
  PixelCnnCpuEngine(const IntPixelCnn& model, int width);
  // The 256 logits of subpixel (y, x, c). REQUIRES: calls in coding order from (0, 0, 0) on, and
  // every subpixel before (y, x, c) set in `plane` (later ones are never read).
  void Step(const QPlane& plane, int y, int x, int c, int16_t* logits);

 private:
  const IntPixelCnn& m_;
  int width_;
  std::vector<int16_t> features_;
  std::vector<std::vector<int16_t>> h_, a_, t2_;  // per block (h_ has blocks + 1): the current position
  std::vector<std::vector<int16_t>> t1_rows_;      // per block: rows y % 2 of the 3x3 input, [2][width][inner]
  std::vector<int16_t> ah_, o1_;
};

}  // namespace pixelzip::models::nn
