using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// The host CPU as a reference: native-runner.c (next to this file), compiled with gcc into a
/// temporary directory on first use, runs each case's instruction natively in 64-bit user mode.
/// Cases go to it as text lines on stdin and come back as lines on stdout (the format is at
/// the top of native-runner.c); one process serves any number of batches.
/// </summary>
internal sealed class HostCpu : IDisposable
{
    private static readonly Lazy<string> Executable = new(() => Compile());
    private readonly Process _process;

    public HostCpu()
    {
        var psi = new ProcessStartInfo(Executable.Value)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the native runner");
        _process.StandardInput.AutoFlush = false;
    }

    /// <summary>Runs <paramref name="cases"/> natively, in order.</summary>
    public InstructionOutcome[] Run(IReadOnlyList<DifferentialCase> cases)
    {
        // Written from another thread: the runner answers while it reads, and both pipes are finite.
        var writer = Task.Run(() =>
        {
            var input = _process.StandardInput;
            var line = new StringBuilder();
            foreach (var c in cases)
            {
                line.Clear();
                Format(c, line);
                input.Write(line.Append('\n'));
            }
            input.Flush();
        });
        var results = new InstructionOutcome[cases.Count];
        for (int i = 0; i < cases.Count; i++)
        {
            string? line = _process.StandardOutput.ReadLine();
            if (line is null)
            {
                writer.Wait();
                throw new InvalidOperationException($"the native runner stopped: {_process.StandardError.ReadToEnd()}");
            }
            results[i] = Parse(line, cases[i]);
        }
        writer.Wait();
        return results;
    }

    private static void Format(DifferentialCase c, StringBuilder line)
    {
        line.Append("code=").Append(Convert.ToHexString(c.Code));
        for (int i = 0; i < 16; i++) line.Append(' ').Append(InstructionOutcome.RegisterName(i)).Append('=').Append(c.Gpr[i].ToString("x"));
        line.Append(" flags=").Append(c.Flags.ToString("x"));
        line.Append(" mem=").Append(c.DataSeed.ToString("x"));
        foreach (var (offset, bytes) in c.Pokes) line.Append(" poke=").Append(offset.ToString("x")).Append(':').Append(Convert.ToHexString(bytes));
        if (c.GsBase != 0) line.Append(" gsbase=").Append(c.GsBase.ToString("x"));
        if (c.Fx is { } fx) line.Append(" fx=").Append(Convert.ToHexString(fx));
    }

    private static InstructionOutcome Parse(string line, DifferentialCase c)
    {
        var o = new InstructionOutcome { Data = c.InitialData() };
        if (line.StartsWith("error", StringComparison.Ordinal))
        {
            o.Failure = "the native runner rejected the case: " + line;
            return o;
        }
        foreach (var token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = token.IndexOf('=');
            string key = token[..eq], value = token[(eq + 1)..];
            switch (key)
            {
                case "flags": o.Flags = Hex(value); break;
                case "rip": o.Rip = Hex(value); break;
                case "exception": o.Exception = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "error": o.ErrorCode = Hex(value); break;
                case "address": o.FaultAddress = Hex(value); break;
                case "fx": o.Fx = Convert.FromHexString(value); break;
                case "mem":
                    foreach (var run in value.Split(','))
                    {
                        int colon = run.IndexOf(':');
                        Convert.FromHexString(run[(colon + 1)..]).CopyTo(o.Data, (int)Hex(run[..colon]));
                    }
                    break;
                default:
                    int reg = Array.IndexOf(RegisterNames, key);
                    if (reg < 0) throw new InvalidOperationException($"the native runner printed '{key}'");
                    o.Gpr[reg] = Hex(value);
                    break;
            }
        }
        // The runner reports a fault as the kernel's trap number; a fault outside the instruction
        // (loading a bad FX image) is the case's fault, not the instruction's.
        if (o.Exception is not null && o.Rip - DifferentialLayout.CodeAddress > (ulong)c.Code.Length)
            o.Failure = $"the runner faulted outside the instruction (exception {o.Exception} at {o.Rip:x})";
        return o;
    }

    private static readonly string[] RegisterNames = Enumerable.Range(0, 16).Select(InstructionOutcome.RegisterName).ToArray();

    private static ulong Hex(string s) => ulong.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static string Compile([CallerFilePath] string thisFile = "")
    {
        string source = Path.Combine(Path.GetDirectoryName(thisFile)!, "native-runner.c");
        if (!File.Exists(source)) throw new FileNotFoundException("the differential tests need native-runner.c from the source tree", source);
        string dir = Directory.CreateTempSubdirectory("vmreplay-native-runner-").FullName;
        string exe = Path.Combine(dir, "native-runner");
        var psi = new ProcessStartInfo("gcc", ["-O2", "-Wall", "-Werror", "-o", exe, source]) { RedirectStandardError = true };
        using var gcc = Process.Start(psi) ?? throw new InvalidOperationException("cannot start gcc");
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0) throw new InvalidOperationException($"gcc failed on {source}: {errors}");
        // The directory goes when the test process ends; the runner processes still use it until then.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        };
        return exe;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(2000)) _process.Kill();
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
