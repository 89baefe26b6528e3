// Which engine computes a model's parameters. The public pixelzip::Device picks the
// encoder's engine (EncoderEngine); decoders always run the CPU engine. kTorchCpu
// (LibTorch on the CPU) exists for tests: it must agree with the other two bit for bit.
#pragma once

#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

enum class EngineKind { kCpu, kTorchCpu, kTorchCuda };

// kCpu -> kCpu, kCuda -> kTorchCuda, kAuto -> kTorchCuda when LibTorch sees a CUDA device, else kCpu.
EngineKind EncoderEngine(Device device);

}  // namespace pixelzip::models::nn
