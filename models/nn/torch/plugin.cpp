// The entry point of the LibTorch plugin (libpixelzip_torch.so, a CMake MODULE): the light
// library (torch_engines.cpp) dlopens it on demand and installs the table it returns.
#include "models/nn/torch_engines.h"

namespace pixelzip::models::nn {
const TorchEngines& LinkedTorchEngines();  // torch/batched.h
}

extern "C" __attribute__((visibility("default"))) const pixelzip::models::nn::TorchEngines* pixelzip_torch_engines() {
  return &pixelzip::models::nn::LinkedTorchEngines();
}
