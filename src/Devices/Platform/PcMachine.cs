using System.Runtime.ExceptionServices;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Boot;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Devices.Platform;

/// <summary>
/// A complete machine: a CPU backend (KVM or the software CPU), the PC platform and the loaded
/// guest, driven by a set of <see cref="IMachineSources"/>, with the vCPU run loop on its own thread.
/// </summary>
public sealed class PcMachine : IDisposable
{
    private readonly IMachineSources _sources;
    private readonly Stream _output;
    private VcpuRunner? _runner;

    private PcMachine(IMachineBackend backend, PcPlatform platform, IMachineSources sources, Stream output, string? backendNote)
    {
        Backend = backend;
        Platform = platform;
        _sources = sources;
        _output = output;
        BackendNote = backendNote;
    }

    /// <summary>What executes the guest.</summary>
    public IMachineBackend Backend { get; }

    /// <summary>Why auto chose the software CPU (e.g. "/dev/kvm does not exist: ..."), or null.</summary>
    public string? BackendNote { get; }

    public GuestMemory Memory => Backend.Memory;

    /// <summary>The boot vCPU (the only one that runs).</summary>
    public IVcpuBackend Vcpu => Backend.Vcpus[0];

    public PcPlatform Platform { get; }

    /// <summary>Called after every exit of vCPU 0, on its thread, with the vCPU stopped.</summary>
    public Action<IVcpuBackend, VcpuExit>? ExitObserver
    {
        get => _exitObserver;
        set
        {
            _exitObserver = value;
            if (_runner is not null)
            {
                _runner.ExitObserver = ObserveExits();
                _runner.PredictedExits = PredictedExits();
            }
        }
    }
    private Action<IVcpuBackend, VcpuExit>? _exitObserver;

    // The sources see every exit, then the ExitObserver if one is set: without one, the run loop
    // calls the sources directly, not through a closure that calls both (one call less per exit).
    private Action<IVcpuBackend, VcpuExit> ObserveExits() =>
        _exitObserver is { } observer ? (v, exit) => { _sources.OnExit(v, exit); observer(v, exit); } : _sources.OnExit;

    // The sources' predicted repetitions are taken without calling them only where nothing else
    // observes every exit.
    private PredictedPortExits? PredictedExits() => _exitObserver is null ? _sources.PredictedExits : null;

    /// <summary>Exits handled by the last <see cref="Run"/>.</summary>
    public long ExitCount => _runner?.ExitCount ?? 0;

    /// <summary>Builds a live machine (host clock, stdin or <see cref="PcMachineOptions.SerialInputFile"/>).</summary>
    public static PcMachine Create(PcMachineOptions options, ReadOnlySpan<byte> image, string source) =>
        Create(options, image, source, new LiveSources(options.SerialInputFile, clock: options.Clock));

    /// <summary>Builds the machine and loads <paramref name="image"/>; takes ownership of <paramref name="sources"/>.</summary>
    public static PcMachine Create(PcMachineOptions options, ReadOnlySpan<byte> image, string source, IMachineSources sources) =>
        Create(options, image, source, sources, load: true);

    /// <summary>
    /// Builds the machine with zeroed RAM and vCPUs at reset, loading nothing: for a replay that
    /// restores the recorded start state at once, where decoding, checking and loading the
    /// image (0.1 s for the Linux vmlinux) would be undone. Takes ownership of <paramref name="sources"/>.
    /// </summary>
    public static PcMachine CreateUnloaded(PcMachineOptions options, IMachineSources sources) =>
        Create(options, default, "", sources, load: false);

