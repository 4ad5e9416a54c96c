namespace VmReplay.Devices.Serial;

/// <summary>Complete state of a <see cref="Uart16550"/>.</summary>
public sealed record Uart16550State
{
    public byte Dll { get; init; }
    public byte Dlm { get; init; }
    public byte Ier { get; init; }
    public byte Lcr { get; init; }
    public byte Mcr { get; init; }
    public byte Scr { get; init; }

    /// <summary>MSR bits 0-3 (DCTS, DDSR, TERI, DDCD), cleared by an MSR read.</summary>
    public byte MsrDeltas { get; init; }

    /// <summary>The modem inputs as last sampled (MSR bits 4-7, shifted down), to detect changes.</summary>
    public byte ModemInputs { get; init; }

    public bool FifoEnabled { get; init; }

    /// <summary>Receive trigger level: 1, 4, 8 or 14.</summary>
    public int TriggerLevel { get; init; } = 1;

    public bool Overrun { get; init; }

    /// <summary>The THRE interrupt is pending (cleared by an IIR read that reports it or a THR write).</summary>
    public bool ThrEmptyPending { get; init; }

    /// <summary>Received bytes not yet read, oldest first.</summary>
    public byte[] RxFifo { get; init; } = [];
}
