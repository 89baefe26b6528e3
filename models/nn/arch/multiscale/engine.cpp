#include "models/nn/arch/multiscale/engine.h"

#include <algorithm>
#include <sstream>
#include <thread>

#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

int MultiscaleLevels(int width, int height, int base_side) {
  int L = 0;
  while (L < kMultiscaleMaxLevels) {
    const int64_t step = int64_t{1} << L;
    const int64_t hb = (int64_t(height) + step - 1) / step, wb = (int64_t(width) + step - 1) / step;
    if (std::max(hb, wb) <= base_side) break;
    ++L;
  }
  return L;
}

LocalPixelCnnShape MultiscaleShape::BaseShape() const {
  LocalPixelCnnShape b;
  b.channels = channels;
  b.kernel = base_kernel;
  b.hidden = base_hidden;
  b.inner = base_inner;
  b.blocks = base_blocks;
  b.mixtures = mixtures;
  b.act_bits = act_bits;
  b.weight_bits = weight_bits;
  return b;
}

std::string MultiscaleShape::ToHyper() const {
  std::ostringstream s;
  s << "base_side=" << base_side << ",hidden=" << hidden << ",inner=" << inner << ",blocks=" << blocks
    << ",mixtures=" << mixtures << ",base_kernel=" << base_kernel << ",base_hidden=" << base_hidden
    << ",base_inner=" << base_inner << ",base_blocks=" << base_blocks;
  if (act_bits != 8) s << ",act_bits=" << act_bits;
  if (weight_bits != 8) s << ",weight_bits=" << weight_bits;
  return s.str();
}

MultiscaleShape MultiscaleShape::FromHyper(const std::string& hyper, int channels) {
  MultiscaleShape s;
  s.channels = channels;
  SetHyperparameters(hyper, {{"base_side", &s.base_side}, {"hidden", &s.hidden}, {"inner", &s.inner}, {"blocks", &s.blocks},
                             {"mixtures", &s.mixtures}, {"base_kernel", &s.base_kernel}, {"base_hidden", &s.base_hidden},
                             {"base_inner", &s.base_inner}, {"base_blocks", &s.base_blocks}, {"act_bits", &s.act_bits},
                             {"weight_bits", &s.weight_bits}});
  if (s.base_side < 1 || s.base_side > 4096 || s.hidden < 1 || s.hidden > 1024 || s.inner < 1 || s.inner > 1024 ||
      s.blocks < 0 || s.blocks > 64 || s.mixtures < 1 || s.mixtures > 16 || s.base_kernel < 3 || s.base_kernel > 15 ||
      s.base_kernel % 2 == 0 || s.base_hidden < 1 || s.base_hidden > 1024 || s.base_inner < 1 ||
      s.base_inner > 1024 || s.base_blocks < 0 || s.base_blocks > 64 || s.act_bits < 8 || s.act_bits > 12 ||
      s.weight_bits < 8 || s.weight_bits > 16 || (channels != 1 && channels != 3))
    throw Error(ErrorCode::kModelInvalid, "hyperparameters out of range: " + hyper);
  return s;
}

void IntMultiscalePixelCnn::Validate() const {
  const auto& s = shape;
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kModelInvalid, "multiscale-pixelcnn model: " + what);
  };
  const auto bs = s.BaseShape();
  check(base.shape.channels == bs.channels && base.shape.kernel == bs.kernel && base.shape.hidden == bs.hidden &&
            base.shape.inner == bs.inner && base.shape.blocks == bs.blocks && base.shape.mixtures == bs.mixtures &&
            base.shape.act_bits == bs.act_bits && base.shape.weight_bits == bs.weight_bits,
        "base network does not match the hyperparameters");
  base.Validate();
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    const IntGroupNet& n = groups[g];
    const std::string p = "group" + std::to_string(g) + ".";
    check(n.conv0.out == s.hidden && n.conv0.in == s.Conv0Inputs(g), p + "conv0 has the wrong shape");
    check(int(n.conv1.size()) == s.blocks && int(n.conv2.size()) == s.blocks && int(n.lut_pre.size()) == s.blocks &&
              int(n.lut_mid.size()) == s.blocks, p + "block count mismatch");
    for (int i = 0; i < s.blocks; ++i) {
      check(n.conv1[i].out == s.inner && n.conv1[i].in == s.hidden, p + "block conv1 has the wrong shape");
      check(n.conv2[i].out == s.hidden && n.conv2[i].in == s.inner, p + "block conv2 has the wrong shape");
    }
    check(n.head.out == s.ParamCount() && n.head.in == s.hidden, p + "head has the wrong shape");
    // Inputs: pixels q = 2v - 255 (|q| <= 255); LUT outputs |a| <= ActMax() (127 for int8).
    const int32_t act = s.ActMax(), wmax = s.WeightMax();
    n.conv0.CheckWeights(wmax, p + "conv0");
    n.head.CheckWeights(wmax, p + "head");
    n.conv0.ProveBound(255, p + "conv0");
    for (int i = 0; i < s.blocks; ++i) {
      const std::string b = p + "block" + std::to_string(i);
      n.lut_pre[i].CheckRange(act, b + ".lut_pre");
      n.lut_mid[i].CheckRange(act, b + ".lut_mid");
      n.conv1[i].CheckWeights(wmax, b + ".conv1");
      n.conv2[i].CheckWeights(wmax, b + ".conv2");
      n.conv1[i].ProveBound(act, b + ".conv1");
      n.conv2[i].ProveBound(act, b + ".conv2");
    }
    n.lut_head.CheckRange(act, p + "head.lut");
    n.head.ProveBound(act, p + "head");
  }
}

