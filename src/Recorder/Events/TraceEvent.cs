using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Events;

/// <summary>One recorded input to the machine, in the order the run loop met it (traces/FORMAT.md, "Events").</summary>
public abstract record TraceEvent
{
    /// <summary>A one-line description for reports.</summary>
    public abstract string Describe();
}

/// <summary>
/// A VM exit's fingerprint: what replay must see at the same exit. Data holds the bytes moved
/// (written by the guest, or read from a device model).
/// </summary>
public sealed record ExitEvent(uint Reason, ulong Rip, ulong Address, byte Size, byte Flags, uint Count, byte[] Data) : TraceEvent
{
    public const byte FlagWrite = 1;

    /// <summary>
    /// <paramref name="data"/> as an event's <see cref="Data"/>: most exits move one byte (a UART
    /// or PIT port), and those share one array per value instead of a new one each (events are
    /// never changed after they are made; a replay of 200,000 exits made 5.5 MB of them).
    /// </summary>
    public static byte[] DataOf(ReadOnlySpan<byte> data) => data.Length == 1 ? OneByte[data[0]] : data.ToArray();

    private static readonly byte[][] OneByte = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToArray();

    /// <summary>
    /// Instructions retired when the exit was taken, where the backend counts them (the software
    /// CPU); null on KVM. Two exits that both have one must agree on it.
    /// </summary>
    public long? Instructions { get; init; }

    public bool Matches(ExitEvent other) => SameAccess(other) && Data.AsSpan().SequenceEqual(other.Data)
        && (Instructions is null || other.Instructions is null || Instructions == other.Instructions);

    /// <summary>The same instruction making the same access; only the data moved may differ.</summary>
    public bool SameAccess(ExitEvent other) =>
        Reason == other.Reason && Rip == other.Rip && Address == other.Address && Size == other.Size
        && Flags == other.Flags && Count == other.Count;

    public override string Describe() => Instructions is { } n ? $"{DescribeAccess()} (instruction {n})" : DescribeAccess();

    private string DescribeAccess()
    {
        string name = ((ExitReason)Reason).ToString();
        string dir = (Flags & FlagWrite) != 0 ? "write" : "read";
        return Reason switch
        {
            (uint)ExitReason.Io => $"exit {name} {((Flags & FlagWrite) != 0 ? "out" : "in")} port {Address:x4} size {Size} count {Count} data {Convert.ToHexString(Data)} at RIP {Rip:x}",
            (uint)ExitReason.Mmio => $"exit {name} {dir} {Address:x} len {Size} data {Convert.ToHexString(Data)} at RIP {Rip:x}",
            (uint)ExitReason.X86Rdmsr or (uint)ExitReason.X86Wrmsr => $"exit {name} msr {Address:x} data {Convert.ToHexString(Data)} at RIP {Rip:x}",
            _ => $"exit {name} at RIP {Rip:x}",
        };
    }
}

/// <summary>A reading of the engine clock.</summary>
public sealed record ClockEvent(long Nanoseconds) : TraceEvent
{
    public override string Describe() => $"clock reading {Nanoseconds} ns";
}

/// <summary>A serial-input poll: the byte taken, or -1 when none was available.</summary>
public sealed record InputEvent(int Value) : TraceEvent
{
    public override string Describe() => Value < 0 ? "serial input: none available" : $"serial input byte {Value:x2}";
}

/// <summary>Timers and input were serviced at the stop after the preceding exit.</summary>
public sealed record ServiceEvent : TraceEvent
{
    public override string Describe() => "timers and input serviced at an exit";
}

/// <summary>
/// Timers and input were serviced at a point the VMM forced (a kick): identified by the linear
/// address of the next instruction, all general registers and flags, a hash of the pages
/// written since the previous service point (addresses and contents) and, from format version
/// 2, a hash of those pages' addresses alone (<see cref="PageListHash"/>; null in version 1).
/// </summary>
public sealed record ForcedServiceEvent(ulong LinearRip, ulong[] Registers, ulong DirtyHash, ulong? PageListHash = null) : TraceEvent
{
    /// <summary>Register order: RAX RBX RCX RDX RSI RDI RSP RBP R8-R15 RIP RFLAGS (struct kvm_regs).</summary>
    public const int RegisterCount = 18;

    public bool RegistersMatch(ReadOnlySpan<ulong> registers) => Registers.AsSpan().SequenceEqual(registers);

    public override string Describe() =>
        $"forced service point at {LinearRip:x} (RIP {Registers[RegisterFile.Rip]:x}, memory hash {DirtyHash:x16})";
}

/// <summary>
/// Timers and input were serviced where the software CPU stopped by itself at a retired-
/// instruction count (a kick, or a virtual-time deadline): the count names the point exactly,
/// and a replay stops there by counting, with no breakpoints or state matching.
/// </summary>
public sealed record ScheduledServiceEvent(long Instructions) : TraceEvent
{
    public override string Describe() => $"timers and input serviced at instruction {Instructions}";
}

/// <summary>How the run ended, and hashes of the final state that a replay must reproduce.</summary>
public sealed record EndEvent(RunOutcomeKind Kind, int ExitStatus, string Message, ulong RegisterHash, ulong MemoryHash) : TraceEvent
{
    public override string Describe() => $"end: {Kind}, exit status {ExitStatus} ({Message})";
}
