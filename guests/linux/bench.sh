#!/usr/bin/env bash
# Benchmark: the Linux kernel of guests/linux booting to its panic ("Kernel panic - not syncing:
# No working init found") under vmreplay run, record and replay, and under QEMU for comparison.
# The commands alternate in rounds in one invocation (the host is shared and noisy); it prints
# figures on stdout and never asserts on time. Progress goes to stderr.
#
# Usage: guests/linux/bench.sh [--rounds N] [--qemu-timeout S] [--no-qemu] [--allow-divergence]
#   --rounds N           alternating rounds (default 3)
#   --qemu-timeout S     limit for one QEMU run, in seconds (default 120)
#   --no-qemu            leave out the QEMU rows
#   --allow-divergence   a replay that diverges is counted and reported, and left out of the
#                        replay figures, instead of stopping the benchmark with an error
#
# Each round: vmreplay run vmlinux (PVH entry), record vmlinux, replay of that recording, run
# bzImage, then qemu-system-x86_64 -accel kvm and -accel tcg with vmlinux (-kernel, PVH), timed
# to the panic line (QEMU is stopped there). On this host QEMU with -accel kvm stops at a KVM
# emulation failure at the int3 of int3_selftest; that is reported with the time to it.
set -euo pipefail
export LC_ALL=C

prog=guests/linux/bench.sh
die() { echo "$prog: error: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

rounds=3
qemu_timeout=120
vmreplay_timeout=600
use_qemu=1
allow_divergence=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) [[ $# -ge 2 ]] || die "--rounds needs a number"; rounds=$2; shift 2 ;;
        --rounds=*) rounds=${1#--rounds=}; shift ;;
        --qemu-timeout) [[ $# -ge 2 ]] || die "--qemu-timeout needs a number"; qemu_timeout=$2; shift 2 ;;
        --qemu-timeout=*) qemu_timeout=${1#--qemu-timeout=}; shift ;;
        --no-qemu) use_qemu=0; shift ;;
        --allow-divergence) allow_divergence=1; shift ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see $prog --help)" ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer, not '$rounds'"
[[ $qemu_timeout =~ ^[1-9][0-9]*$ ]] || die "--qemu-timeout wants a positive number of seconds, not '$qemu_timeout'"

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PANIC='Kernel panic - not syncing: No working init found'
vmlinux=guests/build/linux/vmlinux
bzimage=guests/build/linux/bzImage
sysmap=guests/build/linux/System.map

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
for f in "$vmlinux" "$bzimage" "$sysmap"; do [[ -s $f ]] || die "$f is missing after guests/linux/build.sh"; done

say "dotnet build src/Cli"
if ! dotnet build src/Cli -v q -nologo >"$tmp/build.log" 2>&1; then
    grep -m3 -E ' error ' "$tmp/build.log" >&2 || tail -n 5 "$tmp/build.log" >&2
    die "dotnet build src/Cli failed"
fi
vmreplay=(dotnet src/Cli/bin/Debug/net10.0/vmreplay.dll)

[[ -s guests/linux/cmdline ]] || die "guests/linux/cmdline is missing"
cmdline=$(<guests/linux/cmdline)

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

# ---- Timing ---------------------------------------------------------------------------------
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t)); }

# timed LOG MODE COMMAND...: runs COMMAND with stdout and stderr into a pipe read here, writing
# each line to LOG as "<microseconds since start><TAB><line>". MODE "all" reads to the end; MODE
# "qemu" stops the command at the panic line, or after the register dump of a KVM internal error.
# Sets t_rc (exit status; 124 for the timeout), t_us (wall time to the end, or to the stop) and
# t_stop (exit, panic or kvm-error).
timed() {
    local log=$1 mode=$2; shift 2
    local fifo=$tmp/fifo line t0 now
    rm -f "$fifo"; mkfifo "$fifo"
    t_stop=exit t_rc=0
    t0=$(now_us)
    "$@" </dev/null >"$fifo" 2>&1 &
    cur_pid=$!
    while IFS= read -r line || [[ -n $line ]]; do
        now=${EPOCHREALTIME/[.,]/}; now=$((10#$now - t0))
        line=${line%$'\r'}
        printf '%s\t%s\n' "$now" "$line" >&3
        [[ $mode == qemu ]] || continue
        case $line in
            *"$PANIC"*) t_stop=panic t_us=$now; break ;;
            *"KVM internal error"*) t_stop=kvm-error t_us=$now ;;
            Code=*) [[ $t_stop != kvm-error ]] || break ;;
        esac
    done <"$fifo" 3>"$log"
    [[ $t_stop == exit ]] || kill "$cur_pid" 2>/dev/null || true
    wait "$cur_pid" || t_rc=$?
    cur_pid=
    [[ $t_stop != exit ]] || t_us=$(( $(now_us) - t0 ))
}

