#!/usr/bin/env bash
# Runs guests nobody on the project wrote on the software CPU and prints PASS/FAIL/SKIP for each
# with its wall time. Debian's packages are fetched with apt-get download into a cache outside
# the repository ($VMREPLAY_THIRD_PARTY_CACHE, else $XDG_CACHE_HOME or ~/.cache, then
# vmreplay-third-party); images built by hand from public repositories (README.md) are run when
# they are present in the cache's github/ folder. Logs: the cache's logs/ folder.
# Usage: guests/third-party/run.sh [NAME...]   (no name: every guest)
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VMREPLAY_THIRD_PARTY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmreplay-third-party}
dll=$repo/src/Cli/bin/Debug/net10.0/vmreplay.dll
[ -f "$dll" ] || { echo "run.sh: build first (dotnet build Replay.sln)" >&2; exit 2; }
mkdir -p "$cache/debian" "$cache/github" "$cache/logs"
passed=0 failed=0 skipped=0
wanted=" $* "

want() { [ "$wanted" = "  " ] || [[ "$wanted" == *" $1 "* ]]; }

# newest PATTERN: the newest Debian package whose name matches the extended regex PATTERN.
newest() { apt-cache search --names-only "$1" 2>/dev/null | awk '{print $1}' | grep -E "$1" | sort -V | tail -1; }

# fetch PACKAGE: downloads and unpacks PACKAGE into $cache/debian/PACKAGE once; prints that folder.
fetch() {
    local dir=$cache/debian/$1
    if [ ! -d "$dir" ]; then
        (cd "$cache/debian" && apt-get download "$1" >/dev/null 2>&1) || return 1
        dpkg-deb -x "$cache/debian/$1"_*.deb "$dir.tmp" && mv "$dir.tmp" "$dir" || return 1
    fi
    echo "$dir"
}

skip() { printf 'SKIP  %-36s %s\n' "$1" "$2"; skipped=$((skipped + 1)); }

# run NAME EXPECT REJECT IMAGE [vmreplay run options...]: runs IMAGE on the software CPU with
# --trace-exits. It passes when its serial output or vmreplay's report matches EXPECT, nothing
# matches REJECT (an extended regex; "" for none), no instruction was unimplemented (#UD) and the
# processor did not triple-fault.
run() {
    local name=$1 expect=$2 reject=$3 image=$4 log=$cache/logs/$1
    shift 4
    local start=$SECONDS
    timeout 1800 dotnet "$dll" run "$image" --cpu soft --serial-in /dev/null --trace-exits "$@" \
        2>&1 >"$log.out" | grep -av '^exit ' >"$log.err"
    local took=$((SECONDS - start)) why=""
    if ! grep -aqE "$expect" "$log.out" "$log.err"; then why="no match for /$expect/"
    elif [ -n "$reject" ] && grep -aqE "$reject" "$log.out"; then why="matched /$reject/"
    elif grep -aq '^unimplemented' "$log.err"; then why=$(grep -a -m1 '^unimplemented' "$log.err")
    elif grep -aq 'triple fault' "$log.err"; then why="triple fault"
    fi
    if [ -z "$why" ]; then
        printf 'PASS  %-36s %4ds\n' "$name" "$took"; passed=$((passed + 1))
    else
        printf 'FAIL  %-36s %4ds  %s (logs: %s.out/.err)\n' "$name" "$took" "$why" "$log"; failed=$((failed + 1))
    fi
}

# --- Debian's packages -------------------------------------------------------------------------

linux_pkg=$(newest '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$')
if want linux || want linux-busybox; then
    if [ -z "$linux_pkg" ] || ! dir=$(fetch "$linux_pkg"); then
        skip linux "no linux-image-6.1.0-*-cloud-amd64-unsigned from apt (run apt-get update)"
        linux_pkg=""
    else
        vmlinuz=$(ls "$dir"/boot/vmlinuz-* | head -1)
    fi
fi
if want linux && [ -n "$linux_pkg" ]; then
    run linux 'VFS: Unable to mount root fs' '' "$vmlinuz" --mem 256M \
        --cmdline 'console=ttyS0 earlyprintk=serial nolapic panic=-1'
fi
if want linux-busybox && [ -n "$linux_pkg" ]; then
    if ! bb=$(fetch busybox-static); then skip linux-busybox "busybox-static not available from apt"
    else
        root=$cache/initramfs-busybox
        rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
        cp "$bb/bin/busybox" "$root/bin/"
        cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
