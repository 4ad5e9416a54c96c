using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
using VmReplay.GdbStub.Protocol;
using VmReplay.Recorder;
using VmReplay.Recorder.Snapshots;
using VmReplay.Replayer;

namespace VmReplay.GdbStub.Target;

/// <summary>
/// A replay as gdb's target: registers and memory of the replayed machine, forward and reverse
/// motion, and `monitor` commands that show the VMM's own state at this point. On a replay that
/// counts instructions (the software CPU) motion is by instruction count through
/// <see cref="ExactReverseExecutor"/>, with the processor's own breakpoints and watchpoints, any
/// number of each; elsewhere through <see cref="ReverseExecutor"/>, with breakpoints in debug
/// registers and watchpoints on value changes (see <see cref="ReplaySession.Watches"/>).
/// </summary>
public sealed class ReplayDebugTarget(ReplaySession session, TraceReader trace, RegisterLayout registers) : IDebugTarget
{
    private readonly ReverseExecutor _executor = new(session);
    private readonly ExactReverseExecutor? _exact = session.CountsInstructions ? new ExactReverseExecutor(session) : null;
    private readonly List<ulong> _breakpoints = new();
    private readonly List<WatchedRange> _watches = new();

    /// <summary>Problems worth a line on the VMM's console (a motion that failed).</summary>
    public Action<string>? Log { get; set; }

    public TargetStop CurrentStop { get; private set; } = new(StopCause.None);

    public string? WriteRefusal => "the replay follows a recorded timeline: registers and memory cannot be changed (only read)";

    public RegisterLayout Registers => registers;

    public IReadOnlyList<byte[]> ReadRegisters() => X86RegisterFile.From(session.Machine.Vcpu.CaptureState(), registers);

    public (byte[] Data, string? Error) ReadMemory(ulong address, int length)
    {
        var pieces = Translate(address, length, out string? error);
        var data = new byte[pieces.Sum(p => p.Length)];
        int at = 0;
        foreach (var (gpa, n) in pieces)
        {
            session.Machine.Memory.Read(gpa, data.AsSpan(at, n));
            at += n;
        }
        return (data, error);
    }

    // Guest-virtual bytes as guest-physical pieces (one per page) through the translation in
    // force now, up to the first byte that is unmapped or not RAM (then named in the error).
    private List<(ulong Gpa, int Length)> Translate(ulong address, int length, out string? error)
    {
        var paging = session.Machine.Vcpu.CaptureState().Paging;
        var memory = session.Machine.Memory;
        var pieces = new List<(ulong, int)>();
        ulong at = address;
        int left = length;
        error = null;
        while (left > 0)
        {
            var t = PageWalker.Translate(memory, paging, at);
            if (!t.IsValid)
            {
                error = $"address {at:x} is not mapped ({t.Status})";
                break;
            }
            int n = (int)Math.Min((ulong)left, t.BytesToPageEnd(at));
            if (!memory.IsRam(t.PhysicalAddress, (ulong)n))
            {
                error = $"address {at:x} maps to {t.PhysicalAddress:x}, which is not RAM";
                break;
            }
            pieces.Add((t.PhysicalAddress, n));
            at += (ulong)n;
            left -= n;
        }
        return pieces;
    }

    public bool Supports(PointKind kind) => true;

    public string? InsertPoint(PointKind kind, ulong address, int size)
    {
        if (WatchKindOf(kind) is { } watch)
        {
            if (_watches.Any(w => w.Address == address && w.Length == size && w.Kind == watch)) return null;
            var pieces = Translate(address, size, out string? error);
            if (error is not null) return $"cannot watch {address:x}: {error}";
            _watches.Add(new WatchedRange(address, size, pieces, watch));
            Apply();
            return null;
        }
        if (_breakpoints.Contains(address)) return null;
        int limit = session.Sources.HostEvents!.UserBreakpointLimit;
        if (_breakpoints.Count >= limit)
            return $"at most {limit} breakpoints at once on KVM: they use the debug registers DR1-DR3 (DR0 finds recorded points, and int3 cannot be used in a replay whose memory is checked); the software CPU (--cpu soft) takes any number";
        _breakpoints.Add(address);
        Apply();
        return null;
    }

