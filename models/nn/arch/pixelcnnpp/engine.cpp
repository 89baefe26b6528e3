#include "models/nn/arch/pixelcnnpp/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {

constexpr int kNoRow = -1;
constexpr int16_t kPoison = 0x5A5A;  // fills a ring row before it is written (reads of unwritten values show)
constexpr int64_t kInt32Bound = int64_t{1} << 31;

void Check(bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorCode::kModelInvalid, "pixelcnn++ model: " + what);
}

int64_t AbsWeightSum(const IntLinear& l, int o) {
  int64_t s = 0;
  for (int i = 0; i < l.in; ++i) s += std::abs(int(l.weight[size_t(o) * l.in + i]));
  return s;
}

// CPU path of a 16-bit-input layer: the int32 accumulator never overflows.
void ProveInt32Bound(const IntLinear& l, int32_t max_input, const std::string& name) {
  for (int o = 0; o < l.out; ++o) {
    const int64_t sum = AbsWeightSum(l, o) * max_input + std::llabs(int64_t(l.bias[size_t(o)]));
    if (sum >= kInt32Bound)
      throw Error(ErrorCode::kModelInvalid, "model layer '" + name + "' output " + std::to_string(o) +
                                                " fails the int32 accumulation bound: sum|w|*max|a|+|b| = " +
                                                std::to_string(sum) + " >= 2^31");
  }
}

std::string StreamName(int stream) { return stream ? "ul" : "u"; }
std::string BlockName(int stream, int i) { return StreamName(stream) + ".block" + std::to_string(i); }
std::string ResampleName(int stream, int i) { return StreamName(stream) + ".resample" + std::to_string(i); }

void WriteRequants(ModelFile& f, const std::string& name, const std::vector<Requant>& rq) {
  std::vector<int32_t> v;
  for (const auto& r : rq) { v.push_back(r.multiplier); v.push_back(r.shift); }
  f.PutInt32(name, v);
}

std::vector<Requant> ReadRequants(const ModelFile& f, const std::string& name, int count) {
  const auto& v = f.Int32(name, size_t(count) * 2);
  std::vector<Requant> rq;
  for (int i = 0; i < count; ++i) {
    rq.push_back(Requant{v[2 * size_t(i)], v[2 * size_t(i) + 1]});
    ValidateRequant(rq.back(), name);
  }
  return rq;
}

ConvGeometry Pointwise() { return ConvGeometry{}; }

ConvGeometry ResampleGeometry(const PixelCnnPPShape& s, bool ul, int index) {
  return index < s.stages - 1 ? DownsampleGeometry(ul) : UpsampleGeometry(ul);
}

}  // namespace

