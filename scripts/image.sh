#!/usr/bin/env bash
# Builds the Lanes image without any registry (npm run image): a root filesystem made of the
# host's node and nats-server with exactly the shared libraries ldd lists, the compiled dist/,
# production node_modules and containers/entry.mjs, packed reproducibly (sorted, mtime 0,
# numeric root owner) and `podman import`ed. Same layout, entrypoint, user and env as Containerfile.
#
#   scripts/image.sh [TAG]        default TAG: localhost/lanes:dev   (LANES_IMAGE overrides)
#   LANES_IMAGE_SKIP_BUILD=1      reuse dist/ as it is
#   LANES_IMAGE_TAR=FILE          also keep the root filesystem tarball
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
tag=${1:-${LANES_IMAGE:-localhost/lanes:dev}}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root_dir/containers/containers.conf}

need() { command -v "$1" >/dev/null 2>&1 || { echo "image: $1 not found ($2)" >&2; exit 1; }; }
need podman "apt-get install -y podman runc"
need ldd "libc-bin"
node_bin=$(readlink -f "$(command -v node)")
nats_bin=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$nats_bin" ] || { echo "image: nats-server not found (apt-get install -y nats-server, or NATS_SERVER_BIN)" >&2; exit 1; }

if [ "${LANES_IMAGE_SKIP_BUILD:-}" != 1 ]; then npm run --silent build; fi
[ -f dist/services/ingress/main.js ] || { echo "image: dist/ is missing; run npm run build" >&2; exit 1; }

stage=$(mktemp -d /tmp/lanes-image.XXXXXX)
trap 'rm -rf "$stage"' EXIT
rootfs=$stage/rootfs
mkdir -p "$rootfs"/{app,data,tmp,etc,usr/local/bin,usr/local/lib}
chmod 1777 "$rootfs/tmp"
chmod 0777 "$rootfs/data" # a volume is mounted here in a pod; writable by the non-root user when not

# Application: compiled code (no tests, no source maps) and production dependencies.
cp package.json package-lock.json "$rootfs/app/"
cp containers/entry.mjs "$rootfs/app/entry.mjs"
mkdir -p "$rootfs/app/dist"
tar -C dist --exclude='*.test.js' --exclude='*.map' -cf - . | tar -C "$rootfs/app/dist" -xf -
# Production dependencies only, as npm resolves them (a package's nested node_modules come with it).
# Leaves out code generation (buf, a 90 MB binary, and ts-proto): the runtime needs @bufbuild/protobuf.
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$root_dir/##" | grep '^node_modules/' \
  | grep -v -E '^node_modules/(@bufbuild/buf|@bufbuild/buf-[^/]+|ts-proto|ts-proto-descriptors|ts-poet|dprint-node)(/|$)' \
  | LC_ALL=C sort -u \
  | awk '{ if (kept != "" && index($0, kept "/") == 1) next; print; kept = $0 }' > "$stage/packages.txt"
[ -s "$stage/packages.txt" ] || { echo "image: npm ls found no production packages (run npm ci)" >&2; exit 1; }
tar -cf - -T "$stage/packages.txt" | tar -C "$rootfs/app" -xf -
rm -f "$rootfs/app/package-lock.json"

# Binaries and every library they (and the native addons) load, at the paths ldd resolved.
cp "$node_bin" "$rootfs/usr/local/bin/node"
cp "$(readlink -f "$nats_bin")" "$rootfs/usr/local/bin/nats-server"
# FoundationDB's client library, for LANES_STATE_BACKEND=fdb, when this machine has one.
fdb_lib=${LANES_FDB_LIB:-$root_dir/../shared/fdb/lib/libfdb_c.so}
if [ -f "$fdb_lib" ]; then cp "$fdb_lib" "$rootfs/usr/local/lib/libfdb_c.so"; fi
# ldd fails on addons built for musl (they are never loaded here): ignore those.
libs() { { ldd "$1" 2>/dev/null || true; } | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]+ \(/ { print $1 }'; }
{
  libs "$node_bin"; libs "$nats_bin"
  find "$rootfs/app/node_modules" -name '*.node' -print0 | while IFS= read -r -d '' addon; do libs "$addon"; done
} | sort -u | while read -r lib; do
  [ -e "$lib" ] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# The dynamic loader is looked up at /lib64 (a symlink into /lib on Debian's usrmerge layout).
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$rootfs/lib64/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$rootfs/lib64" && cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
fi

printf 'root:x:0:0:root:/root:/sbin/nologin\nlanes:x:65532:65532:lanes:/data:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nlanes:x:65532:\n' > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"

# Everything root-owned and read-only to the service user except /data and /tmp.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$stage/rootfs.tar" .
if [ -n "${LANES_IMAGE_TAR:-}" ]; then cp "$stage/rootfs.tar" "$LANES_IMAGE_TAR"; fi
previous=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
podman import \
  --change 'USER=65532:65532' \
  --change 'WORKDIR=/app' \
  --change 'ENV=PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV=NODE_ENV=production' \
  --change 'ENV=LANES_DATA_DIR=/data' \
  --change 'ENV=LANES_HEALTH_HOST=0.0.0.0' \
  --change 'ENV=LANES_HEALTH_PORT=9090' \
  --change 'ENV=LD_LIBRARY_PATH=/usr/local/lib' \
  --change 'ENTRYPOINT=["/usr/local/bin/node","/app/entry.mjs"]' \
  --change 'CMD=["ingress"]' \
  --message "lanes $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --quiet "$stage/rootfs.tar" "$tag" >/dev/null
# The image this tag named before is left dangling: remove it (and only it) unless still in use.
current=$(podman image inspect --format '{{.Id}}' "$tag")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then podman rmi "$previous" >/dev/null 2>&1 || true; fi
echo "$tag $(podman image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
