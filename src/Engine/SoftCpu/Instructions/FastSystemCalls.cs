using Iced.Intel;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// SYSCALL/SYSRET, SYSENTER/SYSEXIT and SWAPGS (SDM vol. 2B). They load CS and SS with fixed,
/// flat descriptors derived from MSRs, not from the GDT. As on Intel processors (whose vendor
/// string this CPU gives), SYSCALL and SYSRET exist only in 64-bit mode: CSTAR, the target of
/// a compatibility-mode SYSCALL on AMD processors, is kept but never used. SYSRET returns to
/// 64-bit code (REX.W) or to compatibility mode.
/// </summary>
internal static unsafe class FastSystemCalls
{
    private const uint MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176;
    private const uint MsrStar = 0xC000_0081, MsrLstar = 0xC000_0082, MsrFmask = 0xC000_0084, MsrKernelGsBase = 0xC000_0102;

    public static void Register(HandlerTable t)
    {
        t.Add(Code.Syscall, &Syscall);
        t.Add([Code.Sysretd, Code.Sysretq], &Sysret);
        t.Add(Code.Sysenter, &Sysenter);
        t.Add([Code.Sysexitd, Code.Sysexitq], &Sysexit);
        t.Add(Code.Swapgs, &Swapgs);
    }

    /// <summary>A flat 4 GiB code segment: 64-bit (L) or 32-bit (D).</summary>
    private static SegmentRegister FlatCode(ushort selector, int dpl, bool longMode) => new()
    {
        Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Type = 0xB, S = 1, Dpl = (byte)dpl, Present = 1,
        L = (byte)(longMode ? 1 : 0), Db = (byte)(longMode ? 0 : 1), G = 1,
    };

    /// <summary>A flat 4 GiB writable data (stack) segment with a 32-bit stack pointer.</summary>
    private static SegmentRegister FlatStack(ushort selector, int dpl) => new()
    {
        Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Type = 3, S = 1, Dpl = (byte)dpl, Present = 1, Db = 1, G = 1,
    };

    private static bool SyscallEnabled(Processor c) => c.Long64 && (c.Efer & Processor.EferSce) != 0;

    private static bool Syscall(Processor c, ref DecodedInstruction d)
    {
        if (!SyscallEnabled(c)) throw Processor.Ud();
        ulong star = c.Msrs[MsrStar];
        ushort cs = (ushort)((star >> 32) & 0xFFFC);
        ulong flags = c.GetRflags();
        c.R(Processor.Rcx) = d.NextIp;
        c.R(11) = flags & ~Processor.FlagRf;
        c.SetRflagsRaw(flags & ~(c.Msrs[MsrFmask] & 0xFFFF_FFFF) & ~Processor.FlagRf);
        c.Seg[Processor.Ss] = FlatStack((ushort)(cs + 8), 0);
        c.LoadCodeSegment(FlatCode(cs, 0, longMode: true), c.Msrs[MsrLstar]);
        return false;
    }

    private static bool Sysret(Processor c, ref DecodedInstruction d)
    {
        if (!SyscallEnabled(c)) throw Processor.Ud();
        if (c.Cpl != 0) throw Processor.Gp();
        bool to64 = d.I.Code == Code.Sysretq;
        ulong rcx = c.R(Processor.Rcx);
        // The return address is checked at CPL 0, before anything changes: the #GP is taken
        // in the kernel, on the kernel's RSP (the reason kernels check RCX themselves).
        if (to64 && !PageWalker.IsCanonical48(rcx)) throw Processor.Gp();
        ushort baseSelector = (ushort)(c.Msrs[MsrStar] >> 48);
        ushort cs = (ushort)((to64 ? baseSelector + 16 : baseSelector) | 3);
        c.SetRflagsRaw((c.R(11) & 0x3C_7FD7) | 2);
        c.Seg[Processor.Ss] = FlatStack((ushort)((baseSelector + 8) | 3), 3);
        c.LoadCodeSegment(FlatCode(cs, 3, longMode: to64), to64 ? rcx : (uint)rcx);
        return false;
    }

    private static bool Sysenter(Processor c, ref DecodedInstruction d)
    {
        ulong sysenterCs = c.Msrs[MsrSysenterCs];
        if ((c.Cr0 & Processor.Cr0Pe) == 0 || (sysenterCs & 0xFFFC) == 0) throw Processor.Gp();
        bool ia32e = (c.Efer & Processor.EferLma) != 0;
        ushort cs = (ushort)(sysenterCs & 0xFFFC);
        ulong esp = c.Msrs[MsrSysenterEsp], eip = c.Msrs[MsrSysenterEip];
        c.SetRflagsRaw(c.GetRflags() & ~(Processor.FlagVm | Processor.FlagIf | Processor.FlagRf));
        c.R(Processor.Rsp) = ia32e ? esp : (uint)esp;
        c.Seg[Processor.Ss] = FlatStack((ushort)(cs + 8), 0);
        c.LoadCodeSegment(FlatCode(cs, 0, longMode: ia32e), ia32e ? eip : (uint)eip);
        return false;
    }

    private static bool Sysexit(Processor c, ref DecodedInstruction d)
    {
        ulong sysenterCs = c.Msrs[MsrSysenterCs];
        if ((c.Cr0 & Processor.Cr0Pe) == 0 || (sysenterCs & 0xFFFC) == 0 || c.Cpl != 0) throw Processor.Gp();
        bool to64 = d.I.Code == Code.Sysexitq;
        ulong rsp = c.R(Processor.Rcx), rip = c.R(Processor.Rdx);
        if (to64 && (!PageWalker.IsCanonical48(rsp) || !PageWalker.IsCanonical48(rip))) throw Processor.Gp();
        ushort cs = (ushort)((sysenterCs + (to64 ? 32UL : 16UL)) | 3);
        c.R(Processor.Rsp) = to64 ? rsp : (uint)rsp;
        c.Seg[Processor.Ss] = FlatStack((ushort)(cs + 8), 3);
        c.LoadCodeSegment(FlatCode(cs, 3, longMode: to64), to64 ? rip : (uint)rip);
        return false;
    }

    private static bool Swapgs(Processor c, ref DecodedInstruction d)
    {
        if (!c.Long64) throw Processor.Ud();
        if (c.Cpl != 0) throw Processor.Gp();
        ulong kernel = c.Msrs[MsrKernelGsBase];
        c.Msrs[MsrKernelGsBase] = c.Seg[Processor.Gs].Base;
        c.Seg[Processor.Gs].Base = kernel;
        c.RefreshSegmentBases();
        return true;
    }
}
