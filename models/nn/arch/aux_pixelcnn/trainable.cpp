// TrainableNetwork for the auxiliary-variable PixelCNNs ("aux-grey", "aux-pyramid").
#include "models/nn/arch/aux_pixelcnn/module.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

// Scales of two local networks in one tensor: the first network's, then the second's.
torch::Tensor JoinScales(const LocalQuantScales& a, const LocalQuantScales& b) {
  return torch::cat({a.ToTensor(), b.ToTensor()});
}
void SplitScales(const torch::Tensor& t, int blocks_a, int blocks_b, LocalQuantScales* a, LocalQuantScales* b) {
  const int64_t na = 2 + 3 * blocks_a;
  if (t.numel() != na + 2 + 3 * blocks_b)
    throw Error(ErrorCode::kInvalidArgument, "checkpoint has quantisation scales of the wrong size");
  *a = LocalQuantScales::FromTensor(t.narrow(0, 0, na), blocks_a);
  *b = LocalQuantScales::FromTensor(t.narrow(0, na, t.numel() - na), blocks_b);
}

// Real-valued mixture parameters of a local network: float, or the fake-quantised integer forward.
torch::Tensor LocalParams(LocalPixelCnnImpl& net, const LocalQuantScales& scales, bool quantized, const torch::Tensor& q,
                          const torch::Tensor& aux) {
  if (!quantized) return net.ForwardWithAux(q, aux);
  auto t = TensorsFromFloat(net, scales, /*ste=*/true);
  return ExactForward(t, q, aux) * t.param_scale;
}

class AuxGreyTrainable final : public TrainableNetwork {
 public:
  explicit AuxGreyTrainable(const AuxGreyShape& s) : shape_(s) {
    grey_ = module_.register_module("grey", LocalPixelCnn(ConfigOf(s.grey)));
    colour_ = module_.register_module("colour", LocalPixelCnn(ConfigOf(s.colour)));
  }
  torch::nn::Module& module() override { return module_; }
  std::string Describe() const override { return std::string(kAuxGreyArch) + " (" + shape_.ToHyper() + ")"; }
  int mixtures() const override { return shape_.colour.mixtures; }
  // The colour network's parameters given the grey image of q.
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    return LocalParams(*colour_, colour_scales_, quantized, q, GreyOfQ(q));
  }
  // Grey image, then colour given it with every channel renormalised to the values consistent with the grey.
  torch::Tensor Nll(const torch::Tensor& q, bool quantized) override {
    auto qg = GreyOfQ(q);
    auto grey_nll = DiscretizedMixLogisticNll(qg / 255.0, LocalParams(*grey_, grey_scales_, quantized, qg, torch::Tensor()),
                                              shape_.grey.mixtures);
    torch::Tensor lo, hi;
    GreyRanges(q, &lo, &hi);
    auto colour_params = LocalParams(*colour_, colour_scales_, quantized, q, qg);
    return grey_nll + ConstrainedMixNll(q / 255.0, colour_params, shape_.colour.mixtures, lo, hi);
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override {
    std::vector<torch::Tensor> greys;
    for (const auto& q : batches) greys.push_back(GreyOfQ(q));
    grey_scales_ = CalibrateScales(*grey_, greys);
    colour_scales_ = CalibrateScales(*colour_, batches, greys);
  }
  bool calibrated() const override { return grey_scales_.residual > 0 && colour_scales_.residual > 0; }
  torch::Tensor ScalesTensor() const override { return JoinScales(grey_scales_, colour_scales_); }
  void LoadScales(const torch::Tensor& t) override {
    SplitScales(t, shape_.grey.blocks, shape_.colour.blocks, &grey_scales_, &colour_scales_);
  }
  std::vector<uint8_t> ExportModelFile() override {
    IntAuxGrey m;
    m.grey = ExportIntModel(*grey_, grey_scales_);
    m.colour = ExportIntModel(*colour_, colour_scales_);
    m.Validate();
    return ModelFileBytes(m);
  }

 private:
  AuxGreyShape shape_;
  torch::nn::Module module_;
  LocalPixelCnn grey_{nullptr}, colour_{nullptr};
  LocalQuantScales grey_scales_, colour_scales_;
};

