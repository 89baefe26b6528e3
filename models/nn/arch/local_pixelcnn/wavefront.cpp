// The wavefront layout of the Local PixelCNN (docs/format.md section 3.2): raster
// conditionals, symbols ordered by lines t = x + k y (k = kernel / 2 + 1), pixels
// of a line in increasing y, channels in order inside a pixel. The decoder
// evaluates each line's pixels as one batch on all threads, then range-decodes
// them; the encoder evaluates groups of lines (bounded memory) and emits them.
// The evaluation is the CPU batch engine (SIMD kernels on all threads) or, when the
// model was made with a LibTorch engine, the exact LibTorch line engine on its device
// (torch_line.h); both give the same parameters bit for bit, hence the same stream.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <thread>
#include <vector>

#include "models/nn/arch/local_pixelcnn/batch_engine.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"
#include "models/nn/arch/local_pixelcnn/torch_line.h"
#include "models/nn/runtime/mixture_cdf.h"

namespace pixelzip::models::nn {

namespace {
constexpr size_t kEncodeGroupPixels = 8192;  // pixels evaluated per encoder batch on the LibTorch engine

// The CPU engine's pipeline (docs/models.md, "the wavefront pipeline"). Lines are cut into chunks of
// kChunkPixels consecutive pixels. Chunks are claimed in coding order by every thread of the team,
// each evaluated into a ring of lines of parameters (kDecodeRingLines, kEncodeRingLines), and consumed (range coded) by thread 0
// in coding order, pixel by pixel. When decoding, a chunk of line t can be evaluated as soon as the
// pixels of line t - 1 on its rows and above are decoded (a causal window reaches line t - 1 only at
// rows y - 1 and y: (y, x - 1) and (y - 1, x + r)), so the network evaluation of line t + 1 overlaps the
// sequential decoding of line t (range decoder, mixture CDFs, adaptive stage). Thread 0 evaluates
// chunks itself while the one it needs is not ready, so both cores stay busy whichever side is slower.
constexpr int kChunkPixels = 32;  // 16 measured 7% more CPU time (per-call overheads of the ~40 kernel calls)
constexpr int64_t kEncodeRingLines = 16, kDecodeRingLines = 4;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins (pause instructions) before a waiting thread sleeps on a condition variable: a chunk takes some
// 100 microseconds to evaluate, so short waits spin (about 5 to 25 microseconds, by the CPU's pause) and
// longer ones block. Yielding instead loses whole scheduler time slices on a machine with other work
// (measured under load: decoding took 2.2 times as long as blocking).
constexpr int kSpinsBeforeSleep = 500;

class LinePipeline {
 public:
  // `decoding`: chunks wait for the pixels they read (else the plane is complete from the start).
  LinePipeline(const LocalBatchEngine& engine, const PaddedPlane& plane, const Wavefront& wf, int threads,
               bool decoding)
      : engine_(engine), plane_(plane), wf_(wf), lines_(wf.Lines()), P_(engine.ParamCount()),
        max_n_(std::max(1, wf.MaxCount())), chunks_per_line_((max_n_ + kChunkPixels - 1) / kChunkPixels),
        ring_(decoding ? kDecodeRingLines : kEncodeRingLines), decoding_(decoding), team_(threads),
        params_(size_t(ring_) * size_t(max_n_) * size_t(P_)),
        done_(new std::atomic<int64_t>[size_t(ring_) * size_t(chunks_per_line_)]),
        ws_(size_t(team_.size())) {
    for (size_t i = 0; i < size_t(ring_) * size_t(chunks_per_line_); ++i) done_[i].store(-1, std::memory_order_relaxed);
  }

  // Calls consume(pos, params) for every pixel in coding order on the calling thread; consume must
  // have made the pixel's values visible in the plane (decoding) before it returns.
  template <class Consume>
  void Run(const Consume& consume, const Progress& progress) {
    team_.Run([&](int index) {
      try {
        if (index == 0) {
          Consumer(consume, progress);
        } else {
          Worker(index);
        }
      } catch (...) {
        Abort();
        throw;
      }
    });
  }

 private:
  static int64_t Pack(int64_t t, int64_t i) { return t * (int64_t{1} << 32) + i; }

  enum class Claim { kDone, kNotReady, kEvaluated };

