// qlaster-bench --plot: draws the results into one PNG with gnuplot.
//
// Panels, in the order their results first appear, two to a row:
//   - latency distributions: one panel per scenario and wait mode; a line per result (and
//     per baseline) of its percentile curve, x on a "nines" axis (50, 90, 99, 99.9, ...;
//     the max sits at 1 - 1/samples), y in ns on a log scale. Same colour = same
//     parameters (e.g. size); one line pattern per subject (solid = qlaster); baselines
//     thinner.
//   - records/s and bytes/s bars (log scale), one panel per scenario and mode;
//   - ns/op bars (log scale, e.g. the filter), one panel per scenario and case.
// Parameters every line or bar of a panel shares go to the panel's title; the rest label
// each line or bar. Panels without data are left out.
//
// The data files and the script are written to a temporary directory, removed when gnuplot
// succeeds and kept (and named in the error) when it fails.
#include "tools/bench/plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "tools/bench/report.h"

extern char** environ;

namespace qlaster::bench {
namespace {

// What a panel shows.
enum class Kind { kLatency, kRecords, kBytes, kNsPerOp };

// Parameters that split panels (each value its own panel), besides the scenario.
const char* const kSplitParams[] = {"mode", "case"};

// tab10: distinct on white, and readable by most colour-blind people.
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kNumColors = sizeof(kColors) / sizeof(kColors[0]);

// Line patterns, one per subject: solid, dashed, dotted, dash-dot, long dash, dash-dot-dot.
const char* const kDashes[] = {"1", "(8,5)", "(2,4)", "(12,4,2,4)", "(24,6)", "(12,4,2,4,2,4)"};
constexpr size_t kNumDashes = sizeof(kDashes) / sizeof(kDashes[0]);

constexpr int kPanelWidth = 900;
constexpr int kPanelHeight = 560;

// "64 B" for sizes, "1M" / "100k" for round counts, else as printed in the table.
std::string ParamText(const std::string& key, const ParamValue& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) {
    if (key == "size" || absl::EndsWith(key, "_bytes")) return FormatSize(static_cast<uint64_t>(*i));
    if (*i >= 1'000'000 && *i % 1'000'000 == 0) return absl::StrCat(*i / 1'000'000, "M");
    if (*i >= 1000 && *i % 1000 == 0) return absl::StrCat(*i / 1000, "k");
    return absl::StrCat(*i);
  }
  if (const double* d = std::get_if<double>(&v)) return absl::StrFormat("%g", *d);
  return std::get<std::string>(v);
}

// One line or bar.
struct Item {
  std::string subject;
  std::vector<std::pair<std::string, std::string>> params;  // key, display text
  std::vector<std::pair<double, double>> xy;               // latency: (nines, seconds)
  double value = 0;                                        // bars: in the panel's unit
  std::string value_text;                                  // bars: "83 ns", "1.2 GB/s"
  std::string label;                                       // filled by Finish()
  std::string variant;                                     // label without the subject
  std::string color_key;                                   // lines of one colour share it
  bool baseline = false;                                   // drawn thinner
};

struct Panel {
  Kind kind;
  std::string scenario;
  std::vector<std::pair<std::string, std::string>> split;  // mode / case of this panel
  std::vector<Item> items;
  std::vector<std::string> seen;  // subject + params of each item, for de-duplication
  std::string title;              // filled by Finish()
};

std::string KindName(Kind k) {
  switch (k) {
    case Kind::kLatency:
      return "latency percentiles";
    case Kind::kRecords:
      return "records/s";
    case Kind::kBytes:
      return "bytes/s";
    case Kind::kNsPerOp:
      return "ns per operation";
  }
  return "";
}

bool HasData(const Result& r, Kind k) {
  switch (k) {
    case Kind::kLatency:
      return r.latency.has_value() && r.latency->samples > 0 && !r.latency->curve.empty();
    case Kind::kRecords:
      return r.records_per_s.has_value() && *r.records_per_s > 0;
    case Kind::kBytes:
      return r.bytes_per_s.has_value() && *r.bytes_per_s > 0;
    case Kind::kNsPerOp:
      return r.ns_per_op.has_value() && *r.ns_per_op > 0;
  }
  return false;
}

// The plotted points of a latency curve: x = -log10(1 - p/100) ("nines"), y in seconds.
// The max goes where the last sample sits, 1 - 1/samples; nothing is drawn past it.
std::vector<std::pair<double, double>> CurvePoints(const Latency& l) {
  std::vector<std::pair<double, double>> xy;
  const double last_x = l.samples > 1 ? std::log10(static_cast<double>(l.samples)) : 0;
  for (const auto& [p, ns] : l.curve) {
    if (p >= 100 || ns <= 0) continue;
    const double x = -std::log10(1 - p / 100);
    if (x > last_x + 1e-9) continue;
    xy.emplace_back(x, ns * 1e-9);
  }
  if (l.samples > 1 && l.max > 0) xy.emplace_back(last_x, l.max * 1e-9);
  return xy;
}

Item MakeItem(const Result& r, Kind k, bool baseline) {
  Item item;
  item.subject = r.subject;
  item.baseline = baseline;
  for (const auto& [key, v] : r.params) item.params.emplace_back(key, ParamText(key, v));
  switch (k) {
    case Kind::kLatency:
      item.xy = CurvePoints(*r.latency);
      break;
    case Kind::kRecords:
      item.value = *r.records_per_s;
      item.value_text = FormatRate(item.value);
      break;
    case Kind::kBytes:
      item.value = *r.bytes_per_s;
      item.value_text = FormatBytesRate(item.value);
      break;
    case Kind::kNsPerOp:
      item.value = *r.ns_per_op * 1e-9;  // seconds, so gnuplot's %c prints ns / us
      item.value_text = FormatNs(*r.ns_per_op);
      break;
  }
  return item;
}

class Panels {
 public:
  void Add(const Result& r) {
    for (Kind k : {Kind::kLatency, Kind::kRecords, Kind::kBytes, Kind::kNsPerOp}) {
      if (!HasData(r, k)) continue;
      Panel& p = PanelFor(r, k);
      AddItem(p, r, k, false);
      for (const Result& b : r.baseline) {
        if (HasData(b, k)) AddItem(p, b, k, true);
      }
    }
  }