void IntPixelCnnPP::Validate() const {
  const auto& s = shape;
  const auto prog = PixelCnnPPProgram::Build(s);
  const int F = s.filters, Cin = s.channels + 1;
  Check(first_u.out == F && first_u.in == FirstUGeometry().taps() * Cin, "first_u has the wrong shape");
  Check(first_ul_down.out == F && first_ul_down.in == FirstUlDownGeometry().taps() * Cin, "first_ul.down has the wrong shape");
  Check(first_ul_right.out == F && first_ul_right.in == FirstUlRightGeometry().taps() * Cin, "first_ul.right has the wrong shape");
  for (int o = 0; o < F; ++o)
    Check(first_ul_right.requant[size_t(o)].multiplier == first_ul_down.requant[size_t(o)].multiplier &&
              first_ul_right.requant[size_t(o)].shift == first_ul_down.requant[size_t(o)].shift,
          "first_ul parts have different requantisation");
  Check(first_ul_right.lo == first_ul_down.lo && first_ul_right.hi == first_ul_down.hi, "first_ul parts have different clamps");
  first_u.ProveBound(255, "first_u");
  for (int o = 0; o < F; ++o) {
    const int64_t sum = (AbsWeightSum(first_ul_down, o) + AbsWeightSum(first_ul_right, o)) * 255 +
                        std::llabs(int64_t(first_ul_down.bias[size_t(o)])) + std::llabs(int64_t(first_ul_right.bias[size_t(o)]));
    if (sum >= kExactFp32Bound)
      throw Error(ErrorCode::kModelInvalid, "model layer 'first_ul' output " + std::to_string(o) +
                                                " fails the exactness bound: sum|w|*max|a|+|b| = " + std::to_string(sum) + " >= 2^24");
  }
  for (int st = 0; st < 2; ++st) {
    Check(int(blocks[st].size()) == prog.blocks_per_stream, "block count mismatch");
    Check(int(resample[st].size()) == prog.resamples_per_stream, "resampling count mismatch");
  }
  for (const auto& op : prog.ops) {
    if (op.kind == PixelCnnPPOp::kBlock) {
      const auto& b = blocks[op.ul][size_t(op.index)];
      const std::string name = BlockName(op.ul, op.index);
      const int taps = BlockGeometry(op.ul).taps(), skips = int(op.skips.size());
      Check(int(b.skip_pos.size()) == skips && int(b.skip_neg.size()) == skips, name + " has the wrong skip count");
      Check(b.conv1.out == F && b.conv1.in == taps * 2 * F + skips * 2 * F, name + ".conv1 has the wrong shape");
      Check(b.conv2.out == 2 * F && b.conv2.in == taps * 2 * F, name + ".conv2 has the wrong shape");
      Check(int(b.gate_requant.size()) == F, name + " has the wrong gate requantisation count");
      for (const auto& r : b.gate_requant) ValidateRequant(r, name + ".gate_requant");
      for (auto v : b.gate.table) Check(v >= 0 && v <= kInt8Max, name + ".gate has a value outside [0, 127]");
      b.conv1.ProveBound(kInt8Max, name + ".conv1");
      b.conv2.ProveBound(kInt8Max, name + ".conv2");
    } else if (op.kind == PixelCnnPPOp::kDownsample || op.kind == PixelCnnPPOp::kUpsample) {
      const auto& l = resample[op.ul][size_t(op.index)];
      const std::string name = ResampleName(op.ul, op.index);
      Check(l.out == F && l.in == ResampleGeometry(s, op.ul, op.index).taps() * F, name + " has the wrong shape");
      // LibTorch path: the int16 input is split into bytes with |hi| <= 128, |lo| <= 128.
      l.ProveBound(128, name + " (byte-split 16-bit input)");
      ProveInt32Bound(l, kInt16Max, name);
    }
  }
  Check(head.out == s.ParamCount() && head.in == F, "head has the wrong shape");
  head.ProveBound(kInt8Max, "head");
  tables.Validate();
}

void IntPixelCnnPP::Write(ModelFile& f) const {
  WriteModelHeader(f, kPixelCnnPPArch, shape.ToHyper(), shape.channels);
  first_u.Write(f, "first_u");
  first_ul_down.Write(f, "first_ul.down");
  first_ul_right.Write(f, "first_ul.right");
  for (int st = 0; st < 2; ++st) {
    for (size_t i = 0; i < blocks[st].size(); ++i) {
      const auto& b = blocks[st][i];
      const std::string n = BlockName(st, int(i));
      b.in_pos.Write(f, n + ".in_pos");
      b.in_neg.Write(f, n + ".in_neg");
      for (size_t k = 0; k < b.skip_pos.size(); ++k) {
        b.skip_pos[k].Write(f, n + ".skip" + std::to_string(k) + "_pos");
        b.skip_neg[k].Write(f, n + ".skip" + std::to_string(k) + "_neg");
      }
      b.conv1.Write(f, n + ".conv1");
      b.mid_pos.Write(f, n + ".mid_pos");
      b.mid_neg.Write(f, n + ".mid_neg");
      b.conv2.Write(f, n + ".conv2");
      b.gate.Write(f, n + ".gate");
      WriteRequants(f, n + ".gate_requant", b.gate_requant);
    }
    for (size_t i = 0; i < resample[st].size(); ++i) resample[st][i].Write(f, ResampleName(st, int(i)));
  }
  head_lut.Write(f, "head.lut");
  head.Write(f, "head");
  WriteMixtureTables(f, tables);
}

