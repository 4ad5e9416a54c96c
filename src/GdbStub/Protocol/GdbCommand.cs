namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// A request from gdb, as <see cref="CommandParser"/> understood it. The cases are nested so a
/// dispatcher reads <c>case GdbCommand.ReadMemory m:</c> and the set stays closed.
/// </summary>
public abstract record GdbCommand
{
    private GdbCommand() { }

    /// <summary><c>qSupported[:feature;...]</c>: gdb's features, e.g. "swbreak+", "xmlRegisters=i386".</summary>
    public sealed record QuerySupported(IReadOnlyList<string> Features) : GdbCommand;

    /// <summary><c>QStartNoAckMode</c>.</summary>
    public sealed record StartNoAckMode : GdbCommand;

    /// <summary><c>vMustReplyEmpty</c>: gdb checks that unknown v-packets get an empty reply.</summary>
    public sealed record MustReplyEmpty : GdbCommand;

    /// <summary><c>qAttached[:pid]</c>.</summary>
    public sealed record QueryAttached : GdbCommand;

    /// <summary><c>qC</c>.</summary>
    public sealed record QueryCurrentThread : GdbCommand;

    /// <summary><c>?</c>: why did the target stop.</summary>
    public sealed record HaltReason : GdbCommand;

    /// <summary><c>qfThreadInfo</c>.</summary>
    public sealed record ThreadInfoFirst : GdbCommand;

    /// <summary><c>qsThreadInfo</c>.</summary>
    public sealed record ThreadInfoNext : GdbCommand;

    /// <summary><c>H op thread</c>: <paramref name="Operation"/> is 'g' (registers, memory) or 'c' (resume); thread -1 = all, 0 = any.</summary>
    public sealed record SetThread(char Operation, long Thread) : GdbCommand;

    /// <summary><c>T thread</c>.</summary>
    public sealed record ThreadAlive(long Thread) : GdbCommand;

    /// <summary><c>k</c>.</summary>
    public sealed record Kill : GdbCommand;

    /// <summary><c>D</c> or <c>D;pid</c>.</summary>
    public sealed record Detach : GdbCommand;

    /// <summary><c>g</c>.</summary>
    public sealed record ReadRegisters : GdbCommand;

    /// <summary><c>G hex</c>: every register, in target-description order, little-endian.</summary>
    public sealed record WriteRegisters(byte[] Data) : GdbCommand;

    /// <summary><c>p n</c>.</summary>
    public sealed record ReadRegister(int Number) : GdbCommand;

    /// <summary><c>P n=hex</c>.</summary>
    public sealed record WriteRegister(int Number, byte[] Value) : GdbCommand;

    /// <summary><c>m addr,length</c>.</summary>
    public sealed record ReadMemory(ulong Address, int Length) : GdbCommand;

    /// <summary><c>M addr,length:hex</c> or binary <c>X addr,length:bytes</c>. An empty X is gdb probing whether X works.</summary>
    public sealed record WriteMemory(ulong Address, byte[] Data) : GdbCommand;

    /// <summary><c>c[addr]</c>.</summary>
    public sealed record Continue(ulong? Address) : GdbCommand;

    /// <summary><c>s[addr]</c>.</summary>
    public sealed record Step(ulong? Address) : GdbCommand;

    /// <summary><c>bc</c>.</summary>
    public sealed record ReverseContinue : GdbCommand;

    /// <summary><c>bs</c>.</summary>
    public sealed record ReverseStep : GdbCommand;

    /// <summary><c>vCont?</c>.</summary>
    public sealed record VContQuery : GdbCommand;

    /// <summary><c>vCont;action[:thread];...</c>.</summary>
    public sealed record VCont(IReadOnlyList<VContAction> Actions) : GdbCommand;

    /// <summary><c>Z type,addr,kind[;cond...]</c>; <paramref name="Size"/> is the kind field (bytes for watchpoints).</summary>
    public sealed record InsertPoint(PointKind Kind, ulong Address, int Size) : GdbCommand;

    /// <summary><c>z type,addr,kind</c>.</summary>
    public sealed record RemovePoint(PointKind Kind, ulong Address, int Size) : GdbCommand;

    /// <summary><c>qRcmd,hex</c>: the text after gdb's "monitor".</summary>
    public sealed record MonitorCommand(string Text) : GdbCommand;

    /// <summary><c>qXfer:object:read:annex:offset,length</c>.</summary>
    public sealed record XferRead(string Object, string Annex, ulong Offset, ulong Length) : GdbCommand;

    /// <summary>A packet this stub does not implement; the answer is the empty reply.</summary>
    public sealed record Unknown(string Payload) : GdbCommand;

    /// <summary>A packet this stub implements, with arguments it cannot read; the answer is an error.</summary>
    public sealed record Malformed(string Payload, string Reason) : GdbCommand;
}