    private static PcMachine Create(PcMachineOptions options, ReadOnlySpan<byte> image, string source, IMachineSources sources, bool load)
    {
        IMachineBackend? backend = null;
        try
        {
            // Detect the format first: an unknown file, or an initrd for a kernel that takes none,
            // is reported before any backend is opened.
            if (load) GuestLoader.CheckBootable(image, source, options.Initrd);
            backend = MachineBackends.Create(options.Cpu, options.KvmPath, new MachineBackendOptions
            {
                MemorySize = options.MemorySize, VcpuCount = options.VcpuCount, DirtyLogging = sources.NeedsDirtyLog,
                CpuModel = options.CpuModel, CpuidSeen = options.CpuidSeen, KvmAnswersMostMsrs = options.KvmAnswersMostMsrs, RefusedMsrsDoNotFault = options.RefusedMsrsDoNotFault, TscUnrecorded = options.TscUnrecorded,
            }, out string? note);
            if (options.MaxInstructions is { } max && backend is SoftMachine soft) soft.SoftVcpus[0].InstructionLimit = max;
            var output = options.SerialOutput ?? Console.OpenStandardOutput();
            var platform = new PcPlatform(sources.Clock, sources.SerialInput, b => output.WriteByte(b), options.MemorySize, options.TraceIo);
            if (load) GuestLoader.Load(backend, image, source, options.Cmdline, options.Initrd);
            return new PcMachine(backend, platform, sources, output, note);
        }
        catch
        {
            backend?.Dispose();
            sources.Dispose();
            throw;
        }
    }

    /// <summary>Where to hand over whole machine states (snapshots).</summary>
    public IRunCheckpoints? Checkpoints
    {
        get => _checkpoints;
        set
        {
            _checkpoints = value;
            // Handed to the run loop as it is, as PauseRequested is: it asks at every exit.
            if (_runner is not null) _runner.Checkpoints = value;
        }
    }
    private IRunCheckpoints? _checkpoints;

    /// <summary>Checked at every stop; when true, <see cref="Run"/> returns <see cref="RunOutcome.Paused"/> and a later call continues.</summary>
    public Func<StopPoint, bool>? PauseRequested
    {
        get => _pauseRequested;
        set
        {
            _pauseRequested = value;
            // Handed to the run loop as it is: a replay asks at every stop, and a relay through
            // this property was a second delegate call each time.
            if (_runner is not null) _runner.PauseRequested = value;
        }
    }
    private Func<StopPoint, bool>? _pauseRequested;

    /// <summary>
    /// Make every instruction boundary a debugger can stop at a stop: complete an exit's
    /// instruction before the pause check, and ask again right after an interrupt delivery.
    /// </summary>
    public bool InstructionStops
    {
        get => Runner.CompleteBeforePause;
        set
        {
            Runner.CompleteBeforePause = value;
            Runner.PauseAfterDelivery = value;
        }
    }

    /// <summary>What the last exit the run loop handled was.</summary>
    public VcpuExitKind? LastExit => Runner.LastExit;

    /// <summary>The run loop's counters at the current point.</summary>
    public RunnerCounters Counters => Runner.Counters;

    /// <summary>
    /// <see cref="RunnerCounters.InterruptsDelivered"/> alone: a replay reads it at every stop,
    /// where building all the counters cost two interface calls and a type check each time.
    /// </summary>
    public long InterruptsDelivered => _runner?.InterruptsDelivered ?? 0;

    private VcpuRunner Runner => _runner ??= new VcpuRunner(Vcpu, Platform, _sources.Clock, _sources.CreateHostEvents(Backend, Vcpu))
    {
        ExitObserver = ObserveExits(),
        PredictedExits = PredictedExits(),
        Abort = _sources.Abort,
        Checkpoints = _checkpoints,
        PauseRequested = _pauseRequested,
    };

    /// <summary>The whole state of the stopped machine except RAM: vCPU, devices, run-loop counters.</summary>
    public MachineState CaptureState() => new(Vcpu.CaptureState(), Platform.SaveState(), Runner.Counters);

    /// <summary>Puts the stopped machine in <paramref name="state"/> (RAM is restored separately).</summary>
    public void RestoreState(MachineState state)
    {
        Vcpu.RestoreState(state.Vcpu);
        Platform.RestoreState(state.Platform);
        Runner.RestoreCounters(state.Counters);
    }

    /// <summary>Runs vCPU 0 until the machine stops or pauses and returns how it ended.</summary>
    public RunOutcome Run()
    {
        var runner = Runner;
        RunOutcome? outcome = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { outcome = runner.Run(); }
            catch (Exception e) { failure = e; }
        }, 16 << 20) { Name = "vmreplay vCPU 0", IsBackground = true };
        thread.Start();
        thread.Join();
        _output.Flush();
        if (failure is not null) ExceptionDispatchInfo.Capture(failure).Throw();
        return outcome!;
    }

    public void Dispose()
    {
        _sources.Dispose();
        Backend.Dispose();
    }
}
