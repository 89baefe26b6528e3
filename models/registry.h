// Which models this build can code with, and how the codec finds them: by name
// (encoding), by the weights hash a stream records (decoding), or from a model file.
//
// Adding a shipped model (the neural models in models/nn/):
//   1. nn/sources.cmake adds the sources and
//        target_compile_definitions(pixelzip_models PRIVATE PIXELZIP_HAVE_NN_MODELS=1)
//   2. nn/ defines pixelzip::models::nn::AddShippedModels(ModelTable&) (declared
//      below), which appends one ShippedModelEntry per model and may set
//      table.file_loader. registry.cpp calls it once, on first use of the registry.
// RegisterShippedModel() adds entries at run time (tests, programs embedding pixelzip).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "pixelzip/codec.h"  // Order, Device

namespace pixelzip::models {

using ModelFactory = std::function<std::shared_ptr<const CodingModel>(Device device)>;
// Loads a model file; throws pixelzip::Error (kIo, kModelInvalid, ...) on failure.
using ModelFileLoader = std::function<std::shared_ptr<const CodingModel>(const std::string& path, Device device)>;

struct ShippedModelEntry {
  std::string name;         // what --model takes; unique among shipped models
  ModelIdentity identity;   // must equal factory(device)->Identity() for every device
  CodingOrder order = CodingOrder::kRaster;
  std::vector<uint32_t> colour_channels;  // channel counts it codes: {1}, {3} or {1, 3}
  // > 0: candidate for "default" for its order and channel counts; the highest rank wins
  // (order0-adaptive has rank 1, so any neural model with rank >= 2 replaces it).
  int default_rank = 0;
  std::string summary;      // one line for help texts
  ModelFactory factory;     // may be called several times, from any thread
};

struct ModelTable {
  std::vector<ShippedModelEntry> entries;
  ModelFileLoader file_loader;  // empty: this build cannot load model files
};

namespace nn {
// Defined in models/nn/ when PIXELZIP_HAVE_NN_MODELS is set; appends the neural
// models (and the model-file loader) to `table`. Called once, under the registry's lock:
// it must not call back into the registry.
void AddShippedModels(ModelTable& table);
}  // namespace nn

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

// SHA-256 (OpenSSL EVP) of `size` bytes. Throws pixelzip::Error kInternal if OpenSSL fails.
std::array<uint8_t, 32> Sha256(const void* data, size_t size);
// Lower-case hex of a digest, for messages.
std::string HexDigest(const std::array<uint8_t, 32>& digest);
// "architecture (sha256 0123abcd...)" for messages; the full hash.
std::string DescribeIdentity(const ModelIdentity& identity);
// True when `architecture` is 1-64 characters, each printable ASCII other than space.
bool IsValidArchitectureName(const std::string& architecture);

}  // namespace pixelzip::models