  std::vector<Panel>& panels() { return panels_; }

 private:
  Panel& PanelFor(const Result& r, Kind k) {
    std::vector<std::pair<std::string, std::string>> split;
    for (const char* name : kSplitParams) {
      if (const ParamValue* v = r.FindParam(name)) split.emplace_back(name, ParamText(name, *v));
    }
    std::string key = absl::StrCat(static_cast<int>(k), "\x1f", r.scenario);
    for (const auto& [n, v] : split) absl::StrAppend(&key, "\x1f", n, "=", v);
    auto [it, inserted] = index_.try_emplace(key, panels_.size());
    if (inserted) {
      panels_.push_back(Panel{.kind = k, .scenario = r.scenario, .split = std::move(split), .items = {},
                              .seen = {}, .title = ""});
    }
    return panels_[it->second];
  }

  static void AddItem(Panel& p, const Result& r, Kind k, bool baseline) {
    Item item = MakeItem(r, k, baseline);
    std::string id = item.subject;
    for (const auto& [key, v] : item.params) absl::StrAppend(&id, "\x1f", key, "=", v);
    if (std::find(p.seen.begin(), p.seen.end(), id) != p.seen.end()) return;
    if (k == Kind::kLatency && item.xy.empty()) return;
    p.seen.push_back(std::move(id));
    p.items.push_back(std::move(item));
  }

