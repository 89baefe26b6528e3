// Transitional: the engine kind is pixelzip::Device (pixelzip/types.h); the one-Device rename
// script removes this header and every use of the old name.
#pragma once

#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

using EngineKind = Device;

}  // namespace pixelzip::models::nn