    public string? RemovePoint(PointKind kind, ulong address, int size)
    {
        if (WatchKindOf(kind) is { } watch) _watches.RemoveAll(w => w.Address == address && w.Length == size && w.Kind == watch);
        else _breakpoints.Remove(address);
        Apply();
        return null;
    }

    private static WatchKind? WatchKindOf(PointKind kind) => kind switch
    {
        PointKind.Write => WatchKind.Write,
        PointKind.Read => WatchKind.Read,
        PointKind.Access => WatchKind.Access,
        _ => null,
    };

    private void Apply()
    {
        session.Breakpoints = _breakpoints.ToArray();
        session.Watches = _watches.ToArray();
    }

    public TargetStop Resume(Motion motion)
    {
        DebugStop stop;
        try
        {
            stop = _exact is { } exact ? motion switch
            {
                Motion.Continue => exact.ContinueForward(),
                Motion.Step => exact.StepForward(),
                Motion.ReverseContinue => exact.ContinueBackward(),
                _ => exact.StepBackward(),
            } : motion switch
            {
                Motion.Continue => _executor.ContinueForward(),
                Motion.Step => _executor.StepForward(),
                Motion.ReverseContinue => _executor.ContinueBackward(),
                _ => _executor.StepBackward(),
            };
        }
        catch (Exception e) when (IsReportedToGdb(e))
        {
            // gdb reports a plain SIGTRAP here: say why on its console too.
            Log?.Invoke(e.Message);
            return CurrentStop = new TargetStop(StopCause.None, Signal: 5, Message: $"vmreplay: the {MotionName(motion)} stopped here: {e.Message}\n");
        }
        return CurrentStop = stop.Kind switch
        {
            DebugStopKind.Breakpoint => new TargetStop(StopCause.HardwareBreak),
            DebugStopKind.Watch => new TargetStop(StopCause.Watch, stop.Address, Message: stop.Detail),
            DebugStopKind.ReadWatch => new TargetStop(StopCause.ReadWatch, stop.Address, Message: stop.Detail),
            DebugStopKind.AccessWatch => new TargetStop(StopCause.AccessWatch, stop.Address, Message: stop.Detail),
            DebugStopKind.Begin => new TargetStop(StopCause.ReplayBegin),
            DebugStopKind.End => new TargetStop(StopCause.ReplayEnd),
            DebugStopKind.Interrupted => new TargetStop(StopCause.None, Signal: 2),
            _ => new TargetStop(StopCause.None),
        };
    }

    // What a motion or a monitor command can fail with while the debugging session goes on: a
    // host limit, a divergence, a replay that does not repeat itself, a trace without the
    // snapshot to go back to, and a broken invariant of reverse execution
    // (InvalidOperationException), which gdb's user is told about rather than losing the session.
    private static bool IsReportedToGdb(Exception e) =>
        e is HostLimitationException or ReplayDivergenceException or ReplayNondeterminismException or MissingSnapshotException or InvalidOperationException;

    private static string MotionName(Motion motion) => motion switch
    {
        Motion.Continue => "continue",
        Motion.Step => "step",
        Motion.ReverseContinue => "reverse-continue",
        _ => "reverse step",
    };

    public void RequestInterrupt() => session.RequestInterrupt();

