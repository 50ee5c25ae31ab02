#include "console/assets.h"

namespace jobqueue::console {

const Asset* FindAsset(absl::string_view name) {
  for (const Asset& asset : EmbeddedAssets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

}  // namespace jobqueue::console
