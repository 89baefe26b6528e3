// The exact integer Diagonal BiLSTM (PixelRNN, van den Oord et al. 2016): the
// model a file is coded with. Built from the Row LSTM's pieces (arch/row_lstm/engine.h:
// conv0, the gate tables, the int16 Q12 cell, the int8 hidden state, the head).
// Loaded from a model file, proven exact at load, evaluated pixel by pixel on the
// CPU (this file) or for whole images, one anti-diagonal at a time, with LibTorch
// (arch/diagonal_bilstm/module.h). Both compute the same integers (docs/design.md section 2).
//
// Per pixel (y, x), raster order, R = residual width, S = LSTM state width:
//   x0        = conv0(q): mask-A k x k taps of q = 2v - 255 (strictly before (y, x)) -> int16 residual
//   per layer l:
//     a         = elu_lut_l(x)                                                 int8, the layer's input
//     forward:  z = Requant(gates_fwd . [a(y, x) ; hf(y-1, x) ; hf(y, x-1)] + b)  clamp [-2048, 2048]
//               cf(y, x), hf(y, x) = RowLstmCell(z, cf(y, x-1))
//     backward: z = Requant(gates_bwd . [a(y, x) ; hb(y-1, x) ; hb(y, x+1)] + b)
//               cb(y, x), hb(y, x) = RowLstmCell(z, cb(y, x+1))
//     x         = clamp(x + out_l([hf(y, x) ; hb(y-1, x)]), -32767, 32767)   (hb of row -1 is zero)
//   params    = head2(elu(head1(elu(x))))                                      mixture parameters
// State outside the image (row -1, columns -1 and W) is zero. hb(y, .) depends on a(y, x..W-1) of
// the same row, so the layer output only ever uses the previous row's hb: causal in raster order.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/nn/arch/row_lstm/engine.h"

namespace pixelzip::models::nn {

inline constexpr const char* kDiagonalBiLstmArch = "diagonal-bilstm";

struct DiagonalBiLstmShape : PixelRnnShape {
  // Gate inputs per direction: a(y, x) (R), h of the row above (S), h of the previous column (S).
  int GateInputs() const { return hidden + 2 * state; }
  int64_t MacsPerPixel() const;
  std::string ToHyper() const;
  // Keys kernel, hidden, state, layers, head, mixtures. Throws Error(kModelInvalid) on unknown keys
  // or values out of range.
  static DiagonalBiLstmShape FromHyper(const std::string& hyper, int channels);
};

struct IntDiagonalBiLstm : IntPixelRnn {
  DiagonalBiLstmShape shape;
  // Per layer and direction: [4S][R (a) ; S (h above) ; S (h beside: x-1 forward, x+1 backward)],
  // clamp +-2048. out[l] (IntPixelRnn) is [R][S forward ; S backward of the row above].
  std::vector<IntLinear> gates_fwd, gates_bwd;

  // Validates every size, range and the exactness bound of every layer; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntDiagonalBiLstm Read(const ModelFile& f);
};

// Incremental CPU engine: evaluates pixels strictly in raster order. Per layer it keeps the input a
// of the current row, one row of forward hidden states (h(y-1, x..W-1) then h(y, 0..x-1)), the forward
// cell of the previous column, and one row of backward hidden states (hb(y-1, .), computed right to
// left over row y-1 when pixel (y, 0) is asked for). Thread-compatible.
class DiagonalBiLstmCpuEngine {
 public:
  DiagonalBiLstmCpuEngine(const IntDiagonalBiLstm& model, int width);
  // Mixture parameters of pixel (y, x). REQUIRES: calls visit (0,0), (0,1), ... in raster order
  // with no gaps; pixels before (y, x) are set in `q` ([y][x][c], q = 2v - 255), later ones never read.
  void Evaluate(const int16_t* q, int height, int y, int x, int16_t* params);

 private:
  void BackwardRow(int l);  // hb of the row whose a is in a_[l], right to left
  const IntDiagonalBiLstm& m_;
  int width_;
  std::vector<std::pair<int, int>> taps_;
  // Per layer: a [W][R]; forward h [W + 1][S] (index x + 1; index 0 is column -1, zero); backward h
  // [W + 1][S] (index x; index W is column W, zero); cells [S] per direction.
  std::vector<std::vector<int16_t>> a_, hf_, hb_, cf_, cb_;
  std::vector<int16_t> features_, x_, z_, inc_, act_, t_, h_out_;
  int next_y_ = 0, next_x_ = 0;
};

}  // namespace pixelzip::models::nn
