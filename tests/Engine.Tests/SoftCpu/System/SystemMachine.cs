using Iced.Intel;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>The mode a <see cref="SystemMachine"/> starts in.</summary>
internal enum StartMode { Real, Protected32, Long64 }

/// <summary>
/// A software processor over 2 MiB of RAM set up like a small operating system: a GDT with
/// ring 0, 1 and 3 segments (and free slots for a test's own descriptors), an IDT whose every
/// vector leads to a ring-0 stub that halts (so a test runs to HLT and reads which vector was
/// taken, its error code and frame), a TSS with ring-0/1 stacks and IST stacks, and in long
/// mode an identity-mapped 2 MiB user-accessible page. The program is assembled with Iced at
/// <see cref="CodeBase"/>; <see cref="Address"/> gives its labels' addresses.
/// </summary>
internal sealed class SystemMachine : IDisposable
{
    public const ulong PageTables = 0x1000, Gdt = 0x5000, Idt = 0x6000, Tss = 0x7000, Handlers = 0x8000, CodeBase = 0x10000;
    public const ulong UserStackTop = 0x70000, Ring1StackTop = 0x78000, IstTop = 0x7C000, StackTop = 0x80000;
    public const int HandlerSize = 16;

    public const ushort Code32 = 0x08, Data32 = 0x10, UserCode32 = 0x1B, UserData32 = 0x23, Code64 = 0x28, UserCode64 = 0x33,
        TssSelector = 0x38, Code16 = 0x48, Data16 = 0x50, Ring1Code32 = 0x59, Ring1Data32 = 0x61;
    /// <summary>GDT slots 0x68 to 0xF8 are free for a test's own descriptors.</summary>
    public const ushort FreeSlot = 0x68;
    public const uint GdtLimit = 0x100 - 1;

    public GuestMemory Memory { get; } = GuestMemory.CreatePcLayout(2UL << 20);
    public Processor Cpu { get; }
    public StartMode Mode { get; }
    private readonly AssemblerResult _program;

