// The batched CPU engine and the wavefront layout (issue 22): the SIMD kernels equal the
// scalar reference bit for bit on random layers at the extremes the loader allows (on every
// instruction set this CPU runs), the batched engine equals LocalPixelCnnCpuEngine, and the
// wavefront layout codes exactly raster order's conditionals and decodes with 1 and 2
// threads to the same image. The LibTorch line engine (torch_line.h, Device::kTorchCpu
// here; CUDA where a device exists) equals both engines bit for bit and codes the same
// wavefront stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <tuple>

#include "entropy/range_coder.h"
#include "models/nn/runtime/int_simd.h"
#include "models/nn/arch/local_pixelcnn/batch_engine.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"
#include "models/nn/arch/local_pixelcnn/torch_line.h"
#include "models/registry.h"

namespace pixelzip::models::nn {
namespace {

constexpr int64_t kBound = int64_t{1} << 24;

// A layer that passes IntLinear::ProveBound(max_input): weights up to the largest magnitude the
// bound and weight_max allow; `extreme` puts every weight at +-that magnitude.
IntLinear RandomLinear(std::mt19937_64& rng, int out, int in, int32_t weight_max, int32_t max_input, bool extreme) {
  IntLinear l;
  l.out = out;
  l.in = in;
  std::uniform_int_distribution<int32_t> bias_d(-(1 << 18), 1 << 18);
  for (int o = 0; o < out; ++o) {
    const int32_t b = bias_d(rng);
    const int64_t cap = std::min<int64_t>(weight_max, (kBound - 1 - std::abs(b)) / (int64_t(in) * max_input));
    std::uniform_int_distribution<int32_t> w_d(-int32_t(cap), int32_t(cap));
    for (int i = 0; i < in; ++i) {
      int32_t w = w_d(rng);
      if (extreme) w = (rng() & 1) ? int32_t(cap) : -int32_t(cap);
      l.weight.push_back(int16_t(w));
    }
    l.bias.push_back(b);
    std::uniform_int_distribution<int32_t> m_d(1 << 14, (1 << 15) - 1), s_d(1, 46);
    Requant r{m_d(rng), s_d(rng)};
    if (o % 5 == 0) r = Requant{(1 << 15) - 1, 1};
    if (o % 5 == 1) r = Requant{1 << 14, 46};
    if (o % 5 == 2) r = Requant{m_d(rng), 24 + int32_t(rng() % 8)};
    l.requant.push_back(r);
  }
  l.lo = extreme ? -kInt16Max : -2047;
  l.hi = extreme ? kInt16Max : 2047;
  l.ProveBound(max_input, "test");
  return l;
}

IntLut RandomLut(std::mt19937_64& rng, int32_t act_max, int shift) {
  IntLut l;
  std::uniform_int_distribution<int32_t> m_d(1 << 14, (1 << 15) - 1), v_d(-act_max, act_max);
  l.to_index = Requant{m_d(rng), shift};
  l.index_lo = -int32_t(rng() % 4096);
  for (int i = 0; i < kLutSize; ++i) l.table.push_back(int16_t(v_d(rng)));
  return l;
}

std::vector<int16_t> RandomActs(std::mt19937_64& rng, size_t count, int32_t max_input, bool extreme) {
  std::uniform_int_distribution<int32_t> d(-max_input, max_input);
  std::vector<int16_t> v(count);
  for (auto& x : v) x = int16_t(extreme ? ((rng() & 1) ? max_input : -max_input) : d(rng));
  return v;
}

// Runs `body` on every instruction set compiled in and supported here (then restores the default).
template <class Body>
void ForEachTarget(Body body) {
  const auto targets = SimdTargetsForTest();
  ASSERT_FALSE(targets.empty());
  std::string names;
  for (int64_t t : targets) names += SimdTargetNameOf(t) + " ";
  ::testing::Test::RecordProperty("simd_targets", names);
  for (int64_t t : targets) {
    SetSimdTargetForTest(t);
    SCOPED_TRACE(SimdTargetNameOf(t));
    EXPECT_EQ(SimdTargetName(), SimdTargetNameOf(t)) << "the dispatch did not switch to the target under test";
    body();
  }
  SetSimdTargetForTest(0);
}

TEST(SimdKernels, LinearEqualsScalarOnRandomAndExtremeLayers) {
  struct Case { int out, in; int32_t weight_max, max_input; bool extreme; size_t rows; };
  const Case cases[] = {
      {96, 183, 32767, 255, false, 37},   {96, 183, 32767, 255, true, 5},    {192, 96, 32767, 2047, false, 64},
      {192, 96, 32767, 2047, true, 9},    {96, 192, 127, 2047, false, 33},   {100, 96, 32767, 2047, true, 3},
      {30, 96, 32767, 2047, false, 1},    {1, 1, 32767, 511, true, 7},       {17, 3, 32767, 255, true, 4},
      {64, 128, 127, 127, true, 16},      {5, 1000, 32767, 32767, false, 6}, {33, 7, 255, 32767, true, 2},
  };
  std::mt19937_64 rng(22);
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.out << "x" << c.in << " wmax " << c.weight_max << " amax " << c.max_input
                                      << (c.extreme ? " extreme" : ""));
    const IntLinear layer = RandomLinear(rng, c.out, c.in, c.weight_max, c.max_input, c.extreme);
    const PackedLinear packed(layer);
    const size_t stride = size_t(packed.in_pairs) * 2 + 2;  // padded and a little wider
    auto acts = RandomActs(rng, c.rows * stride, c.max_input, c.extreme);
    for (size_t n = 0; n < c.rows; ++n)
      for (size_t i = size_t(c.in); i < stride; ++i) acts[n * stride + i] = 0;
    std::vector<int16_t> want(c.rows * size_t(c.out + 3), 0);
    LinearRows(packed, acts.data(), stride, c.rows, want.data(), size_t(c.out + 3), KernelKind::kScalar);
    ForEachTarget([&] {
      std::vector<int16_t> got(want.size(), 0);
      LinearRows(packed, acts.data(), stride, c.rows, got.data(), size_t(c.out + 3), KernelKind::kSimd);
      EXPECT_EQ(got, want);
    });
  }
}

