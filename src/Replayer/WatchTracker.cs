using VmReplay.Devices.Platform;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Replayer;

/// <summary>
/// A debugger's watched ranges and what a run does to them (see <see cref="ReplaySession.Watches"/>):
/// the value of each <see cref="WatchKind.Write"/> range at the last look, the memory operands
/// of the instruction about to run while <see cref="WatchKind.Read"/> or
/// <see cref="WatchKind.Access"/> ranges are set, and the writes no guest instruction made
/// (an interrupt frame, a snapshot check taking the recorded bytes), which get a note.
/// </summary>
internal sealed class WatchTracker(PcMachine machine, EventCursor events)
{
    private WatchedRange[] _writes = [];
    private WatchedRange[] _accesses = [];
    private byte[][] _values = [];
    private IReadOnlyList<MemoryAccess> _pending = [];
    private SnapshotAdoption? _adoption;

    /// <summary>Every watched range, write watches first.</summary>
    public IReadOnlyList<WatchedRange> All
    {
        get => [.. _writes, .. _accesses];
        set
        {
            _writes = value.Where(w => w.Kind == WatchKind.Write).ToArray();
            _accesses = value.Where(w => w.Kind != WatchKind.Write).ToArray();
            _values = _writes.Select(Read).ToArray();
        }
    }

    /// <summary>Whether read or access watches are set: reads leave no trace, so runs that look for hits must single-step.</summary>
    public bool WatchesAccesses => _accesses.Length > 0;

    /// <summary>A run starts: changes made before it (a seek, a restore) are not hits of it.</summary>
    public void BeginRun()
    {
        _adoption = null;
        for (int i = 0; i < _writes.Length; i++) _values[i] = Read(_writes[i]);
    }

    /// <summary>Single-stepping starts: note what the instruction about to run will access.</summary>
    public void BeginStepping() => _pending = NextAccesses();

    /// <summary>
    /// A snapshot check at this stop is about to take the recorded bytes of <paramref name="pages"/>:
    /// keeps the replay's own value of every watched range on them, to tell that write from the guest's.
    /// </summary>
    public void Adopting(int snapshot, IReadOnlyList<ulong> pages)
    {
        var before = new Dictionary<WatchedRange, byte[]>();
        foreach (var w in _writes)
            if (w.Physical.Any(p => pages.Any(page => p.Gpa < page + GuestMemory.PageSize && page < p.Gpa + (ulong)p.Length)))
                before[w] = Read(w);
        _adoption = before.Count > 0 ? new SnapshotAdoption(snapshot, events.Position, before) : null;
    }

    /// <summary>
    /// Called at every stop of a run: with <paramref name="look"/>, the first write-watched range
    /// whose value changed since the last look (all are brought up to date); <paramref name="delivered"/>
    /// says an interrupt delivery just wrote its frame. A snapshot check's adoption belongs to
    /// this stop only, looked at or not.
    /// </summary>
    public WatchHit? ChangeAt(bool look, bool delivered)
    {
        var adoption = _adoption;
        _adoption = null;
        if (!look) return null;
        WatchHit? first = null;
        for (int i = 0; i < _writes.Length; i++)
        {
            var now = Read(_writes[i]);
            if (now.AsSpan().SequenceEqual(_values[i])) continue;
            _values[i] = now;
            if (first is not null) continue;
            var w = _writes[i];
            string? note = null;
            if (adoption is not null && adoption.Before.TryGetValue(w, out var replayed) && !replayed.AsSpan().SequenceEqual(now))
                note = adoption.Note(w, replayed, now);
            else if (delivered)
                note = DeliveryNote(w);
            first = new WatchHit(w, HitKind.Watch, note);
        }
        return first;
    }

    /// <summary>
    /// Single-stepping crossed a boundary: the first read- or access-watched range the instruction
    /// just executed touched, or, after an interrupt delivery (which ran nothing of that
    /// instruction), the frame it pushed.
    /// </summary>
    public WatchHit? AccessAt(bool delivered)
    {
        IReadOnlyList<MemoryAccess> executed = delivered ? [InterruptFrame.JustPushed(State(), machine.Memory)] : _pending;
        _pending = NextAccesses();
        foreach (var w in _accesses)
            foreach (var a in executed)
                if ((a.Reads || w.Kind == WatchKind.Access) && a.Overlaps(w.Address, w.Length))
                    return new WatchHit(w, w.Kind == WatchKind.Read ? HitKind.ReadWatch : HitKind.AccessWatch, delivered ? DeliveryNote(w) : null);
        return null;
    }

    // The memory the instruction at RIP will touch, when read or access watches need it.
    private IReadOnlyList<MemoryAccess> NextAccesses() => _accesses.Length == 0 ? [] : InstructionMemoryAccesses.Of(State(), machine.Memory);

    private VcpuState State()
    {
        var vcpu = machine.Vcpu;
        return new VcpuState { Regs = vcpu.ReadRegisters(), Sregs = vcpu.ReadSystemRegisters() };
    }

    private byte[] Read(WatchedRange w)
    {
        var bytes = new byte[w.Length];
        int at = 0;
        foreach (var (gpa, length) in w.Physical)
        {
            machine.Memory.TryRead(gpa, bytes.AsSpan(at, length));
            at += length;
        }
        return bytes;
    }

    internal static string DeliveryNote(WatchedRange w) =>
        $"vmreplay: watchpoint 0x{w.Address:x}: written by the delivery of an external interrupt (the frame pushed on the handler's stack), " +
        "not by an instruction: forward, the stop is at the handler's first instruction; in reverse, at the interrupted one.\n";
}
