using System.Diagnostics;
using System.Text;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Cli.Commands;

/// <summary>
/// One run of a bench guest on the software CPU in this process, built as <c>vmreplay run --cpu
/// soft</c> builds it (<see cref="PcMachine.Create(PcMachineOptions, ReadOnlySpan{byte}, string)"/>
/// with the soft backend). The time is the wall time of <see cref="PcMachine.Run"/> alone, from the
/// guest's first instruction to its debug exit: building the machine and loading the image are
/// left out, and so is everything a process start costs.
/// </summary>
internal static class SoftCpuGuestRun
{
    public readonly record struct Result(long Instructions, double Seconds, string Line)
    {
        public double Mips => Instructions / Seconds / 1e6;
    }

    public static Result Run(CpuBenchGuest guest, byte[] image, uint units)
    {
        using var serial = new MemoryStream();
        var options = new PcMachineOptions
        {
            Cpu = CpuBackendChoice.Soft, Cmdline = CpuBenchGuest.Cmdline(units), SerialOutput = serial, SerialInputFile = "/dev/null",
        };
        using var pc = PcMachine.Create(options, image, guest.Image);
        var cpu = ((SoftMachine)pc.Backend).SoftVcpus[0].Cpu;
        long before = cpu.InstructionCount;
        var sw = Stopwatch.StartNew();
        var outcome = pc.Run();
        sw.Stop();
        string output = Encoding.ASCII.GetString(serial.ToArray());
        if (outcome.ExitStatus != 1) throw new UserError($"{guest.Name} n={units} on the software CPU ended unexpectedly: {outcome.Message} (output: {output.Trim()})");
        return new Result(cpu.InstructionCount - before, sw.Elapsed.TotalSeconds, CpuBenchGuest.LineOf(output));
    }
}
