// qlaster-bench output: latency summaries, the stdout table and the JSON file.
#include "tools/bench/report.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace qlaster::bench {

namespace {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least p% of samples at or below it.
  double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

std::string ParamText(const ParamValue& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  if (const double* d = std::get_if<double>(&v)) return absl::StrFormat("%g", *d);
  return std::get<std::string>(v);
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double d) {
  if (!std::isfinite(d)) return "null";
  return absl::StrFormat("%.10g", d);
}

std::string JsonParam(const ParamValue& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  if (const double* d = std::get_if<double>(&v)) return JsonNumber(*d);
  return JsonString(std::get<std::string>(v));
}

std::string JsonObject(const Result& r, bool nested) {
  std::vector<std::string> fields;
  if (!nested) fields.push_back(absl::StrCat("\"scenario\": ", JsonString(r.scenario)));
  fields.push_back(absl::StrCat("\"subject\": ", JsonString(r.subject)));
  for (const auto& [k, v] : r.params) fields.push_back(absl::StrCat(JsonString(k), ": ", JsonParam(v)));
  if (r.latency) {
    const Latency& l = *r.latency;
    fields.push_back(absl::StrCat("\"samples\": ", l.samples));
    for (auto [name, value] : {std::pair{"min_ns", l.min}, {"p50_ns", l.p50}, {"p90_ns", l.p90},
                               {"p99_ns", l.p99}, {"p999_ns", l.p999}, {"p9999_ns", l.p9999},
                               {"max_ns", l.max}, {"mean_ns", l.mean}}) {
      fields.push_back(absl::StrCat("\"", name, "\": ", JsonNumber(value)));
    }
  }
  if (r.records_per_s) fields.push_back(absl::StrCat("\"records_per_s\": ", JsonNumber(*r.records_per_s)));
  if (r.bytes_per_s) fields.push_back(absl::StrCat("\"bytes_per_s\": ", JsonNumber(*r.bytes_per_s)));
  if (r.ns_per_op) fields.push_back(absl::StrCat("\"ns_per_op\": ", JsonNumber(*r.ns_per_op)));
  for (const auto& [k, v] : r.metrics) fields.push_back(absl::StrCat(JsonString(k), ": ", JsonNumber(v)));
  if (!nested) {
    std::vector<std::string> base;
    for (const Result& b : r.baseline) base.push_back(JsonObject(b, true));
    fields.push_back(absl::StrCat("\"baseline\": [", absl::StrJoin(base, ", "), "]"));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ", "), "}");
}

// The headline number of a result, for ratios: the rate where there is one (a fan-out's
// latency at full speed is queueing, not speed), else p50, else the cost per operation.
std::optional<double> Headline(const Result& r) {
  if (r.records_per_s) return r.records_per_s;
  if (r.latency) return r.latency->p50;
  if (r.bytes_per_s) return r.bytes_per_s;
  return r.ns_per_op;
}

std::string Row(const Result& r, bool is_baseline) {
  std::vector<std::string> params;
  for (const auto& [k, v] : r.params) params.push_back(absl::StrCat(k, "=", ParamText(v)));
  std::string line = absl::StrFormat("  %-13s %-40s", is_baseline ? "  " + r.subject : r.subject,
                                     absl::StrJoin(params, " "));
  if (r.latency) {
    const Latency& l = *r.latency;
    absl::StrAppend(&line, absl::StrFormat(" p50 %9s  p90 %9s  p99 %9s  p99.9 %9s  p99.99 %9s  max %9s",
                                           FormatNs(l.p50), FormatNs(l.p90), FormatNs(l.p99),
                                           FormatNs(l.p999), FormatNs(l.p9999), FormatNs(l.max)));
  }
  if (r.records_per_s) absl::StrAppend(&line, absl::StrFormat(" %12s", FormatRate(*r.records_per_s)));
  if (r.bytes_per_s) absl::StrAppend(&line, absl::StrFormat(" %12s", FormatBytesRate(*r.bytes_per_s)));
  if (r.ns_per_op) absl::StrAppend(&line, absl::StrFormat(" %10s/op", FormatNs(*r.ns_per_op)));
  for (const auto& [k, v] : r.metrics) absl::StrAppend(&line, absl::StrFormat("  %s=%g", k, v));
  return line;
}

}  // namespace

