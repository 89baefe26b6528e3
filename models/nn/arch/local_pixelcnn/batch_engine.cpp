#include "models/nn/arch/local_pixelcnn/batch_engine.h"

#include "models/coding_threads.h"  // RequestedCodingThreads

#include <algorithm>
#include <new>
#include <cstdlib>
#include <cstring>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
constexpr size_t kSubBatch = 48;  // pixels per pass through the layers: activations stay in L1/L2
int Even(int v) { return (v + 1) / 2 * 2; }
}  // namespace

PaddedPlane::PaddedPlane(int w, int h, int c, int reach)
    : width(w), height(h), channels(c), r(reach), stride(size_t(w + 2 * reach) * c),
      q(static_cast<int16_t*>(std::calloc(size_t(h + reach) * stride, sizeof(int16_t)))) {
  if (!q) throw std::bad_alloc();
}

PaddedPlane ToPaddedPlane(const PlaneView& image, int reach) {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  PaddedPlane plane(W, H, C, reach);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) plane.at(y, x)[c] = int16_t(2 * int(image.at(uint32_t(y), uint32_t(x), uint32_t(c))) - 255);
  return plane;
}

void Wavefront::Line(int64_t t, std::vector<PixelPos>& out) const {
  const int64_t y_lo = FirstRow(t), y_hi = y_lo + Count(t) - 1;
  for (int64_t y = y_lo; y <= y_hi; ++y) out.push_back(PixelPos{int(y), int(t - k * y)});
}

WorkerTeam::WorkerTeam(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { Loop(i); });
}

WorkerTeam::~WorkerTeam() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& w : workers_) w.join();
}

void WorkerTeam::Loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* fn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
    }
    std::exception_ptr error;
    try {
      (*fn)(index);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (error && !error_) error_ = error;
    if (--pending_ == 0) done_.notify_one();
  }
}

void WorkerTeam::Run(const std::function<void(int)>& fn) {
  if (threads_ == 1) {
    fn(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    pending_ = threads_ - 1;
    error_ = nullptr;
    ++generation_;
  }
  start_.notify_all();
  std::exception_ptr error;
  try {
    fn(0);
  } catch (...) {
    error = std::current_exception();
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return pending_ == 0; });
  if (!error) error = error_;
  if (error) std::rethrow_exception(error);
}

int DefaultCodingThreads() {
  if (const int requested = RequestedCodingThreads(); requested > 0) return requested;  // --threads
  if (const char* env = std::getenv("PIXELZIP_THREADS")) {
    const int v = std::atoi(env);
    if (v >= 1 && v <= 64) return v;
  }
  return std::max(1, std::min(64, int(std::thread::hardware_concurrency())));
}

LocalBatchEngine::LocalBatchEngine(const IntLocalPixelCnn& model, KernelKind kind)
    : m_(model), kind_(kind), r_(model.shape.kernel / 2), C_(model.shape.channels), P_(model.shape.ParamCount()),
      H_(model.shape.hidden), I_(model.shape.inner), F_(model.conv0.in), fstride_(Even(model.conv0.in)),
      hstride_(Even(model.shape.hidden)), istride_(Even(model.shape.inner)), conv0_(model.conv0),
      head_(model.head), lut_head_(model.lut_head) {
  if (model.shape.aux != 0) throw Error(ErrorCode::kInternal, "batched local-pixelcnn engine: conditioning planes");
  for (int b = 0; b < model.shape.blocks; ++b) {
    conv1_.emplace_back(model.conv1[b]);
    conv2_.emplace_back(model.conv2[b]);
    pre_.emplace_back(model.lut_pre[b]);
    mid_.emplace_back(model.lut_mid[b]);
  }
}

void LocalBatchEngine::Evaluate(const PaddedPlane& p, const PixelPos* px, size_t n, int16_t* params,
                                Workspace& ws) const {
  const size_t B = std::min(n, kSubBatch);
  // Strides stay even and the padding columns zero (read as the second of a pair). The buffers only
  // grow: the pipeline's batches alternate between sizes, and regrowing would zero them every time.
  auto reserve = [](std::vector<int16_t>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  reserve(ws.feat, B * fstride_);
  reserve(ws.h, B * hstride_);
  reserve(ws.a, B * hstride_);
  reserve(ws.t, B * istride_);
  reserve(ws.inc, B * hstride_);
  const int C = C_, r = r_;
  const size_t row_taps = size_t(2 * r + 1) * C, left_taps = size_t(r) * C;
  for (size_t s0 = 0; s0 < n; s0 += kSubBatch) {
    const size_t nb = std::min(kSubBatch, n - s0);
    // conv0's features: taps (raster order) x channels, then the median edge predictor per channel.
    for (size_t i = 0; i < nb; ++i) {
      const int y = px[s0 + i].y, x = px[s0 + i].x;
      int16_t* f = ws.feat.data() + i * fstride_;
      for (int dy = -r; dy < 0; ++dy, f += row_taps) std::memcpy(f, p.at(y + dy, x - r), row_taps * sizeof(int16_t));
      std::memcpy(f, p.at(y, x - r), left_taps * sizeof(int16_t));
      f += left_taps;
      const int16_t *left = p.at(y, x - 1), *up = p.at(y - 1, x), *ul = p.at(y - 1, x - 1);
      for (int c = 0; c < C; ++c) {
        const int a = left[c], b = up[c], d = ul[c];
        const int mn = std::min(a, b), mx = std::max(a, b);
        *f++ = int16_t(d >= mx ? mn : d <= mn ? mx : a + b - d);
      }
      if (fstride_ > F_) *f = 0;
    }
    int16_t *h = ws.h.data(), *a = ws.a.data(), *t = ws.t.data(), *inc = ws.inc.data();
    LinearRows(conv0_, ws.feat.data(), fstride_, nb, h, hstride_, kind_);
    const size_t hn = nb * hstride_, in = nb * istride_;
    if (hstride_ > H_)
      for (size_t i = 0; i < nb; ++i) h[i * hstride_ + H_] = 0;
    if (istride_ > I_)
      for (size_t i = 0; i < nb; ++i) t[i * istride_ + I_] = 0;
    for (size_t b = 0; b < conv1_.size(); ++b) {
      LutRows(pre_[b], h, a, hn, kind_);
      LinearRows(conv1_[b], a, hstride_, nb, t, istride_, kind_);
      LutRows(mid_[b], t, t, in, kind_);
      LinearRows(conv2_[b], t, istride_, nb, inc, hstride_, kind_);
      if (hstride_ > H_)
        for (size_t i = 0; i < nb; ++i) inc[i * hstride_ + H_] = 0;
      ResidualAdd(h, inc, hn, kind_);
    }
    LutRows(lut_head_, h, a, hn, kind_);
    // The padding column of a may hold lut(0) != 0; the packed weights of that column are zero.
    LinearRows(head_, a, hstride_, nb, params + s0 * P_, P_, kind_);
  }
}

void LocalBatchEngine::EvaluateParallel(const PaddedPlane& plane, const PixelPos* pixels, size_t n, int16_t* params,
                                        WorkerTeam& team, std::vector<Workspace>& ws) const {
  const int T = team.size();
  ws.resize(size_t(T));
  if (T == 1 || n < 8) {
    Evaluate(plane, pixels, n, params, ws[0]);
    return;
  }
  team.Run([&](int i) {
    const size_t begin = n * size_t(i) / T, end = n * size_t(i + 1) / T;
    Evaluate(plane, pixels + begin, end - begin, params + begin * P_, ws[size_t(i)]);
  });
}

}  // namespace pixelzip::models::nn