# The time in LOG (microseconds) of the first line that is exactly TEXT, or nothing.
line_time() { awk -F'\t' -v s="$2" '{ l = $0; sub(/^[^\t]*\t/, "", l) } l == s { print $1; exit }' "$1"; }
# The time in LOG (microseconds) of the first line that contains TEXT, or nothing.
match_time() { awk -F'\t' -v s="$2" 'index($0, s) { print $1; exit }' "$1"; }
# The last "vmreplay: ..." message of LOG that is not a warning (it may follow a partial serial
# line), else its last line: for an error message.
last_vmreplay_line() {
    awk -F'\t' '{ i = index($0, "vmreplay: "); m = i ? substr($0, i) : "" }
                 m != "" && m !~ /^vmreplay: warning:/ { l = m } $2 != "" { last = $2 }
                 END { print (l != "" ? l : last) }' "$1"
}

check_panic() { # NAME LOG
    [[ $t_rc -eq 0 ]] && grep -qF "$PANIC" "$2" && return 0
    [[ $t_rc -ne 124 ]] || die "$1 did not end within ${vmreplay_timeout} s"
    die "$1 did not reach the panic (exit status $t_rc): $(last_vmreplay_line "$2")"
}

# A field of `vmreplay info --json`: NAME's number, or with "exits" the sum of "exit *" kinds.
json_field() { # FILE NAME
    if [[ $2 == exits ]]; then
        awk '/"eventsByKind"/ { k = 1; next } k && /}/ { k = 0 } k && /"exit / { gsub(/[^0-9]/, "", $NF); n += $NF } END { print n + 0 }' "$1"
    else
        grep -m1 -oE "\"$2\": *[0-9]+" "$1" | grep -oE '[0-9]+$' || true
    fi
}

run_us=() rec_us=() rep_us=() bz_us=() run_panic_us=()
qk_us=() qk_stop=() qt_us=() qt_stop=()
ev=() exits=() snaps=() bytes=() rec_eps=() rep_eps=() data_only=0 diverged=0 first_divergence=
common_line='' run_common_us=() qk_common_us=() qt_common_us=()
qk_rip='' qk_sym='' qk_lastline=''
to=(timeout "$vmreplay_timeout")

