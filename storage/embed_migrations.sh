#!/bin/sh
# Writes a C++ source defining EmbeddedMigrationFiles() with the contents of
# the given .sql files, so the server binary carries its own schema.
# Usage: embed_migrations.sh OUT.cc FILE.sql...
set -eu
out=$1
shift
{
  echo '#include "storage/embedded_migrations.h"'
  echo 'namespace jobqueue {'
  echo 'const std::vector<MigrationFile>& EmbeddedMigrationFiles() {'
  echo '  static const auto* files = new std::vector<MigrationFile>{'
  for f in "$@"; do
    if grep -q ')jqsql"' "$f"; then
      echo "embed_migrations.sh: $f contains the delimiter )jqsql\"" >&2
      exit 1
    fi
    printf '{"%s", R"jqsql(' "$(basename "$f")"
    cat "$f"
    printf ')jqsql"},\n'
  done
  echo '  };'
  echo '  return *files;'
  echo '}'
  echo '}  // namespace jobqueue'
} > "$out"
