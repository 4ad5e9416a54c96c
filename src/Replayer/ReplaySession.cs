using VmReplay.Devices.Platform;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Run;
using VmReplay.Recorder;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Replayer;

/// <summary>
/// A replay that can be positioned anywhere in its trace (see <see cref="ReplayPosition"/>).
/// Going to a position restores the nearest snapshot at or before it (unless running on from
/// where the machine already is is shorter) and replays forward; instruction offsets are reached
/// by single-stepping only the last stretch. Every snapshot passed on the way is verified.
/// </summary>
public sealed class ReplaySession : IDisposable
{
    private readonly TraceReader _trace;
    private long _stepsLeft;
    private long _target;
    private long _emulatedSeen;

    private ReplaySession(TraceReader trace, PcMachine machine, ReplaySources sources)
    {
        _trace = trace;
        Machine = machine;
        Sources = sources;
        Verifier = new SnapshotVerifier(trace, machine, sources.Events);
        machine.Checkpoints = Verifier;
        machine.PauseRequested = ShouldPause;
    }

    public PcMachine Machine { get; }
    public ReplaySources Sources { get; }
    public SnapshotVerifier Verifier { get; }

    /// <summary>Where the machine is now.</summary>
    public ReplayPosition Position { get; private set; }

    /// <summary>How the recorded run ended, once the replay reached its end; null while it can go on.</summary>
    public RunOutcome? Outcome { get; private set; }

    /// <summary>Whether seeks may restore snapshots (otherwise they replay from the start).</summary>
    public bool UseSnapshots { get; set; } = true;

    /// <summary>Snapshots restored so far (a measure of how seeks were served).</summary>
    public int Restores { get; private set; }

    /// <summary>Builds the recorded machine at the start of <paramref name="trace"/>; serial output goes to <paramref name="serialOutput"/>.</summary>
    public static ReplaySession Open(TraceReader trace, string kvmPath, Stream serialOutput)
    {
        var h = trace.Header;
        var options = new PcMachineOptions
        {
            MemorySize = h.MemorySize, VcpuCount = h.VcpuCount, Cmdline = h.Cmdline, KvmPath = kvmPath, SerialOutput = serialOutput,
        };
        var sources = new ReplaySources(trace);
        var machine = PcMachine.Create(options, trace.Image, h.GuestName, sources);
        return new ReplaySession(trace, machine, sources);
    }

    /// <summary>Runs to the end of the recording and returns how it ended.</summary>
    public RunOutcome RunToEnd()
    {
        if (Outcome is not null) return Outcome;
        _target = long.MaxValue;
        _stepsLeft = 0;
        return Outcome = Machine.Run();
    }

    /// <summary>
    /// Puts the machine at <paramref name="target"/>. Throws <see cref="ArgumentOutOfRangeException"/>
    /// when the recording ends before it, <see cref="ReplayDivergenceException"/> on a divergence.
    /// </summary>
    public void Seek(ReplayPosition target)
    {
        if (target.Event < 0 || target.Instructions < 0) throw new ArgumentOutOfRangeException(nameof(target), $"{target} is not a position");
        long consumed = Sources.Events.Position;
        // Running on from here reaches the target only if the machine has not yet passed the
        // stop where the target's event count is first reached.
        // One stop can consume several events, so the stop of an earlier position may already be
        // the target's stop.
        bool atTargetStop = Outcome is null && Position.Instructions == 0 && Position.Event <= target.Event && consumed >= target.Event;
        bool canRunOn = atTargetStop || Outcome is null && (Position.Event == target.Event
            ? Position.Instructions <= target.Instructions
            : Position.Event < target.Event && consumed < target.Event);
        int snapshot = UseSnapshots ? NearestSnapshot(target.Event) : canRunOn ? -1 : Math.Min(0, _trace.Snapshots.Count - 1);
        bool snapshotCloser = snapshot >= 0 && (long)_trace.Snapshots[snapshot].FirstEvent > consumed;
        if (snapshot >= 0 && (!canRunOn || snapshotCloser)) Restore(snapshot);
        else if (!canRunOn) throw new InvalidOperationException($"{_trace.Path}: no snapshot at or before event {target.Event} to go back to");

        if (Position.Event < target.Event)
        {
            if (Sources.Events.Position < target.Event) RunUntil(target.Event, 0);
            Position = new ReplayPosition(target.Event, 0);
        }
        if (target.Instructions > Position.Instructions)
        {
            RunUntil(target.Event, target.Instructions - Position.Instructions);
            Position = target;
        }
    }