TEST(SimdKernels, LutAndResidualEqualScalar) {
  std::mt19937_64 rng(23);
  for (int shift : {1, 14, 18, 20, 25, 30, 31, 40, 46})
    for (int32_t act_max : {127, 2047}) {
      SCOPED_TRACE(::testing::Message() << "shift " << shift << " act_max " << act_max);
      const IntLut lut = RandomLut(rng, act_max, shift);
      const PackedLut packed(lut);
      auto in = RandomActs(rng, 1001, 32767, false);
      in[0] = -32767; in[1] = 32767; in[2] = 0; in[3] = -32768;
      std::vector<int16_t> want(in.size());
      LutRows(packed, in.data(), want.data(), in.size(), KernelKind::kScalar);
      for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(want[i], lut(in[i]));
      ForEachTarget([&] {
        std::vector<int16_t> got(in.size());
        LutRows(packed, in.data(), got.data(), in.size(), KernelKind::kSimd);
        EXPECT_EQ(got, want);
      });
    }
  auto h = RandomActs(rng, 333, 32767, false), inc = RandomActs(rng, 333, 32767, false);
  h[0] = 32767; inc[0] = 32767; h[1] = -32767; inc[1] = -32767;
  auto want = h;
  ResidualAdd(want.data(), inc.data(), want.size(), KernelKind::kScalar);
  ForEachTarget([&] {
    auto got = h;
    ResidualAdd(got.data(), inc.data(), got.size(), KernelKind::kSimd);
    EXPECT_EQ(got, want);
  });
}

