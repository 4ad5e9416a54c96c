using Iced.Intel;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// A software processor over 2 MiB of RAM with code assembled by Iced at <see cref="CodeBase"/>,
/// started in flat 32-bit protected mode, 64-bit mode (identity-mapped first 2 MiB) or real mode.
/// </summary>
internal sealed class SoftCpuMachine : IDisposable
{
    public const ulong CodeBase = 0x10000;
    public const ulong StackTop = 0x80000;
    public const ulong PageTables = 0x1000;

    public GuestMemory Memory { get; } = GuestMemory.CreatePcLayout(2UL << 20);
    public Processor Cpu { get; }

    public SoftCpuMachine(int bitness, Action<Assembler> program)
    {
        Cpu = new Processor(Memory, SoftCpuModel.Build());
        var asm = new Assembler(bitness);
        program(asm);
        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), CodeBase);
        Memory.Write(CodeBase, stream.ToArray());
        var s = new VcpuState();
        Cpu.SaveState(s);
        switch (bitness)
        {
            case 16:
                s.Sregs.Cs = Seg(0x1000, 0x10000, 0xFFFF, 0xB, db: 0);
                s.Regs.Rip = 0;
                s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = Seg(0, 0, 0xFFFF, 3, db: 0);
                s.Regs.Rsp = 0xFFF0;
                break;
            case 32:
                s.Sregs.Cr0 = 0x11;
                s.Sregs.Cs = Seg(8, 0, 0xFFFF_FFFF, 0xB, db: 1);
                s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = Seg(0x10, 0, 0xFFFF_FFFF, 3, db: 1);
                s.Regs.Rip = CodeBase;
                s.Regs.Rsp = StackTop;
                break;
            default:
                // PML4 -> PDPT -> PD with one 2 MiB page at 0.
                Memory.WriteUInt64(PageTables, PageTables + 0x1000 | 3);
                Memory.WriteUInt64(PageTables + 0x1000, PageTables + 0x2000 | 3);
                Memory.WriteUInt64(PageTables + 0x2000, 0x83);
                s.Sregs.Cr0 = 0x8000_0011;
                s.Sregs.Cr3 = PageTables;
                s.Sregs.Cr4 = 0x20;
                s.Sregs.Efer = 0x500;
                s.Sregs.Cs = Seg(8, 0, 0xFFFF_FFFF, 0xB, db: 0, l: 1);
                s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = Seg(0x10, 0, 0xFFFF_FFFF, 3, db: 1);
                s.Regs.Rip = CodeBase;
                s.Regs.Rsp = StackTop;
                break;
        }
        s.Regs.Rflags = 2;
        Cpu.LoadState(s);
    }

    private static SegmentRegister Seg(ushort sel, ulong @base, uint limit, byte type, byte db, byte l = 0) => new()
    {
        Selector = sel, Base = @base, Limit = limit, Type = type, Present = 1, S = 1, Db = db, L = l, G = (byte)(limit > 0xFFFFF ? 1 : 0),
    };

    /// <summary>Runs to the first exit other than port I/O, answering port reads with <paramref name="portIn"/>; returns the exit.</summary>
    public ProcessorExitKind Run(long limit = 10_000_000, Func<ulong, ulong>? portIn = null, List<(ulong Port, ulong Value)>? portOut = null)
    {
        while (true)
        {
            var kind = Cpu.Run(Cpu.InstructionCount + limit);
            switch (kind)
            {
                case ProcessorExitKind.PortIn:
                    BitConverter.TryWriteBytes(Cpu.Exit.Data, portIn?.Invoke(Cpu.Exit.Address) ?? ulong.MaxValue);
                    continue;
                case ProcessorExitKind.PortOut:
                    portOut?.Add((Cpu.Exit.Address, BitConverter.ToUInt64(Cpu.Exit.Data) & (Cpu.Exit.Size == 8 ? ulong.MaxValue : (1UL << (8 * Cpu.Exit.Size)) - 1)));
                    continue;
                default:
                    return kind;
            }
        }
    }

    public VcpuState State()
    {
        var s = new VcpuState();
        Cpu.SaveState(s);
        return s;
    }

    public void Dispose() => Memory.Dispose();
}