IntPixelCnnPP IntPixelCnnPP::Read(const ModelFile& f) {
  IntPixelCnnPP m;
  m.shape = ReadModelShape<PixelCnnPPShape>(f, kPixelCnnPPArch);
  const auto& s = m.shape;
  const int F = s.filters, Cin = s.channels + 1;
  m.first_u = IntLinear::Read(f, "first_u", F, FirstUGeometry().taps() * Cin);
  m.first_ul_down = IntLinear::Read(f, "first_ul.down", F, FirstUlDownGeometry().taps() * Cin);
  m.first_ul_right = IntLinear::Read(f, "first_ul.right", F, FirstUlRightGeometry().taps() * Cin);
  const auto prog = PixelCnnPPProgram::Build(s);
  for (const auto& op : prog.ops) {
    if (op.kind == PixelCnnPPOp::kBlock) {
      const std::string n = BlockName(op.ul, op.index);
      const int taps = BlockGeometry(op.ul).taps(), skips = int(op.skips.size());
      IntPPBlock b;
      b.in_pos = IntLut::Read(f, n + ".in_pos");
      b.in_neg = IntLut::Read(f, n + ".in_neg");
      for (int k = 0; k < skips; ++k) {
        b.skip_pos.push_back(IntLut::Read(f, n + ".skip" + std::to_string(k) + "_pos"));
        b.skip_neg.push_back(IntLut::Read(f, n + ".skip" + std::to_string(k) + "_neg"));
      }
      b.conv1 = IntLinear::Read(f, n + ".conv1", F, taps * 2 * F + skips * 2 * F);
      b.mid_pos = IntLut::Read(f, n + ".mid_pos");
      b.mid_neg = IntLut::Read(f, n + ".mid_neg");
      b.conv2 = IntLinear::Read(f, n + ".conv2", 2 * F, taps * 2 * F);
      b.gate = IntLut::Read(f, n + ".gate");
      b.gate_requant = ReadRequants(f, n + ".gate_requant", F);
      m.blocks[op.ul].push_back(std::move(b));
    } else if (op.kind == PixelCnnPPOp::kDownsample || op.kind == PixelCnnPPOp::kUpsample) {
      m.resample[op.ul].push_back(IntLinear::Read(f, ResampleName(op.ul, op.index), F, ResampleGeometry(s, op.ul, op.index).taps() * F));
    }
  }
  m.head_lut = IntLut::Read(f, "head.lut");
  m.head = IntLinear::Read(f, "head", s.ParamCount(), F);
  m.tables = ReadMixtureTables(f);
  m.Validate();
  return m;
}

// ---------------------------------------------------------------------------------------------
// Incremental engine.

struct PixelCnnPPCpuEngine::Impl {
  struct Reader {
    int task;
    ConvGeometry g;
  };
  // One layer output kept as a ring of rows.
  struct Map {
    int height = 0, width = 0, channels = 0, ring = 1;
    std::vector<int16_t> data;       // ring * width * channels
    std::vector<int> tag;            // the row each slot holds, kNoRow if none
    int writer = -1;                 // task writing it; -1: the pixels (SetPixel)
    const std::vector<int>* cursor = nullptr;  // per row: positions computed (the writer's cursor)
    std::vector<Reader> readers;
    bool read_by_output = false;     // the head: NextParams reads it
  };
  struct Input {
    int map;
    ConvGeometry g;
  };
  enum Kind { kFirstU, kFirstUl, kBlockMid, kBlockOut, kResample, kHead };
  struct Task {
    Kind kind = kFirstU;
    int stream = 0, index = 0;   // block or resampling
    int height = 0, width = 0;
    std::vector<int> cursor;     // per row: positions computed
    int row_lo = 0;              // rows below are complete
    std::vector<Input> inputs;   // every map read (for the readiness check)
    int out = -1;                // map written
    int ex = -1, ex_stream = 0, ex_block = 0;  // concat_elu map of the written stream node (next block's input), or -1
    int x = -1, c1e = -1;        // kBlockOut: residual input map; its conv1 half's output map
    ConvGeometry g;              // footprint of the main input
    std::vector<int> skips;      // kBlockMid: skip maps
  };