// A random integer local-pixelcnn that passes Validate(); `extreme`: every weight at the largest magnitude
// the loader's bound (sum|w| * max|a| + |b| < 2^24) and weight_bits allow.
IntLocalPixelCnn RandomModel(std::mt19937_64& rng, int channels, int kernel, int act_bits, int weight_bits,
                             bool extreme = false) {
  IntLocalPixelCnn m;
  m.shape.channels = channels;
  m.shape.kernel = kernel;
  m.shape.hidden = 24;
  m.shape.inner = 40;
  m.shape.blocks = 2;
  m.shape.mixtures = 3;
  m.shape.act_bits = act_bits;
  m.shape.weight_bits = weight_bits;
  const int32_t act = m.shape.ActMax(), wmax = m.shape.WeightMax();
  auto linear = [&](int out, int in, int32_t max_input) {
    IntLinear l = RandomLinear(rng, out, in, wmax, max_input, extreme);
    for (auto& r : l.requant) r = Requant{int32_t(16384 + rng() % 16384), 13 + int32_t(rng() % 4)};
    l.lo = -kInt16Max;
    l.hi = kInt16Max;
    return l;
  };
  m.conv0 = linear(m.shape.hidden, m.shape.Conv0Inputs(), 255);
  for (int b = 0; b < m.shape.blocks; ++b) {
    m.lut_pre.push_back(RandomLut(rng, act, 20));
    m.conv1.push_back(linear(m.shape.inner, m.shape.hidden, act));
    m.lut_mid.push_back(RandomLut(rng, act, 20));
    m.conv2.push_back(linear(m.shape.hidden, m.shape.inner, act));
  }
  m.lut_head = RandomLut(rng, act, 20);
  m.head = linear(m.shape.ParamCount(), m.shape.hidden, act);
  m.tables = MixtureTables::Compute();
  m.Validate();
  return m;
}

std::vector<uint8_t> RandomImage(std::mt19937_64& rng, int w, int h, int c) {
  // Smooth-ish content plus noise, so that the model's CDFs vary.
  std::vector<uint8_t> v(size_t(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) v[(size_t(y) * w + x) * c + k] = uint8_t((x * 7 + y * 3 + k * 50 + rng() % 24) & 255);
  return v;
}

TEST(LocalBatchEngine, EqualsLocalPixelCnnCpuEngineForEveryKernelAndThreadCount) {
  std::mt19937_64 rng(5);
  for (auto [channels, kernel, act_bits, weight_bits] :
       {std::tuple{3, 11, 12, 16}, std::tuple{1, 5, 8, 8}, std::tuple{3, 3, 10, 8}}) {
    const IntLocalPixelCnn m = RandomModel(rng, channels, kernel, act_bits, weight_bits);
    const int W = 19, H = 13;
    const auto img = RandomImage(rng, W, H, channels);
    QPlane q;
    q.width = W; q.height = H; q.channels = channels;
    for (uint8_t v : img) q.q.push_back(int16_t(2 * v - 255));
    PaddedPlane p(W, H, channels, kernel / 2);
    std::vector<PixelPos> pixels;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        for (int c = 0; c < channels; ++c) p.at(y, x)[c] = q.q[(size_t(y) * W + x) * channels + c];
        pixels.push_back({y, x});
      }
    std::shuffle(pixels.begin(), pixels.end(), rng);
    const int P = m.shape.ParamCount();
    std::vector<int16_t> want(pixels.size() * P);
    LocalPixelCnnCpuEngine ev(m);
    for (size_t i = 0; i < pixels.size(); ++i) ev.Evaluate(q, pixels[i].y, pixels[i].x, &want[i * P]);
    for (KernelKind kind : {KernelKind::kScalar, KernelKind::kSimd})
      for (int threads : {1, 2, 3}) {
        LocalBatchEngine engine(m, kind);
        WorkerTeam team(threads);
        std::vector<LocalBatchEngine::Workspace> ws;
        std::vector<int16_t> got(want.size(), 0);
        engine.EvaluateParallel(p, pixels.data(), pixels.size(), got.data(), team, ws);
        EXPECT_EQ(got, want) << "kernel " << int(kind) << " threads " << threads;
      }
  }
}

