// pixelzip: the command-line tool. Parses arguments with CLI11 and runs one
// subcommand from commands.h; every failure ends as one line on stderr,
// "pixelzip: FILE: PROBLEM", and a non-zero exit code (see ExitCodeHelp()).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "compare_command.h"
#include "train_command.h"
#include "pixelzip/codec.h"

#ifndef PIXELZIP_VERSION
#define PIXELZIP_VERSION "unknown"
#endif

namespace {

using namespace pixelzip::cli;

constexpr const char* kSubcommandFooter = "Exit codes: see 'pixelzip --help'.";

// -o and -c name one output: refused with several inputs, and with each other.
void CheckSeveralInputs(const std::vector<std::string>& inputs, const std::string& output, bool to_stdout) {
  if (to_stdout && !output.empty()) throw CommandError("", kExitUsage, "-c and -o name the output twice; give one");
  if (inputs.size() > 1) {
    if (!output.empty() || to_stdout)
      throw CommandError("", kExitUsage, "-o and -c take one input; with several, each output is named after its input");
    if (std::count(inputs.begin(), inputs.end(), "-") > 0)
      throw CommandError("<stdin>", kExitUsage, "stdin (-) can only be the one input");
  }
}

// Compress and decompress: `run` on a copy of `options` per input (-c: the output is stdout).
template <class Options>
int RunEachInput(const std::vector<std::string>& inputs, Options& options, bool to_stdout,
                 int (*run)(const Options&)) {
  CheckSeveralInputs(inputs, options.output, to_stdout);
  if (to_stdout) options.output = "-";
  return RunEach(inputs, [&](const std::string& input) {
    Options one = options;
    one.input = input;
    return run(one);
  });
}

int PrintError(const std::string& file, const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", FormatErrorLine(file, message).c_str());
  return code;
}

std::string ModelHelp() {
  std::string names;
  try {
    for (const std::string& name : pixelzip::ShippedModelNames()) names += (names.empty() ? "" : ", ") + name;
  } catch (const std::exception&) {
  }
  return "default (the best shipped model for the order and channel count), a shipped model (" +
         (names.empty() ? std::string("none") : names) + ") or a model file's path";
}

// --device and --threads, the same for every subcommand that runs a model.
void AddDeviceOptions(CLI::App* command, std::string& device, int& threads) {
  command->add_option("--device", device, "where the model runs: cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  command->add_option("--threads", threads, "threads the model may use (0: PIXELZIP_THREADS, else every core); the output is the same for any count")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
}

// -f, --rm and -k, the same for compress and decompress.
void AddOutputFlags(CLI::App* command, bool& force, bool& remove_input, bool& keep) {
  command->add_flag("-f,--force", force, "overwrite an existing output; allow binary output to a terminal");
  CLI::Option* rm = command->add_flag("--rm", remove_input, "remove each input once its output is complete");
  command->add_flag("-k,--keep", keep, "keep the inputs (the default)")->excludes(rm);
}

int Main(int argc, char** argv) {
  CLI::App app{"pixelzip " PIXELZIP_VERSION
               ": lossless image compression with a learned probability model and a range coder.\n"
               "Reads PNG (8- and 16-bit grey, grey+alpha, RGB, RGBA, palette) and PNM/PAM (P2, P3, P5, P6, P7)\n"
               "of any maxval; decompress writes back the kind of file that came in.",
               "pixelzip"};
  app.set_version_flag("--version", std::string("pixelzip ") + PIXELZIP_VERSION);
  app.require_subcommand(1);
  app.footer(std::string("Run 'pixelzip SUBCOMMAND --help' for a subcommand's options.\n\n") + ExitCodeHelp());

  // compress and decompress take several inputs (zstd-style); -o and -c only with one.
  CompressOptions co;
  std::vector<std::string> compress_inputs;
  bool compress_stdout = false, compress_keep = false;
  CLI::App* compress = app.add_subcommand("compress", "Compress PNG/PNM images to .pxz files");
  compress->add_option("IN", compress_inputs, "input images (PNG or PNM), each to IN.pxz; - for stdin")->required();
  compress->add_option("-o,--output", co.output,
                       "output file, with one input (default: IN.pxz; stdout when IN is -); - for stdout");
  compress->add_flag("-c,--stdout", compress_stdout, "write to stdout (one input)");
  CLI::Option* compress_order =
      compress->add_option("--order", co.order, "coding order: raster (best rate) or multiscale (fast decode)")
          ->check(CLI::IsMember({"raster", "multiscale"}))
          ->capture_default_str();
  CLI::Option* compress_model = compress->add_option("-m,--model", co.model, ModelHelp())->capture_default_str();
  compress
      ->add_option("-e,--effort", co.effort,
                   "effort 0-9 instead of --order and --model: 0 order0-adaptive (fastest, weakest), 1-3 the default "
                   "multiscale model (fast decode; raster where none codes the image), 4-9 the default raster "
                   "model; 0-6 with the adaptive stage kind 3 (the default), 7-9 with kind 1 (best rate, slower decode)")
      ->check(CLI::Range(0, 9))
      ->excludes(compress_order)
      ->excludes(compress_model);
  AddDeviceOptions(compress, co.device, co.threads);
  AddOutputFlags(compress, co.force, co.remove_input, compress_keep);
  compress->add_flag("-v,--verbose", co.verbose, "print sizes and bits per subpixel on stderr");
  compress->add_flag("--no-adaptive", co.no_adaptive,
                    "code with the model alone, without the online-adaptive stage (format 1.0 stream)");
  compress->add_flag("--no-fallback", co.no_fallback,
                     "always code with the model, even where a cheap coding (deflate, palette, the stage alone) "
                     "gives a smaller file");
  compress->add_option("--stage-kind", co.stage_kind,
                       "the adaptive stage's kind: 3 the default (-e 0-6), 1 the first (best rate, about 4 times kind 3's "
                       "stage cost; -e 7-9), 2 the light stage (slower and larger than 3)")
      ->check(CLI::Range(1, 3));
  compress->add_flag("-q,--quiet", co.quiet, "print no warnings and no progress bar");
  compress->add_flag("--strip", co.strip,
                     "drop the image's metadata (ICC profile, gAMA, cHRM, sRGB, EXIF, XMP, text and other PNG chunks, "
                     "PNM comments); by default it is kept in the .pxz and restored on decompress. The source's "
                     "format (PNM maxval, PNG colour type and palette) is kept either way");
  compress->footer(kSubcommandFooter);

  DecompressOptions dopt;
  std::vector<std::string> decompress_inputs;
  bool decompress_stdout = false, decompress_keep = false;
  CLI::App* decompress = app.add_subcommand("decompress", "Decompress .pxz files to PNG or PNM");
  decompress->add_option("IN", decompress_inputs, "input .pxz files; - for stdin")->required();
  decompress->add_option("-o,--output", dopt.output,
                         "output image, with one input (default: IN without .pxz, .png added if it names no image "
                         "format; stdout when IN is -); the format follows the extension: .ppm .pgm .pnm .pam -> "
                         "PNM, else PNG; a palette PNG comes back as one (its PLTE and tRNS in order), a PNM with its "
                         "maxval (PNG output scales a maxval other than 255/65535, with a warning)");
  decompress->add_flag("-c,--stdout", decompress_stdout, "write to stdout (one input; PNG unless --format pnm)");
  decompress->add_option("--format", dopt.format, "output format regardless of extension: png or pnm")
      ->check(CLI::IsMember({"png", "pnm"}));
  decompress->add_option("-m,--model", dopt.model,
                         "model to decode with (default: the one the stream names, found by its weights hash)");
  AddDeviceOptions(decompress, dopt.device, dopt.threads);
  AddOutputFlags(decompress, dopt.force, dopt.remove_input, decompress_keep);
  decompress->add_flag("-v,--verbose", dopt.verbose, "print sizes and time on stderr");
  decompress->add_flag("-q,--quiet", dopt.quiet, "print no warnings and no progress bar");
  decompress->add_flag("--strip", dopt.strip,
                       "do not write the stream's metadata into the image (the source's maxval and palette stay)");
  decompress->footer(kSubcommandFooter);

  InfoOptions io;
  CLI::App* info = app.add_subcommand("info", "Print the header fields of a .pxz file");
  info->add_option("FILE", io.input, ".pxz file; - for stdin")->required();
  info->footer(kSubcommandFooter);

  VerifyOptions ver;
  CLI::App* verify = app.add_subcommand(
      "verify", "Check that two images have identical pixels (exit 0) or not (exit 1); .pxz files are decoded");
  verify->add_option("A", ver.first, "image (PNG, PNM) or .pxz file; - for stdin")->required();
  verify->add_option("B", ver.second, "image (PNG, PNM) or .pxz file; - for stdin")->required();
  verify->add_flag("-q,--quiet", ver.quiet, "print nothing, only set the exit code");
  verify->footer(kSubcommandFooter);

  CompareOptions cmp;
  CLI::App* compare = app.add_subcommand(
      "compare",
      "Bits per subpixel of pixelzip (each order, checked round trip, timed) beside PNG's, and its payload beside "
      "the model's ideal code length -log2 p(x), per image and in total");
  compare->add_option("FILES", cmp.inputs,
                      "images (PNG, PNM) and/or folders (their *.png *.ppm *.pgm *.pnm, sorted, not recursive)")
      ->required();
  compare->add_option("--order", cmp.order, "coding orders to measure: raster, multiscale or both")
      ->check(CLI::IsMember({"raster", "multiscale", "both"}))
      ->capture_default_str();
  compare->add_option("-m,--model", cmp.model, ModelHelp())->capture_default_str();
  AddDeviceOptions(compare, cmp.device, cmp.threads);
  compare->add_flag("--json", cmp.json, "print one JSON object instead of the table");
  compare->add_flag("--no-adaptive", cmp.no_adaptive, "measure pixelzip without the online-adaptive stage");
  compare->add_flag("--no-fallback", cmp.no_fallback, "measure the model's coding only, without the cheap fallbacks");
  compare->add_option("--stage-kind", cmp.stage_kind,
                      "the adaptive stage's kind: 3 the default, 1 the first (best rate, slower), 2 the light stage "
                      "(slower and larger than 3)")
      ->check(CLI::Range(1, 3));
  compare->footer(kSubcommandFooter);

  TrainCommandOptions tr;
  CLI::App* train = app.add_subcommand("train", "Train a model on a folder of images and export its integer model file");
  train->add_option("--data", tr.data_dir, "folder of PNG/PNM training images, or an IDX images file (grey, e.g. Fashion-MNIST)")->required();
  train->add_option("--labels", tr.labels, "with an IDX --data: its IDX labels file, for a class-conditional model (gated-pixelcnn classes=K)");
  train->add_option("--held-out", tr.held_out, "the last N images (by name) are held out for evaluation")->capture_default_str();
  train->add_option("--arch", tr.arch, "local-pixelcnn | pixelcnn++ | multiscale-pixelcnn | gated-pixelcnn | pixelcnn | row-lstm | diagonal-bilstm | aux-grey | aux-pyramid")->capture_default_str();
  train->add_option("--hyper", tr.hyper, "hyperparameters, e.g. kernel=7,hidden=64,inner=128,blocks=4,mixtures=10 (local-pixelcnn also act_bits=8..12 and weight_bits=8..16, multiscale-pixelcnn act_bits=8..10); "
                 "with an existing --checkpoint, replaces its hyperparameters when the parameter shapes match");
  train->add_flag("--grey", tr.grey, "train a grey model (images converted to luma)");
  train->add_option("--checkpoint", tr.checkpoint, "checkpoint file: resumed when it exists, overwritten as training goes");
  train->add_option("--grow-from", tr.grow_from, "when --checkpoint does not exist yet: start from this smaller checkpoint of the same "
                 "architecture, its weights embedded in the larger --hyper so that it computes the same function (local-pixelcnn: "
                 "kernel, hidden, inner and blocks may grow), at its step count")
      ->check(CLI::ExistingFile);
  train->add_option("--log", tr.log, "append step, seconds, learning rate and bits/dim to this TSV file");
  train->add_option("--steps", tr.steps, "train until this many steps in total")->capture_default_str();
  train->add_option("--batch", tr.batch, "crops per step")->capture_default_str();
  train->add_option("--crop", tr.crop, "crop size in pixels")->capture_default_str();
  train->add_option("--lr", tr.learning_rate, "base learning rate")->capture_default_str();
  train->add_option("--lr-decay", tr.lr_decay, "learning rate factor per step")->capture_default_str();
  train->add_option("--ema-decay", tr.ema_decay, "Polyak averaging factor per step of the weights evaluated and exported")
      ->check(CLI::Range(0.0, 0.99999))
      ->capture_default_str();
  train->add_option("--threads", tr.threads, "CPU threads (0: all cores)")->capture_default_str();
  train->add_flag("--qat", tr.qat, "quantisation-aware training through the exact integer forward");
  train->add_option("--export", tr.export_path, "write the integer model file here at the end");
  train->add_option("--report-dir", tr.report_dir, "with --export: float and integer bits/dim on centre crops of these images");
  train->add_option("--report-crop", tr.report_crop, "crop size for --report-dir")->capture_default_str();
  train->footer(kSubcommandFooter);

  CLI::App* models = app.add_subcommand(
      "models", "List the models built into this pixelzip: name, coding order, channels, and which is the default");
  models->footer(kSubcommandFooter);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: printed on stdout
    std::string where;
    for (const CLI::App* sub : app.get_subcommands()) where = std::string(" ") + sub->get_name();
    return PrintError("", std::string(e.what()) + " (see 'pixelzip" + where + " --help')", kExitUsage);
  }

  try {
    if (compress->parsed()) return RunEachInput(compress_inputs, co, compress_stdout, RunCompress);
    if (decompress->parsed()) return RunEachInput(decompress_inputs, dopt, decompress_stdout, RunDecompress);
    if (info->parsed()) return RunInfo(io);
    if (verify->parsed()) return RunVerify(ver);
    if (compare->parsed()) return RunCompareRates(cmp);
    if (train->parsed()) {
      tr.progress = isatty(fileno(stderr)) != 0;
      return RunTrainThroughPlugin(tr);
    }
    if (models->parsed()) return RunModels();
  } catch (const CommandError& e) {
    return PrintError(e.file(), e.what(), e.exit_code());
  } catch (const pixelzip::Error& e) {
    return PrintError("", e.what(), ExitCodeFor(e.code()));
  } catch (const std::bad_alloc&) {
    return PrintError("", "out of memory", kExitLimit);
  } catch (const std::exception& e) {
    return PrintError("", std::string("internal error: ") + e.what(), kExitInternal);
  }
  return PrintError("", "no subcommand", kExitUsage);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    return PrintError("", std::string("internal error: ") + e.what(), kExitInternal);
  }
}