  std::vector<Panel> panels_;
  std::map<std::string, size_t> index_;
};

// Moves the parameters shared by every item (and the split ones) into the panel title;
// labels each item with the rest.
void Finish(Panel& p) {
  std::vector<std::pair<std::string, std::string>> common;
  if (!p.items.empty()) {
    for (const auto& kv : p.items[0].params) {
      bool everywhere = std::all_of(p.items.begin(), p.items.end(), [&](const Item& it) {
        return std::find(it.params.begin(), it.params.end(), kv) != it.params.end();
      });
      bool is_split = std::find(p.split.begin(), p.split.end(), kv) != p.split.end();
      if (everywhere && !is_split) common.push_back(kv);
    }
  }
  std::vector<std::string> title_params;
  for (const auto& [k, v] : p.split) title_params.push_back(absl::StrCat(k, "=", v));
  for (const auto& [k, v] : common) title_params.push_back(absl::StrCat(k, "=", v));
  // "latency percentiles (mode=spin)", "throughput: bytes/s", "e2e: latency percentiles".
  const std::string kind = KindName(p.kind);
  p.title = absl::StartsWith(kind, p.scenario) ? kind : absl::StrCat(p.scenario, ": ", kind);
  if (!title_params.empty()) absl::StrAppend(&p.title, " (", absl::StrJoin(title_params, ", "), ")");
  for (Item& it : p.items) {
    std::vector<std::string> rest;
    for (const auto& kv : it.params) {
      const bool shown = std::find(common.begin(), common.end(), kv) != common.end() ||
                         std::find(p.split.begin(), p.split.end(), kv) != p.split.end();
      if (!shown) rest.push_back(absl::StrCat(kv.first, "=", kv.second));
    }
    it.variant = absl::StrJoin(rest, " ");
    it.label = it.variant.empty() ? it.subject : absl::StrCat(it.subject, " ", it.variant);
  }
  // Colours follow the varying parameters every item has (e.g. size, which the baselines
  // carry too, unlike mode or rate), so a result and its baselines share a colour.
  std::vector<std::string> color_params;
  if (!p.items.empty()) {
    for (const auto& [key, v] : p.items[0].params) {
      const bool in_all = std::all_of(p.items.begin(), p.items.end(), [&, &key = key](const Item& it) {
        return std::any_of(it.params.begin(), it.params.end(), [&](const auto& kv) { return kv.first == key; });
      });
      const bool shown = std::any_of(common.begin(), common.end(), [&](const auto& kv) { return kv.first == key; }) ||
                         std::any_of(p.split.begin(), p.split.end(), [&](const auto& kv) { return kv.first == key; });
      if (in_all && !shown) color_params.push_back(key);
    }
  }
  for (Item& it : p.items) {
    std::vector<std::string> values;
    for (const auto& [key, v] : it.params) {
      if (std::find(color_params.begin(), color_params.end(), key) != color_params.end()) values.push_back(v);
    }
    it.color_key = color_params.empty() ? it.variant : absl::StrJoin(values, " ");
  }
}

// A gnuplot string literal (noenhanced text, so only quotes and backslashes matter).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string Num(double d) { return absl::StrFormat("%.9g", d); }

// Index of `s` in `list`, appending it if absent.
size_t IndexOf(std::vector<std::string>& list, const std::string& s) {
  auto it = std::find(list.begin(), list.end(), s);
  if (it != list.end()) return static_cast<size_t>(it - list.begin());
  list.push_back(s);
  return list.size() - 1;
}

// Subjects in drawing order: qlaster first (solid lines, first colour of the bars).
std::vector<std::string> Subjects(const Panel& p) {
  std::vector<std::string> subjects{"qlaster"};
  for (const Item& it : p.items) IndexOf(subjects, it.subject);
  return subjects;
}

// Undoes what a previous panel set, so each panel starts from the same state.
std::string PanelPreamble(const Panel& p) {
  return absl::StrCat("unset label\nunset logscale\nset autoscale\nset key default\n",
                      "set xtics autofreq norotate font \",9\"\nset ytics autofreq font \",9\"\n",
                      "set title ", Quote(p.title), "\n");
}

// Writes the latency panel's data files and returns its gnuplot commands.
absl::StatusOr<std::string> LatencyPanel(const Panel& p, const std::string& dir, size_t n) {
  std::string gp = PanelPreamble(p);
  double max_x = 1;
  for (const Item& it : p.items) {
    for (const auto& xy : it.xy) max_x = std::max(max_x, xy.first);
  }
  absl::StrAppend(&gp, "set logscale y 10\n");
  absl::StrAppend(&gp, "set format y \"%.0s %cs\"\nset ylabel \"latency\"\n");
  absl::StrAppend(&gp, "set xlabel \"percentile\"\nset xrange [0:", Num(std::ceil(max_x * 10) / 10), "]\n");
  std::vector<std::string> tics{"\"50\" 0.30103"};
  const char* const names[] = {"90", "99", "99.9", "99.99", "99.999", "99.9999", "99.99999"};
  for (int nines = 1; nines <= 7 && nines <= std::ceil(max_x); ++nines) {
    tics.push_back(absl::StrCat("\"", names[nines - 1], "\" ", nines));
  }
  absl::StrAppend(&gp, "set xtics (", absl::StrJoin(tics, ", "), ") norotate\n");
  absl::StrAppend(&gp, "set grid xtics ytics nomxtics nomytics\nset mxtics 1\n");
  // Many curves: a smaller legend outside the plot, on the right.
  const bool crowded = p.items.size() > 8;
  absl::StrAppend(&gp, "set key outside right top vertical Left reverse noautotitle samplen 3 ",
                  crowded ? "font \",8\" spacing 0.85" : "font \",9\" spacing 1", "\n");

  std::vector<std::string> subjects = Subjects(p);
  std::vector<std::string> variants;
  std::vector<std::string> plots;
  for (size_t i = 0; i < p.items.size(); ++i) {
    const Item& it = p.items[i];
    const std::string file = absl::StrCat(dir, "/panel", n, "_curve", i, ".dat");
    std::string data = absl::StrCat("# ", it.label, "\n# nines seconds\n");
    for (const auto& [x, y] : it.xy) absl::StrAppend(&data, Num(x), " ", Num(y), "\n");
    QLASTER_RETURN_IF_ERROR(WriteFile(file, data));
    const size_t color = IndexOf(variants, it.color_key) % kNumColors;
    const size_t dash = IndexOf(subjects, it.subject) % kNumDashes;  // 0 (solid): qlaster
    plots.push_back(absl::StrCat(Quote(file), " using 1:2 with lines lw ", it.baseline ? "1.3" : "2.2",
                                 " dt ", kDashes[dash], " lc rgb \"", kColors[color], "\" title ",
                                 Quote(it.label)));
  }
  absl::StrAppend(&gp, "plot ", absl::StrJoin(plots, ", \\\n     "), "\n");
  return gp;
}

// A bar's tic label: qlaster bars by their parameters alone; baselines by name too.
std::string BarLabel(const Item& it) {
  return it.subject == "qlaster" && !it.variant.empty() ? it.variant : it.label;
}

// Writes the bar panel's data files (one per subject, for the legend) and returns its
// gnuplot commands. Bars sit at x = 0, 1, 2, ... in the order of the items.
absl::StatusOr<std::string> BarPanel(const Panel& p, const std::string& dir, size_t n) {
  std::string gp = PanelPreamble(p);
  double lo = p.items[0].value, hi = p.items[0].value;
  for (const Item& it : p.items) {
    lo = std::min(lo, it.value);
    hi = std::max(hi, it.value);
  }
  // Rotated tic labels when they would not fit side by side (about 7 px a character, and
  // the legend takes part of the width).
  size_t longest = 0;
  for (const Item& it : p.items) longest = std::max(longest, BarLabel(it).size());
  const bool rotate = p.items.size() * (longest + 2) * 7 > kPanelWidth * 6 / 10;
  // Log scale: a decade at or below half the smallest bar, and at least a decade below the
  // tallest (so the axis always shows two labelled tics); room above the tallest for its
  // value (rotated values need more).
  const double ymin = std::pow(10.0, std::floor(std::log10(std::min(lo / 2, hi / 10))));
  const double decades = std::log10(hi / ymin);
  const double headroom = rotate ? 0.16 : 0.07;  // fraction of the plot's height
  const double ymax = hi * std::pow(10.0, decades * headroom / (1 - headroom));
  absl::StrAppend(&gp, "set logscale y 10\nset yrange [", Num(ymin), ":", Num(ymax), "]\n");
  switch (p.kind) {
    case Kind::kRecords:
      absl::StrAppend(&gp, "set format y \"%.0s %c/s\"\nset ylabel \"records/s\"\n");
      break;
    case Kind::kBytes:
      absl::StrAppend(&gp, "set format y \"%.0s %cB/s\"\nset ylabel \"bytes/s\"\n");
      break;
    default:
      absl::StrAppend(&gp, "set format y \"%.0s %cs\"\nset ylabel \"time per operation\"\n");
      break;
  }
  absl::StrAppend(&gp, "set xlabel \"\"\nset xrange [-0.6:", Num(static_cast<double>(p.items.size()) - 0.4), "]\n");
  std::vector<std::string> tics;
  for (size_t i = 0; i < p.items.size(); ++i) tics.push_back(absl::StrCat(Quote(BarLabel(p.items[i])), " ", i));
  absl::StrAppend(&gp, "set xtics (", absl::StrJoin(tics, ", "), ") ",
                  rotate ? "rotate by 35 right font \",8\"" : "norotate font \",9\"", "\n");
  absl::StrAppend(&gp, "set grid noxtics ytics\n");
  // A legend only when baselines share the panel (one colour per subject).
  if (Subjects(p).size() > 1) {
    absl::StrAppend(&gp, "set key outside right top vertical Left reverse noautotitle font \",9\"\n");
  } else {
    absl::StrAppend(&gp, "unset key\n");
  }
  absl::StrAppend(&gp, "set style fill solid 0.85 border -1\nset boxwidth 0.7\n");
  // The value above each bar.
  for (size_t i = 0; i < p.items.size(); ++i) {
    const Item& it = p.items[i];
    absl::StrAppend(&gp, "set label ", i + 1, " ", Quote(it.value_text), " at ", i, ",", Num(it.value * 1.25),
                    rotate ? " rotate by 90 left" : " center", " font \",7\" front\n");
  }
  std::vector<std::string> subjects = Subjects(p);
  std::vector<std::string> plots;
  for (size_t s = 0; s < subjects.size(); ++s) {
    std::string data = absl::StrCat("# ", subjects[s], "\n# x value\n");
    bool any = false;
    for (size_t i = 0; i < p.items.size(); ++i) {
      if (p.items[i].subject != subjects[s]) continue;
      absl::StrAppend(&data, i, " ", Num(p.items[i].value), "\n");
      any = true;
    }
    if (!any) continue;
    const std::string file = absl::StrCat(dir, "/panel", n, "_bars", s, ".dat");
    QLASTER_RETURN_IF_ERROR(WriteFile(file, data));
    plots.push_back(absl::StrCat(Quote(file), " using 1:2 with boxes lc rgb \"", kColors[s % kNumColors],
                                 "\" title ", Quote(subjects[s])));
  }
  absl::StrAppend(&gp, "plot ", absl::StrJoin(plots, ", \\\n     "), "\n");
  return gp;
}

// The gnuplot executable on PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(std::string(dir), "/", name);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Runs `gnuplot script` with stdout and stderr into files of `dir`. Errors: kInternal with
// gnuplot's stderr when it fails.
absl::Status RunGnuplot(const std::string& gnuplot, const std::string& script, const std::string& dir) {
  const std::string err_path = dir + "/gnuplot.stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> argv{const_cast<char*>(gnuplot.c_str()), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid;
  const int rc = ::posix_spawn(&pid, gnuplot.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", gnuplot, ": ", std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid(gnuplot): ", std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  const std::string how = WIFEXITED(status) ? absl::StrCat("exited with status ", WEXITSTATUS(status))
                                            : absl::StrCat("was killed by signal ", WTERMSIG(status));
  return absl::InternalError(absl::StrCat("gnuplot ", how, " (script and data kept in ", dir, "): ",
                                          ReadAll(err_path)));
}

}  // namespace

absl::Status WritePlot(const std::vector<Result>& results, const std::string& png_path) {
  const std::string gnuplot = FindOnPath("gnuplot");
  if (gnuplot.empty()) return absl::FailedPreconditionError("gnuplot not found: apt-get install gnuplot-nox");

  Panels builder;
  for (const Result& r : results) builder.Add(r);
  std::vector<Panel>& panels = builder.panels();
  panels.erase(std::remove_if(panels.begin(), panels.end(), [](const Panel& p) { return p.items.empty(); }),
               panels.end());
  if (panels.empty()) {
    return absl::InvalidArgumentError("nothing to plot: no result has a latency, a rate or a cost per operation");
  }
  for (Panel& p : panels) Finish(p);

  std::string dir_template = (std::filesystem::temp_directory_path() / "qlaster-plot-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("mkdtemp ", dir_template));
  }
  const std::string dir = dir_template;

  const size_t cols = panels.size() > 1 ? 2 : 1;
  const size_t rows = (panels.size() + cols - 1) / cols;
  const std::string size = absl::StrCat(cols * kPanelWidth, ",", rows * kPanelHeight);
  std::string gp = absl::StrCat(
      "# qlaster-bench --plot\n",
      "set encoding utf8\nset micro\n",
      "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n",
      "  set terminal pngcairo size ", size, " font \"sans,10\" noenhanced background \"white\"\n",
      "} else {\n",
      "  set terminal png size ", size, " font \"sans,10\" noenhanced background \"white\"\n",
      "}\n",
      "set output ", Quote(png_path), "\n",
      "set multiplot layout ", rows, ",", cols, " title \"qlaster-bench\" font \",12\"\n",
      "set border 3\nset tics nomirror\n");
  for (size_t n = 0; n < panels.size(); ++n) {
    QLASTER_ASSIGN_OR_RETURN(std::string commands, panels[n].kind == Kind::kLatency ? LatencyPanel(panels[n], dir, n) : BarPanel(panels[n], dir, n));
    absl::StrAppend(&gp, "\n# panel ", n, "\n", commands);
  }
  absl::StrAppend(&gp, "\nunset multiplot\nset output\n");
  const std::string script = dir + "/plot.gp";
  QLASTER_RETURN_IF_ERROR(WriteFile(script, gp));
  QLASTER_RETURN_IF_ERROR(RunGnuplot(gnuplot, script, dir));
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return absl::OkStatus();
}

}  // namespace qlaster::bench