  const IntPixelCnnPP& m;
  int H, W, C, F, P;
  std::vector<Map> maps;
  std::vector<Task> tasks;
  std::vector<int> pixel_cursor;
  int pixel_map = 0, head_map = -1;
  int64_t pixels_set = 0, computed = 0;
  bool awaiting_pixel = false;
  std::vector<int16_t> feat, tmp, tmp2;

  Impl(const IntPixelCnnPP& model, int height, int width)
      : m(model), H(height), W(width), C(model.shape.channels), F(model.shape.filters), P(model.shape.ParamCount()) {
    if (H < 1 || W < 1) throw Error(ErrorCode::kInvalidArgument, "pixelcnn++ engine: empty image");
    const auto prog = PixelCnnPPProgram::Build(m.shape);
    pixel_cursor.assign(size_t(H), 0);
    pixel_map = AddMap(H, W, C + 1);
    // Stream node maps and the concat_elu maps of block inputs; writers are set below.
    std::vector<int> node_map(prog.node_level.size()), ex_of_node(prog.node_level.size(), -1), ex_block(prog.node_level.size());
    std::vector<int> ex_map[2], c1e_map[2];
    for (size_t n = 0; n < prog.node_level.size(); ++n)
      node_map[n] = AddMap(LevelSize(H, prog.node_level[n]), LevelSize(W, prog.node_level[n]), F);
    for (const auto& op : prog.ops)
      if (op.kind == PixelCnnPPOp::kBlock) {
        const int h = LevelSize(H, op.level), w = LevelSize(W, op.level);
        ex_map[op.ul].push_back(AddMap(h, w, 2 * F));
        c1e_map[op.ul].push_back(AddMap(h, w, 2 * F));
        ex_of_node[size_t(op.x)] = ex_map[op.ul].back();
        ex_block[size_t(op.x)] = op.index;
      }
    auto add_task = [&](Kind kind, int level, int out, std::vector<Input> inputs) {
      Task t;
      t.kind = kind;
      t.height = LevelSize(H, level);
      t.width = LevelSize(W, level);
      t.cursor.assign(size_t(t.height), 0);
      t.inputs = std::move(inputs);
      t.out = out;
      tasks.push_back(std::move(t));
      return int(tasks.size()) - 1;
    };
    auto finish_stream_task = [&](int ti, int node) {
      Task& t = tasks[size_t(ti)];
      t.ex = ex_of_node[size_t(node)];
      t.ex_block = ex_block[size_t(node)];
      t.ex_stream = prog.node_ul[size_t(node)];
      maps[size_t(t.out)].writer = ti;
      if (t.ex >= 0) maps[size_t(t.ex)].writer = ti;
    };
    for (const auto& op : prog.ops) {
      const int out = node_map[size_t(op.out)];
      switch (op.kind) {
        case PixelCnnPPOp::kFirstU: {
          const int ti = add_task(kFirstU, 0, out, {{pixel_map, FirstUGeometry()}});
          tasks[size_t(ti)].g = FirstUGeometry();
          finish_stream_task(ti, op.out);
          break;
        }
        case PixelCnnPPOp::kFirstUl: {
          const int ti = add_task(kFirstUl, 0, out, {{pixel_map, FirstUlDownGeometry()}, {pixel_map, FirstUlRightGeometry()}});
          finish_stream_task(ti, op.out);
          break;
        }
        case PixelCnnPPOp::kBlock: {
          const auto g = BlockGeometry(op.ul);
          const int ex = ex_map[op.ul][size_t(op.index)], c1e = c1e_map[op.ul][size_t(op.index)];
          std::vector<Input> mid_inputs{{ex, g}};
          std::vector<int> skips;
          for (int s : op.skips) {
            mid_inputs.push_back({node_map[size_t(s)], Pointwise()});
            skips.push_back(node_map[size_t(s)]);
          }
          const int mid = add_task(kBlockMid, op.level, c1e, mid_inputs);
          tasks[size_t(mid)].stream = op.ul;
          tasks[size_t(mid)].index = op.index;
          tasks[size_t(mid)].g = g;
          tasks[size_t(mid)].skips = skips;
          maps[size_t(c1e)].writer = mid;
          const int x = node_map[size_t(op.x)];
          const int ti = add_task(kBlockOut, op.level, out, {{c1e, g}, {x, Pointwise()}});
          Task& t = tasks[size_t(ti)];
          t.stream = op.ul;
          t.index = op.index;
          t.g = g;
          t.x = x;
          t.c1e = c1e;
          finish_stream_task(ti, op.out);
          break;
        }
        case PixelCnnPPOp::kDownsample:
        case PixelCnnPPOp::kUpsample: {
          const auto g = op.kind == PixelCnnPPOp::kDownsample ? DownsampleGeometry(op.ul) : UpsampleGeometry(op.ul);
          const int ti = add_task(kResample, op.level, out, {{node_map[size_t(op.x)], g}});
          tasks[size_t(ti)].stream = op.ul;
          tasks[size_t(ti)].index = op.index;
          tasks[size_t(ti)].g = g;
          finish_stream_task(ti, op.out);
          break;
        }
      }
    }
    head_map = AddMap(H, W, P);
    maps[size_t(head_map)].writer = add_task(kHead, 0, head_map, {{node_map[size_t(prog.final_ul)], Pointwise()}});
    maps[size_t(head_map)].read_by_output = true;
    // `tasks` is complete: cursor pointers stay valid from here on. Register readers.
    for (size_t mi = 0; mi < maps.size(); ++mi) {
      Map& mp = maps[mi];
      if (int(mi) == pixel_map) mp.cursor = &pixel_cursor;
      else if (mp.writer >= 0) mp.cursor = &tasks[size_t(mp.writer)].cursor;
      else throw Error(ErrorCode::kInternal, "pixelcnn++ engine: a map has no writer");
    }
    for (size_t ti = 0; ti < tasks.size(); ++ti)
      for (const auto& in : tasks[ti].inputs) maps[size_t(in.map)].readers.push_back(Reader{int(ti), in.g});
    size_t max_in = size_t(F) * 2;
    for (const auto& t : tasks)
      for (const auto& in : t.inputs) max_in = std::max(max_in, size_t(in.g.taps()) * size_t(maps[size_t(in.map)].channels));
    feat.resize(max_in + size_t(4 * F));
    tmp.resize(size_t(std::max(2 * F, P)));
    tmp2.resize(size_t(2 * F));
  }

