// The skeleton every batched coding model shares (docs/design.md section 5.5): its integer
// model read from a model file and the identity the stream's header names, the engine it was
// made with, and that engine's LibTorch pass (torch_engines.h) when it is a LibTorch one. What
// stays in each architecture: how its encoder walks the image (bands of rows, groups, the whole
// plane), what it asks the pass for (TorchPassInput), and its decoder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/identity.h"
#include "models/nn/read_model.h"
#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"
#include "pixelzip/types.h"  // Order, Device

namespace pixelzip::models::nn {

// M: the architecture's integer model (M::Read, M::shape.channels).
template <class M>
class BatchedCodingModel : public CodingModel {
 public:
  // M's factory in the LibTorch engines' table, e.g. &TorchEngines::pixelcnn.
  using TorchFactory = std::unique_ptr<TorchPass> (*TorchEngines::*)(const M&, Device);

  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return order_; }
  bool SupportsChannels(uint32_t channels) const override { return int(channels) == model_.shape.channels; }

  const M& model() const { return model_; }
  // The engine this model was made with (kCpu, kTorchCpu or kCuda; never kAuto).
  Device engine() const { return engine_; }

 protected:
  // Reads the model (ReadModel); for a LibTorch engine, prepares its pass with `torch` unless that is
  // nullptr (PrepareTorch then). Throws Error(kModelInvalid) for a file that is not a valid model of
  // `architecture`, Error(kUnsupported) when kCuda is asked and no CUDA device exists (or no LibTorch
  // plugin can be loaded), Error(kInternal) for kAuto (ModelFromBytes resolves it).
  BatchedCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, const char* architecture,
                     pixelzip::Order order, Device engine, TorchFactory torch)
      : order_(order), engine_(engine), factory_(torch) {
    if (engine == Device::kAuto) throw Error(ErrorCode::kInternal, source + ": a model is made for a resolved device");
    model_ = ReadModel<M>(bytes, source, architecture, identity_);
    if (torch) PrepareTorch();
  }
  ~BatchedCodingModel() override = default;

  // The LibTorch pass of a LibTorch engine (the constructor's `torch`, or `factory` when it was nullptr).
  void PrepareTorch(TorchFactory factory = nullptr) {
    if (factory) factory_ = factory;
    if (engine_ != Device::kCpu) torch_ = (RequireTorchEngines().*factory_)(model_, engine_);
  }
  // A pass's input for rows [y0, y1) of `plane`.
  static TorchPassInput RowsInput(const QPlane& plane, int y0, int y1) {
    TorchPassInput in;
    in.plane = &plane;
    in.y0 = y0;
    in.y1 = y1;
    return in;
  }
  // The prepared pass's parameters. Throws Error(kInternal) on the CPU engine (no pass).
  std::vector<int16_t> TorchParams(const TorchPassInput& in) const {
    if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
    return torch_->Params(in);
  }
  // The same, or on the CPU engine a LibTorch-on-the-CPU pass made for this call (tests, benchmarks).
  std::vector<int16_t> AnyTorchParams(const TorchPassInput& in) const {
    if (torch_) return torch_->Params(in);
    return (RequireTorchEngines().*factory_)(model_, Device::kTorchCpu)->Params(in);
  }

  M model_;
  ModelIdentity identity_;
  const pixelzip::Order order_;
  const Device engine_;
  std::unique_ptr<TorchPass> torch_;  // the LibTorch engine's pass; null for kCpu

 private:
  TorchFactory factory_;
};

}  // namespace pixelzip::models::nn
