// `pixelzip train` from the light binary: the command lives in the LibTorch plugin
// (train_plugin.cpp, libpixelzip_torch.so), loaded here on demand.
#include "train_command.h"

#include "models/nn/torch_engines.h"  // TorchPluginSymbol

namespace pixelzip::cli {

int RunTrainThroughPlugin(const TrainCommandOptions& options) {
  using RunTrainFn = int (*)(const TrainCommandOptions*);
  auto run = reinterpret_cast<RunTrainFn>(models::nn::TorchPluginSymbol("pixelzip_run_train"));
  return run(&options);
}

}  // namespace pixelzip::cli