  int AddMap(int h, int w, int channels) {
    Map mp;
    mp.height = h;
    mp.width = w;
    mp.channels = channels;
    mp.ring = 1;
    mp.data.assign(size_t(w) * channels, kPoison);
    mp.tag.assign(1, kNoRow);
    maps.push_back(std::move(mp));
    return int(maps.size()) - 1;
  }

  // Whether some reader may still read row `row` of `mp`.
  bool Live(const Map& mp, int row) const {
    if (mp.read_by_output && pixels_set < int64_t(row + 1) * W) return true;
    for (const auto& r : mp.readers) {
      const Task& t = tasks[size_t(r.task)];
      const int last = std::min(LastOutputRowReading(r.g, row), t.height - 1);
      if (t.row_lo <= last) return true;
    }
    return false;
  }

  void Grow(Map& mp) {
    int ring = mp.ring + 1;
    for (;; ++ring) {  // a ring size where the rows held keep distinct slots
      std::vector<bool> used(size_t(ring), false);
      bool ok = true;
      for (int t : mp.tag)
        if (t != kNoRow) {
          if (used[size_t(t % ring)]) ok = false;
          used[size_t(t % ring)] = true;
        }
      if (ok) break;
    }
    const size_t row_len = size_t(mp.width) * mp.channels;
    std::vector<int16_t> data(size_t(ring) * row_len, kPoison);
    std::vector<int> tag(size_t(ring), kNoRow);
    for (int s = 0; s < mp.ring; ++s)
      if (mp.tag[size_t(s)] != kNoRow) {
        const int slot = mp.tag[size_t(s)] % ring;
        tag[size_t(slot)] = mp.tag[size_t(s)];
        std::copy(mp.data.begin() + ptrdiff_t(s * row_len), mp.data.begin() + ptrdiff_t((s + 1) * row_len),
                  data.begin() + ptrdiff_t(slot * row_len));
      }
    mp.ring = ring;
    mp.data = std::move(data);
    mp.tag = std::move(tag);
  }