class AuxPyramidTrainable final : public TrainableNetwork {
 public:
  explicit AuxPyramidTrainable(const AuxPyramidShape& s) : shape_(s) {
    base_ = module_.register_module("base", LocalPixelCnn(ConfigOf(s.base)));
    cond_ = module_.register_module("cond", LocalPixelCnn(ConfigOf(s.cond)));
  }
  torch::nn::Module& module() override { return module_; }
  std::string Describe() const override { return std::string(kAuxPyramidArch) + " (" + shape_.ToHyper() + ")"; }
  int mixtures() const override { return shape_.cond.mixtures; }
  // Per-pixel parameters of the whole crop in pyramid order (L from the crop size and base_side).
  // REQUIRES: base and level networks have the same number of mixtures.
  torch::Tensor Forward(const torch::Tensor& q, bool quantized) override {
    const int L = PyramidLevels(int(q.size(3)), int(q.size(2)), shape_.base_side);
    return PyramidForward(
        q, L, [&](const torch::Tensor& x) { return LocalParams(*base_, base_scales_, quantized, x, torch::Tensor()); },
        [&](const torch::Tensor& x, const torch::Tensor& u) { return LocalParams(*cond_, cond_scales_, quantized, x, u); });
  }
  void Calibrate(const std::vector<torch::Tensor>& batches) override {
    std::vector<torch::Tensor> bases, levels, uppers;
    for (const auto& q : batches) {
      const int L = PyramidLevels(int(q.size(3)), int(q.size(2)), shape_.base_side);
      bases.push_back(PyramidLevelQ(q, L));
      for (int l = 0; l < L; ++l) {
        levels.push_back(PyramidLevelQ(q, l));
        uppers.push_back(UpsampleNearestQ(PyramidLevelQ(q, l + 1), levels.back().size(2), levels.back().size(3)));
      }
    }
    base_scales_ = CalibrateScales(*base_, bases);
    // A crop no larger than base_side has no upper levels: the level network then calibrates on the base
    // image conditioned on itself.
    cond_scales_ = CalibrateScales(*cond_, levels.empty() ? bases : levels, levels.empty() ? bases : uppers);
  }
  bool calibrated() const override { return base_scales_.residual > 0 && cond_scales_.residual > 0; }
  torch::Tensor ScalesTensor() const override { return JoinScales(base_scales_, cond_scales_); }
  void LoadScales(const torch::Tensor& t) override {
    SplitScales(t, shape_.base.blocks, shape_.cond.blocks, &base_scales_, &cond_scales_);
  }
  std::vector<uint8_t> ExportModelFile() override {
    IntAuxPyramid m;
    m.base_side = shape_.base_side;
    m.base = ExportIntModel(*base_, base_scales_);
    m.cond = ExportIntModel(*cond_, cond_scales_);
    m.Validate();
    return ModelFileBytes(m);
  }

 private:
  AuxPyramidShape shape_;
  torch::nn::Module module_;
  LocalPixelCnn base_{nullptr}, cond_{nullptr};
  LocalQuantScales base_scales_, cond_scales_;
};

}  // namespace

std::unique_ptr<TrainableNetwork> MakeAuxTrainable(const std::string& architecture, const std::string& hyper, int channels) {
  if (architecture == kAuxGreyArch) {
    if (channels != 3) throw Error(ErrorCode::kInvalidArgument, "aux-grey codes RGB images only (--channels 3)");
    return std::make_unique<AuxGreyTrainable>(AuxGreyShape::FromHyper(hyper));
  }
  return std::make_unique<AuxPyramidTrainable>(AuxPyramidShape::FromHyper(hyper, channels));
}

}  // namespace pixelzip::models::nn
