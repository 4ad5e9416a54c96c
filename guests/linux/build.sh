#!/usr/bin/env bash
# Builds a small x86-64 Linux kernel (vmlinux with DWARF, an LZ4 bzImage, System.map) from the
# distribution's linux-source-6.1: tinyconfig plus vmreplay.config, next to this script.
#
# The outputs are cached under ${VMREPLAY_CACHE:-$HOME/.cache/vmreplay}/linux/<key>/, the key
# being the source package's version and a hash of vmreplay.config, this script and the gcc
# version; a run that finds them there only links them into guests/build/linux/ (about a second).
#
# Usage: guests/linux/build.sh [--rebuild]
#   --rebuild (or VMREPLAY_LINUX_REBUILD=1): build again even if the cache has this key.
set -euo pipefail

PKG=linux-source-6.1
TARBALL=/usr/src/$PKG.tar.xz

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/vmreplay.config
out_dir=$(dirname "$here")/build/linux
cache_root=${VMREPLAY_CACHE:-$HOME/.cache/vmreplay}/linux
rebuild=${VMREPLAY_LINUX_REBUILD:-0}

say() { echo "linux/build.sh: $*"; }
die() { echo "linux/build.sh: error: $*" >&2; exit 1; }

for arg in "$@"; do
    case $arg in
        --rebuild) rebuild=1 ;;
        -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (usage: $0 [--rebuild])" ;;
    esac
done
[[ -f $fragment ]] || die "$fragment is missing"

