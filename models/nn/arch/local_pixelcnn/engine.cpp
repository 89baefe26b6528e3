#include "models/nn/arch/local_pixelcnn/engine.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "models/nn/runtime/causal_taps.h"
#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

std::vector<std::pair<int, int>> LocalPixelCnnShape::Taps() const {
  return CausalTaps(kernel);
}

std::string LocalPixelCnnShape::ToHyper() const {
  std::ostringstream s;
  s << "kernel=" << kernel << ",hidden=" << hidden << ",inner=" << inner << ",blocks=" << blocks << ",mixtures=" << mixtures;
  if (aux > 0) s << ",aux=" << aux;
  if (act_bits != 8) s << ",act_bits=" << act_bits;
  if (weight_bits != 8) s << ",weight_bits=" << weight_bits;
  return s.str();
}

LocalPixelCnnShape LocalPixelCnnShape::FromHyper(const std::string& hyper, int channels) {
  LocalPixelCnnShape s;
  s.channels = channels;
  for (const auto& [key, value] : ParseHyperparameters(hyper)) {
    if (key == "kernel") s.kernel = value;
    else if (key == "hidden") s.hidden = value;
    else if (key == "inner") s.inner = value;
    else if (key == "blocks") s.blocks = value;
    else if (key == "mixtures") s.mixtures = value;
    else if (key == "aux") s.aux = value;
    else if (key == "act_bits") s.act_bits = value;
    else if (key == "weight_bits") s.weight_bits = value;
    else throw Error(ErrorCode::kModelInvalid, "unknown hyperparameter '" + key + "'");
  }
  if (s.kernel < 3 || s.kernel > 15 || s.kernel % 2 == 0 || s.hidden < 1 || s.hidden > 1024 || s.inner < 1 ||
      s.inner > 1024 || s.blocks < 0 || s.blocks > 64 || s.mixtures < 1 || s.mixtures > 16 || s.aux < 0 || s.aux > 8 || s.act_bits < 8 || s.act_bits > 12 ||
      s.weight_bits < 8 || s.weight_bits > 16 ||
      (channels != 1 && channels != 3))
    throw Error(ErrorCode::kModelInvalid, "hyperparameters out of range: " + hyper);
  return s;
}

void IntLocalPixelCnn::Validate() const {
  const auto& s = shape;
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kModelInvalid, "local-pixelcnn model: " + what);
  };
  check(conv0.out == s.hidden && conv0.in == s.Conv0Inputs(), "conv0 has the wrong shape");
  check(int(conv1.size()) == s.blocks && int(conv2.size()) == s.blocks && int(lut_pre.size()) == s.blocks &&
            int(lut_mid.size()) == s.blocks, "block count mismatch");
  for (int i = 0; i < s.blocks; ++i) {
    check(conv1[i].out == s.inner && conv1[i].in == s.hidden, "block conv1 has the wrong shape");
    check(conv2[i].out == s.hidden && conv2[i].in == s.inner, "block conv2 has the wrong shape");
  }
  check(head.out == s.ParamCount() && head.in == s.hidden, "head has the wrong shape");
  const int32_t act = s.ActMax(), wmax = s.WeightMax();
  conv0.CheckWeights(wmax, "conv0");
  conv0.ProveBound(255, "conv0");
  for (int i = 0; i < s.blocks; ++i) {
    const std::string b = "block" + std::to_string(i);
    lut_pre[i].CheckRange(act, b + ".lut_pre");
    lut_mid[i].CheckRange(act, b + ".lut_mid");
    conv1[i].CheckWeights(wmax, b + ".conv1");
    conv2[i].CheckWeights(wmax, b + ".conv2");
    conv1[i].ProveBound(act, b + ".conv1");
    conv2[i].ProveBound(act, b + ".conv2");
  }
  lut_head.CheckRange(act, "head.lut");
  head.CheckWeights(wmax, "head");
  head.ProveBound(act, "head");
  tables.Validate();
}

void IntLocalPixelCnn::Write(ModelFile& f, const std::string& prefix) const {
  f.PutText(prefix + "architecture", kLocalPixelCnnArch);
  f.PutText(prefix + "hyper", shape.ToHyper());
  f.PutInt32(prefix + "channels", {shape.channels});
  conv0.Write(f, prefix + "conv0");
  for (int i = 0; i < shape.blocks; ++i) {
    const std::string b = prefix + "block" + std::to_string(i);
    lut_pre[i].Write(f, b + ".lut_pre");
    conv1[i].Write(f, b + ".conv1");
    lut_mid[i].Write(f, b + ".lut_mid");
    conv2[i].Write(f, b + ".conv2");
  }
  lut_head.Write(f, prefix + "head.lut");
  head.Write(f, prefix + "head");
  f.PutInt32(prefix + "mixture.sigmoid", tables.sigmoid);
  f.PutInt32(prefix + "mixture.exp", tables.exp);
  f.PutInt32(prefix + "mixture.inv_scale", tables.inv_scale);
  f.PutInt32(prefix + "mixture.tanh", tables.tanh);
}