for ((r = 1; r <= rounds; r++)); do
    p="round $r/$rounds:"

    timed "$tmp/run.log" all "${to[@]}" "${vmreplay[@]}" run "$vmlinux" --cmdline "$cmdline" --serial-in /dev/null
    check_panic "vmreplay run $vmlinux" "$tmp/run.log"
    run_us+=("$t_us")
    run_panic_us+=("$(match_time "$tmp/run.log" "$PANIC")")
    say "$p vmreplay run vmlinux $(printf '%d.%02d' $((t_us / 1000000)) $((t_us % 1000000 / 10000))) s"

    trace=$tmp/linux.vmtrace
    rm -f "$trace"
    timed "$tmp/record.log" all "${to[@]}" "${vmreplay[@]}" record "$vmlinux" --cmdline "$cmdline" --serial-in /dev/null -o "$trace"
    check_panic "vmreplay record $vmlinux" "$tmp/record.log"
    [[ -s $trace ]] || die "vmreplay record wrote no trace"
    rec_us+=("$t_us")
    say "$p vmreplay record vmlinux $(printf '%d.%02d' $((t_us / 1000000)) $((t_us % 1000000 / 10000))) s"

    "${vmreplay[@]}" info "$trace" --json >"$tmp/info.json" 2>"$tmp/info.err" \
        || die "vmreplay info --json failed: $(head -n1 "$tmp/info.err")"
    e=$(json_field "$tmp/info.json" events)
    [[ -n $e && $e -gt 0 ]] || die "vmreplay info --json gave no event count"
    ev+=("$e") exits+=("$(json_field "$tmp/info.json" exits)")
    snaps+=("$(json_field "$tmp/info.json" snapshots)") bytes+=("$(json_field "$tmp/info.json" fileBytes)")
    parts=$(for f in imageBytes snapshotBytes eventChunkBytes imageChunkBytes; do json_field "$tmp/info.json" "$f"; done | paste -sd' ' -)
    rec_eps+=("$((e * 1000000 / rec_us[-1]))")

    timed "$tmp/replay.log" all "${to[@]}" "${vmreplay[@]}" replay "$trace"
    if [[ $t_rc -ne 0 ]] || ! grep -q 'replay matched' "$tmp/replay.log"; then
        [[ $t_rc -ne 124 ]] || die "vmreplay replay did not end within ${vmreplay_timeout} s"
        kept=${TMPDIR:-/tmp}/vmreplay-linux-bench-diverged-$(date -u +%Y%m%d-%H%M%S).vmtrace
        mv "$trace" "$kept" 2>/dev/null || kept="(not kept)"
        msg="vmreplay replay diverged (exit status $t_rc; trace kept in $kept): $(last_vmreplay_line "$tmp/replay.log")"
        [[ $allow_divergence == 1 ]] || die "$msg"
        say "$p $msg"
        diverged=$((diverged + 1))
        [[ -n $first_divergence ]] || first_divergence=$(last_vmreplay_line "$tmp/replay.log")
    else
        if grep -q 'differed from the recording in data only' "$tmp/replay.log"; then data_only=$((data_only + 1)); fi
        rep_us+=("$t_us")
        rep_eps+=("$((e * 1000000 / t_us))")
        say "$p vmreplay replay $(printf '%d.%02d' $((t_us / 1000000)) $((t_us % 1000000 / 10000))) s"
    fi

    timed "$tmp/bz.log" all "${to[@]}" "${vmreplay[@]}" run "$bzimage" --cmdline "$cmdline" --serial-in /dev/null
    check_panic "vmreplay run $bzimage" "$tmp/bz.log"
    bz_us+=("$t_us")
    say "$p vmreplay run bzImage $(printf '%d.%02d' $((t_us / 1000000)) $((t_us % 1000000 / 10000))) s"

    [[ $use_qemu == 1 ]] || continue
    for accel in kvm tcg; do
        timed "$tmp/qemu-$accel.log" qemu timeout "$qemu_timeout" qemu-system-x86_64 -accel "$accel" -m 128M \
            -nographic -no-reboot -kernel "$vmlinux" -append "$cmdline"
        stop=$t_stop
        if [[ $stop == exit && $t_rc -eq 124 ]]; then stop=timeout; fi
        if [[ $stop == exit ]]; then stop="exit-$t_rc"; fi
        if [[ $accel == kvm ]]; then qk_us+=("$t_us") qk_stop+=("$stop"); else qt_us+=("$t_us") qt_stop+=("$stop"); fi
        say "$p qemu -accel $accel $(printf '%d.%02d' $((t_us / 1000000)) $((t_us % 1000000 / 10000))) s ($stop)"
    done
    # The last serial line QEMU/KVM printed before its failure, and when each run reached it.
    if [[ ${qk_stop[-1]} == kvm-error ]]; then
        qk_lastline=$(awk -F'\t' '/KVM internal error/ { print l; exit } $2 != "" { l = $2 }' "$tmp/qemu-kvm.log")
        qk_rip=$(sed -n 's/^[0-9]*\tRIP=\([0-9a-f]*\) .*/\1/p' "$tmp/qemu-kvm.log" | head -n1)
        [[ -z $qk_rip ]] || qk_sym=$(awk -v r="$qk_rip" '$1 <= r { s = $3 } $1 > r { exit } END { print s }' "$sysmap")
        [[ -n $common_line ]] || common_line=$qk_lastline
        if [[ -n $common_line ]]; then
            a=$(line_time "$tmp/run.log" "$common_line"); b=$(line_time "$tmp/qemu-kvm.log" "$common_line")
            c=$(line_time "$tmp/qemu-tcg.log" "$common_line")
            [[ -z $a ]] || run_common_us+=("$a")
            [[ -z $b ]] || qk_common_us+=("$b")
            [[ -z $c ]] || qt_common_us+=("$c")
        fi
    fi
done

# ---- Report ---------------------------------------------------------------------------------
# min, median and max (in seconds, from microseconds) of the arguments.
stats() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END {
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "%8.2f %8.2f %8.2f", a[1] / 1e6, m / 1e6, a[NR] / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { # "v" when all are equal, else "min-max"
    local lo hi
    lo=$(printf '%s\n' "$@" | sort -n | head -n1); hi=$(printf '%s\n' "$@" | sort -n | tail -n1)
    if [[ $lo == "$hi" ]]; then echo "$lo"; else echo "$lo-$hi"; fi
}
sec() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1e6 }'; }
row() { printf '%-44s %s\n' "$1" "$2"; }

