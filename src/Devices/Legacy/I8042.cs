using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Legacy;

/// <summary>
/// The i8042 keyboard controller of the PC/AT as firmware and kernels probe it, and as the CPU
/// reset line: <see cref="DataPort"/> (0x60) and <see cref="CommandPort"/> (status on read,
/// command on write; 0x64), one port each since 0x61 between them belongs to port B. The
/// controller's 32 bytes of RAM (byte 0 is the configuration byte), self tests, keyboard and aux
/// enable, the output port, and reset by command 0xFE (or any pulse command with bit 0 low) or by
/// writing the output port with bit 0 clear.
/// </summary>
/// <remarks>
/// No keyboard or mouse is attached: bytes written to the devices get no answer, and IRQ 1 and 12
/// are not wired (only the devices would raise them). Commands complete at once, so the input
/// buffer is never full.
/// </remarks>
public sealed class I8042 : IStatefulDevice<I8042State>
{
    // Status register (IBM PC/AT Technical Reference, "Keyboard Controller"; i8042 data sheets).
    private const byte StatusOutputFull = 0x01, StatusSystem = 0x04, StatusCommand = 0x08, StatusUnlocked = 0x10, StatusAuxData = 0x20;

    // Configuration byte ("command byte"): 0 keyboard IRQ, 1 aux IRQ, 2 system flag, 4 keyboard
    // clock disabled, 5 aux clock disabled, 6 scan-code translation.
    private const byte ConfigSystem = 0x04, ConfigKeyboardDisabled = 0x10, ConfigAuxDisabled = 0x20;

    // Output port: bit 0 is the CPU reset line (active low), bit 1 the A20 gate.
    private const byte OutputPortReset = 0x01;

    private const byte SelfTestPassed = 0x55, InterfaceTestPassed = 0x00;

    private readonly Action _reset;
    private readonly byte[] _ram = new byte[32];
    private byte _outputBuffer, _outputPort = 0x03; // reset line high, A20 enabled
    private bool _outputFull, _outputAux, _lastWriteWasCommand;
    private byte? _pendingCommand;

    /// <param name="reset">Called when the guest pulses the CPU reset line; the VMM ends the VM.</param>
    public I8042(Action reset)
    {
        _reset = reset;
        // As firmware leaves it: keyboard interrupt, system flag (POST passed), translation.
        _ram[0] = 0x45;
        DataPort = new View(this, isData: true);
        CommandPort = new View(this, isData: false);
    }

    /// <summary>The data port (0x60), one port.</summary>
    public IBusDevice DataPort { get; }

    /// <summary>The status (read) and command (write) port (0x64), one port.</summary>
    public IBusDevice CommandPort { get; }

    private byte Config => _ram[0];

    private byte ReadStatus() => (byte)((_outputFull ? StatusOutputFull : 0) | (Config & ConfigSystem) |
        (_lastWriteWasCommand ? StatusCommand : 0) | StatusUnlocked | (_outputFull && _outputAux ? StatusAuxData : 0));

    // The buffer keeps its last byte after it is read; only OBF clears.
    private byte ReadData()
    {
        _outputFull = false;
        return _outputBuffer;
    }

    private void Respond(byte value, bool aux = false)
    {
        _outputBuffer = value;
        _outputFull = true;
        _outputAux = aux;
    }

    private void WriteData(byte v)
    {
        _lastWriteWasCommand = false;
        byte? command = _pendingCommand;
        _pendingCommand = null;
        switch (command)
        {
            case >= 0x60 and <= 0x7F:
                _ram[command.Value & 0x1F] = v; // 0x60: the configuration byte
                break;
            case 0xD1:
                _outputPort = v;
                if ((v & OutputPortReset) == 0) _reset();
                break;
            case 0xD2:
                Respond(v);
                break;
            case 0xD3:
                Respond(v, aux: true);
                break;
            default:
                break; // for the keyboard (or, after 0xD4, the mouse), neither of which is there
        }
    }

    private void WriteCommand(byte c)
    {
        _lastWriteWasCommand = true;
        _pendingCommand = null;
        switch (c)
        {
            case >= 0x20 and <= 0x3F: Respond(_ram[c & 0x1F]); break; // 0x20: read the configuration byte
            case >= 0x60 and <= 0x7F or 0xD1 or 0xD2 or 0xD3 or 0xD4: _pendingCommand = c; break;
            case 0xA7: _ram[0] |= ConfigAuxDisabled; break;
            case 0xA8: _ram[0] &= unchecked((byte)~ConfigAuxDisabled); break;
            case 0xA9: Respond(InterfaceTestPassed); break;           // aux interface test
            case 0xAA: Respond(SelfTestPassed); break;                // controller self test
            case 0xAB: Respond(InterfaceTestPassed); break;           // keyboard interface test
            case 0xAD: _ram[0] |= ConfigKeyboardDisabled; break;
            case 0xAE: _ram[0] &= unchecked((byte)~ConfigKeyboardDisabled); break;
            case 0xD0: Respond(_outputPort); break;
            case >= 0xF0:
                // Pulse output-port bits 0-3 low for 6 µs where the command's bit is 0; bit 0 is reset.
                if ((c & OutputPortReset) == 0) _reset();
                break;
            default: break; // unknown or vendor commands: ignored
        }
    }

    public I8042State SaveState() => new()
    {
        Ram = (byte[])_ram.Clone(), OutputBuffer = _outputBuffer, OutputFull = _outputFull, OutputAux = _outputAux,
        PendingCommand = _pendingCommand, OutputPort = _outputPort, LastWriteWasCommand = _lastWriteWasCommand,
    };

    public void RestoreState(I8042State s)
    {
        if (s.Ram.Length != _ram.Length) throw new ArgumentException("not an i8042 state", nameof(s));
        s.Ram.CopyTo(_ram, 0);
        _outputBuffer = s.OutputBuffer; _outputFull = s.OutputFull; _outputAux = s.OutputAux;
        _pendingCommand = s.PendingCommand; _outputPort = s.OutputPort; _lastWriteWasCommand = s.LastWriteWasCommand;
    }

    private sealed class View(I8042 controller, bool isData) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            data.Clear();
            data[0] = isData ? controller.ReadData() : controller.ReadStatus();
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (isData) controller.WriteData(data[0]);
            else controller.WriteCommand(data[0]);
        }
    }
}
