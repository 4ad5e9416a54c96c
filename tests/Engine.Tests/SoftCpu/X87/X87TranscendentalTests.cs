using System.Buffers.Binary;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.X87Fpu;
using VmReplay.Engine.Tests.SoftCpu.Differential;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS and FPTAN against the host x87 within a
/// tolerance: the last bits of these functions are each implementation's own (Intel's and AMD's
/// differ; this processor rounds a 128-bit result once). Results may differ by at most
/// <see cref="ToleranceUlps"/> units in the last place; everything else (TOP, tags, C0, C2, C3,
/// the exception flags, which registers hold what) must be equal. C1, the round-up bit, is only
/// compared where the results are equal.
/// </summary>
public sealed class X87TranscendentalTests : IDisposable
{
    /// <summary>The largest difference allowed, in units in the last place of the 64-bit significand.</summary>
    public const int ToleranceUlps = 1;

    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private static Float80 Random(Float80Values values, int minExponent, int maxExponent, bool negative = true) =>
        new(negative && values.Values.OneIn(2), Float80.Bias + values.Values.Between(minExponent, maxExponent + 1), values.Values.Random64() | Float80.IntegerBit);

    [Fact]
    public void TranscendentalsAgreeWithinTolerance()
    {
        int seed = OperandValues.Seed(9900);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 80; i++)
        {
            int rc = values.Values.Between(0, 4);
            ushort fcw = values.ControlWord(rc, 64);
            cases.Add(X87Cases.Of(a => a.f2xm1(), fcw, Random(values, -70, -1)));
            cases.Add(X87Cases.Of(a => a.fyl2x(), fcw, Random(values, -300, 300, negative: false), Random(values, -20, 20)));
            cases.Add(X87Cases.Of(a => a.fyl2xp1(), fcw, Random(values, -70, -3), Random(values, -20, 20)));
            cases.Add(X87Cases.Of(a => a.fpatan(), fcw, Random(values, -40, 40), Random(values, -40, 40)));
            cases.Add(X87Cases.Of(a => a.fsin(), fcw, Random(values, -30, -1)));
            cases.Add(X87Cases.Of(a => a.fcos(), fcw, Random(values, -30, -1)));
            cases.Add(X87Cases.Of(a => a.fsincos(), fcw, Random(values, -30, -1)));
            cases.Add(X87Cases.Of(a => a.fptan(), fcw, Random(values, -30, -1)));
        }
        // The special operands: zeros, infinities, NaNs, denormals, out of range (C2), empty registers.
        // F2XM1 and FYL2XP1 are undefined beyond |x| = 1 and 1 - √2/2 (the host returns other values than these there).
        var forms = new (Action<Assembler> Emit, bool Bounded, bool Trigonometric)[]
        {
            (a => a.f2xm1(), true, false), (a => a.fyl2x(), false, false), (a => a.fyl2xp1(), true, false), (a => a.fpatan(), false, false),
            (a => a.fsin(), false, true), (a => a.fcos(), false, true), (a => a.fsincos(), false, true), (a => a.fptan(), false, true),
        };
        foreach (var (form, bounded, trigonometric) in forms)
            for (int i = 0; i < 30; i++)
            {
                var special = new[] { Float80.Zero(values.Values.OneIn(2)), Float80.Infinity(values.Values.OneIn(2)), values.Next(), Float80.One, Random(values, 63, 70) };
                var x = values.Values.Pick(special);
                if (bounded && !(x.IsZero || x.IsInfinity || x.IsNaN || x.Exponent < Float80.Bias - 2)) x = Random(values, -80, -3);
                if (trigonometric && x.Exponent >= Float80.Bias - 1 && x.Exponent < Float80.Bias + 63 && !x.IsUnsupported) x = Random(values, -30, -2);
                var y = values.Values.OneIn(2) ? values.Values.Pick(special) : Random(values, -5, 5);
                cases.Add(X87Cases.Of(form, values.ControlWord(0, 64, values.Values.OneIn(4)), top: 3, [x, y], validTags: values.Values.OneIn(6) ? (byte)0xF7 : (byte)0xFF));
            }
        AssertAgreeWithin(cases, seed);
    }

    private void AssertAgreeWithin(List<DifferentialCase> cases, int seed)
    {
        var bad = new List<string>();
        long worst = 0;
        foreach (var r in _runner.Run(cases))
        {
            var c = r.Case;
            var parts = c.Compare;
            c.Comparing(parts & ~StateParts.X87);
            string? other = DifferentialRunner.Difference(c, r.Native, r.Soft);
            c.Comparing(parts);
            if (other is not null)
            {
                bad.Add($"{c.Text}: {other}");
                continue;
            }
            byte[] host = r.Native.Fx!, soft = r.Soft.Fx!;
            var diffs = new List<string>();
                for (int i = 0; i < 8; i++)
            {
                var h = Float80.FromBytes(host.AsSpan(32 + 16 * i, 10));
                var s = Float80.FromBytes(soft.AsSpan(32 + 16 * i, 10));
                if (h == s) continue;
                long distance = UlpDistance(h, s);
                worst = Math.Max(worst, distance);
                if (distance > ToleranceUlps) diffs.Add($"st{i} {h} vs {s} ({(distance == long.MaxValue ? "not close" : distance + " ulp")})");
            }
            ushort hostFsw = BinaryPrimitives.ReadUInt16LittleEndian(host.AsSpan(2)), softFsw = BinaryPrimitives.ReadUInt16LittleEndian(soft.AsSpan(2));
            // C1 says which way the result was rounded from the implementation's own approximation: not comparable.
            if (((hostFsw ^ softFsw) & ~0x200) != 0) diffs.Add($"fsw {hostFsw:x4} vs {softFsw:x4}");
            if (host[4] != soft[4]) diffs.Add($"ftw {host[4]:x2} vs {soft[4]:x2}");
            if (host[0] != soft[0] || host[1] != soft[1]) diffs.Add("fcw");
            if (diffs.Count > 0) bad.Add($"{c.Text}: {string.Join("; ", diffs)}");
        }
        Assert.True(bad.Count == 0, $"{bad.Count} of {cases.Count} cases differ beyond {ToleranceUlps} ulp (seed {seed}; worst {worst} ulp):\n" + string.Join("\n", bad.Take(15)));
    }

    /// <summary>How many representable values apart two finite values of one sign are; long.MaxValue otherwise.</summary>
    private static long UlpDistance(Float80 a, Float80 b)
    {
        if (a.Sign != b.Sign || a.IsNaN || b.IsNaN || a.IsInfinity || b.IsInfinity) return long.MaxValue;
        static UInt128 Key(Float80 v) => v.Exponent == 0 ? v.Significand : ((UInt128)(uint)v.Exponent << 63) + (v.Significand & ~Float80.IntegerBit);
        UInt128 ka = Key(a), kb = Key(b);
        UInt128 d = ka > kb ? ka - kb : kb - ka;
        return d > long.MaxValue ? long.MaxValue : (long)d;
    }
}
