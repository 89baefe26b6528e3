// The LibTorch engines of the coding models (torch_engines.h), and the pieces every batched
// LibTorch pass shares: turning LibTorch errors into pixelzip::Error, choosing the device, and
// moving rows of pixels to the device and parameters back. Part of pixelzip_nn_torch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/runtime/qplane.h"
#include "pixelzip/types.h"  // Device
#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

// Calls fn; a LibTorch exception (c10::Error) becomes pixelzip::Error(kInternal).
template <typename Fn>
auto TorchGuarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::kInternal, std::string("LibTorch: ") + e.what_without_backtrace());
  }
}

// The LibTorch device of a LibTorch engine (kTorchCpu or kCuda), with exact convolutions switched on
// (UseExactConvolutions). Throws Error(kUnsupported) when kCuda is asked and no CUDA device exists.
torch::Device ExactDevice(Device engine);

// Rows [top, y1) of `plane` as float [1, C, y1 - top, W] on `device`.
torch::Tensor PlaneRows(const QPlane& plane, int top, int y1, const torch::Device& device);

// Parameters x [N, P, rows, W] from row `skip` on, as int16 [N][rows - skip][W][P] on the CPU.
std::vector<int16_t> RowParams(const torch::Tensor& x, int skip);

// This library's table of LibTorch engines (what RegisterTorchEngines installs).
const TorchEngines& LinkedTorchEngines();

}  // namespace pixelzip::models::nn
