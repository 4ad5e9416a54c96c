using System.CommandLine;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;

namespace VmReplay.Cli.Commands;

/// <summary>The options every command that builds a machine shares (run, and later record).</summary>
internal sealed class MachineOptions
{
    public Argument<string> Guest { get; } = new("guest") { Description = "guest image: Multiboot ELF32, ELF64, Linux bzImage or PVH vmlinux, or a boot sector (detected by content)" };
    public Option<string> Memory { get; } = new("--mem") { Description = "guest RAM, e.g. 64M or 1G", DefaultValueFactory = _ => "64M" };
    public Option<string> Cmdline { get; } = new("--cmdline") { Description = "command line passed to the guest", DefaultValueFactory = _ => "" };
    public Option<string?> Initrd { get; } = new("--initrd") { Description = "initial ramdisk for a Linux kernel (bzImage or PVH vmlinux); record embeds it in the trace (zstd), so replay needs no copy" };
    public Option<string?> SerialIn { get; } = new("--serial-in") { Description = "file whose bytes the guest reads from COM1 (default: stdin)" };
    public Option<string?> SerialOut { get; } = new("--serial-out") { Description = "file to write COM1 output to (default: stdout)" };
    public Option<int> Vcpus { get; } = new("--vcpus") { Description = "number of vCPUs (vCPU 0 boots; the others wait for INIT/SIPI)", DefaultValueFactory = _ => 1 };
    public Option<string> Kvm { get; } = new("--kvm") { Description = "KVM device to use", DefaultValueFactory = _ => MachineBackends.DefaultKvmDevice };
    public Option<string> Cpu { get; } = CpuOption();
    public Option<long?> MaxInstructions { get; } = new("--max-instructions") { Description = "software CPU: stop the guest after this many instructions, with a report (a runaway guest)" };
    public Option<string?> Clock { get; } = new("--clock")
    {
        Description = "where guest time comes from: virtual (the instruction count, 10 ns per instruction: the same in every run; software CPU only; its default) or host (the host's monotonic clock; KVM's only choice)",
    };

    /// <summary>
    /// The clock for a machine on <paramref name="kind"/>: --clock if given, else virtual on the
    /// software CPU and host time on KVM. A virtual clock on KVM is a one-line error.
    /// </summary>
    internal Engine.Determinism.ClockMode ResolveClock(ParseResult r, CpuBackendKind kind, Engine.Determinism.ClockMode softDefault = Engine.Determinism.ClockMode.Virtual)
    {
        string? text = r.GetValue(Clock);
        var mode = text?.Trim().ToLowerInvariant() switch
        {
            null => kind == CpuBackendKind.Soft ? softDefault : Engine.Determinism.ClockMode.Host,
            "virtual" => Engine.Determinism.ClockMode.Virtual,
            "host" => Engine.Determinism.ClockMode.Host,
            _ => throw new UserError($"--clock {text}: use virtual or host"),
        };
        if (mode == Engine.Determinism.ClockMode.Virtual && kind == CpuBackendKind.Kvm)
            throw new UserError("--clock virtual needs the software CPU (KVM does not count instructions): use --cpu soft, or --clock host");
        return mode;
    }

    /// <summary>--cpu, shared with replay.</summary>
    internal static Option<string> CpuOption() => new("--cpu")
    {
        Description = "CPU backend: kvm (fast, needs a usable /dev/kvm), soft (the software x86 CPU: runs anywhere, counts instructions exactly) or auto (kvm where usable, else soft); default $VMREPLAY_CPU, else auto",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(CpuVariable) is { Length: > 0 } v ? v : "auto",
    };

    /// <summary>The environment variable that sets the default of --cpu.</summary>
    internal const string CpuVariable = "VMREPLAY_CPU";

    /// <summary>Parses --cpu; a wrong value is a one-line user error.</summary>
    internal static CpuBackendChoice ParseCpu(string text) =>
        CpuBackendNames.TryParse(text, out var choice) ? choice
        : throw new UserError($"--cpu {text}: use kvm, soft or auto{(Environment.GetEnvironmentVariable(CpuVariable) == text ? $" (the value comes from ${CpuVariable})" : "")}");

    public void AddTo(Command command)
    {
        command.Arguments.Add(Guest);
        command.Options.Add(Memory);
        command.Options.Add(Cmdline);
        command.Options.Add(Initrd);
        command.Options.Add(SerialIn);
        command.Options.Add(SerialOut);
        command.Options.Add(Vcpus);
        command.Options.Add(Kvm);
        command.Options.Add(Cpu);
        command.Options.Add(MaxInstructions);
        command.Options.Add(Clock);
    }

    /// <summary>Where COM1's output goes: the --serial-out file, else stdout (batched: <see cref="SerialConsoleOutput"/>).</summary>
    public Stream OpenSerialOutput(ParseResult r)
    {
        if (r.GetValue(SerialOut) is not { } path) return new SerialConsoleOutput();
        try { return File.Create(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"--serial-out {path}: cannot create: {e.Message}");
        }
    }

    /// <summary>Reads the guest image and validates the options; throws <see cref="UserError"/> with one line.</summary>
    public (PcMachineOptions Options, byte[] Image, string Source) Resolve(ParseResult r)
    {
        string guest = r.GetValue(Guest)!;
        string memText = r.GetValue(Memory)!;
        if (!ByteSize.TryParse(memText, out ulong mem)) throw new UserError($"--mem {memText}: not a size (use e.g. 64M or 1G)");
        if (mem < (2UL << 20) || mem % 4096 != 0) throw new UserError($"--mem {memText}: guest memory must be at least 2M and a multiple of 4K");
        int vcpus = r.GetValue(Vcpus);
        if (vcpus < 1) throw new UserError($"--vcpus {vcpus}: at least one vCPU is needed");
        byte[] image = ReadFile(guest, "guest image");
        byte[]? initrd = null;
        if (r.GetValue(Initrd) is { } initrdPath)
        {
            initrd = ReadFile(initrdPath, "initrd");
            if (initrd.Length == 0) throw new UserError($"{initrdPath}: the initrd is empty");
        }
        string? serialIn = r.GetValue(SerialIn);
        if (serialIn is not null && !File.Exists(serialIn)) throw new UserError($"--serial-in {serialIn}: no such file");
        var options = new PcMachineOptions
        {
            MemorySize = mem,
            VcpuCount = vcpus,
            Cmdline = r.GetValue(Cmdline) ?? "",
            Initrd = initrd,
            KvmPath = r.GetValue(Kvm)!,
            Cpu = ParseCpu(r.GetValue(Cpu)!),
            MaxInstructions = r.GetValue(MaxInstructions) is { } max ? (max > 0 ? max : throw new UserError($"--max-instructions {max}: give a positive count")) : null,
            SerialInputFile = serialIn,
        };
        return (options, image, guest);
    }

    internal static byte[] ReadFile(string path, string what)
    {
        try
        {
            if (Directory.Exists(path)) throw new UserError($"{path}: is a directory, not a {what}");
            return VmReplay.Engine.Memory.FileContents.Read(path);
        }
        catch (FileNotFoundException) { throw new UserError($"{path}: no such {what}"); }
        catch (DirectoryNotFoundException) { throw new UserError($"{path}: no such {what}"); }
        catch (UnauthorizedAccessException) { throw new UserError($"{path}: permission denied reading the {what}"); }
        catch (IOException e) { throw new UserError($"{path}: cannot read the {what}: {e.Message}"); }
    }
}
