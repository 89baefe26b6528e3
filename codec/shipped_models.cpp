// Implements include/pixelzip/models.h from the model registry.
#include "pixelzip/models.h"

#include "models/registry.h"

namespace pixelzip {

std::vector<ShippedModel> ShippedModels() {
  std::vector<ShippedModel> out;
  for (const models::ShippedModelEntry& e : models::ShippedModelEntries()) {
    ShippedModel m;
    m.name = e.name;
    m.architecture = e.identity.architecture;
    m.weights_sha256 = e.identity.weights_sha256;
    m.order = e.order;
    m.colour_channels = e.colour_channels;
    for (uint32_t c : e.colour_channels) {
      if (models::DefaultModelName(m.order, c) == e.name) m.default_for.push_back(c);
    }
    m.summary = e.summary;
    out.push_back(std::move(m));
  }
  return out;
}

std::string ShippedModelName(const std::array<uint8_t, 32>& weights_sha256) {
  for (const models::ShippedModelEntry& e : models::ShippedModelEntries()) {
    if (e.identity.weights_sha256 == weights_sha256) return e.name;
  }
  return {};
}

}  // namespace pixelzip
