using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// Delivers an interrupt or exception the way the CPU does (SDM vol. 3A, 6.12-6.14; real mode,
/// 20.1.4): through the IVT in real mode, a 16- or 32-bit IDT interrupt or trap gate at the same
/// or an inner privilege level (stack from the 16- or 32-bit TSS), or a 64-bit IDT gate (IST,
/// RSP0-2, 16-byte alignment), with the checks and error codes of the SDM's pseudo-code for
/// INT n (vol. 2A). Doing it in userspace makes the delivery point exactly the instruction
/// boundary where the VMM decided it, on any host: KVM_INTERRUPT leaves the moment of delivery
/// to KVM, which on some hosts lets the guest run on first. A pure function of vCPU state and
/// guest memory; the software CPU delivers all its exceptions through it.
/// </summary>
/// <remarks>
/// Error codes of faults raised during delivery carry the EXT bit (bit 0) unless the event is
/// INT n, INT3 or INTO, and the IDT bit (bit 1) where they name a gate (SDM 6.13). Task gates
/// and delivery from virtual-8086 mode are reported with <see cref="NotEmulatedException"/>.
/// </remarks>
public static class InterruptDelivery
{
    private const ulong IF = 1 << 9, TF = 1 << 8, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18;
    private const byte InvalidTss = 10;

    /// <summary>True when the vCPU can take a maskable interrupt now (IF set, no shadow, no event in flight).</summary>
    public static bool CanDeliver(VcpuState s) =>
        (s.Regs.Rflags & IF) != 0 && s.Events.InterruptShadow == 0 && s.Events.InterruptInjected == 0
        && s.Events.ExceptionInjected == 0 && s.Events.ExceptionPending == 0 && s.Events.NmiInjected == 0;

    /// <summary>Delivers <paramref name="vector"/>; returns null on success, or why it could not be delivered.</summary>
    public static string? Deliver(VcpuState s, GuestMemory memory, byte vector)
    {
        try
        {
            Through(s, memory, vector, software: false);
        }
        catch (GuestException e)
        {
            return $"delivering vector {vector:x2} raised exception {e.Vector}";
        }
        catch (NotEmulatedException e)
        {
            return $"delivering vector {vector:x2}: {e.Message}";
        }
        return null;
    }

    /// <summary>
    /// Delivers the trap an instruction raised by itself (int3's #BP), as `int n` does: the gate's
    /// DPL must allow the current privilege level. Throws the <see cref="GuestException"/> that
    /// delivery raises instead (a #GP for a gate the code may not use).
    /// </summary>
    public static void DeliverSoftware(VcpuState s, GuestMemory memory, byte vector) => Through(s, memory, vector, software: true);

    /// <summary>
    /// Delivers exception <paramref name="vector"/> with its <paramref name="errorCode"/> (pushed
    /// after the return address where the exception has one), as a software processor raises it.
    /// <paramref name="software"/> marks INT n, INT3 and INTO, whose gates must allow the CPL.
    /// RIP must already hold the return address (the faulting instruction for a fault, the next
    /// one for a trap). Throws the <see cref="GuestException"/> delivery itself raises.
    /// <paramref name="accessed"/> is told of every data access the delivery makes (see <see cref="GuestLinearMemory.Accessed"/>).
    /// </summary>
    public static void DeliverException(VcpuState s, GuestMemory memory, byte vector, uint? errorCode, bool software,
        Action<ulong, int, bool, ulong>? accessed = null) =>
        Through(s, memory, vector, software, errorCode, accessed);

    private static void Through(VcpuState s, GuestMemory memory, byte vector, bool software, uint? errorCode = null,
        Action<ulong, int, bool, ulong>? accessed = null)
    {
        var work = new VcpuState { Regs = s.Regs, Sregs = s.Sregs, Events = s.Events };
        var mem = new GuestLinearMemory(memory, work) { Accessed = accessed };
        if ((work.Sregs.Cr0 & 1) == 0) RealMode(work, mem, vector);
        else if ((work.Regs.Rflags & VM) != 0) throw new NotEmulatedException($"delivering vector {vector:x2} from virtual-8086 mode is not emulated");
        else if ((work.Sregs.Efer & (1UL << 10)) != 0) LongMode(work, mem, vector, software, errorCode);
        else Protected(work, mem, vector, software, errorCode);
        mem.Commit();
        s.Regs = work.Regs;
        s.Sregs = work.Sregs;
    }

