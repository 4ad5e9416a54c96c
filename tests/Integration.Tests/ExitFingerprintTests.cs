using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Recorder.Events;

namespace VmReplay.Integration.Tests;

/// <summary>
/// A replay checks each exit with <see cref="ExitFingerprint.Matches"/> instead of building its
/// fingerprint: it must agree with <see cref="ExitEvent.Matches"/> on the captured one for every
/// exit real guests make, and see a change in any field.
/// </summary>
public sealed class ExitFingerprintTests
{
    [Theory]
    [InlineData("hello64", "hello64.elf")]
    [InlineData("timer", "timer.elf")]
    [InlineData("echo", "echo.elf")]
    public void MatchesAgreesWithTheCapturedFingerprint(string name, string file)
    {
        var options = new PcMachineOptions { Cpu = CpuBackendChoice.Soft, SerialInputFile = "/dev/null", SerialOutput = Stream.Null, MaxInstructions = 5_000_000 };
        using var pc = PcMachine.Create(options, File.ReadAllBytes(Vmreplay.Guest(name, file)), file);
        int checkedExits = 0;
        var failures = new List<string>();
        pc.ExitObserver = (vcpu, exit) =>
        {
            var captured = ExitFingerprint.Capture(vcpu, exit);
            if (!ExitFingerprint.Matches(captured, vcpu, exit)) failures.Add($"{captured.Describe()}: not matched");
            ExitEvent[] changed =
            [
                captured with { Reason = captured.Reason + 1 },
                captured with { Rip = captured.Rip + 1 },
                captured with { Address = captured.Address ^ 1 },
                captured with { Size = (byte)(captured.Size + 1) },
                captured with { Flags = (byte)(captured.Flags ^ ExitEvent.FlagWrite) },
                captured with { Count = captured.Count + 1 },
                captured with { Instructions = captured.Instructions + 1 },
                captured with { Data = [.. captured.Data, 0] },
                captured with { Data = captured.Data.Length == 0 ? [1] : [(byte)(captured.Data[0] ^ 0x80), .. captured.Data[1..]] },
            ];
            foreach (var c in changed)
                if (ExitFingerprint.Matches(c, vcpu, exit) != c.Matches(captured))
                    failures.Add($"{captured.Describe()} against {c}: Matches says {ExitFingerprint.Matches(c, vcpu, exit)}, the captured fingerprint {c.Matches(captured)}");
            checkedExits++;
        };
        pc.Run();
        Assert.Empty(failures.Take(5));
        Assert.True(checkedExits > 10, $"{name} made only {checkedExits} exits");
    }
}
