using System.Text;

namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// Reads one decoded packet payload into a <see cref="GdbCommand"/>. Never throws: whatever gdb
/// (or anything else on the socket) sends becomes <see cref="GdbCommand.Unknown"/> or
/// <see cref="GdbCommand.Malformed"/> at worst.
/// </summary>
public static class CommandParser
{
    public static GdbCommand Parse(byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        // Latin-1 maps each byte to one char, so indices agree between text and bytes (X needs both).
        var text = Encoding.Latin1.GetString(payload);
        if (text.Length == 0)
            return new GdbCommand.Unknown(text);
        var args = text.AsSpan(1);
        return text[0] switch
        {
            '?' => Bare(text, new GdbCommand.HaltReason()),
            'k' => Bare(text, new GdbCommand.Kill()),
            'g' => Bare(text, new GdbCommand.ReadRegisters()),
            'D' => ParseDetach(text),
            'H' => ParseSetThread(text),
            'T' => ParseThreadAlive(text),
            'G' => Hex.TryDecode(args, out var data) && data.Length > 0
                ? new GdbCommand.WriteRegisters(data)
                : Malformed(text, "register data is not hex"),
            'p' => ParseReadRegister(text),
            'P' => ParseWriteRegister(text),
            'm' => ParseReadMemory(text),
            'M' => ParseWriteMemoryHex(text),
            'X' => ParseWriteMemoryBinary(text, payload),
            'c' => ParseResume(text, address => new GdbCommand.Continue(address)),
            's' => ParseResume(text, address => new GdbCommand.Step(address)),
            'Z' or 'z' => ParsePoint(text),
            'b' => text switch
            {
                "bc" => new GdbCommand.ReverseContinue(),
                "bs" => new GdbCommand.ReverseStep(),
                _ => new GdbCommand.Unknown(text),
            },
            'v' => ParseV(text),
            'q' => ParseQuery(text),
            'Q' => text == "QStartNoAckMode" ? new GdbCommand.StartNoAckMode() : new GdbCommand.Unknown(text),
            _ => new GdbCommand.Unknown(text),
        };
    }

    private static GdbCommand Bare(string text, GdbCommand command) =>
        text.Length == 1 ? command : Malformed(text, "takes no arguments");

    private static GdbCommand.Malformed Malformed(string text, string reason) => new(text, reason);

    private static GdbCommand ParseDetach(string text) =>
        text == "D" || (text.StartsWith("D;", StringComparison.Ordinal) && Hex.TryParseUInt64(text.AsSpan(2), out _))
            ? new GdbCommand.Detach()
            : Malformed(text, "expected D or D;pid");

    private static GdbCommand ParseSetThread(string text)
    {
        if (text.Length < 3)
            return Malformed(text, "expected H, an operation and a thread");
        return TryParseThread(text.AsSpan(2), out var thread)
            ? new GdbCommand.SetThread(text[1], thread)
            : Malformed(text, "bad thread id");
    }

    private static GdbCommand ParseThreadAlive(string text) =>
        TryParseThread(text.AsSpan(1), out var thread)
            ? new GdbCommand.ThreadAlive(thread)
            : Malformed(text, "bad thread id");

    private static GdbCommand ParseReadRegister(string text) =>
        TryParseInt(text.AsSpan(1), out var number)
            ? new GdbCommand.ReadRegister(number)
            : Malformed(text, "bad register number");

    private static GdbCommand ParseWriteRegister(string text)
    {
        var args = text.AsSpan(1);
        var equals = args.IndexOf('=');
        if (equals < 0)
            return Malformed(text, "expected P n=value");
        if (!TryParseInt(args[..equals], out var number))
            return Malformed(text, "bad register number");
        if (!Hex.TryDecode(args[(equals + 1)..], out var value) || value.Length == 0)
            return Malformed(text, "register value is not hex");
        return new GdbCommand.WriteRegister(number, value);
    }

    private static GdbCommand ParseReadMemory(string text) =>
        TryParseAddressLength(text.AsSpan(1), out var address, out var length)
            ? new GdbCommand.ReadMemory(address, length)
            : Malformed(text, "expected m addr,length");

