#include "models/nn/arch/diagonal_bilstm/engine.h"

#include <algorithm>
#include <sstream>

#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

int64_t DiagonalBiLstmShape::MacsPerPixel() const {
  return int64_t(Conv0Inputs()) * hidden +
         int64_t(layers) * (2 * int64_t(GateInputs()) * 4 * state + 2 * int64_t(state) * hidden) +
         int64_t(hidden) * head + int64_t(head) * ParamCount();
}

std::string DiagonalBiLstmShape::ToHyper() const {
  std::ostringstream s;
  s << "kernel=" << kernel << ",hidden=" << hidden << ",state=" << state << ",layers=" << layers << ",head=" << head
    << ",mixtures=" << mixtures;
  return s.str();
}

DiagonalBiLstmShape DiagonalBiLstmShape::FromHyper(const std::string& hyper, int channels) {
  DiagonalBiLstmShape s;
  s.channels = channels;
  SetHyperparameters(hyper, s.CommonFields());
  if (!s.CommonInRange()) throw Error(ErrorCode::kModelInvalid, "hyperparameters out of range: " + hyper);
  return s;
}

void IntDiagonalBiLstm::Validate() const {
  const auto& s = shape;
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kModelInvalid, std::string(kDiagonalBiLstmArch) + " model: " + what);
  };
  check(int(gates_fwd.size()) == s.layers && int(gates_bwd.size()) == s.layers, "layer count mismatch");
  for (const auto* gates : {&gates_fwd, &gates_bwd})
    for (const auto& g : *gates) {
      check(g.out == 4 * s.state && g.in == s.GateInputs(), "gates have the wrong shape");
      // Exactly the tables' range (the batched pass clamps both directions with one pair of bounds).
      check(g.lo == -kGateIndexMax && g.hi == kGateIndexMax, "gate pre-activations must clamp to the table range");
    }
  ValidateCommon(s, 2 * s.state, kDiagonalBiLstmArch);
  for (int l = 0; l < s.layers; ++l) {
    gates_fwd[l].ProveBound(kInt8Max, "layer" + std::to_string(l) + ".gates_fwd");
    gates_bwd[l].ProveBound(kInt8Max, "layer" + std::to_string(l) + ".gates_bwd");
  }
}

void IntDiagonalBiLstm::Write(ModelFile& f) const {
  WriteCommon(f, shape, kDiagonalBiLstmArch, shape.ToHyper());
  for (int l = 0; l < shape.layers; ++l) {
    gates_fwd[l].Write(f, "layer" + std::to_string(l) + ".gates_fwd");
    gates_bwd[l].Write(f, "layer" + std::to_string(l) + ".gates_bwd");
  }
}

IntDiagonalBiLstm IntDiagonalBiLstm::Read(const ModelFile& f) {
  IntDiagonalBiLstm m;
  m.shape = ReadModelShape<DiagonalBiLstmShape>(f, kDiagonalBiLstmArch);
  const auto& s = m.shape;
  m.ReadCommon(f, s, 2 * s.state);
  for (int l = 0; l < s.layers; ++l) {
    m.gates_fwd.push_back(IntLinear::Read(f, "layer" + std::to_string(l) + ".gates_fwd", 4 * s.state, s.GateInputs()));
    m.gates_bwd.push_back(IntLinear::Read(f, "layer" + std::to_string(l) + ".gates_bwd", 4 * s.state, s.GateInputs()));
  }
  m.Validate();
  return m;
}

DiagonalBiLstmCpuEngine::DiagonalBiLstmCpuEngine(const IntDiagonalBiLstm& model, int width)
    : m_(model), width_(width), taps_(model.shape.Taps()) {
  const auto& s = model.shape;
  for (int l = 0; l < s.layers; ++l) {
    a_.emplace_back(size_t(width) * s.hidden, 0);
    hf_.emplace_back(size_t(width + 1) * s.state, 0);
    hb_.emplace_back(size_t(width + 1) * s.state, 0);
    cf_.emplace_back(size_t(s.state), 0);
    cb_.emplace_back(size_t(s.state), 0);
  }
  features_.resize(size_t(std::max(s.Conv0Inputs(), s.GateInputs())));
  x_.resize(size_t(s.hidden));
  z_.resize(size_t(4 * s.state));
  inc_.resize(size_t(s.hidden));
  act_.resize(size_t(s.hidden));
  t_.resize(size_t(s.head));
  h_out_.resize(size_t(2 * s.state));
}

