#include "models/nn/train/trainable.h"

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

const std::vector<TrainableArchitecture>& TrainableCatalog() {
  static const std::vector<TrainableArchitecture> catalog = {
      {kLocalPixelCnnArch, Ignoring<MakeLocalTrainable>},
      {kPixelCnnPPArch, Ignoring<MakePixelCnnPPTrainable>},
      {kMultiscalePixelCnnArch, Ignoring<MakeMultiscaleTrainable>},
      {kGatedPixelCnnArch, Ignoring<MakeGatedTrainable>},
      {kPixelCnnArch, Ignoring<MakePixelCnnTrainable>},
      {kRowLstmArch, Ignoring<MakeRowLstmTrainable>},
      {kDiagonalBiLstmArch, Ignoring<MakeDiagonalBiLstmTrainable>},
      {kAuxGreyArch, MakeAuxTrainable},
      {kAuxPyramidArch, MakeAuxTrainable},
  };
  return catalog;
}

std::unique_ptr<TrainableNetwork> MakeTrainableNetwork(const std::string& architecture, const std::string& hyper,
                                                       int channels) {
  std::string known;
  for (const TrainableArchitecture& a : TrainableCatalog()) {
    if (architecture == a.name) return a.make(architecture, hyper, channels);
    known += (known.empty() ? "" : ", ") + std::string(a.name);
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown architecture '" + architecture + "' (known: " + known + ")");
}

}  // namespace pixelzip::models::nn
