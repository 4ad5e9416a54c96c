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

    /// <summary>
    /// The controller as the PC/AT technical reference names it, on one line: the configuration
    /// byte (RAM byte 0) with its bits named, the output port (bit 0 the CPU reset line, active low;
    /// bit 1 the A20 gate), the output buffer and the last write's target.
    /// </summary>
    public string Describe()
    {
        byte config = Ram.Length > 0 ? Ram[0] : (byte)0;
        // Configuration byte: 0 keyboard IRQ, 1 aux IRQ, 2 system flag, 4 keyboard clock disabled,
        // 5 aux clock disabled, 6 scan-code translation.
        string configBits = string.Join(", ", new[]
        {
            (config & 0x01) != 0 ? "keyboard IRQ" : null,
            (config & 0x02) != 0 ? "aux IRQ" : null,
            (config & 0x04) != 0 ? "system flag" : null,
            (config & 0x10) != 0 ? "keyboard disabled" : null,
            (config & 0x20) != 0 ? "aux disabled" : null,
            (config & 0x40) != 0 ? "translation" : null,
        }.Where(s => s is not null));
        string output = $"output port {OutputPort:x2} (reset line {((OutputPort & 1) != 0 ? "high" : "LOW")}, A20 {((OutputPort & 2) != 0 ? "on" : "off")})";
        string buffer = OutputFull ? $"output buffer full: {OutputBuffer:x2}{(OutputAux ? " (aux)" : "")}" : "output buffer empty";
        string pending = PendingCommand is { } p ? $", command {p:x2} waits for its data byte" : "";
        return $"config {config:x2}{(configBits == "" ? "" : $" ({configBits})")}, {output}, {buffer}{pending}, last write to {(LastWriteWasCommand ? "command" : "data")} port";
    }
}
