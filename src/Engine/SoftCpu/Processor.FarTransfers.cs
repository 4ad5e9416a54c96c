using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// Far JMP, CALL and RET (SDM vol. 2A "JMP", "CALL", vol. 2B "RET"): in real mode, to a code
/// segment at the same privilege level, through 16-, 32- and 64-bit call gates (CALL to an
/// inner level switches to the stack the TSS gives and copies a 32- or 16-bit gate's
/// parameters), and far RET to an outer level with the data-segment nulling rule. Every check
/// and every stack access is made before anything changes. Hardware task switches (a TSS or a
/// task gate as the target) are reported as not emulated.
/// </summary>
public sealed unsafe partial class Processor
{
    /// <summary>A far JMP to <paramref name="selector"/>:<paramref name="offset"/> with operand size <paramref name="size"/> (2, 4, 8).</summary>
    internal void FarJump(ushort selector, ulong offset, int size)
    {
        if (!ProtectedMode)
        {
            ulong ip = offset & SizeMask(size);
            if (ip > Seg[Cs].Limit) throw Gp();
            LoadRealModeCodeSegment(selector, ip);
            return;
        }
        var target = ReadFarTarget(selector);
        if (target.S)
        {
            var cs = CheckSamePrivilegeCode(target, selector);
            ulong rip = TargetOffset(cs, offset, size);
            MarkAccessed(target);
            LoadCodeSegment(cs, rip);
            return;
        }
        var gate = CallGate(target, selector);
        var (code, codeSelector) = GateCode(gate);
        var gateCs = CheckSamePrivilegeCode(code, codeSelector, fromGate: true);
        ulong gateRip = TargetOffset(gateCs, gate.Offset(GateBits(target)), 8);
        MarkAccessed(code);
        LoadCodeSegment(gateCs, gateRip);
    }

    /// <summary>A far CALL; <paramref name="returnIp"/> is the offset of the next instruction.</summary>
    internal void FarCall(ushort selector, ulong offset, int size, ulong returnIp)
    {
        ushort oldCs = Seg[Cs].Selector;
        if (!ProtectedMode)
        {
            ulong ip = offset & SizeMask(size);
            if (ip > Seg[Cs].Limit) throw Gp();
            var frame = CurrentStackFrame(user: false);
            frame.Push(oldCs, size);
            frame.Push(returnIp, size);
            frame.Commit();
            LoadRealModeCodeSegment(selector, ip);
            return;
        }
        var target = ReadFarTarget(selector);
        if (target.S)
        {
            var cs = CheckSamePrivilegeCode(target, selector);
            ulong rip = TargetOffset(cs, offset, size);
            var frame = CurrentStackFrame(user: Cpl == 3);
            frame.Push(oldCs, size);
            frame.Push(returnIp, size);
            frame.Commit();
            MarkAccessed(target);
            LoadCodeSegment(cs, rip);
            return;
        }
        CallThroughGate(target, selector, returnIp);
    }

