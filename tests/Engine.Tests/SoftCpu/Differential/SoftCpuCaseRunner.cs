using System.Buffers.Binary;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// Runs a <see cref="DifferentialCase"/> on a software <see cref="Processor"/> in 64-bit mode, at
/// the addresses the native runner uses: page tables map the code page and the data buffer at
/// their linear addresses (and nothing next to the buffer), so a memory operand means the same
/// bytes on both CPUs. The instruction is followed by HLT. An exception goes through an IDT
/// whose vector n handler is a HLT at stub n, on an IST stack, so the case's own stack (often
/// the data buffer) is untouched and the handler's address names the vector.
/// </summary>
internal sealed unsafe class SoftCpuCaseRunner : IDisposable
{
    // Physical layout of the 2 MiB of RAM.
    private const ulong Pml4 = 0x1000, PdptLow = 0x2000, PdLow = 0x3000, PtData = 0x4000, PdptHigh = 0x5000, PdHigh = 0x6000;
    private const ulong Gdt = 0x7000, Idt = 0x8000, Tss = 0x9000, IstTop = 0xF000, Stubs = 0x10000;
    private const ulong DataPhysical = 0x20000, CodePhysical = 0x21000;
    // The system structures are reached through a 2 MiB page of all RAM in the upper half, where
    // no case's operand points (natively those addresses fault).
    private const ulong SystemBase = 0xFFFF_8000_0000_0000;

    private readonly GuestMemory _memory = GuestMemory.CreatePcLayout(2UL << 20);
    private readonly Processor _cpu;
    private readonly VcpuState _start = new();
    private string? _unimplemented;

    public SoftCpuCaseRunner()
    {
        _cpu = new Processor(_memory, SoftCpuModel.Build());
        _cpu.UnimplementedInstruction = message => _unimplemented = message;
        const ulong present = 3; // P | RW, supervisor
        _memory.WriteUInt64(Pml4, PdptLow | present);
        _memory.WriteUInt64(Pml4 + 256 * 8, PdptHigh | present);
        _memory.WriteUInt64(PdptLow, PdLow | present);
        _memory.WriteUInt64(PdLow + ((DifferentialLayout.DataAddress >> 21) & 511) * 8, PtData | present);
        _memory.WriteUInt64(PtData + ((DifferentialLayout.DataAddress >> 12) & 511) * 8, DataPhysical | present);
        _memory.WriteUInt64(PtData + ((DifferentialLayout.CodeAddress >> 12) & 511) * 8, CodePhysical | present);
        _memory.WriteUInt64(PdptHigh, PdHigh | present);
        _memory.WriteUInt64(PdHigh, 0 | present | 0x80);
        _memory.WriteUInt64(Gdt + 8, 0x00AF_9A00_0000_FFFF);  // 64-bit code, DPL 0
        _memory.WriteUInt64(Gdt + 16, 0x00CF_9200_0000_FFFF); // data
        _memory.WriteUInt64(Tss + 0x24, SystemBase + IstTop);  // IST1
        for (ulong v = 0; v < 256; v++)
        {
            ulong handler = SystemBase + Stubs + v;
            ulong low = (handler & 0xFFFF) | (8UL << 16) | (1UL << 32) | (0x8EUL << 40) | ((handler >> 16) & 0xFFFF) << 48;
            _memory.WriteUInt64(Idt + v * 16, low);
            _memory.WriteUInt64(Idt + v * 16 + 8, handler >> 32);
            _memory.WriteByte(Stubs + v, 0xF4);
        }

        _cpu.SaveState(_start);
        ref var sr = ref _start.Sregs;
        sr.Cr0 = 0x8001_0033; // PG WP NE ET MP PE
        sr.Cr3 = Pml4;
        sr.Cr4 = 0x620;       // OSXMMEXCPT OSFXSR PAE
        sr.Efer = 0x500;      // LMA LME
        sr.Cs = Segment(8, 0xB, db: 0, l: 1);
        sr.Ss = sr.Ds = sr.Es = sr.Fs = sr.Gs = Segment(0x10, 3, db: 1, l: 0);
        sr.Gdt = new DescriptorTableRegister { Base = SystemBase + Gdt, Limit = 0x17 };
        sr.Idt = new DescriptorTableRegister { Base = SystemBase + Idt, Limit = 0xFFF };
        sr.Tr = new SegmentRegister { Base = SystemBase + Tss, Limit = 0x67, Type = 0xB, Present = 1 };
    }