    /// <param name="cpuid">The CPUID the processor answers with; null: the software CPU's own model.</param>
    public SystemMachine(StartMode mode, Action<Assembler> program, CpuidTable? cpuid = null)
    {
        Mode = mode;
        Cpu = new Processor(Memory, cpuid ?? SoftCpuModel.Build());
        bool long64 = mode == StartMode.Long64;
        _program = Assemble(CodeBase, mode switch { StartMode.Real => 16, StartMode.Protected32 => 32, _ => 64 }, program);

        ulong[] gdt =
        [
            0,
            Descriptors.FlatCode(0),                   // 0x08 ring-0 code, 32-bit
            Descriptors.FlatData(0),                   // 0x10 ring-0 data
            Descriptors.FlatCode(3),                   // 0x18 ring-3 code, 32-bit
            Descriptors.FlatData(3),                   // 0x20 ring-3 data
            Descriptors.FlatCode(0, db: false, l: true), // 0x28 ring-0 code, 64-bit
            Descriptors.FlatCode(3, db: false, l: true), // 0x30 ring-3 code, 64-bit
            Descriptors.System((uint)Tss, 0x67, 0xB),  // 0x38 TSS (busy)
            0,                                         // 0x40 upper half of the 64-bit TSS
            Descriptors.Segment(0, 0xFFFF, 0xA, 0, db: false), // 0x48 ring-0 code, 16-bit
            Descriptors.Segment(0, 0xFFFF, 2, 0, db: false),   // 0x50 ring-0 data, 64 KiB
            Descriptors.FlatCode(1),                   // 0x58 ring-1 code, 32-bit
            Descriptors.FlatData(1),                   // 0x60 ring-1 data
        ];
        for (int i = 0; i < gdt.Length; i++) Memory.WriteUInt64(Gdt + (ulong)i * 8, gdt[i]);

        for (int v = 0; v < 256; v++)
        {
            ulong stub = Handlers + (ulong)(v * HandlerSize);
            Memory.Write(stub, [0xF4, 0xEB, 0xFD]); // hlt; jmp back to the hlt
            if (mode == StartMode.Real) Memory.WriteUInt32((ulong)v * 4, (uint)(Handlers >> 4) << 16 | (uint)(v * HandlerSize));
            else if (long64) SetGate64(v, Descriptors.Gate64(Code64, stub, 0xE, 0));
            else Memory.WriteUInt64(Idt + (ulong)v * 8, Descriptors.Gate(Code32, stub, 0xE, 0));
        }

        if (long64)
        {
            Memory.WriteUInt32(Tss + 4, (uint)StackTop);          // RSP0
            Memory.WriteUInt32(Tss + 0xC, (uint)Ring1StackTop);   // RSP1
            for (int ist = 1; ist <= 7; ist++) Memory.WriteUInt64(Tss + 0x24 + (ulong)(ist - 1) * 8, IstTop - (ulong)(ist - 1) * 0x400);
            // PML4 -> PDPT -> PD with one 2 MiB page at 0, writable and user-accessible.
            Memory.WriteUInt64(PageTables, (PageTables + 0x1000) | 7);
            Memory.WriteUInt64(PageTables + 0x1000, (PageTables + 0x2000) | 7);
            Memory.WriteUInt64(PageTables + 0x2000, 0x87);
        }
        else
        {
            Memory.WriteUInt32(Tss + 4, (uint)StackTop);          // ESP0
            Memory.WriteUInt32(Tss + 8, Data32);                   // SS0
            Memory.WriteUInt32(Tss + 0xC, (uint)Ring1StackTop);   // ESP1
            Memory.WriteUInt32(Tss + 0x10, Ring1Data32);           // SS1
        }

        var s = new VcpuState();
        Cpu.SaveState(s);
        s.Regs.Rflags = 2;
        switch (mode)
        {
            case StartMode.Real:
                s.Sregs.Cs = RealSegment(0x1000, 0xB);
                s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = RealSegment(0, 3);
                s.Sregs.Idt = new DescriptorTableRegister { Base = 0, Limit = 0x3FF };
                s.Regs.Rip = 0;
                s.Regs.Rsp = 0xFFF0;
                break;
            case StartMode.Protected32:
                s.Sregs.Cr0 = 0x11;
                s.Sregs.Cs = Segment(Code32, 0xB, 0);
                s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = Segment(Data32, 3, 0);
                s.Sregs.Idt = new DescriptorTableRegister { Base = Idt, Limit = 256 * 8 - 1 };
                s.Regs.Rip = CodeBase;
                s.Regs.Rsp = StackTop;
                break;
            default:
                s.Sregs.Cr0 = 0x8000_0011;
                s.Sregs.Cr3 = PageTables;
                s.Sregs.Cr4 = 0x20;
                s.Sregs.Efer = 0xD01; // SCE, LME, LMA, NXE
                s.Sregs.Cs = Segment(Code64, 0xB, 0, l: true);
                s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = Segment(Data32, 3, 0);
                s.Sregs.Idt = new DescriptorTableRegister { Base = Idt, Limit = 256 * 16 - 1 };
                s.Regs.Rip = CodeBase;
                s.Regs.Rsp = StackTop;
                break;
        }
        if (mode != StartMode.Real)
        {
            s.Sregs.Gdt = new DescriptorTableRegister { Base = Gdt, Limit = (ushort)GdtLimit };
            s.Sregs.Tr = new SegmentRegister { Selector = TssSelector, Base = Tss, Limit = 0x67, Type = 0xB, Present = 1 };
            s.Sregs.Ldt = new SegmentRegister { Unusable = 1 };
        }
        Cpu.LoadState(s);
    }

    public void Dispose() => Memory.Dispose();

