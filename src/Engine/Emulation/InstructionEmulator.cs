using Iced.Intel;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// Executes, in userspace, instructions the host's KVM could not (KVM_EXIT_INTERNAL_ERROR,
/// emulation failure): IRET/IRETD/IRETQ in every mode, CMPXCHG8B/CMPXCHG16B, and INT3 (the
/// #BP it raises is delivered). The instruction at RIP is fetched through the guest's own
/// translation and decoded with Iced. A pure function of vCPU state and guest memory, so a
/// replay re-executes it identically. Exceptions the instruction raises are injected as the
/// CPU would deliver them; anything else is reported with its disassembly and changes nothing.
/// See README.md in this folder.
/// </summary>
public sealed class InstructionEmulator
{
    private readonly IntelFormatter _formatter = new()
    {
        Options = { MemorySizeOptions = MemorySizeOptions.Never, UppercaseHex = false },
    };

    public EmulationResult Emulate(VcpuState state, GuestMemory memory)
    {
        ulong rip = state.Regs.Rip;
        var mem = new GuestLinearMemory(memory, state);
        Instruction instr;
        try
        {
            instr = Fetch(state, mem);
        }
        catch (Exception e) when (e is GuestException or NotEmulatedException)
        {
            return new EmulationResult(EmulationStatus.NotEmulated, "(unreadable)", rip, Reason: $"the instruction at RIP cannot be fetched: {e.Message}");
        }
        string text = Format(instr);
        if (instr.IsInvalid)
            return new EmulationResult(EmulationStatus.NotEmulated, text, rip, Reason: "invalid instruction encoding");

        // Work on a copy: only a completed instruction or a delivered exception changes the vCPU.
        var work = Clone(state);
        var workMem = new GuestLinearMemory(memory, work);
        try
        {
            switch (instr.Mnemonic)
            {
                case Mnemonic.Iret:
                case Mnemonic.Iretd:
                case Mnemonic.Iretq:
                    IretEmulation.Execute(work, workMem, instr.Mnemonic switch { Mnemonic.Iret => 2, Mnemonic.Iretd => 4, _ => 8 });
                    break;
                case Mnemonic.Cmpxchg8b:
                case Mnemonic.Cmpxchg16b:
                    CmpxchgEmulation.Execute(work, workMem, instr, instr.Mnemonic == Mnemonic.Cmpxchg16b);
                    work.Regs.Rip = NextIp(work, instr);
                    break;
                case Mnemonic.Int3:
                    // A trap: the handler's return address is the next instruction. Delivered here
                    // through the IDT rather than injected: KVM_GET_VCPU_EVENTS does not report an
                    // injected soft exception, so the VMM would deliver a pending interrupt on top
                    // and the #BP would return into that interrupt's handler (Linux's int3
                    // self-test died of it).
                    work.Regs.Rip = NextIp(work, instr);
                    InterruptDelivery.DeliverSoftware(work, memory, GuestException.Breakpoint);
                    CopyBack(work, state);
                    return new EmulationResult(EmulationStatus.ExceptionRaised, text, rip, GuestException.Breakpoint);
                default:
                    return new EmulationResult(EmulationStatus.NotEmulated, text, rip);
            }
        }
        catch (GuestException e)
        {
            Inject(state, e);
            return new EmulationResult(EmulationStatus.ExceptionRaised, text, rip, e.Vector, e.ErrorCode);
        }
        catch (NotEmulatedException e)
        {
            return new EmulationResult(EmulationStatus.NotEmulated, text, rip, Reason: e.Message);
        }
        CopyBack(work, state);
        return new EmulationResult(EmulationStatus.Emulated, text, rip);
    }

    /// <summary>Disassembles the instruction at RIP, for reports.</summary>
    public string Disassemble(VcpuState state, GuestMemory memory)
    {
        try { return Format(Fetch(state, new GuestLinearMemory(memory, state))); }
        catch (Exception e) when (e is GuestException or NotEmulatedException) { return "(unreadable)"; }
    }

    private static int Bitness(VcpuState s) => s.Is64BitMode ? 64 : (s.Sregs.Cr0 & 1) != 0 && s.Sregs.Cs.Db != 0 ? 32 : 16;

    internal static Instruction Fetch(VcpuState s, GuestLinearMemory mem)
    {
        int bitness = Bitness(s);
        ulong linear = bitness == 64 ? s.Regs.Rip : (s.Sregs.Cs.Base + s.Regs.Rip) & 0xFFFF_FFFF;
        var bytes = new byte[15];
        int got = 0;
        // Fetch byte by byte up to a fault, so an instruction ending just before an unmapped page decodes.
        for (; got < bytes.Length; got++)
        {
            try { mem.Read(linear + (ulong)got, bytes.AsSpan(got, 1), s.Cpl == 3, execute: true); }
            catch (GuestException) when (got > 0) { break; }
        }
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes, 0, got));
        decoder.IP = s.Regs.Rip;
        decoder.Decode(out var instr);
        return instr;
    }

    private static ulong NextIp(VcpuState s, in Instruction instr) =>
        Bitness(s) switch { 64 => instr.NextIP, 32 => instr.NextIP & 0xFFFF_FFFF, _ => instr.NextIP & 0xFFFF };

    private string Format(in Instruction instr)
    {
        var output = new StringOutput();
        _formatter.Format(instr, output);
        return output.ToStringAndReset();
    }

    private static void Inject(VcpuState s, GuestException e)
    {
        s.Events.ExceptionInjected = 1;
        s.Events.ExceptionPending = 0;
        s.Events.ExceptionNr = e.Vector;
        s.Events.ExceptionHasErrorCode = (byte)(e.ErrorCode is null ? 0 : 1);
        s.Events.ExceptionErrorCode = e.ErrorCode ?? 0;
        if (e.FaultAddress is { } cr2) s.Sregs.Cr2 = cr2;
    }

    private static VcpuState Clone(VcpuState s) => new()
    {
        Regs = s.Regs, Sregs = s.Sregs, Fpu = s.Fpu, Xsave = s.Xsave, Xcrs = s.Xcrs, Events = s.Events,
        DebugRegs = s.DebugRegs, MpState = s.MpState, Msrs = new(s.Msrs),
    };

    private static void CopyBack(VcpuState from, VcpuState to)
    {
        to.Regs = from.Regs;
        to.Sregs = from.Sregs;
        to.Events = from.Events;
    }
}
