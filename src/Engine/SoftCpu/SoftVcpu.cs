using VmReplay.Engine.Backend;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// A <see cref="Processor"/> as a backend vCPU. Exits mean what they mean on KVM: a port or MSR
/// access stops before its instruction completes, the next run (or
/// <see cref="CompletePendingInstruction"/>) completes it; breakpoints fire before their
/// instruction and again when entered at it; a single step retires one instruction.
/// </summary>
public sealed class SoftVcpu : IVcpuBackend
{
    private readonly SoftExit _exit;
    private DebugSetup _debug = DebugSetup.None;
    private DebugExitCause _lastDebugStop;

    internal SoftVcpu(int id, Processor cpu)
    {
        Id = id;
        Cpu = cpu;
        _exit = new SoftExit(cpu.Exit);
    }

    public int Id { get; }

    /// <summary>The processor itself.</summary>
    public Processor Cpu { get; }

    /// <summary>Stop after this many retired instructions in all (<c>run --max-instructions</c>); a run reaching it ends with a report.</summary>
    public long InstructionLimit { get; set; } = long.MaxValue;

    public void AttachThread() { }

    public void DetachThread() { }

    public void Kick() => Cpu.Kick();

    public void DiscardKick() => Cpu.DiscardKick();

    public bool InterruptFlag => Cpu.InterruptsEnabled;

    public bool RequestInterruptWindow
    {
        get => Cpu.RequestInterruptWindow;
        set => Cpu.RequestInterruptWindow = value;
    }

    public long? InstructionsRetired => Cpu.InstructionCount;

    public void RestoreInstructionCount(long count) => Cpu.InstructionCount = count;

    private long? _stopAt;

    public void StopAtInstruction(long? count) => _stopAt = count;

    public void ReportEmulatedInstructions(bool on) => Cpu.ReportsEmulatedInstructions = on;

    public int? BreakpointLimit => null;

    public bool DataWatchpoints => true;

    public IPageLog PageLog => Cpu;

    public DebugExitCause LastDebugStop => _lastDebugStop;

    public VcpuExit Run()
    {
        _exit.BeforeRun(Cpu);
        long limit = _debug.SingleStep ? Math.Min(InstructionLimit, Cpu.InstructionCount + 1) : InstructionLimit;
        // A stop asked for at the count the processor stands at, with no instruction pending,
        // is here: the run ends at once, as a scheduled stop. A run loop that completed an exit's
        // instruction before arming (a debugger's runs do) asks for the recorded point right
        // after it that way; the recording's run reached that point by completing the
        // instruction inside the run. (Not while single-stepping, whose every run is one step.)
        if (_stopAt is { } at && (at > Cpu.InstructionCount || at == Cpu.InstructionCount && !Cpu.HasPendingInstruction && !_debug.SingleStep))
            limit = Math.Min(limit, at);
        var kind = Cpu.Run(limit);
        _exit.At(Cpu.Rip, Cpu.InstructionCount);
        switch (kind)
        {
            case ProcessorExitKind.InstructionLimit when Cpu.InstructionCount == _stopAt && !_debug.SingleStep:
                return _exit.Set(VcpuExitKind.Scheduled);
            case ProcessorExitKind.InstructionLimit when _debug.SingleStep && Cpu.InstructionCount < InstructionLimit:
                _lastDebugStop = new DebugExitCause(Step: true, 0);
                return _exit.Set(VcpuExitKind.Debug);
            case ProcessorExitKind.InstructionLimit:
                return _exit.Fail($"the guest ran {Cpu.InstructionCount:N0} instructions, the limit (--max-instructions); stopped at RIP {Cpu.Rip:x}");
            case ProcessorExitKind.Breakpoint:
                _lastDebugStop = new DebugExitCause(Step: false, BreakpointsAt(Cpu.LinearRip));
                return _exit.Set(VcpuExitKind.Debug);
            case ProcessorExitKind.Watchpoint:
                // The accessing instruction has retired: while single-stepping, that is the step too.
                _lastDebugStop = new DebugExitCause(Step: _debug.SingleStep, 0, ToBackend(Cpu.LastWatchHit));
                return _exit.Set(VcpuExitKind.Debug);
            default:
                return _exit.From(kind);
        }
    }

    private static DataWatchpointHit ToBackend(WatchHit hit) => new(hit.Watch, hit.Linear, hit.Size, hit.IsWrite, hit.OldValue, hit.NewValue);

    private ulong BreakpointsAt(ulong linear)
    {
        ulong mask = 0;
        for (int i = 0; i < _debug.Breakpoints.Count; i++)
            if (_debug.Breakpoints[i] == linear) mask |= 1UL << Math.Min(i, 63);
        return mask;
    }

    public void CompletePendingInstruction()
    {
        _exit.BeforeRun(Cpu);
        Cpu.CompletePendingInstruction();
    }

    public DeliveryResult TryDeliverInterrupt(Func<byte> acknowledge)
    {
        if (!Cpu.CanTakeInterrupt) return DeliveryResult.NotNow;
        string? failure = Cpu.DeliverExternalInterrupt(acknowledge(), out var watched);
        if (failure is not null) return DeliveryResult.Failed(failure);
        return watched is { } hit ? DeliveryResult.Done with { Watch = ToBackend(hit) } : DeliveryResult.Done;
    }

