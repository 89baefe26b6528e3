#include "models/nn/arch/pixelcnn/engine.h"

#include <algorithm>
#include <sstream>

#include "models/nn/runtime/hyperparameters.h"
#include "models/nn/runtime/softmax_cdf.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

std::string PixelCnnShape::ToHyper() const {
  std::ostringstream s;
  s << "kernel=" << kernel << ",hidden=" << hidden << ",inner=" << inner << ",blocks=" << blocks << ",head=" << head;
  return s.str();
}

PixelCnnShape PixelCnnShape::FromHyper(const std::string& hyper, int channels) {
  PixelCnnShape s;
  s.channels = channels;
  SetHyperparameters(hyper, {{"kernel", &s.kernel}, {"hidden", &s.hidden}, {"inner", &s.inner}, {"blocks", &s.blocks},
                             {"head", &s.head}});
  if (channels != 1 && channels != 3)
    throw Error(ErrorCode::kModelInvalid, "pixelcnn codes 1 or 3 channels, not " + std::to_string(channels));
  if (s.kernel < 3 || s.kernel > 15 || s.kernel % 2 == 0 || s.hidden < 1 || s.hidden > 1024 || s.inner < 1 ||
      s.inner > 1024 || s.blocks < 0 || s.blocks > 64 || s.head < 1 || s.head > 1024)
    throw Error(ErrorCode::kModelInvalid, "hyperparameters out of range: " + hyper);
  if (s.hidden % channels || s.inner % channels || s.head % channels)
    throw Error(ErrorCode::kModelInvalid, "pixelcnn widths must be multiples of the channel count: " + hyper);
  return s;
}

int64_t PixelCnnShape::MacsPerPixel() const {
  return int64_t(hidden) * channels * kernel * kernel +
         int64_t(blocks) * (int64_t(inner) * hidden + int64_t(inner) * inner * 9 + int64_t(hidden) * inner) +
         int64_t(head) * hidden + int64_t(Logits()) * head;
}

bool PixelCnnTapAllowed(int o, int n_out, int i, int n_in, int ky, int kx, int k, int channels, bool mask_a) {
  const int r = k / 2;
  if (ky < r || (ky == r && kx < r)) return true;
  if (ky != r || kx != r) return false;
  const int go = ChannelGroup(o, n_out, channels), gi = ChannelGroup(i, n_in, channels);
  return mask_a ? gi < go : gi <= go;
}

namespace {

void CheckMask(const IntLinear& l, int k, int channels, bool mask_a, const std::string& name) {
  const int n_in = l.in / (k * k);
  for (int o = 0; o < l.out; ++o)
    for (int i = 0; i < n_in; ++i)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx)
          if (l.weight[((size_t(o) * n_in + i) * k + ky) * k + kx] != 0 &&
              !PixelCnnTapAllowed(o, l.out, i, n_in, ky, kx, k, channels, mask_a))
            throw Error(ErrorCode::kModelInvalid, "pixelcnn model: layer '" + name + "' has a weight where its mask is 0");
}

void WriteRequant(ModelFile& f, const std::string& name, const Requant& r) { f.PutInt32(name, {r.multiplier, r.shift}); }
Requant ReadRequant(const ModelFile& f, const std::string& name) {
  const auto& v = f.Int32(name, 2);
  Requant r{v[0], v[1]};
  ValidateRequant(r, name);
  return r;
}

// Outputs [o_begin, o_end) of `l` into out[0, o_end - o_begin), from inputs [0, in_end) (the others have zero weights).
void ApplyRange(const IntLinear& l, const int16_t* in, int in_end, int16_t* out, int o_begin, int o_end) {
  for (int o = o_begin; o < o_end; ++o) {
    const int16_t* w = l.weight.data() + size_t(o) * l.in;
    int32_t acc = 0;
    for (int i = 0; i < in_end; ++i) acc += int32_t(w[i]) * int32_t(in[i]);
    out[o - o_begin] = int16_t(ApplyRequant(int64_t(acc) + l.bias[size_t(o)], l.requant[size_t(o)], l.lo, l.hi));
  }
}

}  // namespace

