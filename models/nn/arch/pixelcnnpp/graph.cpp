#include "models/nn/arch/pixelcnnpp/graph.h"

#include <sstream>

#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

int PixelCnnPPShape::ParamCount() const { return MixtureParamCountInt(channels, mixtures); }

std::string PixelCnnPPShape::ToHyper() const {
  std::ostringstream s;
  s << "filters=" << filters << ",nr_resnet=" << nr_resnet << ",stages=" << stages << ",mixtures=" << mixtures;
  return s.str();
}

PixelCnnPPShape PixelCnnPPShape::FromHyper(const std::string& hyper, int channels) {
  PixelCnnPPShape s;
  s.channels = channels;
  for (const auto& [key, value] : ParseHyperparameters(hyper)) {
    if (key == "filters") s.filters = value;
    else if (key == "nr_resnet") s.nr_resnet = value;
    else if (key == "stages") s.stages = value;
    else if (key == "mixtures") s.mixtures = value;
    else throw Error(ErrorCode::kModelInvalid, "unknown pixelcnn++ hyperparameter '" + key + "'");
  }
  if (s.filters < 1 || s.filters > 512 || s.nr_resnet < 0 || s.nr_resnet > 16 || s.stages < 1 || s.stages > 6 ||
      s.mixtures < 1 || s.mixtures > 16 || (channels != 1 && channels != 3))
    throw Error(ErrorCode::kModelInvalid, "pixelcnn++ hyperparameters out of range: " + hyper);
  return s;
}

int LastOutputRowReading(const ConvGeometry& g, int in_row) {
  if (g.transposed) return 2 * in_row + g.kh - 1 - g.pad_top + g.shift_down;
  return (in_row + g.pad_top) / g.stride + g.shift_down;
}

namespace {
ConvGeometry Geometry(bool transposed, int stride, int kh, int kw, int pad_top, int pad_left) {
  ConvGeometry g;
  g.transposed = transposed;
  g.stride = stride;
  g.kh = kh;
  g.kw = kw;
  g.pad_top = pad_top;
  g.pad_left = pad_left;
  return g;
}
}  // namespace

ConvGeometry FirstUGeometry() {
  auto g = Geometry(false, 1, 2, 3, 1, 1);
  g.shift_down = 1;
  return g;
}
ConvGeometry FirstUlDownGeometry() {
  auto g = Geometry(false, 1, 1, 3, 0, 1);
  g.shift_down = 1;
  return g;
}
ConvGeometry FirstUlRightGeometry() {
  auto g = Geometry(false, 1, 2, 1, 1, 0);
  g.shift_right = 1;
  return g;
}
ConvGeometry BlockGeometry(bool ul) { return ul ? Geometry(false, 1, 2, 2, 1, 1) : Geometry(false, 1, 2, 3, 1, 1); }
ConvGeometry DownsampleGeometry(bool ul) { return ul ? Geometry(false, 2, 2, 2, 1, 1) : Geometry(false, 2, 2, 3, 1, 1); }
// TF's deconv2d with 'VALID' padding writes input i to outputs stride*i + k; the reference crops
// (kw - 1) / 2 columns on the left for the 2x3 kernel and nothing for 2x2.
ConvGeometry UpsampleGeometry(bool ul) { return ul ? Geometry(true, 2, 2, 2, 0, 0) : Geometry(true, 2, 2, 3, 0, 1); }

