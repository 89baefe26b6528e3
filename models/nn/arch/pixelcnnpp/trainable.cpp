// TrainableNetwork for PixelCNN++ ("pixelcnn++"). Hyperparameters: those of PixelCnnPPShape
// plus "dropout=<percent>" (training only, not part of the model file; default 0).
#include <sstream>

#include "models/nn/runtime/model_file.h"
#include "models/nn/arch/pixelcnnpp/module.h"
#include "models/nn/arch/pixelcnnpp/exact.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

class PixelCnnPPTrainable final : public TrainableOf<PixelCnnPP, PixelCnnPPScales> {
 public:
  using TrainableOf::TrainableOf;
  std::string Describe() const override { return std::string(kPixelCnnPPArch) + " (" + model_->config().ToString() + ")"; }
  int mixtures() const override { return model_->config().shape.mixtures; }
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    if (!quantized) return model_->forward(q);
    auto t = TensorsFromFloat(*model_, scales_, /*ste=*/true);
    t.dropout = model_->is_training() ? model_->config().dropout : 0.0;
    return ExactForward(t, q) * t.param_scale;
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override { scales_ = CalibrateScales(*model_, batches); }
  bool calibrated() const override { return scales_.calibrated(); }
  void LoadScales(const torch::Tensor& t) override { scales_ = PixelCnnPPScales::FromTensor(t, model_->config().shape); }
  std::vector<uint8_t> ExportModelFile() override {
    return ModelFileBytes(ExportIntModel(*model_, scales_));
  }
};

}  // namespace

// Throws Error(kInvalidArgument) for bad hyperparameters.
std::unique_ptr<TrainableNetwork> MakePixelCnnPPTrainable(const std::string& hyper, int channels) {
  PixelCnnPPConfig c;
  std::string model_hyper;
  std::stringstream ss(hyper);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.rfind("dropout=", 0) == 0) {
      try {
        size_t used = 0;
        const int percent = std::stoi(item.substr(8), &used);
        if (used != item.size() - 8 || percent < 0 || percent >= 100) throw std::invalid_argument("range");
        c.dropout = percent / 100.0;
      } catch (const std::exception&) {
        throw Error(ErrorCode::kInvalidArgument, "bad hyperparameter '" + item + "' (dropout=<percent 0..99>)");
      }
    } else if (!item.empty()) {
      model_hyper += (model_hyper.empty() ? "" : ",") + item;
    }
  }
  c.shape = WithHyperErrors([&] { return PixelCnnPPShape::FromHyper(model_hyper, channels); });
  return std::make_unique<PixelCnnPPTrainable>(c);
}

}  // namespace pixelzip::models::nn
