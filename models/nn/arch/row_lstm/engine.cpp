#include "models/nn/arch/row_lstm/engine.h"

#include <cmath>
#include <sstream>

#include "models/nn/runtime/causal_taps.h"
#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

std::vector<std::pair<int, int>> PixelRnnShape::Taps() const {
  return CausalTaps(kernel);
}

std::vector<HyperField> PixelRnnShape::CommonFields() {
  return {{"kernel", &kernel}, {"hidden", &hidden}, {"state", &state},
          {"layers", &layers}, {"head", &head},     {"mixtures", &mixtures}};
}

bool PixelRnnShape::CommonInRange() const {
  return kernel >= 3 && kernel <= 15 && kernel % 2 == 1 && hidden >= 1 && hidden <= 512 && state >= 1 && state <= 512 &&
         layers >= 1 && layers <= 16 && head >= 1 && head <= 1024 && mixtures >= 1 && mixtures <= 16 &&
         (channels == 1 || channels == 3);
}

int64_t RowLstmShape::MacsPerPixel() const {
  return int64_t(Conv0Inputs()) * hidden + int64_t(layers) * (int64_t(GateInputs()) * 4 * state + int64_t(state) * hidden) +
         int64_t(hidden) * head + int64_t(head) * ParamCount();
}

std::string RowLstmShape::ToHyper() const {
  std::ostringstream s;
  s << "kernel=" << kernel << ",hidden=" << hidden << ",state=" << state << ",layers=" << layers
    << ",row_kernel=" << row_kernel << ",head=" << head << ",mixtures=" << mixtures;
  return s.str();
}

RowLstmShape RowLstmShape::FromHyper(const std::string& hyper, int channels) {
  RowLstmShape s;
  s.channels = channels;
  auto fields = s.CommonFields();
  fields.push_back({"row_kernel", &s.row_kernel});
  SetHyperparameters(hyper, fields);
  if (!s.CommonInRange() || s.row_kernel < 1 || s.row_kernel > 15 || s.row_kernel % 2 == 0)
    throw Error(ErrorCode::kModelInvalid, "hyperparameters out of range: " + hyper);
  return s;
}

GateTables GateTables::Compute() {
  GateTables t;
  for (int z = -kGateIndexMax; z <= kGateIndexMax; ++z) {
    const double v = double(z) / (1 << kGateFracBits);
    auto q = [](double f) { return int16_t(std::clamp<long long>(std::llround(f * (1 << kGateValueBits)), -kInt16Max, kInt16Max)); };
    t.sigmoid.push_back(q(1.0 / (1.0 + std::exp(-v))));
    t.tanh.push_back(q(std::tanh(v)));
  }
  return t;
}

void GateTables::Validate() const {
  const size_t n = 2 * kGateIndexMax + 1;
  auto bad = [](const std::string& what) { throw Error(ErrorCode::kModelInvalid, "LSTM gate table: " + what); };
  if (sigmoid.size() != n || tanh.size() != n) bad("wrong size");
  for (size_t i = 0; i < n; ++i) {
    if (sigmoid[i] < 0 || tanh[i] < -kInt16Max) bad("value out of range");
    if (i > 0 && (sigmoid[i] < sigmoid[i - 1] || tanh[i] < tanh[i - 1])) bad("not monotone");
  }
}

void IntPixelRnn::ValidateCommon(const PixelRnnShape& s, int out_inputs, const std::string& arch) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kModelInvalid, arch + " model: " + what);
  };
  check(conv0.out == s.hidden && conv0.in == s.Conv0Inputs(), "conv0 has the wrong shape");
  check(int(lut_in.size()) == s.layers && int(out.size()) == s.layers, "layer count mismatch");
  for (int l = 0; l < s.layers; ++l) check(out[l].out == s.hidden && out[l].in == out_inputs, "output projection has the wrong shape");
  check(head1.out == s.head && head1.in == s.hidden, "head1 has the wrong shape");
  check(head2.out == s.ParamCount() && head2.in == s.head, "head2 has the wrong shape");
  conv0.ProveBound(255, "conv0");
  for (int l = 0; l < s.layers; ++l) out[l].ProveBound(kHiddenMax, "layer" + std::to_string(l) + ".out");
  head1.ProveBound(kInt8Max, "head1");
  head2.ProveBound(kInt8Max, "head2");
  gate_tables.Validate();
  tables.Validate();
}