Latency Latency::FromSamples(std::vector<double>& samples_ns) {
  Latency l;
  if (samples_ns.empty()) return l;
  std::sort(samples_ns.begin(), samples_ns.end());
  l.samples = samples_ns.size();
  l.min = samples_ns.front();
  l.max = samples_ns.back();
  l.p50 = Percentile(samples_ns, 50);
  l.p90 = Percentile(samples_ns, 90);
  l.p99 = Percentile(samples_ns, 99);
  l.p999 = Percentile(samples_ns, 99.9);
  l.p9999 = Percentile(samples_ns, 99.99);
  double sum = 0;
  for (double s : samples_ns) sum += s;
  l.mean = sum / static_cast<double>(samples_ns.size());
  // 0 .. 5 nines in steps of a tenth of a nine: percentile = 100 * (1 - 10^-x).
  for (int step = 0; step <= 50; ++step) {
    double p = 100.0 * (1.0 - std::pow(10.0, -step / 10.0));
    l.curve.emplace_back(p, Percentile(samples_ns, p));
  }
  l.curve.emplace_back(100.0, l.max);
  return l;
}

const ParamValue* Result::FindParam(const std::string& key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

const char* ModeName(WaitMode mode) {
  switch (mode) {
    case WaitMode::kSpin:
      return "spin";
    case WaitMode::kSpinThenSleep:
      return "hybrid";
    case WaitMode::kSleep:
      return "sleep";
  }
  return "unknown";
}

absl::Status PinToCpu(int cpu) {
  if (cpu < 0) return absl::OkStatus();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot pin to CPU ", cpu, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

AffinityGuard::AffinityGuard() { ok_ = ::sched_getaffinity(0, sizeof(saved_), &saved_) == 0; }
AffinityGuard::~AffinityGuard() {
  if (ok_) ::sched_setaffinity(0, sizeof(saved_), &saved_);
}

std::string FormatNs(double ns) {
  if (ns < 1e3) return absl::StrFormat("%.0f ns", ns);
  if (ns < 1e6) return absl::StrFormat("%.2f us", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.2f ms", ns / 1e6);
  return absl::StrFormat("%.2f s", ns / 1e9);
}

std::string FormatRate(double per_s) {
  if (per_s >= 1e6) return absl::StrFormat("%.2f M/s", per_s / 1e6);
  if (per_s >= 1e3) return absl::StrFormat("%.1f k/s", per_s / 1e3);
  return absl::StrFormat("%.0f /s", per_s);
}

std::string FormatBytesRate(double bytes_per_s) {
  if (bytes_per_s >= 1e9) return absl::StrFormat("%.2f GB/s", bytes_per_s / 1e9);
  return absl::StrFormat("%.0f MB/s", bytes_per_s / 1e6);
}

std::string FormatSize(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes >= 1024 && bytes % 1024 == 0) return absl::StrCat(bytes >> 10, " KiB");
  return absl::StrCat(bytes, " B");
}

std::string FormatTable(const std::vector<Result>& results) {
  std::string out;
  std::string scenario;
  for (const Result& r : results) {
    if (r.scenario != scenario) {
      scenario = r.scenario;
      absl::StrAppend(&out, "\n== ", scenario, "\n");
    }
    absl::StrAppend(&out, Row(r, false), "\n");
    std::optional<double> mine = Headline(r);
    for (const Result& b : r.baseline) {
      std::string line = Row(b, true);
      std::optional<double> theirs = Headline(b);
      if (mine && theirs && *theirs > 0) {
        absl::StrAppend(&line, absl::StrFormat("   qlaster/%s = %.2fx", b.subject, *mine / *theirs));
      }
      absl::StrAppend(&out, line, "\n");
    }
  }
  return out;
}

std::string FormatJson(const std::vector<Result>& results) {
  std::vector<std::string> objects;
  for (const Result& r : results) objects.push_back("  " + JsonObject(r, false));
  return absl::StrCat("[\n", absl::StrJoin(objects, ",\n"), "\n]\n");
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::InvalidArgumentError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  f << text;
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("writing ", path, " failed"));
  return absl::OkStatus();
}

}  // namespace qlaster::bench