# Installs the given Debian packages with apt-get, quietly, in one line of output; fails with
# one line if they cannot be had.
install_packages() {
    local log sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null && sudo -n true 2>/dev/null \
            || die "need Debian packages $*; install them as root: apt-get install $*"
        sudo=(sudo -n)
    fi
    say "installing $* (apt-get)"
    log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
        # A stale package index is the usual reason: refresh it once and try again.
        if ! { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq &&
               DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
            local why
            why=$(grep -m1 -E '^E:' "$log" || tail -n1 "$log")
            rm -f "$log"
            die "apt-get could not install $* ($why)"
        fi
    fi
    rm -f "$log"
}

pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

# The packages a build needs and are missing: the source, the tools by command, and libelf's
# headers for objtool (which x86-64 always builds: HAVE_UACCESS_VALIDATION selects it).
missing_packages() {
    local -A tool_pkg=([make]=make [gcc]=gcc [ld]=binutils [flex]=flex [bison]=bison [bc]=bc
                       [xz]=xz-utils [lz4]=lz4 [perl]=perl)
    local t
    pkg_installed "$PKG" || echo "$PKG"
    for t in "${!tool_pkg[@]}"; do command -v "$t" >/dev/null || echo "${tool_pkg[$t]}"; done
    [[ -f /usr/include/gelf.h ]] || echo libelf-dev
}

mkdir -p "$cache_root"
# One build at a time per cache: a second caller waits, then finds the outputs.
exec 9>"$cache_root/.lock"
flock 9

# The source package's version and gcc's are part of the cache key. Without them, a build is
# coming: install everything it lacks in one go.
if ! pkg_installed "$PKG" || ! command -v gcc >/dev/null; then
    install_packages $(missing_packages | sort -u)
fi
[[ -f $TARBALL ]] || die "$TARBALL not found although $PKG is installed"
version=$(dpkg-query -W -f='${Version}' "$PKG")

gcc_version=$(gcc -dumpfullversion)
key_hash=$( { sha256sum "$fragment" "${BASH_SOURCE[0]}" | cut -d' ' -f1; echo "gcc $gcc_version"; } \
            | sha256sum | cut -c1-16)
key=$version-$key_hash
cache=$cache_root/$key
outputs=(vmlinux bzImage System.map)

# Puts the cached outputs into guests/build/linux/ (hard links when the cache is on the same
# file system, copies otherwise) and prints their paths.
place_outputs() {
    mkdir -p "$out_dir"
    local f
    for f in "${outputs[@]}" config; do
        ln -f "$cache/$f" "$out_dir/$f" 2>/dev/null || cp -f "$cache/$f" "$out_dir/$f"
    done
    for f in "${outputs[@]}"; do echo "$out_dir/$f"; done
}

cache_complete() {
    local f
    for f in "${outputs[@]}" config; do [[ -s $cache/$f ]] || return 1; done
}

if [[ $rebuild != 1 ]] && cache_complete; then
    place_outputs
    exit 0
fi

# ---- Build ----------------------------------------------------------------------------------
start=$SECONDS

missing=$(missing_packages | sort -u)
[[ -z $missing ]] || install_packages $missing

# The source, extracted once per package version and shared by every key.
src_parent=$cache_root/src/$version
src=$src_parent/$PKG
if [[ ! -f $src/Makefile ]]; then
    say "extracting $TARBALL into $src_parent (once per package version)"
    rm -rf "$src_parent.partial"
    mkdir -p "$src_parent.partial"
    tar -C "$src_parent.partial" -xf "$TARBALL"
    [[ -f $src_parent.partial/$PKG/Makefile ]] || die "$TARBALL has no $PKG/Makefile"
    rm -rf "$src_parent"
    mv "$src_parent.partial" "$src_parent"
fi

# Built in <key>.partial/; renamed to <key>/ only once everything checked out. An interrupted
# build leaves its object tree there, and the next run continues from it.
work=$cache.partial
obj=$work/obj
[[ $rebuild != 1 ]] || rm -rf "$work"
mkdir -p "$obj"
log=$work/build.log
: >"$log"

# A fixed build user, host and date: the banner the kernel prints is then the same on every
# machine, and so is a recording's serial output.
kmake() {
    make -C "$src" O="$obj" ARCH=x86_64 \
        KBUILD_BUILD_USER=vmreplay KBUILD_BUILD_HOST=vmreplay \
        KBUILD_BUILD_TIMESTAMP="$PKG $version" KBUILD_BUILD_VERSION=1 "$@" >>"$log" 2>&1
}
fail() { echo "--- last lines of $log:" >&2; tail -n 25 "$log" >&2; die "$*"; }

# Every option of the fragment, as the final .config must have it. "# CONFIG_X is not set"
# means off, which a symbol whose dependencies are unmet (so absent from .config) also is.
check_fragment() {
    local config=$1 bad=0 line sym want got
    while IFS= read -r line; do
        if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
            sym=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
        elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
            sym=${BASH_REMATCH[1]} want=n
        else
            continue
        fi
        got=$(grep -m1 -E "^$sym=|^# $sym is not set" "$config" || true)
        case $got in
            "$sym="*) got=${got#"$sym="} ;;
            "# $sym is not set") got=n ;;
            *) got="absent (its dependencies are not met, or no such option)"; [[ $want == n ]] && got=n ;;
        esac
        if [[ $got != "$want" ]]; then
            echo "  $sym: wanted $want, got $got" >&2
            bad=1
        fi
    done <"$fragment"
    return $bad
}

say "building Linux $version (tinyconfig + vmreplay.config) with make -j$(nproc); log: $log"
kmake tinyconfig || fail "make tinyconfig failed"
# As 'make tinyconfig' merges its own fragments: merge, then let olddefconfig settle the rest.
(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "$fragment") >>"$log" 2>&1 \
    || fail "merge_config.sh failed"
kmake olddefconfig || fail "make olddefconfig failed"
check_fragment "$obj/.config" || die "these options of $fragment did not survive Kconfig (see above)"

kmake -j"$(nproc)" vmlinux bzImage || fail "the kernel build failed"
check_fragment "$obj/.config" || die "these options of $fragment changed during the build (see above)"
# The PVH entry point is an ELF note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY) owned by "Xen".
notes=$(readelf -n "$obj/vmlinux")
grep -qE '^ +Xen +0x[0-9a-f]+[[:space:]].*\(0x00000012\)' <<<"$notes" || die "vmlinux has no PVH entry note (Xen note type 18)"

cp -f "$obj/vmlinux" "$obj/System.map" "$obj/.config" "$work/"
cp -f "$obj/arch/x86/boot/bzImage" "$work/bzImage"
mv "$work/.config" "$work/config"
rm -rf "$obj" "$cache"
mv "$work" "$cache"
say "built in $((SECONDS - start)) s; cached in $cache"
place_outputs
