// The exact integer Row LSTM (PixelRNN, van den Oord et al. 2016): the model a
// file is coded with. Loaded from a model file, proven exact at load, evaluated
// pixel by pixel on the CPU (this file) or for whole images, row by row, with
// LibTorch (arch/row_lstm/module.h). Both compute the same integers (docs/design.md section 2).
//
// Per pixel (y, x), raster order, R = residual width, S = LSTM state width:
//   x0        = conv0(q): mask-A k x k taps of q = 2v - 255 (strictly before (y, x)) -> int16 residual
//   per layer l:
//     a       = elu_lut_l(x)                                  int8, the layer's input
//     z       = Requant(gates . [a(y, x-r'..x) ; h_l(y-1, x-1..x+1)] + b)   clamp [-2048, 2048], real z / 256
//     i, f, o = sigmoid_table[z]   g = tanh_table[z]           Q15 (real v / 32768)
//     c_l(y,x) = clamp(RoundShift(8 f c_l(y-1,x) + i g, 18), -32767, 32767)          Q12 (real c / 4096, |c| < 8)
//     h_l(y,x) = clamp(RoundShift(127 o tanh_table[clamp(RoundShift(c, 4), -2048, 2048)], 30), -127, 127)  real h / 127
//     x       = clamp(x + out_l(h_l(y, x)), -32767, 32767)
//   params    = head2(elu(head1(elu(x))))                      mixture parameters (runtime/mixture_cdf.h)
// State outside the image (row -1, columns -1 and W) is zero.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/nn/runtime/hyperparameters.h"
#include "models/nn/runtime/int_layers.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

inline constexpr const char* kRowLstmArch = "row-lstm";

// Fixed-point conventions of the exact recurrence.
inline constexpr int kGateFracBits = 8;        // gate pre-activations z: real z / 256
inline constexpr int kGateIndexMax = 2048;     // |z| <= 2048 (|real| <= 8); tables have 4097 entries
inline constexpr int kGateValueBits = 15;      // sigmoid / tanh table values: real v / 32768
inline constexpr int kCellFracBits = 12;       // cell state: real c / 4096, |c| <= 32767 (|real| < 8)
inline constexpr int kHiddenMax = 127;         // hidden state: real h / 127

// The hyperparameters every PixelRNN model here (row-lstm, diagonal-bilstm) shares.
struct PixelRnnShape {
  int channels = 3;    // colour channels coded (1 or 3)
  int kernel = 7;      // mask-A input convolution, odd
  int hidden = 48;     // residual stream width R
  int state = 48;      // LSTM state width S (gates 4S: i, f, o, g)
  int layers = 3;      // LSTM layers
  int head = 64;       // hidden width of the 1x1 output layers
  int mixtures = 10;   // logistic mixture components
  // Causal taps (dy, dx) of conv0 (mask A), dy <= 0, raster order.
  std::vector<std::pair<int, int>> Taps() const;
  int Conv0Inputs() const { return int(Taps().size()) * channels; }
  int ParamCount() const { return MixtureParamCountInt(channels, mixtures); }
  // The shared hyperparameters' fields, for SetHyperparameters.
  std::vector<HyperField> CommonFields();
  // Whether the shared hyperparameters (and `channels`) are in range.
  bool CommonInRange() const;
};

struct RowLstmShape : PixelRnnShape {
  int row_kernel = 3;  // input-to-state 1 x k mask-B convolution along the row, odd: taps dx = -(k/2)..0
  int RowTaps() const { return row_kernel / 2 + 1; }
  int GateInputs() const { return hidden * RowTaps() + state * 3; }
  int64_t MacsPerPixel() const;
  std::string ToHyper() const;
  // Throws Error(kModelInvalid) on unknown keys or values out of range.
  static RowLstmShape FromHyper(const std::string& hyper, int channels);
};

// sigmoid and tanh of z / 256 for z = -2048..2048, as round(32768 * f) clamped to [-32767, 32767]
// (stored in the model file as int16).
struct GateTables {
  std::vector<int16_t> sigmoid, tanh;
  static GateTables Compute();  // double precision, exporter only
  void Validate() const;        // sizes, ranges, monotonicity; throws kModelInvalid
};

// The layers every PixelRNN model has: conv0, per-layer input LUT and output projection, the head and
// the tables. `out[l]` has `out_inputs` inputs (S for the Row LSTM, 2S for the Diagonal BiLSTM).
struct IntPixelRnn {
  IntLinear conv0;                 // [R][taps x channels], output clamp +-32767
  std::vector<IntLut> lut_in;      // per layer: residual -> int8 a
  std::vector<IntLinear> out;      // per layer: [R][out_inputs], residual increment
  IntLut lut_head1;
  IntLinear head1;                 // [head][R], int16
  IntLut lut_head2;
  IntLinear head2;                 // [P][head] -> mixture parameters
  GateTables gate_tables;
  MixtureTables tables;

