using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// DAA, DAS, AAA, AAS, AAM, AAD and 16-bit XLAT. These exist only outside 64-bit mode, so the
/// host CPU (which runs the differential tests in 64-bit user mode) cannot check them: each row
/// was worked out by hand from the SDM's pseudo-code (vol. 2A), and the DAA/DAS rows include
/// the SDM's own examples. They run in real mode, where vector 0 (#DE) goes through the IVT to a
/// HLT. Flags are compared only where the SDM defines them.
/// </summary>
public class DecimalArithmeticTests
{
    private const ulong Cf = 1, Pf = 4, Af = 0x10, Zf = 0x40, Sf = 0x80, Of = 0x800;

    public static TheoryData<string, ushort, ulong, ushort, ulong, ulong> Rows() => new()
    {
        // name, AX before, flags before, AX after, flags after, flags the SDM defines
        // DAA: the SDM's example (ADD 79h+35h left AEh): 14h, CF and AF set.
        { "daa", 0x00AE, 0, 0x0014, Af | Pf | Cf, Cf | Af | Sf | Zf | Pf },
        { "daa", 0x0012, Af, 0x0018, Af | Pf, Cf | Af | Sf | Zf | Pf },        // low nibble adjusted by AF alone
        { "daa", 0x0099, 0, 0x0099, Sf | Pf, Cf | Af | Sf | Zf | Pf },          // already BCD: nothing changes
        { "daa", 0x009A, 0, 0x0000, Af | Cf | Zf | Pf, Cf | Af | Sf | Zf | Pf }, // 9Ah+6 = A0h, +60h = 100h
        { "daa", 0x0005, Cf, 0x0065, Cf | Pf, Cf | Af | Sf | Zf | Pf },          // CF in: +60h, CF stays set
        // DAS: the SDM's example (SUB 35h-47h left EEh with AF and CF): 88h.
        { "das", 0x00EE, Af | Cf, 0x0088, Sf | Af | Pf | Cf, Cf | Af | Sf | Zf | Pf },
        { "das", 0x0003, Af, 0x00FD, Af | Cf | Sf, Cf | Af | Sf | Zf | Pf },      // the borrow of AL-6 sets CF; the second step does not apply
        { "das", 0x0042, 0, 0x0042, Pf, Cf | Af | Sf | Zf | Pf },
        { "das", 0x009A, 0, 0x0034, Af | Cf, Cf | Af | Sf | Zf | Pf },           // 9Ah-6 = 94h, -60h = 34h
        // AAA: AX + 106h when the low nibble is over 9 or AF is set, then AL's high nibble cleared.
        { "aaa", 0x0011, Af, 0x0107, Af | Cf, Af | Cf },
        { "aaa", 0x00FA, 0, 0x0200, Af | Cf, Af | Cf },                          // AX + 106h carries into AH twice
        { "aaa", 0x0505, Cf, 0x0505, 0, Af | Cf },                                // CF in does not matter
        { "aaa", 0x12F3, 0, 0x1203, 0, Af | Cf },
        // AAS: AX - 6, AH - 1.
        { "aas", 0x02FB, Af, 0x0105, Af | Cf, Af | Cf },
        { "aas", 0x0000, Af, 0xFE0A, Af | Cf, Af | Cf },
        { "aas", 0x0309, Cf, 0x0309, 0, Af | Cf },
        // AAM 10 / AAD 10 and other bases; SF, ZF, PF from AL.
        { "aam", 0x003F, 0, 0x0603, Pf, Sf | Zf | Pf },
        { "aam", 0x7700, 0, 0x0000, Zf | Pf, Sf | Zf | Pf },
        { "aam16", 0x00FF, 0, 0x0F0F, Pf, Sf | Zf | Pf },
        { "aad", 0x0603, 0, 0x003F, Pf, Sf | Zf | Pf },
        { "aad", 0x0909, 0, 0x0063, Pf, Sf | Zf | Pf },
        { "aad", 0xFFFF, 0, 0x00F5, Sf | Pf, Sf | Zf | Pf },                     // (FFh + FFh·10) & FFh = F5h
        { "aad16", 0x0102, 0, 0x0012, Pf, Sf | Zf | Pf },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void AdjustmentsFollowTheSdm(string op, ushort ax, ulong flagsIn, ushort axOut, ulong flagsOut, ulong defined)
    {
        using var m = new SoftCpuMachine(16, a =>
        {
            switch (op)
            {
                case "daa": a.daa(); break;
                case "das": a.das(); break;
                case "aaa": a.aaa(); break;
                case "aas": a.aas(); break;
                case "aam": a.aam(10); break;
                case "aam16": a.aam(16); break;
                case "aad": a.aad(10); break;
                default: a.aad(16); break;
            }
            a.hlt();
        });
        var s = m.State();
        s.Regs.Rax = 0xDEAD_BEEF_0000_0000 | ax;
        s.Regs.Rflags = 2 | flagsIn;
        m.Cpu.LoadState(s);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var e = m.State();
        Assert.Equal(0xDEAD_BEEF_0000_0000 | axOut, e.Regs.Rax);
        Assert.Equal(flagsOut & defined, e.Regs.Rflags & defined);
    }

    [Fact]
    public void AamByZeroRaisesADivideErrorAndChangesNothing()
    {
        var handler = new Label();
        using var m = new SoftCpuMachine(16, a =>
        {
            handler = a.CreateLabel();
            a.mov(ax, 0x1234);
            a.aam(0);
            a.hlt();
            a.Label(ref handler);
            a.hlt();
        });
        // IVT vector 0 -> 1000:offset of the handler (the code is at 1000:0000).
        ushort offset = (ushort)(3 + 2 + 1);
        m.Memory.WriteUInt16(0, offset);
        m.Memory.WriteUInt16(2, 0x1000);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(offset + 1UL, s.Regs.Rip);
        Assert.Equal(0x1234UL, s.Regs.Rax & 0xFFFF);
        Assert.Equal(3, m.Memory.ReadUInt16(0xFFF0 - 6)); // the pushed IP: the AAM itself
    }

    [Fact]
    public void XlatWrapsWithinSixteenBitsAndTakesASegmentOverride()
    {
        using var m = new SoftCpuMachine(16, a =>
        {
            a.mov(ax, 0x2000);
            a.mov(es, ax);
            a.mov(bx, 0xFFF0);
            a.mov(al, 0x20);
            a.xlatb();          // DS:(FFF0h + 20h) & FFFFh = 0:0010h
            a.mov(cl, al);
            a.mov(al, 0x01);
            a.db(0x26, 0xD7);   // es: xlatb -> ES:FFF1h = 2FFF1h
            a.hlt();
        });
        m.Memory.WriteByte(0x00010, 0x5A);
        m.Memory.WriteByte(0x2FFF1, 0xA5);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x5AUL, s.Regs.Rcx & 0xFF);
        Assert.Equal(0xA5UL, s.Regs.Rax & 0xFF);
    }
}
