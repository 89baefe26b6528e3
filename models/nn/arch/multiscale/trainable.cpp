// TrainableNetwork for the Multiscale PixelCNN ("multiscale-pixelcnn").
#include "models/nn/runtime/model_file.h"
#include "models/nn/arch/multiscale/module.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

class MultiscaleTrainable final : public TrainableOf<MultiscalePixelCnn, MultiscaleScales> {
 public:
  using TrainableOf::TrainableOf;
  std::string Describe() const override {
    return std::string(kMultiscalePixelCnnArch) + " (" + model_->shape().ToHyper() + ")";
  }
  int mixtures() const override { return model_->shape().mixtures; }
  // Per-pixel parameters of the whole crop in multiscale order (L from the crop size and base_side).
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    if (!quantized) return MultiscaleForwardFloat(*model_, q);
    auto t = MultiscaleTensorsFromFloat(*model_, scales_, /*ste=*/true);
    return MultiscaleForwardExact(t, q) * t.base.param_scale;
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override {
    scales_ = CalibrateMultiscaleScales(*model_, batches);
  }
  bool calibrated() const override { return scales_.calibrated(); }
  void LoadScales(const torch::Tensor& t) override { scales_ = MultiscaleScales::FromTensor(t, model_->shape()); }
  std::vector<uint8_t> ExportModelFile() override {
    return ModelFileBytes(ExportMultiscaleModel(*model_, scales_));
  }
};

}  // namespace

std::unique_ptr<TrainableNetwork> MakeMultiscaleTrainable(const std::string& hyper, int channels) {
  return MakeFromHyper<MultiscaleTrainable, MultiscaleShape>(hyper, channels);
}

}  // namespace pixelzip::models::nn
