namespace VmReplay.Devices.Serial;

/// <summary>Complete state of a 16550A.</summary>
public sealed record Uart16550State
{
    public byte Dll { get; init; }
    public byte Dlm { get; init; }
    public byte Ier { get; init; }
    public byte Lcr { get; init; }
    public byte Mcr { get; init; }
    public byte Scr { get; init; }
    public byte MsrDeltas { get; init; }
    public byte LastModemInputs { get; init; }
    public bool FifoEnabled { get; init; }
    public int TriggerLevel { get; init; }
    public bool Overrun { get; init; }
    public bool ThrEmptyPending { get; init; }
    public byte[] RxFifo { get; init; } = [];
}
