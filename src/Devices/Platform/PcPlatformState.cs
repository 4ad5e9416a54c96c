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
}
