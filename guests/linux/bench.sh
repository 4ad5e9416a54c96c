#!/usr/bin/env bash
# Benchmark: the Linux kernel of guests/linux booting to its panic ("Kernel panic - not syncing:
# No working init found") on vmreplay's software CPU, as `run`, `record` (with the compressed
# guest image taken from its cache, and with the cache off) and `replay --strict`,
# beside QEMU's TCG on the same kernel: plain, `-icount shift=0`, and recording with
# `-icount shift=auto,rr=record`. vmlinux (PVH entry) and bzImage alike. The commands alternate
# in rounds in one invocation (the host is shared and noisy); it prints figures on stdout and
# never asserts on time. Progress goes to stderr.
#
# Usage: guests/linux/bench.sh [--rounds N] [--no-qemu] [--no-count] [--qemu-timeout S]
#   --rounds N         alternating rounds (default 5)
#   --no-qemu          leave out the QEMU rows
#   --no-count         do not count QEMU's instructions (a single-stepped, logged QEMU run per
#                      image, about 20 s each, untimed)
#   --qemu-timeout S   limit for one QEMU run, in seconds (default 120)
#
# Every command is timed as a whole process, from its start to its exit: with panic=-1 the kernel
# resets the machine right after the panic, which ends vmreplay and QEMU (-no-reboot) alike, so
# each figure includes process start (and QEMU's includes SeaBIOS, which the software CPU does not
# run: it starts the kernel itself). The time to the panic line is printed too. vmreplay is
# published (-c Release -r linux-x64: a Native AOT executable) for this, as a user would install it.
# The command line is guests/linux/cmdline without the KVM host workarounds (clearcpuid=, lpj=,
# noxsave, nofsgsbase), which the software CPU does not need; QEMU gets the same line.
set -euo pipefail
export LC_ALL=C

prog=guests/linux/bench.sh
die() { echo "$prog: error: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

rounds=5
qemu_timeout=120
vmreplay_timeout=600
use_qemu=1
count=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) [[ $# -ge 2 ]] || die "--rounds needs a number"; rounds=$2; shift 2 ;;
        --rounds=*) rounds=${1#--rounds=}; shift ;;
        --qemu-timeout) [[ $# -ge 2 ]] || die "--qemu-timeout needs a number"; qemu_timeout=$2; shift 2 ;;
        --qemu-timeout=*) qemu_timeout=${1#--qemu-timeout=}; shift ;;
        --no-qemu) use_qemu=0; shift ;;
        --no-count) count=0; shift ;;
        -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see $prog --help)" ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer, not '$rounds'"
[[ $qemu_timeout =~ ^[1-9][0-9]*$ ]] || die "--qemu-timeout wants a positive number of seconds, not '$qemu_timeout'"

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PANIC='Kernel panic - not syncing: No working init found'
images=(vmlinux bzImage)
declare -A path=([vmlinux]=guests/build/linux/vmlinux [bzImage]=guests/build/linux/bzImage)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmreplay-linux-bench.XXXXXX")
cur_pid=
cleanup() {
    if [[ -n $cur_pid ]]; then kill "$cur_pid" 2>/dev/null || true; wait "$cur_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Preparation ----------------------------------------------------------------------------
say "guests/linux/build.sh"
build_rc=0
guests/linux/build.sh >/dev/null || build_rc=$?
[[ $build_rc -eq 0 ]] || die "the kernel build failed (guests/linux/build.sh exited with $build_rc)"
for i in "${images[@]}"; do [[ -s ${path[$i]} ]] || die "${path[$i]} is missing after guests/linux/build.sh"; done

say "dotnet publish src/Cli -c Release -r linux-x64 (Native AOT)"
if ! dotnet publish src/Cli -c Release -r linux-x64 -o "$tmp/vmreplay" -v q -nologo >"$tmp/build.log" 2>&1; then
    grep -m3 -E ' error ' "$tmp/build.log" >&2 || tail -n 5 "$tmp/build.log" >&2
    die "dotnet publish src/Cli failed"
fi
vmreplay=("$tmp/vmreplay/vmreplay")

[[ -s guests/linux/cmdline ]] || die "guests/linux/cmdline is missing"
cmdline=$(tr -s ' \n' '\n\n' <guests/linux/cmdline | grep -v -E '^(clearcpuid=|lpj=|noxsave$|nofsgsbase$)' | paste -sd' ' -)
[[ $cmdline == *panic=-1* ]] || die "guests/linux/cmdline lacks panic=-1, which ends each run at the panic"

# QEMU: installed when missing and this user may (root, or password-less sudo); otherwise its
# rows are left out, saying so.
qemu_note=
apt_install() { # COMMAND-PREFIX... : apt-get install qemu-system-x86, refreshing the index once if needed
    DEBIAN_FRONTEND=noninteractive "$@" apt-get install -y -qq --no-install-recommends qemu-system-x86 && return 0
    DEBIAN_FRONTEND=noninteractive "$@" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "$@" apt-get install -y -qq --no-install-recommends qemu-system-x86
}
if [[ $use_qemu == 1 ]] && ! command -v qemu-system-x86_64 >/dev/null; then
    as=()
    if [[ $EUID -ne 0 ]]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as=(sudo -n); else as=(none); fi
    fi
    if [[ ${as[0]:-} == none ]]; then
        qemu_note="qemu-system-x86_64 is missing and this user cannot install it: install qemu-system-x86 as root (apt-get install qemu-system-x86); QEMU rows skipped"
    else
        say "installing qemu-system-x86 (apt-get)"
        if ! apt_install "${as[@]}" >"$tmp/apt.log" 2>&1 || ! command -v qemu-system-x86_64 >/dev/null; then
            qemu_note="apt-get could not install qemu-system-x86 ($(grep -m1 -E '^E:' "$tmp/apt.log" || tail -n1 "$tmp/apt.log")); QEMU rows skipped"
        fi
    fi
    if [[ -n $qemu_note ]]; then use_qemu=0; say "$qemu_note"; fi
fi
if [[ $use_qemu == 0 && -z $qemu_note ]]; then qemu_note="QEMU rows left out (--no-qemu)"; fi
qemu_common=(-m 64M -nodefaults -no-user-config -display none -serial stdio -no-reboot)

# ---- Timing ---------------------------------------------------------------------------------
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t)); }

