// The LibTorch engines of the coding models, seen from the light library (pixelzip_nn), which
// never includes or links LibTorch. The LibTorch library (pixelzip_nn_torch: torch/, the
// architectures' module.* and exact.*, the line engine) supplies them as one table of
// factories, one per architecture; it registers the table itself when it is linked into a
// program (torch/link_registration.cpp, an interface source of pixelzip_nn_torch), and the
// plugin module (pixelzip_torch, a shared object) hands it over when the light library loads
// it on demand (LoadTorchPlugin): for Device::kCuda, for kAuto when the build's LibTorch has
// CUDA and the machine has an NVIDIA driver, for the LibTorch engines tests ask for
// (Device::kTorchCpu), and for `pixelzip train`.
//
// Every pass returns the same integers as the integer CPU engines, bit for bit (the
// conformance tests check it), so the stream does not depend on the engine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/nn/runtime/qplane.h"
#include "pixelzip/types.h"  // Device

namespace pixelzip::models::nn {

struct IntLocalPixelCnn;
struct IntMultiscalePixelCnn;
struct IntPixelCnn;
struct IntPixelCnnPP;
struct IntGatedPixelCnn;
struct IntRowLstm;
struct IntDiagonalBiLstm;
class LocalTorchLineEngine;

// What a batched pass computes; each architecture reads the fields it needs.
struct TorchPassInput {
  const QPlane* plane = nullptr;  // the image (q = 2v - 255); every pixel the rows read is set
  const QPlane* aux = nullptr;    // local nets with conditioning planes (aux-pixelcnn), else nullptr
  int y0 = 0, y1 = 0;             // output rows [y0, y1): local, pixelcnn, gated
  int spacing = 1, group = 0;     // multiscale: group `group` of the spacing-`spacing` grid (all of it)
  std::vector<int> classes;       // gated: the classes evaluated, [class] outermost in the result
};

// One model's weights on a LibTorch device, ready for batched passes. Thread-compatible.
class TorchPass {
 public:
  virtual ~TorchPass() = default;
  // Parameters [rows][width][P] (multiscale: [hc][wc][P]; pixelcnn: logits [rows][width][256 C];
  // pixelcnn++ and the PixelRNNs: the whole plane). Throws pixelzip::Error (kInternal for a LibTorch error).
  virtual std::vector<int16_t> Params(const TorchPassInput& in) const = 0;
};

// The factories; each throws Error(kUnsupported) when kCuda is asked and no CUDA device exists.
// The model need not outlive the pass (its weights are copied to the device).
struct TorchEngines {
  int abi = 0;  // kTorchEnginesAbi of the library that made the table
  bool (*cuda_available)() = nullptr;
  std::unique_ptr<TorchPass> (*local)(const IntLocalPixelCnn&, Device) = nullptr;
  std::unique_ptr<LocalTorchLineEngine> (*local_line)(const IntLocalPixelCnn&, Device) = nullptr;
  std::unique_ptr<TorchPass> (*multiscale)(const IntMultiscalePixelCnn&, Device) = nullptr;
  std::unique_ptr<TorchPass> (*pixelcnn)(const IntPixelCnn&, Device) = nullptr;
  std::unique_ptr<TorchPass> (*pixelcnnpp)(const IntPixelCnnPP&, Device) = nullptr;
  std::unique_ptr<TorchPass> (*gated)(const IntGatedPixelCnn&, Device) = nullptr;
  std::unique_ptr<TorchPass> (*row_lstm)(const IntRowLstm&, Device) = nullptr;
  std::unique_ptr<TorchPass> (*diagonal_bilstm)(const IntDiagonalBiLstm&, Device) = nullptr;
};
// Bumped whenever TorchEngines, TorchPassInput or the Int* model structs change layout: a plugin
// built from other sources is refused rather than called.
inline constexpr int kTorchEnginesAbi = 2;

// Installs the table (the LibTorch library calls it; later calls replace it).
void RegisterTorchEngines(const TorchEngines& engines);
// The registered table, or nullptr; loads nothing.
const TorchEngines* RegisteredTorchEngines();
// The registered table, loading the plugin first when none is. Throws Error(kUnsupported) naming
// what was tried when this build has no LibTorch engines.
const TorchEngines& RequireTorchEngines();

// The engine a caller's request runs on, decided here and nowhere else: kAuto -> kCuda when LibTorch
// reports a CUDA device (loading the plugin for that only where this build's LibTorch has CUDA and the
// machine has an NVIDIA driver, or when LibTorch is already loaded), else kCpu; any other value is
// returned as it is. Never returns kAuto.
Device ResolveDevice(Device device);

// Loads the plugin module (once) and returns its handle; throws Error(kUnsupported) when it cannot
// be found or loaded. Where it looks: $PIXELZIP_TORCH_PLUGIN, then the installed
// <libdir>/pixelzip/libpixelzip_torch.so, then the build tree's.
void* LoadTorchPlugin();
// A symbol of the loaded plugin (LoadTorchPlugin first); throws Error(kUnsupported) when absent.
void* TorchPluginSymbol(const std::string& name);

}  // namespace pixelzip::models::nn