echo
echo "Linux 6.1 boot to \"$PANIC\" ($rounds round$([[ $rounds -eq 1 ]] || echo s), $(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "host: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), Linux $(uname -r), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command line: $cmdline"
echo
printf '%-44s %8s %8s %8s\n' "wall time, seconds" min median max
row "vmreplay run vmlinux (PVH)" "$(stats "${run_us[@]}")"
row "vmreplay record vmlinux" "$(stats "${rec_us[@]}")"
if [[ ${#rep_us[@]} -gt 0 ]]; then
    row "vmreplay replay$([[ $diverged -eq 0 ]] || echo " (${#rep_us[@]} that matched)")" "$(stats "${rep_us[@]}")"
else
    row "vmreplay replay" "   (every replay diverged)"
fi
row "vmreplay run bzImage" "$(stats "${bz_us[@]}")"
if [[ ${#qk_us[@]} -gt 0 ]]; then
    k=$(printf '%s\n' "${qk_stop[@]}" | sort -u | paste -sd, -)
    t=$(printf '%s\n' "${qt_stop[@]}" | sort -u | paste -sd, -)
    desc() { case $1 in panic) echo "to the panic line" ;; kvm-error) echo "to the KVM error" ;; *) echo "to its end: $1" ;; esac; }
    kd=$(desc "$k") td=$(desc "$t")
    row "qemu -accel kvm vmlinux ($kd)" "$(stats "${qk_us[@]}")"
    row "qemu -accel tcg vmlinux ($td)" "$(stats "${qt_us[@]}")"
fi
echo
m_run=$(median "${run_us[@]}") m_rec=$(median "${rec_us[@]}") m_rep=
[[ ${#rep_us[@]} -eq 0 ]] || m_rep=$(median "${rep_us[@]}")
row "record/run, replay/run (medians)" "$(awk -v a="$m_rec" -v b="$m_rep" -v r="$m_run" 'BEGIN { printf "%.2fx, ", a / r; if (b == "") printf "-"; else printf "%.2fx", b / r }')"
row "vmreplay run: start to the panic line" "$(sec "$(median "${run_panic_us[@]}")") s (median)"
b_last=${bytes[-1]}
row "trace size" "$(awk -v b="$b_last" 'BEGIN { printf "%d bytes (%.1f MiB)", b, b / 1048576 }')$([[ $(range "${bytes[@]}") == "$b_last" ]] || echo " in the last round ($(range "${bytes[@]}") over the rounds)")"
# imageChunkBytes (the stored guest image) is in traces of format 2 on; before, the image is raw.
read -r p_img p_snap p_ev p_imgc <<<"$parts"
[[ -z $p_ev ]] || row "  of which" "$(awk -v b="$b_last" -v i="$p_img" -v s="$p_snap" -v e="$p_ev" -v c="${p_imgc:-$p_img}" 'BEGIN {
    printf "guest image %.1f MiB (%.1f MiB raw), snapshots %.1f MiB, events %.1f KiB, the rest %.1f KiB",
           c / 1048576, i / 1048576, s / 1048576, e / 1024, (b - c - s - e) / 1024 }')"
row "events, exits, snapshots" "$(range "${ev[@]}"), $(range "${exits[@]}"), $(range "${snaps[@]}")"
row "events/s of record, of replay (medians)" "$(median "${rec_eps[@]}"), $(if [[ ${#rep_eps[@]} -eq 0 ]]; then echo -; else median "${rep_eps[@]}"; fi)"
if [[ $diverged -eq 0 ]]; then r_text="matched in every round"; else r_text="matched in $((rounds - diverged)) of $rounds rounds"; fi
[[ $data_only -eq 0 ]] || r_text+="; guest memory differed in data only (RDTSC values) in $data_only of them"
row "replay" "$r_text"
[[ $diverged -eq 0 ]] || row "  first divergence" "$first_divergence"
if [[ ${#qk_us[@]} -gt 0 ]]; then
    echo
    m_qk=$(median "${qk_us[@]}")
    if [[ $k == kvm-error ]]; then
        echo "qemu -accel kvm: stopped at a KVM emulation failure (\"KVM internal error. Suberror: 1\") after $(sec "$m_qk") s"
        echo "  (median) at RIP ${qk_rip:-?}${qk_sym:+ ($qk_sym)}: it did not reach the panic. This host's KVM"
        echo "  cannot emulate int3 at CPL0; vmreplay emulates it itself."
        if [[ -n $common_line && ${#run_common_us[@]} -gt 0 && ${#qk_common_us[@]} -gt 0 ]]; then
            echo "  start to the last serial line before the failure, \"$common_line\" (medians):"
            echo "    qemu -accel kvm $(sec "$(median "${qk_common_us[@]}")") s, vmreplay run $(sec "$(median "${run_common_us[@]}")") s$([[ ${#qt_common_us[@]} -eq 0 ]] || echo ", qemu -accel tcg $(sec "$(median "${qt_common_us[@]}")") s")"
        fi
    elif [[ $k == panic ]]; then
        echo "qemu -accel kvm: reached the panic in $(sec "$m_qk") s (median)"
    else
        echo "qemu -accel kvm: did not reach the panic ($k) after $(sec "$m_qk") s (median)"
    fi
    m_qt=$(median "${qt_us[@]}")
    if [[ $t == panic ]]; then
        echo "qemu -accel tcg: reached the panic in $(sec "$m_qt") s (median)"
    else
        echo "qemu -accel tcg: did not reach the panic ($t) after $(sec "$m_qt") s (median)"
    fi
fi
[[ -z $qemu_note ]] || { echo; echo "$qemu_note"; }
