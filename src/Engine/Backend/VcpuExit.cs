using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VmReplay.Engine.Backend;

/// <summary>Why a vCPU stopped running guest code.</summary>
public enum VcpuExitKind
{
    /// <summary>IN/OUT/INS/OUTS: <see cref="VcpuExit.Count"/> elements of <see cref="VcpuExit.Size"/> bytes at <see cref="VcpuExit.Port"/>.</summary>
    PortIo,
    /// <summary>An access to a guest-physical address that is not RAM.</summary>
    Mmio,
    /// <summary>RDMSR of an MSR the VMM answers (including the TSC family): set <see cref="VcpuExit.MsrData"/> or <see cref="VcpuExit.MsrFailed"/>.</summary>
    MsrRead,
    /// <summary>WRMSR of an MSR the VMM answers.</summary>
    MsrWrite,
    /// <summary>HLT: the guest waits for an interrupt (RIP is past the HLT).</summary>
    Halt,
    /// <summary>The vCPU shut down: a triple fault.</summary>
    Shutdown,
    /// <summary>A single step or an execution breakpoint the VMM asked for (<see cref="IVcpuBackend.LastDebugStop"/>).</summary>
    Debug,
    /// <summary>A kick (<see cref="IVcpuBackend.Kick"/>) stopped the guest at an instruction boundary.</summary>
    Interrupted,
    /// <summary>The guest can take an interrupt now (<see cref="IVcpuBackend.RequestInterruptWindow"/>).</summary>
    InterruptWindow,
    /// <summary>The retired-instruction count reached the one asked for (<see cref="IVcpuBackend.StopAtInstruction"/>): a point every run reaches.</summary>
    Scheduled,
    /// <summary>The host interrupted the guest for its own reasons; nothing to do.</summary>
    HostInterrupt,
    /// <summary>The backend executed an instruction the host could not, on the VMM's behalf (KVM's emulation fallback); nothing to do.</summary>
    EmulatedInstruction,
    /// <summary>A power-off, reset or other system event (<see cref="VcpuExit.SystemEvent"/>).</summary>
    SystemEvent,
    /// <summary>The backend could not go on: <see cref="VcpuExit.Message"/> says why, in one line.</summary>
    Failed,
}

/// <summary>The system events a backend reports.</summary>
public enum SystemEventKind
{
    PowerOff,
    Reset,
    Other,
}

/// <summary>
/// An exit, as the backend reports it. One object per vCPU, refilled by every run; the data of
/// a port or MMIO read is written into <see cref="Data"/> by the VMM and taken by the next run.
/// </summary>
public abstract class VcpuExit
{
    public VcpuExitKind Kind { get; protected set; }

    public ushort Port { get; protected set; }

    /// <summary>Bytes per element (port I/O) or of the access (MMIO).</summary>
    public int Size { get; protected set; }

    /// <summary>Port I/O elements (a string instruction may move several in one exit).</summary>
    public int Count { get; protected set; }

    public bool IsWrite { get; protected set; }

    /// <summary>The guest-physical address of an MMIO access.</summary>
    public ulong Address { get; protected set; }

    /// <summary>Port I/O: <see cref="Size"/> × <see cref="Count"/> bytes; MMIO: <see cref="Size"/> bytes.</summary>
    public abstract Span<byte> Data { get; }

    // Where a backend's port and MMIO data live in a managed array of at least 8 bytes, from its
    // first byte (the software CPU's exit buffer): FirstElement reads them there.
    private readonly byte[]? _dataBuffer;

    /// <param name="dataBuffer">The array <see cref="Data"/> always starts at, if it is one array of at least 8 bytes.</param>
    protected VcpuExit(byte[]? dataBuffer = null)
    {
        if (dataBuffer is { Length: < 8 }) throw new ArgumentException("an exit's data buffer holds at least 8 bytes", nameof(dataBuffer));
        _dataBuffer = dataBuffer;
    }

    /// <summary>
    /// The first element of a port exit with <see cref="Size"/> 1 to 8, little-endian, as
    /// <see cref="Run.PortExitPrediction.Pack"/> packs it. A recording and a replay compare it at
    /// nearly every exit of a polling loop: read from the software CPU's buffer it costs neither
    /// the virtual <see cref="Data"/> nor a switch on the length.
    /// </summary>
    public ulong FirstElement
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _dataBuffer is { } buffer
            // The buffer holds at least 8 bytes (checked when the exit was made); Size is 1 to 8.
            ? LittleEndian(Unsafe.ReadUnaligned<ulong>(ref MemoryMarshal.GetArrayDataReference(buffer))) & ulong.MaxValue >> (64 - 8 * Size)
            : Run.PortExitPrediction.Pack(Data[..Size]);
    }

    public uint MsrIndex { get; protected set; }

    private static ulong LittleEndian(ulong raw) => BitConverter.IsLittleEndian ? raw : BinaryPrimitives.ReverseEndianness(raw);

    /// <summary>The value written (WRMSR), or to be read (set by the VMM for RDMSR).</summary>
    public abstract ulong MsrData { get; set; }

    /// <summary>Set by the VMM: the MSR access raises #GP.</summary>
    public abstract bool MsrFailed { get; set; }

    public SystemEventKind SystemEvent { get; protected set; }

    /// <summary>For <see cref="VcpuExitKind.Failed"/> and <see cref="VcpuExitKind.SystemEvent"/>: what happened, in one line.</summary>
    public string? Message { get; protected set; }

    /// <summary>
    /// Whether <see cref="Rip"/> and <see cref="Instructions"/> say where the guest stopped. A
    /// backend that knows both without asking the host (the software CPU) fills them at every
    /// exit; one that would have to ask (KVM: a register read) leaves this false, and a reader
    /// asks the vCPU instead. A recording and a replay read both at nearly every exit, where
    /// two interface calls were a part of what each added to it.
    /// </summary>
    public bool HasPosition { get; protected set; }

    /// <summary>
    /// RIP at the exit, as <see cref="IVcpuBackend.ReadInstructionPointer"/> reads it until the
    /// vCPU runs again or completes the exit's instruction; valid when <see cref="HasPosition"/>.
    /// </summary>
    public ulong Rip { get; protected set; }

    /// <summary>
    /// The instructions retired at the exit, as <see cref="IVcpuBackend.InstructionsRetired"/>
    /// counts them until the vCPU runs again; valid when <see cref="HasPosition"/>.
    /// </summary>
    public long Instructions { get; protected set; }
}
