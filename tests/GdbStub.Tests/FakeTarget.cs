using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

/// <summary>
/// An <see cref="IDebugTarget"/> that records what the session asked of it and answers from
/// settable properties. Resume and RequestInterrupt run on different threads under
/// <see cref="Transport.GdbServer"/>, so the state they share is synchronised.
/// </summary>
internal sealed class FakeTarget : IDebugTarget, IDisposable
{
    /// <summary>The pc every register read reports; it fits eip too.</summary>
    public const ulong ProgramCounter = 0xCAFE_F00D;

    /// <summary>How long a blocked Resume waits for an interrupt before it fails the test instead of hanging it.</summary>
    public static readonly TimeSpan BlockLimit = TimeSpan.FromSeconds(10);

    private readonly Dictionary<ulong, byte> _memory = [];
    private readonly ManualResetEventSlim _interrupt = new(false);
    private readonly ManualResetEventSlim _resumed = new(false);
    private readonly object _lock = new();
    private readonly List<Motion> _motions = [];
    private int _interruptRequests;

    public FakeTarget(RegisterLayout? layout = null) => Registers = layout ?? X86Registers.Amd64;

    public RegisterLayout Registers { get; }

    public string? WriteRefusal { get; set; } = "the recording is read-only";

    /// <summary>What a Resume that does not block returns.</summary>
    public TargetStop NextStop { get; set; } = new(StopCause.SoftwareBreak);

    public TargetStop CurrentStop { get; set; } = new(StopCause.None);

    /// <summary>When set, Resume runs until <see cref="RequestInterrupt"/>, as a replay running to a far breakpoint would.</summary>
    public bool BlockInResume { get; set; }

    /// <summary>What InsertPoint and RemovePoint answer (null: success).</summary>
    public string? PointError { get; set; }

    public HashSet<PointKind> SupportedKinds { get; } = [PointKind.Software, PointKind.Hardware, PointKind.Write];

    public List<(bool Insert, PointKind Kind, ulong Address, int Size)> PointCalls { get; } = [];

    public string MonitorOutput { get; set; } = "replay at instruction 42";

    public List<string> MonitorCommands { get; } = [];

    /// <summary>The length the last ReadMemory was asked for: the session clamps what gdb asks.</summary>
    public int? LastReadLength { get; private set; }

    public int InterruptRequests => Volatile.Read(ref _interruptRequests);

    public IReadOnlyList<Motion> Motions
    {
        get { lock (_lock) return [.. _motions]; }
    }

    public void Map(ulong address, params byte[] bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
            _memory[address + (ulong)i] = bytes[i];
    }

    /// <summary>Waits until some Resume has started; the Ctrl-C test must not interrupt before there is anything to interrupt.</summary>
    public bool WaitForResume(TimeSpan timeout) => _resumed.Wait(timeout);

    public IReadOnlyList<byte[]> ReadRegisters()
    {
        var pc = Registers.Find("rip") ?? Registers.Find("eip")
            ?? throw new InvalidOperationException("layout without a pc");
        var values = new List<byte[]>(Registers.All.Count);
        foreach (var register in Registers.All)
        {
            var value = new byte[register.ByteSize];
            if (register.Number == pc.Number)
                BitConverter.GetBytes(ProgramCounter).AsSpan(0, value.Length).CopyTo(value);
            values.Add(value);
        }
        return values;
    }

    public (byte[] Data, string? Error) ReadMemory(ulong address, int length)
    {
        LastReadLength = length;
        var data = new List<byte>();
        while (data.Count < length && _memory.TryGetValue(address + (ulong)data.Count, out var b))
            data.Add(b);
        return data.Count == 0 && length > 0 ? ([], "unmapped") : (data.ToArray(), null);
    }

    public TargetStop Resume(Motion motion)
    {
        lock (_lock) _motions.Add(motion);
        _resumed.Set();
        if (!BlockInResume)
            return NextStop;
        if (!_interrupt.Wait(BlockLimit))
            throw new TimeoutException("Resume was never interrupted");
        _interrupt.Reset();
        // What ReplayDebugTarget reports for an interrupted run: no cause, SIGINT.
        return new TargetStop(StopCause.None, Signal: 2);
    }

    public void RequestInterrupt()
    {
        Interlocked.Increment(ref _interruptRequests);
        _interrupt.Set();
    }

    public string? InsertPoint(PointKind kind, ulong address, int size)
    {
        PointCalls.Add((true, kind, address, size));
        return PointError;
    }

    public string? RemovePoint(PointKind kind, ulong address, int size)
    {
        PointCalls.Add((false, kind, address, size));
        return PointError;
    }

    public bool Supports(PointKind kind) => SupportedKinds.Contains(kind);

    public string Monitor(string command)
    {
        MonitorCommands.Add(command);
        return MonitorOutput;
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _resumed.Dispose();
    }
}
