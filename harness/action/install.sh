#!/usr/bin/env bash
# The action's install step: put a `lockgate` binary of the action's own version in BIN_DIR,
# the fastest way that is sound, in this order:
#
#   1. the binary already installed for this version and these sources (the runner's cache;
#      `lockgate.source` beside it holds the digest of the sources it was installed for);
#   2. the release's static binary (`lockgate-x86_64-linux`), when RELEASE_URL is set: used only
#      if its sha256 matches the release's `.sha256` file and `lockgate --version` names this
#      version (a tag moved to another commit, or a binary of another version, is refused);
#   3. `cargo install --locked --path ACTION_PATH/harness/lockgate` (minutes on 2 cores).
#
# Environment: ACTION_PATH (the action's checkout), BIN_DIR (where `lockgate` goes; cached by
# the workflow under a key holding the version), RELEASE_URL (optional: the release's download
# directory; `file://` works too, which the tests use).
set -euo pipefail

: "${ACTION_PATH:?the action checkout}" "${BIN_DIR:?where lockgate goes}"
release_url="${RELEASE_URL:-}"

# The action's version, as its workspace manifest says and `lockgate --version` prints it.
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ACTION_PATH/Cargo.toml" | head -n1)"
if [ -z "$version" ]; then
  echo "lockgate install: no version = \"...\" line in $ACTION_PATH/Cargo.toml" >&2
  exit 1
fi

# Whether BIN is a lockgate binary of this version.
is_this_version() {
  local printed
  printed="$("$1" --version 2>/dev/null || true)"
  [ "$printed" = "lockgate $version" ]
}

# The digest of what the binary is built from and embeds (the crates, the lock, the shipped
# kernels and images): a branch moves without a version bump, so the version alone cannot tell
# a cached binary from a stale one.
source_digest() {
  (cd "$ACTION_PATH" && find Cargo.toml Cargo.lock harness kernels images -type f -not -path '*/target/*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
digest="$(source_digest)"

mkdir -p "$BIN_DIR"
if [ -x "$BIN_DIR/lockgate" ] && is_this_version "$BIN_DIR/lockgate" \
  && [ "$(cat "$BIN_DIR/lockgate.source" 2>/dev/null)" = "$digest" ]; then
  echo "lockgate install: lockgate $version from the cache ($BIN_DIR)"
  exit 0
fi
rm -f "$BIN_DIR/lockgate.source"

if [ -n "$release_url" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  asset="lockgate-x86_64-linux"
  if curl -fsSL --retry 2 -o "$tmp/$asset" "$release_url/$asset" \
    && curl -fsSL --retry 2 -o "$tmp/$asset.sha256" "$release_url/$asset.sha256"; then
    if ! (cd "$tmp" && sha256sum --check --status "$asset.sha256"); then
      echo "lockgate install: $release_url/$asset does not match its .sha256: not used" >&2
    else
      chmod +x "$tmp/$asset"
      if is_this_version "$tmp/$asset"; then
        mv "$tmp/$asset" "$BIN_DIR/lockgate"
        echo "$digest" > "$BIN_DIR/lockgate.source"
        echo "lockgate install: lockgate $version, the release's static binary (sha256 $(cut -d' ' -f1 "$tmp/$asset.sha256"))"
        exit 0
      fi
      echo "lockgate install: the release's binary is not lockgate $version ($("$tmp/$asset" --version 2>&1 || true)): not used" >&2
    fi
  else
    echo "lockgate install: no release binary at $release_url: building from source" >&2
  fi
fi

echo "lockgate install: cargo install lockgate $version from $ACTION_PATH (minutes; cached afterwards)"
root="$(mktemp -d)"
cargo install --locked --path "$ACTION_PATH/harness/lockgate" --root "$root"
mv "$root/bin/lockgate" "$BIN_DIR/lockgate"
echo "$digest" > "$BIN_DIR/lockgate.source"
