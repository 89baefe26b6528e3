#include "models/registry.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>

#include "models/nn/catalog.h"
#include "models/order0_model.h"
#include "pixelzip/error.h"

namespace pixelzip::models {
namespace {

struct ModelTable {
  std::vector<ShippedModelEntry> entries;
  ModelFileLoader file_loader;  // empty: this build cannot load model files
};

const char* OrderName(Order order) { return order == Order::kRaster ? "raster" : "multiscale"; }

bool Supports(const ShippedModelEntry& e, uint32_t channels) {
  return std::find(e.colour_channels.begin(), e.colour_channels.end(), channels) != e.colour_channels.end();
}

// Empty when `entry` may join `table`, else why not.
std::string EntryProblem(const ShippedModelEntry& entry, const ModelTable& table) {
  if (entry.name.empty() || entry.name == "default") return "a shipped model needs a name other than \"default\"";
  if (!entry.factory) return "shipped model '" + entry.name + "' has no factory";
  if (!IsValidArchitectureName(entry.identity.architecture))
    return "shipped model '" + entry.name + "': architecture must be 1-64 printable ASCII characters";
  if (entry.colour_channels.empty()) return "shipped model '" + entry.name + "' lists no channel counts";
  for (uint32_t c : entry.colour_channels)
    if (c != 1 && c != 3) return "shipped model '" + entry.name + "': colour channels must be 1 or 3";
  for (const ShippedModelEntry& e : table.entries) {
    if (e.name == entry.name) return "a shipped model named '" + entry.name + "' already exists";
    if (e.identity.weights_sha256 == entry.identity.weights_sha256)
      return "shipped models '" + e.name + "' and '" + entry.name + "' have the same weights hash";
  }
  return {};
}

void AddBuiltinModels(ModelTable& table) {
  ShippedModelEntry order0;
  order0.name = Order0Model::kArchitecture;
  order0.identity = Order0Model().Identity();
  order0.order = Order::kRaster;
  order0.colour_channels = {1, 3};
  order0.default_rank = 1;
  order0.summary = "adaptive order-0 counts per channel; the exact reference model (fast, weak)";
  order0.factory = [](Device) -> std::shared_ptr<const CodingModel> {
    static const auto model = std::make_shared<const Order0Model>();
    return model;  // stateless between calls; runs on the CPU whatever the device
  };
  table.entries.push_back(std::move(order0));
}

struct Registry {
  std::mutex mu;
  ModelTable table;
};

Registry& TheRegistry() {
  static Registry* registry = [] {
    ModelTable table;
    AddBuiltinModels(table);
    for (ShippedModelEntry& e : nn::ShippedModels()) table.entries.push_back(std::move(e));
    table.file_loader = nn::FileLoader();
    auto r = std::make_unique<Registry>();
    for (ShippedModelEntry& e : table.entries) {
      const std::string problem = EntryProblem(e, r->table);
      if (!problem.empty()) throw Error(ErrorCode::kInternal, "model registry: " + problem);
      r->table.entries.push_back(std::move(e));
    }
    r->table.file_loader = std::move(table.file_loader);
    return r.release();  // never destroyed: usable from other static destructors
  }();
  return *registry;
}

std::optional<ShippedModelEntry> FindEntry(const std::function<bool(const ShippedModelEntry&)>& match) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const ShippedModelEntry& e : r.table.entries)
    if (match(e)) return e;
  return std::nullopt;
}

std::string NameList() {
  std::string list;
  for (const std::string& name : ShippedModelNames()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

std::shared_ptr<const CodingModel> Instantiate(const ShippedModelEntry& entry, Device device) {
  std::shared_ptr<const CodingModel> model = entry.factory(device);
  if (!model) throw Error(ErrorCode::kInternal, "shipped model '" + entry.name + "': factory returned no model");
  const ModelIdentity& id = model->Identity();
  if (id.architecture != entry.identity.architecture || id.weights_sha256 != entry.identity.weights_sha256) {
    throw Error(ErrorCode::kModelInvalid, "shipped model '" + entry.name + "' is " + DescribeIdentity(id) +
                                              ", but was registered as " + DescribeIdentity(entry.identity));
  }
  return model;
}

}  // namespace

void RegisterShippedModel(ShippedModelEntry entry) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  const std::string problem = EntryProblem(entry, r.table);
  if (!problem.empty()) throw Error(ErrorCode::kInvalidArgument, problem);
  r.table.entries.push_back(std::move(entry));
}

