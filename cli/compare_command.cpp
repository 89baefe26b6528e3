#include "compare_command.h"

#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "command_util.h"
#include "commands.h"
#include "formats/image_io.h"
#include "pixelzip/codec.h"

namespace pixelzip::cli {
namespace {

// ---- inputs ----

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool HasListedExtension(const std::string& name) {
  for (const char* ext : {".png", ".ppm", ".pgm", ".pnm"}) {
    if (EndsWithNoCase(name, ext)) return true;
  }
  return false;
}

// The images directly inside `dir` (regular files, or links to them), sorted by path.
std::vector<std::string> ListFolder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const std::string path = it->path().string();
    if (HasListedExtension(it->path().filename().string())) files.push_back(path);
  }
  if (ec) throw CommandError(dir, kExitIo, "cannot list the folder: " + ec.message());
  if (files.empty()) throw CommandError(dir, kExitUsage, "no *.png, *.ppm, *.pgm or *.pnm images in this folder");
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> ExpandInputs(const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw CommandError("", kExitUsage, "no images given");
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    if (input == "-") throw CommandError("<stdin>", kExitUsage, "compare reads files and folders, not stdin");
    if (IsDirectory(input)) {
      for (std::string& f : ListFolder(input)) files.push_back(std::move(f));
    } else {
      files.push_back(input);  // a missing or unreadable file fails when it is read
    }
  }
  return files;
}

bool IsPngFile(const std::vector<uint8_t>& bytes) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kSignature, 8) == 0;
}

// ---- the machine ----

struct Machine {
  std::string cpu;
  unsigned threads = 0;
};

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

Machine ThisMachine() {
  Machine m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (m.cpu.empty() && std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trim(line.substr(0, colon));
    if (key == "model name" || key == "Model" || key == "cpu model") m.cpu = Trim(line.substr(colon + 1));
  }
  if (m.cpu.empty()) m.cpu = "unknown";
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) m.threads = static_cast<unsigned>(CPU_COUNT(&set));
  if (m.threads == 0) m.threads = std::thread::hardware_concurrency();
  return m;
}

// ---- measuring ----

// What one order measured on an image, or summed over images.
struct Coded {
  uint64_t bytes = 0;          // the whole .pxz file
  uint64_t payload_bytes = 0;  // its range-coded payload (the file less its header)
  double model_bits = 0;       // the integer model's ideal code length -log2 p(x), alpha coder included
  double encode_s = 0, decode_s = 0;

  void Add(const Coded& other) {
    bytes += other.bytes;
    payload_bytes += other.payload_bytes;
    model_bits += other.model_bits;
    encode_s += other.encode_s;
    decode_s += other.decode_s;
  }
};

struct OrderResult : Coded {
  bool available = false;
  std::string reason;  // why not, when not available
  std::string model;   // architecture named in the stream header
  std::string model_label;  // architecture and the start of the weights hash
};

struct Row {
  std::string name;
  uint32_t width = 0, height = 0, channels = 0;
  uint64_t subpixels = 0;
  std::optional<uint64_t> png_given;  // the file's size, when it is a PNG
  uint64_t png9 = 0;                  // libpng at level 9
  std::vector<OrderResult> orders;    // one per requested order

  uint64_t BestPng() const { return png_given ? std::min(*png_given, png9) : png9; }
};

std::string ModelLabel(const StreamInfo& info) {
  char hash[13];
  for (int i = 0; i < 6; ++i) std::snprintf(hash + 2 * i, 3, "%02x", info.weights_sha256[static_cast<size_t>(i)]);
  return info.architecture + " (weights " + hash + "...)";
}

class Measurer {
 public:
  Measurer(const CompareOptions& o, std::vector<Order> orders, double total_work)
      : o_(o), orders_(std::move(orders)), device_(ParseDevice(o.device)), total_work_(total_work),
        bar_("compare"), overall_(bar_.Callback()) {
    bar_.SetMegapixels(total_work_ / 1e6);
  }

