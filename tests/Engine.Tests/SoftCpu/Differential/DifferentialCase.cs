using System.Buffers.Binary;
using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>Which parts of the resulting state a case compares.</summary>
[Flags]
internal enum StateParts
{
    /// <summary>The 16 general registers and RIP.</summary>
    Registers = 1,
    /// <summary>CF, PF, AF, ZF, SF, OF and DF, minus the case's <see cref="DifferentialCase.UndefinedFlags"/>.</summary>
    Flags = 2,
    /// <summary>The data buffer.</summary>
    Memory = 4,
    /// <summary>The exception raised (vector; error code except for #PF; the faulting address for #PF).</summary>
    Exception = 8,
    /// <summary>XMM0-15 (FXSAVE bytes 160-415).</summary>
    Xmm = 16,
    /// <summary>MXCSR (FXSAVE bytes 24-27).</summary>
    Mxcsr = 32,
    /// <summary>FCW, FSW, the abridged tag word and ST0-7 (80 bits each).</summary>
    X87 = 64,
    /// <summary>FOP, FIP and FDP, the x87 last-instruction pointers.</summary>
    X87Pointers = 128,

    Integer = Registers | Flags | Memory | Exception,
    Sse = Integer | Xmm | Mxcsr,
    Fpu = Integer | X87,
}

/// <summary>
/// One instruction and the state it starts from, run by <see cref="DifferentialRunner"/> on the
/// host CPU and on the software CPU. The instruction is assembled at <see cref="DifferentialLayout.CodeAddress"/>;
/// registers, the arithmetic flags and DF, the data buffer at <see cref="DifferentialLayout.DataAddress"/>
/// (<see cref="DataSeed"/>'s pseudo-random bytes, then <see cref="Pokes"/>) and, if set, the FXSAVE
/// image <see cref="Fx"/> are the input. The code must run straight through (a branch away from
/// it would leave the native runner nowhere to return to); several instructions may follow one
/// another (<see cref="Then"/>).
/// </summary>
internal sealed class DifferentialCase
{
    public DifferentialCase(byte[] code, string text)
    {
        Code = code;
        Text = text;
        Iced.Intel.Decoder.Create(64, code, DifferentialLayout.CodeAddress).Decode(out var first);
        Instruction = first;
    }

    /// <summary>The (first) instruction, decoded.</summary>
    public Instruction Instruction { get; }

