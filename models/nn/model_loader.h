// Turns model file bytes into a CodingModel, whatever the architecture.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

// Throws pixelzip::Error(kModelInvalid) naming `source` for a corrupt file or unknown architecture.
std::shared_ptr<const CodingModel> ModelFromBytes(const std::vector<uint8_t>& bytes, const std::string& source, Device device);

// Ideal code length in bits of `image` under `model`: sum of -log2((At(v + 1) - At(v)) / 2^16)
// over the subpixels the model codes.
double ModelCodeLengthBits(const CodingModel& model, const PlaneView& image);

}  // namespace pixelzip::models::nn
