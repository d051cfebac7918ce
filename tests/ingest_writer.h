// IngestWriter: a test's way to feed the real qlaster-sender, through the same shipped
// C header (qlaster/ingest.h) and inline writer that any external producer uses.
#ifndef QLASTER_TESTS_INGEST_WRITER_H_
#define QLASTER_TESTS_INGEST_WRITER_H_

#include <fcntl.h>
#include <sys/mman.h>

#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "absl/time/clock.h"
#include "qlaster/ingest.h"
#include "shm/mapped_region.h"
#include "wire/frame.h"

namespace qlaster::testing {

class IngestWriter {
 public:
  // Attaches to the ingest ring `name` created by a sender.
  static absl::StatusOr<IngestWriter> Attach(const std::string& name) {
    UniqueFd fd(::shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC, 0));
    if (!fd) return absl::NotFoundError(absl::StrCat("no ingest ring ", name));
    QLASTER_ASSIGN_OR_RETURN(size_t size, shm::FileSize(fd.get()));
    QLASTER_ASSIGN_OR_RETURN(shm::MappedRegion region, shm::MappedRegion::Map(fd.get(), size));
    auto* h = reinterpret_cast<qlaster_ingest_header*>(region.data());
    if (qlaster_ingest_check(h, size) != QLASTER_INGEST_OK) {
      return absl::DataLossError(absl::StrCat(name, " is not an ingest ring"));
    }
    IngestWriter w;
    w.writer_.header = h;
    w.writer_.position = h->write_pos.load();
    w.region_ = std::move(region);
    return w;
  }

  // Writes one update (encoded as the ingest ring wants: the frame without its 24-byte
  // header), waiting up to `timeout` for room.
  absl::Status Write(const EncodedUpdate& update, absl::Duration timeout = absl::Seconds(10)) {
    std::vector<uint8_t> frame = update.ToBytes(0, 0);
    return WriteRaw(static_cast<uint32_t>(update.kind()),
                    absl::MakeConstSpan(frame).subspan(kFrameHeaderSize), timeout);
  }

  absl::Status WriteRaw(uint32_t schema, absl::Span<const uint8_t> payload,
                        absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      int rc = qlaster_ingest_write(&writer_, schema, payload.data(),
                                    static_cast<uint32_t>(payload.size()));
      if (rc == QLASTER_INGEST_OK) return absl::OkStatus();
      if (rc != QLASTER_INGEST_FULL) return absl::InvalidArgumentError("frame too large");
      if (absl::Now() > deadline) return absl::DeadlineExceededError("ingest ring stayed full");
      std::this_thread::yield();
    }
  }

  qlaster_ingest_writer& raw() { return writer_; }

 private:
  IngestWriter() = default;
  shm::MappedRegion region_;
  qlaster_ingest_writer writer_{};
};

}  // namespace qlaster::testing

#endif  // QLASTER_TESTS_INGEST_WRITER_H_