  // Claims the next chunk in coding order when its pixels can be evaluated and evaluates it. kNotReady
  // sets *wait_for to the consumer position it waits for.
  Claim TryClaim(int index, int64_t* wait_for = nullptr) {
    int64_t c = next_.load(std::memory_order_acquire);
    for (;;) {
      const int64_t t = c >> 32;
      const int j = int(c & 0xffffffff);
      if (t >= lines_) return Claim::kDone;
      const int n = wf_.Count(t);
      const int i0 = j * kChunkPixels, i1 = std::min(n, i0 + kChunkPixels);
      const int64_t next = i1 >= n ? Pack(t + 1, 0) : Pack(t, j + 1);
      if (n > 0) {
        const int64_t need = Needed(t, i1);
        if (consumed_.load(std::memory_order_seq_cst) < need) {
          if (wait_for) *wait_for = need;
          return Claim::kNotReady;
        }
      }
      if (!next_.compare_exchange_weak(c, next, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      if (n == 0) {
        c = next;
        continue;
      }
      Evaluate(t, j, i0, i1, index);
      return Claim::kEvaluated;
    }
  }

  // The consumer position from which pixels [0, i1) of line t may be evaluated: their ring slot is free
  // (line t - ring consumed) and, when decoding, line t - 1 is decoded on rows up to the chunk's last row.
  int64_t Needed(int64_t t, int i1) const {
    int64_t need = Pack(t - ring_ + 1, 0);
    if (decoding_ && t > 0) {
      const int64_t last_row = wf_.FirstRow(t) + i1 - 1;
      need = std::max(need, Pack(t - 1, std::clamp<int64_t>(last_row - wf_.FirstRow(t - 1) + 1, 0, wf_.Count(t - 1))));
    }
    return need;
  }

  int16_t* ParamsOf(int64_t t, int i) { return params_.data() + (size_t(t % ring_) * max_n_ + size_t(i)) * P_; }
  std::atomic<int64_t>& DoneOf(int64_t t, int j) { return done_[size_t(t % ring_) * chunks_per_line_ + size_t(j)]; }

  void Evaluate(int64_t t, int j, int i0, int i1, int index) {
    PixelPos px[kChunkPixels];
    const int64_t y0 = wf_.FirstRow(t);
    for (int i = i0; i < i1; ++i) {
      const int64_t y = y0 + i;
      px[i - i0] = PixelPos{int(y), int(t - int64_t(wf_.k) * y)};
    }
    engine_.Evaluate(plane_, px, size_t(i1 - i0), ParamsOf(t, i0), ws_[size_t(index)]);
    // Sequentially consistent with the consumer's sleeping flag (Dekker): either it sees the chunk done
    // or this thread sees it asleep and wakes it.
    DoneOf(t, j).store(t, std::memory_order_seq_cst);
    if (consumer_sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(mu_);
      consumer_cv_.notify_one();
    }
  }

  void Abort() {
    abort_.store(true, std::memory_order_seq_cst);
    std::lock_guard<std::mutex> lock(mu_);
    consumer_cv_.notify_all();
    worker_cv_.notify_all();
  }

  // The one wait loop of the pipeline (Worker and WaitForChunk): until ready() or an abort, claims and
  // evaluates chunks (try_claim() returns whether it evaluated one), spins kSpinsBeforeSleep pause
  // instructions while there is none, then sleeps on `cv` until ready() or an abort; `sleeping(true)`
  // and `sleeping(false)` bracket the sleep under mu_ (the flags Evaluate and Publish read before
  // notifying). A chunk takes some 100 microseconds to evaluate, so short waits spin and longer ones block.
  template <class Ready, class TryClaimFn, class Sleeping>
  void WaitUntil(const Ready& ready, const TryClaimFn& try_claim, std::condition_variable& cv,
                 const Sleeping& sleeping) {
    int spins = 0;
    while (!ready()) {
      if (abort_.load(std::memory_order_relaxed)) return;
      if (try_claim()) {
        spins = 0;
      } else if (++spins < kSpinsBeforeSleep) {
        CpuRelax();
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        sleeping(true);
        cv.wait(lock, [&] { return abort_.load(std::memory_order_seq_cst) || ready(); });
        sleeping(false);
        spins = 0;
      }
    }
  }

  // Evaluates chunks in coding order until every chunk is claimed; when the next one is not ready it
  // waits (WaitUntil) for the consumer position that chunk needs, claiming any chunk that becomes ready.
  void Worker(int index) {
    for (;;) {
      if (abort_.load(std::memory_order_relaxed)) return;
      int64_t wait_for = 0;
      const Claim c = TryClaim(index, &wait_for);
      if (c == Claim::kDone) return;
      if (c == Claim::kEvaluated) continue;
      bool finished = false;
      WaitUntil(
          [&] { return finished || consumed_.load(std::memory_order_seq_cst) >= wait_for; },
          [&] {
            const Claim again = TryClaim(index, &wait_for);
            finished = again == Claim::kDone;
            return again == Claim::kEvaluated;
          },
          worker_cv_,
          [&](bool asleep) {
            if (asleep) {
              wake_at_.store(wait_for, std::memory_order_relaxed);
              workers_sleeping_.fetch_add(1, std::memory_order_seq_cst);
            } else {
              workers_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
            }
          });
    }
  }

  // Publishes the consumer's position (sequentially consistent with workers_sleeping_, see Evaluate).
  void Publish(int64_t at, bool line_end) {
    consumed_.store(at, std::memory_order_seq_cst);
    if (workers_sleeping_.load(std::memory_order_seq_cst) > 0 &&
        (line_end || at >= wake_at_.load(std::memory_order_relaxed))) {
      std::lock_guard<std::mutex> lock(mu_);
      worker_cv_.notify_all();
    }
  }

  template <class Consume>
  void Consumer(const Consume& consume, const Progress& progress) {
    for (int64_t t = 0; t < lines_; ++t) {
      const int n = wf_.Count(t);
      const int64_t y0 = wf_.FirstRow(t);
      for (int i = 0; i < n; ++i) {
        if (i % kChunkPixels == 0) WaitForChunk(t, i / kChunkPixels);
        if (abort_.load(std::memory_order_relaxed)) return;  // a worker failed: the team rethrows its error
        const int64_t y = y0 + i;
        consume(PixelPos{int(y), int(t - int64_t(wf_.k) * y)}, ParamsOf(t, i));
        Publish(Pack(t, i + 1), false);
      }
      Publish(Pack(t + 1, 0), true);
      if (progress && (t % 64 == 63 || t == lines_ - 1)) progress(double(t + 1) / double(lines_));
    }
  }

  // Waits until chunk j of line t is evaluated, evaluating chunks itself meanwhile. It sleeps only while
  // a worker evaluates that chunk (an unclaimed one is always ready for the consumer).
  void WaitForChunk(int64_t t, int j) {
    const std::atomic<int64_t>& done = DoneOf(t, j);
    WaitUntil([&] { return done.load(std::memory_order_seq_cst) == t; },
              [&] { return TryClaim(0) == Claim::kEvaluated; }, consumer_cv_,
              [&](bool asleep) { consumer_sleeping_.store(asleep, std::memory_order_seq_cst); });
  }

  const LocalBatchEngine& engine_;
  const PaddedPlane& plane_;
  const Wavefront wf_;
  const int64_t lines_;
  const int P_, max_n_, chunks_per_line_;
  const int64_t ring_;
  const bool decoding_;
  WorkerTeam team_;
  std::vector<int16_t> params_;                  // [ring][max_n][P]
  std::unique_ptr<std::atomic<int64_t>[]> done_;  // [ring][chunks]: the line whose chunk is evaluated there
  std::vector<LocalBatchEngine::Workspace> ws_;  // one per thread
  std::atomic<int64_t> next_{0};      // next chunk to claim: (line << 32) + chunk
  std::atomic<int64_t> consumed_{0};  // pixels consumed: (line << 32) + pixels of that line
  std::atomic<bool> abort_{false};
  // Sleeping: the consumer waits for a chunk a worker evaluates; workers wait for the consumer's position.
  std::mutex mu_;
  std::condition_variable consumer_cv_, worker_cv_;
  std::atomic<bool> consumer_sleeping_{false};
  std::atomic<int> workers_sleeping_{0};
  std::atomic<int64_t> wake_at_{0};
};

// Calls body(reach, eval) with the LibTorch line engine's evaluator (line-batched, one caller).
template <class Body>
void WithTorchLineEvaluator(const LocalTorchLineEngine& e, const Body& body) {
  body(e.Reach(), [&](const PaddedPlane& p, const PixelPos* px, size_t n, int16_t* out) { e.Evaluate(p, px, n, out); });
}

}  // namespace

void LocalPixelCnnCodingModel::EncodeWavefront(const PlaneView& image, SymbolSink& sink,
                                               const Progress& progress) const {
  if (torch_line_) {
    WithTorchLineEvaluator(*torch_line_,
                           [&](int reach, const auto& eval) { EncodeWavefrontBy(image, sink, progress, reach, eval); });
    return;
  }
  EncodeWavefrontWith(image, sink, progress, DefaultCodingThreads(), KernelKind::kSimd);
}

void LocalPixelCnnCodingModel::DecodeWavefront(const PlaneView& image, SymbolSource& source,
                                               const Progress& progress) const {
  if (torch_line_ && UseTorchLineForDecoding(engine_, Wavefront{int(image.width), int(image.height), WavefrontSlope()}.MaxCount())) {
    WithTorchLineEvaluator(*torch_line_,
                           [&](int reach, const auto& eval) { DecodeWavefrontBy(image, source, progress, reach, eval); });
    return;
  }
  DecodeWavefrontWith(image, source, progress, DefaultCodingThreads(), KernelKind::kSimd);
}

void LocalPixelCnnCodingModel::EncodeWavefrontWith(const PlaneView& image, SymbolSink& sink,
                                                   const Progress& progress, int threads, KernelKind kernel) const {
  const LocalBatchEngine engine(model_, kernel);
  const PaddedPlane plane = ToPaddedPlane(image, engine.Reach());
  const int C = int(image.channels);
  LinePipeline pipe(engine, plane, Wavefront{int(image.width), int(image.height), WavefrontSlope()}, threads, false);
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  int32_t previous[3];
  pipe.Run(
      [&](PixelPos px, const int16_t* p) {
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(p, c, previous);
          const int v = image.at(uint32_t(px.y), uint32_t(px.x), uint32_t(c));
          sink.Put(SymbolPosition::At(uint32_t(px.y), uint32_t(px.x), uint32_t(c)), cdf, v);
          previous[c] = 2 * v - 255;
        }
      },
      progress);
}

void LocalPixelCnnCodingModel::DecodeWavefrontWith(const PlaneView& image, SymbolSource& source,
                                                   const Progress& progress, int threads, KernelKind kernel) const {
  const LocalBatchEngine engine(model_, kernel);
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  PaddedPlane plane(W, H, C, engine.Reach());
  LinePipeline pipe(engine, plane, Wavefront{W, H, WavefrontSlope()}, threads, true);
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  int32_t previous[3];
  pipe.Run(
      [&](PixelPos px, const int16_t* p) {
        int16_t* q = plane.at(px.y, px.x);
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(p, c, previous);
          const int v = source.Get(SymbolPosition::At(uint32_t(px.y), uint32_t(px.x), uint32_t(c)), cdf);
          image.at(uint32_t(px.y), uint32_t(px.x), uint32_t(c)) = uint8_t(v);
          previous[c] = 2 * v - 255;
          q[c] = int16_t(previous[c]);
        }
      },
      progress);
}

template <class Eval>
void LocalPixelCnnCodingModel::EncodeWavefrontBy(const PlaneView& image, SymbolSink& sink, const Progress& progress,
                                                 int reach, const Eval& eval) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  const PaddedPlane plane = ToPaddedPlane(image, reach);
  const Wavefront wf{W, H, WavefrontSlope()};
  const int64_t lines = wf.Lines();
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  std::vector<PixelPos> pixels;
  std::vector<int16_t> params;
  int32_t previous[3];
  for (int64_t t = 0; t < lines;) {
    pixels.clear();
    while (t < lines && pixels.size() < kEncodeGroupPixels) wf.Line(t++, pixels);
    params.resize(pixels.size() * size_t(P));
    eval(plane, pixels.data(), pixels.size(), params.data());
    for (size_t i = 0; i < pixels.size(); ++i) {
      const int16_t* p = &params[i * size_t(P)];
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(p, c, previous);
        const int v = image.at(uint32_t(pixels[i].y), uint32_t(pixels[i].x), uint32_t(c));
        sink.Put(SymbolPosition::At(uint32_t(pixels[i].y), uint32_t(pixels[i].x), uint32_t(c)), cdf, v);
        previous[c] = 2 * v - 255;
      }
    }
    if (progress) progress(double(t) / double(lines));
  }
}

