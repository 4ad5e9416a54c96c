using VmReplay.Engine.Emulation;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

public sealed partial class Processor
{
    // Delivery goes through the engine's InterruptDelivery (the same code that delivers the
    // VMM's interrupts on KVM) on a VcpuState taken from this processor.
    private readonly VcpuState _deliveryState = new();

    internal static GuestException Ud() => new(GuestException.InvalidOpcode, null);
    internal static GuestException Gp(uint code = 0) => GuestException.Gp(code);

    /// <summary>
    /// Raises the fault <paramref name="e"/> of the instruction at <paramref name="rip"/> (the
    /// return address the handler sees). Returns false when the run must stop (a triple fault,
    /// or a delivery this processor cannot make).
    /// </summary>
    internal bool RaiseFault(GuestException e, ulong rip)
    {
        Rip = rip;
        return Raise(e.Vector, e.ErrorCode, e.FaultAddress, software: false);
    }

    /// <summary>
    /// INT n, INT3, INTO: delivered with the next instruction as the return address. A fault
    /// while delivering it (the gate's DPL, a gate or segment not present, the stack) is a fault
    /// of the instruction itself, thrown for the run loop to raise at it: the instruction did
    /// not complete, and the handler of that fault must see it as the return address.
    /// </summary>
    internal void DeliverSoftwareInterrupt(byte vector, ulong nextRip)
    {
        ulong rip = Rip;
        Rip = nextRip;
        try
        {
            Deliver(vector, null, software: true);
        }
        catch
        {
            Rip = rip;
            throw;
        }
        _previousBlock = null;
    }

    // The instruction count at which a MOV SS or POP SS loaded SS: a single-step trap after it
    // waits for the next instruction (SDM vol. 3A, 6.8.3), unlike STI's shadow, which holds
    // back interrupts only. Single-stepped code runs one instruction per block, so the count
    // the handler sees is the one before that instruction retires.
    private long _stackLoadAt = -1;

    /// <summary>A MOV SS or POP SS completed: interrupts and debug traps wait one instruction.</summary>
    internal void StackSegmentLoaded()
    {
        InterruptShadow = true;
        _stackLoadAt = InstructionCount;
    }

    /// <summary>The single-step trap after an instruction that ran with EFLAGS.TF set (DR6.BS).</summary>
    private void RaiseDebugTrap()
    {
        if (_stackLoadAt == InstructionCount - 1) return; // after MOV SS: the trap comes after the next instruction
        Dr[6] |= 1UL << 14; // BS
        Raise(1, null, null, software: false);
    }

    /// <summary>
    /// Delivers an external interrupt now (the VMM decided the point). Returns null, or why it
    /// could not be delivered; a fault during delivery is raised in the guest as the CPU would.
    /// </summary>
    public string? DeliverExternalInterrupt(byte vector)
    {
        if (!CanTakeInterrupt) return "the guest cannot take an interrupt now";
        _previousBlock = null;
        if (!Raise(vector, null, null, software: false, external: true))
        {
            if (Exit.Kind == ProcessorExitKind.Shutdown)
            {
                _deferredExit = ProcessorExitKind.Shutdown;
                return null;
            }
            return Exit.Message ?? "delivery failed";
        }
        return null;
    }

    /// <summary>Whether a maskable interrupt can be delivered now: IF set and no interrupt shadow.</summary>
    public bool CanTakeInterrupt => InterruptsEnabled && !InterruptShadow;

    // The SDM's classes for the double-fault rule (vol. 3A, table 6-5).
    private static bool Contributory(byte v) => v is 0 or 10 or 11 or 12 or 13;

    private bool Raise(byte vector, uint? errorCode, ulong? faultAddress, bool software, bool external = false)
    {
        _previousBlock = null;
        while (true)
        {
            if (vector == GuestException.PageFault && faultAddress is { } cr2) Cr2 = cr2;
            try
            {
                Deliver(vector, errorCode, software);
                return true;
            }
            catch (GuestException e)
            {
                byte second = e.Vector;
                int current = vector;
                // A page fault in delivery loads CR2 even when it becomes a double fault (how a
                // #DF handler tells a stack overflow into a guard page).
                if (second == GuestException.PageFault && e.FaultAddress is { } nestedCr2) Cr2 = nestedCr2;
                if (current == 8)
                {
                    Exit.Set(ProcessorExitKind.Shutdown);
                    return false;
                }
                // Table 6-5: a contributory exception or a page fault while delivering a
                // contributory exception, or either while delivering a page fault, is a double
                // fault; every other pair is handled one after the other. An external interrupt
                // or INT n is not an exception here. Each pair counts, however long the chain:
                // an unusable IDT ends in #DF and then shutdown, never in an endless loop.
                bool doubleFault = !external && !software &&
                    (Contributory((byte)current) && Contributory(second)
                     || current == GuestException.PageFault && (second == GuestException.PageFault || Contributory(second)));
                software = false;
                external = false;
                if (doubleFault)
                {
                    vector = 8;
                    errorCode = 0;
                    faultAddress = null;
                }
                else
                {
                    vector = second;
                    errorCode = e.ErrorCode;
                    faultAddress = e.FaultAddress;
                }
            }
            catch (NotEmulatedException e)
            {
                Exit.Set(ProcessorExitKind.Unsupported);
                Exit.Message = e.Message;
                return false;
            }
        }
    }