// The LibTorch line engine on `engine` against LocalPixelCnnCpuEngine, pixel by pixel, on every wavefront
// line of a random image (the lines' batches) and on all pixels at once, shuffled.
void CheckTorchLineEngine(const IntLocalPixelCnn& m, Device engine, int W, int H, std::mt19937_64& rng) {
  const int channels = m.shape.channels, P = m.shape.ParamCount();
  const auto img = RandomImage(rng, W, H, channels);
  QPlane q;
  q.width = W; q.height = H; q.channels = channels;
  for (uint8_t v : img) q.q.push_back(int16_t(2 * v - 255));
  const LocalTorchLineEngine torch_line(m, engine);
  ASSERT_EQ(torch_line.ParamCount(), P);
  PaddedPlane p(W, H, channels, torch_line.Reach());
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < channels; ++c) p.at(y, x)[c] = q.q[(size_t(y) * W + x) * channels + c];
  LocalPixelCnnCpuEngine ev(m);
  const LocalBatchEngine batch(m, KernelKind::kSimd);
  LocalBatchEngine::Workspace ws;
  const Wavefront wf{W, H, m.shape.kernel / 2 + 1};
  std::vector<PixelPos> all, line;
  for (int64_t t = 0; t < wf.Lines(); ++t) {
    line.clear();
    wf.Line(t, line);
    std::vector<int16_t> want(line.size() * P), simd(want.size()), got(want.size(), 0);
    for (size_t i = 0; i < line.size(); ++i) ev.Evaluate(q, line[i].y, line[i].x, &want[i * P]);
    batch.Evaluate(p, line.data(), line.size(), simd.data(), ws);
    torch_line.Evaluate(p, line.data(), line.size(), got.data());
    ASSERT_EQ(simd, want) << "line " << t;
    ASSERT_EQ(got, want) << "line " << t;
    all.insert(all.end(), line.begin(), line.end());
  }
  std::shuffle(all.begin(), all.end(), rng);
  std::vector<int16_t> want(all.size() * P), got(want.size(), 0);
  for (size_t i = 0; i < all.size(); ++i) ev.Evaluate(q, all[i].y, all[i].x, &want[i * P]);
  torch_line.Evaluate(p, all.data(), all.size(), got.data());
  EXPECT_EQ(got, want);
}

TEST(TorchLineEngine, EqualsCpuEnginesOnRandomAndExtremeModels) {
  std::mt19937_64 rng(17);
  for (auto [channels, kernel, act_bits, weight_bits, extreme] :
       {std::tuple{3, 11, 12, 16, true}, std::tuple{3, 11, 12, 16, false}, std::tuple{1, 5, 8, 8, true},
        std::tuple{3, 3, 10, 8, false}, std::tuple{3, 7, 8, 8, true}}) {
    SCOPED_TRACE(::testing::Message() << channels << " channels, kernel " << kernel << ", act_bits " << act_bits
                                      << ", weight_bits " << weight_bits << (extreme ? ", extreme" : ""));
    const IntLocalPixelCnn m = RandomModel(rng, channels, kernel, act_bits, weight_bits, extreme);
    CheckTorchLineEngine(m, Device::kTorchCpu, 19, 13, rng);
  }
}

TEST(TorchLineEngine, EqualsCpuEnginesOnShippedRgbModel) {
  auto opened = OpenModel("local-pixelcnn-rgb", Device::kCpu);
  auto* model = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get());
  ASSERT_NE(model, nullptr);
  std::mt19937_64 rng(3);
  CheckTorchLineEngine(model->model(), Device::kTorchCpu, 29, 14, rng);
}

TEST(TorchLineEngine, CudaEqualsCpuEnginesWhereADeviceExists) {
  if (ResolveDevice(Device::kAuto) != Device::kCuda) GTEST_SKIP() << "no CUDA device";
  std::mt19937_64 rng(23);
  CheckTorchLineEngine(RandomModel(rng, 3, 11, 12, 16, true), Device::kCuda, 19, 13, rng);
  auto opened = OpenModel("local-pixelcnn-rgb", Device::kCpu);
  auto* model = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get());
  ASSERT_NE(model, nullptr);
  CheckTorchLineEngine(model->model(), Device::kCuda, 29, 14, rng);
}