template <class Eval>
void LocalPixelCnnCodingModel::DecodeWavefrontBy(const PlaneView& image, SymbolSource& source, const Progress& progress,
                                                 int reach, const Eval& eval) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  PaddedPlane plane(W, H, C, reach);
  const Wavefront wf{W, H, WavefrontSlope()};
  const int64_t lines = wf.Lines();
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  std::vector<PixelPos> pixels;
  std::vector<int16_t> params;
  int32_t previous[3];
  for (int64_t t = 0; t < lines; ++t) {
    pixels.clear();
    wf.Line(t, pixels);
    params.resize(pixels.size() * size_t(P));
    eval(plane, pixels.data(), pixels.size(), params.data());
    for (size_t i = 0; i < pixels.size(); ++i) {
      const int16_t* p = &params[i * size_t(P)];
      int16_t* q = plane.at(pixels[i].y, pixels[i].x);
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(p, c, previous);
        const int v = source.Get(SymbolPosition::At(uint32_t(pixels[i].y), uint32_t(pixels[i].x), uint32_t(c)), cdf);
        image.at(uint32_t(pixels[i].y), uint32_t(pixels[i].x), uint32_t(c)) = uint8_t(v);
        previous[c] = 2 * v - 255;
        q[c] = int16_t(previous[c]);
      }
    }
    if (progress && (t % 64 == 63 || t == lines - 1)) progress(double(t + 1) / double(lines));
  }
}

}  // namespace pixelzip::models::nn
