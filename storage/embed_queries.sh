#!/bin/sh
# Writes a C++ source defining EmbeddedQueries() with the named blocks of
# the given .sql files (see storage/queries/), so the binary carries the
# statements it runs. A block starts at a line "-- name: NAME"; the comment
# lines right after it document it; its statement runs to the last line
# ending in ";" before the next block (the ";" is dropped). Fails on a
# duplicate or malformed name, a block without a statement, or text outside
# a block other than comments.
# Usage: embed_queries.sh OUT.cc FILE.sql...
set -eu
out=$1
shift
{
  echo '#include "storage/named_queries.h"'
  echo 'namespace jobqueue {'
  echo 'const std::vector<NamedQuery>& EmbeddedQueries() {'
  echo '  static const auto* queries = new std::vector<NamedQuery>{'
  awk '
    function fail(msg) {
      printf "embed_queries.sh: %s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
      failed = 1
      exit 1
    }
    function flush(   i, last) {
      if (name == "") return
      last = n
      while (last > 0 && (body[last] ~ /^[ \t]*$/ || body[last] ~ /^[ \t]*--/)) last--
      if (last == 0) fail("block " name " has no statement")
      if (body[last] !~ /;[ \t]*$/) fail("block " name " does not end with ;")
      sub(/;[ \t]*$/, "", body[last])
      printf "{\"%s\", \"%s\", R\"jqsql(", name, file
      for (i = 1; i <= last; i++) printf "%s%s", body[i], (i < last ? "\n" : "")
      printf ")jqsql\"},\n"
      name = ""
    }
    FNR == 1 { flush(); file = FILENAME; sub(/.*\//, "", file) }
    /\)jqsql"/ { fail("contains the delimiter )jqsql\"") }
    /^-- name:/ {
      flush()
      name = $3
      if (NF != 3 || name !~ /^[a-z][a-z0-9_]*$/) fail("malformed name line")
      if (name in seen) fail("duplicate name " name " (first in " seen[name] ")")
      seen[name] = file
      n = 0
      doc = 1
      next
    }
    name == "" {
      if ($0 !~ /^[ \t]*$/ && $0 !~ /^[ \t]*--/) fail("statement outside a named block")
      next
    }
    doc && /^[ \t]*--/ { next }
    { doc = 0; body[++n] = $0 }
    END { if (!failed) flush() }
  ' "$@"
  echo '  };'
  echo '  return *queries;'
  echo '}'
  echo '}  // namespace jobqueue'
} > "$out"