# timed LOG COMMAND...: runs COMMAND with stdout and stderr into LOG, each line prefixed with the
# microseconds since the start. Sets t_rc (exit status; 124 for the timeout), t_start (epoch
# microseconds at the start) and t_us (wall time to the exit).
timed() {
    local log=$1; shift
    local fifo=$tmp/fifo line now
    rm -f "$fifo"; mkfifo "$fifo"
    t_rc=0
    t_start=$(now_us)
    "$@" </dev/null >"$fifo" 2>&1 &
    cur_pid=$!
    while IFS= read -r line || [[ -n $line ]]; do
        now=${EPOCHREALTIME/[.,]/}
        printf '%s\t%s\n' "$((10#$now - t_start))" "${line%$'\r'}"
    done <"$fifo" >"$log"
    wait "$cur_pid" || t_rc=$?
    cur_pid=
    t_us=$(( $(now_us) - t_start ))
}

# The time in LOG (microseconds) of the first line that contains TEXT, or nothing.
match_time() { awk -F'\t' -v s="$2" 'index($0, s) { print $1; exit }' "$1"; }
last_line() { awk -F'\t' '$2 != "" { l = $2 } END { print l }' "$1"; }
sec() { awk -v u="$1" 'BEGIN { printf "%d.%02d", u / 1e6, u % 1e6 / 1e4 }'; }

check_panic() { # NAME LOG
    if [[ $t_rc -eq 0 ]] && grep -qF "$PANIC" "$2"; then return 0; fi
    [[ $t_rc -ne 124 ]] || die "$1 did not end within its time limit"
    die "$1 did not reach the panic (exit status $t_rc): $(last_line "$2")"
}

declare -A wall panic_at   # "<row>" -> space-separated microseconds
declare -A instructions    # "<image>" -> vmreplay's retired-instruction count
startup=()
add() { wall[$1]+=" $t_us"; panic_at[$1]+=" $(match_time "$2" "$PANIC")"; }

# `record` keeps each compressed guest image in a cache (README: ~/.cache/vmreplay/embedded) and
# a recording of an image recorded before takes it from there. The benchmark has its own cache,
# filled by one untimed recording of each image first, so that the `record` row is always a
# recording with the cache filled and the `record, image cache off` row always one without.
export VMREPLAY_CACHE_DIR=$tmp/cache
for img in "${images[@]}"; do
    "${vmreplay[@]}" record "${path[$img]}" --cpu soft --cmdline "$cmdline" --serial-in /dev/null -o "$tmp/warm.vmtrace" >/dev/null 2>&1 \
        || die "vmreplay record $img failed (the untimed recording that fills the image cache)"
done
rm -f "$tmp/warm.vmtrace"

