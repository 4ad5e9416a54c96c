using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// Checks a replay against the recording's snapshots at the same checkpoints: the event index,
/// the vCPU state, every device's state, the run-loop counters, and the pages written since the
/// previous snapshot (all non-zero pages for a full one). The first difference is a divergence,
/// except a difference in the contents of the same pages, which <see cref="MemoryDifferences"/>
/// may let the replay go past: then the recorded pages replace the replay's.
/// </summary>
public sealed class SnapshotVerifier : IRunCheckpoints
{
    private readonly TraceReader _trace;
    private readonly PcMachine _machine;
    private readonly EventCursor _events;
    private readonly DirtyPageTracker _written;
    private readonly MemoryDifferences _differences;
    private int _next;
    // The event the next snapshot follows (see NextDue); long.MaxValue when there is none.
    private long _dueFrom;
    private StoredSnapshot? _pending;
    // The snapshot being read ahead (see ReadAhead), and whether the comparisons have run once.
    private Task<StoredSnapshot>? _ahead;
    private int _aheadNumber = -1;
    private static bool s_compared;

    public SnapshotVerifier(TraceReader trace, PcMachine machine, EventCursor events, MemoryDifferences differences)
    {
        _trace = trace;
        _machine = machine;
        _events = events;
        _differences = differences;
        _written = machine.Backend.DirtyLog?.CreateTracker() ?? throw new InvalidOperationException("verifying snapshots needs a VM with dirty logging");
        NextIs(0);
    }

    private void NextIs(int number)
    {
        _next = number;
        _dueFrom = number < _trace.Snapshots.Count ? (long)_trace.Snapshots[number].FirstEvent : long.MaxValue;
    }

    /// <summary>
    /// Called with the pages the verifier rewrote from the recording (host writes, which KVM's
    /// dirty log does not see), so that whoever tracks written pages can count them.
    /// </summary>
    public Action<IReadOnlyList<ulong>>? PagesAdopted { get; set; }

    /// <summary>
    /// Called just before the verifier rewrites pages from the recording, with the snapshot's
    /// number and the pages: the replay's own bytes are still there (a debugger's watchpoints
    /// tell such a host write from the guest's own).
    /// </summary>
    public Action<int, IReadOnlyList<ulong>>? PagesAdopting { get; set; }

    /// <summary>Called with a snapshot's number once the replay reached it and it checked out.</summary>
    public Action<int>? SnapshotReached { get; set; }

    /// <summary>Snapshots checked so far.</summary>
    public int Verified { get; private set; }

    /// <summary>After snapshot number <paramref name="restored"/> was restored: the next one to check is the one after it.</summary>
    public void ContinueAfter(int restored)
    {
        NextIs(restored + 1);
        _pending = null;
        _written.Reset();
        ReadAhead(_next);
    }

    private StoredSnapshot? Next()
    {
        if (_pending is null && _next < _trace.Snapshots.Count)
            _pending = _aheadNumber == _next && _ahead is { } ahead ? ahead.GetAwaiter().GetResult() : _trace.ReadStoredSnapshot(_trace.Snapshots[_next], withPages: false);
        return _pending;
    }

    // The next snapshot is read and decoded on another thread while the replay runs to it; the
    // first time, the vCPU comparison runs there too, on its state against itself, so that its
    // code is compiled before the vCPU thread needs it (the Linux replay's vCPU thread spent 20 ms
    // in its two snapshot checks, most of it reading the snapshots and compiling the comparisons).
    // The device state is compared as the bytes it was recorded as, with the live machine's
    // written the same way, which needs the live machine: that write is the vCPU thread's.
    private void ReadAhead(int number)
    {
        if (number >= _trace.Snapshots.Count || number == _aheadNumber) return;
        var chunk = _trace.Snapshots[number];
        _aheadNumber = number;
        _ahead = _trace.ReadAheadOfReplay(() =>
        {
            var s = _trace.ReadStoredSnapshot(chunk, withPages: false);
            if (!Interlocked.Exchange(ref s_compared, true)) VcpuDifference(s.Vcpu, s.Vcpu);
            return s;
        });
    }

