#!/bin/sh
# The layer rule (docs/architecture.md): messages/ includes only CAF and
# messages/; runtime/ never includes actors/ or CAF actor headers; http/
# (the Prometheus and HTTP endpoints) sits above actors/; nothing in
# the library includes tools/, tests/, bench/ or examples/. Prints every
# include that breaks it and fails.
cd "${1:-.}" || exit 2
bad=0
report() {
  echo "layer rule broken: $1"
  bad=1
}
for f in messages/*.hpp messages/*.cpp; do
  grep -n '^#include "' "$f" | grep -v '#include "messages/' |
    while IFS= read -r line; do echo "$f:$line"; done
done > /tmp/cafcache-layers.$$
for f in messages/*.hpp messages/*.cpp; do
  grep -n '^#include <' "$f" | grep -v '#include <caf/\|#include <[a-z_]*>' |
    while IFS= read -r line; do echo "$f:$line"; done
done >> /tmp/cafcache-layers.$$
for f in runtime/*.hpp runtime/*.cpp; do
  grep -n '^#include "actors/\|^#include <caf/.*actor\.hpp>\|^#include <caf/io/' "$f" |
    grep -v 'actor_system\|actor_clock\|actor_system_config' |
    while IFS= read -r line; do echo "$f:$line"; done
done >> /tmp/cafcache-layers.$$
for f in messages/* runtime/* actors/* http/*; do
  grep -n '^#include "\(tools\|tests\|bench\|examples\)/' "$f" |
    while IFS= read -r line; do echo "$f:$line"; done
done >> /tmp/cafcache-layers.$$
while IFS= read -r line; do report "$line"; done < /tmp/cafcache-layers.$$
rm -f /tmp/cafcache-layers.$$
[ "$bad" -eq 0 ] && echo "layers ok: messages <- runtime <- actors <- http"
exit "$bad"
