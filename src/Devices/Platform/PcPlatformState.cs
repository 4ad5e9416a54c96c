using VmReplay.Devices.Interrupts;
using VmReplay.Devices.Legacy;
using VmReplay.Devices.Pci;
using VmReplay.Devices.Rtc;
using VmReplay.Devices.Serial;
using VmReplay.Devices.Timer;

namespace VmReplay.Devices.Platform;

/// <summary>The state of every device on the PC board, as plain data (a snapshot's device part).</summary>
public sealed record PcPlatformState
{
    public required DualPic8259State Pic { get; init; }
    public required Uart16550State Com1 { get; init; }
    public required Pit8254State Pit { get; init; }
    public required SystemControlPortBState PortB { get; init; }
    public required CmosRtcState Rtc { get; init; }
    public required I8042State Keyboard { get; init; }
    public required DebugExitPortState DebugExit { get; init; }
    public required PostCodePortState Post { get; init; }
    public required PciHostBridgeState Pci { get; init; }

    /// <summary>
    /// Each device by its property name here (the name a snapshot's device state and `monitor
    /// device` use), with a heading line naming the chip and where the board wires it, then the
    /// device's own <c>Describe()</c> lines indented. Pure: it reads only this record.
    /// </summary>
    public IEnumerable<(string Name, string Text)> Describe()
    {
        // The ports and IRQs are PcPlatform's wiring (its Io.Register table).
        yield return Entry(nameof(Pic), "two 8259A, master at 0x20 (IRQ 0-7), slave at 0xa0 (IRQ 8-15, on master IR2)", Pic.Describe());
        yield return Entry(nameof(Com1), $"16550A at 0x{PcPlatform.Com1Base:x3}, IRQ {PcPlatform.Com1Irq}", Com1.Describe());
        yield return Entry(nameof(Pit), $"8254 at 0x40, counter 0 on IRQ {PcPlatform.PitIrq}, counter 2 gated by port 0x61", Pit.Describe());
        yield return Entry(nameof(PortB), "system control port B at 0x61", PortB.Describe());
        yield return Entry(nameof(Rtc), "MC146818A RTC and CMOS at 0x70", Rtc.Describe());
        yield return Entry(nameof(Keyboard), "i8042 at 0x60 and 0x64", Keyboard.Describe());
        yield return Entry(nameof(DebugExit), "isa-debug-exit at 0xf4", DebugExit.Describe());
        yield return Entry(nameof(Post), "POST code port at 0x80", Post.Describe());
        yield return Entry(nameof(Pci), "PCI host bridge (440FX) at 0xcf8", Pci.Describe());
    }

    private static (string, string) Entry(string name, string heading, string text) =>
        (name, $"{name}: {heading}\n{string.Concat(text.Split('\n').Select(line => $"  {line}\n"))}");
}
