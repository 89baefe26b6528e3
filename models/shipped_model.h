// What the registry knows of a model it ships: the entry the neural models'
// catalog (models/nn/catalog.h) produces and the registry (registry.h) keeps.
// Types only, so that both can name them without depending on each other.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/identity.h"
#include "pixelzip/types.h"  // Order, Device

namespace pixelzip::models {

using ModelFactory = std::function<std::shared_ptr<const CodingModel>(Device device)>;
// Loads a model file; throws pixelzip::Error (kIo, kModelInvalid, ...) on failure.
using ModelFileLoader = std::function<std::shared_ptr<const CodingModel>(const std::string& path, Device device)>;

struct ShippedModelEntry {
  std::string name;         // what --model takes; unique among shipped models
  ModelIdentity identity;   // must equal factory(device)->Identity() for every device
  Order order = Order::kRaster;
  std::vector<uint32_t> colour_channels;  // channel counts it codes: {1}, {3} or {1, 3}
  // > 0: candidate for "default" for its order and channel counts; the highest rank wins
  // (order0-adaptive has rank 1, so any neural model with rank >= 2 replaces it).
  int default_rank = 0;
  std::string summary;      // one line for help texts
  ModelFactory factory;     // may be called several times, from any thread
};

}  // namespace pixelzip::models
