#!/bin/sh
# Writes a C++ source defining EmbeddedAssets() with the given files, so the
# server carries the console's pages and scripts and fetches nothing at run
# time. Each file is served as /console/assets/<its base name>.
# Usage: embed_assets.sh OUT.cc FILE...
set -eu
out=$1
shift
{
  echo '#include "console/assets.h"'
  echo 'namespace jobqueue::console {'
  echo 'namespace {'
  i=0
  for f in "$@"; do
    echo "const unsigned char kData$i[] = {"
    od -An -v -tx1 "$f" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
    echo '};'
    i=$((i + 1))
  done
  echo '}  // namespace'
  echo 'const std::vector<Asset>& EmbeddedAssets() {'
  echo '  static const auto* assets = new std::vector<Asset>{'
  i=0
  for f in "$@"; do
    name=$(basename "$f")
    case "$name" in
      *.html) type='text/html; charset=utf-8' ;;
      *.js) type='text/javascript; charset=utf-8' ;;
      *.css) type='text/css; charset=utf-8' ;;
      *.svg) type='image/svg+xml' ;;
      *.png) type='image/png' ;;
      *) echo "embed_assets.sh: no content type for $name" >&2; exit 1 ;;
    esac
    echo "    {\"$name\", \"$type\", std::string(reinterpret_cast<const char*>(kData$i), sizeof kData$i)},"
    i=$((i + 1))
  done
  echo '  };'
  echo '  return *assets;'
  echo '}'
  echo '}  // namespace jobqueue::console'
} >"$out"
