using System.Text;
using System.Text.Json;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;
using VmReplay.GdbStub.Protocol;
using VmReplay.Recorder;
using VmReplay.Recorder.Snapshots;
using VmReplay.Replayer;

namespace VmReplay.GdbStub.Target;

/// <summary>
/// A replay as gdb's target: registers and memory of the replayed machine, forward and reverse
/// motion through <see cref="ReverseExecutor"/>, breakpoints in debug registers, watchpoints on
/// write-trapped pages, and `monitor` commands that show the VMM's own state at this point.
/// </summary>
public sealed class ReplayDebugTarget(ReplaySession session, TraceReader trace) : IDebugTarget
{
    private readonly ReverseExecutor _executor = new(session);
    private readonly List<ulong> _breakpoints = new();
    private readonly List<WatchedRange> _watches = new();

    /// <summary>Problems worth a line on the VMM's console (a motion that failed).</summary>
    public Action<string>? Log { get; set; }

    public TargetStop CurrentStop { get; private set; } = new(StopCause.None);

    public string? WriteRefusal => "the replay follows a recorded timeline: registers and memory cannot be changed (only read)";

    public IReadOnlyList<byte[]> ReadRegisters() => X86RegisterFile.From(session.Machine.Vm.Vcpus[0].CaptureState());

    public (byte[] Data, string? Error) ReadMemory(ulong address, int length)
    {
        var state = session.Machine.Vm.Vcpus[0].CaptureState();
        var memory = session.Machine.Vm.Memory;
        var result = new List<byte>(length);
        ulong at = address;
        while (result.Count < length)
        {
            var t = PageWalker.Translate(memory, state.Paging, at);
            if (!t.IsValid) return (result.ToArray(), $"address {at:x} is not mapped ({t.Status})");
            int n = (int)Math.Min((ulong)(length - result.Count), t.BytesToPageEnd(at));
            var chunk = new byte[n];
            if (!memory.TryRead(t.PhysicalAddress, chunk)) return (result.ToArray(), $"address {at:x} maps to {t.PhysicalAddress:x}, which is not RAM");
            result.AddRange(chunk);
            at += (ulong)n;
        }
        return (result.ToArray(), null);
    }

    public bool Supports(PointKind kind) => kind is PointKind.Software or PointKind.Hardware or PointKind.Write;

    public string? InsertPoint(PointKind kind, ulong address, int size)
    {
        if (kind == PointKind.Write)
        {
            if (_watches.Any(w => w.Address == address && w.Length == size)) return null;
            var range = Physical(address, size, out string? error);
            if (range is null) return error;
            _watches.Add(range);
            return Apply();
        }
        if (_breakpoints.Contains(address)) return null;
        if (_breakpoints.Count >= ReplayHostEvents.UserBreakpointLimit)
            return $"at most {ReplayHostEvents.UserBreakpointLimit} breakpoints at once: they use the debug registers DR1-DR3 (DR0 finds recorded points, and int3 cannot be used in a replay whose memory is checked)";
        _breakpoints.Add(address);
        return Apply();
    }

    public string? RemovePoint(PointKind kind, ulong address, int size)
    {
        if (kind == PointKind.Write) _watches.RemoveAll(w => w.Address == address && w.Length == size);
        else _breakpoints.Remove(address);
        return Apply();
    }

    private string? Apply()
    {
        session.Breakpoints = _breakpoints.ToArray();
        try
        {
            session.Watches = _watches.ToArray();
            return null;
        }
        catch (Exception e) when (e is Engine.Kvm.KvmUnavailableException or ArgumentException)
        {
            _watches.RemoveAt(_watches.Count - 1);
            return e.Message;
        }
    }

    // Watched bytes by guest-physical address, through the translation in force now.
    private WatchedRange? Physical(ulong address, int size, out string? error)
    {
        var state = session.Machine.Vm.Vcpus[0].CaptureState();
        var pieces = new List<(ulong, int)>();
        ulong at = address;
        int left = size;
        while (left > 0)
        {
            var t = PageWalker.Translate(session.Machine.Vm.Memory, state.Paging, at);
            if (!t.IsValid)
            {
                error = $"cannot watch {address:x}: address {at:x} is not mapped";
                return null;
            }
            int n = (int)Math.Min((ulong)left, t.BytesToPageEnd(at));
            if (!session.Machine.Vm.Memory.IsRam(t.PhysicalAddress, (ulong)n))
            {
                error = $"cannot watch {address:x}: it maps to {t.PhysicalAddress:x}, which is not RAM";
                return null;
            }
            pieces.Add((t.PhysicalAddress, n));
            at += (ulong)n;
            left -= n;
        }
        error = null;
        return new WatchedRange(address, size, pieces);
    }