    private static void RealMode(VcpuState s, GuestLinearMemory mem, byte vector)
    {
        // The IVT entry must lie within the IDTR limit; beyond it the processor shuts down
        // after the #GP and #DF that cannot be delivered either.
        if (vector * 4u + 3 > s.Sregs.Idt.Limit) throw GuestException.Gp();
        ulong entry = mem.ReadUInt(s.Sregs.Idt.Base + vector * 4UL, 4, user: false);
        var stack = new StackWriter(s, mem, user: false);
        stack.Push(s.Regs.Rflags & 0xFFFF, 2);
        stack.Push(s.Sregs.Cs.Selector, 2);
        stack.Push(s.Regs.Rip & 0xFFFF, 2);
        stack.Commit();
        ushort cs = (ushort)(entry >> 16);
        s.Sregs.Cs.Selector = cs;
        s.Sregs.Cs.Base = (ulong)cs << 4;
        s.Regs.Rip = entry & 0xFFFF;
        s.Regs.Rflags &= ~(IF | TF | AC);
    }

    /// <summary>The error code naming IDT entry <paramref name="vector"/> (IDT bit set), with EXT.</summary>
    private static uint IdtError(byte vector, uint ext) => (uint)(vector << 3) | 2 | ext;

    /// <summary>The gate's checks common to both IDT formats (SDM INT n: type, DPL for software interrupts, present).</summary>
    private static void CheckGate(VcpuState s, GateDescriptor gate, byte vector, bool software, uint ext, bool longMode)
    {
        bool validType = longMode
            ? gate.Type is SegmentDescriptor.InterruptGate32 or SegmentDescriptor.TrapGate32
            : gate.Type is SegmentDescriptor.TaskGate or SegmentDescriptor.InterruptGate16 or SegmentDescriptor.TrapGate16
                or SegmentDescriptor.InterruptGate32 or SegmentDescriptor.TrapGate32;
        if (gate.S || !validType) throw GuestException.Gp(IdtError(vector, ext));
        if (software && gate.Dpl < s.Cpl) throw GuestException.Gp(IdtError(vector, 0));
        if (!gate.Present) throw new GuestException(GuestException.SegmentNotPresent, IdtError(vector, ext));
    }

    /// <summary>The handler's code segment (SDM INT n): a present code segment no less privileged than the CPL.</summary>
    private static SegmentDescriptor HandlerCode(VcpuState s, GuestLinearMemory mem, ushort selector, uint ext)
    {
        if ((selector & 0xFFFC) == 0) throw GuestException.Gp(ext);
        var cs = SegmentDescriptor.Load(s, mem, selector, ext != 0);
        uint error = (uint)(selector & 0xFFFC) | ext;
        if (!cs.IsCode || cs.Dpl > s.Cpl) throw GuestException.Gp(error);
        if (!cs.Present) throw new GuestException(GuestException.SegmentNotPresent, error);
        return cs;
    }

    private static void Protected(VcpuState s, GuestLinearMemory mem, byte vector, bool software, uint? errorCode)
    {
        uint ext = software ? 0u : 1u;
        if (vector * 8u + 7 > s.Sregs.Idt.Limit) throw GuestException.Gp(IdtError(vector, ext));
        var gate = new GateDescriptor(mem.ReadUInt(s.Sregs.Idt.Base + vector * 8UL, 8, user: false));
        CheckGate(s, gate, vector, software, ext, longMode: false);
        if (gate.Type == SegmentDescriptor.TaskGate)
            throw new NotEmulatedException($"vector {vector:x2} goes through a task gate (TSS selector {gate.Selector:x4}): hardware task switches are not emulated");
        bool is32 = gate.Type is SegmentDescriptor.InterruptGate32 or SegmentDescriptor.TrapGate32;
        var cs = HandlerCode(s, mem, gate.Selector, ext);
        ulong offset = gate.Offset(is32 ? 32 : 16);
        int cpl = s.Cpl;
        int newCpl = cs.IsConforming ? cpl : cs.Dpl;
        // The entry point must lie within the handler's segment.
        if (offset > cs.Limit) throw GuestException.Gp(ext);
        int size = is32 ? 4 : 2;
        ulong oldFlags = s.Regs.Rflags;
        if (newCpl < cpl)
        {
            var (newSsSel, newEsp) = InnerStackFromTss(s, mem, newCpl, ext);
            var ss = InnerStackSegment(s, mem, newSsSel, newCpl, ext);
            ushort oldSs = s.Sregs.Ss.Selector;
            ulong oldEsp = s.Regs.Rsp;
            s.Sregs.Ss = ss.ToSegmentRegister(newSsSel);
            s.Regs.Rsp = newEsp;
            var inner = new StackWriter(s, mem, user: false);
            inner.Push(oldSs, size);
            inner.Push(oldEsp, size);
            inner.Push(oldFlags, size);
            inner.Push(s.Sregs.Cs.Selector, size);
            inner.Push(s.Regs.Rip, size);
            if (errorCode is { } innerCode) inner.Push(innerCode, size);
            inner.Commit();
            ss.MarkAccessed(mem);
        }
        else
        {
            var stack = new StackWriter(s, mem, user: cpl == 3);
            stack.Push(oldFlags, size);
            stack.Push(s.Sregs.Cs.Selector, size);
            stack.Push(s.Regs.Rip, size);
            if (errorCode is { } code) stack.Push(code, size);
            stack.Commit();
        }
        cs.MarkAccessed(mem);
        s.Sregs.Cs = cs.ToSegmentRegister((ushort)((gate.Selector & 0xFFFC) | newCpl));
        s.Sregs.Ss.Dpl = (byte)newCpl;
        s.Regs.Rip = offset;
        s.Regs.Rflags &= ~(TF | NT | RF | VM);
        if (gate.Type is SegmentDescriptor.InterruptGate16 or SegmentDescriptor.InterruptGate32) s.Regs.Rflags &= ~IF;
    }

