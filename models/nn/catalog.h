// The neural architectures, one row each: the model file's "architecture" text
// -> its coding order, coding-model factory and trainable-network factory. Turns
// model file bytes into a CodingModel whatever the architecture, and lists the
// model files compiled into the library (models/weights/*.pxzm) for the registry.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/shipped_model.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

class TrainableNetwork;  // train/trainable.h (LibTorch)

// The trainer's factory of an architecture's float network. Throws pixelzip::Error(kInvalidArgument) for
// bad hyperparameters.
using TrainableFactory = std::unique_ptr<TrainableNetwork> (*)(const std::string& architecture,
                                                               const std::string& hyper, int channels);

struct Architecture {
  const char* name;  // the model file's "architecture" text
  Order order;       // the order its coding models code in
  // Throws Error(kModelInvalid) for a file that is not a valid model of this architecture; Error(kUnsupported)
  // when kCuda is asked and no CUDA device exists.
  std::shared_ptr<const CodingModel> (*coding_model)(const std::vector<uint8_t>& file_bytes, const std::string& source,
                                                     Device encoder);
  // The trainer's column: filled by the train library (pixelzip_train, LibTorch) in the program or plugin
  // that links it, the first time it is asked for (train/trainable.h: TrainableCatalog); nullptr until
  // then and in programs without it. The light library never calls it.
  TrainableFactory trainable = nullptr;
};

// Every architecture, in a fixed order.
const std::vector<Architecture>& Catalog();
// The row named `name`, or nullptr.
const Architecture* FindArchitecture(const std::string& name);
// Fills the trainer's column of the row `name` (the train library calls it). Throws pixelzip::Error(kInternal)
// for a name that has no row.
void SetTrainableFactory(const std::string& name, TrainableFactory factory);

// The coding model of a model file on the engine `device` asks for (ResolveDevice: kAuto is resolved
// here, the coding models are made with a resolved engine). Throws pixelzip::Error(kModelInvalid) naming
// `source` for a corrupt file or unknown architecture.
std::shared_ptr<const CodingModel> ModelFromBytes(const std::vector<uint8_t>& bytes, const std::string& source,
                                                  Device device);

// The model files compiled into the library, as registry entries, in name order.
std::vector<ShippedModelEntry> ShippedModels();
// Opens a model file given by path (ModelFromBytes of its bytes).
ModelFileLoader FileLoader();

// Ideal code length in bits of `image` under `model`: sum of -log2((At(v + 1) - At(v)) / 2^16)
// over the subpixels the model codes.
double ModelCodeLengthBits(const CodingModel& model, const PlaneView& image);

}  // namespace pixelzip::models::nn
