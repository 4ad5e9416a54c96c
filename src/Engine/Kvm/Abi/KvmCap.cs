namespace VmReplay.Engine.Kvm.Abi;

/// <summary>KVM_CAP_* numbers this VMM asks about (linux/kvm.h).</summary>
public enum KvmCap : uint
{
    Irqchip = 0,
    UserMemory = 3,
    SetTssAddr = 4,
    ExtCpuid = 7,
    SetGuestDebug = 23,
    VcpuEvents = 41,
    Xsave = 55,
    Xcrs = 56,
    ReadonlyMem = 81,
    ImmediateExit = 136,
    X86UserSpaceMsr = 188,
    X86MsrFilter = 189,
    SyncRegs = 74,
    TscControl = 60,
    NrMemslots = 10,
    MaxVcpus = 66,
    Debugregs = 50,
}