  // Makes row `row` resident (rows are first written in increasing order).
  void EnsureRow(Map& mp, int row) {
    for (;;) {
      const int slot = row % mp.ring;
      const int held = mp.tag[size_t(slot)];
      if (held == row) return;
      if (held != kNoRow && Live(mp, held)) {
        Grow(mp);
        continue;
      }
      mp.tag[size_t(slot)] = row;
      const size_t row_len = size_t(mp.width) * mp.channels;
      std::fill(mp.data.begin() + ptrdiff_t(slot * row_len), mp.data.begin() + ptrdiff_t((slot + 1) * row_len), kPoison);
      return;
    }
  }

  const int16_t* At(const Map& mp, int y, int x) const {
    const int slot = y % mp.ring;
    if (mp.tag[size_t(slot)] != y) throw Error(ErrorCode::kInternal, "pixelcnn++ engine: read of an evicted row");
    return mp.data.data() + (size_t(slot) * mp.width + size_t(x)) * mp.channels;
  }
  int16_t* Mutable(Map& mp, int y, int x) {
    EnsureRow(mp, y);
    return mp.data.data() + (size_t(y % mp.ring) * mp.width + size_t(x)) * mp.channels;
  }

  bool Computable(const Task& t, int y, int x) const {
    for (const auto& in : t.inputs) {
      const Map& mp = maps[size_t(in.map)];
      const std::vector<int>& done = *mp.cursor;
      bool ok = true;
      ForEachTap(in.g, y, x, mp.height, mp.width, [&](int, int iy, int ix) {
        if (ix >= done[size_t(iy)]) ok = false;
      });
      if (!ok) return false;
    }
    return true;
  }

  // feat[tap * channels + c] = input at the tap, 0 outside the map.
  void Gather(const Map& mp, const ConvGeometry& g, int y, int x, int16_t* out) const {
    const int ch = mp.channels;
    std::fill(out, out + size_t(g.taps()) * ch, int16_t(0));
    ForEachTap(g, y, x, mp.height, mp.width, [&](int tap, int iy, int ix) {
      std::memcpy(out + size_t(tap) * ch, At(mp, iy, ix), sizeof(int16_t) * size_t(ch));
    });
  }

  // Stores a new stream value and the next block's concat_elu of it.
  void WriteStream(Task& t, int y, int x, const int16_t* v) {
    std::memcpy(Mutable(maps[size_t(t.out)], y, x), v, sizeof(int16_t) * size_t(F));
    if (t.ex < 0) return;
    const auto& b = m.blocks[t.ex_stream][size_t(t.ex_block)];
    int16_t* e = Mutable(maps[size_t(t.ex)], y, x);
    for (int c = 0; c < F; ++c) {
      e[c] = b.in_pos(v[c]);
      e[F + c] = b.in_neg(-int32_t(v[c]));
    }
  }

