// The wavefront's line-batched step through the exact LibTorch path (issue 22 item 5):
// a list of pixels whose causal windows are known is evaluated as one batch on the
// LibTorch device (CPU or CUDA). Each pixel's conv0 features (its causal window and
// the median edge predictor, the order of IntLocalPixelCnn's conv0) are gathered on
// the host into a [features, N] matrix, the only data that moves to the device per
// call; every layer then runs as the exact fp32 GEMM + int64 requantisation of
// ExactForward (torch/exact_ops.h). Exact under the loader's bound (every partial
// sum < 2^24), so the parameters equal LocalBatchEngine's and LocalPixelCnnCpuEngine's
// bit for bit. This header keeps LibTorch out of its users; the destructor and Evaluate are virtual
// so that the light library (pixelzip_nn, no LibTorch) can use an engine the LibTorch library made
// (torch_engines.h) without linking its code.
#pragma once

#include <cstdint>
#include <memory>

#include "models/nn/arch/local_pixelcnn/batch_engine.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

// Whether the wavefront decoder of a model made with `engine` evaluates its lines on the LibTorch line
// engine rather than the CPU batch engine, for an image whose longest wavefront line holds `max_line`
// pixels. The decoder evaluates one line at a time (the next line needs this one's decoded pixels): on
// CUDA each line costs some 30 kernel launches and two transfers whatever its length, against about 2
// microseconds per pixel (two cores) for the SIMD CPU engine, so a GPU can only pay for long lines.
// kTorchCpu (the tests' engine) always uses it; kCuda (`--device cuda`, or `auto` on a machine
// with a GPU) only from kCudaDecodeMinLine pixels per line (an image at least 6139 x 1024 for the
// default model), a threshold chosen without a GPU to measure on: see docs/models.md. Encoding on
// kCuda always uses it (its batches are 8192 pixels).
inline constexpr int kCudaDecodeMinLine = 1024;
inline bool UseTorchLineForDecoding(Device engine, int max_line) {
  if (engine == Device::kTorchCpu) return true;
  return engine == Device::kCuda && max_line >= kCudaDecodeMinLine;
}

class LocalTorchLineEngine {
 public:
  // REQUIRES: model.shape.aux == 0; engine is kTorchCpu or kCuda. Throws Error(kUnsupported) when
  // kCuda is asked and no CUDA device exists. The model is copied into tensors (it need not outlive this).
  LocalTorchLineEngine(const IntLocalPixelCnn& model, Device engine);
  virtual ~LocalTorchLineEngine();
  LocalTorchLineEngine(const LocalTorchLineEngine&) = delete;
  LocalTorchLineEngine& operator=(const LocalTorchLineEngine&) = delete;

  int ParamCount() const { return P_; }
  int Reach() const { return r_; }
  // params[i * ParamCount() ...] for pixels[i], i < n. REQUIRES: every pixel in the causal window of each
  // pixel is set in `plane`. Not reentrant (one host staging buffer): one caller at a time.
  virtual void Evaluate(const PaddedPlane& plane, const PixelPos* pixels, size_t n, int16_t* params) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int r_, C_, P_, F_;
};

}  // namespace pixelzip::models::nn