    public long NextDue(long exitCount)
    {
        if (_pending is null && _next >= _trace.Snapshots.Count) return long.MaxValue;
        // A snapshot follows the events recorded before it (its chunk says how many): until the
        // replay has consumed that many it cannot be due, and the snapshot being read ahead is
        // not waited for. Asked at the first exit after the last snapshot, the replay waited for
        // every read-ahead as soon as it was started (bench-exits: 5-9 ms for the first, 0.3 ms
        // for each after it). Once read, it names the exit it was taken after, and the run loop
        // asks no more before that. A replay that reaches the snapshot's exit having consumed
        // fewer events has diverged: its next exit finds a recorded event that is not an exit.
        if (_pending is null && _events.Position < _dueFrom)
            return _aheadNumber == _next && _ahead is { IsCompletedSuccessfully: true } ahead ? Math.Max(ahead.Result.ExitCount, exitCount + 1) : exitCount + 1;
        var s = Next()!;
        return s.ExitCount == exitCount ? exitCount : Math.Max(s.ExitCount, exitCount + 1);
    }

    public void Reached(long exitCount)
    {
        var expected = Next()!;
        string where = $"snapshot {_next} (after exit {exitCount})";
        long at = _events.Position;
        if (expected.EventIndex != at)
            throw new ReplayDivergenceException(at, $"{where} at event {expected.EventIndex}", $"the replay reached that exit at event {at}");
        var actual = _machine.CaptureState();
        // A recording made on another backend (KVM, replayed on the software CPU) is compared in
        // what both backends define alike: the architectural registers, not each one's extras.
        bool crossBackend = _trace.Header.Backend != Engine.Backend.CpuBackendNames.Name(_machine.Backend.Kind);
        if (crossBackend && !_differences.Strict
            && UndefinedFlags.OnlyDifference(RegisterFile.From(expected.Vcpu.Regs), RegisterFile.From(actual.Vcpu.Regs)))
        {
            _differences.InUndefinedFlags($"{where}, event {at}: RFLAGS {expected.Vcpu.Regs.Rflags:x} recorded, {actual.Vcpu.Regs.Rflags:x} now");
            UndefinedFlags.Adopt(_machine.Vcpu, expected.Vcpu.Regs.Rflags);
            actual.Vcpu.Regs.Rflags = expected.Vcpu.Regs.Rflags;
        }
        if ((crossBackend ? ArchitecturalDifference(expected.Vcpu, actual.Vcpu) : VcpuDifference(expected.Vcpu, actual.Vcpu)) is { } vcpu)
            throw new ReplayDivergenceException(at, $"the vCPU state of {where}", $"a different one: {vcpu}");
        // The devices and counters as recorded, byte for byte (a recording that did not count
        // instructions, KVM's, says nothing about the count); where they differ, decoded and
        // compared device by device, which names the one that differs.
        if (!SnapshotCodec.SameDeviceState(actual.Platform, actual.Counters, expected.DeviceState)
            && !SnapshotCodec.SameDeviceState(actual.Platform, actual.Counters with { Instructions = null }, expected.DeviceState))
            CheckDecodedDevices(_trace.ReadMachineState(expected, _trace.Snapshots[_next]), actual, at, where);
        var pages = expected.Kind == SnapshotKind.Full ? _machine.Backend.DirtyLog?.NonZeroPages() ?? _machine.Memory.NonZeroPages() : _written.Pages();
        ulong hash = PageSetHash.Of(_machine.Memory, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pages), TraceFormat.PageHashOf(_trace.Version));
        if (hash != expected.MemoryHash)
        {
            string? pageSets = FirstPageDifference(expected.Pages, pages);
            Content? content = pageSets is null ? ContentDifference() : null;
            if (content is null || _differences.Strict)
                throw new ReplayDivergenceException(at,
                    $"{expected.Pages.Length} pages with memory hash {expected.MemoryHash:x16} at {where}{pageSets ?? content!.Value.Description}",
                    $"{pages.Count} pages with hash {hash:x16}");
            _differences.AtSnapshot($"{where}, event {at}", content.Value.Bytes, content.Value.First);
            Adopt(content.Value.Recorded, content.Value.Pages);
        }
        _written.Reset();
        _pending = null;
        int reached = _next;
        NextIs(_next + 1);
        Verified++;
        ReadAhead(_next);
        SnapshotReached?.Invoke(reached);
    }

    // The device state and counters compared as decoded: a snapshot an older build wrote may
    // spell the same state in other bytes.
    private static void CheckDecodedDevices(MachineState expected, MachineState actual, long at, string where)
    {
        if (DeviceDifference(expected.Platform, actual.Platform) is { } device)
            throw new ReplayDivergenceException(at, $"the {device} state of {where}", "a different one");
        var counted = expected.Counters.Instructions is null ? actual.Counters with { Instructions = null } : actual.Counters;
        if (expected.Counters != counted)
            throw new ReplayDivergenceException(at, $"run-loop counters {expected.Counters} at {where}", actual.Counters.ToString());
    }

    // The recorded contents of the differing pages replace the replay's: the state is the
    // recorded snapshot's again, as if the replay had restored it here.
    private void Adopt(Snapshot recorded, List<int> differing)
    {
        var memory = _machine.Memory;
        var pages = differing.Select(i => recorded.Pages[i]).ToList();
        PagesAdopting?.Invoke(_next, pages);
        foreach (int i in differing)
            memory.RestorePage(recorded.Pages[i], recorded.PageData.AsSpan(i * (int)GuestMemory.PageSize, (int)GuestMemory.PageSize));
        PagesAdopted?.Invoke(pages);
    }

    private readonly record struct Content(Snapshot Recorded, List<int> Pages, long Bytes, string First, string Description);

    // Where the same pages hold different bytes: the snapshot's own page data against RAM now,
    // as guest-physical addresses (which a debugger or a symbol map turns into names).
    private Content ContentDifference()
    {
        var recorded = _trace.ReadSnapshot(_trace.Snapshots[_next], withPages: true);
        var memory = _machine.Memory;
        var differences = new List<string>();
        var pages = new List<int>();
        int bytes = 0;
        for (int i = 0; i < recorded.Pages.Length; i++)
        {
            var was = recorded.PageData.AsSpan(i * (int)GuestMemory.PageSize, (int)GuestMemory.PageSize);
            var now = memory.GetSpan(recorded.Pages[i], (int)GuestMemory.PageSize);
            if (was.SequenceEqual(now)) continue;
            pages.Add(i);
            for (int at = 0; at < was.Length; at++)
            {
                if (was[at] == now[at]) continue;
                bytes++;
                if (differences.Count < 4 && (at == 0 || was[at - 1] == now[at - 1]))
                {
                    int n = Math.Min(8, was.Length - at);
                    differences.Add($"{recorded.Pages[i] + (ulong)at:x}: recorded {Convert.ToHexString(was.Slice(at, n))}, now {Convert.ToHexString(now.Slice(at, n))}");
                }
            }
        }
        string first = string.Join("; ", differences);
        return new Content(recorded, pages, bytes, first, $" (the same pages, {bytes} bytes differ; first at guest-physical {first})");
    }

    private static string? FirstPageDifference(ulong[] expected, List<ulong> actual)
    {
        var missing = expected.Except(actual).Take(3).ToList();
        var extra = actual.Except(expected).Take(3).ToList();
        if (missing.Count == 0 && extra.Count == 0) return null;
        return $" (recorded but not written now: {string.Join(' ', missing.Select(p => p.ToString("x")))}; written now but not recorded: {string.Join(' ', extra.Select(p => p.ToString("x")))})";
    }

    // General registers, RIP, the arithmetic and control flags, control registers, descriptor
    // tables and segment registers (selector, base, DPL; limit and code size where the segment is
    // usable), and the SSE state: what a guest can see. Left out: the XSAVE area's host-specific
    // layout, the MSRs each backend tracks, accessed bits and other hidden-cache details (a null
    // SS that Linux's 64-bit code runs with reads from KVM on AMD as all-zero attributes, from
    // the software CPU with its last type and size), pending-event bookkeeping.
    private static string? ArchitecturalDifference(VcpuState e, VcpuState a)
    {
        var regs = ReplayHostEvents.RegisterDifference(Recorder.Events.RegisterFile.From(e.Regs), Recorder.Events.RegisterFile.From(a.Regs));
        if (regs.Length > 0) return regs;
        var (es, s) = (e.Sregs, a.Sregs);
        if (es.Cr0 != s.Cr0 || es.Cr3 != s.Cr3 || es.Cr4 != s.Cr4 || (es.Efer & 0xD01) != (s.Efer & 0xD01))
            return $"control registers (CR0 {es.Cr0:x}/{s.Cr0:x}, CR3 {es.Cr3:x}/{s.Cr3:x}, CR4 {es.Cr4:x}/{s.Cr4:x}, EFER {es.Efer:x}/{s.Efer:x} recorded/now)";
        if (es.Gdt.Base != s.Gdt.Base || es.Gdt.Limit != s.Gdt.Limit || es.Idt.Base != s.Idt.Base || es.Idt.Limit != s.Idt.Limit)
            return "descriptor-table registers";
        var pairs = new[] { ("CS", es.Cs, s.Cs), ("SS", es.Ss, s.Ss), ("DS", es.Ds, s.Ds), ("ES", es.Es, s.Es), ("FS", es.Fs, s.Fs), ("GS", es.Gs, s.Gs), ("TR", es.Tr, s.Tr) };
        foreach (var (name, x, y) in pairs)
            if (x.Selector != y.Selector || x.Base != y.Base || x.Dpl != y.Dpl
                || x.Present != 0 && y.Present != 0 && (x.L != y.L || x.Db != y.Db || x.Limit != y.Limit))
                return $"segment register {name} ({x} recorded, {y} now)";
        if (e.Fpu.Mxcsr != a.Fpu.Mxcsr || !SameXmm(e.Fpu, a.Fpu)) return "SSE registers or MXCSR";
        return null;
    }

    private static unsafe bool SameXmm(FpuRegisters x, FpuRegisters y) =>
        new ReadOnlySpan<byte>(x.Xmm, 256).SequenceEqual(new ReadOnlySpan<byte>(y.Xmm, 256));

    private static string? VcpuDifference(VcpuState e, VcpuState a)
    {
        // Traces written before captures were canonical carry the host's raw XSTATE_BV; a state
        // without an XSAVE area (the software CPU keeps x87/SSE in Fpu) canonicalises the same on both sides.
        e.Xsave = XsaveArea.Canonical(e.Xsave);
        a.Xsave = XsaveArea.Canonical(a.Xsave);
        var regs = ReplayHostEvents.RegisterDifference(Recorder.Events.RegisterFile.From(e.Regs), Recorder.Events.RegisterFile.From(a.Regs));
        if (regs.Length > 0) return regs;
        if (!VcpuStateCodec.SameEncoding(e, a))
        {
            if (!Same(e.Sregs, a.Sregs)) return "segment or control registers";
            if (!Same(e.Xsave, a.Xsave)) return "FPU/SSE (XSAVE) state" + FirstByteDifference(e.Xsave, a.Xsave);
            if (!Same(e.Fpu, a.Fpu)) return "FPU/SSE state" + FirstByteDifference(e.Fpu, a.Fpu);
            if (!Same(e.Events, a.Events)) return "pending exception or interrupt state (vCPU events)";
            if (!Same(e.DebugRegs, a.DebugRegs)) return "debug registers";
            return "MSRs, XCRs or MP state";
        }
        return null;
    }

    private static string FirstByteDifference<T>(in T expected, in T actual) where T : unmanaged
    {
        var e = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in expected));
        var a = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in actual));
        int at = e.CommonPrefixLength(a);
        int end = Math.Min(e.Length, at + 16);
        return $" (from byte {at:x}: {Convert.ToHexString(e[at..end])} recorded, {Convert.ToHexString(a[at..end])} now)";
    }

    private static bool Same<T>(in T a, in T b) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in a))
            .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in b)));

    private static string? DeviceDifference(PcPlatformState expected, PcPlatformState actual) =>
        SnapshotCodec.SameDeviceStates(expected, actual) ? null : SnapshotCodec.DeviceStates(expected).Zip(SnapshotCodec.DeviceStates(actual))
            .Where(d => d.First.Json != d.Second.Json)
            .Select(d => $"{d.First.Name} device ({d.First.Json} recorded, {d.Second.Json} now)")
            .FirstOrDefault();
}
