// TrainableNetwork for the plain PixelCNN (256-way softmax output).
#include "models/nn/runtime/model_file.h"
#include "models/nn/arch/pixelcnn/module.h"
#include "models/nn/runtime/softmax_cdf.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

class PixelCnnTrainable final : public TrainableOf<PixelCnn, PixelCnnScales> {
 public:
  using TrainableOf::TrainableOf;
  std::string Describe() const override {
    return std::string(kPixelCnnArch) + " (" + model_->shape().ToHyper() + ", channels=" +
           std::to_string(model_->shape().channels) + ", " + std::to_string(model_->shape().MacsPerPixel()) + " MAC/pixel)";
  }
  int mixtures() const override { return 0; }
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    if (!quantized) return model_->forward(q);
    return PixelCnnExactForward(PixelCnnTensorsFromFloat(*model_, scales_, /*ste=*/true), q) *
           (1.0 / (1 << kSoftmaxLogitFracBits));
  }
  torch::Tensor Nll(const torch::Tensor& q, bool quantized) override { return SoftmaxNll(q, Forward(q, quantized)); }
  void Calibrate(const std::vector<torch::Tensor>& batches) override { scales_ = CalibratePixelCnn(*model_, batches); }
  bool calibrated() const override { return scales_.residual > 0; }
  void LoadScales(const torch::Tensor& t) override { scales_ = PixelCnnScales::FromTensor(t, model_->shape().blocks); }
  std::vector<uint8_t> ExportModelFile() override {
    return ModelFileBytes(ExportPixelCnn(*model_, scales_));
  }
};

}  // namespace

std::unique_ptr<TrainableNetwork> MakePixelCnnTrainable(const std::string& hyper, int channels) {
  return MakeFromHyper<PixelCnnTrainable, PixelCnnShape>(hyper, channels);
}

}  // namespace pixelzip::models::nn
