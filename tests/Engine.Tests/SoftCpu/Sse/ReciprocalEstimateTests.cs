using Iced.Intel;
using VmReplay.Engine.SoftCpu.SseFloat;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// RCPPS/RCPSS/RSQRTPS/RSQRTSS: approximations whose low bits differ between processors. Checked
/// against the SDM's bound (relative error at most 1.5 · 2^-12 of the exact value) over whole
/// binades, and against the host: special operands and results (zeros, infinities, NaNs,
/// denormal operands, results too small for a normal) exactly, normal results within a
/// relative 3 · 2^-12 of the host's (both within the bound), MXCSR untouched.
/// </summary>
public sealed class ReciprocalEstimateTests : IDisposable
{
    private const double Bound = 1.5 / 4096, HostTolerance = 3.0 / 4096;
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Fact]
    public void ReciprocalIsWithinTheBoundOverABinade()
    {
        double worst = 0;
        for (uint m = 0; m < 1u << 23; m += 7)
        {
            float x = BitConverter.UInt32BitsToSingle(0x3F80_0000 | m);
            float r = BitConverter.UInt32BitsToSingle(ReciprocalEstimate.Reciprocal(0x3F80_0000 | m));
            worst = Math.Max(worst, Math.Abs((double)r * x - 1));
        }
        Assert.True(worst <= Bound, $"relative error {worst * 4096} · 2^-12");
    }

    [Fact]
    public void ReciprocalSquareRootIsWithinTheBoundOverTwoBinades()
    {
        double worst = 0;
        for (uint m = 0; m < 1u << 24; m += 7)
        {
            float x = BitConverter.UInt32BitsToSingle(0x3F80_0000 + m);
            float r = BitConverter.UInt32BitsToSingle(ReciprocalEstimate.ReciprocalSquareRoot(0x3F80_0000 + m));
            worst = Math.Max(worst, Math.Abs(r * Math.Sqrt(x) - 1));
        }
        Assert.True(worst <= Bound, $"relative error {worst * 4096} · 2^-12");
    }

    [Theory]
    [InlineData(Mnemonic.Rcpps)]
    [InlineData(Mnemonic.Rcpss)]
    [InlineData(Mnemonic.Rsqrtps)]
    [InlineData(Mnemonic.Rsqrtss)]
    public void AgreesWithTheHostWithinTolerance(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7500 + (int)mnemonic);
        var builder = new SseCaseBuilder(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in SseCodes.Of(mnemonic))
            for (int i = 0; i < 1000; i++)
                cases.Add(builder.Case(code, Lanes.Single, Lanes.Single));
        var failures = new List<string>();
        foreach (var r in _runner.Run(cases))
        {
            // Everything but the XMM registers exactly; those lane by lane with the tolerance.
            var exact = DifferentialRunner.Difference(r.Case.Comparing(StateParts.Integer | StateParts.Mxcsr), r.Native, r.Soft);
            if (exact is not null)
            {
                failures.Add($"{r.Case}: {exact}");
                continue;
            }
            if (r.Native.Exception is not null) continue;
            for (int lane = 0; lane < 64; lane++)
            {
                uint host = BitConverter.ToUInt32(r.Native.Fx!, 160 + 4 * lane), soft = BitConverter.ToUInt32(r.Soft.Fx!, 160 + 4 * lane);
                if (host != soft && !Close(host, soft)) failures.Add($"{r.Case}: xmm{lane / 4}[{lane % 4}] host {host:x8} soft {soft:x8}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} differences (seed {seed}):\n" + string.Join("\n", failures.Take(12)));
    }

    // Two normal results of the same sign within the tolerance.
    private static bool Close(uint host, uint soft)
    {
        bool Normal(uint v) => (v & 0x7F80_0000) is not 0 and not 0x7F80_0000;
        if (!Normal(host) || !Normal(soft)) return false;
        double h = BitConverter.UInt32BitsToSingle(host), s = BitConverter.UInt32BitsToSingle(soft);
        return Math.Abs(s - h) <= HostTolerance * Math.Abs(h);
    }
}
