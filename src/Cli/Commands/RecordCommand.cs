using System.CommandLine;
using System.Runtime.InteropServices;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Boot;
using VmReplay.Engine.Run;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Faults;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Cli.Commands;

/// <summary><c>vmreplay record</c>: runs like <c>run</c> and writes every non-deterministic input to a trace.</summary>
internal static class RecordCommand
{
    public static Command Create()
    {
        var machine = new MachineOptions();
        var output = new Option<string>("-o", "--output") { Description = "trace file to write (.vmtrace)", Required = true };
        var snapshotEvery = new Option<string>("--snapshot-every")
        {
            Description = "snapshot interval: guest time (50ms, 1s) or a number of exits; 'off' for the initial snapshot only",
            DefaultValueFactory = _ => "50ms",
        };
        var kickAfter = new Option<string?>("--kick-after")
        {
            Description = "how long a due timer or input waits for the guest's next exit before the vCPU is forced out of the guest (host time, e.g. 1ms, 200ms); "
                + "default 200ms for a Linux kernel, 1ms otherwise. An interrupt delivered at an exit is found again by position alone; one at a forced stop by the guest's registers and memory, which RDTSC values can spoil",
        };
        var command = new Command("record", "run a guest and record it to a trace; same serial output and exit status as run");
        machine.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(snapshotEvery);
        command.Options.Add(kickAfter);
        command.SetAction(r => Program.Guarded(() =>
        {
            var (options, image, source) = machine.Resolve(r);
            string? initrdSource = r.GetValue(machine.Initrd);
            // The trace embeds the image and the initrd so that it replays without them; refuse
            // a file it cannot hold before anything is run or written.
            if ((EmbeddedFile.CheckSize("guest image", source, image.Length)
                 ?? EmbeddedFile.CheckSize("initrd", initrdSource ?? "", options.Initrd?.Length ?? 0)) is { } tooLarge)
                throw new UserError(tooLarge);
            string path = r.GetValue(output)!;
            using var serialOutput = machine.OpenSerialOutput(r);
            options = options with { SerialOutput = serialOutput };
            SnapshotPolicy policy;
            try { policy = SnapshotPolicy.Parse(r.GetValue(snapshotEvery)!); }
            catch (FormatException e) { throw new UserError($"--snapshot-every: {e.Message}"); }
            var format = GuestImageDetector.Detect(image, source);
            long kick = format is BootImageFormat.LinuxBzImage or BootImageFormat.LinuxPvh ? LinuxKickAfterNanoseconds : LiveHostEvents.DefaultKickAfterNanoseconds;
            if (r.GetValue(kickAfter) is { } k)
            {
                if (!DurationText.TryParse(k, out double ns) || ns > long.MaxValue / 2)
                    throw new UserError($"--kick-after: '{k}' is not a duration: give host time such as 1ms or 200ms");
                kick = (long)ns;
            }
            var profile = BackendProfile.Decide(RunCommand.ChooseBackend(options), options.KvmPath, options.VcpuCount);
            options = options with { Cpu = profile.Choice, Clock = machine.ResolveClock(r, profile.Kind) };
            var live = new LiveSources(options.SerialInputFile, kick, options.Clock);
            // The header holds the image's SHA-256 (the 35.7 MB Linux vmlinux: 25 ms): the writer
            // thread makes it while the guest starts.
            var recorded = options;
            var wallClockBase = live.Clock.WallClockBase;
            Func<string, string?, TraceHeader> header = (imageSha256, initrdSha256) =>
                BuildHeader(recorded, imageSha256, initrdSha256, image.Length, source, initrdSource, profile) with { WallClockBase = wallClockBase };
            TraceWriter writer;
            try { writer = new TraceWriter(path, header, image, options.Initrd, EmbeddedFileCache.FromEnvironment()); }
            catch (IOException e) { live.Dispose(); throw new UserError(e.Message); }
            using (writer)
            {
                PcMachine pc;
                var sources = new RecordingSources(live, writer);
                try { pc = PcMachine.Create(options, image, source, sources); }
                catch
                {
                    writer.Dispose();
                    File.Delete(path); // nothing was recorded
                    throw;
                }
                using (pc)
                {
                    Console.Error.WriteLine($"vmreplay: {profile.Describe()}");
                    RunCommand.WarnIfCpuModelNotApplied(pc);
                    var snapshots = new SnapshotRecorder(pc, writer, policy, sources.RecordingClock, () => sources.ServiceTracker);
                    pc.Checkpoints = snapshots;
                    if (Environment.GetEnvironmentVariable(FaultInjectionVariable) is { } at && long.TryParse(at, out long faultExit))
                        pc.ExitObserver = (_, _) =>
                        {
                            if (pc.ExitCount == faultExit) throw new InvalidOperationException($"fault injected at exit {faultExit} ({FaultInjectionVariable})");
                        };
                    RunOutcome outcome;
                    // Ctrl-C (or a request to terminate) ends the recording at the guest's next
                    // stop with a complete trace that replays to that point; a second one ends the
                    // process at once, keeping what the trace holds by then.
                    using var onInterrupt = StopOnSignal(PosixSignal.SIGINT, "SIGINT", 2, "Ctrl-C", sources);
                    using var onTerminate = StopOnSignal(PosixSignal.SIGTERM, "SIGTERM", 15, "asked to terminate", sources);
                    // The status line goes to a terminal only; redirected stderr keeps just the summary.
                    using (Console.IsErrorRedirected ? null : ShowProgress(writer))
                    {
                        StartupStamp.WriteIfAsked();
                        try { outcome = pc.Run(); }
                        catch (Exception e) when (e is not UserError)
                        {
                            // A bug or host failure in the VMM: keep the recording and say where it broke.
                            var fault = VmmFaultCapture.Capture(e);
                            string? lost = writer.FinishWithFault(fault);
                            if (!Console.IsErrorRedirected) Console.Error.Write("\r\u001b[K");
                            Console.Error.WriteLine($"vmreplay: VMM fault while recording: {e.GetType().Name}: {e.Message}; {writer.EventCount} events and the VMM's thread stacks are in {path} (vmreplay info)");
                            if (lost is not null) Console.Error.WriteLine($"vmreplay: {lost}");
                            return Program.VmmErrorStatus;
                        }
                    }
                    if (!Console.IsErrorRedirected) Console.Error.Write("\r\u001b[K");
                    var (regs, memory) = FinalState.Hash(pc.Backend, TraceFormat.Version);
                    string? failure = writer.Finish(new EndEvent(outcome.Kind, outcome.ExitStatus, outcome.Message, regs, memory),
                        CpuModesSeen.InLongMode(pc.Vcpu.ReadSystemRegisters()));
                    RunCommand.Report(outcome);
                    Console.Error.WriteLine($"vmreplay: recorded {writer.EventCount} events, {pc.ExitCount} exits, {snapshots.Count} snapshots, {writer.BytesWritten} bytes to {path}");
                    if (failure is not null)
                    {
                        Console.Error.WriteLine($"vmreplay: {failure}");
                        return Program.VmmErrorStatus;
                    }
                    return outcome.ExitStatus;
                }
            }
        }));
        return command;
    }

