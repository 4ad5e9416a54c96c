namespace VmReplay.Engine.SoftCpu;

/// <summary>Why <see cref="Processor.Run"/> returned.</summary>
public enum ProcessorExitKind
{
    None,
    /// <summary>IN/INS: the VMM puts <see cref="ProcessorExit.Size"/> bytes into <see cref="ProcessorExit.Data"/>; the next run completes the instruction with them.</summary>
    PortIn,
    /// <summary>OUT/OUTS: <see cref="ProcessorExit.Data"/> holds the bytes written; the next run completes the instruction.</summary>
    PortOut,
    /// <summary>A read of a physical address that is not RAM: the VMM answers in <see cref="ProcessorExit.Data"/>; the next run executes the instruction again with it.</summary>
    MmioRead,
    /// <summary>A write to a physical address that is not RAM; the instruction is complete.</summary>
    MmioWrite,
    /// <summary>RDMSR (or RDTSC, as a read of IA32_TSC) of an MSR the VMM answers: it sets <see cref="ProcessorExit.MsrValue"/> or <see cref="ProcessorExit.MsrFailed"/>.</summary>
    MsrRead,
    /// <summary>WRMSR of an MSR the VMM answers; it may set <see cref="ProcessorExit.MsrFailed"/> (#GP).</summary>
    MsrWrite,
    /// <summary>HLT retired: the guest waits for an interrupt.</summary>
    Halt,
    /// <summary>A triple fault: the processor shut down.</summary>
    Shutdown,
    /// <summary><see cref="Processor.Kick"/> was called: stopped at an instruction boundary.</summary>
    Kicked,
    /// <summary>The instruction count reached the limit given to <see cref="Processor.Run"/>.</summary>
    InstructionLimit,
    /// <summary>The next instruction lies at an execution breakpoint; it has not run.</summary>
    Breakpoint,
    /// <summary>The VMM asked for an interrupt window and the guest can take an interrupt now.</summary>
    InterruptWindow,
    /// <summary>An instruction accessed a watched range (<see cref="Processor.LastWatchHit"/>); it has retired.</summary>
    Watchpoint,
    /// <summary>
    /// An instruction of those a KVM host's emulator could not execute (IRET, INT3, CMPXCHG8B/16B)
    /// retired while <see cref="Processor.ReportsEmulatedInstructions"/> was set; it is complete.
    /// </summary>
    Emulated,
    /// <summary>The guest did something this processor cannot model (a task gate, virtual-8086 mode): <see cref="ProcessorExit.Message"/> says what.</summary>
    Unsupported,
}

/// <summary>The details of the last exit (one object per processor, reused).</summary>
public sealed class ProcessorExit
{
    public ProcessorExitKind Kind { get; internal set; }

    /// <summary>The port or the physical address accessed; the MSR index for MSR exits.</summary>
    public ulong Address { get; internal set; }

    /// <summary>Bytes moved: 1, 2, 4 or 8.</summary>
    public int Size { get; internal set; }

    /// <summary>The data of a port or MMIO access (the VMM fills it for reads).</summary>
    public byte[] Data { get; } = new byte[8];

    public ulong MsrValue { get; set; }

    /// <summary>Set by the VMM to make an MSR access raise #GP.</summary>
    public bool MsrFailed { get; set; }

    /// <summary>What an <see cref="ProcessorExitKind.Unsupported"/> exit could not do.</summary>
    public string? Message { get; internal set; }

    // The VMM's answer (MsrFailed, MsrValue) outlives Clear: a run clears the exit before it
    // completes the instruction that waited for that answer. It was cleared there, so an MSR the
    // VMM refused read as the previous answer's value instead of raising #GP (a KVM recording of
    // Linux, which takes the #GP, diverged on the software CPU at AMD's FP_CFG). A new exit
    // starts unanswered.
    internal void Clear()
    {
        Kind = ProcessorExitKind.None;
        Message = null;
    }

    internal void Set(ProcessorExitKind kind, ulong address = 0, int size = 0)
    {
        Kind = kind;
        Address = address;
        Size = size;
        MsrFailed = false;
    }

    internal void SetMmio(ulong pa, int size, bool isWrite, ulong value)
    {
        Set(isWrite ? ProcessorExitKind.MmioWrite : ProcessorExitKind.MmioRead, pa, size);
        BitConverter.TryWriteBytes(Data, value);
    }

    internal ulong DataValue => BitConverter.ToUInt64(Data);
}

/// <summary>Thrown inside an instruction that cannot finish without the VMM (an MMIO read); it is executed again afterwards.</summary>
internal sealed class ExitRequest : Exception
{
    public static readonly ExitRequest Instance = new();
}