PixelCnnPPProgram PixelCnnPPProgram::Build(const PixelCnnPPShape& shape) {
  PixelCnnPPProgram p;
  const int S = shape.stages, R = shape.nr_resnet;
  int blocks[2] = {0, 0}, resamples[2] = {0, 0};
  auto new_node = [&](bool ul, int level, int segment) {
    p.node_level.push_back(level);
    p.node_segment.push_back(segment);
    p.node_ul.push_back(ul);
    return int(p.node_level.size()) - 1;
  };
  auto emit = [&](PixelCnnPPOp::Kind kind, bool ul, int level, int x, std::vector<int> skips, int segment) {
    PixelCnnPPOp op;
    op.kind = kind;
    op.ul = ul;
    op.level = level;
    op.x = x;
    op.skips = std::move(skips);
    op.segment = segment;
    if (kind == PixelCnnPPOp::kBlock) op.index = blocks[ul]++;
    if (kind == PixelCnnPPOp::kDownsample || kind == PixelCnnPPOp::kUpsample) op.index = resamples[ul]++;
    op.out = new_node(ul, level, segment);
    p.ops.push_back(op);
    return op.out;
  };
  auto segment_of = [&](int node) { return p.node_segment[size_t(node)]; };
  std::vector<int> u_list, ul_list;
  // Down pass (the reference's "up pass": resolution goes down).
  u_list.push_back(emit(PixelCnnPPOp::kFirstU, false, 0, -1, {}, 0));
  ul_list.push_back(emit(PixelCnnPPOp::kFirstUl, true, 0, -1, {}, 0));
  for (int s = 0; s < S; ++s) {
    if (s > 0) {
      u_list.push_back(emit(PixelCnnPPOp::kDownsample, false, s, u_list.back(), {}, s));
      ul_list.push_back(emit(PixelCnnPPOp::kDownsample, true, s, ul_list.back(), {}, s));
    }
    for (int r = 0; r < R; ++r) {
      const int u = emit(PixelCnnPPOp::kBlock, false, s, u_list.back(), {}, segment_of(u_list.back()));
      u_list.push_back(u);
      ul_list.push_back(emit(PixelCnnPPOp::kBlock, true, s, ul_list.back(), {u}, segment_of(ul_list.back())));
    }
  }
  // Up pass: consumes the saved lists from the back.
  int u = u_list.back(), ul = ul_list.back();
  u_list.pop_back();
  ul_list.pop_back();
  auto up_blocks = [&](int level, int count) {
    for (int r = 0; r < count; ++r) {
      u = emit(PixelCnnPPOp::kBlock, false, level, u, {u_list.back()}, segment_of(u));
      u_list.pop_back();
      ul = emit(PixelCnnPPOp::kBlock, true, level, ul, {u, ul_list.back()}, segment_of(ul));
      ul_list.pop_back();
    }
  };
  up_blocks(S - 1, R);
  for (int s = S - 2; s >= 0; --s) {
    const int segment = S - 1 + (S - 1 - s);
    u = emit(PixelCnnPPOp::kUpsample, false, s, u, {}, segment);
    ul = emit(PixelCnnPPOp::kUpsample, true, s, ul, {}, segment);
    up_blocks(s, R + 1);
  }
  if (!u_list.empty() || !ul_list.empty()) throw Error(ErrorCode::kInternal, "pixelcnn++ program: skip lists not consumed");
  p.final_ul = ul;
  p.blocks_per_stream = blocks[0];
  p.resamples_per_stream = resamples[0];
  p.segments_per_stream = 2 * S - 1;
  return p;
}

double PixelCnnPPMacsPerPixel(const PixelCnnPPShape& shape, int height, int width) {
  const auto prog = PixelCnnPPProgram::Build(shape);
  const int64_t F = shape.filters, Cin = shape.channels + 1;
  // Input taps read by all outputs of a layer of geometry g at `level` from an input at `in_level`.
  auto taps_read = [&](const ConvGeometry& g, int level, int in_level) {
    const int h = LevelSize(height, level), w = LevelSize(width, level);
    const int ih = LevelSize(height, in_level), iw = LevelSize(width, in_level);
    int64_t n = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) ForEachTap(g, y, x, ih, iw, [&](int, int, int) { ++n; });
    return double(n);
  };
  double macs = 0;
  for (const auto& op : prog.ops) {
    const double positions = double(LevelSize(height, op.level)) * LevelSize(width, op.level);
    switch (op.kind) {
      case PixelCnnPPOp::kFirstU: macs += taps_read(FirstUGeometry(), 0, 0) * Cin * F; break;
      case PixelCnnPPOp::kFirstUl:
        macs += (taps_read(FirstUlDownGeometry(), 0, 0) + taps_read(FirstUlRightGeometry(), 0, 0)) * Cin * F;
        break;
      case PixelCnnPPOp::kBlock: {
        const double taps = taps_read(BlockGeometry(op.ul), op.level, op.level);
        macs += taps * 2 * F * F + positions * double(op.skips.size()) * 2 * F * F;  // conv1 (+ nin)
        macs += taps * 2 * F * 2 * F;                                             // conv2
        break;
      }
      case PixelCnnPPOp::kDownsample:
        macs += taps_read(DownsampleGeometry(op.ul), op.level, op.level - 1) * F * F;
        break;
      case PixelCnnPPOp::kUpsample:
        macs += taps_read(UpsampleGeometry(op.ul), op.level, op.level + 1) * F * F;
        break;
    }
  }
  macs += double(height) * width * F * shape.ParamCount();
  return macs / (double(height) * width);
}

int64_t PixelCnnPPParameterCount(const PixelCnnPPShape& shape) {
  const auto prog = PixelCnnPPProgram::Build(shape);
  const int64_t F = shape.filters, Cin = shape.channels + 1;
  int64_t n = (FirstUGeometry().taps() + FirstUlDownGeometry().taps() + FirstUlRightGeometry().taps()) * Cin * F + 3 * F;
  for (const auto& op : prog.ops) {
    if (op.kind == PixelCnnPPOp::kBlock) {
      const int64_t taps = BlockGeometry(op.ul).taps();
      n += taps * 2 * F * F + int64_t(op.skips.size()) * 2 * F * F + F + taps * 2 * F * 2 * F + 2 * F;
    } else if (op.kind == PixelCnnPPOp::kDownsample) {
      n += DownsampleGeometry(op.ul).taps() * F * F + F;
    } else if (op.kind == PixelCnnPPOp::kUpsample) {
      n += UpsampleGeometry(op.ul).taps() * F * F + F;
    }
  }
  return n + int64_t(shape.ParamCount()) * (F + 1);
}

}  // namespace pixelzip::models::nn