    public string Monitor(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            return words.FirstOrDefault() switch
            {
                "when" => When(),
                "goto" when words.Length == 2 && _exact is not null && InstructionPosition.TryParse(words[1]) is { } n => GoTo(n),
                "goto" when words.Length == 2 && _exact is null && ReplayPosition.TryParse(words[1]) is { } p => GoTo(p),
                "goto" => _exact is not null ? "usage: monitor goto INSTRUCTIONS[+DELIVERIES] (an instruction count, as monitor when prints it)\n" : "usage: monitor goto EVENT[+INSTRUCTIONS]\n",
                "devices" => Devices(null, json: false),
                "device" when words.Length == 2 => Devices(words[1], json: false),
                "device" when words.Length == 3 && words[2] == "json" => Devices(words[1], json: true),
                "device" => "usage: monitor device NAME [json] (see monitor devices)\n",
                "trace" => TraceSummary(),
                "help" or null => Help,
                _ => $"unknown monitor command '{words[0]}'\n{Help}",
            };
        }
        catch (Exception e) when (IsReportedToGdb(e))
        {
            Log?.Invoke(e.Message);
            return $"monitor {command}: {e.Message}\n";
        }
    }

    private const string Help =
        "vmreplay monitor commands:\n" +
        "  when            the current position: event and instruction offset (the instruction count on the software CPU)\n" +
        "  goto E[+N]      go to event E, N instructions on (then 'flushregs' so gdb re-reads);\n" +
        "                  on the software CPU: goto N[+D], instruction count N (D interrupt deliveries made there)\n" +
        "  devices         every device model's registers at this point, as their datasheets name them\n" +
        "  device NAME     one device's (Pic, Com1, Pit, PortB, Rtc, Keyboard, DebugExit, Post, Pci)\n" +
        "  device NAME json  that device's whole model state, as a snapshot stores it\n" +
        "  trace           what the trace holds\n" +
        "  help            this list\n";

    private string When()
    {
        if (_exact is { } exact)
        {
            var at = exact.Position;
            var following = session.Sources.Events.Peek();
            return $"at instruction {at.Instructions}{(at.Deliveries > 0 ? $"+{at.Deliveries} ({at.Deliveries} interrupt deliver{(at.Deliveries == 1 ? "y" : "ies")} made there)" : "")}, " +
                   $"event {session.Sources.Events.Position} (after exit {session.Machine.Counters.ExitCount}); next event {session.Sources.Events.Position}: {following?.Describe() ?? "none (end of the recording)"}\n";
        }
        var here = _executor.Position;
        var next = session.Sources.Events.Peek();
        // A backend that counts instructions also gives the exact instruction count.
        string retired = session.Machine.Vcpu.InstructionsRetired is { } n ? $", instruction {n}" : "";
        return $"at event {here.Event} + {here.Instructions} instructions (after exit {session.Machine.Counters.ExitCount}{retired}); " +
               $"next event {session.Sources.Events.Position}: {next?.Describe() ?? "none (end of the recording)"}\n";
    }

    private string GoTo(InstructionPosition p)
    {
        if (_exact!.GoTo(p).End is { } end) return end.Message + "\n";
        CurrentStop = new TargetStop(StopCause.None);
        return $"now {When()}use 'flushregs' so gdb reads the new registers\n";
    }

    private string GoTo(ReplayPosition p)
    {
        if (_executor.GoTo(p).End is { } end) return end.Message + "\n";
        CurrentStop = new TargetStop(StopCause.None);
        return $"now {When()}use 'flushregs' so gdb reads the new registers\n";
    }

    // The readable form is for people; the JSON form keeps every field (engine times, latches'
    // flip-flops, ...) for when the question is about the model itself.
    private string Devices(string? name, bool json)
    {
        var platform = session.Machine.CaptureState().Platform;
        var devices = json ? SnapshotCodec.DeviceStates(platform).Select(d => (d.Name, Text: $"{d.Name}: {d.Json}\n")).ToList() : platform.Describe().ToList();
        var shown = devices.Where(d => name is null || d.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (shown.Count == 0) return $"no device '{name}'; devices: {string.Join(", ", devices.Select(d => d.Name))}\n";
        return string.Concat(shown.Select(d => d.Text));
    }

    private string TraceSummary()
    {
        var h = trace.Header;
        return $"trace {trace.Path}: guest {h.GuestName}, {h.MemorySize / (1024 * 1024)} MiB, {h.VcpuCount} vCPU; " +
               $"{trace.Snapshots.Count} snapshots; position {(_exact is { } exact ? exact.Position.ToString() : _executor.Position.ToString())}\n";
    }
}
