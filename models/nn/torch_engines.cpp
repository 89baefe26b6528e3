// The LibTorch engines' table and the plugin loader (torch_engines.h). No LibTorch here.
#include "models/nn/torch_engines.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <optional>

#include "pixelzip/error.h"

#ifndef PIXELZIP_TORCH_PLUGIN_INSTALLED
#define PIXELZIP_TORCH_PLUGIN_INSTALLED ""
#endif
#ifndef PIXELZIP_TORCH_PLUGIN_BUILD
#define PIXELZIP_TORCH_PLUGIN_BUILD ""
#endif
#ifndef PIXELZIP_INSTALL_LIBDIR
#define PIXELZIP_INSTALL_LIBDIR "lib"
#endif
#ifndef PIXELZIP_TORCH_CUDA
#define PIXELZIP_TORCH_CUDA 0
#endif

namespace pixelzip::models::nn {
namespace {

struct Table {
  std::recursive_mutex mu;  // recursive: a plugin's static initializers may register while it loads
  std::optional<TorchEngines> engines;
  void* plugin = nullptr;
  std::string plugin_error;  // why loading failed, once it has
};

Table& TheTable() {
  static Table* t = new Table;  // never destroyed: usable from static destructors
  return *t;
}

// Where the plugin may be, in the order tried.
std::vector<std::string> PluginCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("PIXELZIP_TORCH_PLUGIN"); env && *env) out.push_back(env);
  // Beside this library (shared build: <libdir>/pixelzip/), or below the program's prefix (static build:
  // <prefix>/bin/../lib/pixelzip/): an installed tree moved elsewhere still finds it.
  auto beside = [&](std::string path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return;
    const std::string dir = path.substr(0, slash);
    out.push_back(dir + "/pixelzip/libpixelzip_torch.so");
    out.push_back(dir + "/../" PIXELZIP_INSTALL_LIBDIR "/pixelzip/libpixelzip_torch.so");
  };
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&PluginCandidates), &info) && info.dli_fname) beside(info.dli_fname);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) beside(std::string(exe, size_t(n)));
  if (*PIXELZIP_TORCH_PLUGIN_INSTALLED) out.push_back(PIXELZIP_TORCH_PLUGIN_INSTALLED);
  if (*PIXELZIP_TORCH_PLUGIN_BUILD) out.push_back(PIXELZIP_TORCH_PLUGIN_BUILD);
  return out;
}

// REQUIRES: t.mu held.
void* LoadLocked(Table& t) {
  if (t.plugin) return t.plugin;
  if (!t.plugin_error.empty()) throw Error(ErrorCode::kUnsupported, t.plugin_error);
  std::string tried;
  for (const std::string& path : PluginCandidates()) {
    if (access(path.c_str(), R_OK) != 0) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      tried += "\n  " + path + ": " + (why ? why : "cannot be loaded");
      continue;
    }
    using EnginesFn = const TorchEngines* (*)();
    auto fn = reinterpret_cast<EnginesFn>(dlsym(handle, "pixelzip_torch_engines"));
    const TorchEngines* engines = fn ? fn() : nullptr;
    if (!engines || engines->abi != kTorchEnginesAbi) {
      tried += "\n  " + path + ": not a pixelzip LibTorch plugin of this version";
      dlclose(handle);
      continue;
    }
    t.plugin = handle;
    if (!t.engines) t.engines = *engines;
    return handle;
  }
  t.plugin_error = "this needs LibTorch (the CUDA path, the LibTorch engines, training), which this pixelzip "
                   "loads from its plugin libpixelzip_torch.so; none could be loaded (set PIXELZIP_TORCH_PLUGIN "
                   "to its path):" + tried;
  throw Error(ErrorCode::kUnsupported, t.plugin_error);
}

bool NvidiaDriverPresent() { return access("/proc/driver/nvidia/version", R_OK) == 0; }

}  // namespace

void RegisterTorchEngines(const TorchEngines& engines) {
  Table& t = TheTable();
  std::lock_guard<std::recursive_mutex> lock(t.mu);
  t.engines = engines;
}

const TorchEngines* RegisteredTorchEngines() {
  Table& t = TheTable();
  std::lock_guard<std::recursive_mutex> lock(t.mu);
  return t.engines ? &*t.engines : nullptr;
}

const TorchEngines& RequireTorchEngines() {
  Table& t = TheTable();
  std::lock_guard<std::recursive_mutex> lock(t.mu);
  if (!t.engines) LoadLocked(t);
  return *t.engines;
}

void* LoadTorchPlugin() {
  Table& t = TheTable();
  std::lock_guard<std::recursive_mutex> lock(t.mu);
  return LoadLocked(t);
}

void* TorchPluginSymbol(const std::string& name) {
  void* handle = LoadTorchPlugin();
  void* sym = dlsym(handle, name.c_str());
  if (!sym) throw Error(ErrorCode::kUnsupported, "the LibTorch plugin has no " + name);
  return sym;
}

Device ResolveDevice(Device device) {
  if (device != Device::kAuto) return device;
  // kAuto loads LibTorch only where it can find a GPU: a CUDA build of LibTorch and an NVIDIA driver.
  const TorchEngines* engines = RegisteredTorchEngines();
  if (!engines && PIXELZIP_TORCH_CUDA && NvidiaDriverPresent()) {
    try {
      engines = &RequireTorchEngines();
    } catch (const Error&) {
      engines = nullptr;  // no plugin: the CPU
    }
  }
  return engines && engines->cuda_available() ? Device::kCuda : Device::kCpu;
}

}  // namespace pixelzip::models::nn
