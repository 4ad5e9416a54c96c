using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>
/// <c>vmreplay bench cpu</c> runs its guests on the software CPU and prints its figures. No
/// timing is asserted; QEMU is left out (it may need installing) and the runs are kept short.
/// </summary>
public class BenchCpuTests
{
    [Fact]
    public void OneRoundPrintsSoftCpuMipsForBothGuestsAndTheStartupTime()
    {
        var r = Vmreplay.Run(["bench", "cpu", "--rounds", "1", "--no-qemu", "--seconds", "0.2"], timeoutSeconds: 300);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("cpu-loop: tight integer loop (add; dec; jnz); 3 instructions per iteration", r.Stdout);
        Assert.Contains("cpu-mix: instruction mix", r.Stdout);
        Assert.Contains("QEMU rows left out (--no-qemu)", r.Stdout);
        Assert.Matches(new Regex(@"soft_loop_mips=[0-9.]+ soft_mix_mips=[0-9.]+ startup_ms=[0-9]+"), r.Stdout);
        Assert.DoesNotContain("tcg_loop_mips", r.Stdout);
    }
}