    private void Deliver(byte vector, uint? errorCode, bool software)
    {
        var s = _deliveryState;
        s.Regs = default;
        SaveRegistersTo(s);
        InterruptDelivery.DeliverException(s, _memory, vector, errorCode, software, WatchObserver);
        LoadRegistersFrom(s);
    }

    // What delivery reads and changes: general registers, RIP, RFLAGS, segments and descriptor
    // tables, control registers. Cheaper than a whole state, and no decoded code is dropped.
    private void SaveRegistersTo(VcpuState s)
    {
        s.Regs.Rax = Gpr[Rax]; s.Regs.Rbx = Gpr[Rbx]; s.Regs.Rcx = Gpr[Rcx]; s.Regs.Rdx = Gpr[Rdx];
        s.Regs.Rsi = Gpr[Rsi]; s.Regs.Rdi = Gpr[Rdi]; s.Regs.Rsp = Gpr[Rsp]; s.Regs.Rbp = Gpr[Rbp];
        s.Regs.R8 = Gpr[8]; s.Regs.R9 = Gpr[9]; s.Regs.R10 = Gpr[10]; s.Regs.R11 = Gpr[11];
        s.Regs.R12 = Gpr[12]; s.Regs.R13 = Gpr[13]; s.Regs.R14 = Gpr[14]; s.Regs.R15 = Gpr[15];
        s.Regs.Rip = Rip;
        s.Regs.Rflags = GetRflags();
        s.Sregs.Es = Seg[Es]; s.Sregs.Cs = Seg[Cs]; s.Sregs.Ss = Seg[Ss]; s.Sregs.Ds = Seg[Ds]; s.Sregs.Fs = Seg[Fs]; s.Sregs.Gs = Seg[Gs];
        s.Sregs.Tr = Tr; s.Sregs.Ldt = Ldtr; s.Sregs.Gdt = Gdtr; s.Sregs.Idt = Idtr;
        s.Sregs.Cr0 = Cr0; s.Sregs.Cr2 = Cr2; s.Sregs.Cr3 = Cr3; s.Sregs.Cr4 = Cr4; s.Sregs.Efer = Efer;
        s.Events = default;
    }

    private void LoadRegistersFrom(VcpuState s)
    {
        Gpr[Rsp] = s.Regs.Rsp;
        Rip = s.Regs.Rip;
        SetRflagsRaw(s.Regs.Rflags);
        Seg[Cs] = s.Sregs.Cs;
        Seg[Ss] = s.Sregs.Ss;
        ModeChanged();
    }

    /// <summary>
    /// Runs <paramref name="change"/> on this processor's registers as a <see cref="VcpuState"/>
    /// (general, RIP, RFLAGS, segments, descriptor tables, control registers) and takes back
    /// everything it changed: how engine code shared with the KVM path (IRET emulation,
    /// descriptor loads) runs here.
    /// </summary>
    internal T WithRegisters<T>(Func<VcpuState, T> change)
    {
        var s = _deliveryState;
        SaveRegistersTo(s);
        T result = change(s);
        var r = s.Regs;
        Gpr[Rax] = r.Rax; Gpr[Rbx] = r.Rbx; Gpr[Rcx] = r.Rcx; Gpr[Rdx] = r.Rdx;
        Gpr[Rsi] = r.Rsi; Gpr[Rdi] = r.Rdi; Gpr[Rsp] = r.Rsp; Gpr[Rbp] = r.Rbp;
        Gpr[8] = r.R8; Gpr[9] = r.R9; Gpr[10] = r.R10; Gpr[11] = r.R11; Gpr[12] = r.R12; Gpr[13] = r.R13; Gpr[14] = r.R14; Gpr[15] = r.R15;
        Rip = r.Rip;
        SetRflagsRaw(r.Rflags);
        var sr = s.Sregs;
        Seg[Es] = sr.Es; Seg[Cs] = sr.Cs; Seg[Ss] = sr.Ss; Seg[Ds] = sr.Ds; Seg[Fs] = sr.Fs; Seg[Gs] = sr.Gs;
        Tr = sr.Tr; Ldtr = sr.Ldt; Gdtr = sr.Gdt; Idtr = sr.Idt;
        bool paging = sr.Cr0 != Cr0 || sr.Cr3 != Cr3 || sr.Cr4 != Cr4 || sr.Efer != Efer;
        Cr0 = sr.Cr0; Cr2 = sr.Cr2; Cr3 = sr.Cr3; Cr4 = sr.Cr4; Efer = sr.Efer;
        ModeChanged();
        if (paging) FlushTlb();
        _previousBlock = null;
        return result;
    }
}