  Row Measure(const std::string& path) {
    Row row;
    row.name = DisplayName(path, false);
    const std::string& name = row.name;
    bar_.SetLabel(name);
    Report(done_);
    const std::vector<uint8_t> bytes = WithFile(name, [&] { return ReadInput(path); });
    // The source's format (maxval, PNG colour type and palette) as compress records it; the
    // metadata is left out (as compress --strip does).
    ImageMetadata metadata;
    const Image image = WithFile(name, [&] { return ReadImageBytes(bytes.data(), bytes.size(), name, &metadata); });
    source_ = metadata.source;
    row.width = image.width;
    row.height = image.height;
    row.channels = image.channels;
    row.subpixels = image.SubpixelCount();
    if (IsPngFile(bytes)) row.png_given = bytes.size();
    row.png9 = WithFile(name, [&] { return EncodePng(image, 9); }).size();
    // All encodes first, then the decodes: an order that turns out n/a leaves
    // the run early, so the bar does not stop short of the end.
    const double step = double(image.width) * image.height;  // work units (pixels) of one encode or decode
    std::vector<std::vector<uint8_t>> streams(orders_.size());
    row.orders.resize(orders_.size());
    for (size_t k = 0; k < orders_.size(); ++k) {
      streams[k] = EncodeStep(name, image, orders_[k], step, row.orders[k]);
      if (row.orders[k].available) {
        done_ += step;
      } else {
        total_work_ -= 2 * step;  // not coded: the bar measures the work that is left
        bar_.SetMegapixels(total_work_ / 1e6);
      }
    }
    for (size_t k = 0; k < orders_.size(); ++k) {
      if (!row.orders[k].available) continue;
      DecodeStep(name, image, orders_[k], step, streams[k], row.orders[k]);
      done_ += step;
    }
    return row;
  }

  void ClearProgress() { bar_.Clear(); }

 private:
  // `done` in work units (pixels coded or decoded) of the whole run.
  void Report(double done) {
    if (overall_) overall_(total_work_ > 0 ? std::min(done / total_work_, 1.0) : 1.0);
  }
  // A callback mapping one step's own fraction onto work units [from, from + span].
  Progress Stage(double from, double span) {
    if (!overall_) return {};
    return [this, from, span](double f) { Report(from + span * std::clamp(f, 0.0, 1.0)); };
  }

  // Encodes in `order`, timed; an order or model that does not code the image
  // (kUnsupported) leaves r.available false with the reason. Returns the stream.
  std::vector<uint8_t> EncodeStep(const std::string& name, const Image& image, Order order, double step,
                                  OrderResult& r) {
    EncodeOptions eo;
    eo.source = source_;
    eo.model = o_.model;
    eo.order = order;
    eo.adaptive = !o_.no_adaptive;
    if (o_.no_fallback) eo.fallback = Fallback::kOff;
    eo.adaptive_kind = static_cast<uint8_t>(o_.stage_kind);
    eo.device = device_;
    eo.threads = o_.threads;
    eo.progress = Stage(done_, step);
    bar_.SetLabel(name + " " + OrderName(order) + " encode");
    Report(done_);
    std::vector<uint8_t> stream;
    try {
      WithFile(name, [&] {
        const auto start = Clock::now();
        try {
          EncodeResult encoded = Encode(image, eo);
          r.encode_s = SecondsSince(start);
          stream = std::move(encoded.stream);
          r.model_bits = encoded.model_bits;
          r.available = true;
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kUnsupported) throw;
          r.reason = e.what();  // n/a
        }
      });
    } catch (const CommandError& e) {
      RethrowBlamingModel(e, o_.model);
    }
    if (r.available) {
      const StreamInfo info = WithFile(name, [&] { return ReadStreamInfo(stream.data(), stream.size()); });
      r.bytes = stream.size();
      r.payload_bytes = info.payload_bytes;
      r.model = info.architecture;
      r.model_label = ModelLabel(info);
    }
    return stream;
  }

  // Decodes `stream`, timed, and checks it gives `image` back.
  void DecodeStep(const std::string& name, const Image& image, Order order, double step,
                  const std::vector<uint8_t>& stream, OrderResult& r) {
    const std::string order_name = OrderName(order);
    DecodeOptions dopt;
    dopt.model = o_.model;
    dopt.device = device_;
    dopt.threads = o_.threads;
    dopt.progress = Stage(done_, step);
    bar_.SetLabel(name + " " + order_name + " decode");
    Report(done_);
    Image decoded;
    try {
      WithFile(name, [&] {
        const auto start = Clock::now();
        try {
          decoded = Decode(stream, dopt);
          r.decode_s = SecondsSince(start);
        } catch (const Error& e) {
          throw Error(e.code(), "decoding its " + order_name + " stream: " + e.what());
        }
      });
    } catch (const CommandError& e) {
      RethrowBlamingModel(e, o_.model);
    }
    if (!(decoded == image)) {
      throw CommandError(name, kExitInternal,
                         "internal error: its " + order_name +
                             " stream decodes to different pixels (a bug: please report it)");
    }
  }

  const CompareOptions& o_;
  std::vector<Order> orders_;
  Device device_;
  double total_work_;  // work units: pixels x 2 (encode, decode) x orders, less what was not coded
  double done_ = 0;    // work units finished
  ProgressBar bar_;
  Progress overall_;
  SourceFormat source_;  // of the image Measure is at
};