void IntPixelCnn::Validate() const {
  const auto& s = shape;
  const int C = s.channels, k = s.kernel;
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kModelInvalid, "pixelcnn model: " + what);
  };
  auto relu8 = [](const IntLinear& l) { return l.lo == 0 && l.hi == kInt8Max; };
  check(conv_in.out == s.hidden && conv_in.in == C * k * k, "conv_in has the wrong shape");
  check(int(pre.size()) == s.blocks && int(conv1.size()) == s.blocks && int(conv2.size()) == s.blocks &&
            int(conv3.size()) == s.blocks, "block count mismatch");
  CheckMask(conv_in, k, C, /*mask_a=*/true, "conv_in");
  conv_in.ProveBound(255, "conv_in");
  for (int b = 0; b < s.blocks; ++b) {
    const std::string n = "block" + std::to_string(b);
    check(conv1[b].out == s.inner && conv1[b].in == s.hidden && relu8(conv1[b]), n + ".conv1 has the wrong shape or range");
    check(conv2[b].out == s.inner && conv2[b].in == s.inner * 9 && relu8(conv2[b]), n + ".conv2 has the wrong shape or range");
    check(conv3[b].out == s.hidden && conv3[b].in == s.inner, n + ".conv3 has the wrong shape");
    CheckMask(conv1[b], 1, C, false, n + ".conv1");
    CheckMask(conv2[b], 3, C, false, n + ".conv2");
    CheckMask(conv3[b], 1, C, false, n + ".conv3");
    conv1[b].ProveBound(kInt8Max, n + ".conv1");
    conv2[b].ProveBound(kInt8Max, n + ".conv2");
    conv3[b].ProveBound(kInt8Max, n + ".conv3");
    ValidateRequant(pre[b], n + ".pre");
  }
  check(head1.out == s.head && head1.in == s.hidden && relu8(head1), "head1 has the wrong shape or range");
  check(head2.out == s.Logits() && head2.in == s.head, "head2 has the wrong shape");
  CheckMask(head1, 1, C, false, "head1");
  CheckMask(head2, 1, C, false, "head2");
  head1.ProveBound(kInt8Max, "head1");
  head2.ProveBound(kInt8Max, "head2");
  ValidateRequant(head_pre, "head.pre");
  ValidateSoftmaxExpTable(exp_table);
}

void IntPixelCnn::Write(ModelFile& f) const {
  WriteModelHeader(f, kPixelCnnArch, shape.ToHyper(), shape.channels);
  conv_in.Write(f, "conv_in");
  for (int b = 0; b < shape.blocks; ++b) {
    const std::string n = "block" + std::to_string(b);
    WriteRequant(f, n + ".pre", pre[b]);
    conv1[b].Write(f, n + ".conv1");
    conv2[b].Write(f, n + ".conv2");
    conv3[b].Write(f, n + ".conv3");
  }
  WriteRequant(f, "head.pre", head_pre);
  head1.Write(f, "head1");
  head2.Write(f, "head2");
  f.PutInt32("softmax.exp", exp_table);
}

IntPixelCnn IntPixelCnn::Read(const ModelFile& f) {
  IntPixelCnn m;
  m.shape = ReadModelShape<PixelCnnShape>(f, kPixelCnnArch);
  const auto& s = m.shape;
  m.conv_in = IntLinear::Read(f, "conv_in", s.hidden, s.channels * s.kernel * s.kernel);
  for (int b = 0; b < s.blocks; ++b) {
    const std::string n = "block" + std::to_string(b);
    m.pre.push_back(ReadRequant(f, n + ".pre"));
    m.conv1.push_back(IntLinear::Read(f, n + ".conv1", s.inner, s.hidden));
    m.conv2.push_back(IntLinear::Read(f, n + ".conv2", s.inner, s.inner * 9));
    m.conv3.push_back(IntLinear::Read(f, n + ".conv3", s.hidden, s.inner));
  }
  m.head_pre = ReadRequant(f, "head.pre");
  m.head1 = IntLinear::Read(f, "head1", s.head, s.hidden);
  m.head2 = IntLinear::Read(f, "head2", s.Logits(), s.head);
  m.exp_table = f.Int32("softmax.exp", kSoftmaxExpEntries);
  m.Validate();
  return m;
}

