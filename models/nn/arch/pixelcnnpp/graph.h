// PixelCNN++ (Salimans, Karpathy, Chen, Kingma 2017) as a graph that the float
// module (arch/pixelcnnpp/module.h), the exact LibTorch path (arch/pixelcnnpp/exact.h) and the
// integer CPU engine (arch/pixelcnnpp/engine.h) all interpret: hyperparameters, the
// geometry of every shifted convolution, and the order of layers with the long
// skip connections of the reference implementation (openai/pixel-cnn,
// pixel_cnn_pp/model.py). Torch-free.
//
// Streams: u (down-shifted, sees rows above) and ul (down-right-shifted, sees
// rows above and pixels to the left in the current row). Level l maps have
// ceil(H / 2^l) x ceil(W / 2^l) positions, so any image size works: stride-2
// convolutions read zeros past the bottom/right edge (constants, hence causal)
// and transposed convolutions are cropped to the finer level's size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pixelzip::models::nn {

inline constexpr const char* kPixelCnnPPArch = "pixelcnn++";

struct PixelCnnPPShape {
  int channels = 3;   // colour channels (1 or 3)
  int filters = 32;   // width of both streams
  int nr_resnet = 2;  // gated ResNet blocks per stage (the up pass uses nr_resnet + 1 below the coarsest stage)
  int stages = 3;     // resolutions (stride-2 steps between them: stages - 1)
  int mixtures = 10;  // logistic mixture components
  int ParamCount() const;  // mixture parameters per pixel
  std::string ToHyper() const;
  // Parses "key=value,..." (keys filters, nr_resnet, stages, mixtures; every key optional).
  // Throws pixelzip::Error(kModelInvalid) for unknown keys or values out of range.
  static PixelCnnPPShape FromHyper(const std::string& hyper, int channels);
};

// A convolution's footprint. Output (y, x) with y' = y - shift_down, x' = x - shift_right:
//  * if y' < 0 or x' < 0 the output is exactly 0 (no bias): the reference's down_shift / right_shift;
//  * conv:       sum over taps (ky, kx) of w[ky][kx] * in(stride*y' + ky - pad_top, stride*x' + kx - pad_left);
//  * transposed: sum over taps with (y' + pad_top - ky) and (x' + pad_left - kx) even of
//                w[ky][kx] * in((y' + pad_top - ky) / 2, (x' + pad_left - kx) / 2)   (stride 2);
// inputs outside the input map read as 0.
struct ConvGeometry {
  bool transposed = false;
  int stride = 1, kh = 1, kw = 1, pad_top = 0, pad_left = 0;
  int shift_down = 0, shift_right = 0;
  int taps() const { return kh * kw; }
  // True when (y, x) is shifted in from outside (output exactly 0).
  bool ShiftedIn(int y, int x) const { return y < shift_down || x < shift_right; }
};

// Calls f(tap, iy, ix) for every tap of output (y, x) that reads an input inside [0, in_h) x [0, in_w),
// tap = ky * kw + kx. Nothing when ShiftedIn(y, x).
template <class F>
inline void ForEachTap(const ConvGeometry& g, int y, int x, int in_h, int in_w, F&& f) {
  if (g.ShiftedIn(y, x)) return;
  const int yy = y - g.shift_down, xx = x - g.shift_right;
  for (int ky = 0; ky < g.kh; ++ky) {
    int iy;
    if (g.transposed) {
      const int t = yy + g.pad_top - ky;
      if (t < 0 || (t & 1)) continue;
      iy = t >> 1;
    } else {
      iy = g.stride * yy + ky - g.pad_top;
      if (iy < 0) continue;
    }
    if (iy >= in_h) continue;
    for (int kx = 0; kx < g.kw; ++kx) {
      int ix;
      if (g.transposed) {
        const int t = xx + g.pad_left - kx;
        if (t < 0 || (t & 1)) continue;
        ix = t >> 1;
      } else {
        ix = g.stride * xx + kx - g.pad_left;
        if (ix < 0) continue;
      }
      if (ix >= in_w) continue;
      f(ky * g.kw + kx, iy, ix);
    }
  }
}

// The largest output row whose footprint includes input row `in_row` (may exceed the output height).
int LastOutputRowReading(const ConvGeometry& g, int in_row);

// Geometries of the reference implementation.
ConvGeometry FirstUGeometry();        // down_shift(down_shifted_conv2d 2x3)
ConvGeometry FirstUlDownGeometry();   // down_shift(down_shifted_conv2d 1x3)
ConvGeometry FirstUlRightGeometry();  // right_shift(down_right_shifted_conv2d 2x1)
ConvGeometry BlockGeometry(bool ul);  // 2x3 down-shifted (u) or 2x2 down-right-shifted (ul)
ConvGeometry DownsampleGeometry(bool ul);  // the same, stride 2
ConvGeometry UpsampleGeometry(bool ul);    // down_shifted_deconv2d 2x3 / down_right_shifted_deconv2d 2x2, stride 2

// Size of a level-l map: ceil(size / 2^level).
inline int LevelSize(int size, int level) { return (size + (1 << level) - 1) >> level; }

// One layer of the network. Stream tensors ("nodes") are numbered in creation order.
struct PixelCnnPPOp {
  enum Kind { kFirstU, kFirstUl, kBlock, kDownsample, kUpsample };
  Kind kind = kFirstU;
  bool ul = false;         // which stream the output belongs to
  int level = 0;           // resolution level of the output
  int index = 0;           // kBlock: block number within its stream; kDown/Upsample: resample number within its stream
  int x = -1;              // input stream node (kBlock: residual input; resample: the map resampled)
  std::vector<int> skips;  // kBlock: nodes fed through concat_elu + nin (the reference's `a`, concatenated in order)
  int out = -1;            // output stream node
  int segment = 0;         // quantisation segment of the output stream (see PixelCnnPPProgram)
};

// The layer sequence of the reference's model_spec. Stream values keep one quantisation scale per
// segment: a residual block keeps its input's segment; first layers start segment 0, the i-th
// downsampling starts segment i, the j-th upsampling segment stages - 1 + j (2 * stages - 1 per stream).
struct PixelCnnPPProgram {
  std::vector<PixelCnnPPOp> ops;
  std::vector<int> node_level, node_segment;
  std::vector<bool> node_ul;
  int final_ul = -1;                 // the ul node the output head reads
  int blocks_per_stream = 0, resamples_per_stream = 0, segments_per_stream = 0;
  static PixelCnnPPProgram Build(const PixelCnnPPShape& shape);
};

// Multiply-adds per pixel of one forward pass on a height x width image (every linear layer at
// its own resolution, counting the taps that read inside the input map), and the number of
// weights and biases of the network.
double PixelCnnPPMacsPerPixel(const PixelCnnPPShape& shape, int height, int width);
int64_t PixelCnnPPParameterCount(const PixelCnnPPShape& shape);

}  // namespace pixelzip::models::nn