    private static PosixSignalRegistration StopOnSignal(PosixSignal signal, string name, int number, string how, RecordingSources sources)
    {
        int seen = 0;
        return PosixSignalRegistration.Create(signal, context =>
        {
            if (Interlocked.Exchange(ref seen, 1) != 0) return;
            context.Cancel = true;
            Console.Error.WriteLine($"vmreplay: {name}: stopping the recording at the guest's next stop ({name} again ends it at once)");
            sources.RequestStop(RunOutcome.Stopped(name, number, how));
        });
    }

    // The status line a terminal shows while recording. A method of its own, not inlined: the
    // command's body then names no type of System.Reactive, which a recording whose stderr is
    // redirected (a script, CI) does not load at all.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static IDisposable ShowProgress(TraceWriter writer) =>
        RecordingProgress.Of(writer, TimeSpan.FromMilliseconds(250)).Subscribe(p => Console.Error.Write($"\r{p.Describe()}\u001b[K"));

    /// <summary>
    /// A Linux kernel exits often (serial output, HLT when idle) and reads the TSC, whose values
    /// reach registers and memory unrecorded: waiting up to this long for an exit puts nearly every
    /// interrupt at an exit (on this host 3 forced stops in a whole boot instead of 254 with 1ms).
    /// The cost: timer ticks that fall due during a long computation without exits come late.
    /// </summary>
    internal const long LinuxKickAfterNanoseconds = 200_000_000;

    /// <summary>Set to an exit number to make the recorder throw there (tests the VMM-fault path).</summary>
    internal const string FaultInjectionVariable = "VMREPLAY_INJECT_FAULT_AT_EXIT";

    private static TraceHeader BuildHeader(PcMachineOptions options, string imageSha256, string? initrdSha256, long imageSize, string source, string? initrdSource, BackendProfile profile)
    {
        string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "unknown";
        return new TraceHeader
        {
            GuestName = Path.GetFileName(source),
            ImageSha256 = imageSha256,
            ImageSize = imageSize,
            InitrdName = options.Initrd is null ? null : Path.GetFileName(initrdSource),
            InitrdSha256 = initrdSha256,
            InitrdSize = options.Initrd?.Length,
            MemorySize = options.MemorySize,
            VcpuCount = options.VcpuCount,
            Cmdline = options.Cmdline,
            WallClockBase = default,
            HostKernel = kernel,
            HostCapabilities = profile.HostCapabilities,
            Backend = profile.Kind.Name(),
            Clock = options.Clock == Engine.Determinism.ClockMode.Virtual ? "virtual" : "host",
            NanosecondsPerInstruction = options.Clock == Engine.Determinism.ClockMode.Virtual ? Engine.Determinism.InstructionClock.DefaultNanosecondsPerInstruction : null,
            MaxInstructions = options.MaxInstructions,
            CpuModel = CpuidLeaf.AllFrom(profile.CpuModel),
            CpuidSeen = profile.CpuidSeen.Count > 0 ? CpuidLeaf.AllFrom(profile.CpuidSeen) : null,
            MsrExits = TraceHeader.AllMsrsExit,
        };
    }
}