    /// <summary>
    /// SS:ESP for privilege level <paramref name="level"/> from the current TSS: a 32-bit TSS has
    /// ESPn at 4 + 8n and SSn at 8 + 8n, a 16-bit one SPn at 2 + 4n and SSn at 4 + 4n (SDM 7.2.1,
    /// 7.6). Beyond the TSS limit: #TS(TSS selector).
    /// </summary>
    internal static (ushort Selector, ulong Esp) InnerStackFromTss(VcpuState s, GuestLinearMemory mem, int level, uint ext)
    {
        var tr = s.Sregs.Tr;
        bool tss16 = tr.Type is SegmentDescriptor.AvailableTss16 or SegmentDescriptor.BusyTss16;
        ulong at = tss16 ? 2 + 4UL * (ulong)level : 4 + 8UL * (ulong)level;
        ulong last = tss16 ? at + 3 : at + 5;
        if (last > tr.Limit) throw new GuestException(InvalidTss, (uint)(tr.Selector & 0xFFFC) | ext);
        ulong esp = mem.ReadUInt((tr.Base + at) & 0xFFFF_FFFF, tss16 ? 2 : 4, user: false);
        ushort ss = (ushort)mem.ReadUInt((tr.Base + at + (tss16 ? 2UL : 4UL)) & 0xFFFF_FFFF, 2, user: false);
        return (ss, esp);
    }

    /// <summary>
    /// The stack segment of an inner-level stack switch (SDM INT n, CALL through a call gate): a
    /// present writable data segment at the new privilege level; #TS otherwise, #SS if not present.
    /// </summary>
    internal static SegmentDescriptor InnerStackSegment(VcpuState s, GuestLinearMemory mem, ushort selector, int level, uint ext)
    {
        uint error = (uint)(selector & 0xFFFC) | ext;
        if ((selector & 0xFFFC) == 0) throw new GuestException(InvalidTss, ext);
        SegmentDescriptor ss;
        try
        {
            ss = SegmentDescriptor.Load(s, mem, selector, ext != 0);
        }
        catch (GuestException e) when (e.Vector == GuestException.GeneralProtection)
        {
            throw new GuestException(InvalidTss, error);
        }
        if ((selector & 3) != level || ss.Dpl != level || !ss.IsWritableData) throw new GuestException(InvalidTss, error);
        if (!ss.Present) throw new GuestException(GuestException.StackFault, error);
        return ss;
    }

