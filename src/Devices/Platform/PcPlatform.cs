using VmReplay.Devices.Bus;
using VmReplay.Devices.Interrupts;
using VmReplay.Devices.Legacy;
using VmReplay.Devices.Pci;
using VmReplay.Devices.Rtc;
using VmReplay.Devices.Serial;
using VmReplay.Devices.Timer;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;

namespace VmReplay.Devices.Platform;

/// <summary>
/// The classic PC board: COM1, the 8254 PIT, two cascaded 8259A PICs, CMOS/RTC, the i8042
/// reset line, port 0x61, the POST port, QEMU's debug-exit port and a PCI host bridge, on an
/// I/O-port bus and an MMIO bus. Every device input comes through the engine clock and the
/// serial input, so the board is deterministic given those.
/// </summary>
public sealed class PcPlatform : IMachinePlatform
{
    // Port assignments: the IBM PC/AT technical reference and the 16550/8254/8259A datasheets.
    public const ushort Com1Base = 0x3F8;
    public const int Com1Irq = 4;
    public const int PitIrq = 0;

    private readonly Dictionary<ushort, (long Reads, long Writes)>? _portCounts;

    public PcPlatform(IEngineClock clock, ISerialInput serialInput, Action<byte> serialOutput, ulong memorySize, bool countPorts = false)
    {
        Pic = new DualPic8259();
        Com1 = new Uart16550(serialInput, serialOutput, Pic.Line(Com1Irq));
        Pit = new Pit8254(clock, Pic.Line(PitIrq));
        PortB = new SystemControlPortB(Pit);
        Rtc = new CmosRtc(clock, clock.WallClockBase, memorySize);
        Keyboard = new I8042(() => StopRequest ??= new RunOutcome(RunOutcomeKind.Reset, 0, "guest reset the machine through the i8042 (0xFE); vmreplay ends the VM"));
        DebugExit = new DebugExitPort(v => StopRequest ??= RunOutcome.DebugExit(v));
        Post = new PostCodePort();
        Pci = new PciHostBridge();

        Io.Register(0x20, 2, "pic-master", Pic.Master);
        Io.Register(0x40, 4, "pit", Pit);
        Io.Register(0x60, 1, "i8042-data", Keyboard.DataPort);
        Io.Register(0x61, 1, "port61", PortB);
        Io.Register(0x64, 1, "i8042-command", Keyboard.CommandPort);
        Io.Register(0x70, 2, "cmos-rtc", Rtc);
        Io.Register(0x80, 1, "post", Post);
        Io.Register(0xA0, 2, "pic-slave", Pic.Slave);
        Io.Register(0xF4, 4, "debug-exit", DebugExit);
        Io.Register(Com1Base, 8, "com1", Com1);
        Io.Register(0xCF8, 8, "pci-host", Pci);

        if (countPorts) _portCounts = new();
    }

    public IoBus Io { get; } = new();
    public MmioBus Mmio { get; } = new();
    public DualPic8259 Pic { get; }
    public Uart16550 Com1 { get; }
    public Pit8254 Pit { get; }
    public SystemControlPortB PortB { get; }
    public CmosRtc Rtc { get; }
    public I8042 Keyboard { get; }
    public DebugExitPort DebugExit { get; }
    public PostCodePort Post { get; }
    public PciHostBridge Pci { get; }

    public RunOutcome? StopRequest { get; private set; }

    public void PortRead(ushort port, Span<byte> data)
    {
        Io.Read(port, data);
        Count(port, write: false);
    }

    public void PortWrite(ushort port, ReadOnlySpan<byte> data)
    {
        Io.Write(port, data);
        Count(port, write: true);
    }

    public void MmioRead(ulong address, Span<byte> data) => Mmio.Read(address, data);

    public void MmioWrite(ulong address, ReadOnlySpan<byte> data) => Mmio.Write(address, data);

    public bool HasPendingInterrupt => Pic.HasPendingInterrupt;

    public byte AcknowledgeInterrupt() => Pic.Acknowledge();

    public long? NextDeadlineNanoseconds => Pit.NextDeadlineNanoseconds;

    public void AdvanceTo(long nowNanoseconds) => Pit.AdvanceTo(nowNanoseconds);

    public void PollInput() => Com1.PollInput();

    /// <summary>Every device's state, for a snapshot.</summary>
    public PcPlatformState SaveState() => new()
    {
        Pic = Pic.SaveState(), Com1 = Com1.SaveState(), Pit = Pit.SaveState(), PortB = PortB.SaveState(),
        Rtc = Rtc.SaveState(), Keyboard = Keyboard.SaveState(), DebugExit = DebugExit.SaveState(),
        Post = Post.SaveState(), Pci = Pci.SaveState(),
    };

    /// <summary>Puts every device back in a saved state. A snapshot is only taken while no stop is requested.</summary>
    public void RestoreState(PcPlatformState state)
    {
        Pic.RestoreState(state.Pic);
        Com1.RestoreState(state.Com1);
        Pit.RestoreState(state.Pit);
        PortB.RestoreState(state.PortB);
        Rtc.RestoreState(state.Rtc);
        Keyboard.RestoreState(state.Keyboard);
        DebugExit.RestoreState(state.DebugExit);
        Post.RestoreState(state.Post);
        Pci.RestoreState(state.Pci);
        StopRequest = null;
    }

    /// <summary>Port accesses by port, with the device that holds each (null: unmapped). Only when counting was asked for.</summary>
    public IEnumerable<(ushort Port, string? Device, long Reads, long Writes)> PortStatistics()
    {
        var counts = _portCounts ?? new Dictionary<ushort, (long, long)>();
        foreach (var (port, (r, w)) in counts.OrderBy(kv => kv.Key))
            yield return (port, Io.Resolve(port)?.Name, r, w);
    }

    private void Count(ushort port, bool write)
    {
        if (_portCounts is null) return;
        var (r, w) = _portCounts.GetValueOrDefault(port);
        _portCounts[port] = write ? (r, w + 1) : (r + 1, w);
    }
}