    private void CallThroughGate(SegmentDescriptor target, ushort selector, ulong returnIp)
    {
        var gate = CallGate(target, selector);
        int gateBits = GateBits(target);
        var (code, codeSelector) = GateCode(gate);
        uint codeError = (uint)(codeSelector & 0xFFFC);
        if (code.Dpl > Cpl) throw Gp(codeError);
        if (!code.Present) throw new GuestException(GuestException.SegmentNotPresent, codeError);
        bool ia32e = (Efer & EferLma) != 0;
        int newCpl = code.IsConforming ? Cpl : code.Dpl;
        var cs = code.ToSegmentRegister((ushort)((codeSelector & 0xFFFC) | newCpl));
        ulong rip = TargetOffset(cs, gate.Offset(gateBits), 8);
        int size = gateBits / 8;
        ushort oldCs = Seg[Cs].Selector, oldSs = Seg[Ss].Selector;
        ulong oldSp = R(Rsp);
        if (newCpl == Cpl)
        {
            // A 64-bit gate leads to 64-bit code, whose stack is RSP itself.
            var same = ia32e ? new StackFrame(this, Seg[Ss], oldSp, flat: true, user: Cpl == 3) : CurrentStackFrame(user: Cpl == 3);
            same.Push(oldCs, size);
            same.Push(returnIp, size);
            same.Commit();
            MarkAccessed(code);
            LoadCodeSegment(cs, rip);
            return;
        }

        // To an inner level: the new stack comes from the TSS.
        SegmentRegister ss;
        ulong newSp;
        SegmentDescriptor? ssDescriptor = null;
        if (ia32e)
        {
            var s = _deliveryState;
            SaveRegistersTo(s);
            newSp = InterruptDelivery.ReadTss64(s, LinearMemoryFor(s), 4 + (ulong)newCpl * 8, ext: 0);
            if (!PageWalker.IsCanonical48(newSp)) throw new GuestException(GuestException.StackFault, 0);
            ss = new SegmentRegister { Selector = (ushort)newCpl, Unusable = 1, Dpl = (byte)newCpl, S = 1, Type = 3, Db = 1 };
        }
        else
        {
            var s = _deliveryState;
            SaveRegistersTo(s);
            var memory = LinearMemoryFor(s);
            var (ssSelector, sp) = InterruptDelivery.InnerStackFromTss(s, memory, newCpl, ext: 0);
            var d = InterruptDelivery.InnerStackSegment(s, memory, ssSelector, newCpl, ext: 0);
            ssDescriptor = d;
            ss = d.ToSegmentRegister(ssSelector);
            newSp = sp;
        }

        // The parameters a 16- or 32-bit gate copies, read from the caller's stack at its privilege.
        int count = ia32e ? 0 : gate.ParameterCount;
        var parameters = new ulong[count];
        for (int i = 0; i < count; i++) parameters[i] = Read(Linear(Ss, (oldSp + (ulong)(i * size)) & StackMask), size);

        var inner = new StackFrame(this, ss, newSp, flat: ia32e, user: false);
        inner.Push(oldSs, size);
        inner.Push(oldSp & (size == 2 ? 0xFFFFUL : size == 4 ? 0xFFFF_FFFFUL : ulong.MaxValue), size);
        for (int i = count - 1; i >= 0; i--) inner.Push(parameters[i], size);
        inner.Push(oldCs, size);
        inner.Push(returnIp, size);
        inner.Probe();

        if (ssDescriptor is { } ssd) MarkAccessed(ssd);
        MarkAccessed(code);
        inner.Write();
        Seg[Ss] = ss;
        Seg[Ss].Dpl = (byte)newCpl;
        R(Rsp) = inner.StackPointer;
        LoadCodeSegment(cs, rip);
    }

    /// <summary>A far RET of operand size <paramref name="size"/> that releases <paramref name="release"/> more bytes of parameters.</summary>
    internal void FarReturn(int size, ushort release)
    {
        ulong offset = PeekStack(0, size);
        ushort selector = (ushort)PeekStack((ulong)size, size);
        if (!ProtectedMode)
        {
            ulong ip = offset & SizeMask(size);
            if (ip > Seg[Cs].Limit) throw Gp();
            AdvanceStack((ulong)(2 * size) + release);
            LoadRealModeCodeSegment(selector, ip);
            return;
        }
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0) throw Gp();
        var code = ReadDescriptor(selector);
        int rpl = selector & 3;
        if (rpl < Cpl || !code.IsCode) throw Gp(error);
        if (code.IsConforming ? code.Dpl > rpl : code.Dpl != rpl) throw Gp(error);
        if (!code.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        bool ia32e = (Efer & EferLma) != 0;
        if (ia32e && code.L && code.Db) throw Gp(error);
        var cs = code.ToSegmentRegister(selector);
        ulong rip = TargetOffset(cs, offset, size);
        if (rpl == Cpl)
        {
            MarkAccessed(code);
            AdvanceStack((ulong)(2 * size) + release);
            LoadCodeSegment(cs, rip);
            return;
        }

        // To an outer level: the caller's SS:ESP follow the parameters.
        ulong depth = (ulong)(2 * size) + release;
        ulong newSp = PeekStack(depth, size);
        ushort ssSelector = (ushort)PeekStack(depth + (ulong)size, size);
        uint ssError = (uint)(ssSelector & 0xFFFC);
        bool to64 = ia32e && code.L;
        SegmentRegister ss;
        SegmentDescriptor? ssDescriptor = null;
        if ((ssSelector & 0xFFFC) == 0)
        {
            // A null SS is allowed only for a return to 64-bit code below CPL 3.
            if (!to64 || rpl == 3) throw Gp();
            ss = new SegmentRegister { Selector = ssSelector, Unusable = 1, Dpl = (byte)rpl, S = 1, Type = 3, Db = 1 };
        }
        else
        {
            var d = ReadDescriptor(ssSelector);
            if ((ssSelector & 3) != rpl || !d.IsWritableData || d.Dpl != rpl) throw Gp(ssError);
            if (!d.Present) throw new GuestException(GuestException.StackFault, ssError);
            ssDescriptor = d;
            ss = d.ToSegmentRegister(ssSelector);
        }
        MarkAccessed(code);
        if (ssDescriptor is { } ssd) MarkAccessed(ssd);
        Seg[Ss] = ss;
        Seg[Ss].Dpl = (byte)rpl;
        // The parameters are released from the caller's stack as well.
        ulong sp = newSp + release;
        R(Rsp) = to64 ? sp : ss.Db != 0 ? (uint)sp : (R(Rsp) & ~0xFFFFUL) | (ushort)sp;
        LoadCodeSegment(cs, rip);
        NullInaccessibleDataSegments();
    }