    /// <summary>Assembles <paramref name="code"/> for <paramref name="bitness"/> at <paramref name="address"/> into guest memory.</summary>
    public AssemblerResult Assemble(ulong address, int bitness, Action<Assembler> code)
    {
        var asm = new Assembler(bitness);
        code(asm);
        var stream = new MemoryStream();
        var result = asm.Assemble(new StreamCodeWriter(stream), address, BlockEncoderOptions.ReturnNewInstructionOffsets);
        Memory.Write(address, stream.ToArray());
        return result;
    }

    /// <summary>The address a label of the program was assembled at.</summary>
    public ulong Address(Label label) => _program.GetLabelRIP(label);

    public void SetGdt(ushort selector, ulong descriptor) => Memory.WriteUInt64(Gdt + (ulong)(selector & 0xFFF8), descriptor);

    public void SetGate64(int vector, (ulong Low, ulong High) gate)
    {
        Memory.WriteUInt64(Idt + (ulong)vector * 16, gate.Low);
        Memory.WriteUInt64(Idt + (ulong)vector * 16 + 8, gate.High);
    }

    public void SetGate32(int vector, ulong gate) => Memory.WriteUInt64(Idt + (ulong)vector * 8, gate);

    /// <summary>The halting stub of <paramref name="vector"/>.</summary>
    public static ulong Handler(int vector) => Handlers + (ulong)(vector * HandlerSize);

    /// <summary>Changes the state before the run (the test's own setup).</summary>
    public void Change(Action<VcpuState> change)
    {
        var s = new VcpuState();
        Cpu.SaveState(s);
        change(s);
        Cpu.LoadState(s);
    }

    public static SegmentRegister Segment(ushort selector, byte type, int dpl, bool l = false, bool db = true) => new()
    {
        Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Type = type, Present = 1, S = 1, Dpl = (byte)dpl,
        Db = (byte)(l || !db ? 0 : 1), L = (byte)(l ? 1 : 0), G = 1,
    };

    private static SegmentRegister RealSegment(ushort selector, byte type) => new()
    {
        Selector = selector, Base = (ulong)selector << 4, Limit = 0xFFFF, Type = type, Present = 1, S = 1,
    };

    /// <summary>Runs to the first exit (HLT, shutdown, an unsupported operation, the instruction limit).</summary>
    public ProcessorExitKind Run(long limit = 100_000) => Cpu.Run(Cpu.InstructionCount + limit);

    public VcpuState State()
    {
        var s = new VcpuState();
        Cpu.SaveState(s);
        return s;
    }

    /// <summary>The vector whose stub the processor halted in, or -1 when it halted elsewhere.</summary>
    public int HaltedVector
    {
        get
        {
            var s = State();
            ulong linear = s.LinearRip - 1;
            if (linear < Handlers || linear >= Handlers + 256 * HandlerSize || (linear - Handlers) % HandlerSize != 0) return -1;
            return (int)((linear - Handlers) / HandlerSize);
        }
    }

    /// <summary>The linear address the stack pointer points at (SS base + ESP/SP, or RSP).</summary>
    public ulong StackLinear
    {
        get
        {
            var s = State();
            if (s.Is64BitMode) return s.Regs.Rsp;
            return s.Sregs.Ss.Base + (s.Sregs.Ss.Db != 0 ? s.Regs.Rsp & 0xFFFF_FFFF : s.Regs.Rsp & 0xFFFF);
        }
    }

    /// <summary><paramref name="count"/> stack entries of <paramref name="size"/> bytes from the top of the stack.</summary>
    public ulong[] Stack(int count, int size)
    {
        ulong at = StackLinear;
        var values = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            ulong a = at + (ulong)(i * size);
            values[i] = size switch { 2 => Memory.ReadUInt16(a), 4 => Memory.ReadUInt32(a), _ => Memory.ReadUInt64(a) };
        }
        return values;
    }
}