    private static GdbCommand ParseWriteMemoryHex(string text)
    {
        var args = text.AsSpan(1);
        var colon = args.IndexOf(':');
        if (colon < 0 || !TryParseAddressLength(args[..colon], out var address, out var length))
            return Malformed(text, "expected M addr,length:data");
        if (!Hex.TryDecode(args[(colon + 1)..], out var data))
            return Malformed(text, "data is not hex");
        if (data.Length != length)
            return Malformed(text, "length does not match the data");
        return new GdbCommand.WriteMemory(address, data);
    }

    private static GdbCommand ParseWriteMemoryBinary(string text, byte[] payload)
    {
        var colon = text.IndexOf(':');
        if (colon < 0 || !TryParseAddressLength(text.AsSpan(1, colon - 1), out var address, out var length))
            return Malformed(text, "expected X addr,length:data");
        var data = payload[(colon + 1)..];
        if (data.Length != length)
            return Malformed(text, "length does not match the data");
        return new GdbCommand.WriteMemory(address, data);
    }

    private static GdbCommand ParseResume(string text, Func<ulong?, GdbCommand> create)
    {
        if (text.Length == 1)
            return create(null);
        return Hex.TryParseUInt64(text.AsSpan(1), out var address)
            ? create(address)
            : Malformed(text, "bad resume address");
    }

    private static GdbCommand ParsePoint(string text)
    {
        var args = text.AsSpan(1);
        // Conditions and commands (";X..." / ";cmds:...") are for stubs that evaluate them; gdb
        // evaluates them itself when we do not advertise ConditionalBreakpoints.
        var semicolon = args.IndexOf(';');
        if (semicolon >= 0)
            args = args[..semicolon];
        if (args.Length < 2 || args[0] is < '0' or > '4' || args[1] != ',')
            return Malformed(text, "expected type 0-4");
        var kind = (PointKind)(args[0] - '0');
        if (!TryParseAddressLength(args[2..], out var address, out var size))
            return Malformed(text, "expected addr,kind");
        return text[0] == 'Z'
            ? new GdbCommand.InsertPoint(kind, address, size)
            : new GdbCommand.RemovePoint(kind, address, size);
    }

    private static GdbCommand ParseV(string text)
    {
        if (text == "vMustReplyEmpty")
            return new GdbCommand.MustReplyEmpty();
        if (text == "vCont?")
            return new GdbCommand.VContQuery();
        if (text == "vCont" || text.StartsWith("vCont;", StringComparison.Ordinal))
            return ParseVCont(text);
        return new GdbCommand.Unknown(text);
    }

    private static GdbCommand ParseVCont(string text)
    {
        if (text.Length <= "vCont;".Length)
            return Malformed(text, "vCont without actions");
        var actions = new List<VContAction>();
        foreach (var part in text["vCont;".Length..].Split(';'))
        {
            if (!TryParseVContAction(part, out var action))
                return Malformed(text, $"bad vCont action '{part}'");
            actions.Add(action);
        }
        return new GdbCommand.VCont(actions);
    }

    private static bool TryParseVContAction(string part, out VContAction action)
    {
        action = null!;
        if (part.Length == 0)
            return false;
        var kind = part[0];
        var rest = part.AsSpan(1);
        long? thread = null;
        var colon = rest.IndexOf(':');
        if (colon >= 0)
        {
            if (!TryParseThread(rest[(colon + 1)..], out var parsed))
                return false;
            thread = parsed;
            rest = rest[..colon];
        }
        ulong start = 0, end = 0;
        switch (kind)
        {
            case 'c' or 's' or 't':
                if (!rest.IsEmpty)
                    return false;
                break;
            case 'C' or 'S':
                if (rest.Length != 2 || !Hex.TryParseUInt64(rest, out _))
                    return false;
                break;
            case 'r':
                var comma = rest.IndexOf(',');
                if (comma < 0 || !Hex.TryParseUInt64(rest[..comma], out start) || !Hex.TryParseUInt64(rest[(comma + 1)..], out end))
                    return false;
                break;
            default:
                return false;
        }
        action = new VContAction(kind, thread, start, end);
        return true;
    }

