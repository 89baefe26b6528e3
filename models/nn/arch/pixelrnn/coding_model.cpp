#include "models/nn/arch/pixelrnn/coding_model.h"

#include "models/nn/arch/diagonal_bilstm/engine.h"
#include "models/nn/arch/row_lstm/engine.h"
#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

template <class M, class CpuEngine>
std::vector<int16_t> PixelRnnCodingModel<M, CpuEngine>::AllParams(const PlaneView& image, Device engine) const {
  const int W = int(image.width), H = int(image.height), P = this->model_.shape.ParamCount();
  const QPlane q = ToQPlane(image);  // [H][W][C], 2v - 255
  if (engine != Device::kCpu) return this->TorchParams(this->RowsInput(q, 0, H));
  std::vector<int16_t> out(size_t(W) * H * P);
  CpuEngine dec(this->model_, W);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) dec.Evaluate(q.q.data(), H, y, x, &out[(size_t(y) * W + x) * P]);
  return out;
}

template <class M, class CpuEngine>
void PixelRnnCodingModel<M, CpuEngine>::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const auto& shape = this->model_.shape;
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = shape.ParamCount();
  const auto params = AllParams(image, this->engine_);
  MixturePixelCoder coder(this->model_.tables, C, shape.mixtures);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int16_t* p = &params[(size_t(y) * W + x) * P];
      coder.Encode(image, y, x, p, sink);
    }
    ReportRow(progress, y, H);
  }
}

template <class M, class CpuEngine>
void PixelRnnCodingModel<M, CpuEngine>::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const auto& shape = this->model_.shape;
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  std::vector<int16_t> q(size_t(W) * H * C, 0);
  CpuEngine dec(this->model_, W);
  MixturePixelCoder coder(this->model_.tables, C, shape.mixtures);
  std::vector<int16_t> params(size_t(shape.ParamCount()));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      dec.Evaluate(q.data(), H, y, x, params.data());
      coder.Decode(image, y, x, params.data(), source, &q[(size_t(y) * W + x) * C]);
    }
    ReportRow(progress, y, H);
  }
}

template class PixelRnnCodingModel<IntRowLstm, RowLstmCpuEngine>;
template class PixelRnnCodingModel<IntDiagonalBiLstm, DiagonalBiLstmCpuEngine>;

}  // namespace pixelzip::models::nn