PixelCnnCpuEngine::PixelCnnCpuEngine(const IntPixelCnn& model, int width)
    : m_(model), width_(width), features_(size_t(std::max(model.conv_in.in, model.shape.inner * 9))),
      h_(size_t(model.shape.blocks + 1), std::vector<int16_t>(size_t(model.shape.hidden))),
      a_(size_t(model.shape.blocks), std::vector<int16_t>(size_t(model.shape.hidden))),
      t2_(size_t(model.shape.blocks), std::vector<int16_t>(size_t(model.shape.inner))),
      t1_rows_(size_t(model.shape.blocks), std::vector<int16_t>(size_t(2) * width * model.shape.inner)),
      ah_(size_t(model.shape.hidden)), o1_(size_t(model.shape.head)) {}

void PixelCnnCpuEngine::Step(const QPlane& p, int y, int x, int c, int16_t* logits) {
  const auto& s = m_.shape;
  const int C = s.channels, k = s.kernel, r = k / 2, H = s.hidden, I = s.inner;
  // Channel group c of a layer with n channels: [c * n / C, (c + 1) * n / C); inputs up to group c.
  auto begin = [&](int n) { return c * (n / C); };
  auto end = [&](int n) { return (c + 1) * (n / C); };

  // conv_in (mask A): context pixels, and the channels before c at (y, x).
  size_t j = 0;
  for (int ci = 0; ci < C; ++ci)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx) {
        const bool known = ky < r || (ky == r && (kx < r || (kx == r && ci < c)));
        features_[j++] = known ? p.at(y + ky - r, x + kx - r, ci) : int16_t(0);
      }
  ApplyRange(m_.conv_in, features_.data(), m_.conv_in.in, h_[0].data() + begin(H), begin(H), end(H));

  for (int b = 0; b < s.blocks; ++b) {
    for (int i = begin(H); i < end(H); ++i) a_[b][i] = ReluRequant(h_[b][i], m_.pre[b]);
    int16_t* row = &t1_rows_[b][size_t(y % 2) * width_ * I];
    ApplyRange(m_.conv1[b], a_[b].data(), end(H), row + size_t(x) * I + begin(I), begin(I), end(I));
    // 3x3 mask B over the cached rows y - 1 and y; taps after (y, x), and groups after c at (y, x), read as 0.
    j = 0;
    for (int ci = 0; ci < I; ++ci)
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
          const int yy = y + ky - 1, xx = x + kx - 1;
          const bool known = (ky == 0 || (ky == 1 && (kx == 0 || (kx == 1 && ci < end(I))))) && yy >= 0 && xx >= 0 &&
                             xx < width_;
          features_[j++] = known ? t1_rows_[b][(size_t(yy % 2) * width_ + xx) * I + ci] : int16_t(0);
        }
    ApplyRange(m_.conv2[b], features_.data(), I * 9, t2_[b].data() + begin(I), begin(I), end(I));
    ApplyRange(m_.conv3[b], t2_[b].data(), end(I), h_[b + 1].data() + begin(H), begin(H), end(H));
    for (int i = begin(H); i < end(H); ++i)
      h_[b + 1][i] = int16_t(std::clamp<int32_t>(int32_t(h_[b][i]) + h_[b + 1][i], -kInt16Max, kInt16Max));
  }
  for (int i = begin(H); i < end(H); ++i) ah_[i] = ReluRequant(h_[s.blocks][i], m_.head_pre);
  ApplyRange(m_.head1, ah_.data(), end(H), o1_.data() + begin(s.head), begin(s.head), end(s.head));
  ApplyRange(m_.head2, o1_.data(), end(s.head), logits, c * 256, (c + 1) * 256);
}

}  // namespace pixelzip::models::nn
