// The models compiled into this build, described without loading them: what
// `pixelzip models` lists and the names `pixelzip info` uses.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/codec.h"

namespace pixelzip {

struct ShippedModel {
  std::string name;                       // what EncodeOptions::model and --model take
  std::string architecture;               // as a stream's header records it
  std::array<uint8_t, 32> weights_sha256{};
  Order order = Order::kRaster;
  std::vector<uint32_t> colour_channels;  // colour channel counts it codes: 1 (grey), 3 (RGB)
  std::vector<uint32_t> default_for;      // the colour channel counts it is "default" for, in its order
  std::string summary;                    // one line
};

// In registration order. Throws pixelzip::Error only if the registry cannot be built.
std::vector<ShippedModel> ShippedModels();

// The name of the shipped model with these weights, or "" when none has them.
std::string ShippedModelName(const std::array<uint8_t, 32>& weights_sha256);

}  // namespace pixelzip