    private static GdbCommand ParseQuery(string text)
    {
        switch (text)
        {
            case "qSupported":
                return new GdbCommand.QuerySupported([]);
            case "qAttached":
                return new GdbCommand.QueryAttached();
            case "qC":
                return new GdbCommand.QueryCurrentThread();
            case "qfThreadInfo":
                return new GdbCommand.ThreadInfoFirst();
            case "qsThreadInfo":
                return new GdbCommand.ThreadInfoNext();
        }
        if (text.StartsWith("qSupported:", StringComparison.Ordinal))
        {
            var features = text["qSupported:".Length..].Split(';', StringSplitOptions.RemoveEmptyEntries);
            return new GdbCommand.QuerySupported(features);
        }
        if (text.StartsWith("qAttached:", StringComparison.Ordinal))
        {
            return Hex.TryParseUInt64(text.AsSpan("qAttached:".Length), out _)
                ? new GdbCommand.QueryAttached()
                : Malformed(text, "bad pid");
        }
        if (text.StartsWith("qRcmd,", StringComparison.Ordinal))
        {
            return Hex.TryDecode(text.AsSpan("qRcmd,".Length), out var command)
                ? new GdbCommand.MonitorCommand(Encoding.UTF8.GetString(command))
                : Malformed(text, "monitor command is not hex");
        }
        if (text.StartsWith("qXfer:", StringComparison.Ordinal))
            return ParseXfer(text);
        return new GdbCommand.Unknown(text);
    }

    // qXfer:object:read:annex:offset,length. Only reads are known; writes stay Unknown.
    private static GdbCommand ParseXfer(string text)
    {
        var parts = text.Split(':');
        if (parts.Length < 3 || parts[2] != "read")
            return new GdbCommand.Unknown(text);
        if (parts.Length != 5 || parts[1].Length == 0)
            return Malformed(text, "expected qXfer:object:read:annex:offset,length");
        var range = parts[4].AsSpan();
        var comma = range.IndexOf(',');
        if (comma < 0 || !Hex.TryParseUInt64(range[..comma], out var offset) || !Hex.TryParseUInt64(range[(comma + 1)..], out var length))
            return Malformed(text, "bad offset,length");
        return new GdbCommand.XferRead(parts[1], parts[3], offset, length);
    }

    private static bool TryParseAddressLength(ReadOnlySpan<char> args, out ulong address, out int length)
    {
        length = 0;
        var comma = args.IndexOf(',');
        if (comma < 0)
        {
            address = 0;
            return false;
        }
        return Hex.TryParseUInt64(args[..comma], out address) && TryParseInt(args[(comma + 1)..], out length);
    }

    private static bool TryParseInt(ReadOnlySpan<char> hex, out int value)
    {
        value = 0;
        if (!Hex.TryParseUInt64(hex, out var parsed) || parsed > int.MaxValue)
            return false;
        value = (int)parsed;
        return true;
    }

    // A thread id is "-1" (all), hex (0 = any), or multiprocess "p<pid>.<tid>" / "p<pid>", of which
    // only the thread matters: the guest is one process.
    private static bool TryParseThread(ReadOnlySpan<char> text, out long thread)
    {
        thread = 0;
        if (text.StartsWith("p"))
        {
            var dot = text.IndexOf('.');
            if (dot < 0)
            {
                // "p<pid>" alone means every thread of that process.
                if (!TryParseThreadNumber(text[1..], out _))
                    return false;
                thread = -1;
                return true;
            }
            if (!TryParseThreadNumber(text[1..dot], out _))
                return false;
            text = text[(dot + 1)..];
        }
        return TryParseThreadNumber(text, out thread);
    }

    private static bool TryParseThreadNumber(ReadOnlySpan<char> text, out long thread)
    {
        thread = 0;
        if (text.SequenceEqual("-1"))
        {
            thread = -1;
            return true;
        }
        if (!Hex.TryParseUInt64(text, out var parsed) || parsed > long.MaxValue)
            return false;
        thread = (long)parsed;
        return true;
    }
}