// Seconds per wavefront line of a 768x512 image (the longest lines: 128 pixels) with the shipped model:
// LibTorch on the CPU against the SIMD batch engine on 1 and 2 threads (run by hand:
// --gtest_also_run_disabled_tests --gtest_filter='*TorchLineEngine*Timing*').
TEST(TorchLineEngine, DISABLED_TimingKodakLines) {
  auto opened = OpenModel("local-pixelcnn-rgb", Device::kCpu);
  auto* model = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get());
  ASSERT_NE(model, nullptr);
  const IntLocalPixelCnn& m = model->model();
  const int W = 768, H = 512, C = m.shape.channels, P = m.shape.ParamCount();
  std::mt19937_64 rng(1);
  const auto img = RandomImage(rng, W, H, C);
  PaddedPlane p(W, H, C, m.shape.kernel / 2);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) p.at(y, x)[c] = int16_t(2 * img[(size_t(y) * W + x) * C + c] - 255);
  const Wavefront wf{W, H, m.shape.kernel / 2 + 1};
  std::vector<PixelPos> line;
  wf.Line(wf.Lines() / 2, line);
  std::vector<int16_t> a(line.size() * P), b(a.size());
  const LocalTorchLineEngine torch_line(m, Device::kTorchCpu);
  const LocalBatchEngine batch(m, KernelKind::kSimd);
  const int reps = 50;
  auto time = [&](auto&& fn) {
    fn();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  };
  const double t_torch = time([&] { torch_line.Evaluate(p, line.data(), line.size(), a.data()); });
  for (int threads : {1, 2}) {
    WorkerTeam team(threads);
    std::vector<LocalBatchEngine::Workspace> ws;
    const double t_simd = time([&] { batch.EvaluateParallel(p, line.data(), line.size(), b.data(), team, ws); });
    std::printf("line of %zu pixels: LibTorch CPU %.3f ms, SIMD %d thread(s) %.3f ms\n", line.size(), t_torch * 1e3,
                threads, t_simd * 1e3);
  }
  EXPECT_EQ(a, b);
}

TEST(Wavefront, LinesCoverTheImageOnceAndRespectTheCausalWindow) {
  for (auto [w, h, k] : {std::tuple{1, 1, 6}, std::tuple{7, 5, 6}, std::tuple{30, 3, 2}, std::tuple{2, 40, 4}}) {
    const Wavefront wf{w, h, k};
    std::vector<int64_t> line_of(size_t(w) * h, -1);
    std::vector<PixelPos> px;
    int longest = 0;
    for (int64_t t = 0; t < wf.Lines(); ++t) {
      px.clear();
      wf.Line(t, px);
      longest = std::max(longest, int(px.size()));
      ASSERT_EQ(int(px.size()), wf.Count(t));
      EXPECT_LE(wf.Count(t), wf.MaxCount());
      if (!px.empty()) {
        EXPECT_EQ(px[0].y, wf.FirstRow(t));
      }
      for (size_t i = 0; i < px.size(); ++i) {
        EXPECT_EQ(px[i].x + int64_t(k) * px[i].y, t);
        if (i) {
          EXPECT_GT(px[i].y, px[i - 1].y);
        }
        auto& l = line_of[size_t(px[i].y) * w + px[i].x];
        EXPECT_EQ(l, -1);
        l = t;
      }
    }
    EXPECT_EQ(longest, wf.MaxCount());
    const int r = k - 1;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        ASSERT_GE(line_of[size_t(y) * w + x], 0);
        for (int dy = -r; dy <= 0; ++dy)
          for (int dx = -r; dx <= r; ++dx) {
            if (dy == 0 && dx >= 0) continue;
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || xx < 0 || xx >= w) continue;
            EXPECT_LT(line_of[size_t(yy) * w + xx], line_of[size_t(y) * w + x]);
          }
      }
  }
}

