// TrainableNetwork for the Row LSTM (PixelRNN).
#include "models/nn/model_file.h"
#include "models/nn/row_lstm.h"
#include "models/nn/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

class RowLstmTrainable final : public TrainableNetwork {
 public:
  explicit RowLstmTrainable(const RowLstmShape& s) : model_(s) {}
  torch::nn::Module& module() override { return *model_; }
  std::string Describe() const override { return std::string(kRowLstmArch) + " (" + model_->shape().ToHyper() + ")"; }
  int mixtures() const override { return model_->shape().mixtures; }
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    if (!quantized) return model_->forward(q);
    auto t = RowLstmTensorsFromFloat(*model_, scales_, /*ste=*/true);
    return RowLstmExactForward(t, q) * t.param_scale;
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override { scales_ = CalibrateRowLstm(*model_, batches); }
  bool calibrated() const override { return scales_.residual > 0; }
  torch::Tensor ScalesTensor() const override { return scales_.ToTensor(); }
  void LoadScales(const torch::Tensor& t) override { scales_ = RowLstmScales::FromTensor(t, model_->shape().layers); }
  std::vector<uint8_t> ExportModelFile() override {
    ModelFile file;
    ExportIntRowLstm(*model_, scales_).Write(file);
    return file.Serialize();
  }

 private:
  RowLstm model_;
  RowLstmScales scales_;
};

}  // namespace

std::unique_ptr<TrainableNetwork> MakeRowLstmTrainable(const std::string& hyper, int channels) {
  try {
    return std::make_unique<RowLstmTrainable>(RowLstmShape::FromHyper(hyper, channels));
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
}

}  // namespace pixelzip::models::nn
