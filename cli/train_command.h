// `pixelzip train`: trains a PixelCNN-family model on a folder of PNG/PNM images
// (models/nn/train/trainer.h), resumable from its checkpoint, and exports the integer
// model file the codec uses.
#pragma once

#include <string>

namespace pixelzip::cli {

struct TrainCommandOptions {
  std::string data_dir;                 // training images (PNG or PNM), sorted by name; or an IDX images file (grey)
  std::string labels;                   // with an IDX --data: the IDX labels file (class-conditional models)
  int held_out = 3;                     // the last N images are held out for evaluation
  std::string arch = "local-pixelcnn";  // local-pixelcnn | pixelcnn++ | multiscale-pixelcnn | gated-pixelcnn
  std::string hyper;                    // "key=value,..." architecture hyperparameters
  bool grey = false;                    // train a grey model (images converted to luma)
  std::string checkpoint;               // resumed when it exists
  std::string grow_from;                // when checkpoint does not exist: a smaller checkpoint grown into hyper
  std::string log;                      // TSV of held-out bits/dim
  long long steps = 1000;
  int batch = 32, crop = 32, threads = 0;
  double learning_rate = 2e-3, lr_decay = 0.99998;
  double ema_decay = 0.999;             // Polyak averaging of the weights evaluated and exported
  bool qat = false;
  std::string export_path;              // model file written at the end
  std::string report_dir;               // with --export: report float/integer bits/dim on centre crops of these images
  int report_crop = 128;
  bool progress = true;
};

// Returns an exit code; throws CommandError naming the file at fault. In the LibTorch plugin only.
int RunTrain(const TrainCommandOptions& options);
// RunTrain of the LibTorch plugin, loaded on demand (train_launcher.cpp); throws pixelzip::Error
// (kUnsupported) when the plugin cannot be loaded.
int RunTrainThroughPlugin(const TrainCommandOptions& options);

}  // namespace pixelzip::cli