    public void SetDebug(DebugSetup setup)
    {
        var previous = _debug;
        _debug = setup;
        Cpu.SetBreakpoints(setup.Breakpoints.Where(b => b is not null).Select(b => b!.Value));
        Cpu.ExhaustedRepeatStaysAt = setup.ExhaustedRepeatStaysAt;
        // Setting watches flushes the processor's TLB: only when they change.
        if (!previous.WatchList.SequenceEqual(setup.WatchList))
            Cpu.SetWatches(setup.WatchList.Select(w => new DataWatch(w.Linear, w.Length, (w.Reads ? WatchAccess.Read : 0) | (w.Writes ? WatchAccess.Write : 0))).ToList());
    }

    public VcpuState CaptureState()
    {
        var s = new VcpuState();
        Cpu.SaveState(s);
        return s;
    }

    public void RestoreState(VcpuState state) => Cpu.LoadState(state);

    public T WithState<T>(Func<VcpuState, T> action)
    {
        var s = CaptureState();
        T result = action(s);
        Cpu.LoadState(s);
        return result;
    }

    public GeneralRegisters ReadRegisters() => Cpu.ReadRegisters();

    public ulong ReadInstructionPointer() => Cpu.Rip;

    public SystemRegisters ReadSystemRegisters() => Cpu.ReadSystemRegisters();

    /// <summary>A processor exit in the backend's terms; port and MMIO data live in the processor's exit buffer.</summary>
    private sealed class SoftExit(ProcessorExit exit) : VcpuExit(exit.Data)
    {
        private ProcessorExitKind _processorKind;
        // The processor's exit buffer (one array for its life), held here: Data is read at every
        // port exit (by the device bus, and again by a recording or a replay), and reaching the
        // array through the processor's exit made each read a chain of three dependent loads.
        private readonly byte[] _data = exit.Data;

        public override Span<byte> Data => Kind is VcpuExitKind.PortIo or VcpuExitKind.Mmio ? _data.AsSpan(0, Size) : Span<byte>.Empty;

        public override ulong MsrData
        {
            get => exit.MsrValue;
            set => exit.MsrValue = value;
        }

        public override bool MsrFailed
        {
            get => exit.MsrFailed;
            set => exit.MsrFailed = value;
        }

        // The VMM's answer to an MMIO read is in Data: hand it to the processor, which executes
        // the instruction again with it.
        public void BeforeRun(Processor cpu)
        {
            if (_processorKind == ProcessorExitKind.MmioRead && Kind == VcpuExitKind.Mmio)
                cpu.AnswerMmioRead(BitConverter.ToUInt64(exit.Data));
            _processorKind = ProcessorExitKind.None;
        }

        // Where the processor stopped: every exit says so (see VcpuExit.HasPosition).
        public void At(ulong rip, long instructions)
        {
            HasPosition = true;
            Rip = rip;
            Instructions = instructions;
        }

        public VcpuExit Set(VcpuExitKind kind)
        {
            Kind = kind;
            Message = null;
            return this;
        }

        public VcpuExit Fail(string message)
        {
            Set(VcpuExitKind.Failed);
            Message = message;
            return this;
        }

        public VcpuExit From(ProcessorExitKind kind)
        {
            _processorKind = kind;
            switch (kind)
            {
                case ProcessorExitKind.PortIn or ProcessorExitKind.PortOut:
                    Set(VcpuExitKind.PortIo);
                    Port = (ushort)exit.Address;
                    Size = exit.Size;
                    Count = 1;
                    IsWrite = kind == ProcessorExitKind.PortOut;
                    return this;
                case ProcessorExitKind.MmioRead or ProcessorExitKind.MmioWrite:
                    Set(VcpuExitKind.Mmio);
                    Address = exit.Address;
                    Size = exit.Size;
                    Count = 1;
                    IsWrite = kind == ProcessorExitKind.MmioWrite;
                    return this;
                case ProcessorExitKind.MsrRead or ProcessorExitKind.MsrWrite:
                    Set(kind == ProcessorExitKind.MsrRead ? VcpuExitKind.MsrRead : VcpuExitKind.MsrWrite);
                    MsrIndex = (uint)exit.Address;
                    IsWrite = kind == ProcessorExitKind.MsrWrite;
                    return this;
                case ProcessorExitKind.Halt: return Set(VcpuExitKind.Halt);
                case ProcessorExitKind.Shutdown: return Set(VcpuExitKind.Shutdown);
                case ProcessorExitKind.Kicked: return Set(VcpuExitKind.Interrupted);
                case ProcessorExitKind.InterruptWindow: return Set(VcpuExitKind.InterruptWindow);
                case ProcessorExitKind.Emulated: return Set(VcpuExitKind.EmulatedInstruction);
                case ProcessorExitKind.Unsupported: return Fail($"the software CPU cannot go on: {exit.Message}");
                default: return Fail($"the software CPU stopped ({kind})");
            }
        }
    }
}