IntLocalPixelCnn IntLocalPixelCnn::Read(const ModelFile& f, const std::string& prefix) {
  if (f.Text(prefix + "architecture") != kLocalPixelCnnArch)
    throw Error(ErrorCode::kModelInvalid, "model file is not a local-pixelcnn model");
  IntLocalPixelCnn m;
  m.shape = LocalPixelCnnShape::FromHyper(f.Text(prefix + "hyper"), f.Int32(prefix + "channels", 1)[0]);
  const auto& s = m.shape;
  const int32_t wmax = s.WeightMax();
  m.conv0 = IntLinear::Read(f, prefix + "conv0", s.hidden, s.Conv0Inputs(), wmax);
  for (int i = 0; i < s.blocks; ++i) {
    const std::string b = prefix + "block" + std::to_string(i);
    m.lut_pre.push_back(IntLut::Read(f, b + ".lut_pre", s.ActMax()));
    m.conv1.push_back(IntLinear::Read(f, b + ".conv1", s.inner, s.hidden, wmax));
    m.lut_mid.push_back(IntLut::Read(f, b + ".lut_mid", s.ActMax()));
    m.conv2.push_back(IntLinear::Read(f, b + ".conv2", s.hidden, s.inner, wmax));
  }
  m.lut_head = IntLut::Read(f, prefix + "head.lut", s.ActMax());
  m.head = IntLinear::Read(f, prefix + "head", s.ParamCount(), s.hidden, wmax);
  m.tables.sigmoid = f.Int32(prefix + "mixture.sigmoid", 2 * kSigmoidKnotsPerUnit * kSigmoidRange + 1);
  m.tables.exp = f.Int32(prefix + "mixture.exp", kLogitSpan + 1);
  m.tables.inv_scale = f.Int32(prefix + "mixture.inv_scale", kLogScaleMax - kLogScaleMin + 1);
  m.tables.tanh = f.Int32(prefix + "mixture.tanh", 2 * kCoeffSpan + 1);
  m.Validate();
  return m;
}

LocalPixelCnnCpuEngine::LocalPixelCnnCpuEngine(const IntLocalPixelCnn& model)
    : m_(model), taps_(model.shape.Taps()), features_(model.conv0.in), h_(model.shape.hidden), a_(model.shape.hidden),
      t_(model.shape.inner), inc_(model.shape.hidden) {}

void LocalPixelCnnCpuEngine::Evaluate(const QPlane& p, int y, int x, int16_t* params, const QPlane* aux) {
  const int C = m_.shape.channels;
  size_t j = 0;
  for (const auto& [dy, dx] : taps_)
    for (int c = 0; c < C; ++c) features_[j++] = p.at(y + dy, x + dx, c);
  for (int c = 0; c < C; ++c) {
    // JPEG-LS median edge predictor from left (a), up (b), up-left (c).
    const int a = p.at(y, x - 1, c), b = p.at(y - 1, x, c), d = p.at(y - 1, x - 1, c);
    const int mn = std::min(a, b), mx = std::max(a, b);
    features_[j++] = int16_t(d >= mx ? mn : d <= mn ? mx : a + b - d);
  }
  for (int dy = -1; m_.shape.aux > 0 && dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx)
      for (int c = 0; c < m_.shape.aux; ++c) features_[j++] = aux->at(y + dy, x + dx, c);
  m_.conv0.Apply(features_.data(), h_.data());
  const int H = m_.shape.hidden, I = m_.shape.inner;
  for (int b = 0; b < m_.shape.blocks; ++b) {
    for (int i = 0; i < H; ++i) a_[i] = m_.lut_pre[b](h_[i]);
    m_.conv1[b].Apply(a_.data(), t_.data());
    for (int i = 0; i < I; ++i) t_[i] = m_.lut_mid[b](t_[i]);
    m_.conv2[b].Apply(t_.data(), inc_.data());
    for (int i = 0; i < H; ++i) h_[i] = int16_t(std::clamp<int32_t>(int32_t(h_[i]) + inc_[i], -kInt16Max, kInt16Max));
  }
  for (int i = 0; i < H; ++i) a_[i] = m_.lut_head(h_[i]);
  m_.head.Apply(a_.data(), params);
}

}  // namespace pixelzip::models::nn
