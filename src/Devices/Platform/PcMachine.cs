using System.Runtime.ExceptionServices;
using VmReplay.Engine.Boot;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;

namespace VmReplay.Devices.Platform;

/// <summary>
/// A complete machine: KVM VM, PC platform, loaded guest, engine clock, host input and the
/// vCPU run loop on its own thread.
/// </summary>
public sealed class PcMachine : IDisposable
{
    private readonly KvmSystem _kvm;
    private readonly StreamSerialInput _input;
    private readonly Stream _output;
    private readonly VcpuKicker _kicker = new();
    private readonly HostMonotonicClock _clock;
    private VcpuRunner? _runner;

    private PcMachine(KvmSystem kvm, VirtualMachine vm, PcPlatform platform, HostMonotonicClock clock, StreamSerialInput input, Stream output, LoadedImage image)
    {
        _kvm = kvm;
        _clock = clock;
        Vm = vm;
        Platform = platform;
        _input = input;
        _output = output;
        Image = image;
    }

    public VirtualMachine Vm { get; }
    public PcPlatform Platform { get; }
    public LoadedImage Image { get; }

    /// <summary>Called after every exit of vCPU 0, on its thread, with the vCPU stopped.</summary>
    public Action<Vcpu, Engine.Kvm.KvmRun>? ExitObserver { get; set; }

    /// <summary>Exits handled by the last <see cref="Run"/>.</summary>
    public long ExitCount => _runner?.ExitCount ?? 0;

    /// <summary>Builds the machine and loads <paramref name="image"/>. Errors are one-line exceptions (see the CLI).</summary>
    public static PcMachine Create(PcMachineOptions options, ReadOnlySpan<byte> image, string source)
    {
        // Detect the format first: an unknown file is reported even on a host without KVM.
        GuestImageDetector.Detect(image, source);
        var kvm = KvmSystem.Open(options.KvmPath);
        VirtualMachine? vm = null;
        StreamSerialInput? input = null;
        try
        {
            vm = VirtualMachine.Create(kvm, new VirtualMachineOptions { MemorySize = options.MemorySize, VcpuCount = options.VcpuCount });
            input = options.SerialInputFile is null
                ? StreamSerialInput.FromLiveStream(Console.OpenStandardInput())
                : StreamSerialInput.FromFile(options.SerialInputFile);
            var output = options.SerialOutput ?? Console.OpenStandardOutput();
            var clock = new HostMonotonicClock();
            var platform = new PcPlatform(clock, input, b => output.WriteByte(b), options.MemorySize, options.TraceIo);
            var loaded = GuestLoader.Load(vm, image, source, options.Cmdline);
            return new PcMachine(kvm, vm, platform, clock, input, output, loaded);
        }
        catch
        {
            input?.Dispose();
            vm?.Dispose();
            kvm.Dispose();
            throw;
        }
    }

    /// <summary>Runs vCPU 0 until the machine stops and returns how it ended.</summary>
    public RunOutcome Run()
    {
        using var events = new LiveHostEvents(_clock, _kicker, () => _input.MayHaveMore);
        _input.Arrived += events.NotifyInput;
        _runner = new VcpuRunner(Vm, Vm.Vcpus[0], Platform, _clock, events, _kicker) { ExitObserver = ExitObserver };
        RunOutcome? outcome = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { outcome = _runner.Run(); }
            catch (Exception e) { failure = e; }
        }, 16 << 20) { Name = "vmreplay vCPU 0", IsBackground = true };
        _input.Start();
        thread.Start();
        thread.Join();
        _input.Arrived -= events.NotifyInput;
        _output.Flush();
        if (failure is not null) ExceptionDispatchInfo.Capture(failure).Throw();
        return outcome!;
    }

    public void Dispose()
    {
        _input.Dispose();
        Vm.Dispose();
        _kvm.Dispose();
    }
}