// ---- totals ----

struct OrderTotal : Coded {
  bool available = false;  // every image coded in this order
};

struct Total {
  size_t images = 0;
  uint64_t subpixels = 0;
  std::optional<uint64_t> png_given;  // every image was a PNG
  uint64_t png9 = 0, best_png = 0;
  std::vector<OrderTotal> orders;
};

Total Sum(const std::vector<Row>& rows, size_t order_count) {
  Total t;
  t.images = rows.size();
  t.png_given = 0;
  OrderTotal all_coded;
  all_coded.available = true;
  t.orders.assign(order_count, all_coded);
  for (const Row& row : rows) {
    t.subpixels += row.subpixels;
    if (t.png_given && row.png_given) {
      *t.png_given += *row.png_given;
    } else {
      t.png_given.reset();
    }
    t.png9 += row.png9;
    t.best_png += row.BestPng();
    for (size_t k = 0; k < order_count; ++k) {
      const OrderResult& r = row.orders[k];
      OrderTotal& s = t.orders[k];
      s.available = s.available && r.available;
      s.Add(r);
    }
  }
  return t;
}

// ---- text output ----

std::string Fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

double Ratio(uint64_t bytes, uint64_t png_bytes) {
  return png_bytes == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(png_bytes);
}

// How much longer the payload is than the model's ideal code length, in percent
// of the latter; nullopt when the model assigned no bits at all.
std::optional<double> OverheadPercent(const Coded& c) {
  if (!(c.model_bits > 0)) return std::nullopt;
  return 100.0 * (8.0 * static_cast<double>(c.payload_bytes) - c.model_bits) / c.model_bits;
}

const char* const kOrderHeaders[] = {"bpsp", "ratio", "payload bits", "model bits", "ovh %", "enc s", "dec s"};

std::vector<std::string> OrderCells(bool available, const Coded& c, uint64_t subpixels, uint64_t png_bytes) {
  if (!available) return std::vector<std::string>(std::size(kOrderHeaders), "n/a");
  const std::optional<double> overhead = OverheadPercent(c);
  return {Fixed(BitsPerSubpixel(c.bytes, subpixels), 4),
          Fixed(Ratio(c.bytes, png_bytes), 3),
          std::to_string(8 * c.payload_bytes),
          Fixed(c.model_bits, 1),
          overhead ? Fixed(*overhead, 4) : "n/a",
          Fixed(c.encode_s, 3),
          Fixed(c.decode_s, 3)};
}