    public TargetStop Resume(Motion motion)
    {
        DebugStop stop;
        try
        {
            stop = motion switch
            {
                Motion.Continue => _executor.ContinueForward(),
                Motion.Step => _executor.StepForward(),
                Motion.ReverseContinue => _executor.ContinueBackward(),
                _ => _executor.StepBackward(),
            };
        }
        catch (Exception e) when (e is HostLimitationException or ReplayDivergenceException or InvalidOperationException)
        {
            Log?.Invoke(e.Message);
            return CurrentStop = new TargetStop(StopCause.None, Signal: 5);
        }
        return CurrentStop = stop.Kind switch
        {
            DebugStopKind.Breakpoint => new TargetStop(StopCause.HardwareBreak),
            DebugStopKind.Watch => new TargetStop(StopCause.Watch, stop.Address),
            DebugStopKind.Begin => new TargetStop(StopCause.ReplayBegin),
            DebugStopKind.End => new TargetStop(StopCause.ReplayEnd),
            DebugStopKind.Interrupted => new TargetStop(StopCause.None, Signal: 2),
            _ => new TargetStop(StopCause.None),
        };
    }

    public void RequestInterrupt() => session.RequestInterrupt();

    public string Monitor(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            return words.FirstOrDefault() switch
            {
                "when" => When(),
                "goto" when words.Length == 2 && ParsePosition(words[1]) is { } p => GoTo(p),
                "goto" => "usage: monitor goto EVENT[+INSTRUCTIONS]\n",
                "devices" => Devices(null),
                "device" when words.Length == 2 => Devices(words[1]),
                "device" => "usage: monitor device NAME (see monitor devices)\n",
                "trace" => TraceSummary(),
                "help" or null => Help,
                _ => $"unknown monitor command '{words[0]}'\n{Help}",
            };
        }
        catch (ArgumentOutOfRangeException e)
        {
            return e.Message.Split(" (Parameter")[0] + "\n";
        }
    }

    private const string Help =
        "vmreplay monitor commands:\n" +
        "  when            the current position: event and instruction offset\n" +
        "  goto E[+N]      go to event E, N instructions on (then 'flushregs' so gdb re-reads)\n" +
        "  devices         every device model's state at this point\n" +
        "  device NAME     one device's state (Pic, Com1, Pit, PortB, Rtc, Keyboard, DebugExit, Post, Pci)\n" +
        "  trace           what the trace holds\n" +
        "  help            this list\n";

    private static ReplayPosition? ParsePosition(string text)
    {
        var parts = text.Split('+');
        if (parts.Length > 2 || !long.TryParse(parts[0], out long e) || e < 0) return null;
        long n = 0;
        if (parts.Length == 2 && (!long.TryParse(parts[1], out n) || n < 0)) return null;
        return new ReplayPosition(e, n);
    }

    private string When()
    {
        var here = _executor.Position;
        var next = session.Sources.Events.Peek();
        return $"at event {here.Event} + {here.Instructions} instructions (after exit {session.Machine.Counters.ExitCount}); " +
               $"next event {session.Sources.Events.Position}: {next?.Describe() ?? "none (end of the recording)"}\n";
    }

    private string GoTo(ReplayPosition p)
    {
        _executor.GoTo(p);
        CurrentStop = new TargetStop(StopCause.None);
        return $"now {When()}use 'flushregs' so gdb reads the new registers\n";
    }

    private string Devices(string? name)
    {
        var state = session.Machine.CaptureState().Platform;
        var sb = new StringBuilder();
        foreach (var p in typeof(PcPlatformState).GetProperties())
        {
            if (name is not null && !p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
            sb.Append(p.Name).Append(": ").AppendLine(JsonSerializer.Serialize(p.GetValue(state), p.PropertyType, SnapshotCodec.DeviceStateJson));
        }
        if (sb.Length == 0) return $"no device '{name}'; devices: {string.Join(", ", typeof(PcPlatformState).GetProperties().Select(p => p.Name))}\n";
        return sb.ToString();
    }

    private string TraceSummary()
    {
        var h = trace.Header;
        return $"trace {trace.Path}: guest {h.GuestName}, {h.MemorySize / (1024 * 1024)} MiB, {h.VcpuCount} vCPU; " +
               $"{trace.Snapshots.Count} snapshots; position {_executor.Position}\n";
    }
}