// Records every coded symbol's interval with the position it belongs to.
struct Interval { uint32_t lo, hi; };
class RecordingSink final : public SymbolSink {
 public:
  explicit RecordingSink(entropy::RangeEncoder* enc = nullptr) : enc_(enc) {}
  void Put(const SymbolPosition&, const SubpixelCdf& cdf, int s) override {
    seq.push_back({cdf.At(s), cdf.At(s + 1)});
    if (enc_) enc_->Encode(cdf.At(s), cdf.At(s + 1) - cdf.At(s));
  }
  std::vector<Interval> seq;

 private:
  entropy::RangeEncoder* enc_;
};
class RangeSource final : public SymbolSource {
 public:
  explicit RangeSource(const std::vector<uint8_t>& bytes) : decoder(bytes.data(), bytes.size()) {}
  entropy::RangeDecoder decoder;
  int Get(const SymbolPosition&, const SubpixelCdf& cdf) override {
    return decoder.DecodeWithCallable([&](int e) { return cdf.At(e); }, kSymbols);
  }
};

void CheckWavefront(const LocalPixelCnnCodingModel& model, int W, int H, uint64_t seed) {
  const int C = model.model().shape.channels;
  std::mt19937_64 rng(seed);
  auto img = RandomImage(rng, W, H, C);
  PlaneView view{uint32_t(W), uint32_t(H), uint32_t(C), img.data()};
  RecordingSink raster;
  model.Encode(view, raster, {});
  // The same conditionals in wavefront order: map the wavefront sequence back to raster positions.
  // The scalar reference on one thread, then the SIMD kernels through the pipeline on 1, 2 and 3 threads.
  std::vector<uint8_t> streams[4];
  int s = 0;
  for (auto [kind, threads] : {std::pair{KernelKind::kScalar, 1}, std::pair{KernelKind::kSimd, 1},
                               std::pair{KernelKind::kSimd, 2}, std::pair{KernelKind::kSimd, 3}}) {
    SCOPED_TRACE(::testing::Message() << "encoder kernel " << int(kind) << " threads " << threads);
    entropy::RangeEncoder enc;
    RecordingSink wave(&enc);
    model.EncodeWavefrontWith(view, wave, {}, threads, kind);
    streams[s++] = enc.Finish();
    ASSERT_EQ(wave.seq.size(), raster.seq.size());
    const Wavefront wf{W, H, model.WavefrontSlope()};
    std::vector<PixelPos> px;
    for (int64_t t = 0; t < wf.Lines(); ++t) wf.Line(t, px);
    for (size_t i = 0; i < px.size(); ++i)
      for (int c = 0; c < C; ++c) {
        const Interval& a = wave.seq[i * C + c];
        const Interval& b = raster.seq[(size_t(px[i].y) * W + px[i].x) * C + c];
        ASSERT_TRUE(a.lo == b.lo && a.hi == b.hi) << "pixel " << px[i].y << "," << px[i].x << " channel " << c;
      }
  }
  for (int i = 1; i < 4; ++i) EXPECT_EQ(streams[i], streams[0]) << "encoder " << i;
  for (KernelKind kind : {KernelKind::kScalar, KernelKind::kSimd})
    for (int threads : {1, 2, 3}) {
      std::vector<uint8_t> out(img.size(), 0);
      PlaneView ov{uint32_t(W), uint32_t(H), uint32_t(C), out.data()};
      RangeSource src(streams[0]);
      model.DecodeWavefrontWith(ov, src, {}, threads, kind);
      EXPECT_EQ(out, img) << "kernel " << int(kind) << " threads " << threads;
      EXPECT_TRUE(src.decoder.AtCleanEnd());
    }
}

TEST(Wavefront, RandomModelsCodeRasterConditionalsAndRoundTrip) {
  std::mt19937_64 rng(9);
  for (auto [channels, kernel, W, H] : {std::tuple{3, 11, 23, 17}, std::tuple{1, 7, 9, 30}, std::tuple{3, 5, 1, 1},
                                        std::tuple{3, 3, 40, 2}}) {
    const IntLocalPixelCnn m = RandomModel(rng, channels, kernel, 12, 16);
    ModelFile f;
    m.Write(f);
    LocalPixelCnnCodingModel model(f.Serialize(), "random", Device::kCpu);
    SCOPED_TRACE(::testing::Message() << channels << " channels, kernel " << kernel << ", " << W << "x" << H);
    CheckWavefront(model, W, H, uint64_t(W * 31 + H));
  }
}

