// TrainableNetwork for the Gated / Conditional PixelCNN.
#include "models/nn/arch/gated_pixelcnn/exact.h"
#include "models/nn/arch/gated_pixelcnn/module.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

class GatedTrainable final : public TrainableOf<GatedPixelCnn, GatedQuantScales> {
 public:
  using TrainableOf::TrainableOf;
  std::string Describe() const override {
    return std::string(kGatedPixelCnnArch) + " (channels=" + std::to_string(model_->shape().channels) + " " + model_->shape().ToHyper() + ")";
  }
  int mixtures() const override { return model_->shape().mixtures; }
  int classes() const override { return model_->shape().classes; }
  void SetClasses(const torch::Tensor& classes) override { classes_ = classes.to(torch::kInt64); }
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    torch::Tensor c = classes_.defined() && classes_.size(0) == q.size(0) ? classes_.to(q.device())
                                                                          : torch::zeros({q.size(0)}, torch::kInt64).to(q.device());
    if (!quantized) return model_->forward(q, c);
    auto t = GatedTensorsFromFloat(*model_, scales_, /*ste=*/true);
    return GatedExactForward(t, q, c) * t.param_scale;
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override { scales_ = CalibrateGatedScales(*model_, batches); }
  bool calibrated() const override { return scales_.residual > 0; }
  void LoadScales(const torch::Tensor& t) override { scales_ = GatedQuantScales::FromTensor(t, model_->shape().layers); }
  std::vector<uint8_t> ExportModelFile() override {
    return ModelFileBytes(ExportGatedModel(*model_, scales_));
  }

 private:
  torch::Tensor classes_;
};

}  // namespace

std::unique_ptr<TrainableNetwork> MakeGatedTrainable(const std::string& hyper, int channels) {
  return MakeFromHyper<GatedTrainable, GatedPixelCnnShape>(hyper, channels);
}

}  // namespace pixelzip::models::nn