// "name: model; n/a: reason" per order, each distinct model and reason once.
std::string DescribeOrder(const std::vector<Row>& rows, size_t k) {
  std::vector<std::string> models, reasons;
  for (const Row& row : rows) {
    const OrderResult& r = row.orders[k];
    std::vector<std::string>& list = r.available ? models : reasons;
    const std::string& item = r.available ? r.model_label : r.reason;
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
  }
  std::string text;
  for (const std::string& m : models) text += (text.empty() ? "" : ", ") + m;
  if (!reasons.empty()) {
    text += text.empty() ? "n/a: " : "; n/a for some images: ";
    for (size_t i = 0; i < reasons.size(); ++i) text += (i ? "; " : "") + reasons[i];
  }
  return text;
}

void PrintText(const std::vector<Row>& rows, const Total& total, const std::vector<Order>& orders,
               const Machine& machine, const CompareOptions& o) {
  struct Column {
    std::string group, header;
    bool left;
  };
  std::vector<Column> columns = {{"", "image", true}, {"", "size", true}, {"PNG bpsp", "given", false},
                                 {"PNG bpsp", "-9", false}};
  for (Order order : orders) {
    for (const char* h : kOrderHeaders) columns.push_back({OrderName(order), h, false});
  }

  std::vector<std::vector<std::string>> cells;
  for (const Row& row : rows) {
    std::vector<std::string> line = {
        row.name, std::to_string(row.width) + "x" + std::to_string(row.height) + "x" + std::to_string(row.channels),
        row.png_given ? Fixed(BitsPerSubpixel(*row.png_given, row.subpixels), 4) : "n/a",
        Fixed(BitsPerSubpixel(row.png9, row.subpixels), 4)};
    for (const OrderResult& r : row.orders) {
      for (std::string& c : OrderCells(r.available, r, row.subpixels, row.BestPng())) line.push_back(std::move(c));
    }
    cells.push_back(std::move(line));
  }
  {
    std::vector<std::string> line = {"total", "",
                                     total.png_given ? Fixed(BitsPerSubpixel(*total.png_given, total.subpixels), 4)
                                                     : "n/a",
                                     Fixed(BitsPerSubpixel(total.png9, total.subpixels), 4)};
    for (const OrderTotal& s : total.orders) {
      for (std::string& c : OrderCells(s.available, s, total.subpixels, total.best_png)) line.push_back(std::move(c));
    }
    cells.push_back(std::move(line));
  }

  // Widths: the widest cell or header; a group's label may widen its last column.
  std::vector<size_t> width(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    width[i] = columns[i].header.size();
    for (const auto& line : cells) width[i] = std::max(width[i], line[i].size());
  }
  auto separator = [&](size_t i) -> size_t {
    return i == 0 ? 0 : (columns[i].group != columns[i - 1].group ? 4 : 2);
  };
  for (size_t i = 0; i < columns.size();) {
    size_t j = i, span = width[i];
    while (j + 1 < columns.size() && columns[j + 1].group == columns[i].group) {
      ++j;
      span += separator(j) + width[j];
    }
    if (columns[i].group.size() > span) width[j] += columns[i].group.size() - span;
    i = j + 1;
  }
  auto format_line = [&](const std::vector<std::string>& line) {
    std::string text;
    for (size_t i = 0; i < columns.size(); ++i) {
      text.append(separator(i), ' ');
      const std::string pad(width[i] - std::min(width[i], line[i].size()), ' ');
      text += columns[i].left ? line[i] + pad : pad + line[i];
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  };

  std::printf("cpu: %s, %u threads\n", machine.cpu.c_str(), machine.threads);
  std::printf("device: %s\n", o.device.c_str());
  for (size_t k = 0; k < orders.size(); ++k) {
    std::printf("%s: %s\n", OrderName(orders[k]), DescribeOrder(rows, k).c_str());
  }
  std::printf("\n");
  std::string groups;
  for (size_t i = 0, offset = 0; i < columns.size(); ++i) {
    offset += separator(i);
    if (!columns[i].group.empty() && (i == 0 || columns[i].group != columns[i - 1].group)) {
      groups.append(offset - std::min(offset, groups.size()), ' ');
      groups += columns[i].group;
    }
    offset += width[i];
  }
  std::printf("%s\n", groups.c_str());
  std::vector<std::string> headers;
  for (const Column& c : columns) headers.push_back(c.header);
  std::printf("%s\n", format_line(headers).c_str());
  for (const auto& line : cells) std::printf("%s\n", format_line(line).c_str());
  std::fputs(
      "\nbpsp: bits per subpixel (file bytes x 8 / subpixels, alpha included). PNG given: the file as given "
      "(PNG only); -9: re-encoded by libpng at level 9.\n"
      "ratio: pixelzip's bytes / the smaller PNG's. payload bits: the range-coded payload (the .pxz less its "
      "header).\n"
      "model bits: the integer model's ideal code length -log2 p(x), from the CDFs the encoder coded with; "
      "ovh %: (payload - model) / model.\n"
      "enc s, dec s: seconds; every stream was decoded and checked identical.\n",
      stdout);
}

// ---- JSON output ----

// A JSON string literal: quotes, backslashes and control characters escaped;
// bytes that are not valid UTF-8 become U+FFFD.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      // Length and minimum code point of a UTF-8 sequence starting with c.
      size_t length = 0;
      uint32_t code = 0, minimum = 0;
      if ((c & 0xe0) == 0xc0) {
        length = 2, code = c & 0x1f, minimum = 0x80;
      } else if ((c & 0xf0) == 0xe0) {
        length = 3, code = c & 0x0f, minimum = 0x800;
      } else if ((c & 0xf8) == 0xf0) {
        length = 4, code = c & 0x07, minimum = 0x10000;
      }
      bool valid = length > 0 && i + length <= s.size();
      for (size_t k = 1; valid && k < length; ++k) {
        const unsigned char d = static_cast<unsigned char>(s[i + k]);
        valid = (d & 0xc0) == 0x80;
        code = (code << 6) | (d & 0x3f);
      }
      valid = valid && code >= minimum && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
      if (valid) {
        out.append(s, i, length);
        i += length;
      } else {
        out += "\\ufffd";
        ++i;
      }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) { return Fixed(value, 6); }