namespace {

// features = [a (R) ; h above (S) ; h beside (S)]
void GateFeatures(int R, int S, const int16_t* a, const int16_t* above, const int16_t* beside, int16_t* features) {
  std::copy(a, a + R, features);
  std::copy(above, above + S, features + R);
  std::copy(beside, beside + S, features + R + S);
}

}  // namespace

void DiagonalBiLstmCpuEngine::BackwardRow(int l) {
  const auto& s = m_.shape;
  const int R = s.hidden, S = s.state;
  int16_t* hb = hb_[size_t(l)].data();
  int16_t* cb = cb_[size_t(l)].data();
  std::fill(cb, cb + S, int16_t(0));  // c of column W
  for (int x = width_ - 1; x >= 0; --x) {
    // hb[x] still holds the row above; hb[x + 1] is this row's column x + 1 (zero at x + 1 = W).
    GateFeatures(R, S, a_[size_t(l)].data() + size_t(x) * R, hb + size_t(x) * S, hb + size_t(x + 1) * S, features_.data());
    m_.gates_bwd[size_t(l)].Apply(features_.data(), z_.data());
    LstmCells(m_.gate_tables, S, z_.data(), cb, cb, hb + size_t(x) * S);
  }
}

void DiagonalBiLstmCpuEngine::Evaluate(const int16_t* q, int height, int y, int x, int16_t* params) {
  if (y != next_y_ || x != next_x_ || x >= width_ || y >= height)
    throw Error(ErrorCode::kInternal, "diagonal-bilstm decoder: pixels must be evaluated in raster order");
  const auto& s = m_.shape;
  const int R = s.hidden, S = s.state;
  if (x == 0 && y > 0) {
    // Row y - 1 is complete: its backward states (every layer's a of that row is cached).
    for (int l = 0; l < s.layers; ++l) BackwardRow(l);
  }
  m_.Conv0At(s, taps_, q, width_, y, x, features_.data(), x_.data());
  for (int l = 0; l < s.layers; ++l) {
    int16_t* a = a_[size_t(l)].data() + size_t(x) * R;
    for (int r = 0; r < R; ++r) a[r] = m_.lut_in[size_t(l)](x_[size_t(r)]);
    int16_t* hf = hf_[size_t(l)].data();
    int16_t* cf = cf_[size_t(l)].data();
    if (x == 0) std::fill(cf, cf + S, int16_t(0));  // c of column -1
    // hf[x + 1] still holds h(y - 1, x); hf[x] is h(y, x - 1) (zero for x = 0).
    GateFeatures(R, S, a, hf + size_t(x + 1) * S, hf + size_t(x) * S, features_.data());
    m_.gates_fwd[size_t(l)].Apply(features_.data(), z_.data());
    LstmCells(m_.gate_tables, S, z_.data(), cf, cf, hf + size_t(x + 1) * S);
    std::copy(hf + size_t(x + 1) * S, hf + size_t(x + 2) * S, h_out_.begin());
    // hb(y - 1, x); zero for y = 0 (never computed yet).
    std::copy(hb_[size_t(l)].data() + size_t(x) * S, hb_[size_t(l)].data() + size_t(x + 1) * S, h_out_.begin() + S);
    m_.out[size_t(l)].Apply(h_out_.data(), inc_.data());
    IntPixelRnn::AddResidual(R, inc_.data(), x_.data());
  }
  m_.HeadAt(s, x_.data(), act_.data(), t_.data(), params);
  if (++next_x_ == width_) {
    next_x_ = 0;
    ++next_y_;
  }
}

}  // namespace pixelzip::models::nn