    /// <summary>
    /// After a return to an outer level (far RET, IRET): ES, DS, FS and GS holding a data or
    /// non-conforming code segment more privileged than the new CPL become null (SDM "RET").
    /// </summary>
    private void NullInaccessibleDataSegments()
    {
        foreach (int seg in (ReadOnlySpan<int>)[Es, Ds, Fs, Gs])
        {
            ref var s = ref Seg[seg];
            if (s.Unusable != 0) continue;
            bool dataOrNonConforming = s.S != 0 && ((s.Type & 0x8) == 0 || (s.Type & 0x4) == 0);
            if (dataOrNonConforming && s.Dpl < Cpl)
            {
                s.Selector = 0;
                s.Unusable = 1;
                s.Present = 0;
            }
        }
        RefreshSegmentBases();
    }

    private void AdvanceStack(ulong bytes) => R(Rsp) = (R(Rsp) & ~StackMask) | ((R(Rsp) + bytes) & StackMask);

    /// <summary>The descriptor a protected-mode far JMP or CALL names: #GP(0) for a null selector.</summary>
    private SegmentDescriptor ReadFarTarget(ushort selector)
    {
        if ((selector & 0xFFFC) == 0) throw Gp();
        return ReadDescriptor(selector);
    }

    /// <summary>
    /// A code segment reached without a privilege change (far JMP or CALL to a code segment, far
    /// JMP through a call gate): conforming with DPL ≤ CPL, or non-conforming with DPL = CPL and
    /// (when named directly) RPL ≤ CPL. CS takes the CPL as its RPL.
    /// </summary>
    private SegmentRegister CheckSamePrivilegeCode(SegmentDescriptor d, ushort selector, bool fromGate = false)
    {
        uint error = (uint)(selector & 0xFFFC);
        if (!d.IsCode) throw Gp(error);
        if (d.IsConforming ? d.Dpl > Cpl : (!fromGate && (selector & 3) > Cpl) || d.Dpl != Cpl) throw Gp(error);
        if (!d.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        if ((Efer & EferLma) != 0 && d.L && d.Db) throw Gp(error);
        return d.ToSegmentRegister((ushort)((selector & 0xFFFC) | Cpl));
    }

    /// <summary>
    /// The instruction pointer a far transfer continues at: canonical for 64-bit code, else
    /// truncated to the operand size and within the segment's limit; #GP(0) otherwise.
    /// </summary>
    private ulong TargetOffset(SegmentRegister cs, ulong offset, int size)
    {
        if ((Efer & EferLma) != 0 && cs.L != 0)
        {
            if (!PageWalker.IsCanonical48(offset)) throw Gp();
            return offset;
        }
        ulong ip = size == 2 ? offset & 0xFFFF : offset & 0xFFFF_FFFF;
        if (ip > cs.Limit) throw Gp();
        return ip;
    }

    /// <summary>
    /// The call gate a system descriptor named by a far JMP or CALL must be (SDM "JMP", "CALL"):
    /// 16- or 32-bit outside IA-32e mode, 64-bit in it; its DPL at least the CPL and the RPL;
    /// present. A TSS or task gate would switch tasks.
    /// </summary>
    private GateDescriptor CallGate(SegmentDescriptor d, ushort selector)
    {
        uint error = (uint)(selector & 0xFFFC);
        bool ia32e = (Efer & EferLma) != 0;
        if (!ia32e && (d.Type == SegmentDescriptor.TaskGate || d.Type is SegmentDescriptor.AvailableTss16 or SegmentDescriptor.AvailableTss32))
        {
            if (d.Dpl < Cpl || d.Dpl < (selector & 3)) throw Gp(error);
            if (!d.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
            throw new NotEmulatedException($"a far JMP or CALL to selector {selector:x4} ({(d.Type == SegmentDescriptor.TaskGate ? "task gate" : "TSS")}): hardware task switches are not emulated");
        }
        bool callGate = ia32e ? d.Type == SegmentDescriptor.CallGate32 : d.Type is SegmentDescriptor.CallGate16 or SegmentDescriptor.CallGate32;
        if (!callGate) throw Gp(error);
        if (d.Dpl < Cpl || d.Dpl < (selector & 3)) throw Gp(error);
        if (!d.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        if (!ia32e) return new GateDescriptor(d.Raw);
        var gate = new GateDescriptor(d.Raw, ReadDescriptorHigh(d, selector));
        if (gate.HighType != 0) throw Gp(error);
        return gate;
    }

    /// <summary>The width of a call gate's offset and stack entries: 16, 32, or 64 for an IA-32e gate.</summary>
    private int GateBits(SegmentDescriptor gate) =>
        (Efer & EferLma) != 0 ? 64 : gate.Type == SegmentDescriptor.CallGate16 ? 16 : 32;

    /// <summary>The code segment a call gate leads to: a code segment (64-bit in IA-32e mode); #GP(0) for a null selector.</summary>
    private (SegmentDescriptor Code, ushort Selector) GateCode(GateDescriptor gate)
    {
        ushort selector = gate.Selector;
        if ((selector & 0xFFFC) == 0) throw Gp();
        var code = ReadDescriptor(selector);
        uint error = (uint)(selector & 0xFFFC);
        if (!code.IsCode) throw Gp(error);
        if ((Efer & EferLma) != 0 && (!code.L || code.Db)) throw Gp(error);
        return (code, selector);
    }

    /// <summary>Pushes onto the current stack: SS:SP, SS:ESP, or RSP in 64-bit mode.</summary>
    private StackFrame CurrentStackFrame(bool user) => new(this, Seg[Ss], R(Rsp), flat: Long64, user);

    /// <summary>
    /// The values a far transfer pushes onto a stack (SS, and the stack pointer it starts from),
    /// written only once every one of them is known to be writable, so that a fault on the last
    /// leaves memory and registers as they were. A flat stack (64-bit code) has no base and a
    /// 64-bit pointer; otherwise SS's base is added, SS.B chooses ESP or SP, and addresses wrap at 4 GiB.
    /// </summary>
    private sealed class StackFrame(Processor cpu, SegmentRegister ss, ulong stackPointer, bool flat, bool user)
    {
        private readonly List<(ulong Linear, int Size, ulong Value)> _entries = new();
        private readonly ulong _mask = flat ? ulong.MaxValue : ss.Db != 0 ? 0xFFFF_FFFFUL : 0xFFFFUL;
        private ulong _sp = stackPointer & (flat ? ulong.MaxValue : ss.Db != 0 ? 0xFFFF_FFFFUL : 0xFFFFUL);

        public void Push(ulong value, int size)
        {
            _sp = (_sp - (ulong)size) & _mask;
            ulong linear = flat ? _sp : (ss.Base + _sp) & 0xFFFF_FFFF;
            _entries.Add((linear, size, value));
        }

        public void Probe()
        {
            foreach (var (linear, size, _) in _entries) cpu.ProbeWriteAs(linear, size, user);
        }

        public void Write()
        {
            foreach (var (linear, size, value) in _entries) cpu.WriteAs(linear, size, value, user);
        }

        /// <summary>The stack pointer after the pushes: only the bits of its width change.</summary>
        public ulong StackPointer => (stackPointer & ~_mask) | _sp;

        /// <summary>Probes, writes, and moves RSP (a push on the current stack).</summary>
        public void Commit()
        {
            Probe();
            Write();
            cpu.R(Rsp) = StackPointer;
        }
    }

    /// <summary>Checks that a write of <paramref name="size"/> bytes may be made with user or supervisor rights, without making it.</summary>
    private void ProbeWriteAs(ulong la, int size, bool user)
    {
        TranslateData(la & LinearMask, write: true, user, out _);
        ulong last = (la + (ulong)size - 1) & LinearMask;
        // The second page is checked at its first byte, the address a #PF there reports.
        if ((last & PageMask) != (la & LinearMask & PageMask)) TranslateData(last & PageMask, write: true, user, out _);
    }

    private void WriteAs(ulong la, int size, ulong value, bool user) => WriteSlow(la & LinearMask, size, value, user);
}
