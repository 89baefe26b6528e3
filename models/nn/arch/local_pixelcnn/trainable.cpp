// TrainableNetwork for the Local PixelCNN.
#include "models/nn/arch/local_pixelcnn/exact.h"
#include "models/nn/arch/local_pixelcnn/module.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {

class LocalTrainable final : public TrainableOf<LocalPixelCnn, LocalQuantScales> {
 public:
  using TrainableOf::TrainableOf;
  std::string Describe() const override { return std::string(kLocalPixelCnnArch) + " (" + model_->config().ToString() + ")"; }
  int mixtures() const override { return model_->config().mixtures; }
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    if (!quantized) return model_->forward(q);
    auto t = TensorsFromFloat(*model_, scales_, /*ste=*/true);
    return ExactForward(t, q) * t.param_scale;
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override { scales_ = CalibrateScales(*model_, batches); }
  bool calibrated() const override { return scales_.residual > 0; }
  void LoadScales(const torch::Tensor& t) override { scales_ = LocalQuantScales::FromTensor(t, model_->config().blocks); }
  std::vector<uint8_t> ExportModelFile() override {
    return ModelFileBytes(ExportIntModel(*model_, scales_));
  }
  void GrowFrom(TrainableNetwork& smaller) override {
    auto* from = dynamic_cast<LocalTrainable*>(&smaller);
    if (from == nullptr) throw Error(ErrorCode::kInvalidArgument, "local-pixelcnn can only grow from a local-pixelcnn");
    GrowLocalPixelCnn(*from->model_, *model_);
    scales_ = LocalQuantScales();
  }
};

}  // namespace

std::unique_ptr<TrainableNetwork> MakeLocalTrainable(const std::string& hyper, int channels) {
  const LocalPixelCnnShape s = WithHyperErrors([&] { return LocalPixelCnnShape::FromHyper(hyper, channels); });
  if (s.aux != 0) throw Error(ErrorCode::kInvalidArgument, "local-pixelcnn: 'aux' is for the auxiliary-variable models");
  return std::make_unique<LocalTrainable>(ConfigOf(s));
}

}  // namespace pixelzip::models::nn