for ((r = 1; r <= rounds; r++)); do
    for img in "${images[@]}"; do
        p="round $r/$rounds, $img:"
        timed "$tmp/run.log" env VMREPLAY_STARTUP_STAMP=epoch timeout "$vmreplay_timeout" \
            "${vmreplay[@]}" run "${path[$img]}" --cpu soft --cmdline "$cmdline" --serial-in /dev/null
        check_panic "vmreplay run $img" "$tmp/run.log"
        add "run $img" "$tmp/run.log"
        stamp=$(sed -n 's/^[0-9]*\tvmreplay: startup-stamp \([0-9]*\)$/\1/p' "$tmp/run.log" | head -n1)
        [[ -n $stamp ]] || die "vmreplay run printed no startup stamp"
        startup+=("$(( stamp / 1000 - t_start ))")
        say "$p run $(sec "$t_us") s"

        trace=$tmp/$img.vmtrace
        rm -f "$trace"
        timed "$tmp/record.log" timeout "$vmreplay_timeout" \
            "${vmreplay[@]}" record "${path[$img]}" --cpu soft --cmdline "$cmdline" --serial-in /dev/null -o "$trace"
        check_panic "vmreplay record $img" "$tmp/record.log"
        add "record $img" "$tmp/record.log"
        say "$p record $(sec "$t_us") s"

        rm -f "$tmp/cold.vmtrace"
        timed "$tmp/record-cold.log" env VMREPLAY_CACHE_DIR=off timeout "$vmreplay_timeout" \
            "${vmreplay[@]}" record "${path[$img]}" --cpu soft --cmdline "$cmdline" --serial-in /dev/null -o "$tmp/cold.vmtrace"
        check_panic "vmreplay record (image cache off) $img" "$tmp/record-cold.log"
        add "record-cold $img" "$tmp/record-cold.log"
        say "$p record, image cache off $(sec "$t_us") s"

        timed "$tmp/replay.log" timeout "$vmreplay_timeout" "${vmreplay[@]}" replay "$trace" --strict
        [[ $t_rc -ne 124 ]] || die "vmreplay replay $img did not end within its time limit"
        if [[ $t_rc -ne 0 ]] || ! grep -q 'replay matched' "$tmp/replay.log"; then
            kept=${TMPDIR:-/tmp}/vmreplay-linux-bench-diverged-$img-$(date -u +%Y%m%d-%H%M%S).vmtrace
            mv "$trace" "$kept" 2>/dev/null || kept="(not kept)"
            die "vmreplay replay --strict of $img did not match (exit status $t_rc; trace kept in $kept): $(last_line "$tmp/replay.log")"
        fi
        add "replay $img" "$tmp/replay.log"
        say "$p replay $(sec "$t_us") s"

        n=$("${vmreplay[@]}" events "$trace" --json | sed -n 's/.*"instructions":\([0-9][0-9]*\)}$/\1/p' | tail -n1)
        [[ -n $n ]] || die "vmreplay events --json gave no instruction count for $img"
        if [[ -n ${instructions[$img]:-} && ${instructions[$img]} != "$n" ]]; then
            die "$img retired ${instructions[$img]} instructions in one recording and $n in another"
        fi
        instructions[$img]=$n

        [[ $use_qemu == 1 ]] || continue
        for mode in plain icount rr; do
            case $mode in
                plain) extra=() ;;
                icount) extra=(-icount shift=0) ;;
                rr) rm -f "$tmp/qemu.rr"; extra=(-icount "shift=auto,rr=record,rrfile=$tmp/qemu.rr") ;;
            esac
            timed "$tmp/qemu.log" timeout "$qemu_timeout" qemu-system-x86_64 -accel tcg "${extra[@]}" \
                "${qemu_common[@]}" -kernel "${path[$img]}" -append "$cmdline"
            check_panic "qemu-system-x86_64 -accel tcg ${extra[*]} -kernel $img" "$tmp/qemu.log"
            add "qemu-$mode $img" "$tmp/qemu.log"
            say "$p qemu $mode $(sec "$t_us") s"
        done
    done
done

