#include "models/nn/arch/gated_pixelcnn/engine.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
constexpr int32_t kCondLimit = 1 << 22;

[[noreturn]] void Invalid(const std::string& what) { throw Error(ErrorCode::kModelInvalid, "gated-pixelcnn model: " + what); }

// `l` with the class's conditioning added to its bias.
IntLinear WithCondition(const IntLinear& l, const std::vector<int32_t>& cond, int class_index) {
  IntLinear out = l;
  for (int o = 0; o < l.out; ++o) out.bias[size_t(o)] += cond[size_t(class_index) * l.out + o];
  return out;
}
}  // namespace

std::string GatedPixelCnnShape::ToHyper() const {
  std::ostringstream s;
  s << "kernel=" << kernel << ",features=" << features << ",layers=" << layers << ",mixtures=" << mixtures
    << ",classes=" << classes;
  return s.str();
}

GatedPixelCnnShape GatedPixelCnnShape::FromHyper(const std::string& hyper, int channels) {
  GatedPixelCnnShape s;
  s.channels = channels;
  SetHyperparameters(hyper, {{"kernel", &s.kernel}, {"features", &s.features}, {"layers", &s.layers},
                             {"mixtures", &s.mixtures}, {"classes", &s.classes}});
  if (s.kernel < 3 || s.kernel > 9 || s.kernel % 2 == 0 || s.features < 1 || s.features > 512 || s.layers < 1 ||
      s.layers > 64 || s.mixtures < 1 || s.mixtures > 16 || s.classes < 1 || s.classes > 256 ||
      (channels != 1 && channels != 3))
    throw Error(ErrorCode::kModelInvalid, "hyperparameters out of range: " + hyper);
  return s;
}

void IntGatedPixelCnn::Validate() const {
  const auto& s = shape;
  const int F = s.features, L = s.layers;
  if (int(vconv.size()) != L || int(hconv.size()) != L || int(res.size()) != L || int(vcond.size()) != L ||
      int(hcond.size()) != L || int(act_lut.size()) != L)
    Invalid("layer count mismatch");
  for (int l = 0; l < L; ++l) {
    const std::string n = "layer" + std::to_string(l);
    if (vconv[l].out != 2 * F || vconv[l].in != s.VerticalInputs(l)) Invalid(n + ".vconv has the wrong shape");
    if (hconv[l].out != 2 * F || hconv[l].in != s.HorizontalInputs(l)) Invalid(n + ".hconv has the wrong shape");
    if (res[l].out != F || res[l].in != F) Invalid(n + ".res has the wrong shape");
    if (vcond[l].size() != size_t(s.classes) * 2 * F || hcond[l].size() != size_t(s.classes) * 2 * F)
      Invalid(n + " conditioning has the wrong size");
    for (const auto* c : {&vcond[l], &hcond[l]})
      for (int32_t v : *c)
        if (v < -kCondLimit || v > kCondLimit) Invalid(n + " conditioning value out of range");
    if (vconv[l].lo != -kInt16Max || vconv[l].hi != kInt16Max || hconv[l].lo != -kInt16Max || hconv[l].hi != kInt16Max)
      Invalid(n + " pre-activation range must be int16");
    // Inputs: pixels |q| <= 255 on layer 0, gate outputs |v| <= 126 and int8 activations after.
    const int32_t max_in = l == 0 ? 255 : kInt8Max;
    for (int k = 0; k < s.classes; ++k) {
      WithCondition(vconv[l], vcond[l], k).ProveBound(max_in, n + ".vconv");
      WithCondition(hconv[l], hcond[l], k).ProveBound(max_in, n + ".hconv");
    }
    res[l].ProveBound(kInt8Max, n + ".res");
  }
  if (head.out != s.ParamCount() || head.in != F) Invalid("head has the wrong shape");
  head.ProveBound(kInt8Max, "head");
  for (int16_t v : sigmoid_lut.table)
    if (v < 0) Invalid("sigmoid table has a negative value");
  tables.Validate();
}

void IntGatedPixelCnn::Write(ModelFile& f) const {
  WriteModelHeader(f, kGatedPixelCnnArch, shape.ToHyper(), shape.channels);
  for (int l = 0; l < shape.layers; ++l) {
    const std::string n = "layer" + std::to_string(l);
    vconv[l].Write(f, n + ".vconv");
    f.PutInt32(n + ".vcond", vcond[l]);
    hconv[l].Write(f, n + ".hconv");
    f.PutInt32(n + ".hcond", hcond[l]);
    res[l].Write(f, n + ".res");
    if (l > 0) act_lut[l].Write(f, n + ".act");
  }
  tanh_lut.Write(f, "gate.tanh");
  sigmoid_lut.Write(f, "gate.sigmoid");
  head_lut.Write(f, "head.lut");
  head.Write(f, "head");
  WriteMixtureTables(f, tables);
}

IntGatedPixelCnn IntGatedPixelCnn::Read(const ModelFile& f) {
  IntGatedPixelCnn m;
  m.shape = ReadModelShape<GatedPixelCnnShape>(f, kGatedPixelCnnArch);
  const auto& s = m.shape;
  const int F = s.features;
  for (int l = 0; l < s.layers; ++l) {
    const std::string n = "layer" + std::to_string(l);
    m.vconv.push_back(IntLinear::Read(f, n + ".vconv", 2 * F, s.VerticalInputs(l)));
    m.vcond.push_back(f.Int32(n + ".vcond", size_t(s.classes) * 2 * F));
    m.hconv.push_back(IntLinear::Read(f, n + ".hconv", 2 * F, s.HorizontalInputs(l)));
    m.hcond.push_back(f.Int32(n + ".hcond", size_t(s.classes) * 2 * F));
    m.res.push_back(IntLinear::Read(f, n + ".res", F, F));
    m.act_lut.push_back(l > 0 ? IntLut::Read(f, n + ".act") : IntLut{});
  }
  m.tanh_lut = IntLut::Read(f, "gate.tanh");
  m.sigmoid_lut = IntLut::Read(f, "gate.sigmoid");
  m.head_lut = IntLut::Read(f, "head.lut");
  m.head = IntLinear::Read(f, "head", s.ParamCount(), F);
  m.tables = ReadMixtureTables(f);
  m.Validate();
  return m;
}