// Images whose lines are several pipeline chunks long (32 pixels), so that the evaluation of line t + 1
// overlaps the decoding of line t in every phase, and images narrower than the slope (lines without
// pixels): bit for bit the raster conditionals, and every thread count decodes them.
TEST(Wavefront, PipelineOnLongLinesAndEmptyLinesCodesRasterConditionals) {
  std::mt19937_64 rng(31);
  for (auto [channels, kernel, W, H] : {std::tuple{3, 5, 150, 70}, std::tuple{1, 3, 140, 90}, std::tuple{3, 7, 2, 40},
                                        std::tuple{1, 11, 5, 23}, std::tuple{3, 3, 200, 3}}) {
    const IntLocalPixelCnn m = RandomModel(rng, channels, kernel, 12, 16);
    ModelFile f;
    m.Write(f);
    LocalPixelCnnCodingModel model(f.Serialize(), "random", Device::kCpu);
    SCOPED_TRACE(::testing::Message() << channels << " channels, kernel " << kernel << ", " << W << "x" << H);
    CheckWavefront(model, W, H, uint64_t(W * 7 + H));
  }
}

// A truncated or corrupt stream ends every thread count's decode with an error (no hang, no crash).
TEST(Wavefront, PipelineStopsOnACorruptStream) {
  std::mt19937_64 rng(37);
  const IntLocalPixelCnn m = RandomModel(rng, 3, 5, 12, 16);
  ModelFile f;
  m.Write(f);
  LocalPixelCnnCodingModel model(f.Serialize(), "random", Device::kCpu);
  const int W = 120, H = 50;
  auto img = RandomImage(rng, W, H, 3);
  PlaneView view{uint32_t(W), uint32_t(H), 3, img.data()};
  entropy::RangeEncoder enc;
  RecordingSink sink(&enc);
  model.EncodeWavefrontWith(view, sink, {}, 2, KernelKind::kSimd);
  const auto stream = enc.Finish();
  ASSERT_GT(stream.size(), 100u);
  const std::vector<uint8_t> truncated(stream.begin(), stream.begin() + std::ptrdiff_t(stream.size() / 2));
  std::vector<uint8_t> garbage(stream.size());
  for (auto& b : garbage) b = uint8_t(rng());
  for (const std::vector<uint8_t>* bytes : std::initializer_list<const std::vector<uint8_t>*>{&truncated, &garbage})
    for (int threads : {1, 2, 3}) {
      std::vector<uint8_t> out(img.size(), 0);
      PlaneView ov{uint32_t(W), uint32_t(H), 3, out.data()};
      // A source that fails after `limit` symbols, like a range decoder at the end of a short stream.
      class Failing final : public SymbolSource {
       public:
        Failing(const std::vector<uint8_t>& b, size_t limit) : src_(b), limit_(limit) {}
        int Get(const SymbolPosition& at, const SubpixelCdf& cdf) override {
          if (count_++ == limit_) throw entropy::DecodeError("test: stream ends");
          return src_.Get(at, cdf);
        }
       private:
        RangeSource src_;
        size_t limit_, count_ = 0;
      };
      Failing src(*bytes, size_t(W) * H * 3 / 2);
      EXPECT_THROW(model.DecodeWavefrontWith(ov, src, {}, threads, KernelKind::kSimd), entropy::DecodeError)
          << "threads " << threads;
    }
}