    private static void LongMode(VcpuState s, GuestLinearMemory mem, byte vector, bool software, uint? errorCode)
    {
        uint ext = software ? 0u : 1u;
        if (vector * 16u + 15 > s.Sregs.Idt.Limit) throw GuestException.Gp(IdtError(vector, ext));
        ulong lo = mem.ReadUInt(s.Sregs.Idt.Base + vector * 16UL, 8, user: false);
        ulong hi = mem.ReadUInt(s.Sregs.Idt.Base + vector * 16UL + 8, 8, user: false);
        var gate = new GateDescriptor(lo, hi);
        CheckGate(s, gate, vector, software, ext, longMode: true);
        var cs = HandlerCode(s, mem, gate.Selector, ext);
        if (!cs.L || cs.Db) throw GuestException.Gp((uint)(gate.Selector & 0xFFFC) | ext);
        ulong offset = gate.Offset(64);
        if (!PageWalker.IsCanonical48(offset)) throw GuestException.Gp(ext);
        int cpl = s.Cpl;
        int newCpl = cs.IsConforming ? cpl : cs.Dpl;
        ulong oldSs = s.Sregs.Ss.Selector, oldRsp = s.Regs.Rsp, oldFlags = s.Regs.Rflags, oldCs = s.Sregs.Cs.Selector, oldRip = s.Regs.Rip;
        ulong rsp = oldRsp;
        int ist = gate.Ist;
        if (ist != 0) rsp = ReadTss64(s, mem, 0x24 + (ulong)(ist - 1) * 8, ext);
        else if (newCpl < cpl) rsp = ReadTss64(s, mem, 4 + (ulong)newCpl * 8, ext);
        if (!PageWalker.IsCanonical48(rsp)) throw new GuestException(GuestException.StackFault, ext);
        rsp &= ~0xFUL; // the 64-bit frame is 16-byte aligned
        // Pushed one quadword at a time from SS down, as the processor does: a page fault on the
        // way reports the first quadword that could not be written.
        ulong[] frame = errorCode is { } code ? [oldSs, oldRsp, oldFlags, oldCs, oldRip, code] : [oldSs, oldRsp, oldFlags, oldCs, oldRip];
        ulong frameAt = rsp - (ulong)frame.Length * 8;
        if (!PageWalker.IsCanonical48(frameAt)) throw new GuestException(GuestException.StackFault, ext);
        Span<byte> entry = stackalloc byte[8];
        for (int i = 0; i < frame.Length; i++)
        {
            BitConverter.TryWriteBytes(entry, frame[i]);
            mem.Write(rsp - (ulong)(i + 1) * 8, entry, user: newCpl == 3);
        }
        cs.MarkAccessed(mem);
        s.Regs.Rsp = frameAt;
        // A privilege change loads SS with a null selector whose RPL is the new CPL.
        if (newCpl < cpl)
            s.Sregs.Ss = new SegmentRegister { Selector = (ushort)newCpl, Unusable = 1, Dpl = (byte)newCpl, S = 1, Type = 3, Db = 1 };
        s.Sregs.Ss.Dpl = (byte)newCpl;
        s.Sregs.Cs = cs.ToSegmentRegister((ushort)((gate.Selector & 0xFFFC) | newCpl));
        s.Regs.Rip = offset;
        s.Regs.Rflags &= ~(TF | NT | RF | VM);
        if (gate.Type == SegmentDescriptor.InterruptGate32) s.Regs.Rflags &= ~IF;
    }

    /// <summary>A quadword of the 64-bit TSS (RSPn, ISTn); beyond the TSS limit: #TS(TSS selector).</summary>
    internal static ulong ReadTss64(VcpuState s, GuestLinearMemory mem, ulong offset, uint ext)
    {
        var tr = s.Sregs.Tr;
        if (offset + 7 > tr.Limit) throw new GuestException(InvalidTss, (uint)(tr.Selector & 0xFFFC) | ext);
        return mem.ReadUInt(tr.Base + offset, 8, user: false);
    }

    /// <summary>Pushes onto SS:ESP/SP of the current (possibly just switched) stack outside 64-bit mode.</summary>
    private sealed class StackWriter(VcpuState s, GuestLinearMemory mem, bool user)
    {
        private ulong _sp = s.Sregs.Ss.Db != 0 ? s.Regs.Rsp & 0xFFFF_FFFF : s.Regs.Rsp & 0xFFFF;

        public void Push(ulong value, int size)
        {
            _sp = (_sp - (ulong)size) & (s.Sregs.Ss.Db != 0 ? 0xFFFF_FFFFUL : 0xFFFFUL);
            Span<byte> b = stackalloc byte[8];
            BitConverter.TryWriteBytes(b, value);
            mem.Write((s.Sregs.Ss.Base + _sp) & 0xFFFF_FFFF, b[..size], user);
        }

        public void Commit() =>
            s.Regs.Rsp = s.Sregs.Ss.Db != 0 ? _sp : (s.Regs.Rsp & ~0xFFFFUL) | _sp;
    }
}