    /// <summary>The case of the instruction <paramref name="emit"/> assembles (one instruction, at the code address).</summary>
    public static DifferentialCase Of(Action<Assembler> emit)
    {
        var asm = new Assembler(64);
        emit(asm);
        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), DifferentialLayout.CodeAddress);
        return OfBytes(stream.ToArray());
    }

    /// <summary>The case of the machine code <paramref name="code"/> (e.g. an encoding the assembler does not produce).</summary>
    public static DifferentialCase OfBytes(byte[] code)
    {
        var decoder = Iced.Intel.Decoder.Create(64, code, DifferentialLayout.CodeAddress);
        var text = new StringOutput();
        var formatter = new IntelFormatter();
        while (decoder.IP < DifferentialLayout.CodeAddress + (ulong)code.Length)
        {
            decoder.Decode(out var ins);
            if (text.Length > 0) text.Write("; ", FormatterTextKind.Text);
            formatter.Format(ins, text);
        }
        return new DifferentialCase(code, $"{text} ({Convert.ToHexString(code).ToLowerInvariant()})");
    }

    /// <summary>This case with <paramref name="next"/> run after its instruction (e.g. a SETcc that reads the flags it left).</summary>
    public DifferentialCase Then(Instruction next)
    {
        var stream = new MemoryStream();
        stream.Write(Code);
        Encoder.Create(64, new StreamCodeWriter(stream)).Encode(next, DifferentialLayout.CodeAddress + (ulong)Code.Length);
        var c = OfBytes(stream.ToArray());
        Gpr.CopyTo(c.Gpr, 0);
        c.Flags = Flags;
        c.DataSeed = DataSeed;
        c.Pokes.AddRange(Pokes);
        c.Fx = Fx;
        c.GsBase = GsBase;
        c.UndefinedFlags = UndefinedFlags;
        c.Compare = Compare;
        return c;
    }

    /// <summary>The machine code.</summary>
    public byte[] Code { get; }

    /// <summary>The disassembly and bytes, for messages.</summary>
    public string Text { get; }

    /// <summary>General registers in encoding order (RAX RCX RDX RBX RSP RBP RSI RDI R8-R15).</summary>
    public ulong[] Gpr { get; } = new ulong[16];

    /// <summary>RFLAGS: only the arithmetic flags and DF are taken.</summary>
    public ulong Flags { get; set; }

    /// <summary>The data buffer starts as splitmix64 bytes of this seed.</summary>
    public ulong DataSeed { get; set; }

    /// <summary>Bytes written over the buffer after it is filled from the seed.</summary>
    public List<(int Offset, byte[] Bytes)> Pokes { get; } = [];

    /// <summary>An FXSAVE image (512 bytes) to start from; null starts from FNINIT's state, MXCSR 0x1F80 and zero XMM registers.</summary>
    public byte[]? Fx { get; set; }

    /// <summary>GS's base (FS belongs to the runner's C library).</summary>
    public ulong GsBase { get; set; }

    /// <summary>Flags the SDM leaves undefined for this instruction and input: not compared.</summary>
    public ulong UndefinedFlags { get; set; }

    /// <summary>What is compared.</summary>
    public StateParts Compare { get; set; } = StateParts.Integer;

    /// <summary>Sets general register <paramref name="reg"/> (a 64-bit register) to <paramref name="value"/>.</summary>
    public DifferentialCase Set(Register reg, ulong value)
    {
        Gpr[RegisterIndex(reg)] = value;
        return this;
    }

    /// <summary>
    /// Sets the instruction's operand <paramref name="operand"/> (a register, 8-bit high ones
    /// included, or a memory operand, whose address is computed from the registers as set now)
    /// to <paramref name="value"/>, at the operand's size; the register's other bits stay.
    /// </summary>
    public DifferentialCase SetOperand(int operand, ulong value)
    {
        var ins = Instruction;
        if (ins.GetOpKind(operand) == OpKind.Register)
        {
            var reg = ins.GetOpRegister(operand);
            int shift = reg is >= Register.AH and <= Register.BH ? 8 : 0;
            int index = shift == 8 ? reg - Register.AH : RegisterIndex(reg);
            ulong mask = (reg.GetSize() == 8 ? ulong.MaxValue : (1UL << (8 * reg.GetSize())) - 1) << shift;
            Gpr[index] = (Gpr[index] & ~mask) | ((value << shift) & mask);
            return this;
        }
        return Poke(MemoryOffset(), value, ins.MemorySize.GetSize());
    }

    /// <summary>The value of operand <paramref name="operand"/> (a register or memory) before the instruction.</summary>
    public ulong OperandValue(int operand)
    {
        var ins = Instruction;
        if (ins.GetOpKind(operand) == OpKind.Register)
        {
            var reg = ins.GetOpRegister(operand);
            if (reg is >= Register.AH and <= Register.BH) return (byte)(Gpr[reg - Register.AH] >> 8);
            int size = reg.GetSize();
            return size == 8 ? Gpr[RegisterIndex(reg)] : Gpr[RegisterIndex(reg)] & ((1UL << (8 * size)) - 1);
        }
        int at = MemoryOffset();
        var data = InitialData();
        ulong v = 0;
        for (int i = ins.MemorySize.GetSize() - 1; i >= 0; i--) v = (v << 8) | data[at + i];
        return v;
    }

    /// <summary>Where in the data buffer the memory operand points, with the registers as set now.</summary>
    public int MemoryOffset()
    {
        var ins = Instruction;
        ulong address = ins.MemoryDisplacement64;
        if (ins.MemoryBase != Register.None) address += Gpr[RegisterIndex(ins.MemoryBase)];
        if (ins.MemoryIndex != Register.None) address += Gpr[RegisterIndex(ins.MemoryIndex)] * (ulong)ins.MemoryIndexScale;
        return checked((int)(address - DifferentialLayout.DataAddress));
    }

    /// <summary>Points <paramref name="reg"/> at <paramref name="offset"/> in the data buffer.</summary>
    public DifferentialCase PointAt(Register reg, int offset) => Set(reg, DifferentialLayout.DataAddress + (ulong)(long)offset);

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="offset"/> in the data buffer.</summary>
    public DifferentialCase Poke(int offset, ulong value, int size = 8)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Pokes.Add((offset, b[..size]));
        return this;
    }

    /// <summary>Sets the input flags (arithmetic flags and DF).</summary>
    public DifferentialCase WithFlags(ulong flags)
    {
        Flags = flags;
        return this;
    }

    /// <summary>Fills the data buffer from <paramref name="seed"/>.</summary>
    public DifferentialCase WithData(ulong seed)
    {
        DataSeed = seed;
        return this;
    }

    /// <summary>Leaves <paramref name="flags"/> out of the comparison (the SDM says they are undefined here).</summary>
    public DifferentialCase Undefined(ulong flags)
    {
        UndefinedFlags |= flags;
        return this;
    }

    /// <summary>Compares <paramref name="parts"/>.</summary>
    public DifferentialCase Comparing(StateParts parts)
    {
        Compare = parts;
        return this;
    }

    /// <summary>Changes the FXSAVE image the case starts from (the default one if it had none).</summary>
    public DifferentialCase WithFx(Action<byte[]> change)
    {
        Fx ??= DefaultFx();
        change(Fx);
        return this;
    }

    /// <summary>Sets XMM<paramref name="index"/> to <paramref name="high"/>:<paramref name="low"/>.</summary>
    public DifferentialCase SetXmm(int index, ulong low, ulong high) => WithFx(fx =>
    {
        BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(160 + 16 * index), low);
        BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(168 + 16 * index), high);
    });

    /// <summary>Sets MXCSR (reserved bits must stay clear, or loading the image faults).</summary>
    public DifferentialCase SetMxcsr(uint mxcsr) => WithFx(fx => BinaryPrimitives.WriteUInt32LittleEndian(fx.AsSpan(24), mxcsr));

    /// <summary>The buffer's bytes before the instruction.</summary>
    public byte[] InitialData()
    {
        var data = new byte[DifferentialLayout.DataSize];
        FillData(data, DataSeed);
        foreach (var (offset, bytes) in Pokes) bytes.CopyTo(data, offset);
        return data;
    }

    /// <summary>splitmix64 from <paramref name="seed"/>, as native-runner.c's fill().</summary>
    public static void FillData(Span<byte> data, ulong seed)
    {
        for (int i = 0; i < data.Length; i += 8)
        {
            ulong z = seed += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            BinaryPrimitives.WriteUInt64LittleEndian(data[i..], z);
        }
    }

    /// <summary>The FXSAVE image of a case without <see cref="Fx"/>.</summary>
    public static byte[] DefaultFx()
    {
        var fx = new byte[512];
        BinaryPrimitives.WriteUInt16LittleEndian(fx, 0x037F);
        BinaryPrimitives.WriteUInt32LittleEndian(fx.AsSpan(24), 0x1F80);
        return fx;
    }

    /// <summary>The encoding-order number of a general register of any size (AH-BH excluded).</summary>
    public static int RegisterIndex(Register reg) => reg.GetFullRegister() switch
    {
        var r and >= Register.RAX and <= Register.R15 => r - Register.RAX,
        _ => throw new ArgumentException($"{reg} is not a general register"),
    };

    public override string ToString() => Text;

    private sealed class StringOutput : FormatterOutput
    {
        private readonly System.Text.StringBuilder _sb = new();
        public int Length => _sb.Length;
        public override void Write(string text, FormatterTextKind kind) => _sb.Append(text);
        public override string ToString() => _sb.ToString();
    }
}