class JsonObject {
 public:
  JsonObject& Raw(const std::string& key, const std::string& value) {
    text_ += (text_.empty() ? "{" : ", ") + JsonString(key) + ": " + value;
    return *this;
  }
  JsonObject& Int(const std::string& key, uint64_t value) { return Raw(key, std::to_string(value)); }
  JsonObject& Num(const std::string& key, double value) { return Raw(key, JsonNumber(value)); }
  JsonObject& Str(const std::string& key, const std::string& value) { return Raw(key, JsonString(value)); }
  std::string Close() const { return text_.empty() ? "{}" : text_ + "}"; }

 private:
  std::string text_;
};

void AddOrderFields(JsonObject& json, const std::string& prefix, bool available, const std::string* model,
                    const Coded& c, uint64_t subpixels, uint64_t png_bytes) {
  if (model) {
    if (available) {
      json.Str(prefix + "_model", *model);
    } else {
      json.Raw(prefix + "_model", "null");
    }
  }
  if (!available) {
    for (const char* key : {"_bytes", "_bpsp", "_ratio_to_png", "_payload_bits", "_model_bits",
                            "_overhead_percent", "_encode_s", "_decode_s"}) {
      json.Raw(prefix + key, "null");
    }
    return;
  }
  const std::optional<double> overhead = OverheadPercent(c);
  json.Int(prefix + "_bytes", c.bytes)
      .Num(prefix + "_bpsp", BitsPerSubpixel(c.bytes, subpixels))
      .Num(prefix + "_ratio_to_png", Ratio(c.bytes, png_bytes))
      .Int(prefix + "_payload_bits", 8 * c.payload_bytes)
      .Num(prefix + "_model_bits", c.model_bits)
      .Raw(prefix + "_overhead_percent", overhead ? JsonNumber(*overhead) : "null")
      .Num(prefix + "_encode_s", c.encode_s)
      .Num(prefix + "_decode_s", c.decode_s);
}

