using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Legacy;

/// <summary>
/// The i8042 keyboard controller, enough for firmware and kernels that probe it and for the
/// reset line: data port 0x60, status/command port 0x64, the controller configuration byte,
/// self tests, and reset by command 0xFE or by clearing output-port bit 0 (command 0xD1).
/// There are no keyboard or mouse devices behind it.
/// </summary>
public sealed class I8042 : IStatefulDevice<I8042State>
{
    private const byte StatusOutputFull = 0x01, StatusSystem = 0x04, StatusCommand = 0x08;
    private readonly Action _reset;
    private byte _status = StatusSystem;
    private byte _config = 0x45; // keyboard interrupt, system flag, translation
    private byte? _output;
    private byte? _pending;
    private byte _outputPort = 0x03;

    /// <param name="reset">Called when the guest pulses the CPU reset line.</param>
    public I8042(Action reset)
    {
        _reset = reset;
        DataPort = new View(this, isData: true);
        CommandPort = new View(this, isData: false);
    }

    /// <summary>Port 0x60.</summary>
    public IBusDevice DataPort { get; }

    /// <summary>Port 0x64.</summary>
    public IBusDevice CommandPort { get; }

    private byte ReadData()
    {
        byte v = _output ?? 0;
        _output = null;
        _status &= unchecked((byte)~StatusOutputFull);
        return v;
    }

    private byte ReadStatus() => (byte)(_status | (_output is null ? 0 : StatusOutputFull));

    private void WriteData(byte v)
    {
        switch (_pending)
        {
            case 0x60: _config = v; break;
            case 0xD1:
                _outputPort = v;
                if ((v & 1) == 0) _reset();
                break;
            case 0xD2: Respond(v); break; // write keyboard output buffer
            default: break;               // bytes for a keyboard that is not there
        }
        _pending = null;
        _status &= unchecked((byte)~StatusCommand);
    }

    private void WriteCommand(byte c)
    {
        _status |= StatusCommand;
        switch (c)
        {
            case 0x20: Respond(_config); break;
            case 0x60 or 0xD1 or 0xD2: _pending = c; break;
            case 0xA7: _config |= 0x20; break;   // disable aux
            case 0xA8: _config &= 0xDF; break;   // enable aux
            case 0xA9: Respond(0x00); break;     // aux interface test: passed
            case 0xAA: Respond(0x55); break;     // controller self test: passed
            case 0xAB: Respond(0x00); break;     // keyboard interface test: passed
            case 0xAD: _config |= 0x10; break;   // disable keyboard
            case 0xAE: _config &= 0xEF; break;   // enable keyboard
            case 0xD0: Respond(_outputPort); break;
            case 0xFE: _reset(); break;          // pulse reset
            default:
                if (c >= 0xF0 && (c & 1) == 0) _reset(); // pulse output lines with bit 0 (reset) low
                break;
        }
    }

    private void Respond(byte v) => _output = v;

    public I8042State SaveState() => new(_status, _config, _output, _pending, _outputPort);

    public void RestoreState(I8042State s)
    {
        _status = s.Status; _config = s.Config; _output = s.Output; _pending = s.PendingCommand; _outputPort = s.OutputPort;
    }

    private sealed class View(I8042 kbc, bool isData) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            data.Fill(0);
            data[0] = isData ? kbc.ReadData() : kbc.ReadStatus();
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (isData) kbc.WriteData(data[0]);
            else kbc.WriteCommand(data[0]);
        }
    }
}