void SetModelFileLoader(ModelFileLoader loader) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.table.file_loader = std::move(loader);
}

std::string DefaultModelName(Order order, uint32_t colour_channels) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  const ShippedModelEntry* best = nullptr;
  for (const ShippedModelEntry& e : r.table.entries) {
    if (e.default_rank <= 0 || order != e.order || !Supports(e, colour_channels)) continue;
    if (!best || e.default_rank > best->default_rank) best = &e;
  }
  return best ? best->name : std::string();
}

std::shared_ptr<const CodingModel> OpenModel(const std::string& name_or_path, Device device) {
  if (std::optional<ShippedModelEntry> e = FindEntry([&](const auto& x) { return x.name == name_or_path; }))
    return Instantiate(*e, device);
  if (name_or_path == "default")
    throw Error(ErrorCode::kInvalidArgument, "model \"default\" needs a coding order and channel count");

  std::error_code ec;
  if (!std::filesystem::is_regular_file(name_or_path, ec)) {
    throw Error(ErrorCode::kInvalidArgument, "unknown model '" + name_or_path +
                                                 "': neither a shipped model (" + NameList() +
                                                 ") nor an existing model file");
  }
  ModelFileLoader loader;
  {
    Registry& r = TheRegistry();
    std::lock_guard<std::mutex> lock(r.mu);
    loader = r.table.file_loader;
  }
  if (!loader) {
    throw Error(ErrorCode::kUnsupported, "cannot load model file '" + name_or_path +
                                             "': this build has no model-file loader (shipped models: " +
                                             NameList() + ")");
  }
  std::shared_ptr<const CodingModel> model = loader(name_or_path, device);
  if (!model) throw Error(ErrorCode::kInternal, "model file loader returned no model for '" + name_or_path + "'");
  return model;
}

std::shared_ptr<const CodingModel> ResolveModel(const std::string& name_or_path, Order order,
                                                uint32_t colour_channels, Device device) {
  if (colour_channels != 1 && colour_channels != 3) {
    throw Error(ErrorCode::kInvalidArgument,
                "models code 1 or 3 colour channels, not " + std::to_string(colour_channels));
  }
  std::string name = name_or_path;
  if (name == "default") {
    name = DefaultModelName(order, colour_channels);
    if (name.empty()) {
      throw Error(ErrorCode::kUnsupported, std::string("no shipped model codes ") +
                                               (colour_channels == 1 ? "grey" : "colour") + " images in " +
                                               OrderName(order) + " order in this build (shipped: " +
                                               NameList() + ")");
    }
  }
  std::shared_ptr<const CodingModel> model = OpenModel(name, device);
  if (order != model->Order()) {
    throw Error(ErrorCode::kUnsupported, "model '" + name + "' codes in " + OrderName(model->Order()) +
                                             " order, not " + OrderName(order));
  }
  if (!model->SupportsChannels(colour_channels)) {
    throw Error(ErrorCode::kUnsupported, "model '" + name + "' does not code " + std::to_string(colour_channels) +
                                             "-channel images");
  }
  return model;
}

std::shared_ptr<const CodingModel> FindModelByHash(const std::array<uint8_t, 32>& sha256, Device device) {
  std::optional<ShippedModelEntry> e =
      FindEntry([&](const ShippedModelEntry& x) { return x.identity.weights_sha256 == sha256; });
  return e ? Instantiate(*e, device) : nullptr;
}

std::vector<std::string> ShippedModelNames() {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> names;
  for (const ShippedModelEntry& e : r.table.entries) names.push_back(e.name);
  return names;
}

std::vector<ShippedModelEntry> ShippedModelEntries() {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.table.entries;
}

}  // namespace pixelzip::models
