using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Integration.Tests;

/// <summary>
/// The run loop takes a polling loop's repeated port exits for a recording
/// (<see cref="IMachineSources.PredictedExits"/>) without calling the recording's sources, which
/// count them only when something else is appended. The trace must be byte for byte the one a
/// recording handed every exit writes: snapshots in the middle of runs, batch ends, serial
/// input and timer services included.
/// </summary>
public sealed class PredictedExitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-predicted-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    // 200,000 writes of one port: runs that cross batch ends and snapshots.
    [InlineData("bench-exits", "bench-exits.bin")]
    // Polls of the UART's line status, with serial input arriving between them (each poll is a
    // stop where input may be serviced: no repetitions to take).
    [InlineData("echo", "echo.elf")]
    // Timer interrupts serviced between the guest's port exits.
    [InlineData("timer", "timer.elf")]
    [InlineData("ticks", "ticks.elf")]
    public void ARecordingWhoseRunLoopTakesRepetitionsIsTheRecordingHandedEveryExit(string name, string file)
    {
        var taken = Record(name, file, predicted: true);
        var handed = Record(name, file, predicted: false);
        Assert.Equal(handed.Exits, handed.Handed);
        Assert.Equal(handed.Exits, taken.Exits);
        Assert.InRange(taken.Handed, 1, taken.Exits);
        Assert.Equal(handed.Trace, taken.Trace);
    }

    [Fact]
    public void ThePollingGuestsRepetitionsAreNearlyAllTakenByTheRunLoop()
    {
        var taken = Record("bench-exits", "bench-exits.bin", predicted: true);
        // Handed: the first two exits of each batch and the first after each snapshot or batch end.
        Assert.True(taken.Handed < taken.Exits / 1000, $"{taken.Handed} of {taken.Exits} exits handed to the recording");
    }

    private sealed record Recording(long Exits, long Handed, byte[] Trace);

    private Recording Record(string name, string file, bool predicted)
    {
        byte[] image = File.ReadAllBytes(Vmreplay.Guest(name, file));
        string input = Path.Combine(_dir, "input.txt");
        File.WriteAllText(input, "hello, predicted exits\n");
        var options = new PcMachineOptions
        {
            Cpu = CpuBackendChoice.Soft, Clock = ClockMode.Virtual, SerialInputFile = input, SerialOutput = Stream.Null, MaxInstructions = 3_000_000,
        };
        string path = Path.Combine(_dir, $"{name}-{predicted}.vmtrace");
        var header = new TraceHeader
        {
            GuestName = file, ImageSha256 = EmbeddedFile.Sha256(image), ImageSize = image.Length, MemorySize = options.MemorySize, VcpuCount = 1,
            Cmdline = "", WallClockBase = DateTime.UnixEpoch, HostKernel = "test", CpuModel = [], Backend = "soft", Clock = "virtual",
            NanosecondsPerInstruction = InstructionClock.DefaultNanosecondsPerInstruction, MaxInstructions = options.MaxInstructions,
            HostCapabilities = new HostCapabilities(default, default, default, default, default, default, default, default, default, default, 1),
        };
        long exits, handed;
        using (var writer = new TraceWriter(path, header, image))
        {
            var recording = new RecordingSources(new LiveSources(input, clock: ClockMode.Virtual), writer);
            var sources = new CountingSources(recording, predicted);
            using var pc = PcMachine.Create(options, image, file, sources);
            pc.Checkpoints = new SnapshotRecorder(pc, writer, SnapshotPolicy.Parse("20000"), recording.RecordingClock, () => recording.ServiceTracker);
            var outcome = pc.Run();
            var (regs, memory) = FinalState.Hash(pc.Backend, TraceFormat.Version);
            Assert.Null(writer.Finish(new EndEvent(outcome.Kind, outcome.ExitStatus, outcome.Message, regs, memory), endsInLongMode: false));
            exits = pc.ExitCount;
            handed = sources.Handed;
        }
        return new Recording(exits, handed, File.ReadAllBytes(path));
    }

    // The recording's sources, counting the exits handed to them; with `predicted` false they
    // offer the run loop no predicted repetitions, so every exit is handed over.
    private sealed class CountingSources(RecordingSources inner, bool predicted) : IMachineSources
    {
        public long Handed { get; private set; }

        public IEngineClock Clock => inner.Clock;

        public ISerialInput SerialInput => inner.SerialInput;

        public bool NeedsDirtyLog => inner.NeedsDirtyLog;

        public AbortRequest? Abort => inner.Abort;

        public PredictedPortExits? PredictedExits => predicted ? inner.PredictedExits : null;

        public IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu) => inner.CreateHostEvents(machine, vcpu);

        public void OnExit(IVcpuBackend vcpu, VcpuExit exit)
        {
            Handed++;
            inner.OnExit(vcpu, exit);
        }

        public void Dispose() => inner.Dispose();
    }
}
