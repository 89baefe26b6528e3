// TrainableNetwork for the PixelRNN models: the Row LSTM and the Diagonal BiLSTM.
#include "models/nn/arch/diagonal_bilstm/module.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/arch/row_lstm/module.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

struct RowLstmKind {
  using Module = RowLstm;
  using Shape = RowLstmShape;
  static constexpr const char* kArch = kRowLstmArch;
  static auto Tensors(RowLstmImpl& m, const RowLstmScales& s) { return RowLstmTensorsFromFloat(m, s, /*ste=*/true); }
  static torch::Tensor Exact(const RowLstmTensors& t, const torch::Tensor& q) { return RowLstmExactForward(t, q); }
  static RowLstmScales Calibrate(RowLstmImpl& m, const std::vector<torch::Tensor>& b) { return CalibrateRowLstm(m, b); }
  static IntRowLstm Export(RowLstmImpl& m, const RowLstmScales& s) { return ExportIntRowLstm(m, s); }
};

struct DiagonalBiLstmKind {
  using Module = DiagonalBiLstm;
  using Shape = DiagonalBiLstmShape;
  static constexpr const char* kArch = kDiagonalBiLstmArch;
  static auto Tensors(DiagonalBiLstmImpl& m, const RowLstmScales& s) { return DiagonalBiLstmTensorsFromFloat(m, s, /*ste=*/true); }
  static torch::Tensor Exact(const DiagonalBiLstmTensors& t, const torch::Tensor& q) { return DiagonalBiLstmExactForward(t, q); }
  static RowLstmScales Calibrate(DiagonalBiLstmImpl& m, const std::vector<torch::Tensor>& b) { return CalibrateDiagonalBiLstm(m, b); }
  static IntDiagonalBiLstm Export(DiagonalBiLstmImpl& m, const RowLstmScales& s) { return ExportIntDiagonalBiLstm(m, s); }
};

template <class Kind>
class PixelRnnTrainable final : public TrainableOf<typename Kind::Module, RowLstmScales> {
  using Base = TrainableOf<typename Kind::Module, RowLstmScales>;
  using Base::model_;
  using Base::scales_;

 public:
  using Base::Base;
  std::string Describe() const override { return std::string(Kind::kArch) + " (" + model_->shape().ToHyper() + ")"; }
  int mixtures() const override { return model_->shape().mixtures; }
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    if (!quantized) return model_->forward(q);
    auto t = Kind::Tensors(*model_, scales_);
    return Kind::Exact(t, q) * t.param_scale;
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override { scales_ = Kind::Calibrate(*model_, batches); }
  bool calibrated() const override { return scales_.residual > 0; }
  void LoadScales(const torch::Tensor& t) override { scales_ = RowLstmScales::FromTensor(t, model_->shape().layers); }
  std::vector<uint8_t> ExportModelFile() override {
    return ModelFileBytes(Kind::Export(*model_, scales_));
  }
};

template <class Kind>
std::unique_ptr<TrainableNetwork> Make(const std::string& hyper, int channels) {
  return MakeFromHyper<PixelRnnTrainable<Kind>, typename Kind::Shape>(hyper, channels);
}

}  // namespace

std::unique_ptr<TrainableNetwork> MakeRowLstmTrainable(const std::string& hyper, int channels) { return Make<RowLstmKind>(hyper, channels); }
std::unique_ptr<TrainableNetwork> MakeDiagonalBiLstmTrainable(const std::string& hyper, int channels) {
  return Make<DiagonalBiLstmKind>(hyper, channels);
}

}  // namespace pixelzip::models::nn
