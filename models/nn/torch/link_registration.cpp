// Compiled into every program that links pixelzip_nn_torch (an INTERFACE source of it): installs
// that library's LibTorch engines (torch_engines.h) before main, so that the coding models find
// them without loading the plugin. No LibTorch include: this file builds in a moment.
#include "models/nn/torch_engines.h"

namespace pixelzip::models::nn {
const TorchEngines& LinkedTorchEngines();  // torch/batched.h
}

namespace {
const bool kRegistered = [] {
  pixelzip::models::nn::RegisterTorchEngines(pixelzip::models::nn::LinkedTorchEngines());
  return true;
}();
}  // namespace
