// The plugin's side of `pixelzip train` (train_launcher.cpp loads it). The options struct crosses
// the boundary as is: both sides are built from the same train_command.h by the same build.
#include "train_command.h"

extern "C" __attribute__((visibility("default"))) int pixelzip_run_train(const pixelzip::cli::TrainCommandOptions* options) {
  return pixelzip::cli::RunTrain(*options);
}