  void Compute(Task& t, int y, int x) {
    int16_t* f = feat.data();
    int16_t* v = tmp.data();
    switch (t.kind) {
      case kFirstU: {
        if (t.g.ShiftedIn(y, x)) {
          std::fill(v, v + F, int16_t(0));
        } else {
          Gather(maps[size_t(pixel_map)], t.g, y, x, f);
          m.first_u.Apply(f, v);
        }
        WriteStream(t, y, x, v);
        break;
      }
      case kFirstUl: {
        const auto gd = FirstUlDownGeometry(), gr = FirstUlRightGeometry();
        const bool down = !gd.ShiftedIn(y, x), right = !gr.ShiftedIn(y, x);
        const int nd = m.first_ul_down.in, nr = m.first_ul_right.in;
        if (down) Gather(maps[size_t(pixel_map)], gd, y, x, f);
        if (right) Gather(maps[size_t(pixel_map)], gr, y, x, f + nd);
        for (int o = 0; o < F; ++o) {
          int64_t acc = 0;
          if (down) {
            const int16_t* w = m.first_ul_down.weight.data() + size_t(o) * nd;
            int32_t s = 0;
            for (int i = 0; i < nd; ++i) s += int32_t(w[i]) * f[i];
            acc += int64_t(s) + m.first_ul_down.bias[size_t(o)];
          }
          if (right) {
            const int16_t* w = m.first_ul_right.weight.data() + size_t(o) * nr;
            int32_t s = 0;
            for (int i = 0; i < nr; ++i) s += int32_t(w[i]) * f[nd + i];
            acc += int64_t(s) + m.first_ul_right.bias[size_t(o)];
          }
          v[o] = int16_t(ApplyRequant(acc, m.first_ul_down.requant[size_t(o)], m.first_ul_down.lo, m.first_ul_down.hi));
        }
        WriteStream(t, y, x, v);
        break;
      }
      case kBlockMid: {
        const auto& b = m.blocks[t.stream][size_t(t.index)];
        const Map& ex = maps[size_t(t.inputs[0].map)];
        Gather(ex, t.g, y, x, f);
        int16_t* s = f + size_t(t.g.taps()) * 2 * F;
        for (size_t k = 0; k < t.skips.size(); ++k, s += 2 * F) {
          const int16_t* a = At(maps[size_t(t.skips[k])], y, x);
          for (int c = 0; c < F; ++c) {
            s[c] = b.skip_pos[k](a[c]);
            s[F + c] = b.skip_neg[k](-int32_t(a[c]));
          }
        }
        b.conv1.Apply(f, v);
        int16_t* e = Mutable(maps[size_t(t.out)], y, x);
        for (int c = 0; c < F; ++c) {
          e[c] = b.mid_pos(v[c]);
          e[F + c] = b.mid_neg(-int32_t(v[c]));
        }
        break;
      }
      case kBlockOut: {
        const auto& b = m.blocks[t.stream][size_t(t.index)];
        Gather(maps[size_t(t.c1e)], t.g, y, x, f);
        b.conv2.Apply(f, v);  // v = (a | b)
        const int16_t* in = At(maps[size_t(t.x)], y, x);
        int16_t* o = tmp2.data();
        for (int c = 0; c < F; ++c) {
          const int32_t gate = b.gate(v[F + c]);
          const int32_t inc = ApplyRequant(int64_t(v[c]) * gate, b.gate_requant[size_t(c)], -kInt16Max, kInt16Max);
          o[c] = int16_t(std::clamp<int32_t>(int32_t(in[c]) + inc, -kInt16Max, kInt16Max));
        }
        WriteStream(t, y, x, o);
        break;
      }
      case kResample: {
        Gather(maps[size_t(t.inputs[0].map)], t.g, y, x, f);
        m.resample[t.stream][size_t(t.index)].Apply(f, v);  // int32 accumulation, proven at load
        WriteStream(t, y, x, v);
        break;
      }
      case kHead: {
        const int16_t* ul = At(maps[size_t(t.inputs[0].map)], y, x);
        for (int c = 0; c < F; ++c) f[c] = m.head_lut(ul[c]);
        m.head.Apply(f, Mutable(maps[size_t(t.out)], y, x));
        break;
      }
    }
    ++computed;
  }

