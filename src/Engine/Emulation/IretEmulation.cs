using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// IRET, IRETD and IRETQ as the SDM's pseudo-code (vol. 2A, "IRET/IRETD/IRETQ") describes them:
/// real-address mode, protected-mode returns to the same and to an outer privilege level, and
/// IA-32e mode (64-bit mode always pops SS:RSP). Task returns (EFLAGS.NT) and returns to
/// virtual-8086 mode are reported, not emulated.
/// </summary>
internal static class IretEmulation
{
    private const ulong CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9;
    private const ulong DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17;
    private const ulong AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
    private const ulong AlwaysLoaded = CF | PF | AF | ZF | SF | TF | DF | OF | NT;

    public static void Execute(VcpuState s, GuestLinearMemory mem, int operandSize)
    {
        ulong rflags = s.Regs.Rflags;
        if ((s.Sregs.Cr0 & 1) == 0)
        {
            RealMode(s, mem, operandSize);
            return;
        }
        if ((rflags & VM) != 0) throw new NotEmulatedException("IRET in virtual-8086 mode is not emulated");
        bool ia32e = (s.Sregs.Efer & (1UL << 10)) != 0;
        if ((rflags & NT) != 0)
        {
            if (ia32e) throw GuestException.Gp();
            throw new NotEmulatedException("task return (EFLAGS.NT set) is not emulated");
        }

        bool from64 = s.Is64BitMode;
        int cpl = s.Cpl;
        bool user = cpl == 3;
        var stack = new GuestStack(s, mem, user);
        ulong newRip = stack.Pop(operandSize);
        ushort csSel = (ushort)stack.Pop(operandSize);
        ulong newFlags = stack.Pop(operandSize);
        if (operandSize == 2) newFlags = (rflags & ~0xFFFFUL) | (newFlags & 0xFFFF);

        if (!ia32e && (newFlags & VM) != 0 && cpl == 0)
            throw new NotEmulatedException("IRET to virtual-8086 mode is not emulated");

        // The return code segment (SDM: PROTECTED-MODE-RETURN checks).
        if ((csSel & 0xFFFC) == 0) throw GuestException.Gp();
        var cs = SegmentDescriptor.Load(s, mem, csSel);
        int rpl = csSel & 3;
        uint csError = (uint)(csSel & 0xFFFC);
        if (!cs.IsCode) throw GuestException.Gp(csError);
        if (rpl < cpl) throw GuestException.Gp(csError);
        if (cs.IsConforming ? cs.Dpl > rpl : cs.Dpl != rpl) throw GuestException.Gp(csError);
        if (!cs.Present) throw new GuestException(GuestException.SegmentNotPresent, csError);
        if (ia32e && cs.L && cs.Db) throw GuestException.Gp(csError);

        bool outer = rpl > cpl;
        ulong newRsp = 0;
        ushort ssSel = 0;
        if (outer || from64)
        {
            newRsp = stack.Pop(operandSize);
            ssSel = (ushort)stack.Pop(operandSize);
        }

        bool to64 = ia32e && cs.L;
        if (to64) { if (!Memory.PageWalker.IsCanonical48(newRip)) throw GuestException.Gp(); }
        else
        {
            if (operandSize == 2) newRip &= 0xFFFF;
            else newRip &= 0xFFFF_FFFF;
            if (newRip > cs.Limit) throw GuestException.Gp();
        }

        SegmentRegister? newSs = null;
        if (outer || from64)
        {
            uint ssError = (uint)(ssSel & 0xFFFC);
            if ((ssSel & 0xFFFC) == 0)
            {
                // A null SS is allowed only for a 64-bit mode return to 64-bit code below CPL 3.
                if (!(from64 && to64 && rpl < 3)) throw GuestException.Gp();
                newSs = new SegmentRegister { Selector = ssSel, Unusable = 1, Dpl = (byte)rpl, Db = 1, S = 1, Type = 3 };
            }
            else
            {
                if ((ssSel & 3) != rpl) throw GuestException.Gp(ssError);
                var ss = SegmentDescriptor.Load(s, mem, ssSel);
                if (!ss.IsWritableData || ss.Dpl != rpl) throw GuestException.Gp(ssError);
                if (!ss.Present) throw new GuestException(GuestException.StackFault, ssError);
                ss.MarkAccessed(mem);
                newSs = ss.ToSegmentRegister(ssSel);
            }
        }
        cs.MarkAccessed(mem);

        // EFLAGS: the SDM's rules use the CPL and IOPL in force before the return.
        ulong mask = AlwaysLoaded;
        if (operandSize != 2) mask |= RF | AC | ID;
        int iopl = (int)((rflags & IOPL) >> 12);
        if (cpl <= iopl) mask |= IF;
        if (cpl == 0)
        {
            mask |= IOPL;
            if (operandSize != 2) mask |= VIF | VIP;
        }
        ulong flags = (rflags & ~mask & ~VM) | (newFlags & mask) | 0x2;

        stack.CommitRsp();
        mem.Commit();
        s.Regs.Rip = newRip;
        s.Regs.Rflags = flags;
        var csCache = cs.ToSegmentRegister(csSel);
        s.Sregs.Cs = csCache;
        if (newSs is { } nss)
        {
            s.Sregs.Ss = nss;
            s.Sregs.Ss.Dpl = (byte)rpl; // the CPU keeps CPL in SS.DPL
            s.Regs.Rsp = to64 ? newRsp
                : operandSize == 2 ? (s.Regs.Rsp & ~0xFFFFUL) | (newRsp & 0xFFFF)
                : newRsp & 0xFFFF_FFFF;
        }
        if (outer)
        {
            // Data segments the new, less privileged code may not use are nulled (SDM: IRET).
            NullIfInaccessible(ref s.Sregs.Es, rpl);
            NullIfInaccessible(ref s.Sregs.Ds, rpl);
            NullIfInaccessible(ref s.Sregs.Fs, rpl);
            NullIfInaccessible(ref s.Sregs.Gs, rpl);
        }
        s.Events.NmiMasked = 0; // IRET ends NMI blocking
    }

    private static void NullIfInaccessible(ref SegmentRegister seg, int cpl)
    {
        if (seg.Unusable != 0) return;
        bool dataOrNonConforming = seg.S != 0 && ((seg.Type & 0x8) == 0 || (seg.Type & 0x4) == 0);
        if (dataOrNonConforming && seg.Dpl < cpl)
        {
            seg.Selector = 0;
            seg.Unusable = 1;
            seg.Present = 0;
        }
    }

    private static void RealMode(VcpuState s, GuestLinearMemory mem, int operandSize)
    {
        var stack = new GuestStack(s, mem, user: false);
        ulong ip = stack.Pop(operandSize);
        ushort cs = (ushort)stack.Pop(operandSize);
        ulong flags = stack.Pop(operandSize);
        if (ip > 0xFFFF && operandSize == 4) throw GuestException.Gp();
        ulong keep = operandSize == 2 ? ~0xFFFFUL : (VM | VIF | VIP);
        stack.CommitRsp();
        mem.Commit();
        s.Regs.Rip = ip & 0xFFFF;
        s.Regs.Rflags = (s.Regs.Rflags & keep) | (flags & ~keep) | 0x2;
        s.Sregs.Cs.Selector = cs;
        s.Sregs.Cs.Base = (ulong)cs << 4;
        s.Events.NmiMasked = 0;
    }
}
