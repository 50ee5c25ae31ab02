// libFuzzer target: a spool file's bytes, which may be anything after a crash,
// a full disk or an operator's edit. ReadSpoolFile reads them from disk;
// ParseSpoolFile must tell the same, and every byte must be accounted for as a
// record frame, damage or the torn tail.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "shim/spool/spool_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jobqueue::shim;
  static const std::string* path = [] {
    const char* tmp = getenv("TMPDIR");
    return new std::string(std::string(tmp && *tmp ? tmp : "/tmp") +
                           "/spool_file_fuzzer." + std::to_string(getpid()) +
                           ".spool");
  }();
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  FILE* file = fopen(path->c_str(), "wb");
  if (file == nullptr) std::abort();
  if (size > 0 && fwrite(data, 1, size, file) != size) std::abort();
  fclose(file);
  absl::StatusOr<SpoolFileContents> read = ReadSpoolFile(*path);
  if (!read.ok()) std::abort();  // the file is there and readable
  SpoolFileContents parsed = ParseSpoolFile(bytes);
  if (read->records != parsed.records || read->offsets != parsed.offsets ||
      read->damaged.size() != parsed.damaged.size() ||
      read->torn_tail != parsed.torn_tail || read->version != parsed.version) {
    std::abort();
  }
  if (parsed.records.size() != parsed.offsets.size()) std::abort();
  for (size_t i = 0; i < parsed.offsets.size(); ++i) {
    if (parsed.offsets[i] >= size) std::abort();
    if (i > 0 && parsed.offsets[i] <= parsed.offsets[i - 1]) std::abort();
  }
  for (const SpoolFileDamage& damage : parsed.damaged) {
    if (damage.offset > size || damage.bytes.size() > size - damage.offset)
      std::abort();
    if (bytes.substr(damage.offset, damage.bytes.size()) != damage.bytes)
      std::abort();
  }
  if (parsed.torn_tail && *parsed.torn_tail > size) std::abort();
  return 0;
}
