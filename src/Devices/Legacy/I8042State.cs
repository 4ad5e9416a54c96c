namespace VmReplay.Devices.Legacy;

/// <summary>Complete state of an <see cref="I8042"/>.</summary>
public sealed record I8042State
{
    /// <summary>The controller's 32 bytes of RAM; byte 0 is the configuration byte.</summary>
    public byte[] Ram { get; init; } = [];

    public byte OutputBuffer { get; init; }
    public bool OutputFull { get; init; }

    /// <summary>The output buffer holds aux (mouse) data.</summary>
    public bool OutputAux { get; init; }

    /// <summary>A command waiting for its data byte on port 0x60.</summary>
    public byte? PendingCommand { get; init; }

    public byte OutputPort { get; init; }
    public bool LastWriteWasCommand { get; init; }
}