  void Advance(Task& t) {
    for (int r = t.row_lo; r < t.height; ++r) {
      int& c = t.cursor[size_t(r)];
      while (c < t.width && Computable(t, r, c)) {
        Compute(t, r, c);
        ++c;
      }
      if (c == 0) break;  // rows start in order
    }
    while (t.row_lo < t.height && t.cursor[size_t(t.row_lo)] == t.width) ++t.row_lo;
  }

  const int16_t* NextParams() {
    if (awaiting_pixel) throw Error(ErrorCode::kInternal, "pixelcnn++ engine: NextParams called twice without SetPixel");
    if (pixels_set >= int64_t(H) * W) throw Error(ErrorCode::kInternal, "pixelcnn++ engine: stepped past the last pixel");
    for (auto& t : tasks) Advance(t);
    const int y = int(pixels_set / W), x = int(pixels_set % W);
    const Map& head = maps[size_t(head_map)];
    if ((*head.cursor)[size_t(y)] <= x) throw Error(ErrorCode::kInternal, "pixelcnn++ engine: schedule stalled before the head was ready");
    awaiting_pixel = true;
    return At(head, y, x);
  }

  void SetPixel(const int32_t* q) {
    if (!awaiting_pixel) throw Error(ErrorCode::kInternal, "pixelcnn++ engine: SetPixel without NextParams");
    const int y = int(pixels_set / W), x = int(pixels_set % W);
    int16_t* p = Mutable(maps[size_t(pixel_map)], y, x);
    for (int c = 0; c < C; ++c) p[c] = int16_t(q[c]);
    p[C] = 255;
    ++pixel_cursor[size_t(y)];
    ++pixels_set;
    awaiting_pixel = false;
  }

  size_t StateBytes() const {
    size_t bytes = pixel_cursor.size() * sizeof(int);
    for (const auto& mp : maps) bytes += mp.data.size() * sizeof(int16_t) + mp.tag.size() * sizeof(int);
    for (const auto& t : tasks) bytes += t.cursor.size() * sizeof(int);
    return bytes;
  }
};

PixelCnnPPCpuEngine::PixelCnnPPCpuEngine(const IntPixelCnnPP& model, int height, int width)
    : impl_(std::make_unique<Impl>(model, height, width)) {}
PixelCnnPPCpuEngine::~PixelCnnPPCpuEngine() = default;
const int16_t* PixelCnnPPCpuEngine::NextParams() { return impl_->NextParams(); }
void PixelCnnPPCpuEngine::SetPixel(const int32_t* q) { impl_->SetPixel(q); }
size_t PixelCnnPPCpuEngine::StateBytes() const { return impl_->StateBytes(); }
int64_t PixelCnnPPCpuEngine::PositionsComputed() const { return impl_->computed; }

std::vector<int16_t> EngineParamsForImage(const IntPixelCnnPP& model, const int16_t* q, int height, int width) {
  const int C = model.shape.channels, P = model.shape.ParamCount();
  PixelCnnPPCpuEngine engine(model, height, width);
  std::vector<int16_t> out(size_t(height) * width * P);
  int32_t pixel[3];
  for (size_t i = 0; i < size_t(height) * width; ++i) {
    const int16_t* p = engine.NextParams();
    std::copy(p, p + P, out.begin() + ptrdiff_t(i * P));
    for (int c = 0; c < C; ++c) pixel[c] = q[i * C + size_t(c)];
    engine.SetPixel(pixel);
  }
  return out;
}

}  // namespace pixelzip::models::nn
