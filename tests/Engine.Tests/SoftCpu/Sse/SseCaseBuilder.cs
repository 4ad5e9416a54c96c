using System.Buffers.Binary;
using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>What the lanes of an XMM, MMX or memory operand hold in a generated case.</summary>
public enum Lanes
{
    /// <summary>Integers with edge values (<see cref="OperandValues"/>).</summary>
    Integer,
    /// <summary>Singles (<see cref="FloatValues"/>).</summary>
    Single,
    /// <summary>Doubles.</summary>
    Double,
}

/// <summary>
/// Differential cases of one SSE or MMX instruction form with random operands: the form's
/// operands (from Iced's opcode description) become XMM1, XMM2, XMM3 / MM1, MM2, MM3 / RAX, RCX,
/// or a memory operand in the data buffer (usually 16-byte aligned, now and then not). Every
/// XMM register, the MMX registers, RAX and RCX and the buffer are filled with lanes of the
/// requested kinds; a floating-point source is made the partner of the destination lane by lane
/// (<see cref="FloatValues.Partner"/>). MXCSR is random (rounding, DAZ, FTZ, flags, sometimes
/// unmasked exceptions), and so are TOP and the tags of the x87 unit, with now and then a pending
/// x87 exception (an MMX instruction raises #MF).
/// </summary>
internal sealed class SseCaseBuilder
{
    private readonly FloatValues _floats;
    private readonly OperandValues _integers;
    private readonly Random _random;

    public SseCaseBuilder(int seed)
    {
        _floats = new FloatValues(seed);
        _integers = new OperandValues(seed ^ 0x5EED);
        _random = new Random(seed ^ 0xCA5E);
    }

    /// <summary>The value generators (for tests that build operands themselves).</summary>
    public FloatValues Floats => _floats;

    /// <summary>Whether MXCSR may have exceptions unmasked.</summary>
    public bool Unmasking { get; set; } = true;

    /// <summary>How often (one in n) a memory operand is misaligned.</summary>
    public int MisalignedOneIn { get; set; } = 24;

    private ulong Lane(Lanes lanes, int bits) => lanes switch
    {
        Lanes.Single => _floats.Next(FloatValues.Single),
        Lanes.Double => _floats.Next(FloatValues.Double),
        _ => _integers.Next(bits),
    };

    private ulong Partner(Lanes lanes, ulong a) => lanes switch
    {
        Lanes.Single => _floats.Partner(FloatValues.Single, a),
        Lanes.Double => _floats.Partner(FloatValues.Double, a),
        _ => _integers.Next(64),
    };

    private (ulong Low, ulong High) Vector(Lanes lanes)
    {
        if (lanes == Lanes.Single)
            return (Lane(lanes, 32) | Lane(lanes, 32) << 32, Lane(lanes, 32) | Lane(lanes, 32) << 32);
        return (Lane(lanes, 64), Lane(lanes, 64));
    }

    private (ulong Low, ulong High) PartnerVector(Lanes lanes, (ulong Low, ulong High) a)
    {
        if (lanes == Lanes.Single)
        {
            ulong P(ulong v) => Partner(lanes, v & 0xFFFF_FFFF) & 0xFFFF_FFFF;
            return (P(a.Low) | P(a.Low >> 32) << 32, P(a.High) | P(a.High >> 32) << 32);
        }
        if (lanes == Lanes.Double) return (Partner(lanes, a.Low), Partner(lanes, a.High));
        return Vector(lanes);
    }

