using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// Delivers an external interrupt the way the CPU does (SDM vol. 3A, 6.12; real mode, 20.1.4):
/// through the IVT in real mode, a 32-bit IDT interrupt or trap gate at the same or an inner
/// privilege level (stack from the TSS), or a 64-bit IDT gate (IST, RSP0-2, 16-byte alignment).
/// Doing it in userspace makes the delivery point exactly the instruction boundary where the VMM
/// decided it, on any host: KVM_INTERRUPT leaves the moment of delivery to KVM, which on some
/// hosts lets the guest run on first. A pure function of vCPU state and guest memory.
/// </summary>
public static class InterruptDelivery
{
    private const ulong IF = 1 << 9, TF = 1 << 8, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18;

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
    /// </summary>
    public static void DeliverException(VcpuState s, GuestMemory memory, byte vector, uint? errorCode, bool software) =>
        Through(s, memory, vector, software, errorCode);

    private static void Through(VcpuState s, GuestMemory memory, byte vector, bool software, uint? errorCode = null)
    {
        var work = new VcpuState { Regs = s.Regs, Sregs = s.Sregs, Events = s.Events };
        var mem = new GuestLinearMemory(memory, work);
        if ((work.Sregs.Cr0 & 1) == 0) RealMode(work, mem, vector);
        else if ((work.Regs.Rflags & VM) != 0) throw new NotEmulatedException("interrupts in virtual-8086 mode are not delivered by the VMM");
        else if ((work.Sregs.Efer & (1UL << 10)) != 0) LongMode(work, mem, vector, software, errorCode);
        else Protected(work, mem, vector, software, errorCode);
        mem.Commit();
        s.Regs = work.Regs;
        s.Sregs = work.Sregs;
    }