    private static SegmentRegister Segment(ushort selector, byte type, byte db, byte l) => new()
    {
        Selector = selector, Limit = 0xFFFF_FFFF, Type = type, Present = 1, S = 1, Db = db, L = l, G = 1,
    };

    /// <summary>The processor (for tests that look at more than a case's outcome).</summary>
    public Processor Cpu => _cpu;

    /// <summary>Runs one case.</summary>
    public InstructionOutcome Run(DifferentialCase c)
    {
        var code = new byte[c.Code.Length + 1];
        c.Code.CopyTo(code, 0);
        code[^1] = 0xF4;
        _memory.Write(CodePhysical, code);
        _memory.Write(DataPhysical, c.InitialData());
        var s = _start;
        ref var r = ref s.Regs;
        r.Rax = c.Gpr[0]; r.Rcx = c.Gpr[1]; r.Rdx = c.Gpr[2]; r.Rbx = c.Gpr[3]; r.Rsp = c.Gpr[4]; r.Rbp = c.Gpr[5]; r.Rsi = c.Gpr[6]; r.Rdi = c.Gpr[7];
        r.R8 = c.Gpr[8]; r.R9 = c.Gpr[9]; r.R10 = c.Gpr[10]; r.R11 = c.Gpr[11]; r.R12 = c.Gpr[12]; r.R13 = c.Gpr[13]; r.R14 = c.Gpr[14]; r.R15 = c.Gpr[15];
        r.Rip = DifferentialLayout.CodeAddress;
        r.Rflags = (c.Flags & 0xCD5) | 2;
        s.Sregs.Gs.Base = c.GsBase;
        s.Fpu = FxImage.ToKvmFpu(c.Fx ?? DifferentialCase.DefaultFx());
        _cpu.LoadState(s);
        _unimplemented = null;

        var o = new InstructionOutcome();
        var exit = _cpu.Run(_cpu.InstructionCount + 1_000_000);
        var end = new VcpuState();
        _cpu.SaveState(end);
        var e = end.Regs;
        ulong[] gpr = [e.Rax, e.Rcx, e.Rdx, e.Rbx, e.Rsp, e.Rbp, e.Rsi, e.Rdi, e.R8, e.R9, e.R10, e.R11, e.R12, e.R13, e.R14, e.R15];
        gpr.CopyTo(o.Gpr, 0);
        o.Flags = e.Rflags;
        o.Data = new byte[DifferentialLayout.DataSize];
        _memory.Read(DataPhysical, o.Data);
        if (c.Fx is not null) o.Fx = FxImage.FromKvmFpu(end.Fpu);
        ulong afterHlt = DifferentialLayout.CodeAddress + (ulong)code.Length;
        if (exit != ProcessorExitKind.Halt)
        {
            o.Failure = $"the software CPU stopped with {exit} {_cpu.Exit.Message} at {e.Rip:x}";
        }
        else if (e.Rip == afterHlt)
        {
            o.Rip = afterHlt - 1;
        }
        else if (e.Rip > SystemBase + Stubs && e.Rip <= SystemBase + Stubs + 256)
        {
            int vector = (int)(e.Rip - (SystemBase + Stubs) - 1);
            bool hasError = vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;
            ulong frame = IstTop - (hasError ? 48UL : 40UL);
            int at = 0;
            if (hasError) o.ErrorCode = _memory.ReadUInt64(frame + 8 * (ulong)at++);
            o.Rip = _memory.ReadUInt64(frame + 8 * (ulong)at++);
            at++; // CS
            o.Flags = _memory.ReadUInt64(frame + 8 * (ulong)at++);
            o.Gpr[4] = _memory.ReadUInt64(frame + 8 * (ulong)at);
            o.Exception = vector;
            if (vector == 14) o.FaultAddress = end.Sregs.Cr2;
            o.Note = _unimplemented;
        }
        else
        {
            o.Failure = $"the software CPU halted at {e.Rip:x}, neither after the instruction nor in an exception handler";
        }
        return o;
    }

    public void Dispose() => _memory.Dispose();
}
