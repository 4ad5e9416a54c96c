using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// MOVS STOS LODS CMPS SCAS in every element size, without and with REP/REPE/REPNE, both
/// directions, 64- and 32-bit address sizes and segment overrides of the source: the registers,
/// flags and memory after the whole repetition, or at the iteration that faulted when it runs
/// off the buffer.
/// </summary>
public sealed class StringDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    public enum Operation { Movs, Stos, Lods, Cmps, Scas }

    private static readonly Register[] IgnoredOverrides = [Register.ES, Register.CS, Register.SS, Register.DS];

    [Theory]
    [InlineData(Operation.Movs)]
    [InlineData(Operation.Stos)]
    [InlineData(Operation.Lods)]
    [InlineData(Operation.Cmps)]
    [InlineData(Operation.Scas)]
    public void StringInstructionsAgreeWithTheHost(Operation operation)
    {
        int seed = OperandValues.Seed(5000 + (int)operation);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        bool hasSource = operation is Operation.Movs or Operation.Lods or Operation.Cmps;
        foreach (int size in new[] { 1, 2, 4, 8 })
        foreach (int addressSize in new[] { 64, 32 })
        foreach (var rep in new[] { RepPrefixKind.None, RepPrefixKind.Repe, RepPrefixKind.Repne })
        {
            for (int i = 0; i < 30; i++)
            {
                var segment = !hasSource || values.OneIn(2) ? Register.None : values.OneIn(2) ? Register.GS : values.Pick(IgnoredOverrides);
                var ins = Create(operation, size, addressSize, segment, rep);
                var c = DifferentialCase.OfBytes(Encode(ins));
                for (int r = 0; r < 16; r++) c.Gpr[r] = values.Next(64);
                c.Gpr[4] = DifferentialLayout.DataAddress + 0x800;
                bool down = values.OneIn(3);
                c.Flags = (values.Flags() & ~0x400UL) | (down ? 0x400UL : 0);
                c.DataSeed = values.Random64();

                ulong count = values.Between(0, 8) switch
                {
                    0 => 0,
                    1 => 1,
                    2 => 2,
                    3 or 4 => (ulong)values.Between(3, 64),
                    5 => (ulong)values.Between(64, 600),
                    6 => (ulong)values.Between(600, 5000), // often runs off the buffer: a #PF mid-way
                    _ => values.Next(addressSize),
                };
                // Room for count elements in the chosen direction, usually.
                int span = (int)Math.Min(count * (ulong)size, DifferentialLayout.DataSize);
                int Start() => values.OneIn(6)
                    ? values.Between(0, DifferentialLayout.DataSize - size + 1)
                    : down ? values.Between(Math.Max(span - size, 0), DifferentialLayout.DataSize - size + 1)
                           : values.Between(0, Math.Max(DifferentialLayout.DataSize - span, 0) + 1);
                int src = Start(), dst = Start();
                ulong High() => addressSize == 32 ? values.Random64() << 32 : 0; // ignored, and cleared
                c.Gpr[1] = High() | count;
                c.Gpr[7] = High() | (DifferentialLayout.DataAddress + (ulong)dst);
                if (segment == Register.GS)
                {
                    ulong gsOffset = (ulong)values.Between(0, 0x10000);
                    c.GsBase = DifferentialLayout.DataAddress + (ulong)src - gsOffset;
                    c.Gpr[6] = High() | gsOffset;
                }
                else c.Gpr[6] = High() | (DifferentialLayout.DataAddress + (ulong)src);

                // Give REPE/REPNE something to stop at: equal elements for a while, then a difference (or a match).
                if (operation is Operation.Cmps or Operation.Scas && count > 0)
                {
                    int run = values.Between(0, (int)Math.Min(count, 80) + 1);
                    var data = c.InitialData();
                    ulong a = c.Gpr[0] & (size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1);
                    for (int k = 0; k < run; k++)
                    {
                        int d = dst + (down ? -k : k) * size, s = src + (down ? -k : k) * size;
                        if (d < 0 || d + size > DifferentialLayout.DataSize || s < 0 || s + size > DifferentialLayout.DataSize) break;
                        bool last = k == run - 1;
                        if (operation == Operation.Scas)
                        {
                            bool same = rep == RepPrefixKind.Repe ? !last : last;
                            c.Poke(d, same ? a : a ^ 1, size);
                        }
                        else if (rep != RepPrefixKind.Repne ? !last : last)
                            c.Poke(d, BitConverter.ToUInt64(Pad(data, s)), size);
                    }
                }
                cases.Add(c);
            }
        }
        _runner.AssertAgree(cases, seed);
    }

    private static byte[] Pad(byte[] data, int at)
    {
        var b = new byte[8];
        Array.Copy(data, at, b, 0, Math.Min(8, data.Length - at));
        return b;
    }

    private static Instruction Create(Operation op, int size, int addressSize, Register segment, RepPrefixKind rep) => (op, size) switch
    {
        (Operation.Movs, 1) => Instruction.CreateMovsb(addressSize, segment, rep),
        (Operation.Movs, 2) => Instruction.CreateMovsw(addressSize, segment, rep),
        (Operation.Movs, 4) => Instruction.CreateMovsd(addressSize, segment, rep),
        (Operation.Movs, _) => Instruction.CreateMovsq(addressSize, segment, rep),
        (Operation.Stos, 1) => Instruction.CreateStosb(addressSize, rep),
        (Operation.Stos, 2) => Instruction.CreateStosw(addressSize, rep),
        (Operation.Stos, 4) => Instruction.CreateStosd(addressSize, rep),
        (Operation.Stos, _) => Instruction.CreateStosq(addressSize, rep),
        (Operation.Lods, 1) => Instruction.CreateLodsb(addressSize, segment, rep),
        (Operation.Lods, 2) => Instruction.CreateLodsw(addressSize, segment, rep),
        (Operation.Lods, 4) => Instruction.CreateLodsd(addressSize, segment, rep),
        (Operation.Lods, _) => Instruction.CreateLodsq(addressSize, segment, rep),
        (Operation.Cmps, 1) => Instruction.CreateCmpsb(addressSize, segment, rep),
        (Operation.Cmps, 2) => Instruction.CreateCmpsw(addressSize, segment, rep),
        (Operation.Cmps, 4) => Instruction.CreateCmpsd(addressSize, segment, rep),
        (Operation.Cmps, _) => Instruction.CreateCmpsq(addressSize, segment, rep),
        (Operation.Scas, 1) => Instruction.CreateScasb(addressSize, rep),
        (Operation.Scas, 2) => Instruction.CreateScasw(addressSize, rep),
        (Operation.Scas, 4) => Instruction.CreateScasd(addressSize, rep),
        (_, _) => Instruction.CreateScasq(addressSize, rep),
    };

    private static byte[] Encode(Instruction ins)
    {
        var stream = new MemoryStream();
        Encoder.Create(64, new StreamCodeWriter(stream)).Encode(ins, DifferentialLayout.CodeAddress);
        return stream.ToArray();
    }
}