void IntPixelRnn::WriteCommon(ModelFile& f, const PixelRnnShape& s, const std::string& arch, const std::string& hyper) const {
  WriteModelHeader(f, arch, hyper, s.channels);
  conv0.Write(f, "conv0");
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "layer" + std::to_string(l);
    lut_in[l].Write(f, p + ".lut_in");
    out[l].Write(f, p + ".out");
  }
  lut_head1.Write(f, "head1.lut");
  head1.Write(f, "head1");
  lut_head2.Write(f, "head2.lut");
  head2.Write(f, "head2");
  f.PutInt16("lstm.sigmoid", gate_tables.sigmoid);
  f.PutInt16("lstm.tanh", gate_tables.tanh);
  WriteMixtureTables(f, tables);
}

void IntPixelRnn::ReadCommon(const ModelFile& f, const PixelRnnShape& s, int out_inputs) {
  conv0 = IntLinear::Read(f, "conv0", s.hidden, s.Conv0Inputs());
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "layer" + std::to_string(l);
    lut_in.push_back(IntLut::Read(f, p + ".lut_in"));
    out.push_back(IntLinear::Read(f, p + ".out", s.hidden, out_inputs));
  }
  lut_head1 = IntLut::Read(f, "head1.lut");
  head1 = IntLinear::Read(f, "head1", s.head, s.hidden);
  lut_head2 = IntLut::Read(f, "head2.lut");
  head2 = IntLinear::Read(f, "head2", s.ParamCount(), s.head);
  gate_tables.sigmoid = f.Int16("lstm.sigmoid", 2 * kGateIndexMax + 1);
  gate_tables.tanh = f.Int16("lstm.tanh", 2 * kGateIndexMax + 1);
  tables = ReadMixtureTables(f);
}

void IntPixelRnn::Conv0At(const PixelRnnShape& s, const std::vector<std::pair<int, int>>& taps, const int16_t* q, int width,
                          int y, int x, int16_t* features, int16_t* x0) const {
  const int C = s.channels;
  size_t j = 0;
  for (const auto& [dy, dx] : taps) {
    const int yy = y + dy, xx = x + dx;
    const bool inside = yy >= 0 && xx >= 0 && xx < width;
    for (int c = 0; c < C; ++c) features[j++] = inside ? q[(size_t(yy) * width + xx) * C + c] : int16_t(0);
  }
  conv0.Apply(features, x0);
}

void IntPixelRnn::AddResidual(int R, const int16_t* inc, int16_t* x) {
  for (int r = 0; r < R; ++r) x[r] = int16_t(std::clamp<int32_t>(int32_t(x[r]) + inc[r], -kInt16Max, kInt16Max));
}

void IntPixelRnn::HeadAt(const PixelRnnShape& s, const int16_t* x, int16_t* act, int16_t* t, int16_t* params) const {
  for (int r = 0; r < s.hidden; ++r) act[r] = lut_head1(x[r]);
  head1.Apply(act, t);
  for (int i = 0; i < s.head; ++i) t[i] = lut_head2(t[i]);
  head2.Apply(t, params);
}

void IntRowLstm::Validate() const {
  const auto& s = shape;
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kModelInvalid, "row-lstm model: " + what);
  };
  check(int(gates.size()) == s.layers, "layer count mismatch");
  for (int l = 0; l < s.layers; ++l) {
    check(gates[l].out == 4 * s.state && gates[l].in == s.GateInputs(), "gates have the wrong shape");
    check(gates[l].lo >= -kGateIndexMax && gates[l].hi <= kGateIndexMax, "gate pre-activations exceed the table range");
  }
  ValidateCommon(s, s.state, kRowLstmArch);
  for (int l = 0; l < s.layers; ++l) gates[l].ProveBound(kInt8Max, "layer" + std::to_string(l) + ".gates");
}

