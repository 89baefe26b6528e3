#include "models/nn/train/trainable.h"

#include <mutex>

#include "models/nn/arch/aux_pixelcnn/engine.h"
#include "models/nn/arch/diagonal_bilstm/engine.h"
#include "models/nn/arch/gated_pixelcnn/engine.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/arch/multiscale/engine.h"
#include "models/nn/arch/pixelcnn/engine.h"
#include "models/nn/arch/pixelcnnpp/graph.h"
#include "models/nn/arch/row_lstm/engine.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

void TrainableNetwork::GrowFrom(TrainableNetwork& smaller) {
  (void)smaller;
  throw Error(ErrorCode::kInvalidArgument, Describe() + " cannot grow from a smaller checkpoint");
}

namespace {
template <std::unique_ptr<TrainableNetwork> (*F)(const std::string&, int)>
std::unique_ptr<TrainableNetwork> Ignoring(const std::string&, const std::string& hyper, int channels) {
  return F(hyper, channels);
}
}  // namespace

const std::vector<Architecture>& TrainableCatalog() {
  static std::once_flag filled;
  std::call_once(filled, [] {
    SetTrainableFactory(kLocalPixelCnnArch, Ignoring<MakeLocalTrainable>);
    SetTrainableFactory(kPixelCnnPPArch, Ignoring<MakePixelCnnPPTrainable>);
    SetTrainableFactory(kMultiscalePixelCnnArch, Ignoring<MakeMultiscaleTrainable>);
    SetTrainableFactory(kGatedPixelCnnArch, Ignoring<MakeGatedTrainable>);
    SetTrainableFactory(kPixelCnnArch, Ignoring<MakePixelCnnTrainable>);
    SetTrainableFactory(kRowLstmArch, Ignoring<MakeRowLstmTrainable>);
    SetTrainableFactory(kDiagonalBiLstmArch, Ignoring<MakeDiagonalBiLstmTrainable>);
    SetTrainableFactory(kAuxGreyArch, MakeAuxTrainable);
    SetTrainableFactory(kAuxPyramidArch, MakeAuxTrainable);
  });
  return Catalog();
}

std::unique_ptr<TrainableNetwork> MakeTrainableNetwork(const std::string& architecture, const std::string& hyper,
                                                       int channels) {
  std::string known;
  for (const Architecture& a : TrainableCatalog()) {
    if (architecture == a.name && a.trainable) return a.trainable(architecture, hyper, channels);
    known += (known.empty() ? "" : ", ") + std::string(a.name);
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown architecture '" + architecture + "' (known: " + known + ")");
}

}  // namespace pixelzip::models::nn
