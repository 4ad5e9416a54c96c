using VmReplay.Engine.Kvm.Abi;

namespace VmReplay.Engine.Kvm;

/// <summary>
/// Typed view of a vCPU's shared <c>struct kvm_run</c> page. Only valid while the vCPU is
/// stopped in userspace (between KVM_RUN calls); the offsets are in <see cref="KvmRunLayout"/>.
/// </summary>
public sealed unsafe class KvmRun
{
    private readonly byte* _p;

    internal KvmRun(byte* page, int size)
    {
        _p = page;
        Size = size;
    }

    internal int Size { get; }

    internal byte* Page => _p;

    public bool RequestInterruptWindow
    {
        get => _p[KvmRunLayout.RequestInterruptWindow] != 0;
        set => _p[KvmRunLayout.RequestInterruptWindow] = value ? (byte)1 : (byte)0;
    }

    public bool ImmediateExit
    {
        get => _p[KvmRunLayout.ImmediateExit] != 0;
        set => _p[KvmRunLayout.ImmediateExit] = value ? (byte)1 : (byte)0;
    }

    public KvmExitReason ExitReason => (KvmExitReason)U32(KvmRunLayout.ExitReason);

    public bool ReadyForInterruptInjection => _p[KvmRunLayout.ReadyForInterruptInjection] != 0;

    /// <summary>RFLAGS.IF at the exit.</summary>
    public bool IfFlag => _p[KvmRunLayout.IfFlag] != 0;

    // KVM_EXIT_IO
    public bool IoIsOut => _p[KvmRunLayout.IoDirection] == 1;
    public int IoSize => _p[KvmRunLayout.IoSize];
    public ushort IoPort => *(ushort*)(_p + KvmRunLayout.IoPort);
    public int IoCount => (int)U32(KvmRunLayout.IoCount);

    /// <summary>The I/O data (size × count bytes) inside the run page.</summary>
    public Span<byte> IoData => new(_p + (long)U64(KvmRunLayout.IoDataOffset), IoSize * IoCount);

    // KVM_EXIT_MMIO
    public ulong MmioAddress => U64(KvmRunLayout.MmioPhysAddr);
    public int MmioLength => (int)U32(KvmRunLayout.MmioLen);
    public bool MmioIsWrite => _p[KvmRunLayout.MmioIsWrite] != 0;
    public Span<byte> MmioData => new(_p + KvmRunLayout.MmioData, Math.Min(8, MmioLength));

    // KVM_EXIT_FAIL_ENTRY
    public ulong FailEntryReason => U64(KvmRunLayout.FailEntryReason);

    // KVM_EXIT_INTERNAL_ERROR
    public uint InternalSuberror => U32(KvmRunLayout.InternalSuberror);
    public ReadOnlySpan<ulong> InternalData =>
        new(_p + KvmRunLayout.InternalData, (int)Math.Min(16u, U32(KvmRunLayout.InternalNdata)));

    // KVM_EXIT_DEBUG
    public uint DebugException => U32(KvmRunLayout.DebugException);
    public ulong DebugPc => U64(KvmRunLayout.DebugPc);
    public ulong DebugDr6 => U64(KvmRunLayout.DebugDr6);
    public ulong DebugDr7 => U64(KvmRunLayout.DebugDr7);

    // KVM_EXIT_SYSTEM_EVENT
    public uint SystemEventType => U32(KvmRunLayout.SystemEventType);

    // KVM_EXIT_X86_RDMSR / WRMSR
    public uint MsrIndex => U32(KvmRunLayout.MsrIndex);
    public uint MsrReason => U32(KvmRunLayout.MsrReason);

    public ulong MsrData
    {
        get => U64(KvmRunLayout.MsrData);
        set => *(ulong*)(_p + KvmRunLayout.MsrData) = value;
    }

    /// <summary>Set to true to make KVM inject #GP for the MSR access instead of completing it.</summary>
    public bool MsrError
    {
        get => _p[KvmRunLayout.MsrError] != 0;
        set => _p[KvmRunLayout.MsrError] = value ? (byte)1 : (byte)0;
    }

    // KVM_EXIT_UNKNOWN / hw
    public ulong HardwareExitReason => U64(KvmRunLayout.HwExitReason);

    private uint U32(int offset) => *(uint*)(_p + offset);
    private ulong U64(int offset) => *(ulong*)(_p + offset);
}