GatedPixelCnnCpuEngine::GatedPixelCnnCpuEngine(const IntGatedPixelCnn& model, int width, int class_index)
    : m_(model), width_(width), rows_(model.shape.Radius() + 1) {
  const auto& s = m_.shape;
  if (class_index < 0 || class_index >= s.classes) throw Error(ErrorCode::kInvalidArgument, "class index out of range");
  const int F = s.features;
  int max_in = 0;
  for (int l = 0; l < s.layers; ++l) {
    vconv_.push_back(WithCondition(m_.vconv[l], m_.vcond[l], class_index));
    hconv_.push_back(WithCondition(m_.hconv[l], m_.hcond[l], class_index));
    vrows_.emplace_back(size_t(rows_) * width * F, int16_t(0));
    hact_.emplace_back(l == 0 ? 0 : size_t(width) * F, int16_t(0));
    max_in = std::max({max_in, s.VerticalInputs(l), s.HorizontalInputs(l)});
  }
  feat_.resize(size_t(max_in));
  pre_.resize(size_t(2 * F));
  gate_.resize(size_t(F));
  inc_.resize(size_t(F));
  h_.resize(size_t(F));
  a_.resize(size_t(F));
}

const int16_t* GatedPixelCnnCpuEngine::VRow(int layer, int y) const {
  if (y < 0) return nullptr;
  return &vrows_[size_t(layer)][size_t(y % rows_) * width_ * m_.shape.features];
}

void GatedPixelCnnCpuEngine::FinishRow(const QPlane& p, int y) {
  const auto& s = m_.shape;
  const int F = s.features, C = s.channels, r = s.Radius(), W = width_;
  for (int l = 0; l < s.layers; ++l) {
    int16_t* out = &vrows_[size_t(l)][size_t(y % rows_) * W * F];
    std::vector<int16_t> row(size_t(W) * F);  // written after the whole row (the ring slot may be an input row)
    for (int x = 0; x < W; ++x) {
      size_t j = 0;
      for (int dy = -r; dy <= 0; ++dy) {
        const int16_t* in_row = l == 0 ? nullptr : VRow(l - 1, y + dy);
        for (int dx = -r; dx <= r; ++dx) {
          const int xx = x + dx;
          const bool inside = y + dy >= 0 && xx >= 0 && xx < W;
          if (l == 0) {
            for (int c = 0; c < C; ++c) feat_[j++] = inside ? p.at(y + dy, xx, c) : int16_t(0);
          } else {
            for (int c = 0; c < F; ++c) feat_[j++] = inside ? in_row[size_t(xx) * F + c] : int16_t(0);
          }
        }
      }
      vconv_[size_t(l)].Apply(feat_.data(), pre_.data());
      for (int c = 0; c < F; ++c) row[size_t(x) * F + c] = GateProduct(m_.tanh_lut(pre_[c]), m_.sigmoid_lut(pre_[F + c]));
    }
    std::copy(row.begin(), row.end(), out);
  }
}

void GatedPixelCnnCpuEngine::PixelParams(const QPlane& p, int y, int x, int16_t* params) {
  const auto& s = m_.shape;
  const int F = s.features, C = s.channels, r = s.Radius();
  for (int l = 0; l < s.layers; ++l) {
    size_t j = 0;
    if (l == 0) {
      for (int dx = -r; dx < 0; ++dx)
        for (int c = 0; c < C; ++c) feat_[j++] = x + dx >= 0 ? p.at(y, x + dx, c) : int16_t(0);
    } else {
      std::vector<int16_t>& act = hact_[size_t(l)];
      for (int c = 0; c < F; ++c) act[size_t(x) * F + c] = m_.act_lut[size_t(l)](h_[size_t(c)]);
      for (int dx = -r; dx <= 0; ++dx)
        for (int c = 0; c < F; ++c) feat_[j++] = x + dx >= 0 ? act[size_t(x + dx) * F + c] : int16_t(0);
    }
    const int16_t* above = VRow(l, y - 1);
    for (int c = 0; c < F; ++c) feat_[j++] = above ? above[size_t(x) * F + c] : int16_t(0);
    hconv_[size_t(l)].Apply(feat_.data(), pre_.data());
    for (int c = 0; c < F; ++c) gate_[size_t(c)] = GateProduct(m_.tanh_lut(pre_[c]), m_.sigmoid_lut(pre_[F + c]));
    m_.res[size_t(l)].Apply(gate_.data(), inc_.data());
    for (int c = 0; c < F; ++c)
      h_[size_t(c)] = l == 0 ? inc_[size_t(c)] : int16_t(std::clamp<int32_t>(int32_t(h_[size_t(c)]) + inc_[size_t(c)], -kInt16Max, kInt16Max));
  }
  for (int c = 0; c < F; ++c) a_[size_t(c)] = m_.head_lut(h_[size_t(c)]);
  m_.head.Apply(a_.data(), params);
}

}  // namespace pixelzip::models::nn
