// What the trainer needs from an architecture: a float forward, a calibrated
// fake-quantised forward equal to the integer model, and the export of the
// integer model file. One implementation per architecture (local-pixelcnn,
// pixelcnn++, ...), created by name through the catalog's trainer column (catalog.h).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "models/nn/catalog.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

class TrainableNetwork {
 public:
  virtual ~TrainableNetwork() = default;
  virtual torch::nn::Module& module() = 0;
  virtual std::string Describe() const = 0;
  virtual int mixtures() const = 0;
  // Real-valued mixture parameters [B, P, H, W] for pixel values q = 2v - 255 ([B, C, H, W], float).
  // quantized: the fake-quantised forward (straight-through gradients). REQUIRES: calibrated() when quantized.
  virtual torch::Tensor Forward(const torch::Tensor& q, bool quantized) = 0;
  // Negative log-likelihood in nats per image [B] of q (the training loss). Architectures whose code length
  // is not one mixture per subpixel (e.g. an auxiliary grey image coded first) override it.
  virtual torch::Tensor Nll(const torch::Tensor& q, bool quantized) {
    return DiscretizedMixLogisticNll(q / 255.0, Forward(q, quantized), mixtures());
  }
  // Chooses quantisation scales from the current weights' activations on `batches`.
  virtual void Calibrate(const std::vector<torch::Tensor>& batches) = 0;
  virtual bool calibrated() const = 0;
  virtual torch::Tensor ScalesTensor() const = 0;      // for checkpoints
  virtual void LoadScales(const torch::Tensor& t) = 0;  // throws pixelzip::Error on a size mismatch
  // Classes the network is conditioned on (1: unconditional).
  virtual int classes() const { return 1; }
  // The class of each image of the following Forward calls (int64 [B] in [0, classes())).
  // REQUIRES: classes() > 1 (unconditional networks have nothing to set).
  virtual void SetClasses(const torch::Tensor& classes) { (void)classes; }
  // The integer model file of the current weights. REQUIRES: calibrated().
  virtual std::vector<uint8_t> ExportModelFile() = 0;
  // Replaces this network's weights by those of `smaller` (same architecture, every dimension <= this one's),
  // embedded so that this network computes the same function (up to float rounding); the added units, taps and
  // blocks start where training can move them. Throws pixelzip::Error(kInvalidArgument) where this architecture
  // cannot grow or `smaller` does not fit inside it.
  virtual void GrowFrom(TrainableNetwork& smaller);
};

// What the one-network trainables share: the float module (a TORCH_MODULE holder made from its shape or
// config) and its quantisation scales (Scales::ToTensor for checkpoints).
template <class Module, class Scales>
class TrainableOf : public TrainableNetwork {
 public:
  template <class Config>
  explicit TrainableOf(const Config& config) : model_(config) {}
  torch::nn::Module& module() override { return *model_; }
  torch::Tensor ScalesTensor() const override { return scales_.ToTensor(); }

 protected:
  Module model_;
  Scales scales_;
};

// The model file bytes of an exported integer model (anything with Write(ModelFile&)).
template <class IntModel>
std::vector<uint8_t> ModelFileBytes(const IntModel& model) {
  ModelFile file;
  model.Write(file);
  return file.Serialize();
}

// Calls make (parsing hyperparameters, building a network); its pixelzip::Error becomes kInvalidArgument:
// bad hyperparameters are the caller's argument.
template <class Fn>
auto WithHyperErrors(Fn&& make) -> decltype(make()) {
  try {
    return make();
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
}

// A trainable T made from Shape::FromHyper(hyper, channels); its pixelzip::Error becomes kInvalidArgument.
template <class T, class Shape>
std::unique_ptr<TrainableNetwork> MakeFromHyper(const std::string& hyper, int channels) {
  return WithHyperErrors([&] { return std::make_unique<T>(Shape::FromHyper(hyper, channels)); });
}

// The catalog (catalog.h) with its trainer column filled, each row's `trainable` the factory its
// arch/<name>/trainable.cpp defines (filled once, on the first call, in this program or plugin).
const std::vector<Architecture>& TrainableCatalog();

// The catalog row's trainable factory. Throws pixelzip::Error(kInvalidArgument) for an unknown architecture
// or bad hyperparameters.
std::unique_ptr<TrainableNetwork> MakeTrainableNetwork(const std::string& architecture, const std::string& hyper,
                                                       int channels);

// The factories, one per arch/<name>/trainable.cpp.
std::unique_ptr<TrainableNetwork> MakeLocalTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakePixelCnnPPTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakeMultiscaleTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakeGatedTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakePixelCnnTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakeRowLstmTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakeDiagonalBiLstmTrainable(const std::string& hyper, int channels);
std::unique_ptr<TrainableNetwork> MakeAuxTrainable(const std::string& architecture, const std::string& hyper, int channels);

}  // namespace pixelzip::models::nn