void AddPngFields(JsonObject& json, const std::optional<uint64_t>& given, uint64_t png9, uint64_t best,
                  uint64_t subpixels) {
  if (given) {
    json.Int("png_given_bytes", *given).Num("png_given_bpsp", BitsPerSubpixel(*given, subpixels));
  } else {
    json.Raw("png_given_bytes", "null").Raw("png_given_bpsp", "null");
  }
  json.Int("png9_bytes", png9).Num("png9_bpsp", BitsPerSubpixel(png9, subpixels)).Int("png_best_bytes", best);
}

void PrintJson(const std::vector<Row>& rows, const Total& total, const std::vector<Order>& orders,
               const Machine& machine, const CompareOptions& o) {
  std::string out = "{\"images\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    JsonObject json;
    json.Str("file", row.name)
        .Int("width", row.width)
        .Int("height", row.height)
        .Int("channels", row.channels)
        .Int("subpixels", row.subpixels);
    AddPngFields(json, row.png_given, row.png9, row.BestPng(), row.subpixels);
    for (size_t k = 0; k < orders.size(); ++k) {
      const OrderResult& r = row.orders[k];
      AddOrderFields(json, OrderName(orders[k]), r.available, &r.model, r, row.subpixels, row.BestPng());
    }
    out += (i == 0 ? "\n  " : ",\n  ") + json.Close();
  }
  out += "\n ],\n \"total\": ";
  JsonObject json;
  json.Int("images", total.images).Int("subpixels", total.subpixels);
  AddPngFields(json, total.png_given, total.png9, total.best_png, total.subpixels);
  for (size_t k = 0; k < orders.size(); ++k) {
    const OrderTotal& s = total.orders[k];
    AddOrderFields(json, OrderName(orders[k]), s.available, nullptr, s, total.subpixels, total.best_png);
  }
  out += json.Close();
  out += ",\n \"machine\": " + JsonObject().Str("cpu", machine.cpu).Int("threads", machine.threads).Close();
  JsonObject request;
  request.Str("model", o.model).Str("device", o.device);
  std::string order_list;
  for (Order order : orders) order_list += (order_list.empty() ? "" : ", ") + JsonString(OrderName(order));
  request.Raw("orders", "[" + order_list + "]");
  out += ",\n \"options\": " + request.Close() + "}\n";
  std::fputs(out.c_str(), stdout);
}

}  // namespace

int RunCompareRates(const CompareOptions& o) {
  std::vector<Order> orders;
  if (o.order == "both") {
    orders = {Order::kRaster, Order::kMultiscale};
  } else {
    orders = {ParseOrder(o.order)};
  }
  ParseDevice(o.device);

  // Every image is read and checked before any work, so that a bad one fails at once.
  const std::vector<std::string> files = ExpandInputs(o.inputs);
  double pixels = 0;
  for (const std::string& path : files) {
    const std::string name = DisplayName(path, false);
    const std::vector<uint8_t> bytes = WithFile(name, [&] { return ReadInput(path); });
    const Image image = WithFile(name, [&] { return ReadImageBytes(bytes.data(), bytes.size(), name); });
    pixels += double(image.width) * image.height;
  }

  Measurer measurer(o, orders, pixels * 2.0 * static_cast<double>(orders.size()));
  std::vector<Row> rows;
  for (const std::string& path : files) rows.push_back(measurer.Measure(path));
  measurer.ClearProgress();

  // Nothing coded at all (e.g. only an order no model has): that is the error, not a table of n/a.
  const bool any = std::any_of(rows.begin(), rows.end(), [](const Row& row) {
    return std::any_of(row.orders.begin(), row.orders.end(), [](const OrderResult& r) { return r.available; });
  });
  if (!any) {
    RethrowBlamingModel(CommandError(rows.front().name, kExitUnsupported, rows.front().orders.front().reason),
                        o.model);
  }

  const Total total = Sum(rows, orders.size());
  const Machine machine = ThisMachine();
  if (o.json) {
    PrintJson(rows, total, orders, machine, o);
  } else {
    PrintText(rows, total, orders, machine, o);
  }
  std::fflush(stdout);
  if (std::ferror(stdout)) throw CommandError("<stdout>", kExitIo, "cannot write");
  return kExitOk;
}

}  // namespace pixelzip::cli