// The wavefront decoder's engine choice: the CPU engine for CUDA models unless lines are long.
TEST(Wavefront, CudaDecodesOnlyLongLinesOnTheGpu) {
  EXPECT_FALSE(UseTorchLineForDecoding(Device::kCpu, 1 << 20));
  EXPECT_TRUE(UseTorchLineForDecoding(Device::kTorchCpu, 1));
  const Wavefront kodak{768, 512, 6};
  EXPECT_EQ(kodak.MaxCount(), 128);
  EXPECT_FALSE(UseTorchLineForDecoding(Device::kCuda, kodak.MaxCount()));
  EXPECT_FALSE(UseTorchLineForDecoding(Device::kCuda, kCudaDecodeMinLine - 1));
  EXPECT_TRUE(UseTorchLineForDecoding(Device::kCuda, kCudaDecodeMinLine));
  EXPECT_EQ((Wavefront{6139, 1024, 6}.MaxCount()), kCudaDecodeMinLine);
}

// A model made with a LibTorch engine codes the wavefront layout through the LibTorch line engine: the
// same stream as the CPU engine, and it decodes to the image.
void CheckTorchWavefront(const IntLocalPixelCnn& m, Device engine, int W, int H, uint64_t seed) {
  ModelFile f;
  m.Write(f);
  const auto bytes = f.Serialize();
  LocalPixelCnnCodingModel cpu(bytes, "model", Device::kCpu), torch_model(bytes, "model", engine);
  ASSERT_EQ(cpu.torch_line(), nullptr);
  ASSERT_NE(torch_model.torch_line(), nullptr);
  const int C = m.shape.channels;
  std::mt19937_64 rng(seed);
  const auto img = RandomImage(rng, W, H, C);
  PlaneView view{uint32_t(W), uint32_t(H), uint32_t(C), const_cast<uint8_t*>(img.data())};
  entropy::RangeEncoder a, b;
  RecordingSink sa(&a), sb(&b);
  cpu.EncodeWavefrontWith(view, sa, {}, 2, KernelKind::kSimd);
  torch_model.EncodeWavefront(view, sb, {});
  const auto stream = a.Finish();
  EXPECT_EQ(b.Finish(), stream);
  std::vector<uint8_t> out(img.size(), 0);
  PlaneView ov{uint32_t(W), uint32_t(H), uint32_t(C), out.data()};
  RangeSource src(stream);
  torch_model.DecodeWavefront(ov, src, {});
  EXPECT_EQ(out, img);
  EXPECT_TRUE(src.decoder.AtCleanEnd());
}

TEST(Wavefront, LibTorchEngineCodesTheSameStreamAndRoundTrips) {
  std::mt19937_64 rng(29);
  for (auto [channels, kernel, W, H, extreme] :
       {std::tuple{3, 11, 23, 17, true}, std::tuple{1, 7, 9, 30, false}, std::tuple{3, 5, 1, 1, false}}) {
    SCOPED_TRACE(::testing::Message() << channels << " channels, kernel " << kernel << ", " << W << "x" << H);
    CheckTorchWavefront(RandomModel(rng, channels, kernel, 12, 16, extreme), Device::kTorchCpu, W, H,
                        uint64_t(W + H));
  }
  auto opened = OpenModel("local-pixelcnn-rgb", Device::kCpu);
  auto* model = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get());
  ASSERT_NE(model, nullptr);
  CheckTorchWavefront(model->model(), Device::kTorchCpu, 37, 21, 1);
}

TEST(Wavefront, CudaEngineCodesTheSameStreamWhereADeviceExists) {
  if (ResolveDevice(Device::kAuto) != Device::kCuda) GTEST_SKIP() << "no CUDA device";
  auto opened = OpenModel("local-pixelcnn-rgb", Device::kCpu);
  auto* model = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get());
  ASSERT_NE(model, nullptr);
  CheckTorchWavefront(model->model(), Device::kCuda, 37, 21, 1);
}

TEST(Wavefront, ShippedRgbModelCodesRasterConditionalsAndRoundTrips) {
  auto opened = OpenModel("local-pixelcnn-rgb", Device::kCpu);
  auto* model = dynamic_cast<const LocalPixelCnnCodingModel*>(opened.get());
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->WavefrontSlope(), 6);
  CheckWavefront(*model, 37, 21, 1);
}

}  // namespace
}  // namespace pixelzip::models::nn
