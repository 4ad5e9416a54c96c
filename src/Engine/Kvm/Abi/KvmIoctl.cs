namespace VmReplay.Engine.Kvm.Abi;

/// <summary>
/// ioctl request numbers from linux/kvm.h, computed as the _IO/_IOR/_IOW/_IOWR macros do.
/// The struct sizes folded into them are checked against the kernel header by a test.
/// </summary>
internal static class KvmIoctl
{
    private const uint Kvmio = 0xAE;
    private const uint None = 0, Write = 1, Read = 2;

    private static nuint Ioc(uint dir, uint nr, uint size) => (nuint)((dir << 30) | (size << 16) | (Kvmio << 8) | nr);
    private static nuint Io(uint nr) => Ioc(None, nr, 0);
    private static nuint Ior(uint nr, int size) => Ioc(Read, nr, (uint)size);
    private static nuint Iow(uint nr, int size) => Ioc(Write, nr, (uint)size);
    private static nuint Iowr(uint nr, int size) => Ioc(Read | Write, nr, (uint)size);

    // System ioctls.
    internal static readonly nuint GetApiVersion = Io(0x00);
    internal static readonly nuint CreateVm = Io(0x01);
    internal static readonly nuint CheckExtension = Io(0x03);
    internal static readonly nuint GetVcpuMmapSize = Io(0x04);
    internal static readonly nuint GetSupportedCpuid = Iowr(0x05, 8); // struct kvm_cpuid2 header

    // VM ioctls.
    internal static readonly nuint CreateVcpu = Io(0x41);
    internal static readonly nuint GetDirtyLog = Iow(0x42, 16);
    internal static readonly nuint SetUserMemoryRegion = Iow(0x46, 32);
    internal static readonly nuint SetTssAddr = Io(0x47);
    internal static readonly nuint SetIdentityMapAddr = Iow(0x48, 8);
    internal static readonly nuint EnableCap = Iow(0xA3, 104);
    internal static readonly nuint X86SetMsrFilter = Iow(0xC6, 392);

    // vCPU ioctls.
    internal static readonly nuint Run = Io(0x80);
    internal static readonly nuint GetRegs = Ior(0x81, 144);
    internal static readonly nuint SetRegs = Iow(0x82, 144);
    internal static readonly nuint GetSregs = Ior(0x83, 312);
    internal static readonly nuint SetSregs = Iow(0x84, 312);
    internal static readonly nuint Interrupt = Iow(0x86, 4);
    internal static readonly nuint GetMsrs = Iowr(0x88, 8);
    internal static readonly nuint SetMsrs = Iow(0x89, 8);
    internal static readonly nuint SetSignalMask = Iow(0x8B, 4);
    internal static readonly nuint GetFpu = Ior(0x8C, 416);
    internal static readonly nuint SetFpu = Iow(0x8D, 416);
    internal static readonly nuint SetCpuid2 = Iow(0x90, 8);
    internal static readonly nuint GetMpState = Ior(0x98, 4);
    internal static readonly nuint SetMpState = Iow(0x99, 4);
    internal static readonly nuint SetGuestDebug = Iow(0x9B, 72);
    internal static readonly nuint GetVcpuEvents = Ior(0x9F, 64);
    internal static readonly nuint SetVcpuEvents = Iow(0xA0, 64);
    internal static readonly nuint GetDebugRegs = Ior(0xA1, 128);
    internal static readonly nuint SetDebugRegs = Iow(0xA2, 128);
    internal static readonly nuint GetXsave = Ior(0xA4, 4096);
    internal static readonly nuint SetXsave = Iow(0xA5, 4096);
    internal static readonly nuint GetXcrs = Ior(0xA6, 392);
    internal static readonly nuint SetXcrs = Iow(0xA7, 392);

    /// <summary>Names and values, for the test that compares them with the kernel header.</summary>
    internal static IEnumerable<(string Name, nuint Value)> All() =>
    [
        ("KVM_GET_API_VERSION", GetApiVersion), ("KVM_CREATE_VM", CreateVm), ("KVM_CHECK_EXTENSION", CheckExtension),
        ("KVM_GET_VCPU_MMAP_SIZE", GetVcpuMmapSize), ("KVM_GET_SUPPORTED_CPUID", GetSupportedCpuid),
        ("KVM_CREATE_VCPU", CreateVcpu), ("KVM_GET_DIRTY_LOG", GetDirtyLog), ("KVM_SET_USER_MEMORY_REGION", SetUserMemoryRegion),
        ("KVM_SET_TSS_ADDR", SetTssAddr), ("KVM_SET_IDENTITY_MAP_ADDR", SetIdentityMapAddr), ("KVM_ENABLE_CAP", EnableCap),
        ("KVM_X86_SET_MSR_FILTER", X86SetMsrFilter), ("KVM_RUN", Run), ("KVM_GET_REGS", GetRegs), ("KVM_SET_REGS", SetRegs),
        ("KVM_GET_SREGS", GetSregs), ("KVM_SET_SREGS", SetSregs), ("KVM_INTERRUPT", Interrupt), ("KVM_GET_MSRS", GetMsrs),
        ("KVM_SET_MSRS", SetMsrs), ("KVM_SET_SIGNAL_MASK", SetSignalMask), ("KVM_GET_FPU", GetFpu), ("KVM_SET_FPU", SetFpu),
        ("KVM_SET_CPUID2", SetCpuid2), ("KVM_GET_MP_STATE", GetMpState), ("KVM_SET_MP_STATE", SetMpState),
        ("KVM_SET_GUEST_DEBUG", SetGuestDebug), ("KVM_GET_VCPU_EVENTS", GetVcpuEvents), ("KVM_SET_VCPU_EVENTS", SetVcpuEvents),
        ("KVM_GET_DEBUGREGS", GetDebugRegs), ("KVM_SET_DEBUGREGS", SetDebugRegs), ("KVM_GET_XSAVE", GetXsave),
        ("KVM_SET_XSAVE", SetXsave), ("KVM_GET_XCRS", GetXcrs), ("KVM_SET_XCRS", SetXcrs),
    ];
}