void IntMultiscalePixelCnn::Write(ModelFile& f) const {
  WriteModelHeader(f, kMultiscalePixelCnnArch, shape.ToHyper(), shape.channels);
  base.Write(f, "base.");
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    const IntGroupNet& n = groups[g];
    const std::string p = "group" + std::to_string(g) + ".";
    n.conv0.Write(f, p + "conv0");
    for (int i = 0; i < shape.blocks; ++i) {
      const std::string b = p + "block" + std::to_string(i);
      n.lut_pre[i].Write(f, b + ".lut_pre");
      n.conv1[i].Write(f, b + ".conv1");
      n.lut_mid[i].Write(f, b + ".lut_mid");
      n.conv2[i].Write(f, b + ".conv2");
    }
    n.lut_head.Write(f, p + "head.lut");
    n.head.Write(f, p + "head");
  }
}

IntMultiscalePixelCnn IntMultiscalePixelCnn::Read(const ModelFile& f) {
  IntMultiscalePixelCnn m;
  m.shape = ReadModelShape<MultiscaleShape>(f, kMultiscalePixelCnnArch);
  const auto& s = m.shape;
  m.base = IntLocalPixelCnn::Read(f, "base.");
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    IntGroupNet& n = m.groups[g];
    const std::string p = "group" + std::to_string(g) + ".";
    n.conv0 = IntLinear::Read(f, p + "conv0", s.hidden, s.Conv0Inputs(g), s.WeightMax());
    for (int i = 0; i < s.blocks; ++i) {
      const std::string b = p + "block" + std::to_string(i);
      n.lut_pre.push_back(IntLut::Read(f, b + ".lut_pre", s.ActMax()));
      n.conv1.push_back(IntLinear::Read(f, b + ".conv1", s.inner, s.hidden, s.WeightMax()));
      n.lut_mid.push_back(IntLut::Read(f, b + ".lut_mid", s.ActMax()));
      n.conv2.push_back(IntLinear::Read(f, b + ".conv2", s.hidden, s.inner, s.WeightMax()));
    }
    n.lut_head = IntLut::Read(f, p + "head.lut", s.ActMax());
    n.head = IntLinear::Read(f, p + "head", s.ParamCount(), s.hidden, s.WeightMax());
  }
  m.Validate();
  return m;
}

std::vector<int16_t> GroupParamsCpu(const IntMultiscalePixelCnn& m, const QPlane& plane, int s, int g, int threads,
                                    int y0, int y1) {
  const int H = plane.height, W = plane.width, C = plane.channels, P = m.shape.ParamCount();
  const int hc = int((int64_t(H) + 2 * int64_t(s) - 1) / (2 * int64_t(s)));
  const int wc = int((int64_t(W) + 2 * int64_t(s) - 1) / (2 * int64_t(s)));
  y0 = std::clamp(y0, 0, hc);
  y1 = y1 < 0 ? hc : std::clamp(y1, y0, hc);
  const IntGroupNet& n = m.groups[g];
  const int phases = GroupInputPhases(g), hidden = m.shape.hidden, inner = m.shape.inner;
  std::vector<int16_t> out(size_t(y1 - y0) * wc * P);
  threads = std::max(1, std::min(threads, y1 - y0));
  auto work = [&](int t) {
    std::vector<int16_t> features(static_cast<size_t>(n.conv0.in)), h(static_cast<size_t>(hidden)),
        a(static_cast<size_t>(hidden)), u(static_cast<size_t>(inner)), inc(static_cast<size_t>(hidden));
    for (int Y = y0 + t; Y < y1; Y += threads)
      for (int X = 0; X < wc; ++X) {
        // Feature [phase * C + c][ky][kx]: the phase's pixel at coarse (Y + ky - 1, X + kx - 1), image position
        // (s(2(Y + ky - 1) + py), s(2(X + kx - 1) + px)); zero outside the image (which covers every coarse
        // position outside the coarse grid and every phase pixel that does not exist at odd sizes).
        size_t j = 0;
        for (int k = 0; k < phases; ++k)
          for (int c = 0; c < C; ++c)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int64_t y = int64_t(s) * (2 * int64_t(Y + ky - 1) + InputPhaseY(k));
                const int64_t x = int64_t(s) * (2 * int64_t(X + kx - 1) + InputPhaseX(k));
                features[j++] = (y < 0 || x < 0 || y >= H || x >= W) ? int16_t(0) : plane.at(int(y), int(x), c);
              }
        n.conv0.Apply(features.data(), h.data());
        for (int b = 0; b < m.shape.blocks; ++b) {
          for (int i = 0; i < hidden; ++i) a[size_t(i)] = n.lut_pre[size_t(b)](h[size_t(i)]);
          n.conv1[size_t(b)].Apply(a.data(), u.data());
          for (int i = 0; i < inner; ++i) u[size_t(i)] = n.lut_mid[size_t(b)](u[size_t(i)]);
          n.conv2[size_t(b)].Apply(u.data(), inc.data());
          for (int i = 0; i < hidden; ++i)
            h[size_t(i)] = int16_t(std::clamp<int32_t>(int32_t(h[size_t(i)]) + inc[size_t(i)], -kInt16Max, kInt16Max));
        }
        for (int i = 0; i < hidden; ++i) a[size_t(i)] = n.lut_head(h[size_t(i)]);
        n.head.Apply(a.data(), &out[(size_t(Y - y0) * wc + X) * P]);
      }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work, t);
    for (auto& th : pool) th.join();
  }
  return out;
}

}  // namespace pixelzip::models::nn