# QEMU's instruction count: one run per image with one instruction per translation block and
# each block's execution logged (-singlestep -d exec,nochain), untimed, under -icount shift=0 so
# that guest time (and every delay loop) follows the instructions, not the slowed host. A block
# QEMU leaves before its instruction (an icount deadline) is logged too: the count is close, not
# exact. For vmlinux, the instructions before the kernel's PVH entry (from its ELF note) are
# SeaBIOS and QEMU's option ROM.
declare -A qemu_count qemu_firmware
if [[ $use_qemu == 1 && $count == 1 ]]; then
    entry=$(readelf -n "${path[vmlinux]}" 2>/dev/null | awk '/Xen/ && /0x00000012/ { x = 1; next } x && /description data/ {
        printf "%s%s%s%s", $6, $5, $4, $3; exit }')
    for img in "${images[@]}"; do
        say "counting QEMU's instructions for $img (single-stepped and logged, untimed)"
        want=
        [[ $img != vmlinux || -z $entry ]] || want=$(printf '%016x' "0x$entry")
        read -r total before < <(timeout 600 qemu-system-x86_64 -accel tcg -icount shift=0 -singlestep -d exec,nochain -D /dev/stderr \
                "${qemu_common[@]}" -kernel "${path[$img]}" -append "$cmdline" </dev/null 2>&1 >/dev/null |
            awk -v want="$want" '/^Trace / { n++; if (want != "" && before == "") { split($4, a, "/"); if (a[2] == want) before = n - 1 } }
                END { print n + 0, (before == "" ? "-" : before) }') || true
        qemu_count[$img]=${total:-0}
        qemu_firmware[$img]=${before:--}
    done
fi

# ---- Report ---------------------------------------------------------------------------------
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
stats() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END {
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "%8.3f %8.3f %8.3f", a[1] / 1e6, m / 1e6, a[NR] / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo
echo "Linux 6.1 boot to \"$PANIC\" and the reset after it ($rounds alternating round$([[ $rounds -eq 1 ]] || echo s), $(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "host: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), Linux $(uname -r), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
[[ $use_qemu == 0 ]] || echo "qemu: $(qemu-system-x86_64 --version | head -n1)"
echo "command line: $cmdline"
echo
printf '%-56s %8s %8s %8s %10s\n' "whole process, seconds" min median max "to panic"
for img in "${images[@]}"; do
    rows=("run $img" "record $img" "record-cold $img" "replay $img")
    [[ $use_qemu == 0 ]] || rows+=("qemu-plain $img" "qemu-icount $img" "qemu-rr $img")
    for row in "${rows[@]}"; do
        case ${row% *} in
            run) label="vmreplay run --cpu soft" ;;
            record) label="vmreplay record --cpu soft" ;;
            record-cold) label="vmreplay record, image cache off" ;;
            replay) label="vmreplay replay --strict" ;;
            qemu-plain) label="qemu -accel tcg" ;;
            qemu-icount) label="qemu -accel tcg -icount shift=0" ;;
            qemu-rr) label="qemu -accel tcg -icount shift=auto,rr=record" ;;
        esac
        printf '%-56s %s %10s\n' "$img: $label" "$(stats "${wall[$row]}")" "$(sec "$(median "${panic_at[$row]}")")"
    done
done
echo
printf '%-56s %s\n' "vmreplay: process start to the first guest instruction" "$(sec "$(median "${startup[*]}")") s (median of run; min $(sec "$(printf '%s\n' "${startup[@]}" | sort -n | head -n1)") s)"
for img in "${images[@]}"; do
    m_run=$(median "${wall[run $img]}") m_rec=$(median "${wall[record $img]}") m_rep=$(median "${wall[replay $img]}")
    line="record/run $(ratio "$m_rec" "$m_run") ($(ratio "$(median "${wall[record-cold $img]}")" "$m_run") image cache off), replay/record $(ratio "$m_rep" "$m_rec")"
    printf '%-56s %s\n' "$img: medians" "$line"
    if [[ $use_qemu == 1 ]]; then
        q_plain=$(median "${wall[qemu-plain $img]}") q_icount=$(median "${wall[qemu-icount $img]}") q_rr=$(median "${wall[qemu-rr $img]}")
        printf '%-56s %s\n' "" "run / qemu plain $(ratio "$m_run" "$q_plain"), run / qemu icount $(ratio "$m_run" "$q_icount")"
        printf '%-56s %s\n' "" "record / qemu rr=record $(ratio "$m_rec" "$q_rr"), replay / qemu rr=record $(ratio "$m_rep" "$q_rr")"
    fi
done
echo
echo "instructions executed (to the reset after the panic):"
for img in "${images[@]}"; do
    text="vmreplay ${instructions[$img]} (the kernel only, exact, 10 ns of virtual time each)"
    if [[ -n ${qemu_count[$img]:-} ]]; then
        text+="; qemu about ${qemu_count[$img]} (-icount shift=0: 1 ns each)"
        [[ ${qemu_firmware[$img]} == - ]] || text+=" (${qemu_firmware[$img]} of them SeaBIOS and its option ROM, before the kernel's entry)"
    fi
    printf '  %-8s %s\n' "$img:" "$text"
done
[[ -z $qemu_note ]] || { echo; echo "$qemu_note"; }
