// Which models this build can code with, and how the codec finds them: by name
// (encoding), by the weights hash a stream records (decoding), or from a model file.
//
// The registry holds order0-adaptive and the neural models' catalog
// (models/nn/catalog.h: the embedded model files and the model-file loader),
// read once, on first use of the registry.
// RegisterShippedModel() adds entries at run time (tests, programs embedding pixelzip).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/identity.h"
#include "models/shipped_model.h"
#include "pixelzip/types.h"  // Order, Device

namespace pixelzip::models {

// Adds a model at run time. Throws pixelzip::Error kInvalidArgument when the entry is
// incomplete (empty name, no factory, architecture not 1-64 printable ASCII characters,
// channels other than 1 and 3) or its name or weights hash is already registered.
void RegisterShippedModel(ShippedModelEntry entry);
// Replaces the loader used for names that are not shipped models but existing files.
void SetModelFileLoader(ModelFileLoader loader);

// The model to encode with. "default" is the highest-ranked model for `order` and
// `colour_channels`; otherwise a shipped model's name, else a model file's path.
// Guarantees: the result is non-null, codes in `order` and supports `colour_channels`.
// Throws pixelzip::Error: kInvalidArgument (unknown name, no such file), kUnsupported
// (no model for that order / channel count, or the model does not code them), or
// whatever the factory or file loader throws.
std::shared_ptr<const CodingModel> ResolveModel(const std::string& name_or_path, Order order,
                                                uint32_t colour_channels, Device device);
// A shipped model's name or a model file's path, without the order/channel checks
// ("default" is not accepted here). Same errors as ResolveModel.
std::shared_ptr<const CodingModel> OpenModel(const std::string& name_or_path, Device device);
// The shipped model whose weights hash is `sha256`, or nullptr if none is.
std::shared_ptr<const CodingModel> FindModelByHash(const std::array<uint8_t, 32>& sha256, Device device);
// Names of the shipped models, in registration order.
std::vector<std::string> ShippedModelNames();
// The shipped models' entries (name, identity, order, channels, rank, summary), in
// registration order; nothing is loaded.
std::vector<ShippedModelEntry> ShippedModelEntries();
// The name "default" stands for, or "" when no shipped model codes that combination.
std::string DefaultModelName(Order order, uint32_t colour_channels);

}  // namespace pixelzip::models
