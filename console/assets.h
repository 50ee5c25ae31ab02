// The console's static files (console/assets/ and Debian's Chart.js),
// compiled into the server by embed_assets.sh.
//
//   const Asset* page = FindAsset("index.html");

#ifndef JOBQUEUE_CONSOLE_ASSETS_H_
#define JOBQUEUE_CONSOLE_ASSETS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace jobqueue::console {

struct Asset {
  std::string name;  // base name: "index.html", "chart.min.js"
  std::string content_type;
  std::string body;
};

const std::vector<Asset>& EmbeddedAssets();

// The asset named `name`, or nullptr.
const Asset* FindAsset(absl::string_view name);

}  // namespace jobqueue::console

#endif  // JOBQUEUE_CONSOLE_ASSETS_H_