  // Shapes, bounds and tables of these parts; throws kModelInvalid "<arch> model: ...".
  void ValidateCommon(const PixelRnnShape& s, int out_inputs, const std::string& arch) const;
  // `arch`, `hyper`, channels and these parts (layer l's as "layer<l>.lut_in", "layer<l>.out").
  void WriteCommon(ModelFile& f, const PixelRnnShape& s, const std::string& arch, const std::string& hyper) const;
  // Checks the architecture name; reads these parts (the caller parses "hyper" first).
  void ReadCommon(const ModelFile& f, const PixelRnnShape& s, int out_inputs);

  // The CPU engine's shared steps. conv0 at (y, x) of q ([y][x][c], width `width`) into x0 (R values);
  // `features` has room for Conv0Inputs() values.
  void Conv0At(const PixelRnnShape& s, const std::vector<std::pair<int, int>>& taps, const int16_t* q, int width, int y,
               int x, int16_t* features, int16_t* x0) const;
  // x = clamp(x + inc, +-32767) over R values.
  static void AddResidual(int R, const int16_t* inc, int16_t* x);
  // The head on the final residual x (R values) into params; `act` (R) and `t` (head) are scratch.
  void HeadAt(const PixelRnnShape& s, const int16_t* x, int16_t* act, int16_t* t, int16_t* params) const;
};

struct IntRowLstm : IntPixelRnn {
  RowLstmShape shape;
  std::vector<IntLinear> gates;    // per layer: [4S][R x row taps (channel-major) ; S x 3 (channel-major)], clamp +-2048

  // Validates every size, range and the exactness bound of every layer; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntRowLstm Read(const ModelFile& f);
};

// The recurrence step shared by both engines: REQUIRES |z| <= 2048 for each gate, |c_prev| <= 32767.
// Writes the new cell and hidden state.
inline void RowLstmCell(const GateTables& t, int32_t zi, int32_t zf, int32_t zo, int32_t zg, int32_t c_prev,
                        int16_t* c_out, int16_t* h_out) {
  const int64_t i = t.sigmoid[size_t(zi + kGateIndexMax)], f = t.sigmoid[size_t(zf + kGateIndexMax)];
  const int64_t o = t.sigmoid[size_t(zo + kGateIndexMax)], g = t.tanh[size_t(zg + kGateIndexMax)];
  const int64_t c = std::clamp<int64_t>(RoundShift(8 * f * c_prev + i * g, 18), -kInt16Max, kInt16Max);
  const int64_t ci = std::clamp<int64_t>(RoundShift(c, 4), -kGateIndexMax, kGateIndexMax);
  const int64_t tc = t.tanh[size_t(ci + kGateIndexMax)];
  *c_out = int16_t(c);
  *h_out = int16_t(std::clamp<int64_t>(RoundShift(127 * o * tc, 30), -kHiddenMax, kHiddenMax));
}

// The step for S cells: z = [i; f; o; g] (4S), c_prev, c_out, h_out S values each.
inline void LstmCells(const GateTables& t, int S, const int16_t* z, const int16_t* c_prev, int16_t* c_out, int16_t* h_out) {
  for (int u = 0; u < S; ++u) RowLstmCell(t, z[u], z[S + u], z[2 * S + u], z[3 * S + u], c_prev[u], &c_out[u], &h_out[u]);
}

// Incremental CPU engine: evaluates pixels strictly in raster order, caching each layer's
// previous-row hidden and cell states and current-row inputs. Thread-compatible.
class RowLstmCpuEngine {
 public:
  RowLstmCpuEngine(const IntRowLstm& model, int width);
  // Mixture parameters of pixel (y, x). REQUIRES: calls visit (0,0), (0,1), ... in raster order
  // with no gaps; pixels before (y, x) are set in `q` ([y][x][c], q = 2v - 255), later ones never read.
  void Evaluate(const int16_t* q, int height, int y, int x, int16_t* params);

 private:
  const IntRowLstm& m_;
  int width_;
  std::vector<std::pair<int, int>> taps_;
  // Per layer: input activations a of the current row [W + pad][R] (pad columns left are zero),
  // hidden state of the previous / current row [W + 2][S] (column -1 and W zero), cells [W][S].
  std::vector<std::vector<int16_t>> a_row_, h_prev_, h_cur_, c_prev_, c_cur_;
  std::vector<int16_t> features_, x_, z_, inc_, act_, t_;
  int next_y_ = 0, next_x_ = 0;
};

}  // namespace pixelzip::models::nn