    private void RunUntil(long eventIndex, long steps)
    {
        _target = eventIndex;
        _stepsLeft = steps;
        _emulatedSeen = Machine.Counters.EmulatedInstructions;
        var host = Sources.HostEvents;
        if (host is not null) host.SingleStep = steps > 0;
        try
        {
            var outcome = Machine.Run();
            if (outcome.Kind != RunOutcomeKind.Paused)
            {
                Outcome = outcome;
                Position = new ReplayPosition(Sources.Events.Position, 0);
                throw new ArgumentOutOfRangeException(nameof(eventIndex),
                    $"the recording ends ({outcome.Message}) at event {Sources.Events.Position}, before event {eventIndex}{(steps > 0 ? $" + {steps} instructions" : "")}");
            }
        }
        finally
        {
            if (Sources.HostEvents is { } h) h.SingleStep = false;
        }
    }

    private bool ShouldPause(StopPoint stop)
    {
        if (_stepsLeft > 0)
        {
            CountSteps(stop);
            long emulated = Machine.Counters.EmulatedInstructions;
            _stepsLeft -= Math.Min(_stepsLeft, emulated - _emulatedSeen);
            _emulatedSeen = emulated;
            if (_stepsLeft == 0 && Sources.HostEvents is { } h) h.SingleStep = false;
            return _stepsLeft == 0;
        }
        return Sources.Events.Position >= _target;
    }

    // Instructions are counted at the stops single-stepping produces. An instruction that exits to
    // the VMM (I/O, MMIO, MSR, HLT) is counted at its exit, since this host's KVM drops the step
    // trap of an instruction it completes after the exit; where a host does deliver that trap, it
    // arrives at the address the exit left, with nothing executed, and is not counted again.
    private ulong? _trapAfterExitAt;

    private void CountSteps(StopPoint stop)
    {
        var vcpu = Machine.Vm.Vcpus[0].Kvm;
        if (stop.Kind == StopKind.Debug)
        {
            bool ownTrap = _trapAfterExitAt == vcpu.GetRegs().Rip;
            if (Sources.HostEvents!.LastDebugStopWasStep && !ownTrap && _stepsLeft > 0) _stepsLeft--;
            _trapAfterExitAt = null;
        }
        else if (stop.Kind == StopKind.Exit && vcpu.RunPage.ExitReason is KvmExitReason.Io or KvmExitReason.Mmio
                     or KvmExitReason.Hlt or KvmExitReason.X86Rdmsr or KvmExitReason.X86Wrmsr)
        {
            _stepsLeft--;
            _trapAfterExitAt = vcpu.GetRegs().Rip;
        }
    }

    /// <summary>The last snapshot taken at or before <paramref name="eventIndex"/>, or -1.</summary>
    private int NearestSnapshot(long eventIndex)
    {
        var snaps = _trace.Snapshots;
        for (int i = snaps.Count - 1; i >= 0; i--)
            if ((long)snaps[i].FirstEvent <= eventIndex) return i;
        return -1;
    }

    /// <summary>Restores snapshot <paramref name="number"/>: its full base, then every incremental one up to it.</summary>
    private void Restore(int number)
    {
        var chain = new List<Snapshot>();
        for (int i = number; i >= 0; i--)
        {
            var s = _trace.ReadSnapshot(_trace.Snapshots[i], withPages: true);
            chain.Add(s);
            if (s.Kind == SnapshotKind.Full) break;
        }
        if (chain[^1].Kind != SnapshotKind.Full)
            throw new Recorder.Format.TraceFormatException($"{_trace.Path}: snapshot {number} has no full snapshot before it");
        chain.Reverse();
        var memory = Machine.Vm.Memory;
        memory.Clear();
        foreach (var s in chain) s.RestorePages(memory);
        var target = chain[^1];
        Machine.RestoreState(target.Machine);
        Machine.Vm.DirtyLog!.Discard();
        var host = Sources.HostEvents!;
        host.ServiceTracker.Add(target.ServicePages);
        host.Restored();
        Sources.Events.Reset(_trace.Events(target.EventIndex), target.EventIndex);
        Verifier.ContinueAfter(number);
        Outcome = null;
        Position = new ReplayPosition(target.EventIndex, 0);
        Restores++;
    }

    public void Dispose() => Machine.Dispose();
}
