namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// Reproducible operand values for differential tests: a seeded generator that mixes edge values
/// (0, 1, -1, the signed minimum and maximum, lone sign bits, values around them) with random
/// ones of varied density. The seed is fixed unless <see cref="SeedVariable"/> names another, and
/// <see cref="DifferentialRunner.AssertAgree"/> prints it on failure.
/// </summary>
internal sealed class OperandValues
{
    /// <summary>An environment variable that replaces every test's fixed seed (to explore other values).</summary>
    public const string SeedVariable = "SOFTCPU_DIFF_SEED";

    private readonly Random _random;

    public OperandValues(int seed) => _random = new Random(seed);

    /// <summary>The seed a test uses: <paramref name="fixedSeed"/>, or the environment's.</summary>
    public static int Seed(int fixedSeed) =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out int s) ? s ^ fixedSeed : fixedSeed;

    /// <summary>A value of <paramref name="bits"/> bits (zero above them): an edge value one time in three.</summary>
    public ulong Next(int bits)
    {
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong sign = 1UL << (bits - 1);
        ulong v = _random.Next(6) switch
        {
            0 or 1 => _random.Next(12) switch
            {
                0 => 0,
                1 => 1,
                2 => mask,              // -1
                3 => sign,              // signed minimum
                4 => sign - 1,          // signed maximum
                5 => sign + 1,
                6 => 2,
                7 => mask - 1,
                8 => 1UL << _random.Next(bits),
                9 => ~(1UL << _random.Next(bits)),
                10 => 0x7F + (ulong)_random.Next(3),   // around byte and nibble carries
                _ => 0x0F + (ulong)_random.Next(3),
            },
            2 => Random64() & Random64(),  // sparse
            3 => Random64() | Random64(),  // dense
            4 => (ulong)_random.Next(256), // small
            _ => Random64(),
        };
        return v & mask;
    }

    /// <summary>A shift or rotate count: 0, 1, width-1, width, width+1, 31, 32, 63, 64 and above, or random.</summary>
    public byte Count(int bits) => _random.Next(4) switch
    {
        0 => (byte)new[] { 0, 1, bits - 1, bits, bits + 1, 31, 32, 33, 63, 64, 65, 255, 2 * bits - 1 }[_random.Next(13)],
        1 => (byte)_random.Next(bits),
        2 => (byte)_random.Next(64),
        _ => (byte)_random.Next(256),
    };

    /// <summary>Random arithmetic flags and DF (mostly clear DF: string instructions run both ways).</summary>
    public ulong Flags() => (Random64() & 0x8D5) | (_random.Next(4) == 0 ? 0x400UL : 0);

    /// <summary>A random 64-bit value.</summary>
    public ulong Random64() => (ulong)_random.NextInt64() ^ ((ulong)_random.Next(2) << 63);

    /// <summary>A random integer in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public int Between(int min, int max) => _random.Next(min, max);

    /// <summary>True with probability 1/<paramref name="n"/>.</summary>
    public bool OneIn(int n) => _random.Next(n) == 0;

    /// <summary>One of <paramref name="items"/>.</summary>
    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];
}