    private static void RealMode(VcpuState s, GuestLinearMemory mem, byte vector)
    {
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

    private static void Protected(VcpuState s, GuestLinearMemory mem, byte vector, bool software, uint? errorCode)
    {
        if (vector * 8u + 7 > s.Sregs.Idt.Limit) throw GuestException.Gp((uint)(vector * 8 + 2));
        ulong gate = mem.ReadUInt(s.Sregs.Idt.Base + vector * 8UL, 8, user: false);
        if (software && (int)((gate >> 45) & 3) < s.Cpl) throw GuestException.Gp((uint)(vector * 8 + 2));
        int type = (int)((gate >> 40) & 0xF);
        if ((gate & (1UL << 47)) == 0) throw new GuestException(GuestException.SegmentNotPresent, (uint)(vector * 8 + 2));
        bool is32 = type is 0xE or 0xF;
        if (type is not (0x6 or 0x7 or 0xE or 0xF)) throw new NotEmulatedException($"IDT gate type {type:x} (task gates are not delivered)");
        ushort csSel = (ushort)(gate >> 16);
        ulong offset = (gate & 0xFFFF) | (is32 ? ((gate >> 48) & 0xFFFF) << 16 : 0);
        var cs = SegmentDescriptor.Load(s, mem, csSel);
        if (!cs.IsCode || !cs.Present) throw GuestException.Gp((uint)(csSel & 0xFFFC));
        int cpl = s.Cpl;
        int newCpl = cs.IsConforming ? cpl : cs.Dpl;
        int size = is32 ? 4 : 2;
        ulong oldFlags = s.Regs.Rflags;
        if (newCpl < cpl)
        {
            // Inner privilege: SS:ESP for the new level from the 32-bit TSS.
            ulong tss = s.Sregs.Tr.Base;
            ulong newEsp = mem.ReadUInt(tss + 4 + (ulong)newCpl * 8, 4, user: false);
            ushort newSsSel = (ushort)mem.ReadUInt(tss + 8 + (ulong)newCpl * 8, 2, user: false);
            var ss = SegmentDescriptor.Load(s, mem, newSsSel);
            if (!ss.IsWritableData || !ss.Present || ss.Dpl != newCpl) throw new GuestException(10, (uint)(newSsSel & 0xFFFC));
            ushort oldSs = s.Sregs.Ss.Selector;
            ulong oldEsp = s.Regs.Rsp;
            s.Sregs.Ss = ss.ToKvm(newSsSel);
            s.Regs.Rsp = newEsp;
            var inner = new StackWriter(s, mem, user: false);
            inner.Push(oldSs, size);
            inner.Push(oldEsp, size);
            inner.Push(oldFlags, size);
            inner.Push(s.Sregs.Cs.Selector, size);
            inner.Push(s.Regs.Rip, size);
            if (errorCode is { } innerCode) inner.Push(innerCode, size);
            inner.Commit();
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
        s.Sregs.Cs = cs.ToKvm((ushort)((csSel & 0xFFFC) | newCpl));
        s.Sregs.Ss.Dpl = (byte)newCpl;
        s.Regs.Rip = offset;
        s.Regs.Rflags &= ~(TF | NT | RF | VM);
        if (type is 0x6 or 0xE) s.Regs.Rflags &= ~IF; // interrupt gate, not trap gate
    }

    private static void LongMode(VcpuState s, GuestLinearMemory mem, byte vector, bool software, uint? errorCode)
    {
        if (vector * 16u + 15 > s.Sregs.Idt.Limit) throw GuestException.Gp((uint)(vector * 16 + 2));
        ulong lo = mem.ReadUInt(s.Sregs.Idt.Base + vector * 16UL, 8, user: false);
        if (software && (int)((lo >> 45) & 3) < s.Cpl) throw GuestException.Gp((uint)(vector * 16 + 2));
        ulong hi = mem.ReadUInt(s.Sregs.Idt.Base + vector * 16UL + 8, 8, user: false);
        int type = (int)((lo >> 40) & 0xF);
        if ((lo & (1UL << 47)) == 0) throw new GuestException(GuestException.SegmentNotPresent, (uint)(vector * 16 + 2));
        if (type is not (0xE or 0xF)) throw GuestException.Gp((uint)(vector * 16 + 2));
        ushort csSel = (ushort)(lo >> 16);
        int ist = (int)((lo >> 32) & 7);
        ulong offset = (lo & 0xFFFF) | ((lo >> 48) & 0xFFFF) << 16 | (hi & 0xFFFF_FFFF) << 32;
        var cs = SegmentDescriptor.Load(s, mem, csSel);
        if (!cs.IsCode || !cs.Present || !cs.L) throw GuestException.Gp((uint)(csSel & 0xFFFC));
        int cpl = s.Cpl;
        int newCpl = cs.IsConforming ? cpl : cs.Dpl;
        ulong oldSs = s.Sregs.Ss.Selector, oldRsp = s.Regs.Rsp, oldFlags = s.Regs.Rflags, oldCs = s.Sregs.Cs.Selector, oldRip = s.Regs.Rip;
        ulong rsp = oldRsp;
        ulong tss = s.Sregs.Tr.Base;
        if (ist != 0) rsp = mem.ReadUInt(tss + 0x24 + (ulong)(ist - 1) * 8, 8, user: false);
        else if (newCpl < cpl) rsp = mem.ReadUInt(tss + 4 + (ulong)newCpl * 8, 8, user: false);
        rsp &= ~0xFUL; // the 64-bit frame is 16-byte aligned
        ulong[] frame = errorCode is { } code ? [code, oldRip, oldCs, oldFlags, oldRsp, oldSs] : [oldRip, oldCs, oldFlags, oldRsp, oldSs];
        var bytes = new byte[frame.Length * 8];
        for (int i = 0; i < frame.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), frame[i]);
        mem.Write(rsp - (ulong)bytes.Length, bytes, user: false);
        cs.MarkAccessed(mem);
        s.Regs.Rsp = rsp - (ulong)bytes.Length;
        if (newCpl < cpl)
            s.Sregs.Ss = new KvmSegment { Selector = (ushort)newCpl, Unusable = 1, Dpl = (byte)newCpl, S = 1, Type = 3, Db = 1 };
        s.Sregs.Ss.Dpl = (byte)newCpl;
        s.Sregs.Cs = cs.ToKvm((ushort)((csSel & 0xFFFC) | newCpl));
        s.Regs.Rip = offset;
        s.Regs.Rflags &= ~(TF | NT | RF | VM);
        if (type == 0xE) s.Regs.Rflags &= ~IF;
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
