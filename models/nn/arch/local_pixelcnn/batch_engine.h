// Batched CPU evaluation of the integer Local PixelCNN: any set of pixels whose
// causal windows are already known is evaluated as one batch (matrix-matrix,
// the SIMD kernels of int_simd.h or the scalar reference), optionally split over
// threads. Bit-identical to LocalPixelCnnCpuEngine for every pixel, kernel and thread
// count. Used by the wavefront layout (docs/format.md section 3.2), whose lines
// x + k y (k = kernel / 2 + 1) hold pixels that do not depend on one another.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "models/coding_model.h"  // PlaneView
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/int_simd.h"

namespace pixelzip::models::nn {

// q = 2v - 255 of an image being coded, with a zero border of r = kernel / 2 pixels on the left,
// right and top, so that every causal window can be read without bounds checks.
// The storage comes from calloc: its zero pages are committed only as rows are written, so a
// decoder fed a corrupt stream that claims a huge image costs memory for what it decodes.
struct PaddedPlane {
  int width = 0, height = 0, channels = 0, r = 0;
  size_t stride = 0;        // int16 values per padded row
  struct Free {
    void operator()(int16_t* p) const { std::free(p); }
  };
  std::unique_ptr<int16_t[], Free> q;  // (height + r) rows of (width + 2r) pixels, zeroed
  PaddedPlane(int width, int height, int channels, int r);  // throws std::bad_alloc
  int16_t* at(int y, int x) { return q.get() + size_t(y + r) * stride + size_t(x + r) * channels; }
  const int16_t* at(int y, int x) const { return q.get() + size_t(y + r) * stride + size_t(x + r) * channels; }
};

// The padded plane of every pixel of `image` (q = 2v - 255), for an engine of reach `reach`.
PaddedPlane ToPaddedPlane(const PlaneView& image, int reach);

struct PixelPos {
  int y, x;
};

// Wavefront lines of a width x height image for slope k: line t = x + k y, t in [0, Lines()),
// pixels in increasing y. Every causal window of reach k - 1 lies on earlier lines.
struct Wavefront {
  int width, height, k;
  int64_t Lines() const { return int64_t(width - 1) + int64_t(k) * (height - 1) + 1; }
  // Line t's first row and its pixel count (0 for the lines no pixel falls on when width < k).
  int64_t FirstRow(int64_t t) const { return std::max<int64_t>(0, (t - (width - 1) + k - 1) / k); }
  int Count(int64_t t) const {
    return int(std::max<int64_t>(0, std::min<int64_t>(height - 1, t / k) - FirstRow(t) + 1));
  }
  // The most pixels any line holds: min(height, ceil(width / k)).
  int MaxCount() const { return int(std::min<int64_t>(height, (int64_t(width) + k - 1) / k)); }
  // Appends line t's pixels in coding order (increasing y) to `out`.
  void Line(int64_t t, std::vector<PixelPos>& out) const;
};

// A fixed team of threads (the caller is thread 0) running one function on all of them per call.
class WorkerTeam {
 public:
  explicit WorkerTeam(int threads);
  ~WorkerTeam();
  int size() const { return threads_; }
  // Runs fn(i) for i in [0, size()) (i = 0 on the calling thread) and waits for all of them.
  // Exceptions thrown by fn are rethrown here (the first one).
  void Run(const std::function<void(int)>& fn);

 private:
  void Loop(int index);
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Threads to use by default: the count the codec was asked for (models/coding_threads.h: --threads,
// EncodeOptions::threads), else PIXELZIP_THREADS when set (1-64), else hardware_concurrency.
int DefaultCodingThreads();

class LocalBatchEngine {
 public:
  // REQUIRES: model.shape.aux == 0; `model` outlives the engine.
  LocalBatchEngine(const IntLocalPixelCnn& model, KernelKind kind);
  int ParamCount() const { return P_; }
  int Reach() const { return r_; }

  struct Workspace {
    std::vector<int16_t> feat, h, a, t, inc;
  };
  // params[i * ParamCount() ...] for pixels[i], i < n. REQUIRES: every pixel in the causal window
  // of each pixel is set in `plane`.
  void Evaluate(const PaddedPlane& plane, const PixelPos* pixels, size_t n, int16_t* params, Workspace& ws) const;
  // The same, split into contiguous parts over the team's threads (one workspace per thread).
  void EvaluateParallel(const PaddedPlane& plane, const PixelPos* pixels, size_t n, int16_t* params, WorkerTeam& team,
                        std::vector<Workspace>& ws) const;

 private:
  const IntLocalPixelCnn& m_;
  KernelKind kind_;
  int r_, C_, P_, H_, I_, F_;
  int fstride_, hstride_, istride_;  // even row strides of the batch buffers
  PackedLinear conv0_, head_;
  std::vector<PackedLinear> conv1_, conv2_;
  std::vector<PackedLut> pre_, mid_;
  PackedLut lut_head_;
};

}  // namespace pixelzip::models::nn