echo "init: userspace up"
uname -a
grep -E '^(model name|flags)' /proc/cpuinfo
ok=0
sha=$(echo hello | sha256sum); echo "sha256: $sha"
[ "$sha" = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -" ] || ok=1
md5=$(echo hello | md5sum); echo "md5: $md5"
[ "$md5" = "b1946ac92492d2347c6235b4d2611184  -" ] || ok=1
pi=$(echo 'scale=20; 4*a(1)' | bc -l); echo "bc: $pi"
[ "$pi" = "3.14159265358979323844" ] || ok=1
gz=$(seq 1 20000 | gzip -9 | gunzip | md5sum); echo "gzip round trip: $gz"
[ "$gz" = "$(seq 1 20000 | md5sum)" ] || ok=1
[ $ok = 0 ] && echo "init: all checks passed" || echo "init: a check failed"
poweroff -f
EOF
        chmod +x "$root/init"
        (cd "$root" && find . | cpio -o -H newc --quiet | gzip -9 >"$cache/initramfs-busybox.gz")
        run linux-busybox 'init: all checks passed' '' "$vmlinuz" --mem 256M --initrd "$cache/initramfs-busybox.gz" \
            --cmdline 'console=ttyS0 earlyprintk=serial nolapic panic=-1 quiet'
    fi
fi

if want memtest86+; then
    if ! dir=$(fetch memtest86+); then skip memtest86+ "memtest86+ not available from apt"
    else
        # It never ends by itself: 300 million instructions reach test #4 with 16 MiB. Its start-up
        # waits in delay loops that read the TSC, one VM exit per RDTSC: on the host clock they
        # end in seconds; on the virtual clock (10 ns per instruction) they take minutes.
        run memtest86+ 'Moving inversions' 'Errors: *[1-9]' "$dir/boot/memtest86+x64.bin" --mem 16M \
            --cmdline 'console=ttyS0,115200' --max-instructions 300000000 --clock host
    fi
fi
if want memtest86+-ia32; then
    if ! dir=$(fetch memtest86+); then skip memtest86+-ia32 "memtest86+ not available from apt"
    else
        # The same in 32-bit code, a bzImage with no 64-bit entry: Linux's 32-bit boot protocol.
        run memtest86+-ia32 'Moving inversions' 'Errors: *[1-9]' "$dir/boot/memtest86+ia32.bin" --mem 16M \
            --cmdline 'console=ttyS0,115200' --max-instructions 300000000 --clock host
    fi
fi

if want grub-invaders; then
    if ! dir=$(fetch grub-invaders); then skip grub-invaders "grub-invaders not available from apt"
    else
        # A game on VGA text memory and the PC speaker: it runs until stopped.
        run grub-invaders 'the limit \(--max-instructions\)' '' "$dir/boot/invaders.exec" --max-instructions 20000000
    fi
fi

if want xen; then
    xen_pkg=$(newest '^xen-hypervisor-4\.[0-9]+-amd64$')
    if [ -z "$xen_pkg" ] || ! dir=$(fetch "$xen_pkg"); then skip xen "no xen-hypervisor-4.*-amd64 from apt"
    else
        zcat "$(ls "$dir"/boot/xen-*.gz | head -1)" >"$cache/xen.elf"
        # Xen takes the first word as the image's name, as GRUB legacy and QEMU pass it; it
        # panics without a dom0 kernel, which vmreplay cannot pass (no Multiboot modules).
        run xen 'dom0 kernel not specified' '' "$cache/xen.elf" --mem 256M --cmdline 'xen.gz console=com1 com1=115200,8n1'
    fi
fi

# --- built by hand from public repositories (README.md) -----------------------------------------

# github NAME EXPECT [options...]: runs $cache/github/NAME.* if it is there.
github() {
    local name=$1 expect=$2 image
    shift 2
    want "$name" || return 0
    image=$(ls "$cache/github/$name".* 2>/dev/null | head -1)
    if [ -z "$image" ]; then skip "$name" "not built: see README.md"; return; fi
    run "$name" "$expect" '' "$image" "$@"
}
limit='the limit \(--max-instructions\)'
halted='halted with interrupts disabled'
github happyos "$limit" --max-instructions 2000000
github ghghghg2-os-dev 'Serial Log' --max-instructions 5000000
github upperdim-beginos "$halted"
github cirosantilli-multiboot-hello-world "$limit" --max-instructions 2000000
github mosmeh-donut "$limit" --max-instructions 50000000
github sugarfi-32bit-main "$limit" --max-instructions 1000000
github cirosantilli-no-bios-hello-world "$halted"
github cirosantilli-serial "$halted"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