    /// <summary>
    /// A case of <paramref name="code"/>: destination lanes <paramref name="destination"/>,
    /// source lanes <paramref name="source"/>; <paramref name="immediate"/> fixes an imm8.
    /// </summary>
    public DifferentialCase Case(Code code, Lanes destination, Lanes source, int? immediate = null)
    {
        var op = code.ToOpCode();
        var kinds = Enumerable.Range(0, op.OpCount).Select(op.GetOpKind).ToArray();
        bool usesMmx = kinds.Any(k => k is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem);
        int memoryOffset = 16 * _random.Next(1, 200);
        if (_random.Next(MisalignedOneIn) == 0) memoryOffset += _random.Next(1, 16);

        // Registers: XMM/MMX 1, 2, 3 in operand order (sometimes the same one twice), RAX then RCX.
        int xmmNext = 1, mmNext = 1, gprNext = 0;
        bool memory = false;
        var operands = new List<object>();
        Register NextXmm() => Register.XMM0 + (xmmNext > 1 && _random.Next(8) == 0 ? xmmNext++ - 1 : xmmNext++);
        Register NextMm() => Register.MM0 + (mmNext > 1 && _random.Next(8) == 0 ? mmNext++ - 1 : mmNext++);
        Register NextGpr(bool wide) => (wide ? Register.RAX : Register.EAX) + gprNext++;
        foreach (var k in kinds)
        {
            bool toMemory = !memory && (k == OpCodeOperandKind.mem || (k is OpCodeOperandKind.xmm_or_mem or OpCodeOperandKind.mm_or_mem
                or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem && _random.Next(2) == 0));
            switch (k)
            {
                case var _ when toMemory:
                    memory = true;
                    operands.Add(new MemoryOperand(Register.RBX, memoryOffset));
                    break;
                case OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm or OpCodeOperandKind.xmm_or_mem: operands.Add(NextXmm()); break;
                case OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem: operands.Add(NextMm()); break;
                case OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_or_mem: operands.Add(NextGpr(false)); break;
                case OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_rm or OpCodeOperandKind.r64_or_mem: operands.Add(NextGpr(true)); break;
                case OpCodeOperandKind.imm8: operands.Add(immediate ?? _random.Next(256)); break;
                case OpCodeOperandKind.seg_rDI: break;
                default: throw new NotSupportedException($"{code}: operand kind {k}");
            }
        }
        var ins = Build(code, operands);
        var c = DifferentialCase.OfBytes(Encode(ins));

        // Values: XMM1 is the destination's lanes, the source (XMM2 or memory) its partners.
        var fx = DifferentialCase.DefaultFx();
        var xmm1 = Vector(destination);
        for (int i = 0; i < 16; i++)
        {
            var v = i == 1 ? xmm1
                : i == 2 ? (source == destination ? PartnerVector(source, xmm1) : Vector(source))
                : Vector(_random.Next(2) == 0 ? source : destination);
            BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(160 + 16 * i), v.Low);
            BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(168 + 16 * i), v.High);
        }
        var memoryValue = source == destination ? PartnerVector(source, xmm1) : Vector(source);
        c.Poke(memoryOffset, memoryValue.Low).Poke(memoryOffset + 8, memoryValue.High);
        c.Poke(memoryOffset + 16, Lane(source, 64));
        BinaryPrimitives.WriteUInt32LittleEndian(fx.AsSpan(24), _floats.Mxcsr(Unmasking));

        // The x87 side: TOP, tags, the MMX registers (physical R1-R3 in stack order), a pending exception.
        int top = _random.Next(4) == 0 ? _random.Next(8) : 0;
        ushort fsw = (ushort)(top << 11);
        if (usesMmx && _random.Next(40) == 0) fsw |= 0x8081; // IE with ES and B: pending, raises #MF
        BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(2), fsw);
        fx[4] = (byte)(_random.Next(3) == 0 ? _random.Next(256) : 0);
        for (int physical = 0; physical < 8; physical++)
        {
            int st = (physical - top) & 7;
            var v = Vector(source == Lanes.Integer || destination == Lanes.Integer ? Lanes.Integer : source);
            BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(32 + 16 * st), v.Low);
            BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(40 + 16 * st), _random.Next(2) == 0 ? (ushort)0xFFFF : (ushort)v.High);
        }
        c.WithFx(image => fx.CopyTo(image));

        c.PointAt(Register.RBX, 0);
        c.Set(Register.RAX, _integers.Next(64)).Set(Register.RCX, _integers.Next(64));
        c.PointAt(Register.RDI, memoryOffset);
        return c.Comparing(StateParts.Sse | (usesMmx ? StateParts.X87 : 0));
    }

    private static Instruction Build(Code code, List<object> operands)
    {
        if (code == Code.Maskmovdqu_rDI_xmm_xmm) return Instruction.CreateMaskmovdqu(64, (Register)operands[0], (Register)operands[1]);
        if (code == Code.Maskmovq_rDI_mm_mm) return Instruction.CreateMaskmovq(64, (Register)operands[0], (Register)operands[1]);
        return operands.Count switch
        {
            0 => Instruction.Create(code),
            1 => Create(code, operands[0]),
            2 => Create(code, operands[0], operands[1]),
            _ => Create(code, operands[0], operands[1], operands[2]),
        };
    }

    private static Instruction Create(Code code, object a) => a switch
    {
        Register r => Instruction.Create(code, r),
        MemoryOperand m => Instruction.Create(code, m),
        _ => Instruction.Create(code, (int)a),
    };

    private static Instruction Create(Code code, object a, object b) => (a, b) switch
    {
        (Register r, Register s) => Instruction.Create(code, r, s),
        (Register r, MemoryOperand m) => Instruction.Create(code, r, m),
        (MemoryOperand m, Register r) => Instruction.Create(code, m, r),
        (Register r, int i) => Instruction.Create(code, r, i),
        _ => throw new NotSupportedException($"{code} {a} {b}"),
    };

    private static Instruction Create(Code code, object a, object b, object c) => (a, b, c) switch
    {
        (Register r, Register s, int i) => Instruction.Create(code, r, s, i),
        (Register r, MemoryOperand m, int i) => Instruction.Create(code, r, m, i),
        _ => throw new NotSupportedException($"{code} {a} {b} {c}"),
    };

    private static byte[] Encode(Instruction ins)
    {
        var stream = new MemoryStream();
        var encoder = Iced.Intel.Encoder.Create(64, new StreamCodeWriter(stream));
        encoder.Encode(ins, DifferentialLayout.CodeAddress);
        return stream.ToArray();
    }
}