void IntRowLstm::Write(ModelFile& f) const {
  WriteCommon(f, shape, kRowLstmArch, shape.ToHyper());
  for (int l = 0; l < shape.layers; ++l) gates[l].Write(f, "layer" + std::to_string(l) + ".gates");
}

IntRowLstm IntRowLstm::Read(const ModelFile& f) {
  IntRowLstm m;
  m.shape = ReadModelShape<RowLstmShape>(f, kRowLstmArch);
  const auto& s = m.shape;
  m.ReadCommon(f, s, s.state);
  for (int l = 0; l < s.layers; ++l) m.gates.push_back(IntLinear::Read(f, "layer" + std::to_string(l) + ".gates", 4 * s.state, s.GateInputs()));
  m.Validate();
  return m;
}

RowLstmCpuEngine::RowLstmCpuEngine(const IntRowLstm& model, int width)
    : m_(model), width_(width), taps_(model.shape.Taps()) {
  const auto& s = model.shape;
  const int pad = s.row_kernel / 2;
  for (int l = 0; l < s.layers; ++l) {
    a_row_.emplace_back(size_t(width + pad) * s.hidden, 0);
    h_prev_.emplace_back(size_t(width + 2) * s.state, 0);
    h_cur_.emplace_back(size_t(width + 2) * s.state, 0);
    c_prev_.emplace_back(size_t(width) * s.state, 0);
    c_cur_.emplace_back(size_t(width) * s.state, 0);
  }
  features_.resize(size_t(std::max(s.Conv0Inputs(), s.GateInputs())));
  x_.resize(size_t(s.hidden));
  z_.resize(size_t(4 * s.state));
  inc_.resize(size_t(s.hidden));
  act_.resize(size_t(s.hidden));
  t_.resize(size_t(s.head));
}

void RowLstmCpuEngine::Evaluate(const int16_t* q, int height, int y, int x, int16_t* params) {
  if (y != next_y_ || x != next_x_ || x >= width_ || y >= height)
    throw Error(ErrorCode::kInternal, "row-lstm decoder: pixels must be evaluated in raster order");
  const auto& s = m_.shape;
  const int R = s.hidden, S = s.state, T = s.RowTaps();
  m_.Conv0At(s, taps_, q, width_, y, x, features_.data(), x_.data());
  for (int l = 0; l < s.layers; ++l) {
    int16_t* a = a_row_[size_t(l)].data();
    for (int r = 0; r < R; ++r) a[size_t(x + T - 1) * R + r] = m_.lut_in[size_t(l)](x_[size_t(r)]);
    size_t j = 0;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) features_[j++] = a[size_t(x + t) * R + r];  // column x + t - (T - 1)
    const int16_t* hp = h_prev_[size_t(l)].data();
    for (int u = 0; u < S; ++u)
      for (int t = 0; t < 3; ++t) features_[j++] = hp[size_t(x + t) * S + u];  // column x + t - 1
    m_.gates[size_t(l)].Apply(features_.data(), z_.data());
    const int16_t* cp = c_prev_[size_t(l)].data() + size_t(x) * S;
    int16_t* cc = c_cur_[size_t(l)].data() + size_t(x) * S;
    int16_t* hc = h_cur_[size_t(l)].data() + size_t(x + 1) * S;
    LstmCells(m_.gate_tables, S, z_.data(), cp, cc, hc);
    m_.out[size_t(l)].Apply(hc, inc_.data());
    IntPixelRnn::AddResidual(R, inc_.data(), x_.data());
  }
  m_.HeadAt(s, x_.data(), act_.data(), t_.data(), params);
  if (++next_x_ == width_) {
    next_x_ = 0;
    ++next_y_;
    for (int l = 0; l < s.layers; ++l) {
      std::swap(h_prev_[size_t(l)], h_cur_[size_t(l)]);
      std::swap(c_prev_[size_t(l)], c_cur_[size_t(l)]);
    }
  }
}

}  // namespace pixelzip::models::nn
