using VmReplay.GdbStub;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.Fuzz;

/// <summary>
/// A debug target for fuzzing the session: 4 KiB of readable memory at 0x1000, fixed registers,
/// motions that stop at once, and the replay's limits (three breakpoints, read-only state).
/// </summary>
internal sealed class FuzzDebugTarget : IDebugTarget, IDisposable
{
    private const ulong MemoryBase = 0x1000;
    private readonly byte[] _memory = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();
    private readonly HashSet<(PointKind, ulong)> _points = [];

    public RegisterLayout Registers => X86Registers.Amd64;

    public string? WriteRefusal => "the recording is read-only";

    public TargetStop CurrentStop { get; private set; } = new(StopCause.None);

    public IReadOnlyList<byte[]> ReadRegisters() => Registers.All.Select(r => new byte[r.ByteSize]).ToList();

    public (byte[] Data, string? Error) ReadMemory(ulong address, int length)
    {
        if (address < MemoryBase || address - MemoryBase >= (ulong)_memory.Length) return ([], "unmapped");
        int start = (int)(address - MemoryBase);
        return (_memory.AsSpan(start, Math.Min(length, _memory.Length - start)).ToArray(), null);
    }

    public TargetStop Resume(Motion motion) => CurrentStop = motion switch
    {
        Motion.ReverseContinue or Motion.ReverseStep => new TargetStop(StopCause.ReplayBegin),
        _ => new TargetStop(StopCause.HardwareBreak, Message: "stopped"),
    };

    public void RequestInterrupt() { }

    public string? InsertPoint(PointKind kind, ulong address, int size)
    {
        if (_points.Count >= 3 && !_points.Contains((kind, address))) return "no debug register left";
        _points.Add((kind, address));
        return null;
    }

    public string? RemovePoint(PointKind kind, ulong address, int size) => _points.Remove((kind, address)) ? null : "no such point";

    public bool Supports(PointKind kind) => kind != PointKind.Software;

    public string Monitor(string command) => $"monitor: {command.Length} characters";

    public void Dispose() => _points.Clear();
}
